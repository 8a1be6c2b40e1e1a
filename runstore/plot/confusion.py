"""`confusion_matrix` chart from predicted labels or class probabilities (docs/COMPAT.md §8)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..media.table import Table
from . import metrics
from .custom_chart import CustomChart, plot_table


def _labels(v: Any, name: str) -> list[Any]:
    """Plain Python labels (numpy scalars become int/str, so they hash and compare as users expect)."""
    if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
        raise TypeError(f"confusion_matrix({name}=...) must be a sequence of labels, got {type(v).__name__}")
    out = v.tolist() if hasattr(v, "tolist") else [x.item() if hasattr(x, "item") else x for x in v]
    if any(isinstance(x, list) for x in out):
        raise ValueError(f"confusion_matrix({name}=...) must be 1-D (one label per sample)")
    # labels read from a float array (1.0, 2.0) are class indices too, as they are for wandb
    return [int(x) if isinstance(x, float) and x.is_integer() else x for x in out]


def confusion_matrix(
    probs: Any = None,
    y_true: Any = None,
    preds: Any = None,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion Matrix Curve",
    split_table: bool = False,
) -> CustomChart:
    """Counts of (actual, predicted) pairs. Pass `preds` (labels) or `probs` (samples x classes, the
    predicted class is the argmax), not both. With `class_names`, labels are indices into it."""
    import numpy as np

    if probs is not None and preds is not None:
        raise ValueError("Only one of `probs` or `preds` should be provided, not both.")
    if y_true is None or (probs is None and preds is None):
        raise ValueError("confusion_matrix() needs y_true and one of preds= or probs=")
    if probs is not None:
        p = np.asarray(probs, dtype=float)
        if p.ndim != 2:
            raise ValueError(
                f"confusion_matrix(probs=...) must be 2-D (samples x classes), got shape {p.shape}"
            )
        if class_names is not None and p.shape[1] != len(class_names):
            raise ValueError(f"probs has {p.shape[1]} columns but class_names has {len(class_names)} names")
        preds = np.argmax(p, axis=1)
    truth, predicted = _labels(y_true, "y_true"), _labels(preds, "preds")
    if len(predicted) != len(truth):
        raise ValueError(
            f"The number of predictions and true labels must be equal: {len(predicted)} "
            f"predictions, {len(truth)} true labels."
        )
    if class_names is not None:
        names = list(class_names)
        classes: list[Any] = list(range(len(names)))
        for what, values in (("y_true", truth), ("preds", predicted)):
            bad = [
                v for v in values if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < len(names)
            ]
            if bad:
                raise ValueError(
                    f"with class_names, {what} must hold class indices 0..{len(names) - 1}; got {bad[0]!r}"
                )
    else:
        try:
            classes = sorted(set(truth) | set(predicted))
        except TypeError:
            raise ValueError(
                "y_true/preds mix label types that cannot be sorted (e.g. int and str)"
            ) from None
        names = [f"Class_{i + 1}" for i in range(len(classes))]  # wandb's names for unnamed classes
    counts = metrics.confusion_counts(truth, predicted, classes)
    n = len(classes)
    data = [[names[i], names[j], int(counts[i, j])] for i in range(n) for j in range(n)]
    table = Table(columns=["Actual", "Predicted", "nPredictions"], data=data)
    return plot_table(
        "wandb/confusion_matrix/v1",
        table,
        {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
        {"title": title},
        split_table=split_table,
    )
