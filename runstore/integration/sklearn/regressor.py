"""Regressor charts: wandb.sklearn's plot_regressor, outlier candidates and residuals.

wandb refits the user's regressor for the last two; here a clone is fitted, so the model the caller
holds is never changed (the numbers are the same).
"""

from __future__ import annotations

from typing import Any

from ...base import term
from ...media.table import Table
from ...plot import visualize
from ...plot.custom_chart import Visualize
from . import _util as u
from .shared import learning_curve_chart, summary_metrics_chart


def plot_regressor(
    model: Any,
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    model_name: str = "Regressor",
) -> None:
    """Every regressor chart: summary metrics, learning curve, outlier candidates, residuals."""
    fn = "plot_regressor"
    u.need_sklearn(fn)
    run = u.active_run(fn)
    u.estimator(fn, "model", model, "regressor")
    u.require(fn, X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test)
    u.same_length(fn, X_train=X_train, y_train=u.vector(fn, "y_train", y_train))
    u.same_length(fn, X_test=X_test, y_test=u.vector(fn, "y_test", y_test))
    term.termlog(f"Plotting {model_name}.")
    if summary_metrics_chart(run, model, X_train, y_train, X_test, y_test, fn):
        term.termlog("Logged summary metrics.")
    if learning_curve_chart(run, model, X_train, y_train, fn=fn):
        term.termlog("Logged learning curve.")
    if outlier_candidates_chart(run, model, X_train, y_train, fn):
        term.termlog("Logged outlier candidates.")
    if residuals_chart(run, model, X_train, y_train, fn):
        term.termlog("Logged residuals.")


def _inputs(fn: str, regressor: Any, X: Any, y: Any) -> Any:
    """The target as an array, or None when X has missing values (warned)."""
    u.estimator(fn, "regressor", regressor, "regressor")
    u.require(fn, X=X, y=y)
    if not u.features_ok(fn, "X", X):
        return None
    yv = u.vector(fn, "y", y)
    u.same_length(fn, X=X, y=yv)
    return yv


def plot_outlier_candidates(regressor: Any = None, X: Any = None, y: Any = None) -> None:
    """Cook's distance of every sample (the first 1001), with the 4/n influence threshold and the
    percentage of samples above it, logged as `outlier_candidates`."""
    fn = "plot_outlier_candidates"
    u.need_sklearn(fn)
    outlier_candidates_chart(u.active_run(fn), regressor, X, y, fn)


def outlier_candidates_chart(run: Any, regressor: Any, X: Any, y: Any, fn: str) -> bool:
    yv = _inputs(fn, regressor, X, y)
    if yv is None:
        return False
    n, p = u.array(fn, "X", X).reshape(u.n_samples(X), -1).shape
    if n <= p:
        raise ValueError(f"{fn}(): Cook's distance needs more samples than features; X has shape ({n}, {p})")
    return u.log_chart(run, "outlier_candidates", lambda: _outliers(regressor, X, yv))


def _outliers(regressor: Any, X: Any, y: Any) -> Visualize:
    import numpy as np
    from sklearn.base import clone

    model = clone(regressor).fit(X, y)
    xa = np.asarray(u.array("plot_outlier_candidates", "X", X), dtype=float).reshape(len(y), -1)
    n, p = xa.shape
    # leverage: the diagonal of the hat matrix X (X^T X)^+ X^T, without forming the n x n matrix
    leverage = (xa * np.linalg.pinv(xa).T).sum(axis=1)
    residuals = y - model.predict(X)
    mse = residuals @ residuals / (n - np.linalg.matrix_rank(xa))
    with np.errstate(divide="ignore", invalid="ignore"):  # leverage 1: an infinite distance, as wandb
        studentized = residuals / np.sqrt(mse) / np.sqrt(1 - leverage)
        distance = studentized**2 / p * (leverage / (1 - leverage))
    threshold = 4 / n
    percentage = round(np.sum(distance >= threshold) / n * 100.0, 3).item()
    shown = distance[: u.CHART_LIMIT + 1].tolist()  # wandb's cut keeps one row more than it says
    if n > u.CHART_LIMIT:
        u.warn_cut(u.CHART_LIMIT, "outlier_candidates")
    data = [[d, i, percentage, threshold] for i, d in enumerate(shown)]
    columns = ["distance", "instance_indicies", "outlier_percentage", "influence_threshold"]
    return visualize("wandb/outliers/v1", Table(columns=columns, data=data))


def plot_residuals(regressor: Any = None, X: Any = None, y: Any = None) -> None:
    """Predicted value against residual (prediction - truth) for a random 80/20 split of (X, y), with
    both R² scores, logged as `residuals` (at most 101 points per split)."""
    fn = "plot_residuals"
    u.need_sklearn(fn)
    residuals_chart(u.active_run(fn), regressor, X, y, fn)


def residuals_chart(run: Any, regressor: Any, X: Any, y: Any, fn: str) -> bool:
    yv = _inputs(fn, regressor, X, y)
    if yv is None:
        return False
    return u.log_chart(run, "residuals", lambda: _residuals(regressor, X, yv))


_RESIDUALS_PER_SPLIT = 100


def _residuals(regressor: Any, X: Any, y: Any) -> Visualize:
    from sklearn.base import clone
    from sklearn.model_selection import train_test_split

    # unseeded, as in wandb: a new split on every call
    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    model = clone(regressor).fit(x_train, y_train)
    train_score, test_score = u.scalar(model.score(x_train, y_train)), u.scalar(model.score(x_test, y_test))
    data: list[list[Any]] = []
    for dataset, xs, ys in (("train", x_train, y_train), ("test", x_test, y_test)):
        pred = model.predict(xs)
        for k, (pv, rv) in enumerate(zip(pred.tolist(), (pred - ys).tolist(), strict=True)):
            data.append([dataset, pv, rv, train_score, test_score])
            if k + 1 > _RESIDUALS_PER_SPLIT:
                u.warn_cut(_RESIDUALS_PER_SPLIT, "residuals")
                break
    columns = ["dataset", "y_pred", "residuals", "train_score", "test_score"]
    return visualize("wandb/residuals_plot/v1", Table(columns=columns, data=data))
