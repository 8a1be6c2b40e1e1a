"""The dashboard's server side (runstore/server/ui.py) over real HTTP: its JSON routes, the safe raw
file route, the pages' assets, and what keeps a loopback dashboard safe (read-only, Host check, a token
cookie that only reads). The pages themselves are tested in a real browser in tests/ui/."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import run_script
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remote_servers import ThreadServer

from runstore.server.app import create_app
from runstore.server.tokens import Tokens
from runstore.server.ui import STATIC, content_type

SCRIPT = """
import math, subprocess
import runstore as wandb

for i, lr in enumerate([0.01, 0.05, 0.1]):
    run = wandb.init(project="p", config={"lr": lr, "arch": ["mlp", "cnn"][i % 2], "opt": {"name": "adam"}},
                     name="<script>alert(1)</script>" if i == 0 else f"r{i}", tags=["t"])
    run.define_metric("secret", hidden=True)
    run.define_metric("val/acc", step_metric="epoch")
    for s in range(300):
        row = {"loss": math.exp(-lr * s) + (50.0 if s == 123 else 0.0), "secret": s}
        if s % 30 == 0:
            row.update({"epoch": s // 30, "val/acc": 1 - math.exp(-lr * s)})
        wandb.log(row)
    wandb.log({"img": wandb.Image(__import__("numpy").zeros((4, 4, 3), dtype="uint8"))})
    wandb.log({"figs": [wandb.Plotly({"data": [{"y": [1, 2]}]}), wandb.Plotly({"data": []})]})
    wandb.save("page.html")
    run.finish()
"""


class Served:
    """`create_app` under uvicorn in a thread (real HTTP on 127.0.0.1)."""

    def __init__(self, root: Path, **kw: Any) -> None:
        self.ts = ThreadServer(create_app(root, **kw))
        self.url = self.ts.url

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=30, **kw)

    def stop(self) -> None:
        self.ts.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("uiapi")
    (tmp / "page.html").write_text("<script>document.title = 'pwned'</script>")
    p = run_script(SCRIPT, tmp)
    assert p.returncode == 0, p.stderr[-3000:]
    return tmp / ".wandb"


@pytest.fixture(scope="module")
def dash(store: Path) -> Any:
    """What `runstore ui` serves on loopback: no tokens, read-only, loopback Host names only."""
    s = Served(store, auth=False, read_only=True, hosts=["127.0.0.1", "localhost"])
    yield s
    s.stop()


def run_ids(dash: Served) -> dict[str, str]:
    rows = dash.get("/api/v1/projects/p/table").json()["runs"]
    return {r["name"]: r["id"] for r in rows}


def test_table_rows_are_compact_flat_and_filtered_like_ls(dash: Served) -> None:
    body = dash.get("/api/v1/projects/p/table").json()
    assert body["total"] == 3
    row = next(r for r in body["runs"] if r["name"] == "r1")
    assert row["config"] == {"lr": 0.05, "arch": "cnn", "opt.name": "adam"}
    assert row["summary"]["loss"] == pytest.approx(math.exp(-0.05 * 299))
    assert row["summary"]["img"] == {"_type": "image-file"}  # media cells are their type, not their dict
    assert row["metrics"] == {"secret": {"hidden": True}, "val/acc": {"step_metric": "epoch"}}
    assert row["state"] == "finished" and row["tags"] == ["t"]
    lr = dash.get("/api/v1/projects/p/table", params={"filter": "config.lr>0.02"}).json()
    assert sorted(r["config"]["lr"] for r in lr["runs"]) == [0.05, 0.1]
    both = dash.get(
        "/api/v1/projects/p/table", params={"filter": ["config.lr>0.02", "config.arch=mlp"]}
    ).json()
    assert [r["name"] for r in both["runs"]] == ["r2"]
    order = dash.get("/api/v1/projects/p/table", params={"order": "+config.lr"}).json()
    assert [r["config"]["lr"] for r in order["runs"]] == [0.01, 0.05, 0.1]


@pytest.mark.parametrize(
    "bad",
    ["config.lr>>1", "no operator", '{"config.lr": ', "[1, 2]", '{"config.lr": {"$bogus": 1}}'],
)
def test_a_bad_filter_is_a_422_naming_the_syntax(dash: Served, bad: str) -> None:
    r = dash.get("/api/v1/projects/p/table", params={"filter": bad})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "bad_filter"
    assert r.json()["error"]["message"]


def test_huge_filters_are_refused_without_work(dash: Served) -> None:
    r = dash.get("/api/v1/projects/p/table", params={"filter": "name~" + "a" * (20 << 10)})
    assert r.status_code == 422 and "at most" in r.json()["error"]["message"]


def test_metrics_lists_chartable_keys_media_and_the_files_to_follow(dash: Served) -> None:
    rid = run_ids(dash)["r1"]
    m = dash.get(f"/api/v1/projects/p/runs/{rid}/metrics").json()
    by = {x["name"]: x for x in m["metrics"]}
    assert set(by) == {"loss", "secret", "epoch", "val/acc"}
    assert by["secret"] == {"name": "secret", "hidden": True}
    assert by["val/acc"]["step_metric"] == "epoch"
    # a list of references (two plotly figures) is a media key of its items' type
    assert m["media"] == [{"key": "figs", "type": "plotly-file"}, {"key": "img", "type": "image-file"}]
    hist = m["files"]["history"]
    r = dash.get(hist["url"], headers={"Range": f"bytes={hist['size'] - 1}-"})
    assert r.status_code == 206 and r.content == b"\n"  # the size is the file's: a tail starts there
    assert m["raw"].startswith("/ui/raw/") and m["raw"].endswith("/")


def test_overlay_gives_each_runs_buckets_and_keeps_the_spike(dash: Served) -> None:
    ids = run_ids(dash)
    r = dash.get(
        "/api/v1/projects/p/overlay",
        params={"key": "loss", "runs": [*ids.values(), "nosuchrun", "bad/../id"], "buckets": 10},
    ).json()
    assert set(r["runs"]) == set(ids.values())  # unknown ids are left out
    for b in r["runs"].values():
        assert len(b["x"]) == 10 and sum(b["count"]) == 300
        assert max(b["max"]) >= 50.0  # the one-row spike at step 123 survives 30x aggregation
    zoom = dash.get(
        "/api/v1/projects/p/overlay",
        params={"key": "loss", "runs": ids["r1"], "buckets": 1000, "min_step": 100, "max_step": 150},
    ).json()["runs"][ids["r1"]]
    assert zoom["x"] == list(range(100, 150)) and zoom["count"] == [1] * 50


def test_overlay_and_diff_refuse_what_they_cannot_answer(dash: Served) -> None:
    too_many = dash.get(
        "/api/v1/projects/p/overlay", params={"key": "loss", "runs": [f"r{i}" for i in range(501)]}
    )
    assert too_many.status_code == 422
    assert dash.get("/api/v1/projects/p/overlay", params={"key": "loss"}).status_code == 422
    ids = list(run_ids(dash).values())
    assert dash.get("/api/v1/projects/p/diff", params={"runs": ids[:1]}).status_code == 422
    missing = dash.get("/api/v1/projects/p/diff", params={"runs": [ids[0], "nosuchrun"]})
    assert missing.status_code == 404 and "nosuchrun" in missing.json()["error"]["message"]
    assert dash.get("/api/v1/projects/" + "x" * 300 + "/table").status_code == 404


def test_diff_of_three_runs_keeps_what_differs(dash: Served) -> None:
    ids = run_ids(dash)
    order = [ids["r2"], ids["<script>alert(1)</script>"], ids["r1"]]
    d = dash.get("/api/v1/projects/p/diff", params={"runs": order}).json()
    assert d["runs"] == order
    assert d["config"]["lr"] == [0.1, 0.01, 0.05]
    assert d["config"]["arch"] == ["mlp", "mlp", "cnn"]
    assert "opt.name" not in d["config"]  # the same everywhere
    assert "loss" in d["summary"]


def test_raw_files_have_safe_types_and_run_sandboxed(dash: Served) -> None:
    rid = run_ids(dash)["r1"]
    raw = dash.get(f"/api/v1/projects/p/runs/{rid}/metrics").json()["raw"]
    page = dash.get(raw + "page.html")
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith(
        "sandbox"
    )  # an opaque origin: no API, no cookie
    assert page.headers["x-content-type-options"] == "nosniff"
    log = dash.get(raw + "output.log")
    assert log.headers["content-type"].startswith("text/plain")
    assert (
        dash.get(raw + "output.log", params={"download": "1"}).headers["content-disposition"] == "attachment"
    )
    # dot segments a client did not fold away never leave the run (nor the store)
    assert dash.get(raw + "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd").status_code == 400
    assert dash.get("/ui/raw/projects/p/runs/" + rid + "/cache/history.npz").status_code == 404  # derived
    assert dash.get("/ui/raw/etc/passwd").status_code in (400, 404)


def test_content_types_render_only_media_and_text() -> None:
    assert content_type("media/images/a_1.png") == "image/png"
    assert content_type("x.pts.json") == "application/json"
    assert content_type("model.bin") == "application/octet-stream"
    assert content_type("a.JS") == "application/octet-stream"  # never a script of this origin
    assert content_type("evil.xhtml") == "application/octet-stream"


def test_pages_and_assets_are_served_with_a_strict_csp(dash: Served) -> None:
    index = dash.get("/")
    assert index.status_code == 200 and "<title>runstore</title>" in index.text
    csp = index.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp
    for asset in ("app.js", "chart.js", "vendor/uplot/uPlot.iife.min.js"):
        r = dash.get(f"/ui/{asset}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), asset
    assert dash.get("/ui/../ui.py").status_code == 404
    assert dash.get("/ui/%2e%2e/ui.py").status_code == 404
    assert (STATIC / "vendor" / "uplot" / "LICENSE").is_file()


def test_a_loopback_dashboard_writes_nothing_and_answers_only_loopback_names(
    dash: Served, store: Path
) -> None:
    put = httpx.put(dash.url + "/api/v1/store/projects/p/x.txt", content=b"hi", timeout=10)
    assert put.status_code == 403 and put.json()["error"]["code"] == "read_only"
    assert not (store / "projects" / "p" / "x.txt").exists()
    rebound = dash.get("/api/v1/projects", headers={"Host": "evil.example"})
    assert rebound.status_code == 400  # DNS rebinding: another site's name for 127.0.0.1
    assert dash.get("/api/v1/projects", headers={"Host": "localhost"}).status_code == 200


def test_behind_tokens_the_cookie_reads_and_never_writes(store: Path) -> None:
    srv = Served(store, auth=True)
    try:
        tokens = Tokens(store)
        read = tokens.create("ui", "read")[1]
        write = tokens.create("w", "admin")[1]
        assert srv.get("/api/v1/projects").status_code == 401
        assert srv.get("/api/v1/projects/p/table").status_code == 401
        ok = srv.get("/api/v1/projects/p/table", cookies={"runstore_token": read})
        assert ok.status_code == 200 and ok.json()["total"] == 3
        assert srv.get("/api/v1/projects", cookies={"runstore_token": "wrong"}).status_code == 401
        assert srv.get("/").status_code == 200  # the page itself holds no data: it asks for a token
        # another site's form can make the browser send the cookie with a write: it writes nothing
        forged = httpx.put(
            srv.url + "/api/v1/store/projects/p/x.txt", content=b"hi", cookies={"runstore_token": write}
        )
        assert forged.status_code in (401, 403)
        assert not (store / "projects" / "p" / "x.txt").exists()
        rid = next(iter(run_ids_with(srv, read).values()))
        raw = srv.get(f"/api/v1/projects/p/runs/{rid}/metrics", cookies={"runstore_token": read}).json()[
            "raw"
        ]
        assert srv.get(raw + "output.log").status_code == 401
        assert srv.get(raw + "output.log", cookies={"runstore_token": read}).status_code == 200
    finally:
        srv.stop()


def run_ids_with(srv: Served, token: str) -> dict[str, str]:
    rows = srv.get("/api/v1/projects/p/table", cookies={"runstore_token": token}).json()["runs"]
    return {r["name"]: r["id"] for r in rows}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_filter_text_is_an_answer_or_a_422(dash: Served, text: str) -> None:
    r = dash.get("/api/v1/projects/p/table", params={"filter": text})
    assert r.status_code in (200, 422), (text, r.status_code, r.text[:300])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_any_raw_path_is_a_file_or_a_4xx(dash: Served, path: str) -> None:
    from urllib.parse import quote

    r = dash.get("/ui/raw/" + quote(path, safe="/"))
    assert r.status_code in (200, 400, 404, 414), (path, r.status_code, r.text[:300])
    if r.status_code == 200:
        assert r.headers["content-security-policy"].startswith("sandbox")


def test_column_samples_read_only_the_cache_header_and_agree_with_the_columns(tmp_path: Path) -> None:
    from runstore.store import jsonl
    from runstore.store.history import column_samples, read_columns, samples_of

    hist, cache = tmp_path / "history.jsonl", tmp_path / "cache" / "history.npz"
    rows = [{"_step": i, "loss": 1.0 / (i + 1), "n": i, "tag": "a"} for i in range(25_000)]
    rows[7]["img"] = {"_type": "image-file", "path": "media/images/x.png"}
    hist.write_bytes(b"".join(jsonl.encode(r) + b"\n" for r in rows))
    assert column_samples(hist, cache) is None  # no cache yet
    cols, _ = read_columns(hist, cache)  # builds it (25,000 rows >= the cache's minimum)
    got = column_samples(hist, cache)
    assert got is not None and got == samples_of(cols)
    assert got["loss"].kind == "f" and got["n"].kind == "i" and got["img"]["_type"] == "image-file"
    with open(hist, "ab") as f:  # the history grew past what the cache covers: only the columns know
        f.write(jsonl.encode({"_step": 25_000, "loss": 0.0}) + b"\n")
    assert column_samples(hist, cache) is None
    cache.write_bytes(b"PK\x03\x04 not a zip at all")
    assert column_samples(hist, cache) is None
