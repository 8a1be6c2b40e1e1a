"""Metadata, git state, diff.patch, requirements and code capture at init, and `runstore restore`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli

import runstore
from runstore.capture.git import strip_credentials
from runstore.store.runs import load_run
from runstore.store.store import Store

PY = sys.executable


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "t@example.com")
    git(r, "config", "user.name", "t")
    (r / "train.py").write_text(
        "import runstore\nrun = runstore.init(project='p')\nrunstore.log({'a': 1})\n"
        "runstore.finish()\nprint(run.id)\n"
    )
    (r / "model.bin").write_bytes(bytes(range(256)))
    (r / "old_name.txt").write_text("to be renamed\n")
    (r / "data.txt").write_text("line one\n")
    git(r, "add", ".")
    git(r, "commit", "-q", "-m", "init")
    git(r, "remote", "add", "origin", "https://alice:s3cret@example.com/team/repo.git")
    return r


def run_train(repo: Path, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    e = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    e.update({"RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0", **(env or {})})
    p = subprocess.run([PY, "train.py", *args], cwd=repo, env=e, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1]


def state(tmp_path: Path, rid: str):
    ref = Store(tmp_path / ".wandb").find_run_by_id(rid)
    assert ref is not None
    return load_run(ref)


def make_dirty(repo: Path) -> dict[str, bytes]:
    """Unstaged edit, staged edit, binary change, rename, new staged file; returns expected contents."""
    (repo / "data.txt").write_text("line one\nline two (unstaged)\n")
    (repo / "model.bin").write_bytes(bytes(range(255, -1, -1)) + b"\x00\xff")
    git(repo, "mv", "old_name.txt", "new_name.txt")
    (repo / "staged.txt").write_text("staged only\n")
    git(repo, "add", "staged.txt", "model.bin")
    return {
        name: (repo / name).read_bytes() for name in ("data.txt", "model.bin", "new_name.txt", "staged.txt")
    }


def test_metadata_and_git_state(repo: Path, tmp_path: Path) -> None:
    (repo / "scratch.txt").write_text("untracked")
    rid = run_train(repo, tmp_path, "--lr", "0.1")
    st = state(tmp_path, rid)
    meta = st.metadata
    g = meta["git"]
    assert g["commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert g["branch"] == "main" and g["dirty"] is False
    assert g["remote"] == "https://example.com/team/repo.git"  # credentials stripped
    assert g["untracked"] == ["scratch.txt"]  # the store ignores itself via .wandb/.gitignore
    assert meta["codePath"] == "train.py" and meta["root"] == str(repo)
    for key in ("os", "username", "executable", "cpu_count_logical", "memory"):
        assert key in meta, key
    assert st.info["args"] == ["--lr", "0.1"] and st.info["program"] == str(repo / "train.py")
    files = st.path / "files"
    assert not (files / "diff.patch").exists()  # clean tree: nothing to patch
    reqs = (files / "requirements.txt").read_text().splitlines()
    names = [line.split("==")[0].lower() for line in reqs]
    assert "orjson" in names and names == sorted(names)
    api_meta = runstore.Api(store=tmp_path / ".wandb").run(rid).metadata
    assert api_meta["git"]["commit"] == g["commit"] and api_meta["program"] == str(repo / "train.py")


def test_diff_patch_holds_staged_unstaged_binary_and_renames(repo: Path, tmp_path: Path) -> None:
    make_dirty(repo)
    rid = run_train(repo, tmp_path)
    patch = (state(tmp_path, rid).path / "files" / "diff.patch").read_bytes()
    assert b"line two (unstaged)" in patch and b"staged only" in patch
    assert b"GIT binary patch" in patch and b"rename from old_name.txt" in patch
    assert state(tmp_path, rid).metadata["git"]["dirty"] is True


def test_outside_git_nothing_captured_and_no_warning(tmp_path: Path) -> None:
    d = tmp_path / "plain"
    d.mkdir()
    (d / "train.py").write_text(
        "import runstore\nrun = runstore.init(project='p')\nrunstore.finish()\nprint(run.id)\n"
    )
    e = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    e.update({"RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0"})
    p = subprocess.run([PY, "train.py"], cwd=d, env=e, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "WARNING" not in p.stderr
    st = state(tmp_path, p.stdout.strip().splitlines()[-1])
    assert "git" not in st.metadata and not (st.path / "files" / "diff.patch").exists()
    assert (st.path / "files" / "requirements.txt").exists()


@pytest.mark.parametrize(
    "env,patch,code",
    [
        ({"WANDB_DISABLE_GIT": "true"}, False, False),
        ({"WANDB_DISABLE_CODE": "true"}, False, False),
        ({"WANDB_SAVE_CODE": "true"}, True, True),
        ({"WANDB_SAVE_CODE": "false"}, False, False),
        # ignore globs keep files out of remotes, not out of the run: restore still needs diff.patch
        ({"WANDB_IGNORE_GLOBS": "*.patch,requirements.txt"}, True, False),
    ],
)
def test_code_capture_switches(repo: Path, tmp_path: Path, env, patch, code) -> None:
    make_dirty(repo)
    rid = run_train(repo, tmp_path, env=env)
    st = state(tmp_path, rid)
    files = st.path / "files"
    assert (files / "diff.patch").exists() == patch
    assert (files / "code" / "train.py").exists() == code
    assert (files / "requirements.txt").exists()
    assert st.info["ignore_globs"] == [g for g in env.get("WANDB_IGNORE_GLOBS", "").split(",") if g]
    assert ("git" in st.metadata) == ("WANDB_DISABLE_GIT" not in env)


def test_strip_credentials() -> None:
    assert strip_credentials("https://u:p@h.com/r.git") == "https://h.com/r.git"
    assert strip_credentials("ssh://git@h.com:22/r.git") == "ssh://h.com:22/r.git"
    assert strip_credentials("git@github.com:o/r.git") == "git@github.com:o/r.git"
    assert strip_credentials("https://h.com/r.git") == "https://h.com/r.git"


# -- restore -------------------------------------------------------------------------------------

cli = run_cli


def test_restore_reproduces_the_exact_files(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    expected = make_dirty(repo)
    rid = run_train(repo, tmp_path, "--epochs", "3")
    commit = git(repo, "rev-parse", "HEAD").strip()
    # Move on: commit the work, change more, leave a clean tree on another commit.
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "later")
    (repo / "data.txt").write_text("rewritten later\n")
    git(repo, "commit", "-qam", "even later")
    monkeypatch.chdir(repo)
    code, out, err = cli(capsys, "restore", rid)
    assert code == 0, err
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"runstore/{rid}"
    assert git(repo, "rev-parse", "HEAD").strip() == commit
    for name, content in expected.items():
        assert (repo / name).read_bytes() == content, name
    assert not (repo / "old_name.txt").exists()
    assert "re-run with: python train.py --epochs 3" in out
    cfg = (tmp_path / ".wandb" / "restore" / rid / "config.yaml").read_text()
    assert cfg.startswith("wandb_version: 1")


def test_restore_refuses_a_dirty_tree_unless_forced(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    make_dirty(repo)
    rid = run_train(repo, tmp_path)
    monkeypatch.chdir(repo)
    code, _, err = cli(capsys, "restore", rid)
    assert code == 1 and "uncommitted changes" in err and "Traceback" not in err
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # nothing touched
    code, out, err = cli(capsys, "restore", rid, "--force")
    assert code == 0, err
    assert "stash" in out and "runstore restore" in git(repo, "stash", "list")


def test_restore_errors_are_clear(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text((repo / "train.py").read_text())
    e = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    e.update({"RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0"})
    p = subprocess.run([PY, "train.py"], cwd=plain, env=e, capture_output=True, text=True, timeout=60)
    outside_id = p.stdout.strip().splitlines()[-1]
    monkeypatch.chdir(repo)
    code, _, err = cli(capsys, "restore", outside_id)
    assert code == 1 and "not captured inside a git repository" in err and "--no-git" in err
    code, _, err = cli(capsys, "restore", "zzzzzzzz")
    assert code == 1 and "no run matches" in err and "Traceback" not in err
    rid = run_train(repo, tmp_path)
    monkeypatch.chdir(plain)
    code, _, err = cli(capsys, "restore", rid)
    assert (
        code == 1
        and "not inside a git repository" in err
        and "git clone https://example.com/team/repo.git" in err
    )
    code, out, err = cli(capsys, "restore", rid, "--no-git")
    assert code == 0 and "config:" in out


def test_restore_no_git_copies_saved_code(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    rid = run_train(repo, tmp_path, env={"WANDB_SAVE_CODE": "true"})
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli(capsys, "restore", rid, "--no-git")
    assert code == 0
    restored = tmp_path / ".wandb" / "restore" / rid / "files" / "code" / "train.py"
    assert restored.read_text() == (repo / "train.py").read_text()


def test_requirements_cache_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    from runstore.capture import environment

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    store = Store(tmp_path / ".wandb")
    first = environment.requirements_cached(store)
    cache = store.requirements_cache("x").parent
    assert "orjson==" in first.lower() and len(list(cache.iterdir())) == 1
    cached = next(cache.iterdir())
    cached.write_text("marker==1\n")  # proves the second call reads the cache
    assert environment.requirements_cached(store) == "marker==1\n"
    time.sleep(0.01)
    (site / "newpkg-1.0.dist-info").mkdir()  # what `pip install` does to a site directory
    assert environment.requirements_cached(store) == first  # a new key: scanned again
    assert environment.requirements_cached(None) == first


@pytest.mark.parametrize("target", [".wandb/settings.yaml", ".git/hooks/post-checkout"])
def test_restore_refuses_a_patch_that_changes_the_store_or_git(
    repo: Path, tmp_path: Path, capsys, monkeypatch, target: str
) -> None:
    """A diff.patch is data anyone writing the store could have written (issue 9 item 4)."""
    store = repo / ".wandb"
    rid = run_train(repo, tmp_path, env={"RUNSTORE_DIR": str(store)})
    st = load_run(Store(store).find_run_by_id(rid))
    evil = (
        f"diff --git a/{target} b/{target}\nnew file mode 100644\n--- /dev/null\n+++ b/{target}\n"
        "@@ -0,0 +1 @@\n+remote: s3://attacker/bucket\n"
    )
    legit = st.ref.diff_patch.read_text() if st.ref.diff_patch.exists() else ""
    st.ref.diff_patch.write_text(legit + evil)
    (repo / "scratch.txt").write_text("dirty")  # an untracked file does not block restore
    monkeypatch.chdir(repo)
    monkeypatch.setenv("RUNSTORE_DIR", str(store))
    settings_before = (store / "settings.yaml").read_bytes() if (store / "settings.yaml").exists() else None
    code, out, err = cli(capsys, "restore", rid)
    assert code == 1 and "refusing to apply" in err and target in err
    assert len(err.strip().splitlines()) == 1
    now = (store / "settings.yaml").read_bytes() if (store / "settings.yaml").exists() else None
    assert now == settings_before
    assert not (repo / ".git" / "hooks" / "post-checkout").exists()


def test_restore_no_git_skips_a_planted_symlink(repo: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    rid = run_train(repo, tmp_path)
    st = state(tmp_path, rid)
    (st.ref.files_dir / "passwd").symlink_to("/etc/passwd")
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "restore", rid, "--no-git")
    assert code == 0, err
    restored = tmp_path / ".wandb" / "restore" / rid / "files"
    assert not (restored / "passwd").exists()
    f = next(iter(runstore.Api().run(rid).files()), None)
    assert f is not None and all(x.name != "passwd" for x in runstore.Api().run(rid).files())
