"""Classifier charts: wandb.sklearn's plot_classifier and the charts it is made of."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...base import term
from ...media.table import Table
from ...plot import pr_curve, roc_curve, visualize
from ...plot.custom_chart import Visualize
from . import _util as u
from .shared import learning_curve_chart, summary_metrics_chart


def plot_classifier(
    model: Any,
    X_train: Any,
    X_test: Any,
    y_train: Any,
    y_test: Any,
    y_pred: Any,
    y_probas: Any,
    labels: Sequence[Any] | None,
    is_binary: bool = False,
    model_name: str = "Classifier",
    feature_names: Sequence[Any] | None = None,
    log_learning_curve: bool = False,
) -> None:
    """Every classifier chart: feature importances, (learning curve,) confusion matrix, summary
    metrics, class proportions, calibration curve, ROC and precision-recall curves.

    `labels` names the classes (`labels[i]` for class `i`); `is_binary` is accepted and unused, as in
    wandb. The calibration curve fits new models on `X_train`; `model` itself is not refitted.
    """
    from sklearn.naive_bayes import MultinomialNB

    fn = "plot_classifier"
    u.need_sklearn(fn)
    run = u.active_run(fn)
    u.estimator(fn, "model", model, "classifier")
    u.require(
        fn, X_train=X_train, X_test=X_test, y_train=y_train, y_test=y_test, y_pred=y_pred, y_probas=y_probas
    )
    u.same_length(fn, X_train=X_train, y_train=u.vector(fn, "y_train", y_train))
    u.same_length(
        fn,
        X_test=X_test,
        y_test=u.vector(fn, "y_test", y_test),
        y_pred=u.vector(fn, "y_pred", y_pred),
        y_probas=u.array(fn, "y_probas", y_probas),
    )
    term.termlog(f"Plotting {model_name}.")
    # wandb leaves multinomial naive Bayes out of these two (its feature_log_prob_ is per class)
    naive_bayes = isinstance(model, MultinomialNB)
    if not naive_bayes and feature_importances_chart(run, model, feature_names, fn):
        term.termlog("Logged feature importances.")
    if log_learning_curve and learning_curve_chart(run, model, X_train, y_train, fn=fn):
        term.termlog("Logged learning curve.")
    if confusion_matrix_chart(run, y_test, y_pred, labels, fn=fn):
        term.termlog("Logged confusion matrix.")
    if summary_metrics_chart(run, model, X_train, y_train, X_test, y_test, fn):
        term.termlog("Logged summary metrics.")
    if class_proportions_chart(run, y_train, y_test, labels, fn):
        term.termlog("Logged class proportions.")
    if not naive_bayes and calibration_curve_chart(run, model, X_train, y_train, model_name, fn):
        term.termlog("Logged calibration curve.")
    if roc_chart(run, y_test, y_probas, labels, None, fn):
        term.termlog("Logged roc curve.")
    if precision_recall_chart(run, y_test, y_probas, labels, None, fn):
        term.termlog("Logged precision-recall curve.")


# -- ROC and precision-recall: wandb.plot's charts ------------------------------------------------
def plot_roc(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[Any] | None = None,
    plot_micro: bool = True,
    plot_macro: bool = True,
    classes_to_plot: Any = None,
) -> None:
    """One-vs-rest ROC curve per class (`wandb.plot.roc_curve`), logged as `roc`. `plot_micro` and
    `plot_macro` are accepted and unused, as in wandb."""
    fn = "plot_roc"
    u.need_sklearn(fn)
    roc_chart(u.active_run(fn), y_true, y_probas, labels, classes_to_plot, fn)


def plot_precision_recall(
    y_true: Any = None,
    y_probas: Any = None,
    labels: Sequence[Any] | None = None,
    plot_micro: bool = True,
    classes_to_plot: Any = None,
) -> None:
    """Precision-recall curve per class (`wandb.plot.pr_curve`), logged as `precision_recall`."""
    fn = "plot_precision_recall"
    u.need_sklearn(fn)
    precision_recall_chart(u.active_run(fn), y_true, y_probas, labels, classes_to_plot, fn)


def _curve_inputs(fn: str, y_true: Any, y_probas: Any, labels: Any) -> tuple[Any, Any, list[Any] | None]:
    u.require(fn, y_true=y_true, y_probas=y_probas)
    yt = u.vector(fn, "y_true", y_true)
    yp = u.array(fn, "y_probas", y_probas)
    u.same_length(fn, y_true=yt, y_probas=yp)
    names = None if labels is None else u.names(fn, "labels", labels)
    return yt, yp, names


def roc_chart(run: Any, y_true: Any, y_probas: Any, labels: Any, classes_to_plot: Any, fn: str) -> bool:
    yt, yp, names = _curve_inputs(fn, y_true, y_probas, labels)
    return u.log_chart(run, "roc", lambda: roc_curve(yt, yp, names, classes_to_plot))


def precision_recall_chart(
    run: Any, y_true: Any, y_probas: Any, labels: Any, classes_to_plot: Any, fn: str
) -> bool:
    yt, yp, names = _curve_inputs(fn, y_true, y_probas, labels)
    return u.log_chart(run, "precision_recall", lambda: pr_curve(yt, yp, names, classes_to_plot))


# -- confusion matrix -------------------------------------------------------------------------------
def plot_confusion_matrix(
    y_true: Any = None,
    y_pred: Any = None,
    labels: Sequence[Any] | None = None,
    true_labels: Sequence[Any] | None = None,
    pred_labels: Sequence[Any] | None = None,
    normalize: bool = False,
) -> None:
    """Counts of (actual, predicted) class pairs, logged as `confusion_matrix`.

    `labels` names the sorted classes of y_true ∪ y_pred; `true_labels` / `pred_labels` keep only
    those rows / columns (given as class names when `labels` is given, else as class values);
    `normalize=True` divides each row by its class's sample count (2 decimals).
    """
    fn = "plot_confusion_matrix"
    u.need_sklearn(fn)
    confusion_matrix_chart(u.active_run(fn), y_true, y_pred, labels, true_labels, pred_labels, normalize, fn)


def confusion_matrix_chart(
    run: Any,
    y_true: Any,
    y_pred: Any,
    labels: Any,
    true_labels: Any = None,
    pred_labels: Any = None,
    normalize: bool = False,
    fn: str = "plot_confusion_matrix",
) -> bool:
    u.require(fn, y_true=y_true, y_pred=y_pred)
    yt, yp = u.vector(fn, "y_true", y_true), u.vector(fn, "y_pred", y_pred)
    u.same_length(fn, y_true=yt, y_pred=yp)
    return u.log_chart(
        run,
        "confusion_matrix",
        lambda: _confusion_matrix(fn, yt, yp, labels, true_labels, pred_labels, normalize),
    )


def _pick(fn: str, arg: str, names: list[Any], wanted: Any) -> list[int]:
    """Indices of the classes named in `wanted`, in class order."""
    want = u.names(fn, arg, wanted)
    unknown = [w for w in want if w not in names]
    if unknown:
        raise ValueError(f"{fn}({arg}=...): {unknown} are not among the classes {names}")
    return [i for i, n in enumerate(names) if n in want]


def _confusion_matrix(
    fn: str, yt: Any, yp: Any, labels: Any, true_labels: Any, pred_labels: Any, normalize: bool
) -> Visualize:
    import numpy as np
    from sklearn.metrics import confusion_matrix
    from sklearn.utils.multiclass import unique_labels

    classes = unique_labels(yt, yp)
    cm: Any = confusion_matrix(yt, yp, labels=classes)
    names = [u.scalar(c) for c in classes]
    if labels is not None:
        given = u.names(fn, "labels", labels)
        if len(given) < len(names):
            raise ValueError(
                f"{fn}: labels has {len(given)} names but y_true/y_pred hold {len(names)} classes {names}"
            )
        names = given[: len(names)]
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        # a class absent from y_true has no row total: its row is 0, as in wandb
        cm = np.round(np.divide(cm, totals, out=np.zeros(cm.shape), where=totals != 0), 2)
    rows = range(len(names)) if true_labels is None else _pick(fn, "true_labels", names, true_labels)
    cols = range(len(names)) if pred_labels is None else _pick(fn, "pred_labels", names, pred_labels)
    # wandb writes the true class under "Predicted" and vice versa; here each is in its column
    data = [[names[j], names[i], cm[i, j].item()] for i in rows for j in cols]
    if len(data) > u.CHART_LIMIT:
        u.warn_cut(u.CHART_LIMIT, "confusion_matrix")
        data = data[: u.CHART_LIMIT + 1]  # wandb's cut keeps one row more than it says
    return visualize("wandb/confusion_matrix/v1", Table(columns=["Predicted", "Actual", "Count"], data=data))


# -- feature importances ----------------------------------------------------------------------------
def plot_feature_importances(
    model: Any = None,
    feature_names: Sequence[Any] | None = None,
    title: str = "Feature Importance",
    max_num_features: int = 50,
) -> None:
    """The model's `feature_importances_` (or `feature_log_prob_`, or `coef_`), largest first, logged
    as `feature_importances`. `title` and `max_num_features` are accepted and unused, as in wandb:
    every feature is logged."""
    fn = "plot_feature_importances"
    u.need_sklearn(fn)
    feature_importances_chart(u.active_run(fn), model, feature_names, fn)


_IMPORTANCE_ATTRS = ("feature_importances_", "feature_log_prob_", "coef_")


def feature_importances_chart(run: Any, model: Any, feature_names: Any, fn: str) -> bool:
    import numpy as np

    u.estimator(fn, "model", model, "classifier or regressor")
    attr = next((a for a in _IMPORTANCE_ATTRS if hasattr(model, a)), None)
    if attr is None:
        term.warn(
            f"could not find any of attributes {', '.join(_IMPORTANCE_ATTRS)} on classifier. "
            "Cannot plot feature importances."
        )
        return False
    importances = np.asarray(getattr(model, attr), dtype=float)
    if importances.ndim > 1:
        if sum(d > 1 for d in importances.shape) > 1:
            nd = importances.ndim
            term.warn(
                f"{nd}-dimensional feature importances array passed to plot_feature_importances. "
                f"{nd}-dimensional and higher feature importances arrays are not currently supported. "
                "These importances will not be plotted."
            )
            return False
        importances = importances.reshape(-1)
    given = None if feature_names is None else u.names(fn, "feature_names", feature_names)
    if given is not None and len(given) != len(importances):
        raise ValueError(
            f"{fn}: feature_names has {len(given)} names but the model has {len(importances)} features"
        )

    def build() -> Visualize:
        order = np.argsort(importances)[::-1]
        names = order.tolist() if given is None else [given[i] for i in order]
        data = [[n, float(v)] for n, v in zip(names, importances[order].tolist(), strict=True)]
        return visualize(
            "wandb/feature_importances/v1", Table(columns=["feature_names", "importances"], data=data)
        )

    return u.log_chart(run, "feature_importances", build)


# -- class proportions ------------------------------------------------------------------------------
def plot_class_proportions(
    y_train: Any = None, y_test: Any = None, labels: Sequence[Any] | None = None
) -> None:
    """How many samples of each class the training and test sets hold, logged as `class_proportions`.
    With `labels`, integer class `i` is shown as `labels[i]`."""
    fn = "plot_class_proportions"
    u.need_sklearn(fn)
    class_proportions_chart(u.active_run(fn), y_train, y_test, labels, fn)


def class_proportions_chart(run: Any, y_train: Any, y_test: Any, labels: Any, fn: str) -> bool:
    u.require(fn, y_train=y_train, y_test=y_test)
    ytr, yte = u.vector(fn, "y_train", y_train), u.vector(fn, "y_test", y_test)

    def build() -> Visualize:
        from sklearn.utils.multiclass import unique_labels

        classes = unique_labels(ytr, yte)
        shown = [u.scalar(c) for c in classes]
        if labels is not None and classes.dtype.kind in "iu":
            names = u.names(fn, "labels", labels)
            bad = [c for c in shown if not 0 <= c < len(names)]
            if bad:
                raise ValueError(f"{fn}: class {bad[0]} has no entry in labels ({len(names)} names)")
            shown = [names[c] for c in shown]
        data: list[list[Any]] = []
        for i, (c, name) in enumerate(zip(classes, shown, strict=True)):
            data.append([name, "train", int((ytr == c).sum())])
            data.append([name, "test", int((yte == c).sum())])
            if i > u.CHART_LIMIT:
                u.warn_cut(u.CHART_LIMIT, "class_proportions")
                break
        return visualize(
            "wandb/class_proportions/v1", Table(columns=["class", "dataset", "count"], data=data)
        )

    return u.log_chart(run, "class_proportions", build)


# -- calibration curve ------------------------------------------------------------------------------
def plot_calibration_curve(
    clf: Any = None,
    X: Any = None,
    y: Any = None,
    clf_name: str = "Classifier",
) -> None:
    """Reliability curves of a logistic-regression baseline and of `clf` calibrated with isotonic and
    with sigmoid calibration (binary labels 0/1 only), logged as `calibration_curve`.

    As in wandb, the three models are fitted on 10% of (X, y) (`train_test_split(test_size=0.9,
    random_state=42)`) and evaluated on the rest; `clf` itself is not refitted.
    """
    fn = "plot_calibration_curve"
    u.need_sklearn(fn)
    calibration_curve_chart(u.active_run(fn), clf, X, y, clf_name, fn)


def calibration_curve_chart(run: Any, clf: Any, X: Any, y: Any, clf_name: str, fn: str) -> bool:
    import numpy as np

    u.estimator(fn, "clf", clf, "classifier")
    u.require(fn, X=X, y=y)
    if not u.features_ok(fn, "X", X):
        return False
    yv = u.vector(fn, "y", y)
    u.same_length(fn, X=X, y=yv)
    if yv.dtype.kind in "US" or not np.isin(yv, (0, 1)).all():
        term.warn(
            "This function only supports binary classification at the moment and therefore expects "
            "labels to be binary. Skipping calibration curve."
        )
        return False
    return u.log_chart(run, "calibration_curve", lambda: _calibration(clf, X, yv, clf_name))


def _calibration(clf: Any, X: Any, y: Any, clf_name: str) -> Visualize:
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV, calibration_curve
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import ComplementNB

    if isinstance(clf, ComplementNB):
        X = u.array("plot_calibration_curve", "X", X)
        X = X - X.min()  # ComplementNB needs non-negative features
    x_train, x_test, y_train, y_test = train_test_split(X, y, test_size=0.9, random_state=42)
    # the diagonal every curve is compared with: (model, fraction, mean predicted, hist, edge)
    data: list[list[Any]] = [["Perfectly calibrated", 0, 0, 0, 0], ["Perfectly calibrated", 1, 1, 0, 0]]
    models = {
        "Logistic": LogisticRegression(C=1.0),
        f"{clf_name} Isotonic": CalibratedClassifierCV(clf, cv=2, method="isotonic"),
        f"{clf_name} Sigmoid": CalibratedClassifierCV(clf, cv=2, method="sigmoid"),
    }
    for name, model in models.items():
        prob = model.fit(x_train, y_train).predict_proba(x_test)[:, 1]
        hist, edges = np.histogram(prob, bins=10)
        frac, mean = calibration_curve(y_test, prob, n_bins=10)
        # wandb pairs the i-th non-empty calibration bin with the i-th histogram bin; kept so the
        # table is the one wandb writes
        for i in range(len(frac)):
            data.append(
                [name, round(frac[i], 3).item(), round(mean[i], 3).item(), int(hist[i]), float(edges[i])]
            )
    columns = ["model", "fraction_of_positives", "mean_predicted_value", "hist_dict", "edge_dict"]
    return visualize("wandb/calibration/v1", Table(columns=columns, data=data))
