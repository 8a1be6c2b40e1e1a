"""Cell kinds (the column types a `Table` enforces) and cells as they are written to a table file.

Kinds are coarse on purpose, matching what wandb's type system tells apart in a table column: ints and
floats are both "number" (a loss column may start at 0 and become 0.37), bools are not numbers, media
cells are typed by their class name so an Image column cannot suddenly receive an Audio.
"""

from __future__ import annotations

import datetime as _dt
import numbers
from collections.abc import Mapping
from typing import Any

from ..base.convert import Unconvertible, is_torch_tensor, value
from ._util import json_bytes
from .base import BindContext, Media

ANY = "any"

_DTYPES: dict[Any, str] = {
    int: "number",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "list",
    tuple: "list",
    dict: "dict",
    _dt.datetime: "timestamp",
    _dt.date: "timestamp",
}
KINDS = ("number", "string", "boolean", "list", "dict", "timestamp", ANY)


def kind_of(v: Any) -> str | None:
    """The column kind of one cell; None for a missing value (allowed in optional columns)."""
    if v is None:
        return None
    mod = type(v).__module__ or ""
    if isinstance(v, bool) or (mod == "numpy" and type(v).__name__.startswith("bool")):
        return "boolean"
    if isinstance(v, numbers.Number) and not isinstance(v, complex):
        return "number"
    if is_torch_tensor(v):
        # a one-element tensor is stored as its number (as log() does), a larger one as a list
        if v.numel() != 1:
            return "list"
        return "boolean" if str(v.dtype) == "torch.bool" else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Media):
        return type(v).__name__
    if isinstance(v, (_dt.date, _dt.datetime)) or type(v).__name__ == "datetime64":
        return "timestamp"
    if isinstance(v, (list, tuple)) or (hasattr(v, "tolist") and hasattr(v, "shape")):
        return "list"
    if isinstance(v, Mapping):
        return "dict"
    return type(v).__name__


def kind_of_dtype(t: Any) -> str:
    """`dtype=` / `cast()` values: a Python type, a Media class, a numpy scalar type, or a kind name."""
    if t is None or t is object or t is Any:
        return ANY
    if isinstance(t, str):
        if t in KINDS:
            return t
        raise TypeError(
            f"unknown Table dtype {t!r}; use a type such as int, str, bool, wandb.Image, "
            f"or one of {', '.join(KINDS)}"
        )
    if t in _DTYPES:
        return _DTYPES[t]
    if isinstance(t, type):
        if issubclass(t, Media):
            return t.__name__
        if issubclass(t, bool) or t.__name__.startswith("bool"):
            return "boolean"
        if issubclass(t, numbers.Number):
            return "number"
        if t.__name__ == "ndarray":
            return "list"
        if issubclass(t, str):
            return "string"
    raise TypeError(
        f"unsupported Table dtype {t!r}; use a type such as int, float, str, bool, list, dict "
        "or a media class like wandb.Image (None means any)"
    )


def _epoch_ms(v: Any) -> Any:
    """wandb stores timestamps in tables as milliseconds since the epoch, naive values read as UTC."""
    try:
        if not isinstance(v, _dt.datetime):
            v = _dt.datetime(v.year, v.month, v.day)
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)
        return int(round(v.timestamp() * 1000))
    except (ValueError, OverflowError, AttributeError):  # pandas NaT and out-of-range values
        return None


def to_json(ctx: BindContext, key: str, step: int, v: Any) -> Any:
    """One cell as stored: media are bound (their file written) and stored as their `_type` reference."""
    c = v.__class__
    if v is None or c in (str, int, float, bool):
        return v
    if isinstance(v, Media):
        return v.bind(ctx, key, step)
    if isinstance(v, _dt.date):  # datetime is a date subclass; pandas Timestamp a datetime subclass
        return _epoch_ms(v)
    if isinstance(v, Mapping):
        return {str(k): to_json(ctx, key, step, x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_json(ctx, key, step, x) for x in v]
    if is_torch_tensor(v):
        # a tensor's dtype has no numpy `kind`; bfloat16 has no numpy form: value() handles both
        try:
            return value(v)
        except Unconvertible:
            return str(v)
    if hasattr(v, "tolist") and hasattr(v, "shape"):  # numpy arrays (object arrays may hold media)
        return to_json(ctx, key, step, v.tolist() if v.dtype.kind != "O" else list(v))
    if hasattr(v, "item") and callable(v.item):  # numpy/torch scalars; datetime64 -> datetime
        item = v.item()
        return _epoch_ms(item) if isinstance(item, _dt.date) else to_json(ctx, key, step, item)
    try:
        return value(v)
    except Unconvertible:
        return str(v)


def dumps(doc: dict[str, Any]) -> bytes:
    """Deterministic bytes (same table -> same sha256 -> stored once), written as wandb 0.31 writes its
    table files, so a table of plain values has wandb's bytes and hash."""
    return json_bytes(doc)
