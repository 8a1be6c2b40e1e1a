"""The summary as a fold over history rows, summary edits and metric definitions.

One implementation serves the SDK (the live `run.summary`) and every reader (runs without a final
snapshot, e.g. crashed ones), so both always agree.
"""

from __future__ import annotations

import copy
import math
from typing import Any

RESERVED = ("_step", "_timestamp", "_runtime")
SUMMARY_OPS = ("min", "max", "mean", "last", "first", "best", "copy", "none")


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_leaf_dict(v: Any) -> bool:
    """A dict that is a value (a media reference), not a level of nesting."""
    return isinstance(v, dict) and "_type" in v


def set_path(d: dict[str, Any], path: list[str] | tuple[str, ...], value: Any) -> None:
    for k in path[:-1]:
        nxt = d.get(k)
        if not isinstance(nxt, dict) or is_leaf_dict(nxt):
            nxt = d[k] = {}
        d = nxt
    d[path[-1]] = value


def del_path(d: dict[str, Any], path: list[str] | tuple[str, ...]) -> None:
    for k in path[:-1]:
        d = d.get(k)  # type: ignore[assignment]
        if not isinstance(d, dict):
            return
    d.pop(path[-1], None)


def deep_merge(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and not is_leaf_dict(v):
            cur = dst.get(k)
            if not isinstance(cur, dict) or is_leaf_dict(cur):
                cur = dst[k] = {}
            deep_merge(cur, v)
        else:
            dst[k] = v


def leaves(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in d.items():
        if isinstance(v, dict) and v and not is_leaf_dict(v):
            out.extend(leaves(v, (*prefix, k)))
        else:
            out.append(((*prefix, k), v))
    return out


def metric_name(path: tuple[str, ...]) -> str:
    """wandb's name for a nested leaf: keys joined with '.', literal dots escaped as '\\.'."""
    return ".".join(p.replace(".", "\\.") for p in path)


class MetricDefs:
    """`define_metric` definitions: exact names and trailing-`*` globs."""

    def __init__(self) -> None:
        self.exact: dict[str, dict[str, Any]] = {}
        self.globs: list[tuple[str, dict[str, Any]]] = []

    def __bool__(self) -> bool:
        return bool(self.exact or self.globs)

    def add(self, d: dict[str, Any]) -> None:
        name = d.get("name")
        if not isinstance(name, str) or not name:
            return  # a malformed definition on disk is ignored
        ops = d.get("summary")
        if ops is not None and not (isinstance(ops, list) and all(isinstance(o, str) for o in ops)):
            d = {**d, "summary": None}
        if name.endswith("*"):
            prefix = name[:-1]
            for i, (p, old) in enumerate(self.globs):
                if p == prefix:
                    self.globs[i] = (p, d if d.get("overwrite") else {**old, **_truthy(d)})
                    return
            self.globs.append((prefix, d))
        else:
            old_def = self.exact.get(name)
            self.exact[name] = d if old_def is None or d.get("overwrite") else {**old_def, **_truthy(d)}

    def lookup(self, name: str) -> dict[str, Any] | None:
        d = self.exact.get(name)
        if d is not None:
            return d
        if name.startswith("_"):
            return None
        for prefix, g in self.globs:
            if name.startswith(prefix):
                return g
        return None

    def to_list(self) -> list[dict[str, Any]]:
        return [*self.exact.values(), *(g for _, g in self.globs)]


def _truthy(d: dict[str, Any]) -> dict[str, Any]:
    # Merging definitions: a flag once set stays set, unset arguments do not erase earlier ones.
    return {k: v for k, v in d.items() if v not in (None, [], "")}


class SummaryState:
    """Summary values plus the running aggregates that `define_metric(summary=...)` needs."""

    def __init__(
        self,
        values: dict[str, Any] | None = None,
        aggs: dict[str, Any] | None = None,
        defs: MetricDefs | None = None,
    ) -> None:
        self.values: dict[str, Any] = values if values is not None else {}
        self.aggs: dict[str, dict[str, Any]] = aggs if aggs is not None else {}
        self.defs = defs if defs is not None else MetricDefs()

    def apply_row(self, row: dict[str, Any]) -> None:
        if not self.defs:
            deep_merge(self.values, row)
            return
        for path, v in leaves(row):
            name = metric_name(path)
            d = self.defs.lookup(name) if not (len(path) == 1 and path[0] in RESERVED) else None
            ops = d.get("summary") if d else None
            if not ops or d is None:
                set_path(self.values, path, v)
            elif "none" in ops:
                del_path(self.values, path)
            else:
                set_path(self.values, path, self._aggregate(name, v, ops, d.get("goal")))

    def _aggregate(self, name: str, v: Any, ops: list[str], goal: str | None) -> dict[str, Any]:
        a = self.aggs.setdefault(name, {})
        a.setdefault("first", v)
        a["last"] = v
        if is_number(v) and not (isinstance(v, float) and math.isnan(v)):
            a["min"] = v if "min" not in a else min(a["min"], v)
            a["max"] = v if "max" not in a else max(a["max"], v)
            a["sum"] = a.get("sum", 0) + v
            a["n"] = a.get("n", 0) + 1
        out: dict[str, Any] = {}
        for op in ops:
            if op in ("min", "max", "first", "last") and op in a:
                out[op] = a[op]
            elif op == "mean" and a.get("n"):
                out["mean"] = a["sum"] / a["n"]
            elif op == "best" and "min" in a:
                out["best"] = a["max"] if goal in ("max", "maximize") else a["min"]
            elif op == "copy":
                out["copy"] = a["last"]
        return out

    def apply_edit(self, ev: dict[str, Any]) -> None:
        for path, value in ev.get("set", ()):
            set_path(self.values, path, value)
        for path in ev.get("del", ()):
            del_path(self.values, path)

    def snapshot(self) -> dict[str, Any]:
        return {"summary": copy.deepcopy(self.values), "aggs": copy.deepcopy(self.aggs)}
