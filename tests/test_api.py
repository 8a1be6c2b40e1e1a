"""The read Api: runs() filters and order, run() paths, history/scan_history, files, update()."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import runstore
from runstore.errors import Error, RunNotFound, UsageError


def _make(
    project: str = "p",
    name: str | None = None,
    config: dict | None = None,
    tags=None,
    logs: int = 3,
    acc: float = 0.5,
    **kw,
) -> str:
    run = runstore.init(
        project=project, name=name, config=config or {}, tags=tags, reinit="finish_previous", **kw
    )
    for i in range(logs):
        runstore.log({"acc": acc * (i + 1) / logs, "loss": 1.0 / (i + 1)})
    rid = run.id
    run.finish(quiet=True)
    return rid


def test_issue_example_end_to_end() -> None:
    run = runstore.init(
        project="detect-pedestrians", notes="tweak baseline", tags=["baseline"], config={"lr": 0.01}
    )
    for epoch in range(10):
        runstore.log({"acc": epoch / 10, "loss": 1 / (epoch + 1)})
    runstore.run.summary["best_acc"] = 0.9
    runstore.finish()
    r = runstore.Api().run(f"detect-pedestrians/{run.id}")
    assert r.config == {"lr": 0.01}
    assert r.summary["best_acc"] == 0.9
    assert r.summary["acc"] == 0.9 and r.summary["_step"] == 9
    assert r.state == "finished"
    df = r.history(pandas=True)
    assert list(df["_step"]) == list(range(10))
    assert df["loss"].iloc[3] == pytest.approx(0.25)
    assert "_runtime" in df.columns and (df["_runtime"] >= 0).all()
    rows = list(r.scan_history())
    assert [row["acc"] for row in rows] == [e / 10 for e in range(10)]
    assert r.tags == ["baseline"] and r.notes == "tweak baseline" and r.name == run.name


def test_run_path_forms_and_errors() -> None:
    rid = _make("proj")
    api = runstore.Api()
    for path in (f"proj/{rid}", f"someone/proj/{rid}", f"someone/proj/runs/{rid}", rid):
        assert api.run(path).id == rid
    with pytest.raises(RunNotFound):
        api.run("proj/zzzzzzzz")
    with pytest.raises(RunNotFound):
        api.run(f"otherproj/{rid}")
    with pytest.raises(UsageError):
        api.run("a/b/c/d/e")
    with pytest.raises(TypeError):
        api.run(123)  # type: ignore[arg-type]


def test_filters_operators() -> None:
    a = _make(name="exp-a", config={"lr": 0.1, "opt": {"name": "adam"}}, tags=["best"], acc=0.9)
    b = _make(name="exp-b", config={"lr": 0.01, "opt": {"name": "sgd"}}, acc=0.5)
    c = _make(name="other", config={"lr": 0.001}, tags=["x", "best"], acc=0.7, group="g1", job_type="eval")
    api = runstore.Api()

    def ids(flt, order="+created_at"):
        return [r.id for r in api.runs("p", filters=flt, order=order)]

    assert ids({"config.lr": {"$gt": 0.005}}) == [a, b]
    assert ids({"config.lr.value": {"$lte": 0.01}}) == [b, c]
    assert ids({"config.opt.name": "sgd"}) == [b]
    assert ids({"summary_metrics.acc": {"$gte": 0.69}}) == [a, c]
    assert ids({"tags": {"$in": ["best"]}}) == [a, c]
    assert ids({"tags": "x"}) == [c]
    assert ids({"tags": {"$nin": ["best"]}}) == [b]
    assert ids({"display_name": {"$regex": "^exp"}}) == [a, b]
    assert ids({"name": "other"}) == [c]  # display name …
    assert ids({"name": a}) == [a]  # … or the id, as wandb's `name` field
    assert ids({"$or": [{"config.lr": 0.1}, {"group": "g1"}]}) == [a, c]
    assert ids({"$and": [{"state": "finished"}, {"config.lr": {"$ne": 0.1}}]}) == [b, c]
    assert ids({"job_type": "eval"}) == [c]
    assert ids({"config.missing": {"$exists": False}}) == [a, b, c]
    assert ids({"created_at": {"$gt": "2000-01-01"}}) == [a, b, c]
    assert ids({"state": "finished"}, order="-summary_metrics.acc") == [a, c, b]
    assert ids(None, order="+config.lr") == [c, b, a]


@pytest.mark.parametrize(
    "bad",
    [
        {"$bogus": 1},
        {"config.lr": {"$in": 3}},
        {"name": {"$regex": "("}},
        {"config.lr": {"$what": 1}},
        [1, 2],
        {"$or": "x"},
    ],
)
def test_bad_filters_are_clear_errors(bad) -> None:
    _make()
    with pytest.raises(UsageError):
        runstore.Api().runs("p", filters=bad)


def test_runs_len_index_iter_and_all_projects() -> None:
    _make("p1")
    _make("p2")
    api = runstore.Api()
    assert len(api.runs("p1")) == 1
    assert len(api.runs()) == 2  # no default project set: every project
    assert api.runs("p2")[0].project == "p2"
    assert len(list(api.runs("nosuchproject"))) == 0


def test_history_sampling_keys_and_list_form() -> None:
    run = runstore.init(project="p")
    for i in range(1000):
        data = {"x": i}
        if i % 10 == 0:
            data["y"] = i * 2
        runstore.log(data)
    run.finish(quiet=True)
    r = runstore.Api().run(f"p/{run.id}")
    df = r.history()
    assert len(df) == 500 and df["_step"].iloc[0] == 0 and df["_step"].iloc[-1] == 999
    assert len(r.history(samples=None)) == 1000
    ky = r.history(keys=["y"], samples=None)
    assert list(ky.columns) == ["_step", "y"] and len(ky) == 100
    lst = r.history(keys=["y"], pandas=False, samples=5)
    assert len(lst) == 5 and lst[-1] == {"_step": 990, "y": 1980}
    rows = list(r.scan_history(keys=["y"], min_step=100, max_step=200))
    assert rows == [{"y": s * 2} for s in range(100, 200, 10)]
    with pytest.raises(ValueError):
        r.history(samples=0)
    with pytest.raises(ValueError):
        r.history(stream="nope")
    assert r.history(stream="events", pandas=False) == []


def test_history_nested_and_nonfinite() -> None:
    run = runstore.init(project="p")
    runstore.log({"train": {"loss": 0.5, "acc": {"top1": 0.9}}, "n": float("nan"), "i": float("-inf")})
    run.finish(quiet=True)
    r = runstore.Api().run(f"p/{run.id}")
    df = r.history()
    assert df["train.acc.top1"].iloc[0] == 0.9
    assert math.isnan(df["n"].iloc[0]) and df["i"].iloc[0] == -math.inf
    (row,) = list(r.scan_history(keys=["train.loss"]))
    assert row == {"train.loss": 0.5}
    assert r.summary["train"]["acc"]["top1"] == 0.9


def test_large_history_uses_and_extends_cache(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    for i in range(25_000):
        runstore.log({"v": float(i)})
    run.finish(quiet=True)
    r = runstore.Api().run(f"p/{run.id}")
    df = r.history(samples=None)
    cache = Path(run.sync_dir) / "cache" / "history.npz"
    assert cache.exists() and len(df) == 25_000
    # Append more rows by resuming: the cache covers a prefix, the tail is parsed and merged.
    run2 = runstore.init(project="p", id=run.id, resume="allow")
    for i in range(10):
        runstore.log({"w": i})
    run2.finish(quiet=True)
    df2 = runstore.Api().run(f"p/{run.id}").history(samples=None)
    assert len(df2) == 25_010
    assert df2["v"].iloc[24_999] == 24_999.0 and math.isnan(df2["v"].iloc[-1]) and df2["w"].iloc[-1] == 9
    assert list(df2["_step"].iloc[-3:]) == [25_007, 25_008, 25_009]
    # A corrupt cache is ignored, not fatal.
    cache.write_bytes(b"garbage")
    assert len(runstore.Api().run(f"p/{run.id}").history(samples=None)) == 25_010


def test_files_and_download(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    Path(run.dir, "sub").mkdir()
    Path(run.dir, "sub", "notes.txt").write_text("hello")
    run.finish(quiet=True)
    r = runstore.Api().run(f"p/{run.id}")
    assert [f.name for f in r.files()] == ["requirements.txt", "sub/notes.txt"]  # captured + saved
    assert [f.name for f in r.files(pattern="sub/*")] == ["sub/notes.txt"]
    f = r.file("sub/notes.txt")
    assert f.size == 5 and f.mimetype == "text/plain"
    with f.download(root=tmp_path / "dl") as fh:
        assert fh.read() == "hello"
    with pytest.raises(ValueError):
        f.download(root=tmp_path / "dl")
    f.download(root=tmp_path / "dl", replace=True).close()
    with pytest.raises(Error):
        r.file("missing.txt")
    with pytest.raises(Error):
        r.file("../run.jsonl")  # no escaping the run's files directory


def test_update_persists_edits() -> None:
    rid = _make(config={"lr": 0.1, "bs": 8}, tags=["a"])
    api = runstore.Api()
    r = api.run(f"p/{rid}")
    r.name = "renamed"
    r.tags = r.tags + ["b"]
    r.notes = "checked"
    r.config["lr"] = 0.2
    del r.config["bs"]
    r.summary["best"] = 0.99
    r.update()
    r2 = runstore.Api().run(f"p/{rid}")
    assert (r2.name, r2.tags, r2.notes) == ("renamed", ["a", "b"], "checked")
    assert r2.config == {"lr": 0.2}
    assert r2.summary["best"] == 0.99 and r2.summary["acc"] == 0.5
    r2.summary.update({"extra": 1})
    assert runstore.Api().run(f"p/{rid}").summary["extra"] == 1
    with pytest.raises(TypeError):
        r2.tags = "notalist"


def test_api_summary_edit_loses_to_later_log_after_resume() -> None:
    rid = _make()
    r = runstore.Api().run(f"p/{rid}")
    r.summary.update({"acc": 123.0})
    assert runstore.Api().run(f"p/{rid}").summary["acc"] == 123.0
    run = runstore.init(project="p", id=rid, resume="must")
    runstore.log({"acc": 0.1})
    run.finish(quiet=True)
    assert runstore.Api().run(f"p/{rid}").summary["acc"] == 0.1


def test_state_running_then_finished_and_metadata() -> None:
    run = runstore.init(project="p", config={"a": 1})
    r = runstore.Api().run(f"p/{run.id}")
    assert r.state == "running"
    assert r.metadata["pid"] > 0 and r.metadata["program"]
    run.finish(quiet=True)
    assert runstore.Api().run(f"p/{run.id}").state == "finished"
    assert runstore.Api().run(f"p/{run.id}").exit_code == 0


def test_read_columns_across_parse_chunks_matches_rows(monkeypatch) -> None:
    import numpy as np

    from runstore.store import history as h

    run = runstore.init(project="p")
    for i in range(300):
        row = {"x": i}
        if i >= 150:
            row["late"] = f"s{i}"  # a column that only exists in later chunks
        if i < 100:
            row["early"] = i / 2  # … and one that stops
        if i == 42:
            row["nan"] = float("nan")
        runstore.log(row)
    run.finish(quiet=True)
    path = Path(run.sync_dir) / "history.jsonl"
    (Path(run.sync_dir) / "history.jsonl").open("ab").write(b'{"x": 999, "_st')  # torn tail
    monkeypatch.setattr(h, "PARSE_CHUNK", 997)  # many chunks, boundaries mid-line
    cols, n = h.read_columns(path)
    rows = list(h.iter_rows(path))
    assert n == len(rows) == 300
    assert list(cols["x"]) == [r["x"] for r in rows]
    assert list(cols["late"][150:]) == [f"s{i}" for i in range(150, 300)] and cols["late"][0] is None
    assert cols["early"][99] == 49.5 and np.isnan(cols["early"][100])
    assert np.isnan(cols["nan"][42]) and np.isnan(cols["nan"][0])
    assert cols["_step"].dtype == np.int64
