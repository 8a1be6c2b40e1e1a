"""Artifacts travel with sync (issue 12): `Pusher.push_artifacts`, `Puller.pull_artifacts`, `runstore sync`
/ `pull` with `artifacts:PROJECT`, and the daemon, against real remotes: a directory (a store itself) and
moto's standalone S3 server (tests/remote_servers.py).

What is held: objects travel once by hash, manifests once, the log by offset and only after the files its
versions name; a remote log written by another store is never appended to; a pull stores only objects whose
bytes match their names, and only the objects of the versions it was asked for.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import run_cli
from remote_servers import moto_s3  # noqa: F401

import runstore
from runstore.daemon.log import DaemonLog
from runstore.daemon.syncing import SyncTask
from runstore.remotes.base import RemoteError
from runstore.remotes.directory import DirRemote
from runstore.remotes.objects import ObjectRemote
from runstore.remotes.registry import open_remote
from runstore.remotes.sync import Puller, Pusher
from runstore.store import artifacts as A
from runstore.store import layout as L
from runstore.store.store import Store

P = "p"
LOG = L.artifact_log_rel(P)


# -- fixtures and helpers ------------------------------------------------------------------------------
@pytest.fixture(params=["dir", "s3"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A remote URL: a directory on tmp_path, or a new bucket on moto's S3 server."""
    if request.param == "dir":
        return os.fspath(tmp_path / "remote")
    return f"s3://{request.getfixturevalue('moto_s3').bucket()}/team"


@pytest.fixture
def dir_url(tmp_path: Path) -> str:
    return os.fspath(tmp_path / "remote")


def use_store(monkeypatch: pytest.MonkeyPatch, root: Path) -> Store:
    """Make `root` the store the SDK and the CLI use from now on."""
    monkeypatch.setenv("RUNSTORE_DIR", os.fspath(root))
    return Store(root)


def files(tmp_path: Path, tree: dict[str, bytes]) -> Path:
    d = tmp_path / f"src-{hashlib.md5(repr(sorted(tree.items())).encode()).hexdigest()[:12]}"
    for name, data in tree.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    return d


def log_artifact(
    tmp_path: Path, name: str, tree: dict[str, bytes], *, aliases: list[str] | None = None, use: str = ""
) -> str:
    """A run that (optionally) uses `use`, then logs `tree` as artifact `name`; returns the run id."""
    run = runstore.init(project=P, reinit="finish_previous")
    if use:
        run.use_artifact(use)
    art = runstore.Artifact(
        name, "dataset" if name.startswith("data") else "model", metadata={"n": len(tree)}
    )
    art.add_dir(os.fspath(files(tmp_path, tree)))
    run.log_artifact(art, aliases=aliases or [])
    rid = run.id
    run.finish(quiet=True)
    return rid


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def object_rel(data: bytes) -> str:
    return L.artifact_object_rel(hashlib.md5(data).hexdigest())


def local_objects(store: Store) -> set[str]:
    return {p.name for p in (store.root / L.ARTIFACTS_DIR / L.OBJECTS_DIR).rglob("*") if p.is_file()}


def versions(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Per collection: (version, aliases, digest, metadata, loggers, users) of every live version."""
    out = {}
    for name, col in A.load(store, P).collections.items():
        out[name] = [
            (v.version, sorted(v.aliases), v.digest, v.metadata, v.loggers, v.users) for v in col.live
        ]
    return out


def remote_objects(url: str) -> dict[str, int]:
    r = open_remote(url)
    try:
        return r.listing(L.artifact_objects_rel() + "/")
    finally:
        r.close()


def remote_bytes(url: str, rel: str) -> bytes | None:
    r = open_remote(url)
    try:
        return r.read(rel)
    except FileNotFoundError:
        return None
    finally:
        r.close()


DATA_V0 = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(3000)}
DATA_V1 = {"a.txt": b"alpha\n", "sub/b.bin": os.urandom(2000), "c.txt": b"gamma"}  # a.txt: shared object
MODEL = {"w.bin": os.urandom(5000)}


def two_collections(tmp_path: Path) -> tuple[str, str]:
    """data v0 (alias best), data v1 (alias best moves there), model v0 logged by a run that used data:v0."""
    r1 = log_artifact(tmp_path, "data", DATA_V0, aliases=["best"])
    log_artifact(tmp_path, "data", DATA_V1, aliases=["best"])
    r2 = log_artifact(tmp_path, "model", MODEL, aliases=["prod"], use="data:v0")
    return r1, r2


# -- push then pull ------------------------------------------------------------------------------------
def test_push_then_pull_reproduces_versions_aliases_lineage_and_bytes(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Store(tmp_path / ".wandb")
    r1, r2 = two_collections(tmp_path)
    code, out, err = run_cli(capsys, "sync", "--all", "--remote", url, "--json")
    assert code == 0, err
    res = {r["name"]: r for r in json.loads(out)["results"]}
    art = res[f"artifacts:{P}"]
    assert art["kind"] == "artifacts" and art["ok"] and art["errors"] == []
    distinct = {hashlib.md5(d).hexdigest() for t in (DATA_V0, DATA_V1, MODEL) for d in t.values()}
    assert set(remote_objects(url)) == {L.artifact_object_rel(h) for h in distinct}
    assert remote_bytes(url, LOG) == A.log_path(a, P).read_bytes()

    b = use_store(monkeypatch, tmp_path / "b" / ".wandb")
    code, out, err = run_cli(capsys, "pull", f"artifacts:{P}", f"{P}/{r1}", f"{P}/{r2}", "--remote", url)
    assert code == 0, err
    assert f"artifacts:{P}: fetched" in out
    assert A.log_path(b, P).read_bytes() == A.log_path(a, P).read_bytes()
    assert versions(b) == versions(a) and versions(b)["data"][1][1] == ["best"]
    assert local_objects(b) == distinct
    for p in (tmp_path / "b" / ".wandb" / L.ARTIFACTS_DIR / L.OBJECTS_DIR).rglob("*"):
        if p.is_file():
            assert p.stat().st_mode & 0o777 == A.OBJECT_MODE

    api = runstore.Api(store=b.root)
    model = api.artifact(f"{P}/model:prod")
    assert model.logged_by().id == r2
    assert [x.id for x in api.artifact(f"{P}/data:v0").used_by()] == [r2]
    assert api.artifact(f"{P}/data:best").version == "v1"
    for ref, tree in ((f"{P}/data:v0", DATA_V0), (f"{P}/data:v1", DATA_V1), (f"{P}/model:v0", MODEL)):
        root = Path(api.artifact(ref).download(os.fspath(tmp_path / "dl" / ref.replace(":", "-"))))
        got = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        assert got == tree, ref

    # pulled again: nothing to fetch
    code, out, err = run_cli(capsys, "pull", f"artifacts:{P}", "--remote", url)
    assert code == 0 and "nothing to fetch" in out, out + err


def test_a_second_push_sends_no_object_bytes_and_a_new_version_only_its_new_objects(
    tmp_path: Path, dir_url: str
) -> None:
    a = Store(tmp_path / ".wandb")
    log_artifact(tmp_path, "data", DATA_V0)
    remote = open_remote(dir_url)
    first = Pusher(a, remote).push_artifacts(P)
    assert first.ok and first.bytes > sum(len(d) for d in DATA_V0.values())
    again = Pusher(a, remote).push_artifacts(P)
    assert again.ok and again.up_to_date and again.bytes == 0
    sent_log = remote.size(LOG)
    log_artifact(tmp_path, "data", DATA_V1)  # a.txt is the same object as in v0
    third = Pusher(a, remote).push_artifacts(P)
    digest = A.load(a, P).collections["data"].versions[1].digest
    manifest = A.manifest_path(a, P, "data", digest).stat().st_size
    new_log = A.log_path(a, P).stat().st_size - (sent_log or 0)
    new_objects = len(DATA_V1["sub/b.bin"]) + len(DATA_V1["c.txt"])
    assert third.ok and third.bytes == new_objects + manifest + new_log, third
    remote.close()


def test_dry_run_reports_what_would_be_sent_and_sends_nothing(
    tmp_path: Path, dir_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log_artifact(tmp_path, "data", DATA_V0)
    code, out, err = run_cli(capsys, "sync", f"artifacts:{P}", "--remote", dir_url, "--dry-run", "--json")
    assert code == 0, err
    (r,) = json.loads(out)["results"]
    assert r["name"] == f"artifacts:{P}" and r["bytes"] > 3000 and r["files"] == 4  # 2 objects, manifest, log
    assert not (Path(dir_url) / L.ARTIFACTS_DIR).exists()


# -- what `sync` selects ---------------------------------------------------------------------------------
def test_sync_of_a_run_takes_its_projects_artifacts_unless_told_not_to(
    tmp_path: Path, dir_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rid = log_artifact(tmp_path, "model", MODEL)
    code, out, err = run_cli(capsys, "sync", rid, "--remote", dir_url, "--no-artifacts")
    assert code == 0, err
    assert remote_bytes(dir_url, LOG) is None and f"artifacts:{P}" not in out
    code, out, err = run_cli(capsys, "sync", rid, "--remote", dir_url)
    assert code == 0, err
    assert f"artifacts:{P}: sent" in out
    assert remote_bytes(dir_url, object_rel(MODEL["w.bin"])) == MODEL["w.bin"]
    code, out, err = run_cli(capsys, "sync", "artifacts:nope", "--remote", dir_url)
    assert code != 0 and "no artifacts of project 'nope'" in out + err


# -- interrupted pushes ----------------------------------------------------------------------------------
def test_a_push_cut_after_the_objects_resumes_without_sending_them_again(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Store(tmp_path / ".wandb")
    log_artifact(tmp_path, "data", DATA_V0)
    remote = open_remote(url)
    real = type(remote).append

    def cut(self: Any, rel: str, offset: int, data: bytes) -> int:
        raise RemoteError("connection reset")  # the log is the last thing sent: the push dies there

    monkeypatch.setattr(type(remote), "append", cut)
    res = Pusher(a, remote).push_artifacts(P)
    assert not res.ok and res.remote_failed
    assert set(remote_objects(url)) == {object_rel(d) for d in DATA_V0.values()}
    assert remote_bytes(url, LOG) is None  # no version is visible at the remote yet
    b = Store(tmp_path / "b" / ".wandb")
    assert "no artifacts of project" in Puller(b, open_remote(url)).pull_artifacts(P).errors[0]

    monkeypatch.setattr(type(remote), "append", real)
    resumed = Pusher(a, remote).push_artifacts(P)
    assert resumed.ok and resumed.bytes == A.log_path(a, P).stat().st_size, resumed  # the log, nothing else
    assert remote_bytes(url, LOG) == A.log_path(a, P).read_bytes()
    remote.close()


def test_a_truncated_remote_log_is_completed_from_where_it_ends(tmp_path: Path, dir_url: str) -> None:
    a = Store(tmp_path / ".wandb")
    two_collections(tmp_path)
    remote = open_remote(dir_url)
    assert Pusher(a, remote).push_artifacts(P).ok
    full = A.log_path(a, P).read_bytes()
    cut = full.index(b"\n") + 7  # mid-record: what a push killed inside an append leaves
    remote.put(LOG, full[:cut], replace=True)
    remote.close()
    remote = open_remote(dir_url)
    res = Pusher(a, remote).push_artifacts(P)
    assert res.ok and res.bytes == len(full) - cut, res
    assert remote_bytes(dir_url, LOG) == full
    remote.close()


# -- one pushing store per project -----------------------------------------------------------------------
def test_a_second_store_pushing_the_same_project_gets_the_divergence_error(
    tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log_artifact(tmp_path, "data", DATA_V0)
    code, _, err = run_cli(capsys, "sync", "--all", "--remote", url)
    assert code == 0, err
    log_before = remote_bytes(url, LOG)
    objects_before = remote_objects(url)

    use_store(monkeypatch, tmp_path / "b" / ".wandb")
    log_artifact(tmp_path, "model", MODEL)
    code, out, err = run_cli(capsys, "sync", "--all", "--remote", url)
    assert code == 1
    line = next(x for x in (out + err).splitlines() if x.startswith(f"artifacts:{P}"))
    assert "diverged" in line and "only one store per project" in line, line
    assert remote_bytes(url, LOG) == log_before
    assert remote_objects(url) == objects_before  # nothing of a refused log travels


def test_stores_that_pulled_then_both_logged_diverge_but_a_store_that_only_pulled_does_not(
    tmp_path: Path, dir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Store(tmp_path / ".wandb")
    log_artifact(tmp_path, "data", DATA_V0)
    remote = open_remote(dir_url)
    assert Pusher(a, remote).push_artifacts(P).ok
    b = use_store(monkeypatch, tmp_path / "b" / ".wandb")
    assert Puller(b, remote).pull_artifacts(P).ok
    use_store(monkeypatch, a.root)
    log_artifact(tmp_path, "data", DATA_V1)
    assert Pusher(a, remote).push_artifacts(P).ok
    # b is behind the remote: a consumer, with nothing to send and nothing wrong
    behind = Pusher(b, remote).push_artifacts(P)
    assert behind.ok and behind.up_to_date, behind
    # once b logs on its own, its log and the remote's part after the common prefix
    use_store(monkeypatch, b.root)
    log_artifact(tmp_path, "model", MODEL)
    before = remote_bytes(dir_url, LOG)
    res = Pusher(b, remote).push_artifacts(P)
    assert not res.ok and "diverged" in res.errors[0] and not res.remote_failed
    assert remote_bytes(dir_url, LOG) == before
    # and its pull says so instead of mixing the logs
    pulled = Puller(b, remote).pull_artifacts(P)
    assert not pulled.ok and "diverged" in pulled.errors[0]


# -- pulling -----------------------------------------------------------------------------------------------
def test_pull_of_one_version_fetches_only_its_objects(
    tmp_path: Path, dir_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Store(tmp_path / ".wandb")
    two_collections(tmp_path)
    remote = open_remote(dir_url)
    assert Pusher(a, remote).push_artifacts(P).ok
    b = use_store(monkeypatch, tmp_path / "b" / ".wandb")
    code, out, err = run_cli(capsys, "pull", f"artifacts:{P}/model:prod", "--remote", dir_url)
    assert code == 0, err
    assert local_objects(b) == {hashlib.md5(MODEL["w.bin"]).hexdigest()}
    manifests = {p.parent.name for p in (b.root / L.ARTIFACTS_DIR).rglob("*.json")}
    assert manifests == {"model"}
    assert versions(b) == versions(a)  # the whole log: every version is known, only one is here
    got = Path(runstore.Api(store=b.root).artifact(f"{P}/model:v0").download(os.fspath(tmp_path / "m")))
    assert (got / "w.bin").read_bytes() == MODEL["w.bin"]
    with pytest.raises(Exception, match="missing|not"):
        runstore.Api(store=b.root).artifact(f"{P}/data:v1").download(os.fspath(tmp_path / "d"))
    # then the rest
    res = Puller(b, remote).pull_artifacts(P, "data:best")
    assert res.ok and local_objects(b) == {
        hashlib.md5(d).hexdigest() for t in (MODEL, DATA_V1) for d in t.values()
    }
    bad = Puller(b, remote).pull_artifacts(P, "data:nope")
    assert not bad.ok and "no version 'nope'" in bad.errors[0] and "['best', 'latest']" in bad.errors[0]
    remote.close()


def test_a_corrupt_object_at_the_remote_is_refused_and_nothing_is_stored(
    tmp_path: Path, dir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Store(tmp_path / ".wandb")
    log_artifact(tmp_path, "data", DATA_V0)
    remote = open_remote(dir_url)
    assert Pusher(a, remote).push_artifacts(P).ok
    victim = DATA_V0["sub/b.bin"]
    remote.put(object_rel(victim), bytes([victim[0] ^ 1]) + victim[1:], replace=True)  # same size
    b = use_store(monkeypatch, tmp_path / "b" / ".wandb")
    res = Puller(b, remote).pull_artifacts(P)
    assert not res.ok and any("corrupt" in e and object_rel(victim) in e for e in res.errors), res.errors
    assert hashlib.md5(victim).hexdigest() not in local_objects(b)
    assert not A.log_path(b, P).exists()  # no version recorded whose files are not all here
    leftovers = [p for p in (b.root / L.ARTIFACTS_DIR).rglob("*") if p.is_file() and L.is_tmp(p.name)]
    assert leftovers == []
    for p in (b.root / L.ARTIFACTS_DIR / L.OBJECTS_DIR).rglob("*"):
        if p.is_file():
            assert hashlib.md5(p.read_bytes()).hexdigest() == p.name  # whatever is stored is whole
    remote.close()


def test_hostile_remote_names_are_ignored(
    tmp_path: Path, dir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Store(tmp_path / ".wandb")
    log_artifact(tmp_path, "data", DATA_V0)
    root = Path(dir_url)
    # what a hostile (or broken) object store may list: traversal, bad hex, an object under the wrong
    # prefix, a manifest name that is no digest. None of it may be sent to, read, or written here.
    junk = {
        f"{L.artifact_objects_rel()}/../../../evil": 1,
        f"{L.artifact_objects_rel()}/zz/not-a-digest": 1,
        f"{L.artifact_objects_rel()}/ab/{'cd' * 16}": 1,
        f"{L.artifact_project_rel(P)}/manifests/data/../../../../evil.json": 1,
        f"{L.artifact_project_rel(P)}/manifests/data/..json": 1,
        "/abs/evil": 1,
    }

    class Hostile(DirRemote):
        def listing(self, prefix: str = "") -> dict[str, int]:
            return {**super().listing(prefix), **{k: v for k, v in junk.items() if k.startswith(prefix)}}

    remote = Hostile(root)
    assert Pusher(a, remote).push_artifacts(P).ok  # a listing full of junk changes nothing
    b = use_store(monkeypatch, tmp_path / "b" / ".wandb")
    res = Puller(b, remote).pull_artifacts(P)
    assert res.ok, res.errors
    digest = A.load(a, P).collections["data"].versions[0].digest
    expected = {L.artifact_object_rel(hashlib.md5(d).hexdigest()) for d in DATA_V0.values()}
    expected |= {LOG, L.artifact_manifest_rel(P, "data", digest), f"{L.artifact_project_rel(P)}/lock"}
    got = {p.relative_to(b.root).as_posix() for p in (b.root / L.ARTIFACTS_DIR).rglob("*") if p.is_file()}
    assert got == expected
    assert not [p for p in tmp_path.rglob("*evil*")]

    # a remote log whose records name paths outside the store, and a manifest with a bad entry digest
    evil = tmp_path / "evil"
    entries = {"x": ("AAAA", 3)}  # base64 of 3 bytes: not an MD5
    m_digest = A.artifact_digest({p: e[0] for p, e in entries.items()})
    records = [
        {"t": "version", "time": 1.0, "collection": "data", "type": "dataset", "version": 0, "digest": "../../../../evil",
         "size": 1, "description": None, "metadata": {}, "tags": [], "run": None},
        {"t": "version", "time": 1.0, "collection": "m", "type": "model", "version": 0, "digest": m_digest,
         "size": 3, "description": None, "metadata": {}, "tags": [], "run": None},
    ]  # fmt: skip
    hostile = tmp_path / "hostile"
    (hostile / L.artifact_project_rel("q") / "manifests" / "m").mkdir(parents=True)
    (hostile / L.artifact_log_rel("q")).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    (hostile / L.artifact_manifest_rel("q", "m", m_digest)).write_bytes(
        orjson.dumps(A.manifest_json(entries))
    )
    res = Puller(b, open_remote(os.fspath(hostile))).pull_artifacts("q")
    assert not res.ok and len(res.errors) == 2, res.errors
    assert "no valid manifest" in res.errors[0] and "invalid digest" in res.errors[1]
    assert not evil.exists() and not A.log_path(b, "q").exists()
    remote.close()


# -- object stores ---------------------------------------------------------------------------------------
def test_layout_knows_the_artifact_log_as_an_append_file_with_segments() -> None:
    parts = LOG.split("/")
    assert L.owner_len(parts) == 3
    seg = L.segment_path(LOG, 42)
    assert seg == f"{L.artifact_project_rel(P)}/segments/{L.ARTIFACT_LOG}/{42:020d}"
    assert L.parse_segment(seg) == (LOG, 42) and L.kind_of(seg) is None
    assert L.owner_len(L.artifact_object_rel("ab" * 16).split("/")) == 0  # objects never grow


def test_on_s3_the_log_grows_by_segments_and_reads_back_whole(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"s3://{request.getfixturevalue('moto_s3').bucket()}/team"
    a = Store(tmp_path / ".wandb")
    remote = open_remote(url)
    assert isinstance(remote, ObjectRemote)
    log_artifact(tmp_path, "data", DATA_V0)
    assert Pusher(a, remote).push_artifacts(P).ok
    log_artifact(tmp_path, "data", DATA_V1)
    assert Pusher(a, remote).push_artifacts(P).ok
    keys = [k for k in remote.fs.find(remote.root) if "/segments/" in k]
    assert len(keys) == 2 and all(f"/{L.artifact_project_rel(P)}/segments/" in k for k in keys), keys
    fresh = ObjectRemote(url, fs=remote.fs, root=remote.root)  # nothing cached: another machine
    full = A.log_path(a, P).read_bytes()
    assert fresh.listing(L.artifact_project_rel(P) + "/")[LOG] == len(full)
    assert fresh.read(LOG) == full
    b = use_store(monkeypatch, tmp_path / "b" / ".wandb")
    assert Puller(b, fresh).pull_artifacts(P).ok and A.log_path(b, P).read_bytes() == full


# -- the daemon --------------------------------------------------------------------------------------------
def test_the_daemon_pushes_a_streamed_runs_artifacts_only_when_its_log_changed(
    tmp_path: Path, dir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNSTORE_REMOTE", dir_url)
    run = runstore.init(project=P)
    art = runstore.Artifact("model", "model")
    art.add_dir(os.fspath(files(tmp_path, MODEL)))
    run.log_artifact(art)
    calls: list[str] = []
    real = Pusher.push_artifacts

    def counted(self: Pusher, project: str, **kw: Any) -> Any:
        calls.append(project)
        return real(self, project, **kw)

    monkeypatch.setattr(Pusher, "push_artifacts", counted)
    task = SyncTask(run._store, DaemonLog(None))
    task.tick(10.0)  # a full pass: the run, then its project's artifacts
    assert calls == [P]
    assert remote_bytes(dir_url, LOG) == A.log_path(run._store, P).read_bytes()
    assert remote_bytes(dir_url, object_rel(MODEL["w.bin"])) == MODEL["w.bin"]
    task.tick(12.5)  # another full pass, nothing new: one stat, no push
    assert calls == [P]
    art2 = runstore.Artifact("model", "model")
    art2.add_dir(os.fspath(files(tmp_path, {"w.bin": b"v1"})))
    run.log_artifact(art2)
    run.finish(quiet=True)
    for t in (15.0, 15.3, 15.6):
        task.tick(t)
    assert calls == [P, P] and not task.busy()
    assert remote_bytes(dir_url, LOG) == A.log_path(run._store, P).read_bytes()
    assert remote_bytes(dir_url, object_rel(b"v1")) == b"v1"
    assert b64md5(b"v1") in A.manifest_path(run._store, P, "model", A.load(run._store, P).collections[
        "model"].versions[1].digest).read_text()  # fmt: skip


def test_references_travel_in_their_manifest_and_are_never_fetched_as_objects(
    tmp_path: Path, dir_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = Store(tmp_path / ".wandb")
    external = tmp_path / "external.bin"
    external.write_bytes(b"bytes that live elsewhere")
    run = runstore.init(project=P)
    art = runstore.Artifact("refs", "dataset")
    art.add_dir(os.fspath(files(tmp_path, {"a.txt": b"here"})))
    art.add_reference(f"file://{external}")
    run.log_artifact(art)
    run.finish(quiet=True)
    remote = open_remote(dir_url)
    assert Pusher(a, remote).push_artifacts(P).ok
    assert set(remote_objects(dir_url)) == {object_rel(b"here")}
    b = use_store(monkeypatch, tmp_path / "b" / ".wandb")
    res = Puller(b, remote).pull_artifacts(P)
    assert res.ok, res.errors
    digest = A.load(a, P).collections["refs"].versions[0].digest
    assert (
        A.manifest_path(b, P, "refs", digest).read_bytes()
        == A.manifest_path(a, P, "refs", digest).read_bytes()
    )
    assert local_objects(b) == {hashlib.md5(b"here").hexdigest()}
    got = Path(runstore.Api(store=b.root).artifact(f"{P}/refs:v0").download(os.fspath(tmp_path / "r")))
    assert (got / "a.txt").read_bytes() == b"here"
    assert (got / "external.bin").read_bytes() == external.read_bytes()
    remote.close()
