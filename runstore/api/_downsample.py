"""Downsampling a history for a chart: N buckets per metric, each keeping first, min, max and last.

Evenly spaced samples (what `history(samples=)` returns, as wandb does) can step over a one-row spike;
a chart drawn from per-bucket min and max cannot lose it. Buckets split a metric's points (rows where it
and the x axis are finite numbers, within the step range) into N runs of consecutive rows of equal
count (±1), so every point is in exactly one bucket whatever the spacing of the x axis.
"""

from __future__ import annotations

from typing import Any

# one reading of a history column as numbers, and one cut into equal-count buckets: the pyramids' too
from ..store.pyramid import equal_count, numeric

MAX_BUCKETS = 100_000


def step_mask(cols: dict[str, Any], n: int, min_step: int | None, max_step: int | None) -> Any:
    """Rows with `min_step <= _step < max_step` (scan_history's range); None when no bound is set."""
    import numpy as np

    if min_step is None and max_step is None:
        return None
    steps = cols.get("_step")
    if steps is None:
        return np.zeros(n, dtype=bool)
    s = numeric(steps)
    mask = np.ones(n, dtype=bool)
    if min_step is not None:
        mask &= s >= min_step
    if max_step is not None:
        mask &= s < max_step
    return mask


def downsample(
    cols: dict[str, Any],
    n: int,
    keys: list[str],
    buckets: int,
    x_axis: str = "_step",
    min_step: int | None = None,
    max_step: int | None = None,
) -> dict[str, dict[str, list[Any]]]:
    """Per metric of `keys`: lists `x` (x of each bucket's first point), `x_end` (of its last), `first`,
    `min`, `max`, `last` and `count`, from columns `cols` of `n` rows (store/history.read_columns)."""
    import numpy as np

    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"buckets must be 1..{MAX_BUCKETS}, got {buckets}")
    mask = step_mask(cols, n, min_step, max_step)
    xcol = cols.get(x_axis)
    x = numeric(xcol) if xcol is not None else np.full(n, np.nan)
    xs_all = xcol if xcol is not None and xcol.dtype.kind in "iu" else x  # integer steps stay integers
    ok_x = np.isfinite(x) if mask is None else np.isfinite(x) & mask
    out: dict[str, dict[str, list[Any]]] = {}
    for key in keys:
        col = cols.get(key)
        v = numeric(col) if col is not None else np.full(n, np.nan)
        ok = ok_x & np.isfinite(v)
        src = col if col is not None and col.dtype.kind in "iu" else v
        if ok.all():  # the common dense metric: no copies
            vv, xs = src, xs_all
        else:
            idx = np.flatnonzero(ok)
            vv, xs = src[idx], xs_all[idx]
        out[key] = equal_count(xs, vv, buckets)
    return out


__all__ = ["downsample", "numeric", "MAX_BUCKETS"]
