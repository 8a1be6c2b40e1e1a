"""Custom charts: a table plus the Vega chart spec that draws it (docs/COMPAT.md §8).

Nothing renders locally; logging a chart under key `K` stores what wandb stores, so a future UI (or
wandb, after a sync) can draw it: the table at history/summary key `K_table` and the panel spec in config
`_wandb.visualize.K`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Error
from ..media.base import BindContext, Media
from ..media.table import Table

SPLIT_SECTION = "Custom Chart Tables"


@dataclass
class CustomChartSpec:
    spec_name: str
    fields: dict[str, Any]
    string_fields: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    panel_type: str = "Vega2"
    split_table: bool = False

    @property
    def table_key(self) -> str:
        if not self.key:
            raise Error("the chart has no key yet: log it with run.log({'key': chart})")
        return table_key(self.key, self.split_table)

    @property
    def config_value(self) -> dict[str, Any]:
        """wandb's panel config, byte for byte: the UI reads the table back through `summaryTable`."""
        return {
            "panel_type": self.panel_type,
            "panel_config": {
                "panelDefId": self.spec_name,
                "fieldSettings": self.fields,
                "stringSettings": self.string_fields,
                "transform": {"name": "tableWithLeafColNames"},
                "userQuery": {
                    "queryFields": [
                        {
                            "name": "runSets",
                            "args": [{"name": "runSets", "value": "${runSets}"}],
                            "fields": [
                                {"name": "id", "fields": []},
                                {"name": "name", "fields": []},
                                {"name": "_defaultColorIndex", "fields": []},
                                {
                                    "name": "summaryTable",
                                    "args": [{"name": "tableKey", "value": self.table_key}],
                                    "fields": [],
                                },
                            ],
                        }
                    ]
                },
            },
        }


def table_key(key: str, split_table: bool = False) -> str:
    return f"{SPLIT_SECTION}/{key}_table" if split_table else f"{key}_table"


class CustomChart(Media):
    """What `wandb.plot.*` returns. Logged under `K`, it is stored at `history_key(K)` = `K_table`."""

    _log_type = "custom-chart"

    def __init__(self, table: Table, spec: CustomChartSpec) -> None:
        self.table = table
        self.spec = spec

    def set_key(self, key: str) -> None:
        self.spec.key = key

    def history_key(self, key: str) -> str:
        """The history/summary key the chart's table is stored under when logged as `key`."""
        return table_key(key, self.spec.split_table)

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        self.set_key(key)
        # The table first: if it cannot be written (too many rows, ...) no dangling panel is left behind.
        ref = self.table.bind(ctx, self.history_key(key), step)
        ctx.set_internal_config(["visualize", key], self.spec.config_value)
        return ref

    def __repr__(self) -> str:
        return f"<CustomChart {self.spec.spec_name} {self.table!r}>"


class Visualize(Media):
    """wandb's legacy `wandb.visualize(id, table)`: the table stays at its own key, the panel goes to
    config `_wandb.viz.K`."""

    _log_type = "visualize"

    def __init__(self, id: str, data: Table) -> None:
        self._id = id
        self._data = data

    @property
    def value(self) -> Table:
        return self._data

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        ref = self._data.bind(ctx, key, step)
        ctx.set_internal_config(
            ["viz", key], {"id": self._id, "historyFieldSettings": {"x-axis": "_step", "key": key}}
        )
        return ref


def _check_table(table: Any, what: str) -> Table:
    if not isinstance(table, Table):
        raise Error(f"Expected `{what}` to be `wandb.Table` type, instead got {type(table).__name__}")
    return table


def check_columns(table: Table, **cols: str | None) -> None:
    """A chart naming a column the table lacks would draw nothing; say so when it is built."""
    for arg, name in cols.items():
        if name is not None and name not in table.columns:
            raise ValueError(f"{arg}={name!r} is not a column of the table; columns are {table.columns}")


def plot_table(
    vega_spec_name: str,
    data_table: Table,
    fields: dict[str, Any],
    string_fields: dict[str, Any] | None = None,
    split_table: bool = False,
) -> CustomChart:
    """A chart drawn by the Vega preset `vega_spec_name` from `data_table`; `fields` maps the preset's
    fields to table columns, `string_fields` fills its string settings (title, axis names)."""
    if not isinstance(vega_spec_name, str) or not vega_spec_name:
        raise ValueError("plot_table() needs a vega_spec_name such as 'wandb/line/v0'")
    if not isinstance(fields, dict):
        raise TypeError(
            f"plot_table(fields=...) is a dict of chart field -> column, got {type(fields).__name__}"
        )
    return CustomChart(
        _check_table(data_table, "data_table"),
        CustomChartSpec(
            vega_spec_name, dict(fields), dict(string_fields or {}), split_table=bool(split_table)
        ),
    )


def visualize(id: str, value: Table) -> Visualize:
    return Visualize(id, _check_table(value, "value"))
