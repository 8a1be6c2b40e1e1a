"""What every command shares: the consoles, store lookup, RUN references, error reporting."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from rich.console import Console

from ..base import env as _env
from ..errors import UsageError
from ..store.store import Store

# Tests swap these for consoles writing to StringIO (deterministic width, no colour).
# soft_wrap: a message is one line, wrapped by the terminal, never broken by rich at 80 columns in the
# middle of a sentence (nor when piped: scripts grep whole lines). Tables still fit the width.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def store_at(dir: Path | None) -> Store:
    """The store for `--dir D`: D itself if it is a store, else D/.wandb; default: discovered."""
    return Store.at(dir)


def require_store(store: Store) -> Store:
    """The store, which must exist and be in a format this runstore reads."""
    if not store.exists():
        raise UsageError(
            f"no runstore store at {store.root}; run a script that calls runstore.init() "
            "or `runstore init` first"
        )
    store.check_format()
    return store


def fmt_value(v: Any, width: int = 24) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        import orjson

        s = orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    else:
        s = str(v)
    return s if len(s) <= width else s[: width - 1] + "…"


def fmt_time(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def fmt_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def debug_enabled() -> bool:
    return _env.flag("debug")


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


def safe_text(s: str) -> str:
    """`s` for printing with rich: control characters (escape sequences that retitle or clear the
    terminal) shown as `\\xNN`, and rich's markup brackets escaped so a name prints as written."""
    from rich.markup import escape

    return escape(s.translate(_CONTROL))
