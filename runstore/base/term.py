"""Terminal messages from inside training code: printed, never raised (even under `-W error`).

Everything goes through one `Terminal`, which takes the environment and the stream it uses, so a test
can pass `Terminal(environ={}, stream=StringIO())` instead of patching the process. The module-level
functions (`warn`, `info`, …) speak through the current terminal; `use()` swaps it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from . import env as _env


class Terminal:
    def __init__(self, environ: Mapping[str, str] | None = None, stream: TextIO | None = None) -> None:
        # None: the process's os.environ and sys.stderr *at each call*: a program (or pytest's capture)
        # may change them after import.
        self._environ = environ
        self._stream = stream
        self.seen: set[str] = set()
        # Set by init() from its resolved settings (settings={"silent": True}), on top of the env vars.
        self.forced_silent = False
        self.forced_quiet = False

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _write(self, text: str) -> None:
        try:
            (self._stream or sys.stderr).write(text)
        except Exception:
            pass  # a closed stderr must not take training down

    def silent(self) -> bool:
        return self.forced_silent or _env.flag("silent", self.environ)

    def quiet(self) -> bool:
        return self.forced_quiet or _env.flag("quiet", self.environ)

    def warn(self, msg: str, once_key: str | None = None) -> None:
        """`runstore: WARNING msg` on stderr; with `once_key`, only the first time."""
        if once_key is not None:
            if once_key in self.seen:
                return
            self.seen.add(once_key)
        if not self.silent():
            self._write(f"runstore: WARNING {msg}\n")

    def info(self, msg: str) -> None:
        if not (self.silent() or self.quiet()):
            self._write(f"runstore: {msg}\n")

    def error(self, msg: str) -> None:
        if not self.silent():
            self._write(f"runstore: ERROR {msg}\n")

    def log(self, msg: str, newline: bool = True, prefix: bool = True) -> None:
        if not self.silent():
            self._write(f"{'runstore: ' if prefix else ''}{msg}{chr(10) if newline else ''}")

    def reset(self) -> None:
        """Forget the once-only warnings and the forced flags (a new process, as far as messages go)."""
        self.seen.clear()
        self.forced_silent = self.forced_quiet = False


_current = Terminal()


def current() -> Terminal:
    return _current


def use(terminal: Terminal) -> Terminal:
    """Make `terminal` the one the module functions speak through; returns the previous one."""
    global _current
    old, _current = _current, terminal
    return old


def warn(msg: str, once_key: str | None = None) -> None:
    _current.warn(msg, once_key)


def info(msg: str) -> None:
    _current.info(msg)


# wandb's public helpers (wandb.termlog, termwarn, termerror)
def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """wandb.termlog: a message on stderr with the tool's prefix."""
    _current.log(string, newline, prefix)


def termwarn(string: str, repeat: bool = True, prefix: bool = True) -> None:
    _current.warn(string, once_key=None if repeat else f"termwarn:{string}")


def termerror(string: str, repeat: bool = True, prefix: bool = True) -> None:
    _current.error(string)


__all__ = ["Terminal", "current", "use", "warn", "info", "termlog", "termwarn", "termerror"]
