"""The artifacts page's JSON (server/ui_artifacts.py) over a store made by a real script: one run logs
two versions of an artifact (the second with a reference), another uses the first and logs a model.

Collections and versions (aliases with `latest`, file counts, who logged and used them), one version's
manifest a page at a time, its lineage graph; bad names are 404s, hostile or huge parameters 422s, and a
project token sees its project only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_script

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from runstore.server.app import create_app  # noqa: E402
from runstore.server.tokens import Tokens  # noqa: E402

SCRIPT = """
import os
import runstore as wandb

os.makedirs("data", exist_ok=True)
with open("ref.csv", "w") as f:
    f.write("a,b\\n1,2\\n")
run = wandb.init(project="arts", name="producer")
for i in range(2):
    with open("data/train.txt", "w") as f:
        f.write(f"train {i}\\n")
    with open("data/test.txt", "w") as f:
        f.write("test\\n")
    art = wandb.Artifact("dataset", type="dataset", metadata={"rows": 2 + i})
    art.add_dir("data")
    if i == 1:
        art.add_reference("file://" + os.path.abspath("ref.csv"), name="remote/ref.csv")
    run.log_artifact(art, aliases=["first"] if i == 0 else None, tags=["raw"] if i == 0 else None)
print("PRODUCER", run.id)
run.finish()
run = wandb.init(project="arts", name="consumer")
run.use_artifact("dataset:v0")
model = wandb.Artifact("model", type="model")
for n in range(30):
    with open(f"w{n:02d}.bin", "wb") as f:
        f.write(bytes([n]) * (n + 1))
    model.add_file(f"w{n:02d}.bin", name=f"weights/w{n:02d}.bin")
run.log_artifact(model)
print("CONSUMER", run.id)
run.finish()
run = wandb.init(project="other", name="elsewhere")
run.finish()
"""

API = "/api/v1/projects"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("uiarts")
    p = run_script(SCRIPT, tmp)
    assert p.returncode == 0, p.stderr[-3000:]
    ids = dict(line.split() for line in p.stdout.splitlines() if line.startswith(("PRODUCER", "CONSUMER")))
    return {"store": tmp / ".wandb", "producer": ids["PRODUCER"], "consumer": ids["CONSUMER"]}


@pytest.fixture(scope="module")
def client(made: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(made["store"], auth=False)) as c:
        yield c


def ok(r: Any) -> Any:
    assert r.status_code == 200, (r.request.url, r.status_code, r.text[:500])
    return r.json()


def error(r: Any, status: int) -> None:
    assert r.status_code == status, (r.request.url, r.status_code, r.text[:500])
    err = r.json()["error"]
    assert err["code"] and err["message"] and "\n" not in err["message"]


def test_collections_and_versions(client: TestClient, made: dict[str, Any]) -> None:
    doc = ok(client.get(f"{API}/arts/artifacts"))
    assert doc["project"] == "arts"
    cols = {c["name"]: c for c in doc["collections"]}
    assert list(cols) == ["dataset", "model"]
    ds = cols["dataset"]
    assert ds["type"] == "dataset" and ds["aliases"] == ["first", "latest"]
    v0, v1 = ds["versions"]
    assert (v0["version"], v0["name"], v0["aliases"], v0["tags"]) == (0, "dataset:v0", ["first"], ["raw"])
    assert (v1["version"], v1["aliases"], v1["tags"]) == (1, ["latest"], [])
    assert (v0["files"], v1["files"]) == (2, 3)
    assert v0["metadata"] == {"rows": 2} and v1["metadata"] == {"rows": 3}
    assert v0["size"] == len("train 0\n") + len("test\n")
    assert len(v0["digest"]) == 32 and v0["digest"] != v1["digest"]
    producer, consumer = f"arts/{made['producer']}", f"arts/{made['consumer']}"
    assert v0["run"] == v1["run"] == producer and v0["loggers"] == [producer]
    assert v0["users"] == [consumer] and v1["users"] == []
    assert v0["created"] <= v1["created"] and v0["created_at"].endswith("Z")
    (m,) = cols["model"]["versions"]
    assert (m["files"], m["run"], m["aliases"]) == (30, consumer, ["latest"])

    only = ok(client.get(f"{API}/arts/artifacts", params={"type": "model"}))
    assert [c["name"] for c in only["collections"]] == ["model"]
    # a project with runs but no artifacts, and one that does not exist: both simply have none
    assert ok(client.get(f"{API}/other/artifacts"))["collections"] == []
    assert ok(client.get(f"{API}/nosuch/artifacts"))["collections"] == []


def test_one_version_with_manifest_and_references(client: TestClient) -> None:
    doc = ok(client.get(f"{API}/arts/artifacts/dataset/v1"))
    assert (doc["project"], doc["collection"], doc["version"], doc["files"]) == ("arts", "dataset", 1, 3)
    assert doc["total"] == 3 and doc["offset"] == 0 and doc["next_offset"] is None
    entries = {e["path"]: e for e in doc["entries"]}
    assert list(entries) == ["remote/ref.csv", "test.txt", "train.txt"]
    ref = entries["remote/ref.csv"]
    assert ref["ref"].startswith("file://") and ref["ref"].endswith("/ref.csv") and ref["size"] == 8
    assert ref.get("url") is None
    train = entries["train.txt"]
    assert train["size"] == len("train 1\n") and train["ref"] is None
    assert train["url"].startswith("/ui/raw/") and train["url"].endswith("?download=1")
    # the entry's bytes are where its url says
    raw = client.get(train["url"])
    assert raw.status_code == 200 and raw.content == b"train 1\n"

    # the same version by alias, by number, and `latest`
    for name in ("latest", "1"):
        assert ok(client.get(f"{API}/arts/artifacts/dataset/{name}"))["digest"] == doc["digest"]
    first = ok(client.get(f"{API}/arts/artifacts/dataset/first"))
    assert first["version"] == 0 and first["aliases"] == ["first"]


def test_manifest_pages_and_prefix(client: TestClient) -> None:
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = ok(client.get(f"{API}/arts/artifacts/model/v0", params={"offset": offset, "limit": 7}))
        assert page["total"] == 30 and page["files"] == 30 and len(page["entries"]) <= 7
        seen += [e["path"] for e in page["entries"]]
        offset = page["next_offset"]
    assert seen == [f"weights/w{n:02d}.bin" for n in range(30)]
    sub = ok(client.get(f"{API}/arts/artifacts/model/v0", params={"prefix": "weights/w1"}))
    assert [e["path"] for e in sub["entries"]] == [f"weights/w1{n}.bin" for n in range(10)]
    assert sub["total"] == 10 and sub["files"] == 30  # the version's count, not the filtered one
    past = ok(client.get(f"{API}/arts/artifacts/model/v0", params={"offset": 1000}))
    assert past["entries"] == [] and past["next_offset"] is None


def test_lineage(client: TestClient, made: dict[str, Any]) -> None:
    producer, consumer = f"r:arts/{made['producer']}", f"r:arts/{made['consumer']}"
    g = ok(client.get(f"{API}/arts/artifacts/dataset/v0"))["lineage"]
    nodes = {n["id"]: n for n in g["nodes"]}
    assert set(nodes) == {producer, "a:dataset:v0", consumer, "a:model:v0"}
    assert [nodes[k]["column"] for k in (producer, "a:dataset:v0", consumer, "a:model:v0")] == [1, 2, 3, 4]
    assert nodes[producer]["name"] == "producer" and nodes[consumer]["name"] == "consumer"
    assert nodes[consumer]["run_id"] == made["consumer"] and nodes[consumer]["project"] == "arts"
    assert (nodes["a:model:v0"]["kind"], nodes["a:model:v0"]["type"]) == ("artifact", "model")
    assert sorted(map(tuple, g["edges"])) == sorted(
        [(producer, "a:dataset:v0"), ("a:dataset:v0", consumer), (consumer, "a:model:v0")]
    )
    assert g["truncated"] is False

    # from the model's side: what its run used comes first
    g = ok(client.get(f"{API}/arts/artifacts/model/latest"))["lineage"]
    cols = {n["id"]: n["column"] for n in g["nodes"]}
    assert cols == {"a:dataset:v0": 0, consumer: 1, "a:model:v0": 2}
    assert sorted(map(tuple, g["edges"])) == sorted([("a:dataset:v0", consumer), (consumer, "a:model:v0")])

    # v1 was logged and never used
    g = ok(client.get(f"{API}/arts/artifacts/dataset/v1"))["lineage"]
    assert {n["id"] for n in g["nodes"]} == {producer, "a:dataset:v1"}
    assert g["edges"] == [[producer, "a:dataset:v1"]]


@pytest.mark.parametrize(
    "path",
    [
        "arts/artifacts/nosuch/v0",
        "arts/artifacts/dataset/v2",
        "arts/artifacts/dataset/v999999999",
        "arts/artifacts/dataset/v1234567890123",
        "arts/artifacts/dataset/nosuchalias",
        "arts/artifacts/dataset/-1",
        "arts/artifacts/..%2F..%2Fetc/v0",
        "nosuch/artifacts/dataset/v0",
        "other/artifacts/dataset/v0",
        "a%3Ab/artifacts",
        "a%3Ab/artifacts/dataset/v0",
        "%00/artifacts",
    ],
)
def test_bad_names_are_404(client: TestClient, path: str) -> None:
    error(client.get(f"{API}/{path}"), 404)


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("arts/artifacts/dataset/v0", {"limit": 0}),
        ("arts/artifacts/dataset/v0", {"limit": 10**6}),
        ("arts/artifacts/dataset/v0", {"limit": "many"}),
        ("arts/artifacts/dataset/v0", {"offset": -1}),
        ("arts/artifacts/dataset/v0", {"offset": 10**30}),
        ("arts/artifacts/dataset/v0", {"prefix": "x" * 5000}),
        ("arts/artifacts/" + "d" * 5000 + "/v0", {}),
        ("arts/artifacts/dataset/" + "v" * 5000, {}),
        ("arts/artifacts", {"type": "t" * 5000}),
    ],
)
def test_hostile_params_are_422(client: TestClient, path: str, params: dict[str, Any]) -> None:
    error(client.get(f"{API}/{path}", params=params), 422)


def test_a_broken_manifest_is_said_not_served_as_500(made: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    store = tmp_path / ".wandb"
    shutil.copytree(made["store"], store)
    from runstore.store import artifacts as A
    from runstore.store.store import Store

    st = Store(store)
    v0 = A.load(st, "arts").collections["dataset"].versions[0]
    path = A.manifest_path(st, "arts", "dataset", v0.digest)
    path.chmod(0o644)
    path.write_text("{not json")
    with TestClient(create_app(store, auth=False)) as c:
        doc = ok(c.get(f"{API}/arts/artifacts"))
        assert doc["collections"][0]["versions"][0]["files"] is None  # unknown, not an error
        one = ok(c.get(f"{API}/arts/artifacts/dataset/v0"))
        assert one["entries"] == [] and "unreadable" in one["manifest_error"]


def test_tokens(made: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    store = tmp_path / ".wandb"
    shutil.copytree(made["store"], store)
    t = Tokens(store)
    read = t.create("r", "read")[1]
    mine = t.create("p", "read", "arts")[1]
    theirs = t.create("q", "read", "other")[1]
    with TestClient(create_app(store)) as c:
        for path in ("arts/artifacts", "arts/artifacts/dataset/v0"):
            error(c.get(f"{API}/{path}"), 401)
            error(c.get(f"{API}/{path}", headers={"Authorization": "Bearer nope"}), 401)
            error(c.get(f"{API}/{path}", headers={"Authorization": f"Bearer {theirs}"}), 403)
            ok(c.get(f"{API}/{path}", headers={"Authorization": f"Bearer {mine}"}))
            ok(c.get(f"{API}/{path}", headers={"Authorization": f"Bearer {read}"}))
        # the dashboard's cookie reads too
        c.cookies.set("runstore_token", mine)
        ok(c.get(f"{API}/arts/artifacts"))
