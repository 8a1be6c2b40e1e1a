"""Clusterer charts: wandb.sklearn's plot_clusterer, the elbow curve and the silhouette plot."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ...base import term
from ...media.table import Table
from ...plot import visualize
from ...plot.custom_chart import Visualize
from . import _util as u


def plot_clusterer(
    model: Any,
    X_train: Any,
    cluster_labels: Any,
    labels: Any = None,
    model_name: str = "Clusterer",
) -> None:
    """The elbow curve (KMeans only) and the silhouette plot. `cluster_labels` is each sample's
    cluster (e.g. `model.fit_predict(X_train)`)."""
    from sklearn.cluster import KMeans

    fn = "plot_clusterer"
    u.need_sklearn(fn)
    run = u.active_run(fn)
    u.estimator(fn, "model", model, "clusterer")
    u.require(fn, X_train=X_train)
    term.termlog(f"Plotting {model_name}.")
    kmeans = isinstance(model, KMeans)
    if kmeans and elbow_curve_chart(run, model, X_train, None, 1, fn):
        term.termlog("Logged elbow curve.")
    if silhouette_chart(run, model, X_train, cluster_labels, "euclidean", kmeans, fn):
        term.termlog("Logged silhouette plot.")


def plot_elbow_curve(
    clusterer: Any = None,
    X: Any = None,
    cluster_ranges: Sequence[int] | None = None,
    n_jobs: int | None = 1,
    show_cluster_time: bool = True,
) -> None:
    """The clusterer's error (|score|, KMeans' inertia) and fit time for each number of clusters in
    `cluster_ranges` (default 1, 3, 5, 7, 9), logged as `elbow_curve`. Fits clones; the clusterer is
    not changed. `show_cluster_time` is accepted and unused (the time is always logged), as in wandb."""
    fn = "plot_elbow_curve"
    u.need_sklearn(fn)
    elbow_curve_chart(u.active_run(fn), clusterer, X, cluster_ranges, n_jobs, fn)


def elbow_curve_chart(
    run: Any,
    clusterer: Any,
    X: Any,
    cluster_ranges: Any,
    n_jobs: int | None,
    fn: str,
) -> bool:
    u.require(fn, clusterer=clusterer, X=X)
    if not hasattr(clusterer, "n_clusters"):
        term.warn("n_clusters attribute not in classifier. Cannot plot elbow method.")
        return False
    u.estimator(fn, "clusterer", clusterer, "clusterer")
    if not hasattr(clusterer, "score"):
        raise TypeError(
            f"{fn}(clusterer=...) needs a clusterer with a score() method, such as KMeans; "
            f"{type(clusterer).__name__} has none"
        )
    if not u.features_ok(fn, "X", X):
        return False
    if cluster_ranges is None:
        ks = list(range(1, 10, 2))
    else:
        ks = sorted(u.scalar(k) for k in cluster_ranges)
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
            raise ValueError(f"{fn}(cluster_ranges=...) must be positive ints, got {list(cluster_ranges)}")

    def build() -> Visualize:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs)(delayed(_fit_and_score)(clusterer, X, k) for k in ks)
        data = [[k, err, secs] for k, (err, secs) in zip(ks, results, strict=True)]
        return visualize(
            "wandb/elbow/v1", Table(columns=["cluster_ranges", "errors", "clustering_time"], data=data)
        )

    return u.log_chart(run, "elbow_curve", build)


def _fit_and_score(clusterer: Any, X: Any, k: int) -> tuple[float, float]:
    from sklearn.base import clone

    start = time.perf_counter()
    model = clone(clusterer).set_params(n_clusters=k)
    error = abs(float(model.fit(X).score(X)))
    return error, time.perf_counter() - start


def plot_silhouette(
    clusterer: Any = None,
    X: Any = None,
    cluster_labels: Any = None,
    labels: Any = None,
    metric: str = "euclidean",
    kmeans: bool = True,
) -> None:
    """Every sample's silhouette coefficient, grouped by cluster and sorted, next to a scatter of the
    first two features coloured by cluster (with KMeans' centers when `kmeans`), logged as
    `silhouette_plot`. `cluster_labels` defaults to the clusterer's `labels_`; `labels` is accepted and
    unused, as in wandb."""
    fn = "plot_silhouette"
    u.need_sklearn(fn)
    silhouette_chart(u.active_run(fn), clusterer, X, cluster_labels, metric, kmeans, fn)


def silhouette_chart(
    run: Any,
    clusterer: Any,
    X: Any,
    cluster_labels: Any,
    metric: str,
    kmeans: bool,
    fn: str,
) -> bool:
    u.estimator(fn, "clusterer", clusterer, "clusterer")
    u.require(fn, X=X)
    if not u.features_ok(fn, "X", X):
        return False
    xa = u.array(fn, "X", X)
    if xa.ndim != 2 or xa.shape[1] < 2:
        raise ValueError(
            f"{fn}(X=...) needs at least 2 features (the scatter shows the first two), got {xa.shape}"
        )
    if cluster_labels is None:
        cluster_labels = getattr(clusterer, "labels_", None)
        if cluster_labels is None:
            raise ValueError(
                f"{fn}() needs cluster_labels=... (each sample's cluster, e.g. model.fit_predict(X))"
            )
    cl = u.vector(fn, "cluster_labels", cluster_labels)
    u.same_length(fn, X=xa, cluster_labels=cl)
    centers = getattr(clusterer, "cluster_centers_", None) if kmeans else None
    return u.log_chart(run, "silhouette_plot", lambda: _silhouette(xa, cl, centers, metric))


def _silhouette(xa: Any, cl: Any, centers: Any, metric: str) -> Visualize:
    import numpy as np
    from sklearn.metrics import silhouette_samples, silhouette_score
    from sklearn.preprocessing import LabelEncoder

    average = u.scalar(silhouette_score(xa, cl, metric=metric))
    per_sample = silhouette_samples(xa, cl, metric=metric)
    # clusters in sorted label order (wandb assumes the labels are 0..k-1, which KMeans' are)
    codes = LabelEncoder().fit_transform(cl)
    y_sil: list[int] = []
    x_sil: list[float] = []
    color_sil: list[int] = []
    y_lower = 10
    for c in range(int(codes.max()) + 1):
        values = np.sort(per_sample[codes == c])
        for j, v in enumerate(values.tolist()):
            y_sil.append(y_lower + j)
            x_sil.append(v)
            color_sil.append(c)
            if len(x_sil) > u.CHART_LIMIT:
                u.warn_cut(u.CHART_LIMIT, "silhouette")
                break
        y_lower += len(values) + 10  # a gap of 10 between clusters

    def center(label: Any, axis: int) -> Any:
        ok = centers is not None and isinstance(label, int) and 0 <= label < len(centers)
        return float(centers[label, axis]) if ok else None

    # the scatter's columns (x, y, colors, centers) hold the first samples in input order, the
    # silhouette's (y_sil, x2, color_sil) the coefficients in cluster order: two charts, one table
    data = []
    for i in range(len(x_sil)):
        label = u.scalar(cl[i])
        data.append(
            [
                float(xa[i, 0]),
                float(xa[i, 1]),
                label,
                center(label, 0),
                center(label, 1),
                y_sil[i],
                0,
                x_sil[i],
                color_sil[i],
                average,
            ]
        )
    columns = ["x", "y", "colors", "centerx", "centery", "y_sil", "x1", "x2", "color_sil", "silhouette_avg"]
    return visualize("wandb/silhouette_/v1", Table(columns=columns, data=data))
