"""Logged media references back into data types: what `Artifact.get(name)` returns.

A reference is the `{"_type": "image-file", "path": "media/…", …}` dict a data type's `bind` wrote;
`root` is the directory its `path` is relative to (a run's files/ or a downloaded artifact). Types this
module does not know come back as the dict they are.
"""

from __future__ import annotations

import json
import os
from typing import Any

_FILE_TYPES = {
    "image-file": "Image",
    "audio-file": "Audio",
    "video-file": "Video",
    "html-file": "Html",
    "object3D-file": "Object3D",
    "molecule-file": "Molecule",
    "plotly-file": "Plotly",
}


def _file(root: str, ref: dict[str, Any]) -> str:
    path = str(ref.get("path") or "")
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"a media reference with a path outside its root: {path!r}")
    return os.path.join(root, *parts)


def from_ref(ref: Any, root: str | os.PathLike[str]) -> Any:
    """The data type a reference describes (Table cells included), or `ref` itself when unknown."""
    from . import __getattr__ as media

    if not isinstance(ref, dict):
        return ref
    kind = ref.get("_type")
    base = os.fspath(root)
    if kind in ("table-file", "incremental-table-file"):
        table = media("Table").from_json(ref, root=base)
        table.data = [[from_ref(cell, base) for cell in row] for row in table.data]
        return table
    if kind == "histogram" and isinstance(ref.get("values"), list) and isinstance(ref.get("bins"), list):
        return media("Histogram")(np_histogram=(ref["values"], ref["bins"]))
    name = _FILE_TYPES.get(str(kind))
    if name is None:
        return ref
    path = _file(base, ref)
    caption = ref.get("caption")
    cls = media(name)
    if name == "Image":
        return cls(path, caption=caption, grouping=ref.get("grouping"))
    if name == "Audio":
        return cls(path, sample_rate=ref.get("sample_rate"), caption=caption)
    if name == "Video":
        return cls(path, caption=caption, format=os.path.splitext(path)[1][1:] or None)
    if name == "Html":
        return cls(path, inject=False)  # the file is the HTML as logged
    if name == "Plotly":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))
    return cls(path, caption=caption)


__all__ = ["from_ref"]
