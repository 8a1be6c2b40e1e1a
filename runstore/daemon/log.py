"""daemon.log: one line per event worth knowing; errors rate-limited per key, recoveries logged once.

A broken run directory must not fill the disk with the same traceback every two seconds (STYLE.md
item 9): the first failure of a key is logged, repeats are counted and summarised at most once per
`quiet_s`, and the first success after failures logs one "recovered" line.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

MAX_LOG_BYTES = 1 << 20  # rotated to daemon.log.1 at startup beyond this: the log stays small


@dataclass
class _Failing:
    since: float
    last_logged: float
    suppressed: int = 0


class DaemonLog:
    def __init__(self, path: Path | None, echo: bool = False, quiet_s: float = 300.0) -> None:
        self.path = path
        self.echo = echo
        self.quiet_s = quiet_s
        self._failing: dict[str, _Failing] = {}
        if path is not None:
            try:
                if path.stat().st_size > MAX_LOG_BYTES:
                    os.replace(path, path.with_name(path.name + ".1"))
            except OSError:
                pass

    def info(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid={os.getpid()} {msg}\n"
        if self.path is not None:
            try:
                # open per line: a rotated or deleted log is recreated; never through a planted symlink
                fd = os.open(
                    self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644
                )
                with os.fdopen(fd, "a") as f:
                    f.write(line)
            except OSError:
                pass
        if self.echo:
            sys.stderr.write(line)
            sys.stderr.flush()

    def error(self, key: str, msg: str, now: float | None = None) -> None:
        """Log a failure of `key` unless one was logged less than `quiet_s` ago (then count it)."""
        now = time.monotonic() if now is None else now
        f = self._failing.get(key)
        if f is None:
            self._failing[key] = _Failing(since=now, last_logged=now)
            self.info(f"error: {key}: {msg}")
        elif now - f.last_logged >= self.quiet_s:
            self.info(
                f"error: {key}: {msg} (failing for {now - f.since:.0f}s, {f.suppressed} repeats not logged)"
            )
            f.last_logged, f.suppressed = now, 0
        else:
            f.suppressed += 1

    def ok(self, key: str, now: float | None = None) -> None:
        """`key` worked: if it was failing, say so once."""
        f = self._failing.pop(key, None)
        if f is not None:
            now = time.monotonic() if now is None else now
            self.info(f"recovered: {key} after {now - f.since:.0f}s")

    def forget(self, key: str) -> None:
        self._failing.pop(key, None)


class Backoff:
    """Exponential retry delay with a cap: base, 2*base, 4*base, ... cap."""

    def __init__(self, base: float, cap: float = 300.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def fail(self) -> float:
        delay = min(self.cap, self.base * (2**self.failures))
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0
