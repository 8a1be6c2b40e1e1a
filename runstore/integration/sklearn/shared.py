"""Charts for classifiers and regressors alike: summary metrics and the learning curve."""

from __future__ import annotations

from typing import Any

from ...media.table import Table
from ...plot import visualize
from ...plot.custom_chart import Visualize
from . import _util as u


def plot_summary_metrics(
    model: Any = None,
    X: Any = None,
    y: Any = None,
    X_test: Any = None,
    y_test: Any = None,
) -> None:
    """The model's test-set scores (classifier: accuracy and weighted precision, recall, F1;
    regressor: MAE, MSE, R²), rounded to 2 decimals and logged as `summary_metrics`."""
    fn = "plot_summary_metrics"
    u.need_sklearn(fn)
    summary_metrics_chart(u.active_run(fn), model, X, y, X_test, y_test, fn)


def summary_metrics_chart(
    run: Any,
    model: Any,
    X: Any,
    y: Any,
    X_test: Any,
    y_test: Any,
    fn: str,
) -> bool:
    u.estimator(fn, "model", model, "classifier or regressor")
    u.require(fn, X=X, y=y, X_test=X_test, y_test=y_test)
    if not (u.features_ok(fn, "X", X) and u.features_ok(fn, "X_test", X_test)):
        return False
    u.same_length(fn, X=X, y=u.vector(fn, "y", y))
    yt = u.vector(fn, "y_test", y_test)
    u.same_length(fn, X_test=X_test, y_test=yt)

    def build() -> Visualize:
        from sklearn import base, metrics

        pred = model.predict(X_test)
        if base.is_classifier(model):
            scores = {
                "accuracy_score": metrics.accuracy_score(yt, pred),
                "precision": metrics.precision_score(yt, pred, average="weighted"),
                "recall": metrics.recall_score(yt, pred, average="weighted"),
                "f1_score": metrics.f1_score(yt, pred, average="weighted"),
            }
        else:
            scores = {
                "mae": metrics.mean_absolute_error(yt, pred),
                "mse": metrics.mean_squared_error(yt, pred),
                "r2_score": metrics.r2_score(yt, pred),
            }
        name = type(model).__name__
        data = [[k, u.scalar(round(v, 2)), name] for k, v in scores.items()]
        return visualize(
            "wandb/metrics/v1", Table(columns=["metric_name", "metric_value", "model_name"], data=data)
        )

    return u.log_chart(run, "summary_metrics", build)


def plot_learning_curve(
    model: Any = None,
    X: Any = None,
    y: Any = None,
    cv: Any = None,
    shuffle: bool = False,
    random_state: Any = None,
    train_sizes: Any = None,
    n_jobs: int | None = 1,
    scoring: Any = None,
) -> None:
    """Mean train and cross-validation scores against training-set size
    (`sklearn.model_selection.learning_curve`, default sizes 10%..100% in 5 steps), logged as
    `learning_curve`. Fits clones of `model`; it need not be fitted and is not changed."""
    fn = "plot_learning_curve"
    u.need_sklearn(fn)
    learning_curve_chart(
        u.active_run(fn), model, X, y, cv, shuffle, random_state, train_sizes, n_jobs, scoring, fn=fn
    )


def learning_curve_chart(
    run: Any,
    model: Any,
    X: Any,
    y: Any,
    cv: Any = None,
    shuffle: bool = False,
    random_state: Any = None,
    train_sizes: Any = None,
    n_jobs: int | None = 1,
    scoring: Any = None,
    fn: str = "plot_learning_curve",
) -> bool:
    import numpy as np

    u.estimator(fn, "model", model, "classifier or regressor", fitted=False)
    u.require(fn, X=X, y=y)
    if not u.features_ok(fn, "X", X):
        return False
    yv = u.vector(fn, "y", y)
    u.same_length(fn, X=X, y=yv)
    sizes = np.linspace(0.1, 1.0, 5) if train_sizes is None else train_sizes

    def build() -> Visualize:
        from sklearn.model_selection import learning_curve

        used, train, test = learning_curve(
            model,
            X,
            yv,
            cv=cv,
            n_jobs=n_jobs,
            train_sizes=sizes,
            scoring=scoring,
            shuffle=shuffle,
            random_state=random_state,
        )
        train_mean, test_mean = np.mean(train, axis=1), np.mean(test, axis=1)
        limit = u.CHART_LIMIT // 2  # two rows per size
        data: list[list[Any]] = []
        for i, size in enumerate(used.tolist()):
            if i > limit:
                u.warn_cut(limit, "learning_curve")
                break
            data.append(["train", round(train_mean[i], 2).item(), size])
            data.append(["test", round(test_mean[i], 2).item(), size])
        return visualize(
            "wandb/learning_curve/v1", Table(columns=["dataset", "score", "train_size"], data=data)
        )

    return u.log_chart(run, "learning_curve", build)
