"""`wandb.plot`: charts stored as a table plus the Vega panel spec that draws it (docs/COMPAT.md §8).

Each helper returns a `CustomChart`; `run.log({"K": chart})` stores its table at `K_table` and the
panel at config `_wandb.visualize.K`, as wandb does.
"""

from __future__ import annotations

from .confusion import confusion_matrix
from .curves import pr_curve, roc_curve
from .custom_chart import CustomChart, CustomChartSpec, Visualize, plot_table, visualize
from .line_series import line_series
from .simple import bar, histogram, line, scatter

__all__ = [
    "line",
    "scatter",
    "bar",
    "histogram",
    "line_series",
    "pr_curve",
    "roc_curve",
    "confusion_matrix",
    "plot_table",
    "visualize",
    "CustomChart",
    "CustomChartSpec",
    "Visualize",
]
