"""Format versions: a store written by format 1 (tests/fixtures/store-v1, made by the code before format
versions existed) reads exactly as it did then and can be written to; newer major versions are refused
with one line; the store and every run record the version they were written with."""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import run_cli

import runstore
from runstore.errors import FormatError, StoreError
from runstore.store import format as fmt
from runstore.store.history import iter_rows
from runstore.store.store import Store

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "store-v1"
EXPECTED = json.loads((FIXTURE / "expected.json").read_text())


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


@pytest.fixture
def legacy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the format-1 store (readers write caches; the fixture stays as committed), with its
    files as old as a store left alone for a day (a crashed run on another host reads crashed, not live)."""
    root = tmp_path / "legacy"
    shutil.copytree(FIXTURE / "store", root)
    old = time.time() - 86400
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            os.utime(os.path.join(dirpath, f), (old, old))
    monkeypatch.setenv("RUNSTORE_DIR", str(root))
    return root


def test_a_format_1_store_reads_as_it_did_when_it_was_written(legacy: Path) -> None:
    api = runstore.Api()
    assert Store(legacy).format_version() == (1, 0)
    got = {}
    for r in api.runs("legacy"):
        got[r.id] = _clean(
            {
                "name": r.name,
                "state": r.state,
                "exit_code": r.exit_code,
                "tags": r.tags,
                "config": r.config,
                "summary": r.summary_metrics,
                "history": [dict(x) for x in r.scan_history()],
                "lastHistoryStep": r.lastHistoryStep,
                "files": sorted(f.name for f in r.files()),
                "git": r.metadata.get("git", {}).get("dirty"),
            }
        )
    assert json.loads(json.dumps(got)) == EXPECTED["runs"]
    sw = api.sweep(EXPECTED["sweep"]["id"])
    assert sw.state == EXPECTED["sweep"]["state"]
    assert sorted(r.id for r in sw.runs) == EXPECTED["sweep"]["runs"]
    assert sw.best_run().summary["score"] == EXPECTED["sweep"]["best"]
    # the format-1 rewind: history.jsonl holds the kept rows, the side file the old ones
    rewound = api.run("legacy/rewound1")
    assert [row["x"] for row in rewound.scan_history()] == [0, 1, 2, 3, 4, 100, 101, 102]
    assert rewound.history(pandas=True)["x"].tolist() == [0, 1, 2, 3, 4, 100, 101, 102]


def test_runstore_ls_and_diff_read_a_format_1_store(legacy: Path, capsys) -> None:
    code, out, _ = run_cli(capsys, "ls", "--json", "--limit", "0")
    assert code == 0 and sorted(r["id"] for r in json.loads(out)) == sorted(EXPECTED["runs"])
    code, out, _ = run_cli(capsys, "diff", "fin00001", "forked01", "--json")
    assert code == 0 and json.loads(out)["a"]["name"] == "renamed"


def test_a_format_1_run_resumes_and_rewinds_with_format_2_writers(legacy: Path) -> None:
    run = runstore.init(project="legacy", id="rewound1", resume="allow")
    assert run.step == 8
    run.log({"x": 200})
    run.finish()
    assert Store(legacy).format_version() == (fmt.MAJOR, fmt.MINOR)  # the writer raised the store's version
    runs = legacy / "projects" / "legacy" / "runs" / "rewound1"
    assert [r["x"] for r in iter_rows(runs / "history.jsonl")] == [0, 1, 2, 3, 4, 100, 101, 102, 200]
    run = runstore.init(project="legacy", resume_from="rewound1?_step=5")
    run.log({"x": 300})
    run.finish()
    assert [r["x"] for r in runstore.Api().run("legacy/rewound1").scan_history()] == [0, 1, 2, 3, 4, 100, 300]
    assert [r["x"] for r in iter_rows(runs / "history.jsonl")][-1] == 200  # generation 0 untouched
    # the format-1 side file is still there, as it was
    (side,) = runs.glob("history.rewound-*.jsonl")
    assert [r["x"] for r in iter_rows(side)] == list(range(10))


def test_new_stores_and_runs_record_the_format_version(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    run.finish()
    store = Store(tmp_path / ".wandb")
    assert orjson.loads((store.root / "format.json").read_bytes())["format"] == fmt.VERSION
    assert store.format_version() == (fmt.MAJOR, fmt.MINOR)
    first = orjson.loads(run._ref.run_log.read_bytes().splitlines()[0])
    assert first["t"] == "init" and first["format"] == fmt.VERSION


def _newer_store(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "format.json").write_text(json.dumps({"format": f"{fmt.MAJOR + 1}.0"}))


def test_a_store_of_a_newer_major_version_is_refused_with_one_line(tmp_path: Path, capsys) -> None:
    root = tmp_path / ".wandb"
    _newer_store(root)
    newer = f"{fmt.MAJOR + 1}.0"
    with pytest.raises(
        FormatError, match=f"format {newer}; this runstore reads format {fmt.MAJOR} and older"
    ):
        runstore.Api()
    with pytest.raises(StoreError, match=f"format {newer}"):
        runstore.init(project="p")
    assert not (root / "projects").exists()  # nothing was written into it
    code, out, err = run_cli(capsys, "ls")
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1 and newer in err
    assert "Traceback" not in err


def test_a_newer_minor_version_is_read(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    run.finish()
    (tmp_path / ".wandb" / "format.json").write_text(json.dumps({"format": f"{fmt.MAJOR}.{fmt.MINOR + 5}"}))
    assert runstore.Api().run(f"p/{run.id}").state == "finished"
    run = runstore.init(project="p")  # a writer never lowers the version
    run.finish()
    assert Store(tmp_path / ".wandb").format_version() == (fmt.MAJOR, fmt.MINOR + 5)


def test_a_run_of_a_newer_major_version_is_left_out_of_listings(tmp_path: Path, capsys) -> None:
    ok = runstore.init(project="p")
    ok.finish()
    new = runstore.init(project="p")
    new.finish()
    lines = new._ref.run_log.read_bytes().splitlines()
    first = orjson.loads(lines[0])
    first["format"] = f"{fmt.MAJOR + 1}.0"
    new._ref.run_log.write_bytes(b"\n".join([orjson.dumps(first), *lines[1:]]) + b"\n")
    assert [r.id for r in runstore.Api().runs("p")] == [ok.id]
    assert "format 3.0" in capsys.readouterr().err
    with pytest.raises(FormatError):
        runstore.Api().run(f"p/{new.id}")


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'{"format": 2}', b'{"format": "two"}', b""])
def test_a_broken_format_file_is_one_clear_line(tmp_path: Path, capsys, content: bytes) -> None:
    runstore.init(project="p").finish()
    (tmp_path / ".wandb" / "format.json").write_bytes(content)
    code, out, err = run_cli(capsys, "ls")
    assert code == 1 and "format.json" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(StoreError, match="format.json"):
        runstore.Api()
