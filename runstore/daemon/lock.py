"""The pid-file lock that makes the daemon one per store.

The daemon holds an exclusive `flock` on `<store>/daemon/daemon.pid` for as long as it lives; the kernel
drops it when the process dies, however it dies, so a stale pid file never blocks a new daemon. Probes
(the SDK at init, `runstore daemon status`) take a shared lock for a few microseconds: if that fails, a
daemon is running. A daemon that finds the lock briefly taken retries for a moment, because the
holder may be such a probe rather than another daemon.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

_ACQUIRE_PATIENCE_S = 0.3  # long enough to outlast any probe, short enough for a loser to exit fast


def is_locked(path: Path) -> bool:
    """True if some process holds the daemon lock on `path` (a running daemon). Costs ~10 µs."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # no pid file: no daemon has ever run here, or the last one exited cleanly
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases a shared lock we may have taken
    return False


def acquire(path: Path, patience: float = _ACQUIRE_PATIENCE_S) -> int | None:
    """Take the exclusive lock and write our pid; the locked descriptor, or None if another daemon has it."""
    deadline = time.monotonic() + patience
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
            continue
        # A daemon that was exiting may have unlinked the file after we opened it: a lock on that orphaned
        # inode guards nothing, so start over on whatever file the path names now.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return fd


def release(path: Path, fd: int) -> None:
    """Remove the pid file (while still holding the lock, so no newcomer's file is removed), then unlock."""
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)
    except OSError:
        pass
    os.close(fd)


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def holder(path: Path, wait: float = 0.5) -> int | None:
    """The pid of the running daemon, or None. A daemon writes its pid just after locking, so a locked
    but still empty file is waited on briefly."""
    deadline = time.monotonic() + wait
    while is_locked(path):
        pid = read_pid(path)
        if pid is not None:
            return pid
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
    return None


def holds(path: Path, pid: int) -> bool | None:
    """Whether process `pid` holds the exclusive flock on `path` (Linux: /proc/locks lists each lock's
    owner and file), None where the system cannot say. The pid written in the file is not evidence:
    anyone who can write the store can write any pid there."""
    try:
        st = os.stat(path, follow_symlinks=False)
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK" or parts[3] != "WRITE" or "->" in parts:
            continue
        try:
            owner = int(parts[4])
            major, minor, ino = parts[5].split(":")
            dev = os.makedev(int(major, 16), int(minor, 16))
        except ValueError:
            continue
        if owner == pid and int(ino) == st.st_ino and dev == st.st_dev:
            return True
    return False
