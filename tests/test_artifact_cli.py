"""`runstore artifact put|get|ls|show|alias|verify|gc`: artifacts from the shell (issue 12's CLI)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

import runstore


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "sub").mkdir(parents=True)
    (d / "a.txt").write_text("hello\n")
    (d / "sub" / "b.bin").write_bytes(os.urandom(50_000))
    return d


def cli_json(capsys, *argv: str):
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0, (argv, err)
    return json.loads(out)


def test_put_get_ls_show_verify_round_trip(capsys, tmp_path, tree):
    v0 = cli_json(
        capsys,
        "artifact",
        "put",
        str(tree),
        "--name",
        "p/data",
        "--type",
        "dataset",
        "--alias",
        "prod",
        "--metadata",
        '{"rows": 2}',
        "--description",
        "two files",
    )
    assert (v0["name"], v0["version"], v0["files"], v0["metadata"]) == ("p/data:v0", "v0", 2, {"rows": 2})
    assert v0["aliases"] == ["prod", "latest"] and v0["size"] == 50_006
    same = cli_json(capsys, "artifact", "put", str(tree), "--name", "p/data", "--alias", "again")
    assert same["version"] == "v0" and same["digest"] == v0["digest"] and "again" in same["aliases"]
    (tree / "a.txt").write_text("changed\n")
    v1 = cli_json(capsys, "artifact", "put", str(tree), "--name", "p/data")
    assert v1["version"] == "v1" and v1["aliases"] == ["latest"]

    (row,) = cli_json(capsys, "artifact", "ls", "p")
    assert (row["name"], row["versions"], row["latest"], row["aliases"]) == (
        "data",
        2,
        "v1",
        {"again": "v0", "prod": "v0"},
    )
    code, out, _ = run_cli(capsys, "artifact", "ls", "p", "--type", "model")
    assert code == 0 and "no artifacts of type model" in out

    shown = cli_json(capsys, "artifact", "show", "p/data:prod")
    assert shown["version"] == "v0" and shown["description"] == "two files"
    assert sorted(f["path"] for f in shown["manifest"]) == ["a.txt", "sub/b.bin"]

    got = cli_json(capsys, "artifact", "get", "p/data:prod", "--root", str(tmp_path / "out"))
    out_dir = Path(got["root"])
    assert (out_dir / "a.txt").read_text() == "hello\n"
    assert (out_dir / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    code, out, err = run_cli(capsys, "artifact", "verify", "p/data:v0", str(out_dir))
    assert code == 0 and "matches p/data:v0" in out
    (out_dir / "a.txt").write_text("tampered\n")
    code, out, err = run_cli(capsys, "artifact", "verify", "p/data:v0", str(out_dir))
    assert code == 1 and "a.txt: modified" in err and len(err.strip().splitlines()) == 1

    # the SDK sees what the CLI logged, offline
    art = runstore.Api().artifact("p/data:prod")
    assert art.version == "v0" and art.metadata == {"rows": 2}


def test_alias_add_moves_and_rm_removes(capsys, tree):
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/m", "--type", "model", "--alias", "best")
    (tree / "a.txt").write_text("v1\n")
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/m", "--type", "model")
    code, out, err = run_cli(capsys, "artifact", "alias", "add", "p/m:v1", "best")
    assert code == 0, err
    assert cli_json(capsys, "artifact", "show", "p/m:best")["version"] == "v1"
    assert "best" not in cli_json(capsys, "artifact", "show", "p/m:v0")["aliases"]
    code, out, err = run_cli(capsys, "artifact", "alias", "rm", "p/m:v1", "best")
    assert code == 0, err
    code, out, err = run_cli(capsys, "artifact", "get", "p/m:best")
    assert code == 1 and "not found" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(capsys, "artifact", "alias", "rm", "p/m:v1", "nope")
    assert code == 1 and "has no alias 'nope'" in err
    code, out, err = run_cli(capsys, "artifact", "alias", "add", "p/m:v1", "v7")
    assert code == 1 and "v7" in err


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--name", "p/x", "--metadata", "{bad"], "--metadata is not JSON"),
        (["--name", "p/x", "--type", "wandb-history"], "wandb-"),
        (["--name", "p/x:v3"], "without ':v3'"),
        (["--name", "p/x", "--alias", "latest2", "--alias", "v2"], "v2"),
    ],
)
def test_bad_input_is_one_line(capsys, tree, argv, needle):
    code, out, err = run_cli(capsys, "artifact", "put", str(tree), *argv)
    assert code in (1, 2) and needle in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1


def test_missing_path_and_unknown_artifact(capsys, tmp_path, tree):
    code, _, err = run_cli(capsys, "artifact", "put", str(tmp_path / "nope"), "--name", "p/x")
    assert code == 1 and "no such file or directory" in err
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/x")
    code, _, err = run_cli(capsys, "artifact", "get", "p/nothere")
    assert code == 1 and "not found" in err


def test_a_corrupted_object_is_never_served(capsys, tmp_path, tree):
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/c")
    objects = tmp_path / ".wandb" / "artifacts" / "objects"
    victim = next(p for p in objects.rglob("*") if p.is_file() and p.stat().st_size == 6)  # a.txt
    victim.chmod(0o644)
    victim.write_text("HACKED")
    code, _, err = run_cli(capsys, "artifact", "get", "p/c", "--root", str(tmp_path / "out"))
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "a.txt").exists()


def test_gc_removes_only_what_no_live_version_references(capsys, tmp_path, tree):
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/g")
    (tree / "a.txt").write_text("only in v1\n")
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/g")
    art = runstore.Api().artifact("p/g:v1")
    art.delete()
    dry = cli_json(capsys, "artifact", "gc", "--min-age-hours", "0")
    assert dry["would_delete"] == 1 and dry["bytes"] == len("only in v1\n") and dry["kept"] == 2
    assert cli_json(capsys, "artifact", "gc", "--min-age-hours", "0")["would_delete"] == 1  # dry run kept it
    done = cli_json(capsys, "artifact", "gc", "--min-age-hours", "0", "--force")
    assert done["deleted"] == 1
    got = cli_json(capsys, "artifact", "get", "p/g:v0", "--root", str(tmp_path / "v0"))
    assert (Path(got["root"]) / "sub" / "b.bin").exists()
    recent = cli_json(capsys, "artifact", "gc")  # default: objects younger than an hour are kept
    assert recent["would_delete"] == 0


def test_putting_an_unchanged_tree_again_reads_no_file(capsys, tmp_path, tree, monkeypatch):
    """The stat cache: size, mtime and inode unchanged -> the recorded digest, no read, no copy."""
    from runstore.store import artifacts as A

    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/s")
    assert (tmp_path / ".wandb" / "cache" / "artifact-stat.json").is_file()
    A._stat_caches.clear()  # as a new process would: the cache is read back from disk
    copied: list[str] = []
    real = A.put_object

    def counting(store, src, expect=None):
        copied.append(str(src))
        return real(store, src, expect)

    monkeypatch.setattr(A, "put_object", counting)
    again = cli_json(capsys, "artifact", "put", str(tree), "--name", "p/s")
    assert again["version"] == "v0" and copied == []
    (tree / "a.txt").write_text("a change of size\n")
    v1 = cli_json(capsys, "artifact", "put", str(tree), "--name", "p/s")
    assert v1["version"] == "v1" and copied == [str(tree / "a.txt")]


def test_an_artifact_built_in_one_store_logs_into_another(tmp_path, tree, monkeypatch):
    other = tmp_path / "elsewhere"
    art = runstore.Artifact("moved", "dataset")
    art.add_dir(tree)  # copied into the store discovered here (RUNSTORE_DIR)
    run = runstore.init(project="p", dir=other)
    run.log_artifact(art)
    run.finish(quiet=True)
    monkeypatch.setenv("RUNSTORE_DIR", str(other / ".wandb"))
    got = runstore.Api().artifact("p/moved:v0")
    got.verify(got.download(tmp_path / "out"))


def test_large_files_copied_on_several_threads_keep_their_digests(capsys, tmp_path):
    import base64
    import hashlib

    big = tmp_path / "big"
    big.mkdir()
    blobs = {f"b{i}.bin": os.urandom((2 << 20) + i) for i in range(4)}  # above add_dir's thread threshold
    for name, data in blobs.items():
        (big / name).write_bytes(data)
    (big / "small.txt").write_text("s")
    cli_json(capsys, "artifact", "put", str(big), "--name", "p/big")
    shown = {f["path"]: f["digest"] for f in cli_json(capsys, "artifact", "show", "p/big")["manifest"]}
    for name, data in blobs.items():
        assert shown[name] == base64.b64encode(hashlib.md5(data).digest()).decode()
    got = Path(cli_json(capsys, "artifact", "get", "p/big", "--root", str(tmp_path / "out"))["root"])
    assert all((got / n).read_bytes() == d for n, d in blobs.items())


def test_cache_cleanup_evicts_only_what_the_remote_holds_and_downloads_fetch_it_back(
    capsys, tmp_path, tree, monkeypatch
):
    from runstore.store import artifacts as A
    from runstore.store.store import Store

    remote = tmp_path / "remote"
    monkeypatch.setenv("RUNSTORE_REMOTE", str(remote))
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/c")
    code, _, err = run_cli(capsys, "sync", "artifacts:p")
    assert code == 0, err
    (tmp_path / "only-here.bin").write_bytes(os.urandom(30_000))
    cli_json(capsys, "artifact", "put", str(tmp_path / "only-here.bin"), "--name", "p/local")
    store = Store(tmp_path / ".wandb")
    before = sum(o[2] for o in A.stored_objects(store)[0])
    dry = cli_json(capsys, "artifact", "cache", "cleanup", "0", "--dry-run")
    assert dry["would_remove"] == 2 and dry["size"] == 30_000 and dry["kept_not_at_remote_bytes"] == 30_000
    assert sum(o[2] for o in A.stored_objects(store)[0]) == before  # a dry run removes nothing
    done = cli_json(capsys, "artifact", "cache", "cleanup", "0")
    assert done["removed"] == 2 and done["bytes"] == before - 30_000
    assert [o[2] for o in A.stored_objects(store)[0]] == [30_000]  # the one only this store has
    # the evicted objects come back from the remote when a version needs them
    got = cli_json(capsys, "artifact", "get", "p/c:v0", "--root", str(tmp_path / "back"))
    assert (Path(got["root"]) / "sub" / "b.bin").read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    assert len(A.stored_objects(store)[0]) == 3
    # a corrupted object is repaired from the remote too
    obj = A.object_path(store, A.b64_to_hex(A.hash_file(tree / "a.txt")[0]))
    obj.chmod(0o644)
    obj.write_text("HELLO\n")
    got = cli_json(capsys, "artifact", "get", "p/c:v0", "--root", str(tmp_path / "again"))
    assert (Path(got["root"]) / "a.txt").read_text() == "hello\n" and obj.read_text() == "hello\n"
    # with a size it is already under, nothing goes
    assert cli_json(capsys, "artifact", "cache", "cleanup", "1GB")["removed"] == 0


def test_cache_cleanup_without_a_remote_and_bad_sizes_are_one_line(capsys, tmp_path, tree, monkeypatch):
    monkeypatch.delenv("RUNSTORE_REMOTE", raising=False)
    cli_json(capsys, "artifact", "put", str(tree), "--name", "p/n")
    code, out, err = run_cli(capsys, "artifact", "cache", "cleanup", "0")
    assert code != 0 and "no remote holds copies" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "artifact", "cache", "cleanup", "lots")
    assert code != 0 and "give a number with an optional unit" in err
    stale = tmp_path / ".wandb" / "artifacts" / "objects" / ".incoming-1.tmp-runstore-1"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))
    done = cli_json(capsys, "artifact", "cache", "cleanup", "10GB", "--remove-temp")
    assert done["temp_files"] == 1 and not stale.exists() and done["removed"] == 0
    from runstore.cli.artifact_cmd import parse_size

    assert [parse_size(s) for s in ("0", "2048", "1KB", "1.5g", "3MiB")] == [0, 2048, 1024, 3 << 29, 3 << 20]
