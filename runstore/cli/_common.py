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
    s = printable(json_text(v) if isinstance(v, (dict, list)) else str(v))
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


def printable(s: str) -> str:
    """`s` with control characters (escape sequences that retitle or clear a terminal) as `\\xNN`."""
    return s.translate(_CONTROL)


def safe_text(s: str) -> str:
    """`s` for printing with rich: control characters (escape sequences that retitle or clear the
    terminal) shown as `\\xNN`, and rich's markup brackets escaped so a name prints as written."""
    from rich.markup import escape

    return escape(printable(s))


def json_text(v: Any, *, indent: bool = False, sort_keys: bool = False) -> str:
    """JSON for the CLI's output: orjson's, or the standard library's for what orjson refuses (ints
    beyond 64 bits, which a run may hold exactly). NaN and ±Infinity are null, as JSON has no token."""
    import orjson

    opts = orjson.OPT_SERIALIZE_NUMPY
    if indent:
        opts |= orjson.OPT_INDENT_2
    if sort_keys:
        opts |= orjson.OPT_SORT_KEYS
    try:
        return orjson.dumps(v, option=opts).decode()
    except TypeError:
        import json

        return json.dumps(
            _finite(v), indent=2 if indent else None, sort_keys=sort_keys, ensure_ascii=False, default=str
        )


def _finite(v: Any) -> Any:
    if isinstance(v, float) and v - v != 0:
        return None
    if isinstance(v, dict):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    if hasattr(v, "tolist") and hasattr(v, "dtype"):
        return _finite(v.tolist())
    return v
