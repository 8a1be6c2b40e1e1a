"""`wandb.sklearn`: scikit-learn charts logged to the current run, as wandb logs them.

Each `plot_*` logs one table under wandb's key (e.g. `confusion_matrix`, `roc`) with wandb's chart
preset. scikit-learn and numpy are imported when a chart is made, never by `import runstore`.
"""

from __future__ import annotations

from .classifier import (
    plot_calibration_curve,
    plot_class_proportions,
    plot_classifier,
    plot_confusion_matrix,
    plot_feature_importances,
    plot_precision_recall,
    plot_roc,
)
from .clusterer import plot_clusterer, plot_elbow_curve, plot_silhouette
from .regressor import plot_outlier_candidates, plot_regressor, plot_residuals
from .shared import plot_learning_curve, plot_summary_metrics

__all__ = [
    "plot_classifier",
    "plot_clusterer",
    "plot_regressor",
    "plot_summary_metrics",
    "plot_learning_curve",
    "plot_feature_importances",
    "plot_class_proportions",
    "plot_calibration_curve",
    "plot_roc",
    "plot_precision_recall",
    "plot_confusion_matrix",
    "plot_elbow_curve",
    "plot_silhouette",
    "plot_residuals",
    "plot_outlier_candidates",
]
