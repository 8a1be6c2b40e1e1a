"""The read API over HTTP (runstore/server/read.py) and `Api(base_url=...)` (runstore/api/_remote.py),
against a real server on 127.0.0.1: the same user code gives the same answers locally and remotely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from remote_servers import ThreadServer
from test_sweep_agent_helpers import in_process_sweep

import runstore
from runstore.api import Api
from runstore.api._downsample import downsample
from runstore.api._remote import RemoteApi
from runstore.errors import RunNotFound, UsageError
from runstore.server.app import create_app
from runstore.server.tokens import Tokens
from runstore.store import jsonl

uvicorn = pytest.importorskip("uvicorn")


class Served:
    """A runstore server over `root` in a background thread of this process."""

    def __init__(self, root: Path) -> None:
        self.ts = ThreadServer(create_app(root, auth=True))
        self.url = self.ts.url
        self.tokens = Tokens(root)

    def token(self, scope: str = "read", project: str | None = None) -> str:
        return self.tokens.create("t", scope, project)[1]

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=30)

    def stop(self) -> None:
        self.ts.stop()


@pytest.fixture
def served(tmp_path: Path):
    root = tmp_path / ".wandb"
    s = Served(root)
    yield s
    s.stop()


def same(a: Any, b: Any) -> bool:
    """Equal as the store writes them (NaN equals NaN)."""
    return jsonl.encode(a) == jsonl.encode(b)


def _runs() -> list[str]:
    ids = []
    for i, (project, lr, tags) in enumerate(
        [("p", 0.1, ["a"]), ("p", 0.01, ["b"]), ("p", 0.3, ["a", "b"]), ("q", 0.2, [])]
    ):
        run = runstore.init(
            project=project,
            name=f"run-{i}",
            config={"lr": lr, "opt": {"name": "adam", "beta": [0.9, 0.99]}},
            tags=tags,
            notes=f"n{i}",
            group="g" if i % 2 else None,
            job_type="train",
            reinit="finish_previous",
        )
        for s in range(40):
            run.log(
                {
                    "acc": s * lr,
                    "loss": 1 / (s + 1),
                    "nested": {"x": s},
                    **({"rare": s} if s % 7 == 0 else {}),
                }
            )
        run.log({"acc": float("nan")})
        run.summary["best"] = float("inf")
        Path(run.dir, "sub").mkdir()
        Path(run.dir, "sub", "notes.txt").write_text(f"hello {i}" * 1000)
        ids.append(run.id)
        run.finish(quiet=True)
    return ids


def _props(r: Any) -> dict[str, Any]:
    d = r.to_dict()
    d.pop("path")
    return {
        **d,
        "metadata": r.metadata,
        "config": r.config,
        "rawconfig": r.rawconfig,
        "summary": r.summary_metrics,
        "name": r.name,
        "tags": r.tags,
        "notes": r.notes,
        "group": r.group,
        "job_type": r.job_type,
        "state": r.state,
        "created_at": r.created_at,
        "heartbeat_at": r.heartbeat_at,
        "last": r.lastHistoryStep,
        "user": r.user,
        "sweep_name": r.sweep_name,
    }


def test_the_same_code_reads_the_same_locally_and_over_http(served: Served, tmp_path: Path) -> None:
    ids = _runs()
    local = Api()
    remote = Api(base_url=served.url, api_key=served.token(), store=tmp_path / "cache")
    assert isinstance(remote, RemoteApi) and remote.projects() == local.projects() == ["p", "q"]

    flt = {"$or": [{"config.lr": {"$gt": 0.05}}, {"tags": "b"}], "state": "finished"}
    for path, filters, order in [
        ("p", None, "+created_at"),
        ("p", flt, "-config.lr"),
        ("p", {"tags": {"$in": ["a"]}}, "+summary_metrics.loss"),
        (None, None, "-created_at"),
        ("q", {"display_name": {"$regex": "^run-"}}, "+created_at"),
    ]:
        want = [r.id for r in local.runs(path, filters, order)]
        got = remote.runs(path, filters, order, per_page=2)  # several pages
        assert len(got) == len(want) and [r.id for r in got] == want, (path, filters, order)
        assert [r.id for r in got[1:]] == want[1:]

    for rid in ids:
        project = "q" if rid == ids[-1] else "p"
        a, b = local.run(f"{project}/{rid}"), remote.run(f"{project}/{rid}")
        assert same(_props(a), _props(b))
        assert b.sweep is None
        # history: sampled rows, keyed rows, DataFrames, a step range, every row (pulled, then cached)
        for kw in [
            {"samples": 5, "pandas": False},
            {"samples": 7, "keys": ["acc", "nested.x"], "pandas": False},
            {"samples": 3, "keys": ["rare"], "x_axis": "nested.x", "pandas": False},
            {"samples": 4, "min_step": 10, "max_step": 30, "pandas": False},
            {"samples": 500, "keys": ["loss"], "min_step": 35, "pandas": False},
            {"samples": None, "pandas": False},
            {"samples": None, "keys": ["acc"], "pandas": False},
        ]:
            assert same(a.history(**kw), b.history(**kw)), kw
        for kw in [{"samples": 6}, {"samples": 10, "keys": ["acc", "loss"]}, {"samples": None}, {}]:
            pd.testing.assert_frame_equal(a.history(**kw), b.history(**kw), check_dtype=False)
        for kw in [{}, {"keys": ["acc", "nested.x"]}, {"min_step": 5, "max_step": 9}, {"keys": ["rare"]}]:
            assert same(list(a.scan_history(**kw)), list(b.scan_history(**kw))), kw
        assert same(a.downsample(["acc", "rare"], 6), b.downsample(["acc", "rare"], 6))
        # files: names, sizes, bytes
        assert [(f.name, f.size) for f in a.files()] == [(f.name, f.size) for f in b.files()]
        assert [f.name for f in b.files(pattern="sub/*")] == ["sub/notes.txt"]
        with b.file("sub/notes.txt").download(root=tmp_path / "dl" / rid) as fh:
            assert fh.read() == (Path(a.dir) / "files" / "sub" / "notes.txt").read_text()

    # the one-word run forms: id, prefix, name; and what is not there
    assert remote.run(ids[0]).id == ids[0] and remote.run(ids[1][:6]).id == ids[1]
    assert remote.run("run-2").id == local.run("run-2").id == ids[2]
    with pytest.raises(RunNotFound):
        remote.run("p/zzzzzzzz")
    with pytest.raises(RunNotFound):
        remote.run("nothing-like-this")
    # read only: an edit is refused with a clear error, not sent
    r = remote.run(f"p/{ids[0]}")
    r.name = "renamed"
    with pytest.raises(UsageError, match="read-only"):
        r.update()


def test_a_second_full_read_fetches_only_new_bytes(served: Served, tmp_path: Path) -> None:
    run = runstore.init(project="p")
    for s in range(100):
        run.log({"v": s})
    remote = Api(base_url=served.url, api_key=served.token(), store=tmp_path / "cache")
    assert len(remote.run(f"p/{run.id}").history(samples=None, pandas=False)) == 100
    for s in range(100, 150):
        run.log({"v": s})
    run.finish(quiet=True)
    cached = tmp_path / "cache" / "projects" / "p" / "runs" / run.id / "history.jsonl"
    before = cached.stat().st_size
    rows = remote.run(f"p/{run.id}").history(samples=None, pandas=False)
    assert [r["v"] for r in rows] == list(range(150)) and cached.stat().st_size > before


def _sweep(monkeypatch: pytest.MonkeyPatch) -> str:
    return in_process_sweep(monkeypatch, 3, lambda c: {"acc": [0.5, 0.9, 0.7][c.x - 1], "loss": c.x})


def test_sweeps_read_the_same(served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = _sweep(monkeypatch)
    local = Api()
    remote = Api(base_url=served.url, api_key=served.token(), store=tmp_path / "cache")
    assert [s.id for s in remote.sweeps()] == [s.id for s in local.sweeps()] == [sid]
    a, b = local.sweep(sid), remote.sweep(f"p/{sid}")
    assert same(a.to_dict(), b.to_dict())
    for attr in (
        "name",
        "config",
        "state",
        "project",
        "method",
        "metric",
        "order",
        "expected_run_count",
        "created_at",
    ):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert [r.id for r in a.runs] == [r.id for r in b.runs]
    assert [r.config["x"] for r in b.ranked_runs()] == [r.config["x"] for r in a.ranked_runs()] == [2, 3, 1]
    assert b.best_run().id == a.best_run().id  # type: ignore[union-attr]
    assert b.best_run("+summary_metrics.loss").config["x"] == 1  # type: ignore[union-attr]
    assert remote.run(f"p/{b.best_run().id}").sweep.id == sid  # type: ignore[union-attr]
    with pytest.raises(UsageError):
        remote.sweep("zzzzzzzz")


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=400),
    buckets=st.integers(1, 60),
    spike_at=st.integers(0, 10_000),
    gaps=st.lists(st.booleans(), min_size=1, max_size=400),
)
def test_downsampling_keeps_every_buckets_min_and_max(
    values: list[float], buckets: int, spike_at: int, gaps: list[bool]
) -> None:
    n = len(values)
    v = np.array(values)
    v[spike_at % n] = 1e9  # a one-row spike
    missing = np.array([gaps[i % len(gaps)] for i in range(n)]) & (np.arange(n) != spike_at % n)
    v[missing] = np.nan  # rows without the metric
    cols = {"_step": np.arange(n, dtype=np.int64) * 3, "m": v}
    got = downsample(cols, n, ["m"], buckets)["m"]
    present = np.flatnonzero(~np.isnan(v))
    assert 1 <= len(got["min"]) <= buckets and sum(got["count"]) == len(present)
    pos = 0
    for i, c in enumerate(got["count"]):  # buckets are consecutive runs of the metric's points
        idx = present[pos : pos + c]
        pos += c
        assert got["min"][i] == v[idx].min() and got["max"][i] == v[idx].max()
        assert got["first"][i] == v[idx[0]] and got["last"][i] == v[idx[-1]]
        assert got["x"][i] == idx[0] * 3 and got["x_end"][i] == idx[-1] * 3
    assert max(got["max"]) == 1e9  # the spike survives
    ranged = downsample(cols, n, ["m"], buckets, min_step=3, max_step=3 * (n - 1))["m"]
    assert sum(ranged["count"]) == len([i for i in present if 1 <= i < n - 1])


def test_a_spike_survives_the_servers_downsampling(served: Served) -> None:
    run = runstore.init(project="p")
    for s in range(5000):
        run.log({"loss": 1.0 + (1000.0 if s == 3334 else 0.0) + (s % 10) / 100})
    run.finish(quiet=True)
    tok = served.token()
    r = served.get(f"/api/v1/projects/p/runs/{run.id}/history/downsample", tok, keys=["loss"], buckets=100)
    assert r.status_code == 200
    b = r.json()["metrics"]["loss"]
    assert len(b["max"]) == 100 and sum(b["count"]) == 5000 and max(b["max"]) == 1001.04
    spike = next(i for i, m in enumerate(b["max"]) if m > 1000)
    assert b["x"][spike] <= 3334 <= b["x_end"][spike]
    sampled = served.get(f"/api/v1/projects/p/runs/{run.id}/history", tok, keys=["loss"], samples=100)
    assert max(row["loss"] for row in sampled.json()["rows"]) < 1000  # what min/max buckets are for


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    err = r.json()["error"]
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and "\n" not in err["message"]
    return str(err["code"])


def test_tokens_scope_what_is_read(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _runs()
    sid = _sweep(monkeypatch)
    only_q = served.token("read", project="q")
    _error(served.get("/api/v1/projects/p/runs"), 401)
    _error(served.get("/api/v1/projects/p/runs", "rs_nope_nope"), 401)
    _error(served.get("/api/v1/projects/p/runs", only_q), 403)
    _error(served.get(f"/api/v1/projects/p/runs/{ids[0]}", only_q), 403)
    _error(served.get(f"/api/v1/projects/p/runs/{ids[0]}/history/rows", only_q), 403)
    assert served.get("/api/v1/projects", only_q).json() == {"projects": ["q"]}
    assert [r["id"] for r in served.get("/api/v1/runs", only_q).json()["runs"]] == [ids[-1]]
    assert served.get("/api/v1/sweeps", only_q).json() == {"sweeps": []}
    _error(served.get(f"/api/v1/sweeps/{sid}", only_q), 404)
    remote = Api(base_url=served.url, api_key=only_q)
    assert [r.id for r in remote.runs()] == [ids[-1]]
    with pytest.raises(runstore.errors.CommError, match="403"):
        remote.runs("p")
    # a read token reads and cannot write
    reader = served.token("read")
    assert served.get(f"/api/v1/projects/p/runs/{ids[0]}", reader).status_code == 200
    r = httpx.put(
        f"{served.url}/api/v1/store/projects/p/runs/{ids[0]}/files/x.txt",
        content=b"x",
        headers={"Authorization": f"Bearer {reader}"},
    )
    _error(r, 403)
    tokens = Tokens(served.tokens.path.parent.parent)
    tid = reader.split("_")[1]
    tokens.revoke(tid)
    _error(served.get(f"/api/v1/projects/p/runs/{ids[0]}", reader), 401)


def test_bad_parameters_are_4xx_in_the_error_shape(served: Served) -> None:
    ids = _runs()
    tok = served.token()
    run = f"/api/v1/projects/p/runs/{ids[0]}"
    assert _error(served.get("/api/v1/projects/p/runs", tok, filters="{bad"), 400) == "bad_filter"
    assert _error(served.get("/api/v1/projects/p/runs", tok, filters="[1]"), 400) == "bad_filter"
    _error(served.get("/api/v1/projects/p/runs", tok, filters='{"a": {"$foo": 1}}'), 400)
    _error(served.get("/api/v1/projects/p/runs", tok, filters='{"a": {"$regex": "("}}'), 400)
    _error(served.get("/api/v1/projects/p/runs", tok, filters="[" * 5000 + "]" * 5000), 400)
    # patterns that would hold a worker: nested quantifiers, however deep in the filter, and long ones
    for evil in ('{"name": {"$regex": "(a+)+$"}}', '{"$or": [{"id": {"$regex": "(x*)*y"}}]}'):
        r = served.get("/api/v1/projects/p/runs", tok, filters=evil)
        assert _error(r, 400) == "bad_filter" and "nests quantifiers" in r.json()["error"]["message"]
    _error(
        served.get("/api/v1/projects/p/runs", tok, filters='{"name": {"$regex": "' + "a" * 201 + '"}}'), 400
    )
    ok = served.get("/api/v1/projects/p/runs", tok, filters='{"name": {"$regex": "^(ab)+|[a-z]+-[0-9]+$"}}')
    assert ok.status_code == 200, ok.text
    _error(served.get("/api/v1/projects/p/runs", tok, cursor="x"), 422)
    _error(served.get("/api/v1/projects/p/runs", tok, per_page=0), 422)
    _error(served.get("/api/v1/projects/%2E%2E/runs", tok), 404)
    _error(served.get("/api/v1/projects/p/runs/zzzzzzzz", tok), 404)
    _error(served.get("/api/v1/projects/p/runs/a%00b", tok), 404)
    _error(served.get(f"{run}/history", tok, samples=-1), 422)
    _error(served.get(f"{run}/history", tok, stream="nope"), 422)
    _error(served.get(f"{run}/history/downsample", tok), 422)
    _error(served.get(f"{run}/history/downsample", tok, keys="acc", buckets=0), 422)
    _error(served.get(f"{run}/history/rows", tok, cursor="history.jsonl@x"), 422)
    _error(served.get(f"{run}/history/rows", tok, cursor="other.jsonl@0"), 409)
    _error(served.get("/api/v1/sweeps/abc%00", tok), 404)
    _error(served.get("/api/v1/sweeps/abcdefgh", tok), 404)
    remote = Api(base_url=served.url, api_key=tok)
    with pytest.raises(UsageError, match="unknown filter operator"):
        remote.runs("p", {"a": {"$foo": 1}})
    with pytest.raises(ValueError):
        remote.run(f"p/{ids[0]}").history(samples=0)


def test_the_environment_names_the_server(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = _runs()
    monkeypatch.setenv("WANDB_BASE_URL", served.url)
    monkeypatch.setenv("RUNSTORE_API_KEY", served.token())
    api = Api()
    assert isinstance(api, RemoteApi) and api.run(f"p/{ids[0]}").config["lr"] == 0.1
    assert api.runs("p")[-1].id == ids[2] and len(api.runs("p", per_page=1)) == 3
    assert not isinstance(Api(store=Path(".wandb")), RemoteApi)  # an explicit store stays local
    monkeypatch.setenv("WANDB_BASE_URL", "https://api.wandb.ai")  # wandb's cloud is not a runstore server
    assert not isinstance(Api(), RemoteApi)
    monkeypatch.setenv("RUNSTORE_REMOTE", served.url)
    assert isinstance(Api(), RemoteApi)
    monkeypatch.setenv("RUNSTORE_REMOTE", "/some/dir")  # syncing to a directory: read locally
    assert not isinstance(Api(), RemoteApi)
    with pytest.raises(UsageError):
        Api(base_url="ftp://x")
