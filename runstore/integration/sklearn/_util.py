"""What every scikit-learn chart shares: the run it logs to, input checks, wandb's row caps."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

from ...base import term
from ...errors import Error
from ...sdk import registry

# wandb keeps at most about this many rows in most of these tables (and warns when it cuts).
CHART_LIMIT = 1000


def need_sklearn(fn: str) -> None:
    try:
        import sklearn  # noqa: F401
    except ImportError as e:
        raise ImportError(f"{fn}() needs scikit-learn and numpy: pip install 'runstore[sklearn]'") from e


def active_run(fn: str) -> Any:
    """The run charts go to. Checked before any model is fitted, so a missing init() costs nothing."""
    run = registry.current()
    if run is None or getattr(run, "_finished", False):
        raise Error(f"You must call runstore.init() before runstore.sklearn.{fn}()")
    return run


def log_chart(run: Any, key: str, build: Callable[[], Any]) -> bool:
    """`run.log({key: build()})`, one history step per chart as in wandb. A disabled run records
    nothing, so the (possibly slow: refits, cross-validation) chart is not even computed."""
    if getattr(run, "disabled", False):
        return False
    chart = build()
    if chart is None:
        return False
    run.log({key: chart})
    return True


def warn_cut(limit: int, chart: str) -> None:
    term.warn(f"using only the first {limit} datapoints to create chart {chart}")


def require(fn: str, **values: Any) -> None:
    for name, v in values.items():
        if v is None:
            raise ValueError(f"{fn}() needs {name}=...; got None")


def array(fn: str, name: str, v: Any) -> Any:
    """`v` as a numpy array; anything that is not array-like is a TypeError naming the argument."""
    import numpy as np

    if isinstance(v, (str, bytes, dict)) or not (hasattr(v, "__len__") or hasattr(v, "shape")):
        raise TypeError(
            f"{fn}({name}=...) must be array-like (a list, numpy array, pandas Series/DataFrame), "
            f"got {type(v).__name__}"
        )
    if hasattr(v, "toarray"):  # scipy.sparse
        v = v.toarray()
    elif hasattr(v, "to_numpy"):  # pandas
        v = v.to_numpy()
    return np.asarray(v)


def vector(fn: str, name: str, v: Any) -> Any:
    """Labels or targets: 1-D, or a single column (what scikit-learn's column_or_1d accepts)."""
    a = array(fn, name, v)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a.ravel()
    if a.ndim != 1:
        raise ValueError(f"{fn}({name}=...) must be 1-D (one label per sample), got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{fn}({name}=...) is empty")
    return a


def n_samples(v: Any) -> int:
    shape = getattr(v, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) > 0 else len(v)


def same_length(fn: str, **arrays: Any) -> None:
    lengths = {name: n_samples(v) for name, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        said = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"{fn}(): inconsistent numbers of samples: {said}; pass one row per sample")


def features_ok(fn: str, name: str, X: Any) -> bool:
    """Raises for values that are not numbers; False (with wandb's warning) when values are missing,
    in which case wandb logs nothing for the chart, and neither do we."""
    import numpy as np

    if hasattr(X, "tocsr") and hasattr(X, "data"):
        # scipy.sparse: only the stored values can be missing, and densifying could exhaust memory
        stored = np.asarray(X.data)
        return _no_missing(
            fn, name, int(np.count_nonzero(np.isnan(stored))) if stored.dtype.kind == "f" else 0
        )
    a = array(fn, name, X)
    if a.ndim not in (1, 2) or a.size == 0:
        raise ValueError(
            f"{fn}({name}=...) must be a non-empty 2-D array (samples x features), got {a.shape}"
        )
    if a.dtype.kind in "biuf":
        return _no_missing(fn, name, int(np.count_nonzero(np.isnan(a))) if a.dtype.kind == "f" else 0)
    cells = a.ravel().tolist()
    if any(c is not None and not isinstance(c, numbers.Number) for c in cells):
        raise ValueError(
            f"{fn}(): {name} contains values that are not numbers. Please vectorize, label encode or "
            f"one hot encode {name} and call the plotting function again."
        )
    return _no_missing(fn, name, sum(1 for c in cells if c is None or (isinstance(c, float) and c != c)))


def _no_missing(fn: str, name: str, missing: int) -> bool:
    if missing:
        term.warn(
            f"{fn}(): {name} contains {missing} missing values; nothing was logged (impute or drop them)"
        )
        return False
    return True


def names(fn: str, arg: str, v: Any) -> list[Any]:
    """Class or feature names as plain Python values (numpy strings and ints become str and int)."""
    return [scalar(x) for x in array(fn, arg, v).reshape(-1).tolist()]


_KINDS: dict[str, tuple[str, ...]] = {
    "classifier": ("classifier",),
    "regressor": ("regressor",),
    "clusterer": ("clusterer",),
    "classifier or regressor": ("classifier", "regressor"),
}


def estimator(fn: str, name: str, model: Any, kind: str, fitted: bool = True) -> None:
    """`model` must be a scikit-learn estimator of `kind` (TypeError), fitted unless `fitted=False`
    (scikit-learn's NotFittedError, a ValueError)."""
    from sklearn import base
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    if model is None:
        raise ValueError(f"{fn}() needs {name}=<a scikit-learn {kind}>; got None")
    checks = {"classifier": base.is_classifier, "regressor": base.is_regressor, "clusterer": _is_clusterer}
    if not any(_safely(checks[k], model) for k in _KINDS[kind]):
        raise TypeError(f"{fn}({name}=...) must be a scikit-learn {kind}, got {type(model).__name__}")
    if not fitted:
        return
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise NotFittedError(
            f"{fn}(): this {type(model).__name__} is not fitted yet; call {name}.fit(X, y) before plotting it"
        ) from None


def _safely(test: Callable[[Any], bool], model: Any) -> bool:
    try:
        return bool(test(model))
    except (AttributeError, TypeError):  # scikit-learn >= 1.6 raises for objects that are no estimators
        return False


def _is_clusterer(model: Any) -> bool:
    from sklearn import base

    # wandb compares `_estimator_type`, which scikit-learn >= 1.6 no longer sets: use its own test
    test = getattr(base, "is_clusterer", None)
    if test is not None:
        return bool(test(model))
    return getattr(model, "_estimator_type", None) == "clusterer"


def scalar(v: Any) -> Any:
    """numpy scalars as the Python values a table cell should hold."""
    return v.item() if hasattr(v, "item") and getattr(v, "ndim", 1) == 0 else v
