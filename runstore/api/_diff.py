"""What differs between two runs: the library behind `runstore diff` (and its `--json`)."""

from __future__ import annotations

from typing import Any

import orjson

from ..store.history import flatten
from ..store.query import iso
from ._runs import Run

_ABSENT = object()
META_KEYS = (
    "state",
    "exit_code",
    "created",
    "runtime",
    "host",
    "program",
    "args",
    "python",
    "cwd",
    "git.commit",
    "git.branch",
    "git.dirty",
    "group",
    "job_type",
    "tags",
    "notes",
)


def _meta(run: Run) -> dict[str, Any]:
    st = run._st
    info = st.info
    m: dict[str, Any] = {
        "state": st.state,
        "exit_code": st.exit_code,
        "created": iso(st.created),
        "runtime": round(st.runtime, 3),
        "host": info.get("host"),
        "program": info.get("program"),
        "args": info.get("args"),
        "python": info.get("python"),
        "cwd": info.get("cwd"),
        "group": info.get("group"),
        "job_type": info.get("job_type"),
        "tags": info.get("tags"),
        "notes": info.get("notes"),
    }
    m.update({k: v for k, v in flatten(st.metadata).items() if k in META_KEYS})
    return m


def _canon(v: Any) -> bytes:
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def compare(a: Run, b: Run, show_all: bool = False) -> dict[str, dict[str, list[Any]]]:
    """{section: {key: [value_a, value_b]}} for `config`, `summary` and `metadata` (differing keys only,
    unless `show_all`). A key absent on one side has None there and is always a difference. Creation
    time and runtime always differ, so they are left out unless `show_all`."""
    return compare_many([a, b], show_all)


def compare_many(runs: list[Run], show_all: bool = False) -> dict[str, dict[str, list[Any]]]:
    """`compare` of any number of runs: each row has one value per run, in their order; a key is a
    difference unless every run has it with the same value."""
    sections = {
        "config": [flatten(r.to_dict()["config"]) for r in runs],
        "summary": [{k: v for k, v in flatten(r._st.summary).items() if not k.startswith("_")} for r in runs],
        "metadata": [_meta(r) for r in runs],
    }
    out: dict[str, dict[str, list[Any]]] = {}
    for name, maps in sections.items():
        keys = list(dict.fromkeys(k for m in maps for k in m))
        if name != "metadata":
            keys.sort()
        rows: dict[str, list[Any]] = {}
        for k in keys:
            vals = [m.get(k, _ABSENT) for m in maps]
            same = all(v is not _ABSENT for v in vals) and len({_canon(v) for v in vals}) == 1
            if name == "metadata" and k in ("created", "runtime"):
                same = same or not show_all  # always different; noise unless asked for
            if show_all or not same:
                rows[k] = [None if v is _ABSENT else v for v in vals]
        out[name] = rows
    return out


__all__ = ["compare", "compare_many", "META_KEYS"]
