"""`pr_curve` and `roc_curve` charts (docs/COMPAT.md §8), computed with numpy (see `metrics`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..base import term
from ..media.table import Table
from . import metrics
from .custom_chart import CustomChart, plot_table


def _inputs(
    y_true: Any, y_probas: Any, labels: Sequence[Any] | None, classes_to_plot: Any, fn: str
) -> list[tuple[Any, Any, Any]]:
    """(label, class value, score column) per class to plot, after checking shapes and lengths."""
    import numpy as np

    if y_true is None or y_probas is None:
        raise ValueError(f"{fn}() needs y_true and y_probas")
    yt = np.asarray(y_true)
    yp = np.asarray(y_probas, dtype=float)
    if yt.ndim != 1 or yt.size == 0:
        raise ValueError(f"{fn}(y_true=...) must be a non-empty 1-D sequence of labels, got shape {yt.shape}")
    classes = np.unique(yt)
    if yp.ndim == 1 and len(classes) <= 2:
        yp = np.stack([1 - yp, yp], axis=1)  # binary scores for the positive class: add the negative
    if yp.ndim != 2:
        raise ValueError(f"{fn}(y_probas=...) must be 2-D (samples x classes), got shape {yp.shape}")
    if yp.shape[0] != yt.shape[0]:
        raise ValueError(f"{fn}: y_true has {yt.shape[0]} samples but y_probas has {yp.shape[0]} rows")
    # Integer labels 0..K-1 index the probability columns directly; other labels (strings, sparse ids)
    # use their position among the sorted classes, as wandb does.
    by_value = classes.dtype.kind in "iub" and classes.min() >= 0 and classes.max() < yp.shape[1]
    if not by_value and len(classes) > yp.shape[1]:
        raise ValueError(f"{fn}: y_true has {len(classes)} classes but y_probas only {yp.shape[1]} columns")
    wanted = classes if classes_to_plot is None else np.asarray(list(classes_to_plot))
    out = []
    for i, c in enumerate(classes):
        if c not in wanted:
            continue
        label: Any = c.item()
        if labels is not None and classes.dtype.kind in "iu":
            if not 0 <= int(c) < len(labels):
                raise ValueError(f"{fn}: class {int(c)} has no entry in labels (len {len(labels)})")
            label = labels[int(c)]
        out.append((label, c, yp[:, int(c) if by_value else i]))
    if not out:
        raise ValueError(f"{fn}: none of classes_to_plot={list(wanted)} occur in y_true {classes.tolist()}")
    return out


def _table(cols: list[str], per_class: list[tuple[Any, Any, Any]], fn: str) -> Table:
    """Long-format rows `[class, a, b]` from `(class, a values, b values)`, rounded to 3 decimals (as
    wandb), thinned evenly per class past MAX_ROWS."""
    import numpy as np

    total = sum(len(a) for _l, a, _b in per_class)
    cap = Table.MAX_ROWS // max(1, len(per_class))
    if total > Table.MAX_ROWS:
        term.warn(
            f"{fn}: {total:,} curve points; keeping {cap:,} per class to fit Table.MAX_ROWS "
            f"({Table.MAX_ROWS:,})"
        )
    data: list[list[Any]] = []
    for label, a, b in per_class:
        idx = np.arange(len(a))
        if total > Table.MAX_ROWS and len(a) > cap:
            idx = np.unique(np.linspace(0, len(a) - 1, cap).round().astype(int))  # keeps both ends
        xs, ys = np.round(a[idx], 3).tolist(), np.round(b[idx], 3).tolist()
        data.extend([label, x, y] for x, y in zip(xs, ys, strict=True))
    return Table(columns=cols, data=data)


def pr_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[Any] | None = None,
    classes_to_plot: Any = None,
    interp_size: int = 21,
    title: str = "Precision-Recall Curve",
    split_table: bool = False,
) -> CustomChart:
    """Per-class precision at `interp_size` evenly spaced recall levels (wandb's interpolation)."""
    import numpy as np

    if isinstance(interp_size, bool) or not isinstance(interp_size, int) or interp_size < 2:
        raise ValueError(f"pr_curve(interp_size=...) must be an int >= 2, got {interp_size!r}")
    interp_recall = np.linspace(0, 1, interp_size)[::-1]
    rows = []
    for label, c, scores in _inputs(y_true, y_probas, labels, classes_to_plot, "pr_curve"):
        precision, recall, _ = metrics.precision_recall_curve(y_true, scores, c)
        precision = np.maximum.accumulate(precision)  # the upper envelope, as wandb draws it
        precision, recall = precision[::-1], recall[::-1]  # recall ascending for searchsorted
        idx = np.searchsorted(recall, interp_recall, side="left")
        rows.append((label, precision[np.minimum(idx, len(precision) - 1)], interp_recall))
    table = _table(["class", "precision", "recall"], rows, "pr_curve")
    return plot_table(
        "wandb/area-under-curve/v0",
        table,
        {"x": "recall", "y": "precision", "class": "class"},
        {"title": title, "x-axis-title": "Recall", "y-axis-title": "Precision"},
        split_table=split_table,
    )


def roc_curve(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[Any] | None = None,
    classes_to_plot: Any = None,
    title: str = "ROC Curve",
    split_table: bool = False,
) -> CustomChart:
    """Per-class one-vs-rest ROC curve (false vs true positive rate)."""
    rows = []
    for label, c, scores in _inputs(y_true, y_probas, labels, classes_to_plot, "roc_curve"):
        fpr, tpr, _ = metrics.roc_curve(y_true, scores, c)
        rows.append((label, fpr, tpr))
    table = _table(["class", "fpr", "tpr"], rows, "roc_curve")
    return plot_table(
        "wandb/area-under-curve/v0",
        table,
        {"x": "fpr", "y": "tpr", "class": "class"},
        {"title": title, "x-axis-title": "False positive rate", "y-axis-title": "True positive rate"},
        split_table=split_table,
    )
