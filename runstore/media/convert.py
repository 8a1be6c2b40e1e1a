"""Which logged values are media, and how they are stored (docs/COMPAT.md §4.5)."""

from __future__ import annotations

from typing import Any

from ..base.convert import is_torch_tensor, log_value
from .base import BindContext, Media

HISTOGRAM_THRESHOLD = 32  # arrays with more elements than this are logged as a 32-bin histogram


def _kind(v: Any) -> str | None:
    if isinstance(v, Media):
        return "media"
    mod = type(v).__module__ or ""
    name = type(v).__name__
    if name == "DataFrame" and mod.startswith("pandas"):
        return "dataframe"
    if mod.startswith("plotly") and name == "Figure":
        return "plotly"
    if mod.startswith("matplotlib") and name == "Figure":
        return "matplotlib"
    pyplot = _pyplot()
    if pyplot is not None and v is pyplot:  # wandb accepts the pyplot module itself (its current figure)
        return "matplotlib"
    if mod.startswith("torch"):
        # a tensor's `size` is a method and its dtype has no numpy `kind`: count with numel()
        if is_torch_tensor(v) and v.numel() > HISTOGRAM_THRESHOLD and not v.is_complex():
            return "array"
        return None
    if hasattr(v, "shape") and hasattr(v, "tolist"):
        size = getattr(v, "size", 0)
        if (
            isinstance(size, int)
            and size > HISTOGRAM_THRESHOLD
            and getattr(getattr(v, "dtype", None), "kind", "") in "biuf"
        ):
            return "array"
    return None


def _pyplot() -> Any:
    import sys

    return sys.modules.get("matplotlib.pyplot")


def is_media_like(v: Any) -> bool:
    if isinstance(v, (list, tuple)) and v:
        return isinstance(v[0], Media) or any(_kind(x) for x in v[:1])
    if isinstance(v, dict):
        return any(is_media_like(x) for x in v.values())
    return _kind(v) is not None


def to_stored(ctx: BindContext, key: str, v: Any, step: int) -> Any:
    if isinstance(v, dict):
        return {str(k): to_stored(ctx, f"{key}/{k}", x, step) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        items = [_as_media(x) for x in v]
        if all(isinstance(x, Media) for x in items):
            kinds = {type(x) for x in items}
            if len(kinds) == 1:
                return type(items[0]).bind_list(items, ctx, key, step)
            return [x.bind(ctx, key, step) for x in items]
        return [to_stored(ctx, key, x, step) if _kind(x) else log_value(key, x) for x in v]
    m = _as_media(v)
    if isinstance(m, Media):
        return m.bind(ctx, key, step)
    return log_value(key, v)


def _as_media(v: Any) -> Any:
    kind = _kind(v)
    if kind == "media" or kind is None:
        return v
    # The data types' modules load on the first value that needs one: `import runstore` (which loads
    # this module) does not pay for them.
    from . import Histogram, Plotly, Table

    if kind == "dataframe":
        return Table(dataframe=v)
    if kind in ("plotly", "matplotlib"):
        return Plotly.from_figure(v)
    if kind == "array":
        return Histogram(v, num_bins=HISTOGRAM_THRESHOLD)
    return v
