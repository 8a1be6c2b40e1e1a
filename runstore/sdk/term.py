"""Terminal messages from inside training code: printed, never raised (even under `-W error`)."""

from __future__ import annotations

import os
import sys

_seen: set[str] = set()
# Set by init() from its resolved settings (settings={"silent": True} etc.), on top of the env vars.
forced = {"silent": False, "quiet": False}


def silent() -> bool:
    if forced["silent"]:
        return True
    v = os.environ.get("RUNSTORE_SILENT") or os.environ.get("WANDB_SILENT") or ""
    return v.lower() in ("1", "true", "yes")


def warn(msg: str, once_key: str | None = None) -> None:
    """Print `runstore: WARNING msg` to stderr; with `once_key`, only the first time."""
    if once_key is not None:
        if once_key in _seen:
            return
        _seen.add(once_key)
    if silent():
        return
    try:
        sys.stderr.write(f"runstore: WARNING {msg}\n")
    except Exception:
        pass  # a closed stderr must not take training down


def info(msg: str) -> None:
    if silent():
        return
    v = os.environ.get("RUNSTORE_QUIET") or os.environ.get("WANDB_QUIET") or ""
    if forced["quiet"] or v.lower() in ("1", "true", "yes"):
        return
    try:
        sys.stderr.write(f"runstore: {msg}\n")
    except Exception:
        pass


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """wandb.termlog: a message on stderr with the tool's prefix."""
    if silent():
        return
    sys.stderr.write(f"{'runstore: ' if prefix else ''}{string}{chr(10) if newline else ''}")


def termwarn(string: str, repeat: bool = True, prefix: bool = True) -> None:
    warn(string, once_key=None if repeat else f"termwarn:{string}")


def termerror(string: str, repeat: bool = True, prefix: bool = True) -> None:
    if not silent():
        sys.stderr.write(f"runstore: ERROR {string}\n")
