"""`runstore sync`, `pull`, `clean` and `ls --remote` end to end: real runs logged with the SDK into a
tmp store, a directory remote on tmp_path (a store itself) or an in-process `memory://` object store,
and the real CLI (in-process through `run_cli`, or in subprocesses where a kill or concurrency is the
point).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import run_cli

import runstore
from runstore.remotes.objects import ObjectRemote
from runstore.remotes.sync import Puller, Pusher
from runstore.store import layout as L
from runstore.store.layout import RunRef
from runstore.store.store import Store

PY = sys.executable


# -- fixtures and helpers ------------------------------------------------------------------------------
def _clear_memory_fs() -> None:
    from fsspec.implementations.memory import MemoryFileSystem

    MemoryFileSystem.store.clear()
    MemoryFileSystem.pseudo_dirs.clear()
    MemoryFileSystem.pseudo_dirs.append("")


@pytest.fixture(autouse=True)
def _setup(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "200")  # one-line messages stay one line
    _clear_memory_fs()
    yield
    _clear_memory_fs()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / ".wandb")


@pytest.fixture
def remote_dir(tmp_path: Path) -> Path:
    return tmp_path / "remote"


def make_run(
    project: str = "p",
    n: int = 5,
    mode: str | None = None,
    save: dict[str, bytes] | None = None,
    **kw: Any,
) -> RunRef:
    """A finished run logged with the real SDK into the current store; `save` files go through run.save."""
    run = runstore.init(project=project, mode=mode, reinit="finish_previous", **kw)
    for i in range(n):
        runstore.log({"loss": 1.0 / (i + 1), "i": i, "tag": f"row-{i}"})
    if save:
        src = Path(os.getcwd()) / f"saved-{run.id}"
        src.mkdir()
        for name, data in save.items():
            (src / name).write_bytes(data)
        run.save(str(src / "*"), base_path=str(src), policy="now")
    ref = run._ref
    run.finish(quiet=True)
    return ref


def local_files(ref: RunRef) -> dict[str, bytes]:
    """Every non-derived file of a run, by store path."""
    store = Store(Path(ref.dir).parents[3])
    return {f.rel: f.path.read_bytes() for f in store.files(ref) if f.kind != L.DERIVED}


def tree(root: Path, rel: str) -> dict[str, bytes]:
    """Every file under `root/rel` (temporary files included: none may be left), by store path."""
    return {f"{rel}/{r}": Path(p).read_bytes() for r, p in L.walk(root / rel)}


def remote_run(remote: Path, ref: RunRef) -> dict[str, bytes]:
    return tree(remote, ref.rel)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, *argv)


def sync_json(capsys, *argv: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(capsys, "sync", "--json", *argv)
    return code, json.loads(out), err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def ls_ids(capsys, *argv: str) -> set[str]:
    code, out, err = cli(capsys, "ls", "--json", "--limit", "0", *argv)
    assert code == 0, err
    return {r["id"] for r in json.loads(out)}


def result_of(doc: dict[str, Any], ref: RunRef) -> dict[str, Any]:
    (res,) = [r for r in doc["results"] if r["name"] == f"{ref.project}/{ref.id}"]
    return res


def subprocess_env(tmp_path: Path, store_dir: Path | None = None, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    e.update(
        {
            "RUNSTORE_DIR": str(store_dir or tmp_path / ".wandb"),
            "RUNSTORE_DAEMON": "0",
            "RUNSTORE_CONSOLE": "off",
            "RUNSTORE_DISABLE_GIT": "true",
        }
    )
    e.update(extra)
    return e


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def git_run(tmp_path: Path, env: dict[str, str] | None = None, name: str = "repo") -> str:
    """A run started in a real git repository with an uncommitted edit (so files/diff.patch exists)."""
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text(
        "import runstore\nrun = runstore.init(project='p')\n"
        "for i in range(3):\n    runstore.log({'acc': i / 10})\n"
        "runstore.finish()\nprint(run.id)\n"
    )
    (repo / "data.txt").write_text("one\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    (repo / "data.txt").write_text("one\ntwo (uncommitted)\n")
    e = subprocess_env(tmp_path, **(env or {}))
    del e["RUNSTORE_DISABLE_GIT"]
    p = subprocess.run([PY, "train.py"], cwd=repo, env=e, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1]


def ref_of(store: Store, rid: str) -> RunRef:
    ref = store.find_run_by_id(rid)
    assert ref is not None
    return ref


# -- 1. sync copies every byte, once ------------------------------------------------------------------
def test_sync_all_copies_every_file_byte_identically_then_nothing(capsys, store, remote_dir) -> None:
    a = make_run(n=20)
    b = make_run(project="q", n=3, mode="offline", save={"notes.txt": b"hello\n"})
    c = make_run(n=1, save={"cfg.yaml": b"x: 1\n"})
    refs = [a, b, c]
    code, out, err = cli(capsys, "sync", "--all", "--remote", str(remote_dir))
    assert code == 0, err
    for ref in refs:
        want = local_files(ref)
        assert L.RUN_LOG in {k.rsplit("/", 1)[-1] for k in want}
        assert remote_run(remote_dir, ref) == want  # every non-derived file, no derived one, same bytes
        assert not any(L.CACHE_DIR in k.split("/")[4:5] for k in remote_run(remote_dir, ref))
    assert (remote_dir / L.FORMAT_FILE).is_file()
    # the remote directory is a store of its own
    assert ls_ids(capsys, "--dir", str(remote_dir)) == {r.id for r in refs}
    assert ls_ids(capsys) == {r.id for r in refs}
    code, out, err = cli(capsys, "sync", "--all", "--remote", str(remote_dir))
    assert code == 0 and "everything is up to date" in out and "0 bytes sent" in out, out + err
    code, doc, _ = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0 and doc["bytes"] == 0 and doc["ok"] is True
    assert all(r["up_to_date"] and r["verified"] for r in doc["results"])
    for ref in refs:
        assert remote_run(remote_dir, ref) == local_files(ref)


def test_first_sync_json_counts_every_byte(capsys, store, remote_dir) -> None:
    refs = [make_run(n=7), make_run(n=2, save={"w.bin": os.urandom(3000)})]
    code, doc, _ = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0
    for ref in refs:
        files = local_files(ref)
        res = result_of(doc, ref)
        assert res["bytes"] == sum(map(len, files.values()))
        assert res["files"] == len(files)
        assert res["finished"] and res["verified"] and not res["up_to_date"]
    assert doc["bytes"] == sum(len(v) for ref in refs for v in local_files(ref).values())


# -- 2. resuming a sync that was killed --------------------------------------------------------------
@pytest.mark.parametrize("state", ["kept", "lost"])
def test_resume_sends_exactly_the_missing_bytes(capsys, store, remote_dir, state) -> None:
    a = make_run(n=40)
    b = make_run(n=10)
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    missing = 0
    for ref, keep in ((a, 100), (b, 7)):
        for name in (L.HISTORY, L.RUN_LOG):
            p = remote_dir / ref.rel / name
            size = p.stat().st_size
            with open(p, "r+b") as f:
                f.truncate(keep)
            missing += size - keep
    reqs = remote_dir / a.rel / L.FILES_DIR / L.REQUIREMENTS
    missing += reqs.stat().st_size
    reqs.unlink()
    if state == "lost":  # the killed sync never recorded what it sent
        for ref in (a, b):
            for p in (ref.path / L.CACHE_DIR).glob("sync-*.json"):
                p.unlink()
    code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0, err
    assert doc["bytes"] == missing
    assert result_of(doc, a)["repaired"] == [] and result_of(doc, a)["verified"]
    for ref in (a, b):
        assert remote_run(remote_dir, ref) == local_files(ref)
    code, doc, _ = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert doc["bytes"] == 0


def _big_run(store: Store, mb: int = 30) -> RunRef:
    run = runstore.init(project="p", reinit="finish_previous")
    blob = "x" * (100 << 10)
    for i in range(mb * 10):
        runstore.log({"i": i, "blob": blob})
    ref = run._ref
    run.finish(quiet=True)
    assert ref.history_file().stat().st_size > (mb - 1) << 20
    return ref


def _remote_sizes(remote: Path, ref: RunRef) -> dict[str, int]:
    out = {}
    for rel, p in L.walk(remote / ref.rel):
        if not L.is_tmp(rel.rsplit("/", 1)[-1]):
            out[f"{ref.rel}/{rel}"] = os.stat(p).st_size
    return out


def test_a_sigkilled_sync_is_finished_by_the_next_one(capsys, tmp_path, store, remote_dir) -> None:
    ref = _big_run(store)
    local = local_files(ref)
    hist = remote_dir / ref.rel / L.HISTORY
    env = subprocess_env(tmp_path)
    partial = False
    for attempt in range(6):
        shutil.rmtree(remote_dir, ignore_errors=True)
        for p in (ref.path / L.CACHE_DIR).glob("sync-*.json"):
            p.unlink()
        proc = subprocess.Popen(
            [PY, "-m", "runstore", "sync", "--all", "--remote", str(remote_dir)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        t0 = time.monotonic()
        # kill as soon as the history starts arriving (later on each attempt), or after a while
        extra = 0.002 * attempt
        while proc.poll() is None and time.monotonic() - t0 < 20:
            if hist.exists():
                time.sleep(extra)
                break
            time.sleep(0.0005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        have = hist.stat().st_size if hist.exists() else 0
        if 0 < have < len(local[f"{ref.rel}/{L.HISTORY}"]):
            partial = True
            break
    before = _remote_sizes(remote_dir, ref)
    expected = sum(len(v) for v in local.values()) - sum(before.values())
    code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0, err
    assert doc["bytes"] == expected, (partial, before)
    assert remote_run(remote_dir, ref) == local
    if not partial:
        pytest.skip("could not kill the sync while the history was halfway (the rest was checked)")


# -- 3. repairs and divergence -------------------------------------------------------------------------
def test_a_remote_truncated_after_verification_is_completed(capsys, store, remote_dir) -> None:
    a = make_run(n=30)
    code, doc, _ = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert result_of(doc, a)["verified"]
    hist = remote_dir / a.rel / L.HISTORY
    size = hist.stat().st_size
    with open(hist, "r+b") as f:
        f.truncate(size // 3)
    code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0, err
    res = result_of(doc, a)
    assert not res["up_to_date"] and res["bytes"] == size - size // 3 and res["files"] == 1
    assert res["verified"] and doc["ok"]
    assert remote_run(remote_dir, a) == local_files(a)


@pytest.mark.parametrize("name", [L.HISTORY, L.RUN_LOG, f"{L.FILES_DIR}/{L.REQUIREMENTS}"])
def test_corrupted_same_size_is_repaired_by_include_synced(capsys, store, remote_dir, name) -> None:
    a = make_run(n=10)
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    p = remote_dir / a.rel / name
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x20
    p.write_bytes(bytes(data))
    # verified runs are compared by size only (documented): the corruption is not seen
    code, doc, _ = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0 and doc["bytes"] == 0
    code, doc, err = sync_json(capsys, "--all", "--include-synced", "--remote", str(remote_dir))
    assert code == 0, err
    res = result_of(doc, a)
    assert res["repaired"] == [f"{a.rel}/{name}"] and res["verified"]
    assert res["bytes"] == len(data)
    assert remote_run(remote_dir, a) == local_files(a)
    code, out, _ = cli(capsys, "sync", "--all", "--include-synced", "--remote", str(remote_dir))
    assert code == 0 and "everything is up to date" in out


def test_a_longer_remote_append_file_is_reported_not_overwritten(capsys, store, remote_dir) -> None:
    a = make_run(n=5)
    b = make_run(n=5)
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    hist = remote_dir / a.rel / L.HISTORY
    longer = hist.read_bytes() + b'{"_step": 99, "extra": 1}\n'
    hist.write_bytes(longer)
    for extra in ([], ["--include-synced"]):
        code, out, err = cli(capsys, "sync", "--all", "--remote", str(remote_dir), *extra)
        assert code == 1, out + err
        line = one_line_error(err)
        assert f"{a.rel}/{L.HISTORY}" in line and "diverged" in line and "Traceback" not in out
        assert hist.read_bytes() == longer
    code, doc, _ = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 1 and doc["ok"] is False
    assert result_of(doc, b)["ok"] and not result_of(doc, a)["ok"]
    assert [e for e in result_of(doc, a)["errors"] if L.HISTORY in e]
    assert hist.read_bytes() == longer


# -- 4. --json for CI, and an id taken by another run at the remote ----------------------------------
def test_json_shape_and_a_different_run_with_the_same_id(capsys, store, remote_dir) -> None:
    a = make_run(n=5)
    good = make_run(n=5)
    other = remote_dir / a.rel / L.RUN_LOG
    other.parent.mkdir(parents=True)
    theirs = orjson.dumps({"t": "init", "id": a.id, "project": "p", "host": "elsewhere", "created": 1.0})
    other.write_bytes(theirs + b"\n")
    code, out, err = cli(capsys, "sync", "--all", "--json", "--remote", str(remote_dir))
    assert code == 1
    doc = json.loads(out)
    assert {"remote", "ok", "bytes", "results"} <= set(doc)
    assert doc["remote"] == str(remote_dir) and doc["ok"] is False
    assert isinstance(doc["bytes"], int) and doc["bytes"] == sum(map(len, local_files(good).values()))
    bad = result_of(doc, a)
    assert bad["ok"] is False and bad["bytes"] == 0
    assert any("different run with this id" in e for e in bad["errors"])
    assert result_of(doc, good)["ok"] is True
    for r in doc["results"]:
        assert {"name", "ok", "bytes", "files", "repaired", "errors"} <= set(r)
    # nothing of ours was written over or next to theirs
    assert remote_run(remote_dir, a) == {f"{a.rel}/{L.RUN_LOG}": theirs + b"\n"}
    code, out, err = cli(capsys, "sync", a.id, "--remote", str(remote_dir))
    assert code == 1 and "different run with this id" in one_line_error(err)
    assert remote_run(remote_dir, a) == {f"{a.rel}/{L.RUN_LOG}": theirs + b"\n"}


# -- 5. ignore globs and --skip-console ---------------------------------------------------------------
def test_ignore_globs_of_a_git_run_keep_diff_patch_local(capsys, tmp_path, store, remote_dir) -> None:
    rid = git_run(tmp_path, {"WANDB_IGNORE_GLOBS": "*.patch"})
    ref = ref_of(store, rid)
    patch = ref.diff_patch
    assert patch.is_file() and b"two (uncommitted)" in patch.read_bytes()
    for extra in ([], ["--include-synced"]):
        code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir), *extra)
        assert code == 0, err
        assert not (remote_dir / ref.rel / L.FILES_DIR / L.DIFF_PATCH).exists()
        assert result_of(doc, ref)["ignored"] == [f"{ref.rel}/{L.FILES_DIR}/{L.DIFF_PATCH}"]
        assert patch.is_file()
    want = {k: v for k, v in local_files(ref).items() if not k.endswith(".patch")}
    assert remote_run(remote_dir, ref) == want
    code, out, _ = cli(capsys, "sync", "--all", "--remote", str(remote_dir))
    assert "everything is up to date" in out


def test_ignore_globs_of_saved_files(capsys, monkeypatch, store, remote_dir) -> None:
    monkeypatch.setenv("WANDB_IGNORE_GLOBS", "*.pt")
    a = make_run(save={"model.pt": os.urandom(2048), "sub.pt": b"x", "notes.txt": b"keep\n"})
    monkeypatch.delenv("WANDB_IGNORE_GLOBS")  # the run's own globs travel with it, not the env
    assert (a.files_dir / "model.pt").is_file()
    for extra in ([], ["--include-synced"]):
        code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir), *extra)
        assert code == 0, err
        there = remote_run(remote_dir, a)
        assert not [k for k in there if k.endswith(".pt")]
        assert f"{a.rel}/{L.FILES_DIR}/notes.txt" in there
        assert (a.files_dir / "model.pt").is_file() and (a.files_dir / "sub.pt").is_file()
    assert remote_run(remote_dir, a) == {k: v for k, v in local_files(a).items() if not k.endswith(".pt")}


def test_ignore_globs_from_the_sync_commands_environment(capsys, monkeypatch, store, remote_dir) -> None:
    a = make_run(save={"ckpt.bin": os.urandom(1000), "keep.txt": b"k"})
    monkeypatch.setenv("RUNSTORE_IGNORE_GLOBS", "*.bin")
    for extra in ([], ["--include-synced"]):
        code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir), *extra)
        assert code == 0, err
        assert not (remote_dir / a.rel / L.FILES_DIR / "ckpt.bin").exists()
        assert (remote_dir / a.rel / L.FILES_DIR / "keep.txt").read_bytes() == b"k"
        assert f"{a.rel}/{L.FILES_DIR}/ckpt.bin" in result_of(doc, a)["ignored"]
    assert (a.files_dir / "ckpt.bin").is_file()


def test_skip_console_keeps_output_log_local(capsys, tmp_path, store, remote_dir) -> None:
    e = subprocess_env(tmp_path)
    del e["RUNSTORE_CONSOLE"]
    code = (
        "import runstore\nrun = runstore.init(project='p')\nprint('hello from the console')\n"
        "runstore.log({'a': 1})\nrunstore.finish()\nprint(run.id)\n"
    )
    p = subprocess.run([PY, "-c", code], cwd=tmp_path, env=e, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    ref = ref_of(store, p.stdout.strip().splitlines()[-1])
    log = ref.output_log
    assert b"hello from the console" in log.read_bytes()
    rc, doc, err = sync_json(capsys, "--all", "--skip-console", "--remote", str(remote_dir))
    assert rc == 0, err
    assert not (remote_dir / ref.rel / L.FILES_DIR / L.OUTPUT_LOG).exists()
    assert result_of(doc, ref)["ignored"] == [f"{ref.rel}/{L.FILES_DIR}/{L.OUTPUT_LOG}"]
    assert log.is_file()
    assert remote_run(remote_dir, ref) == {
        k: v for k, v in local_files(ref).items() if not k.endswith(L.OUTPUT_LOG)
    }
    # without the flag it travels like any append file
    rc, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert rc == 0 and doc["bytes"] == log.stat().st_size
    assert remote_run(remote_dir, ref) == local_files(ref)


# -- 6. selecting runs, dry runs and errors ------------------------------------------------------------
def test_dry_run_sends_nothing(capsys, store, remote_dir) -> None:
    a = make_run(n=10)
    code, doc, _ = sync_json(capsys, "--all", "--dry-run", "--remote", str(remote_dir))
    assert code == 0 and doc["dry_run"] is True
    assert doc["bytes"] == sum(map(len, local_files(a).values())) > 0
    assert not remote_dir.exists() or remote_run(remote_dir, a) == {}
    code, out, _ = cli(capsys, "sync", "--all", "--dry-run", "--remote", str(remote_dir))
    assert code == 0 and "would send" in out and "everything is up to date" not in out
    assert not remote_dir.exists() or remote_run(remote_dir, a) == {}
    # after a real sync and more local bytes, a dry run leaves the remote as it is
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    before = tree(remote_dir, "projects")
    runstore.init(project="p", id=a.id, resume="must")
    runstore.log({"loss": 0.0})
    runstore.finish()
    code, doc, _ = sync_json(capsys, "--all", "--dry-run", "--remote", str(remote_dir))
    grown = sum(map(len, local_files(a).values())) - sum(map(len, remote_run(remote_dir, a).values()))
    assert doc["bytes"] == grown > 0
    assert tree(remote_dir, "projects") == before


def test_selecting_runs(capsys, store, remote_dir) -> None:
    a = make_run(project="p", id="alpha-1")
    b = make_run(project="p", id="beta-1")
    c = make_run(project="q", id="alpha-2", mode="offline")
    d = make_run(project="q", id="gamma-1", mode="offline")
    rd = str(remote_dir)

    def synced() -> set[str]:
        return {r.id for r in Store(remote_dir).iter_runs()} if remote_dir.exists() else set()

    def fresh() -> None:
        shutil.rmtree(remote_dir, ignore_errors=True)
        for ref in (a, b, c, d):
            for p in (ref.path / L.CACHE_DIR).glob("sync-*.json"):
                p.unlink()

    cases = [
        (["--all", "--include-globs", "alpha-*"], {"alpha-1", "alpha-2"}),
        (["--all", "--exclude-globs", "alpha-*,q/gamma-1"], {"beta-1"}),
        (["--all", "--include-globs", "q/*"], {"alpha-2", "gamma-1"}),
        (["--all", "-p", "q"], {"alpha-2", "gamma-1"}),
        (["--id", "beta-1"], {"beta-1"}),
        (["alpha-2"], {"alpha-2"}),
        (["p/alpha-1", str(d.path)], {"alpha-1", "gamma-1"}),
        (["--all", "--no-include-offline"], {"alpha-1", "beta-1"}),
        (["--all", "--no-include-online"], {"alpha-2", "gamma-1"}),
        (["--all"], {"alpha-1", "beta-1", "alpha-2", "gamma-1"}),
    ]
    for argv, want in cases:
        fresh()
        code, doc, err = sync_json(capsys, *argv, "--remote", rd)
        assert code == 0, (argv, err)
        assert {r["name"].split("/")[1] for r in doc["results"]} == want, argv
        assert synced() == want, argv


def test_usage_errors(capsys, monkeypatch, tmp_path, store, remote_dir) -> None:
    make_run()
    code, out, err = cli(capsys, "sync")
    assert code != 0 and "--all" in one_line_error(err)
    code, out, err = cli(capsys, "sync", "--all")
    assert code != 0 and "--remote" in one_line_error(err)
    code, out, err = cli(capsys, "pull", "abc")
    assert code != 0 and "--remote" in one_line_error(err)
    code, out, err = cli(capsys, "clean", "--force")
    assert code != 0 and "--remote" in one_line_error(err)
    code, out, err = cli(capsys, "sync", "nosuchrun", "--remote", str(remote_dir))
    assert code != 0 and "nosuchrun" in one_line_error(err)
    code, out, err = cli(capsys, "sync", "--id", "nosuchrun", "--remote", str(remote_dir))
    assert code != 0 and "nosuchrun" in one_line_error(err)
    assert not remote_dir.exists()


@pytest.mark.parametrize("url", ["http://x", "https://user:SeCrEt@example.com/x", "gs://x/y"])
def test_bad_remote_is_one_line(capsys, store, url) -> None:
    if url.startswith("gs://"):
        import importlib.util

        if importlib.util.find_spec("gcsfs") is not None:
            pytest.skip("gcsfs is installed")
    make_run()
    for argv in (
        ["sync", "--all", "--remote", url],
        ["pull", "abc", "--remote", url],
        ["init", "--remote", url],
    ):
        if argv[0] == "init" and url == "http://x":
            continue  # a server's URL is kept without a request: the server need not be up yet
        code, out, err = cli(capsys, *argv)
        assert code != 0, argv
        line = one_line_error(err)
        assert "SeCrEt" not in out + err
        if url.startswith("gs://"):
            assert "gcs" in line
        elif "SeCrEt" in url and argv[0] == "init":
            assert "credentials" in line  # refused before the scheme is even looked at
        else:
            assert "http" in line
    assert "remote" not in Store(store.root).read_settings()


def test_init_remote_is_used_by_sync(capsys, store, remote_dir, tmp_path) -> None:
    a = make_run()
    code, out, err = cli(capsys, "init", "--remote", str(remote_dir))
    assert code == 0, err
    code, doc, err = sync_json(capsys, "--all")
    assert code == 0 and doc["remote"] == str(remote_dir), err
    assert remote_run(remote_dir, a) == local_files(a)
    # a relative directory is made absolute: the store's remote does not depend on the cwd
    rel = tmp_path / "sub"
    rel.mkdir()
    assert cli(capsys, "init", "--remote", "rel-remote")[0] == 0
    os.chdir(rel)
    code, doc, err = sync_json(capsys, "--all")
    assert code == 0 and doc["remote"] == str(tmp_path / "rel-remote"), err
    assert remote_run(tmp_path / "rel-remote", a) == local_files(a)


# -- 7. sweeps travel ----------------------------------------------------------------------------------
SWEEP = """
program: prog.py
method: grid
name: travelling
metric: {name: loss, goal: minimize}
parameters:
  x: {values: [1, 2]}
"""
PROG = "import runstore\nrun = runstore.init()\nrunstore.log({'loss': run.config.x * 1.5})\n"


def test_sweeps_travel_with_their_trials(capsys, monkeypatch, tmp_path, store, remote_dir) -> None:
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    (tmp_path / "prog.py").write_text(PROG)
    monkeypatch.setenv("RUNSTORE_AGENT_POLL", "0.1")
    code, out, err = cli(capsys, "sweep", "--project", "p", "sweep.yaml")
    assert code == 0, err
    sid = out.splitlines()[0].rpartition(" ")[2]
    code, out, err = cli(capsys, "agent", "--count", "2", f"p/{sid}")
    assert code == 0, err
    trials = {r.id for r in store.iter_runs("p")}
    assert len(trials) == 2
    unrelated = make_run(project="p")
    code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0, err
    assert {r["name"] for r in doc["results"]} == {f"p/{t}" for t in trials | {unrelated.id}} | {
        f"sweep:{sid}"
    }
    sweep_rel = f"{L.SWEEPS_DIR}/{sid}"
    want_sweep = {f.rel: f.path.read_bytes() for f in store.sweep_files(sid) if f.kind != L.DERIVED}
    assert want_sweep and tree(remote_dir, sweep_rel) == want_sweep
    code, out, _ = cli(capsys, "sync", "--all", "--remote", str(remote_dir))
    assert "everything is up to date" in out
    # a second machine: an empty store
    other = tmp_path / "other" / ".wandb"
    monkeypatch.setenv("RUNSTORE_DIR", str(other))
    code, out, err = cli(capsys, "pull", f"sweep:{sid}", "--remote", str(remote_dir))
    assert code == 0, err
    ostore = Store(other)
    assert {r.id for r in ostore.iter_runs()} == trials  # the trials, not the unrelated run
    assert tree(other, sweep_rel) == want_sweep
    for t in trials:
        ref = ref_of(store, t)
        assert tree(other, ref.rel) == local_files(ref)
    code, out, err = cli(capsys, "sweep", "show", sid)
    assert code == 0, err
    assert f"sweep {sid} 'travelling'" in out and "2 run(s)" in out
    for t in trials:
        assert t in out
    code, out, err = cli(capsys, "pull", f"sweep:{sid}", "--remote", str(remote_dir))
    assert code == 0 and "already here" in out and "fetched" not in out, out


# -- 8. pull -------------------------------------------------------------------------------------------
def test_pull_into_an_empty_store(capsys, monkeypatch, tmp_path, store, remote_dir) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    g = git_run(tmp_path)
    plain = make_run(project="p", config={"lr": 0.5})
    gref = ref_of(store, g)
    assert gref.diff_patch.is_file()
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    other = tmp_path / "b" / ".wandb"
    monkeypatch.setenv("RUNSTORE_DIR", str(other))
    code, doc_out, err = cli(capsys, "pull", g, f"p/{plain.id}", "--remote", str(remote_dir), "--json")
    assert code == 0, err
    doc = json.loads(doc_out)
    assert doc["ok"] is True and doc["remote"] == str(remote_dir)
    for ref in (gref, plain):
        assert tree(other, ref.rel) == local_files(ref)  # history, files, diff.patch: same bytes
    assert ls_ids(capsys) == {g, plain.id}
    code, out, err = cli(capsys, "diff", g, plain.id)
    assert code == 0 and "lr" in out, err
    code, out, err = cli(capsys, "pull", g, "--remote", str(remote_dir))
    assert code == 0 and "already here" in out and "fetched" not in out
    # the source run goes on, is synced; a pull fetches only the new bytes
    monkeypatch.setenv("RUNSTORE_DIR", str(store.root))
    runstore.init(project="p", id=plain.id, resume="must")
    for i in range(5):
        runstore.log({"more": i})
    runstore.finish()
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    monkeypatch.setenv("RUNSTORE_DIR", str(other))
    have = tree(other, plain.rel)
    grown = local_files(plain)
    new = sum(len(v) - len(have.get(k, b"")) for k, v in grown.items())
    assert new > 0
    code, out, err = cli(capsys, "pull", plain.id[:5], "--remote", str(remote_dir), "--json")
    assert code == 0, err
    (res,) = json.loads(out)["results"]
    assert res["bytes"] == new
    assert tree(other, plain.rel) == grown
    # a local file that differs is an error naming it, and stays as it is
    hist = other / plain.rel / L.HISTORY
    bad = bytearray(hist.read_bytes())
    bad[-10] ^= 0x01
    hist.write_bytes(bytes(bad))
    code, out, err = cli(capsys, "pull", f"p/{plain.id}", "--remote", str(remote_dir))
    assert code == 1
    assert f"{plain.rel}/{L.HISTORY}" in one_line_error(err)
    assert hist.read_bytes() == bytes(bad)
    code, out, err = cli(capsys, "pull", "zzzz-no-such", "--remote", str(remote_dir))
    assert code != 0 and "zzzz-no-such" in one_line_error(err)


def test_pull_appends_what_the_remote_gained(capsys, monkeypatch, tmp_path, store, remote_dir) -> None:
    a = make_run(n=5)
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    other = tmp_path / "b" / ".wandb"
    monkeypatch.setenv("RUNSTORE_DIR", str(other))
    assert cli(capsys, "pull", a.id, "--remote", str(remote_dir))[0] == 0
    extra = b"".join(orjson.dumps({"_step": 100 + i, "late": i}) + b"\n" for i in range(3))
    with open(remote_dir / a.rel / L.HISTORY, "ab") as f:
        f.write(extra)
    code, out, err = cli(capsys, "pull", a.id, "--remote", str(remote_dir), "--json")
    assert code == 0, err
    (res,) = json.loads(out)["results"]
    assert res["bytes"] == len(extra) and res["files"] == 1
    assert tree(other, a.rel) == tree(remote_dir, a.rel)


def test_pull_of_an_ambiguous_prefix_is_an_error(capsys, monkeypatch, tmp_path, store, remote_dir) -> None:
    make_run(project="p", id="same1")
    make_run(project="q", id="same1")
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "b" / ".wandb"))
    code, _, err = cli(capsys, "pull", "same1", "--remote", str(remote_dir))
    assert code != 0 and "PROJECT/ID" in one_line_error(err)
    code, _, err = cli(capsys, "pull", "q/same1", "--remote", str(remote_dir))
    assert code == 0, err
    assert [(r.project, r.id) for r in Store(tmp_path / "b" / ".wandb").iter_runs()] == [("q", "same1")]


# -- 9. two machines, one remote --------------------------------------------------------------------
def test_two_stores_sync_concurrently_to_one_remote(capsys, monkeypatch, tmp_path, remote_dir) -> None:
    ids: dict[str, set[str]] = {}
    for m in ("m1", "m2"):
        monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / m / ".wandb"))
        ids[m] = {make_run(project="shared", n=50).id for _ in range(3)}
    procs = [
        subprocess.Popen(
            [PY, "-m", "runstore", "sync", "--all", "--json", "--remote", str(remote_dir)],
            env=subprocess_env(tmp_path, tmp_path / m / ".wandb"),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for m in ids
    ]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert json.loads(out)["ok"] is True
    assert ls_ids(capsys, "--dir", str(remote_dir)) == ids["m1"] | ids["m2"]
    for m in ids:
        s = Store(tmp_path / m / ".wandb")
        for ref in s.iter_runs():
            assert remote_run(remote_dir, ref) == local_files(ref)
    code, out, err = cli(capsys, "ls", "--remote", str(remote_dir), "--json", "--limit", "0")
    assert code == 0 and {r["id"] for r in json.loads(out)} == ids["m1"] | ids["m2"]


# -- 10. ls --remote ----------------------------------------------------------------------------------
def test_ls_remote_of_a_directory(capsys, store, remote_dir) -> None:
    a, b = make_run(), make_run(project="q")
    c = make_run()
    code, out, err = cli(capsys, "sync", a.id, f"q/{b.id}", "--remote", str(remote_dir))
    assert code == 0, err
    code, out, err = cli(capsys, "ls", "--remote", str(remote_dir), "--json")
    assert code == 0, err
    assert {r["id"] for r in json.loads(out)} == {a.id, b.id}
    code, out, err = cli(capsys, "ls", "--remote", str(remote_dir), "-p", "q", "--json")
    assert {r["id"] for r in json.loads(out)} == {b.id}
    code, out, err = cli(capsys, "ls", "--remote", str(remote_dir))
    assert code == 0 and a.id in out and c.id not in out
    code, out, err = cli(capsys, "ls", "--remote", str(remote_dir), "--dir", str(store.root))
    assert code != 0 and "--remote" in one_line_error(err)


def test_ls_remote_of_an_object_store_mirrors_only_run_logs(capsys, store) -> None:
    from runstore.cli.listing import remote_store

    refs = [make_run(n=3, save={"big.bin": os.urandom(5000)}), make_run(project="q")]
    url = "memory://bucket/team"
    rem = ObjectRemote(url)
    pusher = Pusher(store, rem)
    for ref in refs:
        res = pusher.push_run(ref)
        assert res.ok and res.verified, res.errors
    mirror = remote_store(url, None)
    assert mirror.is_relative_to(store.root)  # the mirror is a cache of the local store
    files = [rel for rel, _ in L.walk(mirror / L.PROJECTS_DIR)]
    assert sorted(files) == sorted(f"{r.project}/{L.RUNS_DIR}/{r.id}/{L.RUN_LOG}" for r in refs)
    for ref in refs:
        assert (mirror / ref.rel / L.RUN_LOG).read_bytes() == ref.run_log.read_bytes()
    runs = list(runstore.Api(store=mirror).runs("p")) + list(runstore.Api(store=mirror).runs("q"))
    assert {r.id for r in runs} == {r.id for r in refs}
    assert all(r.state == "finished" for r in runs)
    # the same through the CLI (in-process: memory:// is per process)
    code, out, err = cli(capsys, "ls", "--remote", url, "--json", "--limit", "0")
    assert code == 0, err
    assert {r["id"] for r in json.loads(out)} == {r.id for r in refs}
    # the listing leaves the local store's own runs alone
    assert {r.id for r in store.iter_runs()} == {r.id for r in refs}


# -- the object-store layout --------------------------------------------------------------------------
def _raw_keys(rem: ObjectRemote) -> list[str]:
    root = rem.root.lstrip("/") + "/"
    return sorted(p.lstrip("/")[len(root) :] for p in rem.fs.find(rem.root))


def test_object_store_push_compacts_and_pull_reconstructs(capsys, monkeypatch, tmp_path, store) -> None:
    url = "memory://bucket/objs"
    a = make_run(n=200, save={"w.bin": os.urandom(10000), "cfg.yaml": b"a: 1\n"})
    b = make_run(project="q", n=3)
    code, doc, err = sync_json(capsys, "--all", "--remote", url)
    assert code == 0 and doc["remote"] == url, err
    rem = ObjectRemote(url)
    keys = _raw_keys(rem)
    assert not [k for k in keys if f"/{L.SEGMENTS_DIR}/" in k]  # finished runs are compacted
    for ref in (a, b):
        for rel, data in local_files(ref).items():
            assert rem.read(rel) == data
    code, out, _ = cli(capsys, "sync", "--all", "--remote", url)
    assert "everything is up to date" in out
    # a resumed run streams as segments, then is compacted again once it has finished
    run = runstore.init(project="p", id=a.id, resume="must")
    runstore.log({"late": 1})
    code, doc, err = sync_json(capsys, a.id, "--remote", url)
    assert code == 0 and result_of(doc, a)["finished"] is False
    assert [k for k in _raw_keys(rem) if f"/{L.SEGMENTS_DIR}/" in k]
    run.finish()
    code, doc, err = sync_json(capsys, a.id, "--remote", url)
    assert code == 0 and result_of(doc, a)["verified"]
    assert not [k for k in _raw_keys(rem) if f"/{L.SEGMENTS_DIR}/" in k]
    # pulled back into an empty store: the same bytes, no segments/ in a local store
    other = tmp_path / "b" / ".wandb"
    monkeypatch.setenv("RUNSTORE_DIR", str(other))
    code, out, err = cli(capsys, "pull", a.id, f"q/{b.id}", "--remote", url)
    assert code == 0, err
    for ref in (a, b):
        assert tree(other, ref.rel) == local_files(ref)
    assert not list(other.rglob(L.SEGMENTS_DIR))


def test_pull_from_segments_of_a_live_run(store, tmp_path) -> None:
    """A run streamed (not finished) is held as segments; a pull chains them into the same bytes."""
    rem = ObjectRemote("memory://bucket/live")
    run = runstore.init(project="p")
    pusher = Pusher(store, rem)
    for i in range(4):
        runstore.log({"i": i})
        assert pusher.push_run(run._ref, finished=False).ok
    keys = _raw_keys(rem)
    assert [k for k in keys if f"/{L.SEGMENTS_DIR}/" in k]
    other = Store(tmp_path / "b" / ".wandb")
    res = Puller(other, rem).pull_run("p", run.id)
    assert res.ok, res.errors
    sent = {rel: size for rel, (_, size) in pusher.push_run(run._ref, finished=False).sent.items()}
    for rel, size in sent.items():
        assert (other.root / rel).read_bytes() == (store.root / rel).read_bytes()[:size]
    run.finish()


# -- 11. clean -----------------------------------------------------------------------------------------
def test_clean_deletes_only_finished_fully_synced_runs(capsys, tmp_path, store, remote_dir) -> None:
    synced = make_run()
    lost = make_run()
    rd = str(remote_dir)
    assert cli(capsys, "sync", "--all", "--remote", rd)[0] == 0
    unsynced = make_run()
    live = runstore.init(project="p")
    runstore.log({"a": 1})
    (remote_dir / lost.rel / L.FILES_DIR / L.REQUIREMENTS).unlink()  # the remote lost a file since
    code, out, err = cli(capsys, "clean", "--min-hours", "0", "--dry-run", "--remote", rd)
    assert code == 0, err
    assert synced.id in out and "would delete 1 run" in out
    for ref in (synced, lost, unsynced):
        assert ref.exists()
    code, out, err = cli(capsys, "clean", "--min-hours", "24", "--force", "--remote", rd)
    assert code == 0 and "nothing to clean" in out
    assert synced.exists()
    # without --force and nobody to answer: nothing is deleted
    p = subprocess.run(
        [PY, "-m", "runstore", "clean", "--min-hours", "0", "--remote", rd],
        env=subprocess_env(tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode != 0 and "Traceback" not in p.stderr
    assert synced.exists()
    code, out, err = cli(capsys, "clean", "--min-hours", "0", "--force", "--remote", rd)
    assert code == 0, err
    assert "deleted 1 run" in out
    assert not synced.path.exists()
    for ref in (lost, unsynced, live._ref):
        assert ref.exists(), ref
    assert remote_run(remote_dir, synced)  # its copy is still at the remote
    live.finish()
    # the cleaned run comes back with a pull, byte for byte
    code, out, err = cli(capsys, "pull", synced.id, "--remote", rd)
    assert code == 0, err
    assert local_files(synced) == remote_run(remote_dir, synced)


# -- 12. credentials ------------------------------------------------------------------------------------
SECRET = "SeCrEt"
CRED_URL = f"memory://user:{SECRET}@bucket/x"


def _grep_store(root: Path) -> list[str]:
    return [rel for rel, p in L.walk(root) if SECRET.encode() in Path(p).read_bytes()]


def test_init_refuses_a_remote_url_with_credentials(capsys, store) -> None:
    code, out, err = cli(capsys, "init", "--remote", CRED_URL)
    assert code != 0 and SECRET not in out + err and "credentials" in one_line_error(err)
    assert not store.settings_path.exists() or SECRET not in store.settings_path.read_text()


def test_credentials_in_the_environment_are_never_written_or_printed(capsys, monkeypatch, store) -> None:
    store.ensure()
    monkeypatch.setenv("RUNSTORE_REMOTE", CRED_URL)
    code, out, err = cli(capsys, "status")
    assert code == 0 and SECRET not in out + err and "memory://bucket/x" in out
    run = runstore.init(project="p")
    runstore.log({"a": 1})
    markers = list(store.live_dir.rglob("*")) if store.live_dir.exists() else []
    marker_files = [m for m in markers if m.is_file()]
    assert marker_files  # an online run with a remote has a live marker naming it
    for m in marker_files:
        assert SECRET not in m.read_text()
    assert any("memory://bucket/x" in m.read_text() for m in marker_files)
    run.finish()
    assert SECRET not in run._ref.run_log.read_text()
    code, out, err = cli(capsys, "sync", "--all")
    assert code == 0 and SECRET not in out + err, out + err
    code, out, err = cli(capsys, "sync", "--all", "--json")
    assert code == 0 and SECRET not in out + err and json.loads(out)["remote"] == "memory://bucket/x"
    code, out, err = cli(capsys, "ls", "--remote", CRED_URL)
    assert code == 0 and SECRET not in out + err and run.id in out
    assert _grep_store(store.root) == []


def test_status_json_strips_credentials(capsys, monkeypatch, store) -> None:
    store.ensure()
    monkeypatch.setenv("RUNSTORE_REMOTE", CRED_URL)
    code, out, err = cli(capsys, "status", "--json")
    assert code == 0
    assert SECRET not in out + err


def test_status_strips_credentials_of_the_environment(capsys, monkeypatch, store) -> None:
    store.ensure()
    monkeypatch.setenv("RUNSTORE_REMOTE", CRED_URL)
    code, out, err = cli(capsys, "status")
    assert code == 0 and "memory://bucket/x" in out
    assert SECRET not in out + err


# -- more round trips and the bugs they found -------------------------------------------------------------
def test_a_pulled_run_syncs_back_without_sending_anything(capsys, monkeypatch, tmp_path, remote_dir) -> None:
    a = make_run(n=12)
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    before = tree(remote_dir, a.rel)
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "b" / ".wandb"))
    assert cli(capsys, "pull", a.id, "--remote", str(remote_dir))[0] == 0
    code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0, err
    res = result_of(doc, a)
    assert res["up_to_date"] and res["verified"] and doc["bytes"] == 0
    assert tree(remote_dir, a.rel) == before
    code, out, _ = cli(capsys, "sync", "--all", "--remote", str(remote_dir))
    assert "everything is up to date" in out


@pytest.mark.parametrize("how", ["state-deleted", "pulled"])
def test_a_saved_file_is_not_sent_again_without_a_sync_state(capsys, monkeypatch, tmp_path, remote_dir, how):
    a = make_run(n=3, save={"w.bin": os.urandom(4000), "cfg.yaml": b"a: 1\n"})
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    before = tree(remote_dir, a.rel)
    if how == "state-deleted":
        for p in (a.path / L.CACHE_DIR).glob("sync-*.json"):
            p.unlink()
    else:
        monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "b" / ".wandb"))
        assert cli(capsys, "pull", a.id, "--remote", str(remote_dir))[0] == 0
    code, doc, err = sync_json(capsys, "--all", "--remote", str(remote_dir))
    assert code == 0 and result_of(doc, a)["verified"], err
    assert tree(remote_dir, a.rel) == before
    assert doc["bytes"] == 0 and result_of(doc, a)["up_to_date"]


def test_pull_refuses_a_run_that_is_running_here(capsys, store, remote_dir) -> None:
    run = runstore.init(project="p")
    runstore.log({"a": 1})
    code, doc, err = sync_json(capsys, run.id, "--remote", str(remote_dir))
    assert code == 0 and result_of(doc, run._ref)["finished"] is False, err
    before = local_files(run._ref)
    code, out, err = cli(capsys, "pull", run.id, "--remote", str(remote_dir))
    assert code == 1 and "running" in one_line_error(err)
    assert local_files(run._ref) == before
    run.finish()
    code, doc, err = sync_json(capsys, run.id, "--remote", str(remote_dir))
    assert code == 0 and result_of(doc, run._ref)["verified"], err
    assert remote_run(remote_dir, run._ref) == local_files(run._ref)


def test_object_store_repairs_and_reports_divergence(capsys, store) -> None:
    url = "memory://bucket/fix"
    a = make_run(n=30)
    assert cli(capsys, "sync", "--all", "--remote", url)[0] == 0
    rem = ObjectRemote(url)
    hist = f"{a.rel}/{L.HISTORY}"
    good = rem.read(hist)
    bad = bytearray(good)
    bad[5] ^= 0x01
    rem.fs.pipe_file(f"{rem.root}/{hist}", bytes(bad))
    code, doc, err = sync_json(capsys, "--all", "--include-synced", "--remote", url)
    assert code == 0, err
    assert result_of(doc, a)["repaired"] == [hist]
    assert ObjectRemote(url).read(hist) == good == a.history_file().read_bytes()
    # truncated: completed with a segment holding exactly the missing bytes, then compacted
    rem.fs.pipe_file(f"{rem.root}/{hist}", good[:100])
    code, doc, err = sync_json(capsys, "--all", "--remote", url)
    assert code == 0 and doc["bytes"] == len(good) - 100, err
    fresh = ObjectRemote(url)
    assert fresh.read(hist) == good
    assert not [k for k in _raw_keys(fresh) if f"/{L.SEGMENTS_DIR}/" in k]
    # longer at the remote: reported, left alone
    rem.fs.pipe_file(f"{rem.root}/{hist}", good + b'{"x": 1}\n')
    code, out, err = cli(capsys, "sync", "--all", "--remote", url)
    assert code == 1 and hist in one_line_error(err)
    assert ObjectRemote(url).read(hist) == good + b'{"x": 1}\n'


def test_sync_of_one_sweep_and_project_filter(capsys, monkeypatch, tmp_path, store, remote_dir) -> None:
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    (tmp_path / "prog.py").write_text(PROG)
    sids = []
    for project in ("p", "q"):
        code, out, err = cli(capsys, "sweep", "--project", project, "sweep.yaml")
        assert code == 0, err
        sids.append(out.splitlines()[0].rpartition(" ")[2])
    code, doc, err = sync_json(capsys, f"sweep:{sids[0]}", "--remote", str(remote_dir))
    assert code == 0, err
    assert [r["name"] for r in doc["results"]] == [f"sweep:{sids[0]}"]
    assert Store(remote_dir).sweeps_dir.is_dir()
    assert sorted(os.listdir(Store(remote_dir).sweeps_dir)) == [sids[0]]
    code, doc, err = sync_json(capsys, "--all", "-p", "q", "--remote", str(remote_dir))
    assert code == 0, err
    assert [r["name"] for r in doc["results"]] == [f"sweep:{sids[1]}"]
    assert sorted(os.listdir(Store(remote_dir).sweeps_dir)) == sorted(sids)
    code, out, err = cli(capsys, "sync", "sweep:nosuch", "--remote", str(remote_dir))
    assert code != 0 and "nosuch" in one_line_error(err)


def test_clean_keeps_runs_whose_files_stay_local(capsys, monkeypatch, store, remote_dir) -> None:
    """Ignored files and a console log kept local by --skip-console exist nowhere else."""
    monkeypatch.setenv("WANDB_IGNORE_GLOBS", "*.pt")
    a = make_run(save={"model.pt": b"weights"})
    monkeypatch.delenv("WANDB_IGNORE_GLOBS")
    b = make_run()
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    code, out, err = cli(capsys, "clean", "--min-hours", "0", "--force", "--remote", str(remote_dir))
    assert code == 0, err
    assert (a.files_dir / "model.pt").read_bytes() == b"weights"
    assert not b.path.exists()


def test_watch_and_json_do_not_combine(capsys, store, remote_dir) -> None:
    make_run()
    code, _, err = cli(capsys, "sync", "--all", "--watch", "--json", "--remote", str(remote_dir))
    assert code != 0 and "--watch" in one_line_error(err)
    assert not remote_dir.exists()


def test_a_claimed_id_taken_over_by_another_run_is_not_overwritten(capsys, monkeypatch, tmp_path, remote_dir):
    rd = str(remote_dir)
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "m1" / ".wandb"))
    mine = make_run(id="baseline", n=40, config={"who": "m1"})
    assert cli(capsys, "sync", "--all", "--remote", rd)[0] == 0
    shutil.rmtree(remote_dir / mine.rel)  # someone cleans up the remote...
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "m2" / ".wandb"))
    theirs = make_run(id="baseline", n=3, config={"who": "m2"})  # ...and another machine reuses the id
    assert cli(capsys, "sync", "--all", "--remote", rd)[0] == 0
    assert remote_run(remote_dir, theirs) == local_files(theirs)
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "m1" / ".wandb"))
    code, doc, err = sync_json(capsys, "--all", "--remote", rd)
    assert remote_run(remote_dir, theirs) == local_files(theirs)  # never merged, never overwritten
    assert code == 1 and any("different run with this id" in e for e in result_of(doc, mine)["errors"])


def test_pull_reports_an_immutable_file_that_differs(capsys, monkeypatch, tmp_path, remote_dir) -> None:
    a = make_run()
    assert cli(capsys, "sync", "--all", "--remote", str(remote_dir))[0] == 0
    other = tmp_path / "b" / ".wandb"
    monkeypatch.setenv("RUNSTORE_DIR", str(other))
    assert cli(capsys, "pull", a.id, "--remote", str(remote_dir))[0] == 0
    reqs = other / a.rel / L.FILES_DIR / L.REQUIREMENTS
    bad = bytearray(reqs.read_bytes())
    bad[0] ^= 0x01
    reqs.write_bytes(bytes(bad))
    code, out, err = cli(capsys, "pull", a.id, "--remote", str(remote_dir))
    assert reqs.read_bytes() == bytes(bad)
    assert code == 1 and f"{a.rel}/{L.FILES_DIR}/{L.REQUIREMENTS}" in one_line_error(err)


def test_a_push_with_a_stale_listing_continues_from_the_remotes_size(store, remote_dir) -> None:
    """Another sync (or the daemon) got further after this one listed the remote: no error, no byte twice."""
    from runstore.remotes.directory import DirRemote

    a = make_run(n=50)
    first = Pusher(store, DirRemote(remote_dir))
    assert first.push_run(a).verified
    hist = remote_dir / a.rel / L.HISTORY
    with open(hist, "r+b") as f:
        f.truncate(10)
    stale = DirRemote(remote_dir).listing(a.rel + "/")
    for p in (a.path / L.CACHE_DIR).glob("sync-*.json"):
        p.unlink()
    assert Pusher(store, DirRemote(remote_dir)).push_run(a).ok  # the other one completes it
    res = Pusher(store, DirRemote(remote_dir)).push_run(a, listing=stale)
    assert res.ok and res.verified and not res.repaired, res.errors
    assert remote_run(remote_dir, a) == local_files(a)
