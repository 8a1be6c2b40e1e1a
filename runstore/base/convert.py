"""Turning user values into what JSON can hold (docs/COMPAT.md §3.1 for config, §4.5 for log)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import math
from collections.abc import Mapping
from typing import Any

from . import term


class Unconvertible(Exception):
    pass


def is_torch(v: Any) -> bool:
    """A value of torch's, told by its type's module: torch itself is never imported by runstore."""
    return (type(v).__module__ or "").startswith("torch")


def is_torch_tensor(v: Any) -> bool:
    """A torch tensor (or Parameter); torch.Size has numel() too, but it is a tuple, not data."""
    return is_torch(v) and callable(getattr(v, "numel", None)) and hasattr(v, "detach")


def to_host(v: Any) -> Any:
    """A torch/TF/JAX tensor as a numpy array in host memory (detached, on the CPU); others unchanged."""
    for attr in ("detach", "cpu"):
        f = getattr(v, attr, None)
        if callable(f):
            v = f()
    if hasattr(v, "numpy") and callable(v.numpy):
        try:
            v = v.numpy()
        except TypeError:
            # numpy has no bfloat16 (nor float8, complex32): torch refuses those. Widen to float32
            # (complex64), which holds every value exactly, as wandb's users do by hand.
            if not is_torch(v):
                raise
            v = (v.cfloat() if v.is_complex() else v.float()).numpy()
    return v


def _tensor_like(v: Any) -> Any:
    """numpy/torch/jax/tf values: a 1-element value becomes its scalar, others a (nested) list."""
    size = getattr(v, "size", None)
    if callable(size):  # torch: .size() is a method, .numel() the count
        size = v.numel() if hasattr(v, "numel") else None
    if size == 1 and hasattr(v, "item"):
        return v.item()
    v = to_host(v)
    if hasattr(v, "tolist"):
        return v.tolist()
    raise Unconvertible


def value(v: Any, *, for_config: bool = False) -> Any:
    """A JSON-friendly copy of `v`; raises Unconvertible for values with no faithful form."""
    c = v.__class__
    if c in (int, str, bool) or v is None:
        return v
    if c is float:
        if for_config and v != v:
            return None  # wandb stores a NaN config value as null
        return v
    if isinstance(v, Mapping):
        return {str(k): value(x, for_config=for_config) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [value(x, for_config=for_config) for x in v]
    if isinstance(v, bool):
        return bool(v)
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        f = float(v)
        return None if for_config and math.isnan(f) else f
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (set, frozenset)):
        return [value(x, for_config=for_config) for x in sorted(v, key=repr)]
    if isinstance(v, enum.Enum):
        return v.name
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, _dt.timedelta):
        return v.total_seconds()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, slice):
        return {"slice_start": v.start, "slice_step": v.step, "slice_stop": v.stop}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return value(dataclasses.asdict(v), for_config=for_config)
    if hasattr(v, "item") or hasattr(v, "tolist"):
        try:
            return value(_tensor_like(v), for_config=for_config)
        except Unconvertible:
            pass
        except Exception as e:  # a tensor on a device we cannot read, etc.
            raise Unconvertible from e
    if for_config and callable(v):
        return f"{getattr(v, '__module__', '')}.{getattr(v, '__qualname__', repr(v))}"
    raise Unconvertible


# A logged string longer than this is cut (with a warning): a history row is read whole by every reader.
MAX_LOGGED_STR = 1 << 20
# A metric name longer than this is a mistake (data passed as a key): log() raises ValueError.
MAX_KEY = 1024


def as_text(v: Any) -> str:
    """str(v), falling back to repr() and then to the type's name: an object whose __str__ raises
    must not stop training."""
    for f in (str, repr):
        try:
            return f(v)
        except Exception:
            continue
    return f"<unprintable {type(v).__name__}>"


def log_value(key: str, v: Any) -> Any:
    try:
        out = value(v)
    except (Unconvertible, RecursionError):  # RecursionError: a dict or list that contains itself
        term.warn(
            f"logged value for {key!r} of type {type(v).__name__} is not serializable; stored as str()",
            once_key=f"log-unserializable:{key}:{type(v).__name__}",
        )
        out = as_text(v)
    if isinstance(out, str) and len(out) > MAX_LOGGED_STR:
        term.warn(
            f"logged value for {key!r} is a string of {len(out):,} characters; stored cut to "
            f"{MAX_LOGGED_STR:,} (save large text as a file: run.save() or runstore.Html)",
            once_key=f"log-long-str:{key}",
        )
        out = out[:MAX_LOGGED_STR]
    return out


def check_key(key: str) -> None:
    if len(key) > MAX_KEY:
        raise ValueError(
            f"run.log() key {key[:40]!r}… is {len(key):,} characters; a metric name has at most "
            f"{MAX_KEY} (put data in the value, not the key)"
        )
