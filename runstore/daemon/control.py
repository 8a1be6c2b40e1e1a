"""start / stop / status of a store's daemon: the library behind `runstore daemon ...`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..store import live
from ..store.liveness import is_alive
from ..store.store import Store
from . import lock
from .client import DEFAULT_IDLE_EXIT, DEFAULT_INTERVAL, StoreLike, as_store, spawn


def _args_of(pid: int) -> dict[str, float | None]:
    """--interval / --idle-exit of a running daemon, read from its command line (no state file needed)."""
    out: dict[str, float | None] = {"interval": DEFAULT_INTERVAL, "idle_exit": DEFAULT_IDLE_EXIT}
    try:
        import psutil

        argv = psutil.Process(pid).cmdline()
    except Exception:
        return {"interval": None, "idle_exit": None}
    for flag, key in (("--interval", "interval"), ("--idle-exit", "idle_exit")):
        if flag in argv[:-1]:
            try:
                out[key] = float(argv[argv.index(flag) + 1])
            except ValueError:
                out[key] = None
    if out["idle_exit"] == 0:
        out["idle_exit"] = None
    return out


def _uptime(pid: int) -> float | None:
    try:
        import psutil

        return max(0.0, time.time() - psutil.Process(pid).create_time())
    except Exception:
        return None


def status(store: StoreLike) -> dict[str, Any]:
    """The daemon's state as a JSON-able dict (the `--json` form of `runstore daemon status`)."""
    st = as_store(store)
    pid = lock.holder(st.daemon_pid)
    report: dict[str, Any] = {
        "store": str(st.root),
        "running": pid is not None,
        "pid": pid,
        "interval": None,
        "idle_exit": None,
        "uptime": None,
        "log": str(st.daemon_log),
    }
    if pid is not None:
        report.update(_args_of(pid))
        report["uptime"] = _uptime(pid)
    runs = []
    for m in sorted(live.read_all(st), key=lambda m: (m.project, m.id)):
        alive = is_alive(m.pid, m.pid_start, m.host)
        runs.append(
            {
                "project": m.project,
                "id": m.id,
                "pid": m.pid,
                "host": m.host,
                "dir": str(m.dir),
                "alive": alive,
            }
        )
    report["live_runs"] = runs
    return report


def start(
    store: StoreLike, interval: float | None = None, idle_exit: float | None = None, wait: float = 5.0
) -> tuple[int, bool]:
    """Start the daemon detached unless one runs; (its pid, whether this call started it)."""
    st = as_store(store)
    pid_file = st.daemon_pid
    pid = lock.holder(pid_file)
    if pid is not None:
        return pid, False
    proc = spawn(st, interval=interval, idle_exit=idle_exit, reap=False)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        pid = lock.holder(pid_file, wait=0.05)
        if pid is not None:
            return pid, pid == proc.pid
        if proc.poll() is not None and not lock.is_locked(pid_file):
            break
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    raise StoreError(f"the daemon did not start ({_last_log_line(st) or 'no log line'}); see {st.daemon_log}")


def _last_log_line(st: Store) -> str:
    try:
        lines = st.daemon_log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1] if lines else ""


def stop(store: StoreLike, timeout: float = 5.0) -> int | None:
    """SIGTERM the store's daemon and wait for it to let go of its lock; its pid, or None if none ran."""
    pid_file = as_store(store).daemon_pid
    pid = lock.holder(pid_file)
    if pid is None:
        return None
    if not _is_the_daemon(pid_file, pid):
        raise StoreError(
            f"refusing to signal pid {pid}: it is not the runstore daemon holding {pid_file}'s lock "
            "(the pid file names another process)"
        )
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return pid
    except PermissionError:
        raise StoreError(f"not allowed to stop the daemon (pid {pid}): it runs as another user") from None
    deadline = time.monotonic() + timeout
    while lock.is_locked(pid_file):
        if time.monotonic() >= deadline:
            raise StoreError(
                f"the daemon (pid {pid}) did not stop within {timeout:g}s; `kill -9 {pid}` "
                "ends it without harming any run"
            )
        time.sleep(0.02)
    while time.monotonic() < deadline and _running(pid):  # it logs its last line after unlocking
        time.sleep(0.01)
    return pid


def _is_the_daemon(pid_file: Path, pid: int) -> bool:
    """The process holds this store's daemon lock (checked in /proc/locks where there is one) and is
    a runstore process: never trust the pid the file says, which a user of a shared store can write."""
    held = lock.holds(pid_file, pid)
    if held is False:
        return False
    try:
        import psutil

        cmd = " ".join(psutil.Process(pid).cmdline())
    except Exception:
        return False
    return "runstore" in cmd


def _running(pid: int) -> bool:
    try:
        import psutil

        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except Exception:
        return False


def run_foreground(store: StoreLike, interval: float | None = None, idle_exit: float | None = None) -> int:
    """Be the daemon in this process (log echoed to stderr) until Ctrl-C, SIGTERM or idleness."""
    # Here, not at the top: the loop pulls in the sampler (psutil, ~15 ms), which `runstore daemon
    # status|stop` and every other command importing this module do not need.
    from .loop import serve

    st = as_store(store)
    if lock.is_locked(st.daemon_pid):
        raise StoreError(
            f"a daemon already runs for {st.root} (pid {lock.holder(st.daemon_pid)}); `runstore daemon stop` first"
        )
    return serve(
        st,
        interval=interval or DEFAULT_INTERVAL,
        idle_exit=DEFAULT_IDLE_EXIT if idle_exit is None else (idle_exit or None),
        echo=True,
    )
