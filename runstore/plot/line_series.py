"""`line_series`: several y-series against shared or per-series x values, in long format (docs/COMPAT.md §8)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..media.table import Table
from .custom_chart import CustomChart, plot_table


def _seq(v: Any) -> bool:
    return isinstance(v, Iterable) and not isinstance(v, (str, bytes))


def line_series(
    xs: Any,
    ys: Any,
    keys: Sequence[str] | None = None,
    title: str = "",
    xname: str = "x",
    split_table: bool = False,
) -> CustomChart:
    """`xs`: one x sequence shared by every line, or one per line; `ys`: a sequence of y sequences."""
    xs = list(xs.tolist() if hasattr(xs, "tolist") else xs)
    ys = [
        list(y.tolist() if hasattr(y, "tolist") else y)
        for y in (ys.tolist() if hasattr(ys, "tolist") else ys)
    ]
    if not ys or not all(isinstance(y, list) for y in ys):
        raise ValueError("line_series(ys=...) is a list of y-series, e.g. [[1, 2, 3], [2, 4, 6]]")
    if not xs or not _seq(xs[0]):
        xs = [xs] * len(ys)  # one x-series shared by every line
    xs = [list(x) for x in xs]
    if len(xs) != len(ys):
        raise ValueError(f"Number of x-series ({len(xs)}) must match y-series ({len(ys)}).")
    keys = [f"line_{i}" for i in range(len(ys))] if keys is None else list(keys)
    if len(keys) != len(ys):
        raise ValueError(f"Number of keys ({len(keys)}) must match y-series ({len(ys)}).")
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if len(x) != len(y):
            # wandb zips silently and drops the tail; a length mismatch is almost always a bug
            raise ValueError(f"line_series: series {keys[i]!r} has {len(y)} y values but {len(x)} x values")
    data = [
        [x, keys[i], y]
        for i, (xx, yy) in enumerate(zip(xs, ys, strict=True))
        for x, y in zip(xx, yy, strict=True)
    ]
    table = Table(columns=["step", "lineKey", "lineVal"], data=data)
    return plot_table(
        "wandb/lineseries/v0",
        table,
        {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
        {"title": title, "xname": xname},
        split_table=split_table,
    )
