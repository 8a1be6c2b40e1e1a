"""What the training process and the CLI call to have a daemon: is one running, start one.

`ensure_running` is on `init()`'s path, so it is cheap (a flock probe of ~10 µs) and never raises:
tracking must not break training. The daemon is started without waiting for it. Register the run's live
marker (store/live.py) before calling it: a daemon that is exiting for idleness looks at the live
markers once more after releasing its lock and starts a successor if it finds one, so a run registered
at that moment is never left without a daemon.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..base import env as _env
from ..store.layout import make_dirs
from ..store.store import Store

if TYPE_CHECKING:
    import subprocess

DEFAULT_INTERVAL = 2.0  # seconds between samples (wandb's legacy monitor sampled every 2 s too)
DEFAULT_IDLE_EXIT = 120.0  # seconds without a live run before the daemon exits by itself
StoreLike = Store | str | os.PathLike[str]


def as_store(store: StoreLike) -> Store:
    """The daemon's functions take a Store or the path of one."""
    return store if isinstance(store, Store) else Store(Path(store).absolute())


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """False when `RUNSTORE_DAEMON` is false (0/off/no; the test suite's default; CI jobs may want it)."""
    return _env.flag("daemon", env)


def is_running(store: StoreLike) -> bool:
    try:
        from . import lock  # needs fcntl: on Windows there is no daemon, and init() must not fail
    except ImportError:
        return False
    return lock.is_locked(as_store(store).daemon_pid)


def ensure_running(
    store: StoreLike, interval: float | None = None, env: Mapping[str, str] | None = None
) -> None:
    """Start the store's daemon unless one holds its lock or `RUNSTORE_DAEMON` is off. Never waits, never raises."""
    try:
        if not enabled(env) or is_running(store):
            return
        spawn(store, interval=interval)
    except Exception:
        pass  # e.g. no sys.executable (embedded interpreter), fork limits: training goes on unsampled


def spawn(
    store: StoreLike, interval: float | None = None, idle_exit: float | None = None, reap: bool = True
) -> subprocess.Popen[bytes]:
    """Start `python -m runstore.daemon` detached from this process; returns at once.

    Detached means: its own session (a Ctrl-C or SIGHUP aimed at the training job does not reach it), no
    inherited descriptors (it must not hold the training process's captured console open), cwd `/` (it
    must not pin a directory), stdout to /dev/null and stderr to daemon.log (a crash before its logger
    is up still leaves a trace). The loser of a race between two spawns exits on the lock by itself.
    """
    import subprocess  # here, not at the top: init() imports this module and rarely spawns

    if not sys.executable:
        raise OSError("no Python executable to start the daemon with")
    st = as_store(store)
    root = st.root.absolute()
    make_dirs(st.daemon_dir)
    args = [sys.executable, "-m", "runstore.daemon", "--store", os.fspath(root)]
    if interval is not None:
        args += ["--interval", repr(float(interval))]
    if idle_exit is not None:
        args += ["--idle-exit", repr(float(idle_exit))]
    env = dict(os.environ)
    # runstore may be importable only from the caller's cwd or sys.path tweaks; the daemon runs in `/`.
    pkg_parent = os.fspath(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        errfd = os.open(
            st.daemon_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644
        )
    except OSError:
        errfd = devnull
    try:
        proc = subprocess.Popen(
            args,
            stdin=devnull,
            stdout=devnull,
            stderr=errfd,
            close_fds=True,
            start_new_session=True,
            cwd="/",
            env=env,
        )
    finally:
        os.close(devnull)
        if errfd != devnull:
            os.close(errfd)
    if reap:
        # The daemon outlives most training processes, but when it exits first (idle) it would stay a
        # zombie child of ours: a thread parked in waitpid() reaps it at no cost.
        threading.Thread(target=proc.wait, name="runstore-daemon-reaper", daemon=True).start()
    return proc
