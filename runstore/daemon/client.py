"""What the training process and the CLI call: live markers and starting the daemon.

Everything here is on `init()`'s path, so it is cheap (a small atomic file write; a flock probe of ~10 µs)
and never raises: tracking must not break training. The daemon is started without waiting for it.
Call `register_live` before `ensure_running`: a daemon that is exiting for idleness looks at the live
markers once more after releasing its lock and starts a successor if it finds one, so a run registered
at that moment is never left without a daemon.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from . import paths

if TYPE_CHECKING:
    import subprocess

_OFF = ("0", "off", "false", "no")


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """False when `RUNSTORE_DAEMON` is 0/off/false/no (the test suite's default; CI jobs may want it)."""
    env = os.environ if env is None else env
    return (env.get("RUNSTORE_DAEMON") or "").strip().lower() not in _OFF


def register_live(
    store_root: Path, project: str, run_id: str, run_dir: Path, pid: int, pid_start: str | None, host: str
) -> None:
    """Write `<store>/daemon/live/<project>~<id>.json` so the daemon samples this run. Never raises."""
    path = paths.marker_path(store_root, project, run_id)
    data = orjson.dumps(
        {
            "project": project,
            "id": run_id,
            "dir": os.fspath(run_dir),
            "pid": pid,
            "pid_start": pid_start,
            "host": host,
        }
    )
    try:
        _write_atomic(path, data)
    except FileNotFoundError:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, data)
        except OSError:
            pass
    except OSError:
        pass  # a read-only or full store: the run still trains, it just goes unsampled


def unregister_live(store_root: Path, project: str, run_id: str) -> None:
    try:
        os.unlink(paths.marker_path(store_root, project, run_id))
    except OSError:
        pass


def _write_atomic(path: Path, data: bytes) -> None:
    # Not jsonl.write_atomic: that would import the store package's encoder for a 150-byte file, and the
    # tmp name must not match `*.json` or the daemon could read a half-written marker.
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def is_running(store_root: Path) -> bool:
    try:
        from . import lock
    except ImportError:  # no fcntl (Windows): no daemon on this platform
        return False
    return lock.is_locked(paths.pid_path(store_root))


def ensure_running(
    store_root: Path, interval: float | None = None, env: Mapping[str, str] | None = None
) -> None:
    """Start the store's daemon unless one holds its lock or `RUNSTORE_DAEMON` is off. Never waits, never raises."""
    try:
        if not enabled(env) or is_running(store_root):
            return
        spawn(store_root, interval=interval)
    except Exception:
        pass  # e.g. no sys.executable (embedded interpreter), fork limits: training goes on unsampled


def spawn(
    store_root: Path, interval: float | None = None, idle_exit: float | None = None, reap: bool = True
) -> subprocess.Popen[bytes]:
    """Start `python -m runstore.daemon` detached from this process; returns at once.

    Detached means: its own session (a Ctrl-C or SIGHUP aimed at the training job does not reach it), no
    inherited descriptors (it must not hold the training process's captured console open), cwd `/` (it
    must not pin a directory), stdout to /dev/null and stderr to daemon.log (a crash before its logger
    is up still leaves a trace). The loser of a race between two spawns exits on the lock by itself.
    """
    import subprocess  # here, not at the top: init() imports this module and rarely spawns
    import threading

    if not sys.executable:
        raise OSError("no Python executable to start the daemon with")
    root = Path(store_root).absolute()
    ddir = paths.daemon_dir(root)
    ddir.mkdir(parents=True, exist_ok=True)
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
        errfd = os.open(paths.log_path(root), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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
