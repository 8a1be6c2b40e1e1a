"""Helpers for the media tests: log values in a real run, read the row back, check references against
the reference fixtures (tests/fixtures/media/references.json: wandb's formats, docs/COMPAT.md §7)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import runstore

REFS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "media" / "references.json").read_text()
)
_TYPES = {"str": str, "int": int, "list": list, "dict": dict}


def log_and_read(values: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Log `values` as one row of a fresh run; returns (run, history row, summary) as read from disk."""
    run = runstore.init(project="p")
    run.log(values)
    run.finish()
    api_run = runstore.Api().run(f"p/{run.id}")
    rows = api_run.history(pandas=False)
    assert len(rows) == 1, rows
    return run, rows[0], api_run.summary_metrics


def check_ref(ref: dict[str, Any], run: Any) -> bytes:
    """`ref` has exactly the fields docs/COMPAT.md §7 lists for its `_type`; its file (if any) exists under
    run.dir with the recorded sha256 and size. Returns the file's bytes."""
    spec = REFS[ref["_type"]]
    allowed = {"_type", *spec["required"], *spec["optional"]}
    assert set(spec["required"]) <= ref.keys(), (ref["_type"], set(spec["required"]) - ref.keys())
    assert ref.keys() <= allowed, (ref["_type"], ref.keys() - allowed)
    for k, v in ref.items():
        if k != "_type":
            t = {**spec["required"], **spec["optional"]}[k]
            assert isinstance(v, _TYPES[t]) and not isinstance(v, bool), (k, v)
    if "path" not in spec["required"]:
        return b""
    assert ref["path"].startswith(f"media/{spec['file_kind']}/"), ref["path"]
    if "ext" in spec:
        assert ref["path"].endswith(spec["ext"]), ref["path"]
    if "format" in ref:
        assert ref["path"].endswith("." + ref["format"]), ref["path"]
    data = (Path(run.dir) / ref["path"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == ref["sha256"]
    assert len(data) == ref["size"]
    assert ref["sha256"][:20] in Path(ref["path"]).name  # content hash in the name: stored once
    return data
