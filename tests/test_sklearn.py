"""wandb.sklearn (runstore.integration.sklearn): real scikit-learn models on small datasets, logged to a
real run and read back; every expected value is computed here with scikit-learn or numpy directly."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from conftest import history, warnings_in
from sklearn import datasets, metrics
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import calibration_curve
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import learning_curve, train_test_split
from sklearn.naive_bayes import GaussianNB, MultinomialNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

import runstore
import runstore.integration.sklearn as sk

# -- data and models, built once -------------------------------------------------------------------
IRIS = datasets.load_iris()
NAMES = [str(n) for n in IRIS.target_names]
Xi_tr, Xi_te, yi_tr, yi_te = train_test_split(IRIS.data, IRIS.target, test_size=0.3, random_state=0)
TREE = DecisionTreeClassifier(max_depth=2, random_state=0).fit(Xi_tr, yi_tr)
TREE_PRED = TREE.predict(Xi_te)

Xb, yb = datasets.make_classification(n_samples=160, n_features=5, n_informative=3, random_state=0)
Xb_tr, Xb_te, yb_tr, yb_te = train_test_split(Xb, yb, test_size=0.25, random_state=0)
FOREST = RandomForestClassifier(n_estimators=5, random_state=0).fit(Xb_tr, yb_tr)

Xr, yr = datasets.make_regression(n_samples=60, n_features=3, noise=10.0, random_state=0)
Xr_tr, Xr_te, yr_tr, yr_te = train_test_split(Xr, yr, test_size=0.25, random_state=0)

BLOBS, _ = datasets.make_blobs(n_samples=60, centers=3, random_state=0)


def viz(key: str, preset: str) -> dict[str, Any]:
    """What wandb writes at config `_wandb.viz.<key>` for `wandb.visualize(preset, table)`."""
    return {"id": preset, "historyFieldSettings": {"x-axis": "_step", "key": key}}


def finished(run: Any) -> tuple[Any, dict[str, Any]]:
    """Finish `run`; (the run read back through the public API, its `_wandb` config)."""
    run.finish()
    r = runstore.Api().run(f"p/{run.id}")
    return r, r.rawconfig.get("_wandb", {}).get("value", {})


def table_keys(r: Any) -> set[str]:
    return {k for k, v in r.summary.items() if isinstance(v, dict) and v.get("_type") == "table-file"}


# -- import cost ------------------------------------------------------------------------------------
def test_importing_runstore_or_the_subpackage_does_not_import_sklearn():
    code = (
        "import sys, runstore, runstore.integration.sklearn as s; "
        "assert callable(s.plot_roc); "
        "print(sorted(m for m in ('sklearn', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- classifier charts ------------------------------------------------------------------------------
def test_confusion_matrix_rows_and_panel():
    run = runstore.init(project="p")
    sk.plot_confusion_matrix(yi_te, TREE_PRED, NAMES)
    r, wb = finished(run)
    t = r.table("confusion_matrix")
    assert t.columns == ["Predicted", "Actual", "Count"]
    cm = metrics.confusion_matrix(yi_te, TREE_PRED)  # rows: actual class, columns: predicted
    assert t.data == [[NAMES[j], NAMES[i], int(cm[i, j])] for i in range(3) for j in range(3)]
    # each column holds what its name says: the counts per Actual / Predicted name are the class sizes
    for col, labels in (("Actual", yi_te), ("Predicted", TREE_PRED)):
        per_name = {n: 0 for n in NAMES}
        for row in t.data:
            per_name[row[t.columns.index(col)]] += row[2]
        assert per_name == {n: int(c) for n, c in zip(NAMES, np.bincount(labels, minlength=3), strict=True)}
    assert wb["viz"]["confusion_matrix"] == viz("confusion_matrix", "wandb/confusion_matrix/v1")


def test_confusion_matrix_normalize_and_class_subsets():
    run = runstore.init(project="p")
    sk.plot_confusion_matrix(yi_te, TREE_PRED, normalize=True)
    r, _wb = finished(run)
    norm = np.round(metrics.confusion_matrix(yi_te, TREE_PRED, normalize="true"), 2)
    assert r.table("confusion_matrix").data == [[j, i, float(norm[i, j])] for i in range(3) for j in range(3)]

    run = runstore.init(project="p")
    sk.plot_confusion_matrix(yi_te, TREE_PRED, NAMES, true_labels=[NAMES[2]], pred_labels=NAMES[1:])
    r, _wb = finished(run)
    cm = metrics.confusion_matrix(yi_te, TREE_PRED)
    assert r.table("confusion_matrix").data == [[NAMES[j], NAMES[2], int(cm[2, j])] for j in (1, 2)]

    run = runstore.init(project="p")
    with pytest.raises(ValueError, match="not among the classes"):
        sk.plot_confusion_matrix(yi_te, TREE_PRED, NAMES, true_labels=["dog"])
    with pytest.raises(ValueError, match="labels has 2 names but .* 3 classes"):
        sk.plot_confusion_matrix(yi_te, TREE_PRED, NAMES[:2])
    assert history(run) == []


def test_roc_and_precision_recall_are_wandb_plot_curves():
    probas = TREE.predict_proba(Xi_te)
    run = runstore.init(project="p")
    sk.plot_roc(yi_te, probas, NAMES)
    sk.plot_precision_recall(yi_te, probas, NAMES, classes_to_plot=[1])
    r, wb = finished(run)
    assert table_keys(r) == {"roc_table", "precision_recall_table"}
    roc = r.table("roc")
    assert roc.columns == ["class", "fpr", "tpr"]
    for c, name in enumerate(NAMES):
        fpr, tpr, _ = metrics.roc_curve(yi_te == c, probas[:, c])
        got = [row[1:] for row in roc.data if row[0] == name]
        assert got == [[float(a), float(b)] for a, b in zip(np.round(fpr, 3), np.round(tpr, 3), strict=True)]
    pr = r.table("precision_recall")
    assert pr.columns == ["class", "precision", "recall"]
    assert {row[0] for row in pr.data} == {NAMES[1]}
    for key in ("roc", "precision_recall"):
        cfg = wb["visualize"][key]["panel_config"]
        assert cfg["panelDefId"] == "wandb/area-under-curve/v0"
        assert cfg["userQuery"]["queryFields"][0]["fields"][3]["args"][0]["value"] == f"{key}_table"
    assert [sorted(k for k in row if not k.startswith("_")) for row in history(run)] == [
        ["roc_table"],
        ["precision_recall_table"],
    ]


def test_feature_importances_from_each_model_attribute(capsys):
    names = [f"f{i}" for i in range(5)]
    run = runstore.init(project="p")
    sk.plot_feature_importances(FOREST, names)
    r, wb = finished(run)
    t = r.table("feature_importances")
    assert t.columns == ["feature_names", "importances"]
    imps = t.get_column("importances")
    assert imps == sorted(imps, reverse=True)
    assert dict(t.data) == dict(zip(names, FOREST.feature_importances_.tolist(), strict=True))
    assert wb["viz"]["feature_importances"] == viz("feature_importances", "wandb/feature_importances/v1")

    # a binary linear model: coef_ of shape (1, n_features); without names the features are indices
    lr = LogisticRegression().fit(Xb_tr, yb_tr)
    run = runstore.init(project="p")
    sk.plot_feature_importances(lr)
    r, _wb = finished(run)
    assert dict(r.table("feature_importances").data) == dict(enumerate(lr.coef_[0].tolist()))

    # one importance per class and feature, or no importances at all: a warning and nothing logged
    capsys.readouterr()
    run = runstore.init(project="p")
    sk.plot_feature_importances(LogisticRegression(max_iter=500).fit(Xi_tr, yi_tr))
    sk.plot_feature_importances(KNeighborsClassifier().fit(Xi_tr, yi_tr))
    err = capsys.readouterr().err
    assert history(run) == []
    warned = warnings_in(err)
    assert len(warned) == 2
    assert "2-dimensional feature importances" in warned[0]
    assert "Cannot plot feature importances" in warned[1]
    with pytest.raises(ValueError, match="feature_names has 2 names but the model has 5"):
        sk.plot_feature_importances(FOREST, ["a", "b"])


def test_class_proportions_counts():
    run = runstore.init(project="p")
    sk.plot_class_proportions(yi_tr, yi_te, NAMES)
    words_tr = np.array(["cat", "dog", "dog"])
    sk.plot_class_proportions(words_tr, np.array(["owl", "dog"]))
    r, wb = finished(run)
    first = r.table("class_proportions", step=0)
    assert first.columns == ["class", "dataset", "count"]
    tr, te = np.bincount(yi_tr, minlength=3), np.bincount(yi_te, minlength=3)
    assert first.data == [
        row for c in range(3) for row in ([NAMES[c], "train", int(tr[c])], [NAMES[c], "test", int(te[c])])
    ]
    assert r.table("class_proportions").data == [
        ["cat", "train", 1],
        ["cat", "test", 0],
        ["dog", "train", 2],
        ["dog", "test", 1],
        ["owl", "train", 0],
        ["owl", "test", 1],
    ]
    assert wb["viz"]["class_proportions"] == viz("class_proportions", "wandb/class_proportions/v1")


def test_calibration_curve_for_a_binary_classifier(capsys):
    nb = GaussianNB().fit(Xb, yb)
    run = runstore.init(project="p")
    sk.plot_calibration_curve(nb, Xb, yb, "NB")
    r, wb = finished(run)
    t = r.table("calibration_curve")
    assert t.columns == ["model", "fraction_of_positives", "mean_predicted_value", "hist_dict", "edge_dict"]
    assert t.data[:2] == [["Perfectly calibrated", 0, 0, 0, 0], ["Perfectly calibrated", 1, 1, 0, 0]]
    assert {row[0] for row in t.data} == {"Perfectly calibrated", "Logistic", "NB Isotonic", "NB Sigmoid"}
    # the baseline, computed here: logistic regression fitted on 10% of the data, judged on the rest
    x_fit, x_eval, y_fit, y_eval = train_test_split(Xb, yb, test_size=0.9, random_state=42)
    prob = LogisticRegression(C=1.0).fit(x_fit, y_fit).predict_proba(x_eval)[:, 1]
    frac, mean = calibration_curve(y_eval, prob, n_bins=10)
    hist, edges = np.histogram(prob, bins=10)
    expected = [
        ["Logistic", float(np.round(frac[i], 3)), float(np.round(mean[i], 3)), int(hist[i]), float(edges[i])]
        for i in range(len(frac))
    ]
    assert [row for row in t.data if row[0] == "Logistic"] == expected
    for name in ("NB Isotonic", "NB Sigmoid"):
        rows = [row for row in t.data if row[0] == name]
        assert 1 <= len(rows) <= 10
        assert all(0 <= row[1] <= 1 and 0 <= row[2] <= 1 for row in rows)
    assert wb["viz"]["calibration_curve"] == viz("calibration_curve", "wandb/calibration/v1")
    assert not hasattr(nb, "calibrated_classifiers_")  # the user's model was not refitted

    # three classes: wandb's warning, nothing logged
    capsys.readouterr()
    run = runstore.init(project="p")
    sk.plot_calibration_curve(TREE, Xi_tr, yi_tr)
    assert "only supports binary classification" in capsys.readouterr().err
    assert history(run) == []


def test_summary_metrics_for_a_classifier_and_a_regressor():
    ridge = Ridge().fit(Xr_tr, yr_tr)
    run = runstore.init(project="p")
    sk.plot_summary_metrics(TREE, Xi_tr, yi_tr, Xi_te, yi_te)
    sk.plot_summary_metrics(ridge, Xr_tr, yr_tr, Xr_te, yr_te)
    r, wb = finished(run)
    clf = r.table("summary_metrics", step=0)
    assert clf.columns == ["metric_name", "metric_value", "model_name"]
    p = TREE_PRED
    assert clf.data == [
        ["accuracy_score", round(metrics.accuracy_score(yi_te, p), 2), "DecisionTreeClassifier"],
        [
            "precision",
            round(metrics.precision_score(yi_te, p, average="weighted"), 2),
            "DecisionTreeClassifier",
        ],
        ["recall", round(metrics.recall_score(yi_te, p, average="weighted"), 2), "DecisionTreeClassifier"],
        ["f1_score", round(metrics.f1_score(yi_te, p, average="weighted"), 2), "DecisionTreeClassifier"],
    ]
    q = ridge.predict(Xr_te)
    assert r.table("summary_metrics").data == [
        ["mae", round(metrics.mean_absolute_error(yr_te, q), 2), "Ridge"],
        ["mse", round(metrics.mean_squared_error(yr_te, q), 2), "Ridge"],
        ["r2_score", round(metrics.r2_score(yr_te, q), 2), "Ridge"],
    ]
    assert wb["viz"]["summary_metrics"] == viz("summary_metrics", "wandb/metrics/v1")


def test_learning_curve_fits_clones_of_an_unfitted_model():
    model = DecisionTreeClassifier(max_depth=3, random_state=0)
    run = runstore.init(project="p")
    sk.plot_learning_curve(model, IRIS.data, IRIS.target, cv=3, train_sizes=[0.3, 1.0])
    r, wb = finished(run)
    sizes, train, test = learning_curve(model, IRIS.data, IRIS.target, cv=3, train_sizes=[0.3, 1.0])
    t = r.table("learning_curve")
    assert t.columns == ["dataset", "score", "train_size"]
    expected = []
    for i, size in enumerate(sizes.tolist()):
        expected.append(["train", float(np.round(train[i].mean(), 2)), size])
        expected.append(["test", float(np.round(test[i].mean(), 2)), size])
    assert t.data == expected
    assert wb["viz"]["learning_curve"] == viz("learning_curve", "wandb/learning_curve/v1")
    assert not hasattr(model, "tree_")  # still unfitted


# -- regressor charts -------------------------------------------------------------------------------
def test_outlier_candidates_are_cooks_distances():
    model = LinearRegression().fit(Xr, yr)
    coef = model.coef_.copy()
    run = runstore.init(project="p")
    sk.plot_outlier_candidates(model, Xr, yr)
    r, wb = finished(run)
    t = r.table("outlier_candidates")
    assert t.columns == ["distance", "instance_indicies", "outlier_percentage", "influence_threshold"]
    # Cook's distance from the hat matrix, written out
    n, p = Xr.shape
    h = np.diag(Xr @ np.linalg.inv(Xr.T @ Xr) @ Xr.T)
    e = yr - model.predict(Xr)
    mse = e @ e / (n - p)
    cooks = e**2 * h / (p * mse * (1 - h) ** 2)
    np.testing.assert_allclose(t.get_column("distance"), cooks, rtol=1e-8)
    assert t.get_column("instance_indicies") == list(range(n))
    assert set(t.get_column("influence_threshold")) == {4 / n}
    assert set(t.get_column("outlier_percentage")) == {round(100 * float(np.mean(cooks >= 4 / n)), 3)}
    assert wb["viz"]["outlier_candidates"] == viz("outlier_candidates", "wandb/outliers/v1")
    np.testing.assert_array_equal(model.coef_, coef)


def test_residuals_of_a_random_split_leave_the_model_alone():
    model = Ridge(alpha=0.5).fit(Xr_tr, yr_tr)
    coef = model.coef_.copy()
    run = runstore.init(project="p")
    sk.plot_residuals(model, Xr, yr)
    r, wb = finished(run)
    t = r.table("residuals")
    assert t.columns == ["dataset", "y_pred", "residuals", "train_score", "test_score"]
    assert [row[0] for row in t.data] == ["train"] * 48 + ["test"] * 12
    # recover which samples went to each split from (prediction - residual = truth), then refit here
    idx = {}
    for dataset in ("train", "test"):
        truth = [row[1] - row[2] for row in t.data if row[0] == dataset]
        idx[dataset] = [int(np.argmin(np.abs(yr - v))) for v in truth]
        np.testing.assert_allclose(yr[idx[dataset]], truth, rtol=1e-9, atol=1e-9)
    assert sorted(idx["train"] + idx["test"]) == list(range(60))
    ref = Ridge(alpha=0.5).fit(Xr[idx["train"]], yr[idx["train"]])
    for dataset in ("train", "test"):
        got = [row[1] for row in t.data if row[0] == dataset]
        np.testing.assert_allclose(got, ref.predict(Xr[idx[dataset]]), rtol=1e-9)
    scores = {(row[3], row[4]) for row in t.data}
    assert len(scores) == 1
    (train_score, test_score) = scores.pop()
    assert train_score == pytest.approx(ref.score(Xr[idx["train"]], yr[idx["train"]]), rel=1e-9)
    assert test_score == pytest.approx(ref.score(Xr[idx["test"]], yr[idx["test"]]), rel=1e-9)
    assert wb["viz"]["residuals"] == viz("residuals", "wandb/residuals_plot/v1")
    np.testing.assert_array_equal(model.coef_, coef)


def test_plot_regressor_logs_its_four_charts():
    model = Ridge().fit(Xr_tr, yr_tr)
    run = runstore.init(project="p")
    sk.plot_regressor(model, Xr_tr, Xr_te, yr_tr, yr_te, model_name="Ridge")
    r, wb = finished(run)
    keys = ["summary_metrics", "learning_curve", "outlier_candidates", "residuals"]
    assert [[k for k in row if not k.startswith("_")] for row in history(run)] == [[k] for k in keys]
    assert set(wb["viz"]) == set(keys)
    assert len(r.table("learning_curve").data) == 10  # 5 default training sizes, train and test


# -- clusterer charts -------------------------------------------------------------------------------
def test_elbow_curve_scores_each_cluster_count():
    km = KMeans(n_clusters=3, n_init=1, random_state=0).fit(BLOBS)
    run = runstore.init(project="p")
    sk.plot_elbow_curve(km, BLOBS, cluster_ranges=[4, 2])
    r, wb = finished(run)
    t = r.table("elbow_curve")
    assert t.columns == ["cluster_ranges", "errors", "clustering_time"]
    assert t.get_column("cluster_ranges") == [2, 4]
    inertia = [KMeans(n_clusters=k, n_init=1, random_state=0).fit(BLOBS).inertia_ for k in (2, 4)]
    np.testing.assert_allclose(t.get_column("errors"), inertia, rtol=1e-6)
    assert all(isinstance(s, float) for s in t.get_column("clustering_time"))
    assert wb["viz"]["elbow_curve"] == viz("elbow_curve", "wandb/elbow/v1")
    assert km.n_clusters == 3


def test_silhouette_plot_of_kmeans():
    km = KMeans(n_clusters=3, n_init=1, random_state=0).fit(BLOBS)
    run = runstore.init(project="p")
    sk.plot_silhouette(km, BLOBS, km.labels_)
    r, wb = finished(run)
    t = r.table("silhouette_plot")
    assert t.columns == [
        "x",
        "y",
        "colors",
        "centerx",
        "centery",
        "y_sil",
        "x1",
        "x2",
        "color_sil",
        "silhouette_avg",
    ]
    col = {c: t.get_column(c) for c in t.columns}
    samples = metrics.silhouette_samples(BLOBS, km.labels_)
    expected_x2, expected_y, expected_color, y0 = [], [], [], 10
    for c in range(3):
        values = sorted(samples[km.labels_ == c].tolist())
        expected_x2 += values
        expected_y += list(range(y0, y0 + len(values)))
        expected_color += [c] * len(values)
        y0 += len(values) + 10
    assert col["x2"] == expected_x2
    assert col["y_sil"] == expected_y
    assert col["color_sil"] == expected_color
    assert set(col["x1"]) == {0}
    assert set(col["silhouette_avg"]) == {metrics.silhouette_score(BLOBS, km.labels_)}
    assert col["x"] == BLOBS[:, 0].tolist() and col["y"] == BLOBS[:, 1].tolist()
    assert col["colors"] == km.labels_.tolist()
    assert col["centerx"] == km.cluster_centers_[km.labels_, 0].tolist()
    assert col["centery"] == km.cluster_centers_[km.labels_, 1].tolist()
    assert wb["viz"]["silhouette_plot"] == viz("silhouette_plot", "wandb/silhouette_/v1")


def test_plot_clusterer_kmeans_and_other_clusterers():
    km = KMeans(n_clusters=3, n_init=1, random_state=0).fit(BLOBS)
    agg = AgglomerativeClustering(n_clusters=3).fit(BLOBS)
    run = runstore.init(project="p")
    sk.plot_clusterer(km, BLOBS, km.labels_, model_name="KMeans")
    sk.plot_clusterer(agg, BLOBS, agg.labels_)
    r, _wb = finished(run)
    assert [[k for k in row if not k.startswith("_")] for row in history(run)] == [
        ["elbow_curve"],
        ["silhouette_plot"],
        ["silhouette_plot"],  # not KMeans: no elbow curve
    ]
    assert r.table("elbow_curve").get_column("cluster_ranges") == [1, 3, 5, 7, 9]
    last = r.table("silhouette_plot")
    assert set(last.get_column("centerx")) == {None}  # no centers outside KMeans
    assert last.get_column("colors") == agg.labels_.tolist()


# -- plot_classifier --------------------------------------------------------------------------------
def test_plot_classifier_logs_every_classifier_chart(capsys):
    run = runstore.init(project="p")
    sk.plot_classifier(
        FOREST,
        Xb_tr,
        Xb_te,
        yb_tr,
        yb_te,
        FOREST.predict(Xb_te),
        FOREST.predict_proba(Xb_te),
        ["neg", "pos"],
        model_name="Forest",
        log_learning_curve=True,
    )
    err = capsys.readouterr().err
    r, wb = finished(run)
    keys = [
        "feature_importances",
        "learning_curve",
        "confusion_matrix",
        "summary_metrics",
        "class_proportions",
        "calibration_curve",
        "roc_table",
        "precision_recall_table",
    ]
    assert [[k for k in row if not k.startswith("_")] for row in history(run)] == [[k] for k in keys]
    assert table_keys(r) == set(keys)
    assert set(wb["viz"]) == set(keys[:6]) and set(wb["visualize"]) == {"roc", "precision_recall"}
    assert "Plotting Forest." in err and "Logged precision-recall curve." in err
    assert {row[0] for row in r.table("calibration_curve").data} >= {"Forest Isotonic", "Forest Sigmoid"}
    assert {row[0] for row in r.table("roc").data} == {"neg", "pos"}
    # the table sizes wandb's own functional test of plot_classifier expects for a binary problem
    assert [len(r.table(k).data) for k in ("confusion_matrix", "class_proportions", "summary_metrics")] == [
        4,
        4,
        4,
    ]
    assert len(r.table("feature_importances").data) == Xb.shape[1]
    assert len(r.table("learning_curve").data) == 10


def test_plot_classifier_leaves_multinomial_naive_bayes_out_of_two_charts():
    X = np.abs(Xb)
    nb = MultinomialNB().fit(X, yb)
    run = runstore.init(project="p")
    sk.plot_classifier(nb, X, X, yb, yb, nb.predict(X), nb.predict_proba(X), None)
    r, _wb = finished(run)
    assert table_keys(r) == {
        "confusion_matrix",
        "summary_metrics",
        "class_proportions",
        "roc_table",
        "precision_recall_table",
    }


# -- misuse -----------------------------------------------------------------------------------------
def _call_every_plot() -> list[tuple[str, Any]]:
    km = KMeans(n_clusters=3, n_init=1, random_state=0).fit(BLOBS)
    ridge = Ridge().fit(Xr, yr)
    probas = TREE.predict_proba(Xi_te)
    return [
        (
            "plot_classifier",
            lambda: sk.plot_classifier(TREE, Xi_tr, Xi_te, yi_tr, yi_te, TREE_PRED, probas, NAMES),
        ),
        ("plot_regressor", lambda: sk.plot_regressor(ridge, Xr_tr, Xr_te, yr_tr, yr_te)),
        ("plot_clusterer", lambda: sk.plot_clusterer(km, BLOBS, km.labels_)),
        ("plot_confusion_matrix", lambda: sk.plot_confusion_matrix(yi_te, TREE_PRED)),
        ("plot_roc", lambda: sk.plot_roc(yi_te, probas)),
        ("plot_precision_recall", lambda: sk.plot_precision_recall(yi_te, probas)),
        ("plot_feature_importances", lambda: sk.plot_feature_importances(TREE)),
        ("plot_learning_curve", lambda: sk.plot_learning_curve(TREE, Xi_tr, yi_tr)),
        ("plot_calibration_curve", lambda: sk.plot_calibration_curve(FOREST, Xb, yb)),
        ("plot_class_proportions", lambda: sk.plot_class_proportions(yi_tr, yi_te)),
        ("plot_summary_metrics", lambda: sk.plot_summary_metrics(TREE, Xi_tr, yi_tr, Xi_te, yi_te)),
        ("plot_elbow_curve", lambda: sk.plot_elbow_curve(km, BLOBS)),
        ("plot_silhouette", lambda: sk.plot_silhouette(km, BLOBS, km.labels_)),
        ("plot_outlier_candidates", lambda: sk.plot_outlier_candidates(ridge, Xr, yr)),
        ("plot_residuals", lambda: sk.plot_residuals(ridge, Xr, yr)),
    ]


def test_every_plot_needs_an_active_run():
    calls = _call_every_plot()
    assert sorted(name for name, _ in calls) == sorted(sk.__all__)
    for name, call in calls:
        with pytest.raises(runstore.Error, match=rf"runstore.init\(\) before runstore.sklearn.{name}\(\)"):
            call()
    run = runstore.init(project="p")
    run.finish()
    with pytest.raises(runstore.Error, match="init"):
        sk.plot_roc(yi_te, TREE.predict_proba(Xi_te))


class _Exploding(ClassifierMixin, BaseEstimator):
    """A classifier whose fit() must never run."""

    def fit(self, X: Any, y: Any) -> _Exploding:
        raise AssertionError("fitted although the run is disabled")


def test_a_disabled_run_computes_nothing_and_writes_nothing(tmp_path):
    run = runstore.init(project="p", mode="disabled")
    sk.plot_learning_curve(_Exploding(), Xi_tr, yi_tr)
    sk.plot_confusion_matrix(yi_te, TREE_PRED)
    run.finish()
    assert not (tmp_path / ".wandb" / "projects").exists()
    runstore.init(project="p")
    with pytest.raises(ValueError, match="fits failed"):  # a live run does fit it
        sk.plot_learning_curve(_Exploding(), Xi_tr, yi_tr)


BAD_INPUTS = [
    (lambda: sk.plot_confusion_matrix(yi_te, TREE_PRED[:-1]), ValueError, "y_true has 45, y_pred has 44"),
    (lambda: sk.plot_roc(yi_te[:10], TREE.predict_proba(Xi_te)), ValueError, "inconsistent numbers"),
    (
        lambda: sk.plot_summary_metrics(TREE, Xi_tr, yi_tr[:5], Xi_te, yi_te),
        ValueError,
        "X has 105, y has 5",
    ),
    (
        lambda: sk.plot_classifier(TREE, Xi_tr, Xi_te, yi_tr, yi_te, TREE_PRED[:-1], Xi_te, NAMES),
        ValueError,
        r"plot_classifier\(\): .* y_test has 45, y_pred has 44",
    ),
    (
        lambda: sk.plot_regressor(TREE, Xi_tr, Xi_te, yi_tr, yi_te),
        TypeError,
        "must be a scikit-learn regressor",
    ),
    (lambda: sk.plot_confusion_matrix("abc", "abd"), TypeError, "must be array-like"),
    (lambda: sk.plot_class_proportions(yi_tr, 3), TypeError, r"y_test=\.\.\.\) must be array-like"),
    (lambda: sk.plot_confusion_matrix(None, TREE_PRED), ValueError, r"needs y_true=\.\.\."),
    (
        lambda: sk.plot_calibration_curve(Ridge().fit(Xr, yr), Xr, yr),
        TypeError,
        "must be a scikit-learn classifier",
    ),
    (lambda: sk.plot_residuals(TREE, Xi_tr, yi_tr), TypeError, "must be a scikit-learn regressor"),
    (lambda: sk.plot_silhouette(TREE, Xi_tr, yi_tr), TypeError, "must be a scikit-learn clusterer"),
    (lambda: sk.plot_feature_importances("model"), TypeError, "classifier or regressor"),
    (
        lambda: sk.plot_feature_importances(RandomForestClassifier()),
        NotFittedError,
        r"call model.fit\(X, y\)",
    ),
    (lambda: sk.plot_outlier_candidates(Ridge(), Xr, yr), NotFittedError, "not fitted yet"),
    (
        lambda: sk.plot_summary_metrics(TREE, Xi_tr, yi_tr, Xi_te.astype(str), yi_te),
        ValueError,
        "one hot encode X_test",
    ),
    (lambda: sk.plot_silhouette(KMeans(2).fit(Xr[:, :1]), Xr[:, :1]), ValueError, "at least 2 features"),
    (lambda: sk.plot_elbow_curve(KMeans(2).fit(BLOBS), BLOBS, [0, 2]), ValueError, "positive ints"),
]


def test_bad_input_raises_a_clear_error_and_logs_nothing(subtests):
    run = runstore.init(project="p")  # one run for every case: each must leave it empty
    for call, error, words in BAD_INPUTS:
        with subtests.test(words):
            with pytest.raises(error, match=words):
                call()
            assert history(run) == []


def test_an_unfitted_model_is_also_a_value_error():
    # scikit-learn's NotFittedError is a ValueError: code catching either keeps working
    runstore.init(project="p")
    with pytest.raises(ValueError, match="LogisticRegression is not fitted yet"):
        sk.plot_summary_metrics(LogisticRegression(), Xi_tr, yi_tr, Xi_te, yi_te)


def test_missing_feature_values_warn_and_skip_the_chart(capsys):
    X = Xr.copy()
    X[3, 1] = np.nan
    run = runstore.init(project="p")
    capsys.readouterr()
    sk.plot_residuals(LinearRegression().fit(Xr, yr), X, yr)
    sk.plot_confusion_matrix(yi_te, TREE_PRED)  # training goes on, later charts are logged
    warned = warnings_in(capsys.readouterr().err)
    assert len(warned) == 1 and "X contains 1 missing values" in warned[0]
    assert [[k for k in row if not k.startswith("_")] for row in history(run)] == [["confusion_matrix"]]


def test_elbow_curve_needs_n_clusters(capsys):
    run = runstore.init(project="p")
    capsys.readouterr()
    from sklearn.cluster import DBSCAN

    sk.plot_elbow_curve(DBSCAN().fit(BLOBS), BLOBS)
    assert "n_clusters attribute not in classifier" in capsys.readouterr().err
    assert history(run) == []


def test_pandas_and_sparse_inputs():
    pd = pytest.importorskip("pandas")
    from scipy import sparse

    frame = pd.DataFrame(Xi_te, columns=[f"c{i}" for i in range(4)])
    series = pd.Series(yi_te, index=np.arange(100, 100 + len(yi_te)))  # an index that is not 0..n-1
    train_frame = pd.DataFrame(Xi_tr, columns=frame.columns)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(train_frame, yi_tr)
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(sparse.csr_matrix(Xi_tr), yi_tr)
    run = runstore.init(project="p")
    sk.plot_summary_metrics(tree, train_frame, yi_tr, frame, series)
    sk.plot_summary_metrics(model, sparse.csr_matrix(Xi_tr), yi_tr, sparse.csr_matrix(Xi_te), yi_te)
    sk.plot_class_proportions(pd.Series(yi_tr), series, pd.Index(NAMES))
    r, _wb = finished(run)
    accuracy = round(metrics.accuracy_score(yi_te, tree.predict(frame)), 2)
    assert r.table("summary_metrics", step=0).data[0] == [
        "accuracy_score",
        accuracy,
        "DecisionTreeClassifier",
    ]
    sparse_pred = model.predict(sparse.csr_matrix(Xi_te))
    assert r.table("summary_metrics", step=1).data[0][1] == round(
        metrics.accuracy_score(yi_te, sparse_pred), 2
    )
    assert [row[0] for row in r.table("class_proportions").data] == [n for n in NAMES for _ in range(2)]


def test_long_inputs_are_cut_where_wandb_cuts_them(capsys):
    X, y = datasets.make_regression(n_samples=1200, n_features=2, noise=1.0, random_state=0)
    model = LinearRegression().fit(X, y)
    rng = np.random.default_rng(0)
    truth, pred = rng.integers(0, 32, size=400), rng.integers(0, 32, size=400)  # 32 x 32 = 1024 cells
    run = runstore.init(project="p")
    capsys.readouterr()
    sk.plot_outlier_candidates(model, X, y)
    sk.plot_residuals(model, X[:200], y[:200])
    sk.plot_confusion_matrix(truth, pred)
    warned = warnings_in(capsys.readouterr().err)
    r, _wb = finished(run)
    assert r.table("outlier_candidates").get_column("instance_indicies") == list(range(1001))
    assert [row[0] for row in r.table("residuals").data] == ["train"] * 101 + ["test"] * 40
    cm = metrics.confusion_matrix(truth, pred, labels=range(32))
    cells = [[j, i, int(cm[i, j])] for i in range(32) for j in range(32)]
    assert r.table("confusion_matrix").data == cells[:1001]
    assert [w.split("WARNING ")[1] for w in warned] == [
        "using only the first 1000 datapoints to create chart outlier_candidates",
        "using only the first 100 datapoints to create chart residuals",
        "using only the first 1000 datapoints to create chart confusion_matrix",
    ]
