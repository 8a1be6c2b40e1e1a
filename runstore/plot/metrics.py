"""Precision-recall and ROC curves with numpy only, following scikit-learn's definitions exactly.

scikit-learn is an optional dependency: these are the same algorithms as `sklearn.metrics`'
`precision_recall_curve` and `roc_curve(drop_intermediate=True)` (tests compare against it when it
is installed), so a chart logged here matches one logged by wandb, which calls scikit-learn.
"""

from __future__ import annotations

from typing import Any


def binary_clf_curve(y_true: Any, y_score: Any, pos_label: Any) -> tuple[Any, Any, Any]:
    """False/true positive counts at each distinct score threshold, highest threshold first."""
    import numpy as np

    y = np.asarray(y_true) == pos_label
    score = np.asarray(y_score, dtype=float)
    # a stable sort keeps tied scores in input order, as scikit-learn does
    order = np.argsort(score, kind="mergesort")[::-1]
    score = score[order]
    y = y[order]
    distinct = np.where(np.diff(score))[0]
    thresholds_idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y, dtype=np.float64)[thresholds_idx]
    fps = 1 + thresholds_idx - tps
    return fps, tps, score[thresholds_idx]


def precision_recall_curve(y_true: Any, y_score: Any, pos_label: Any) -> tuple[Any, Any, Any]:
    """(precision, recall, thresholds): recall decreasing, ending at the (precision=1, recall=0) point."""
    import numpy as np

    fps, tps, thresholds = binary_clf_curve(y_true, y_score, pos_label)
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=ps != 0)
    # no positive sample: recall is defined as 1 everywhere (scikit-learn warns the same way)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    return np.hstack((precision[::-1], 1)), np.hstack((recall[::-1], 0)), thresholds[::-1]


def roc_curve(y_true: Any, y_score: Any, pos_label: Any) -> tuple[Any, Any, Any]:
    """(fpr, tpr, thresholds), starting at (0, 0) with threshold inf; collinear points dropped."""
    import numpy as np

    fps, tps, thresholds = binary_clf_curve(y_true, y_score, pos_label)
    if len(fps) > 2:
        # keep only the corners: points where the curve changes direction
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps = np.r_[0, tps]
    fps = np.r_[0, fps]
    thresholds = np.r_[np.inf, thresholds]
    fpr = np.full(fps.shape, np.nan) if fps[-1] <= 0 else fps / fps[-1]
    tpr = np.full(tps.shape, np.nan) if tps[-1] <= 0 else tps / tps[-1]
    return fpr, tpr, thresholds


def confusion_counts(y_true: list[Any], preds: list[Any], classes: list[Any]) -> Any:
    """counts[i, j]: samples of class `classes[i]` predicted as `classes[j]`."""
    import numpy as np

    index = {c: i for i, c in enumerate(classes)}
    t = np.array([index[v] for v in y_true], dtype=np.int64)
    p = np.array([index[v] for v in preds], dtype=np.int64)
    n = len(classes)
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)
