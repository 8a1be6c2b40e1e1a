"""wandb's data types. Each lives in its own module, loaded only when first used."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .base import BindContext, Media

_WHERE = {
    "Image": "image",
    "Histogram": "histogram",
    "Html": "html",
    "Audio": "audio",
    "Video": "video",
    "Object3D": "object3d",
    "box3d": "object3d",
    "Molecule": "molecule",
    "Plotly": "plotly",
    "Table": "table",
    "Graph": "graph",
    "Node": "graph",
    "Edge": "graph",
    "Classes": "classes",
}


def __getattr__(name: str) -> Any:
    mod = _WHERE.get(name)
    if mod is None:
        raise AttributeError(f"module 'runstore.media' has no attribute {name!r}")
    value = getattr(import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


__all__ = ["Media", "BindContext", *_WHERE]
