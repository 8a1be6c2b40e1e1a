"""The helpers of `wandb.util` that training code and integrations call (`generate_id`, `get_module`,
`json_friendly`, …), with wandb's signatures. Not a general utility module of runstore's."""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from .base.convert import Unconvertible, value
from .base.names import new_id


def generate_id(length: int = 8) -> str:
    """A random run-id-like string of lowercase letters and digits."""
    return new_id(length)


def get_module(name: str, required: str | bool | None = None, lazy: bool = True) -> Any:
    """The module `name` if importable, else None; with `required`, an ImportError carrying that
    message (or a default one) instead. `lazy` is accepted for wandb's signature: imports are eager."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if required:
            msg = required if isinstance(required, str) else f"{name} is required: pip install {name}"
            raise ImportError(msg) from None
        return None


def json_friendly(obj: Any) -> tuple[Any, bool]:
    """(a JSON-friendly form of obj, whether it was converted): numpy/torch values, datetimes, sets, …"""
    try:
        out = value(obj)
    except Unconvertible:
        return obj, False
    return out, out is not obj


def make_artifact_name_safe(name: str) -> str:
    """Characters an artifact name may not hold become `_`, at most 128 characters."""
    cleaned = re.sub(r"[^a-zA-Z0-9_\-.]", "_", name)
    return cleaned[:128] if len(cleaned) > 128 else cleaned


def to_forward_slash_path(path: str) -> str:
    return path.replace(os.sep, "/") if os.sep != "/" else path


def is_numpy_array(obj: Any) -> bool:
    return type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray"


def is_pandas_data_frame(obj: Any) -> bool:
    return (type(obj).__module__ or "").startswith("pandas") and type(obj).__name__ == "DataFrame"


def is_matplotlib_typename(typename: str) -> bool:
    return typename.startswith("matplotlib.")


def get_full_typename(o: Any) -> str:
    """`module.Class` of an object, as wandb's type checks spell it."""
    instance_name = o.__class__.__module__ + "." + o.__class__.__name__
    return o.__name__ if instance_name in ("builtins.module", "__builtin__.module") else instance_name


__all__ = [
    "generate_id",
    "get_module",
    "json_friendly",
    "make_artifact_name_safe",
    "to_forward_slash_path",
    "is_numpy_array",
    "is_pandas_data_frame",
    "is_matplotlib_typename",
    "get_full_typename",
]
