"""Is the process that wrote a run still alive? (pid + a start token, so a reused pid is not mistaken.)"""

from __future__ import annotations

import os
import socket
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def hostname() -> str:
    return socket.gethostname()


@lru_cache(maxsize=1)
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def start_token(pid: int) -> str | None:
    """An opaque token that changes when `pid` is reused by another process; None if it is not running."""
    if sys.platform.startswith("linux"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return None
        fields = stat[stat.rfind(b")") + 2 :].split()
        if fields and fields[0] == b"Z":  # a zombie has exited; only its parent has not reaped it
            return None
        return f"{_boot_id()}:{fields[19].decode()}"
    try:
        import psutil

        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"{p.create_time():.3f}"
    except Exception:
        return None


def is_alive(pid: int | None, token: str | None, host: str | None) -> bool | None:
    """True/False for a process on this host; None when the writer is on another host (unknowable here)."""
    if host and host != hostname():
        return None
    if not pid:
        return False
    if pid == os.getpid():
        return True
    current = start_token(pid)
    if current is None:
        return False
    return token is None or current == token
