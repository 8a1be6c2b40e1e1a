"""Charts over a table the user built: line, scatter, bar, histogram (docs/COMPAT.md §8)."""

from __future__ import annotations

from ..media.table import Table
from .custom_chart import CustomChart, check_columns, plot_table


def line(
    table: Table, x: str, y: str, stroke: str | None = None, title: str = "", split_table: bool = False
) -> CustomChart:
    chart = plot_table(
        "wandb/line/v0", table, {"x": x, "y": y, "stroke": stroke}, {"title": title}, split_table=split_table
    )
    check_columns(table, x=x, y=y, stroke=stroke)
    return chart


def scatter(table: Table, x: str, y: str, title: str = "", split_table: bool = False) -> CustomChart:
    chart = plot_table("wandb/scatter/v0", table, {"x": x, "y": y}, {"title": title}, split_table=split_table)
    check_columns(table, x=x, y=y)
    return chart


def bar(table: Table, label: str, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    chart = plot_table(
        "wandb/bar/v0", table, {"label": label, "value": value}, {"title": title}, split_table=split_table
    )
    check_columns(table, label=label, value=value)
    return chart


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    chart = plot_table(
        "wandb/histogram/v0", table, {"value": value}, {"title": title}, split_table=split_table
    )
    check_columns(table, value=value)
    return chart
