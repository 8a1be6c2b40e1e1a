"""One process writes a run at a time: the writer lock (`<run>/cache/writer.lock`, docs/FORMAT.md).

`init()` takes an exclusive `flock` on it, without waiting, for as long as the run is open; the kernel
drops it when the process ends, however it ends, so a crash never leaves a run locked. The file holds
the holder's pid and host, for the error a second writer gets. A process whose ancestor holds the lock
(`runstore run` wrapping a script that calls `init()`, a sweep agent's trial) joins that run instead:
the wrapper writes only the console and continues after the child's rows.
"""

from __future__ import annotations

import fcntl
import os

import orjson

from .layout import RunRef, make_dirs
from .liveness import hostname


class Busy(Exception):
    """Another process holds the run's writer lock."""

    def __init__(self, pid: int | None, host: str | None) -> None:
        super().__init__(pid, host)
        self.pid = pid
        self.host = host


def acquire(ref: RunRef) -> int | None:
    """The locked descriptor (close it to release), None when an ancestor of this process holds the lock
    (it joins that writer), or Busy."""
    path = ref.writer_lock
    make_dirs(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        pid, host = holder.get("pid"), holder.get("host")
        pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
        host = host if isinstance(host, str) else None
        if pid is not None and host == hostname() and (pid == os.getpid() or pid in _ancestors()):
            return None
        raise Busy(pid, host) from None
    except BaseException:
        os.close(fd)
        raise
    try:
        data = orjson.dumps({"pid": os.getpid(), "host": hostname()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    except OSError:
        pass  # a full disk: the lock holds all the same, the error text just names no pid
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        try:
            os.close(fd)
        except OSError:
            pass


def _holder(fd: int) -> dict[str, object]:
    try:
        data = os.pread(fd, 4096, 0)
        v = orjson.loads(data)
        return v if isinstance(v, dict) else {}
    except (OSError, orjson.JSONDecodeError):
        return {}


def _ancestors() -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process().parents()}
    except psutil.Error:
        return set()
