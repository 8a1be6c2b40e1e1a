"""Artifacts (docs/COMPAT.md §9, docs/FORMAT.md "Artifacts"): wandb's digests and manifest, versions and
aliases, offline use by every name form, downloads checked against their digests, the object store,
lineage, the read API, and what concurrency and SIGKILL leave behind."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import stat
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import PY, run_script

import runstore
from runstore.errors import CommError
from runstore.store import artifacts as A
from runstore.store.store import Store


def _files(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def _art(tmp_path: Path, name: str, files: dict[str, bytes], type: str = "dataset", **kw: Any) -> Any:
    d = _files(tmp_path / f"src-{name}-{len(files)}-{abs(hash(tuple(files.items())))}", files)
    art = runstore.Artifact(name, type, **kw)
    art.add_dir(d)
    return art


def _objects(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / ".wandb" / "artifacts" / "objects").rglob("*") if p.is_file())


# -- wandb's digests, computed here from the definition in docs/COMPAT.md §9.2 -----------------------------
def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def test_digests_and_manifest_are_wandbs(tmp_path: Path) -> None:
    files = {"b.txt": b"bee", "a/x.bin": bytes(range(256)) * 10, "a.txt": b""}
    run = runstore.init(project="p")
    art = _art(tmp_path, "data", files, metadata={"m": 1}, description="d")
    expected_entries = {p: _b64md5(b) for p, b in files.items()}
    text = "wandb-artifact-manifest-v1\n" + "".join(f"{p}:{expected_entries[p]}\n" for p in sorted(files))
    expected = hashlib.md5(text.encode()).hexdigest()
    assert art.digest == expected  # known before logging too
    run.log_artifact(art)
    assert art.digest == expected
    assert {p: e.digest for p, e in art.manifest.entries.items()} == expected_entries
    doc = json.loads((tmp_path / f".wandb/artifacts/projects/p/manifests/data/{expected}.json").read_text())
    assert doc == {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": {p: {"digest": expected_entries[p], "size": len(files[p])} for p in sorted(files)},
    }
    assert list(doc["contents"]) == sorted(files)
    # metadata and description do not change the digest
    same = _art(tmp_path, "other", files, metadata={"different": True})
    assert same.digest == expected


# -- versions and aliases ----------------------------------------------------------------------------
def test_versions_latest_aliases_and_dedup(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    a0 = run.log_artifact(_art(tmp_path, "ds", {"x": b"0"}), aliases=["best", "latest"])
    assert (a0.name, a0.version, a0.aliases, a0.state) == ("ds:v0", "v0", ["best", "latest"], "COMMITTED")
    a1 = run.log_artifact(_art(tmp_path, "ds", {"x": b"1"}))
    assert (a1.name, a1.aliases) == ("ds:v1", ["latest"])
    a2 = run.log_artifact(_art(tmp_path, "ds", {"x": b"2"}), aliases=["best"])  # moves "best"
    assert a2.aliases == ["best", "latest"]
    assert run.use_artifact("ds:v0").aliases == []
    assert run.use_artifact("ds:best").version == "v2"
    # the same content as v1: no new version, v1 gets the new alias
    again = run.log_artifact(_art(tmp_path, "ds", {"x": b"1"}), aliases=["prod"])
    assert (again.version, again.aliases) == ("v1", ["prod"])
    assert run.use_artifact("ds:latest").version == "v2"
    assert [v.version for v in runstore.Api().artifact_versions("dataset", "p/ds")] == ["v0", "v1", "v2"]
    with pytest.raises(ValueError, match="looks like a version number"):
        run.log_artifact(_art(tmp_path, "ds", {"x": b"3"}), aliases=["v3"])
    with pytest.raises(ValueError, match="already has type 'dataset'"):
        run.log_artifact(_art(tmp_path, "ds", {"x": b"4"}, type="model"))
    run.finish()


def test_bad_input_is_one_clear_error(tmp_path: Path) -> None:
    for bad in ("a/b", "a:b", "a b", "a#b", "..", "é", "name\n"):
        with pytest.raises(ValueError, match="may only contain letters"):
            runstore.Artifact(bad, "dataset")
    with pytest.raises(ValueError, match="1-128 characters"):
        runstore.Artifact("x" * 129, "dataset")
    assert (
        runstore.Artifact(runstore.util.make_artifact_name_safe("model run/1:x"), "model").name
        == "model_run_1_x"
    )
    with pytest.raises(ValueError, match="reserved"):
        runstore.Artifact("a", "wandb-history")
    with pytest.raises(ValueError, match="JSON-serializable"):
        runstore.Artifact("a", "dataset", metadata={"f": object()})
    with pytest.raises(ValueError, match="at most 100"):
        runstore.Artifact("a", "dataset", metadata={str(i): i for i in range(101)})
    runstore.Artifact("a", "dataset", metadata={str(i): i for i in range(100)})
    art = runstore.Artifact("a", "dataset")
    with pytest.raises(ValueError, match="Path is not a file"):
        art.add_file(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="Path is not a directory"):
        art.add_dir(tmp_path / "missing")
    with pytest.raises(ValueError, match="relative path"):
        art.add_file(_files(tmp_path, {"f": b"1"}) / "f", name="../escape")
    run = runstore.init(project="p")
    with pytest.raises(ValueError, match="no such file"):
        run.log_artifact(str(tmp_path / "nothing-here"))
    with pytest.raises(TypeError, match="Artifact or a path"):
        run.log_artifact(42)
    with pytest.raises(CommError, match="not found"):
        run.use_artifact("never-logged:latest")
    run.log_artifact(_art(tmp_path, "x", {"f": b"1"}))
    with pytest.raises(CommError, match="aliases"):
        run.use_artifact("x:nope")
    with pytest.raises(ValueError, match="of type 'dataset', not 'model'"):
        run.use_artifact("x", type="model")
    run.finish()


def test_building_add_file_add_dir_new_file_remove(tmp_path: Path) -> None:
    src = _files(tmp_path / "src", {"f.txt": b"one", "d/g.txt": b"gee", "d/e/h.txt": b"h"})
    art = runstore.Artifact("b", "dataset")
    art.add_file(src / "f.txt", name="renamed/f.txt")
    (src / "f.txt").write_bytes(b"changed after add")  # mutable: the artifact keeps what was added
    art.add_dir(src / "d", name="dir")
    with art.new_file("notes.txt", mode="w") as f:
        f.write("hello")
    with pytest.raises(ValueError, match="already has a different file"):
        art.add_file(src / "f.txt", name="renamed/f.txt")
    kept = art.get_entry("renamed/f.txt")  # the refused copy changed nothing
    assert kept.digest == _b64md5(b"one") and Path(str(kept.local_path)).read_bytes() == b"one"
    art.add_file(src / "f.txt", name="renamed/f.txt", overwrite=True)
    (src / "d" / "g.txt").write_bytes(b"new gee")
    with pytest.raises(ValueError, match="merge=True"):
        art.add_dir(src / "d", name="dir")
    art.add_dir(src / "d", name="dir", merge=True)
    assert [e.path for e in art.files()] == ["dir/e/h.txt", "dir/g.txt", "notes.txt", "renamed/f.txt"]
    tmp_file = _files(tmp_path / "t", {"scratch.tar.gz": b"tmp"}) / "scratch.tar.gz"
    assert art.add_file(tmp_file, is_tmp=True).path == hashlib.md5(b"tmp").hexdigest()[:20] + ".tar.gz"
    art.remove(art.get_entry(hashlib.md5(b"tmp").hexdigest()[:20] + ".tar.gz"))
    art.remove("dir/e")
    assert art.get_entry("dir/g.txt").size == len(b"new gee")
    with pytest.raises(KeyError):
        art.get_entry("dir/e/h.txt")
    imm = tmp_path / "imm.bin"
    imm.write_bytes(b"trusted")
    art.add_file(imm, policy="immutable")
    (src / "f.txt").write_bytes(b"later edits are not in the artifact")
    run = runstore.init(project="p")
    run.log_artifact(art)
    out = Path(art.download(tmp_path / "out"))
    got = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == {
        "dir/g.txt": b"new gee",
        "notes.txt": b"hello",
        "renamed/f.txt": b"changed after add",
        "imm.bin": b"trusted",
    }
    with pytest.raises(ValueError, match="cannot change"):
        art.add_file(imm)
    # an immutable-policy file changed between add and log is refused, not stored under a false digest
    fresh = tmp_path / "fresh.bin"
    fresh.write_bytes(b"not in the store yet")
    bad = runstore.Artifact("c", "dataset")
    bad.add_file(fresh, policy="immutable")
    fresh.write_bytes(b"changed")
    with pytest.raises(ValueError, match="changed after it was added"):
        run.log_artifact(bad)
    assert runstore.Api().artifact_exists("p/c") is False
    run.finish()


def test_incremental_starts_from_the_latest_version(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    run.log_artifact(_art(tmp_path, "inc", {"a": b"1", "b": b"2"}))
    more = _art(tmp_path, "inc", {"b": b"22", "c": b"3"}, incremental=True)
    run.log_artifact(more)
    assert {e.path: e.size for e in more.files()} == {"a": 1, "b": 2, "c": 1}
    run.finish()


# -- use_artifact offline, by every name form ---------------------------------------------------------------
def test_use_artifact_by_every_name_form_offline(tmp_path: Path) -> None:
    producer = runstore.init(project="vision", entity="team", mode="offline")
    producer.log_artifact(_art(tmp_path, "mnist", {"x": b"0"}))
    producer.log_artifact(_art(tmp_path, "mnist", {"x": b"1"}), aliases=["golden"])
    producer.log_artifact(_art(tmp_path, "mnist", {"x": b"2"}))
    producer.finish()
    same = runstore.init(project="vision", mode="offline")
    got = {
        form: same.use_artifact(form).version
        for form in (
            "mnist",
            "mnist:latest",
            "mnist:v0",
            "mnist:golden",
            "vision/mnist:golden",
            "team/vision/mnist:golden",
        )
    }
    assert got == {
        "mnist": "v2",
        "mnist:latest": "v2",
        "mnist:v0": "v0",
        "mnist:golden": "v1",
        "vision/mnist:golden": "v1",
        "team/vision/mnist:golden": "v1",
    }
    same.finish()
    other = runstore.init(project="elsewhere", mode="offline")
    art = other.use_artifact("vision/mnist:golden", type="dataset")
    assert (art.qualified_name, art.project) == ("vision/mnist:v1", "vision")
    assert Path(art.download(), "x").read_bytes() == b"1"
    other.finish()
    assert [r.id for r in art.used_by()] == [same.id, other.id]
    assert art.logged_by().id == producer.id


# -- downloads -----------------------------------------------------------------------------------------
def test_download_checkout_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = runstore.init(project="p")
    art = run.log_artifact(_art(tmp_path, "d", {"a.txt": b"A", "sub/b.txt": b"B"}))
    root = Path(art.download())
    assert root == tmp_path / "artifacts" / "d:v0"
    art.verify(root)
    monkeypatch.setenv("WANDB_ARTIFACT_DIR", str(tmp_path / "elsewhere"))
    assert Path(art.download()) == tmp_path / "elsewhere" / "d:v0"
    only = Path(art.download(tmp_path / "prefix", path_prefix="sub"))
    assert [p.name for p in only.rglob("*") if p.is_file()] == ["b.txt"]
    (root / "a.txt").write_bytes(b"edited by the user")
    with pytest.raises(ValueError, match="a.txt: modified"):
        art.verify(root)
    (root / "extra.txt").write_text("x")
    with pytest.raises(ValueError, match="extra.txt: not a file of the artifact"):
        art.verify(root)
    # the user's edit never reaches the store: root (these tests' user here) gets copies by default
    assert Path(art.download(tmp_path / "fresh"), "a.txt").read_bytes() == b"A"
    art.checkout(root)
    art.verify(root)
    assert not (root / "extra.txt").exists() and (root / "a.txt").read_bytes() == b"A"
    with pytest.raises(ValueError, match="not logged"):
        runstore.Artifact("n", "dataset").download()
    run.finish()


def test_a_corrupted_object_is_never_served(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    art = run.log_artifact(_art(tmp_path, "c", {"w.bin": b"weights"}))
    obj = A.object_path(Store(tmp_path / ".wandb"), hashlib.md5(b"weights").hexdigest())
    os.chmod(obj, 0o644)
    obj.write_bytes(b"weightz")  # same size, other bytes
    with pytest.raises(A.CorruptObject, match="corrupted"):
        art.download(tmp_path / "out")
    assert not (tmp_path / "out" / "w.bin").exists()
    assert A.check_object(Store(tmp_path / ".wandb"), _b64md5(b"weights"), 7) is not None
    obj.unlink()
    with pytest.raises(A.ObjectMissing):
        runstore.Api().artifact("p/c:latest").download(tmp_path / "out2")
    run.finish()


def test_downloads_link_sealed_objects_and_never_serve_one_written_through_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = runstore.init(project="p")
    art = run.log_artifact(_art(tmp_path, "L", {"w.bin": b"weights" * 1000, "s/x.txt": b"x"}))
    run.finish()
    store = Store(tmp_path / ".wandb")
    obj = A.object_path(store, hashlib.md5(b"weights" * 1000).hexdigest())
    assert A.sealed(os.stat(obj)) and not os.stat(obj).st_mode & 0o222

    # a process that cannot write read-only files gets read-only hard links: no bytes copied
    monkeypatch.setattr(A, "can_write_readonly", lambda: False)
    linked = Path(art.download(tmp_path / "linked"))
    assert os.path.samefile(linked / "w.bin", obj) and art._placed["hardlink"] == 2
    assert not os.stat(linked / "w.bin").st_mode & 0o222
    art.verify(linked)
    art.download(linked)
    assert art._placed["kept"] == 2  # already there: nothing placed, nothing read
    # one that can (root) gets copies unless it asks for links
    monkeypatch.setattr(A, "can_write_readonly", lambda: True)
    copied = Path(art.download(tmp_path / "copied"))
    assert not os.path.samefile(copied / "w.bin", obj) and art._placed["copy"] == 2
    monkeypatch.setenv("RUNSTORE_ARTIFACT_LINK", "copy")
    monkeypatch.setattr(A, "can_write_readonly", lambda: False)
    art.download(tmp_path / "forced")
    assert art._placed["copy"] == 2
    # another filesystem: a copy, checked as it is read
    if os.path.isdir("/dev/shm") and os.stat("/dev/shm").st_dev != os.stat(tmp_path).st_dev:
        monkeypatch.setenv("RUNSTORE_ARTIFACT_LINK", "hardlink")
        other = Path(art.download(f"/dev/shm/runstore-test-{os.getpid()}"))
        try:
            assert art._placed["copy"] == 2 and (other / "w.bin").read_bytes() == b"weights" * 1000
        finally:
            import shutil

            shutil.rmtree(other)
    monkeypatch.setenv("RUNSTORE_ARTIFACT_LINK", "sideways")
    with pytest.raises(ValueError, match="RUNSTORE_ARTIFACT_LINK must be auto, hardlink or copy"):
        art.download(tmp_path / "bad")

    # root writing into a hard-linked download changes the object: it is no longer sealed, so it is
    # read before it is served again, found corrupted, never linked, and the next log repairs it
    monkeypatch.setenv("RUNSTORE_ARTIFACT_LINK", "hardlink")
    with open(linked / "w.bin", "r+b") as f:
        f.write(b"W")
    assert not A.sealed(os.stat(obj))
    with pytest.raises(ValueError, match="w.bin: modified"):
        art.verify(linked)
    with pytest.raises(A.CorruptObject):
        art.download(tmp_path / "after")
    assert not (tmp_path / "after" / "w.bin").exists()
    run2 = runstore.init(project="p")
    again = run2.log_artifact(_art(tmp_path, "L", {"w.bin": b"weights" * 1000, "s/x.txt": b"x"}))
    run2.finish()
    assert again.version == "v0" and A.sealed(os.stat(obj))
    assert (Path(again.download(tmp_path / "repaired")) / "w.bin").read_bytes() == b"weights" * 1000


def test_an_unsealed_object_is_read_once_then_linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects written before sealing existed (or touched since) are hashed in full, then sealed."""
    run = runstore.init(project="p")
    art = run.log_artifact(_art(tmp_path, "u", {"m.bin": b"model"}))
    run.finish()
    obj = A.object_path(Store(tmp_path / ".wandb"), hashlib.md5(b"model").hexdigest())
    os.utime(obj, ns=(10**18, 10**18))  # an mtime any writer could have left
    monkeypatch.setenv("RUNSTORE_ARTIFACT_LINK", "hardlink")
    first = Path(art.download(tmp_path / "one"))
    assert art._placed["copy"] == 1 and not os.path.samefile(first / "m.bin", obj)
    assert A.sealed(os.stat(obj))
    second = Path(art.download(tmp_path / "two"))
    assert art._placed["hardlink"] == 1 and os.path.samefile(second / "m.bin", obj)


def test_a_hostile_manifest_cannot_write_outside_the_download_directory(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    art = run.log_artifact(_art(tmp_path, "h", {"ok.txt": b"ok"}))
    run.finish()
    manifest = tmp_path / f".wandb/artifacts/projects/p/manifests/h/{art.digest}.json"
    doc = json.loads(manifest.read_text())
    doc["contents"] = {"../../escaped.txt": doc["contents"]["ok.txt"]}
    manifest.chmod(0o644)
    manifest.write_text(json.dumps(doc))
    with pytest.raises(runstore.Error, match="outside the artifact"):
        runstore.Api().artifact("p/h:latest").download(tmp_path / "dl" / "root")
    assert not (tmp_path / "escaped.txt").exists()


# -- the object store ----------------------------------------------------------------------------------
def test_one_object_per_distinct_content_and_file_kinds(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    big = os.urandom(50_000)
    run.log_artifact(_art(tmp_path, "one", {"a": big, "b": b"small"}))
    run.log_artifact(_art(tmp_path, "one", {"a": big, "b": b"small2"}))
    run.log_artifact(_art(tmp_path, "two", {"copy-of-a": big}))
    run.finish()
    other = runstore.init(project="q")
    other.log_artifact(_art(tmp_path, "three", {"again": big}))
    other.finish()
    objs = _objects(tmp_path)
    assert sorted(p.name for p in objs) == sorted(
        hashlib.md5(b).hexdigest() for b in (big, b"small", b"small2")
    )
    for p in objs:
        assert stat.S_IMODE(p.stat().st_mode) & 0o222 == 0  # read-only, and never world-writable
    for d in {p.parent for p in objs}:
        assert stat.S_IMODE(d.stat().st_mode) & 0o002 == 0
    kinds = {
        f.rel: f.kind for f in Store(tmp_path / ".wandb").store_files() if f.rel.startswith("artifacts/")
    }
    digest_one = runstore.Api().artifact("p/one:v0").digest
    assert kinds[f"artifacts/objects/{objs[0].parent.name}/{objs[0].name}"] == "immutable"
    assert kinds["artifacts/projects/p/artifacts.jsonl"] == "append"
    assert kinds[f"artifacts/projects/p/manifests/one/{digest_one}.json"] == "immutable"
    assert kinds["artifacts/projects/p/lock"] == "derived"
    assert not [n for n in os.listdir(tmp_path / ".wandb" / "artifacts" / "objects") if "tmp" in n]


# -- lineage and the read API ------------------------------------------------------------------------------
def test_lineage_and_the_read_api(tmp_path: Path) -> None:
    producer = runstore.init(project="p")
    producer.log_artifact(_art(tmp_path, "raw", {"r": b"r"}), aliases=["v-data"])
    producer.log_artifact(_art(tmp_path, "clean", {"c": b"c"}, type="processed"))
    producer.finish()
    consumer = runstore.init(project="p")
    consumer.use_artifact("raw")
    consumer.use_artifact("clean:latest", aliases=["reviewed"])
    consumer.log_model(_files(tmp_path / "m", {"model.pt": b"weights"}) / "model.pt", name="net")
    consumer.finish()
    api = runstore.Api()
    assert [a.name for a in api.run(f"p/{producer.id}").logged_artifacts()] == ["raw:v0", "clean:v0"]
    assert [a.name for a in api.run(f"p/{consumer.id}").used_artifacts()] == ["raw:v0", "clean:v0"]
    assert [a.name for a in api.run(f"p/{consumer.id}").logged_artifacts()] == ["net:v0"]
    assert api.artifact("p/clean:reviewed").aliases == ["reviewed", "latest"]
    assert [t.name for t in api.artifact_types("p")] == ["dataset", "model", "processed"]
    cols = api.artifact_collections("p", "dataset")
    assert [(c.name, c.aliases, len(c.versions())) for c in cols] == [("raw", ["v-data", "latest"], 1)]
    assert [a.name for a in api.artifacts("processed", "p/clean")] == ["clean:v0"]
    assert api.artifact_exists("p/raw:v-data") and not api.artifact_exists("p/raw:v7")
    assert not api.artifact_exists("p/missing")
    art = api.artifact("p/raw:latest")
    assert art.logged_by().id == producer.id and [r.id for r in art.used_by()] == [consumer.id]
    assert art.created_at is not None and art.id and art.size == 1 and art.type == "dataset"


def test_log_model_use_model_and_paths(tmp_path: Path) -> None:
    d = _files(tmp_path / "ckpt", {"w.bin": b"w", "cfg.json": b"{}"})
    run = runstore.init(project="p")
    assert run.log_model(d / "w.bin") is None
    run.log_model(d, name="full", aliases=["best"])
    path_art = runstore.log_artifact(str(d / "cfg.json"))  # the module function follows the run
    assert path_art.name == f"run-{run.id}-cfg.json:v0" and path_art.type == "unspecified"
    one = run.use_model(f"run-{run.id}-w.bin:latest")
    assert Path(one).read_bytes() == b"w" and Path(one).name == "w.bin"
    assert sorted(os.listdir(runstore.use_model("full:best"))) == ["cfg.json", "w.bin"]
    with pytest.raises(ValueError, match="model artifact"):
        run.use_model(f"run-{run.id}-cfg.json")
    run.finish()
    with pytest.raises(runstore.Error, match="init"):
        runstore.log_artifact(str(d))


def test_disabled_and_finished_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = runstore.init(project="p")
    run.log_artifact(_art(tmp_path, "keep", {"k": b"k"}))
    run.finish()
    late = _art(tmp_path, "late", {"l": b"l"})
    assert run.log_artifact(late).state == "PENDING"
    assert "finished" in capsys.readouterr().err
    log = tmp_path / ".wandb/artifacts/projects/p/artifacts.jsonl"
    before = log.read_bytes()
    off = runstore.init(project="p", mode="disabled")
    assert off.log_artifact(_art(tmp_path, "nothing", {"n": b"n"})).state == "PENDING"
    assert off.use_artifact("keep").version == "v0"  # reads; records no lineage
    off.finish()
    assert log.read_bytes() == before


def test_save_logs_a_draft_with_or_without_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    art = _art(tmp_path, "standalone", {"s": b"s"})
    art.save(project="tools")  # no run: committed with no producer
    assert art.qualified_name == "tools/standalone:v0" and art.logged_by() is None
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    other = _art(tmp_path, "env-project", {"e": b"e"})
    other.save()
    assert other.project == "from-env"
    run = runstore.init(project="p")
    inside = _art(tmp_path, "in-run", {"r": b"r"})
    inside.save()
    inside.save()  # committed: nothing more to write
    assert inside.project == "p" and inside.logged_by().id == run.id
    assert [a.name for a in runstore.Api().artifact_versions("dataset", "p/in-run")] == ["in-run:v0"]
    run.finish()


def test_promote_a_logged_version_by_editing_it(tmp_path: Path) -> None:
    """The CI flow: a later job moves the `prod` alias and annotates the version, then saves."""
    run = runstore.init(project="p")
    run.log_artifact(_art(tmp_path, "model", {"w": b"0"}, type="model", metadata={"acc": 0.8}))
    run.log_artifact(_art(tmp_path, "model", {"w": b"1"}, type="model"))
    run.finish()
    api = runstore.Api()
    v0 = api.artifact("p/model:v0")
    v0.aliases.append("prod")
    v0.description = "approved"
    v0.metadata["approved_by"] = "ci"
    v0.save()
    got = api.artifact("p/model:prod")
    assert (got.version, got.description, got.metadata) == (
        "v0",
        "approved",
        {"acc": 0.8, "approved_by": "ci"},
    )
    v1 = api.artifact("p/model:latest")
    v1.aliases = [*v1.aliases, "prod"]  # assigning moves it
    v1.save()
    assert api.artifact("p/model:prod").version == "v1" and api.artifact("p/model:v0").aliases == []
    v1.aliases.remove("prod")
    v1.save()
    assert not api.artifact_exists("p/model:prod") and v1.aliases == ["latest"]
    v1.aliases.append("v7")
    with pytest.raises(ValueError, match="version number"):
        v1.save()
    assert api.artifact("p/model:v0").digest == v0.digest  # the contents never change
    with pytest.raises(ValueError, match="cannot change"):
        v0.add_file(tmp_path / "x")


def test_delete_a_version(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    v0 = run.log_artifact(_art(tmp_path, "del", {"x": b"0"}))
    v1 = run.log_artifact(_art(tmp_path, "del", {"x": b"1"}), aliases=["keep"])
    with pytest.raises(ValueError, match="delete_aliases=True"):
        v1.delete()
    v1.delete(delete_aliases=True)
    assert v1.state == "DELETED"
    api = runstore.Api()
    assert api.artifact("p/del:latest").version == "v0" and v0.version == "v0"
    assert not api.artifact_exists("p/del:v1") and not api.artifact_exists("p/del:keep")
    assert [a.version for a in api.artifact_versions("dataset", "p/del")] == ["v0"]
    # the same content again is a new version: numbers are never reused
    again = run.log_artifact(_art(tmp_path, "del", {"x": b"1"}))
    assert again.version == "v2" and again.aliases == ["latest"]
    assert [a.name for a in api.run(f"p/{run.id}").logged_artifacts()] == ["del:v0", "del:v2"]
    api.artifact("p/del:v0").delete()
    api.artifact("p/del:v2").delete()
    assert not api.artifact_exists("p/del")
    run.finish()


# -- concurrency and crashes --------------------------------------------------------------------------------
WRITER = """
import os, sys, time, runstore
from runstore.store import artifacts as A
load = A.load
def slow_load(*a, **k):  # widens the window between reading the log and appending to it
    st = load(*a, **k)
    time.sleep(0.05)
    return st
A.load = slow_load
i = int(sys.argv[1])
os.makedirs(f"src{i}", exist_ok=True)
open(f"src{i}/data.bin", "wb").write(f"content {i}".encode() * 1000)
open(f"src{i}/shared.bin", "wb").write(b"same in every version")
run = runstore.init(project="p")
sys.stdin.readline()  # start together
art = runstore.Artifact("shared", "dataset")
art.add_dir(f"src{i}")
run.log_artifact(art, aliases=["contested", f"w{i}"])
print(art.version, flush=True)
run.finish()
"""


def test_six_processes_logging_one_collection_get_distinct_versions(tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(RUNSTORE_DIR=str(tmp_path / ".wandb"), RUNSTORE_DAEMON="0", RUNSTORE_CONSOLE="off")
    procs = [
        subprocess.Popen(
            [PY, str(script), str(i)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    versions = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(versions) == [f"v{n}" for n in range(6)]
    api = runstore.Api()
    got = api.artifact_versions("dataset", "p/shared")
    assert [a.version for a in got] == [f"v{n}" for n in range(6)]
    holders = [a.version for a in got if "contested" in a.aliases]
    assert len(holders) == 1
    for i, v in enumerate(versions):
        art = api.artifact(f"p/shared:w{i}")
        assert art.version == v
        art.verify(art.download(tmp_path / f"check{i}"))
        assert (tmp_path / f"check{i}" / "data.bin").read_bytes() == f"content {i}".encode() * 1000
    assert len(_objects(tmp_path)) == 7  # six data files and one shared


KILLED = """
import os, signal, sys, runstore
from runstore.store import artifacts as A, jsonl
where = sys.argv[1]
os.makedirs("src", exist_ok=True)
for n in range(5):
    open(f"src/f{n}.bin", "wb").write(os.urandom(100_000))
run = runstore.init(project="p")
art = runstore.Artifact("ckpt", "model")
put, write_all = A.put_object, jsonl.write_all
calls = []
def dying_put(*a, **k):
    calls.append(1)
    if where == "objects" and len(calls) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return put(*a, **k)
def torn_write(fd, data):
    if where == "log" and b'"t":"version"' in data:
        os.write(fd, data[: len(data) // 2])  # half the record, then the process dies
        os.kill(os.getpid(), signal.SIGKILL)
    return write_all(fd, data)
A.put_object = dying_put
jsonl.write_all = torn_write
art.add_dir("src")  # mutable files are copied into the object store as they are added
run.log_artifact(art, aliases=["best"])
"""


@pytest.mark.parametrize("where", ["objects", "log"])
def test_sigkill_during_log_artifact_leaves_no_version_and_the_next_log_completes(
    tmp_path: Path, where: str
) -> None:
    p = run_script(KILLED.replace("sys.argv[1]", repr(where)), tmp_path)
    assert p.returncode == -signal.SIGKILL, p.stderr
    api = runstore.Api()
    assert not api.artifact_exists("p/ckpt")
    assert api.artifact_versions("model", "p/ckpt").__len__() == 0
    run = runstore.init(project="p")
    art = runstore.Artifact("ckpt", "model")
    art.add_dir(tmp_path / "src")
    run.log_artifact(art, aliases=["best"])
    run.finish()
    got = runstore.Api().artifact("p/ckpt:best")
    assert got.version == "v0" and got.aliases == ["best", "latest"]
    got.verify(got.download(tmp_path / "out"))
    text = (tmp_path / ".wandb/artifacts/projects/p/artifacts.jsonl").read_text()
    assert text.endswith("\n")
    # the torn fragment was sealed into a line of its own, skipped by readers
    assert sum(1 for line in text.splitlines() if '"t":"version"' in line) == (2 if where == "log" else 1)


def test_module_globals_and_the_shim_names(tmp_path: Path) -> None:
    assert "Artifact" in runstore.__all__ and runstore.Artifact.__module__ == "runstore.sdk.artifact"
    code = textwrap.dedent(
        """
        import json, runstore
        print(json.dumps([n in runstore.__all__ for n in ("log_artifact", "use_artifact", "log_model",
                                                          "use_model")]))
        """
    )
    out = run_script(code, tmp_path)
    assert json.loads(out.stdout) == [True, True, True, True], out.stderr


def test_tables_logged_to_a_run_get_their_run_table_artifact(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    run = runstore.init(project="p")
    t = runstore.Table(columns=["n", "img"])
    t.add_data(1, runstore.Image(np.full((4, 4, 3), 7, dtype="uint8"), caption="seven"))
    run.log({"eval/preds": t})
    run.log({"eval/preds": t})  # IMMUTABLE, logged again: the same file, the same version
    m = runstore.Table(columns=["x"], data=[[1]], log_mode="MUTABLE")
    run.log({"m": m})
    m.add_data(2)
    run.log({"m": m})
    run.finish()
    api = runstore.Api()
    rows = [r for r in api.run(f"p/{run.id}").history(pandas=False) if "eval/preds" in r or "m" in r]
    preds = [r["eval/preds"] for r in rows if "eval/preds" in r]
    name = f"run-{run.id}-eval_preds"
    assert [p["artifact_path"] for p in preds] == [
        f"wandb-client-artifact://p/{name}:v0/eval/preds.table.json"
    ] * 2
    assert (
        preds[0]["_latest_artifact_path"] == f"wandb-client-artifact://p/{name}:latest/eval/preds.table.json"
    )
    assert [r["m"]["artifact_path"].split(":")[2].split("/")[0] for r in rows if "m" in r] == ["v0", "v1"]
    art = api.artifact(f"p/{name}:v0")
    assert art.type == "run_table" and art.logged_by().id == run.id
    paths = [e.path for e in art.files()]
    assert paths[0] == "eval/preds.table.json" and paths[1].startswith("media/images/") and len(paths) == 2
    back = art.get("eval/preds")
    assert back.columns == ["n", "img"] and back.data[0][0] == 1
    img = back.data[0][1]
    assert isinstance(img, runstore.Image) and img._caption == "seven"
    assert np.asarray(img.image).tolist() == np.full((4, 4, 3), 7).tolist()
    assert api.artifact(f"p/run-{run.id}-m:latest").get("m").data == [[1], [2]]
    assert sorted(a.name for a in api.run(f"p/{run.id}").logged_artifacts()) == [
        f"{name}:v0",
        f"run-{run.id}-m:v0",
        f"run-{run.id}-m:v1",
    ]


def test_get_reads_back_every_data_type_added(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    run = runstore.init(project="p")
    art = runstore.Artifact("media", "examples")
    art.add(runstore.Image(np.zeros((3, 5, 3), dtype="uint8"), caption="black"), "pics/black")
    art.add(runstore.Html("<p>hi</p>", inject=False), "page")
    art.add(runstore.Histogram(np_histogram=([1, 2], [0.0, 0.5, 1.0])), "hist")
    run.log_artifact(art)
    run.finish()
    got = runstore.Api().artifact("p/media:latest")
    img = got.get("pics/black")
    assert isinstance(img, runstore.Image) and img._caption == "black" and img.image.size == (5, 3)
    assert got.get("page").html == "<p>hi</p>"
    hist = got.get("hist")
    assert isinstance(hist, runstore.Histogram) and list(hist.histogram) == [1, 2]
    with pytest.raises(KeyError, match="no object 'nope'"):
        got.get("nope")


def test_link_into_a_portfolio_and_the_model_registry_and_edit_tags(tmp_path: Path) -> None:
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = runstore.init(project="p")
    art = runstore.Artifact("net", "model")
    art.tags = ["resnet"]
    art.add_file(str(tmp_path / "model.pt"))
    run.log_artifact(art, tags=["baseline"])
    assert art.tags == ["resnet", "baseline"]
    linked = art.link("best-models", aliases=["production"])
    assert (linked.name, linked.project, linked.type, linked.digest) == (
        "best-models:v0",
        "p",
        "model",
        art.digest,
    )
    assert linked.aliases == ["production", "latest"] and linked.source_name == "net:v0" and linked.is_link
    assert art.link("best-models").version == "v0"  # the same version again: no new version
    registered = run.link_model(str(tmp_path / "model.pt"), "classifier", aliases=["staging"])
    assert registered is not None and registered.qualified_name == "model-registry/classifier:v0"
    assert registered.source_project == "p" and registered.logged_by().id == run.id
    (tmp_path / "model.pt").write_bytes(b"better weights")
    runstore.link_model(str(tmp_path / "model.pt"), "classifier", aliases=["staging"])
    run.finish()
    api = runstore.Api()
    reg = api.artifact("model-registry/classifier:staging")
    assert (
        reg.version == "v1"
        and (Path(reg.download(tmp_path / "dl")) / "model.pt").read_bytes() == b"better weights"
    )
    assert api.artifact("model-registry/classifier:v0").aliases == []
    assert api.artifact("p/best-models:production").source_version == "v0"
    with pytest.raises(ValueError, match="link target"):
        art.link("a/b/c/d")
    with pytest.raises(ValueError, match="link target"):
        art.link("reg:alias")
    run2 = runstore.init(project="p")
    data = run2.log_artifact(_art(tmp_path, "ds", {"x.csv": b"1"}))
    run2.finish()
    with pytest.raises(ValueError, match="already has type 'model'"):
        data.link("best-models")
    got = api.artifact("p/net:v0")
    got.tags = ["resnet", "promoted"]
    got.save()
    assert api.artifact("p/net:v0").tags == ["resnet", "promoted"]
    with pytest.raises(ValueError):
        got.tags = ["bad/tag"]


# -- hostile files on disk ------------------------------------------------------------------------------
def test_any_artifact_log_folds_without_raising(tmp_path: Path) -> None:
    """A shared store's artifact log may hold anything: every line folds or is skipped, and the fold
    keeps its invariants (versions numbered 0..n-1, an alias naming one live version)."""
    hyp = pytest.importorskip("hypothesis")
    from hypothesis import strategies as st

    scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.text(max_size=5), st.floats())
    value = st.recursive(
        scalar,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=6,
    )
    record = st.fixed_dictionaries(
        {"t": st.sampled_from(["version", "alias", "unalias", "use", "log", "update", "delete", "bogus"])},
        optional={
            "collection": st.sampled_from(["a", "b", "", 3]),
            "version": st.one_of(st.integers(-2, 4), st.text(max_size=2)),
            "type": st.sampled_from(["dataset", "model", None]),
            "digest": st.text(max_size=8),
            "alias": st.sampled_from(["best", "x", 7]),
            "metadata": value,
            "tags": value,
            "size": value,
            "time": value,
            "source": value,
        },
    )

    @hyp.settings(max_examples=200, deadline=None)
    @hyp.given(st.lists(st.one_of(record, value), max_size=25))
    def fold(recs: list[Any]) -> None:
        log = tmp_path / ".wandb" / "artifacts" / "projects" / "p" / "artifacts.jsonl"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in recs) + b'{"torn')
        folded = A.load(Store(tmp_path / ".wandb"), "p")
        for col in folded.collections.values():
            assert [v.version for v in col.versions] == list(range(len(col.versions)))
            for alias, n in col.aliases.items():
                assert not col.versions[n].deleted and alias in col.versions[n].aliases

    fold()


def test_hostile_manifests_are_store_errors(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    art = run.log_artifact(_art(tmp_path, "m", {"ok.txt": b"ok"}))
    run.finish()
    manifest = tmp_path / f".wandb/artifacts/projects/p/manifests/m/{art.digest}.json"
    manifest.chmod(0o644)
    for doc in (
        b"",
        b"[]",
        b'{"contents": 3}',
        b'{"contents": {"a": {"digest": "not base64!"}}}',
        b'{"contents": {"a": {"size": 3}}}',
        b"\xff\xfe",
        b'{"contents": {"/abs": {"digest": "x"}}}',
    ):
        manifest.write_bytes(doc)
        with pytest.raises(runstore.Error):
            runstore.Api().artifact("p/m:latest")
