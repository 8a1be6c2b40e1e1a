"""wandb.Classes: the id → name set of a segmentation or detection task, `{"id": int, "name": str}`
entries. `Image(classes=...)` accepts one (or the plain list); in a run it only travels with the image."""

from __future__ import annotations

from typing import Any


class Classes:
    _log_type = "classes"
    _class_set: list[dict[str, Any]]

    def __init__(self, class_set: Any) -> None:
        if isinstance(class_set, Classes):
            class_set = class_set._class_set
        if not isinstance(class_set, (list, tuple)):
            raise TypeError('Classes takes a list of {"id": int, "name": str} dicts')
        out = []
        for c in class_set:
            if not isinstance(c, dict) or "id" not in c or "name" not in c:
                raise ValueError(f'each class must be a dict {{"id": int, "name": str}}, got {c!r}')
            if isinstance(c["id"], bool) or not isinstance(c["id"], int):
                raise TypeError(f"class ids must be ints, got {c['id']!r}")
            out.append({"id": c["id"], "name": str(c["name"])})
        self._class_set = out

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        return {"_type": self._log_type, "class_set": list(self._class_set)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Classes) and other._class_set == self._class_set

    def __repr__(self) -> str:
        return f"Classes({self._class_set!r})"
