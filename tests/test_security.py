"""A store shared between users (issue 9, items 1-3 and 5): the daemon, possibly root, never reads,
appends to or signals what another user of the store points it at, and runstore never creates anything
world-writable. The other user is a uid the test chowns files to (needs root), the daemon a real process."""

from __future__ import annotations

import fcntl
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_daemon import child_env, procs, start_daemon, start_training, store, wait_for  # noqa: F401

from runstore.store.store import Store

PY = sys.executable
OTHER_UID, OTHER_GID = 54321, 54321
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chowning files to another user needs root")


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for d, dirs, files in os.walk(path):
        for n in dirs + files:
            os.chown(os.path.join(d, n), uid, gid, follow_symlinks=False)


def _as_other_user(code: str) -> None:
    """Run `code` in a process of the other user: what that user can do to their own run."""

    def drop() -> None:
        os.setgroups([])
        os.setgid(OTHER_GID)
        os.setuid(OTHER_UID)

    # the system's interpreter: the test's own may live where the other user cannot read (/root)
    python = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.access(p, os.X_OK)), None)
    if python is None:
        pytest.skip("no system python3 the other user could run")
    r = subprocess.run(
        [python, "-I", "-S", "-c", code], preexec_fn=drop, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0, r.stderr


@pytest.fixture
def traversable(tmp_path: Path):
    """pytest's temporary directories are 0700: let the other user reach this test's, as they reach a
    shared store, and put the modes back afterwards."""
    saved = []
    for d in (tmp_path, *tmp_path.parents):
        if d == Path(d.anchor) or d == Path("/tmp"):
            break
        mode = stat.S_IMODE(d.stat().st_mode)
        saved.append((d, mode))
        d.chmod(mode | stat.S_IXOTH)
    yield
    for d, mode in saved:
        d.chmod(mode)


def _run_dir(root: Path, run_id: str) -> Path:
    return root / "projects" / "p" / "runs" / run_id


@as_root
def test_daemon_copies_only_files_the_runs_owner_owns(tmp_path, store, procs, traversable):  # noqa: F811
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    os.chmod(secret, 0o600)  # root's
    mine = tmp_path / "mine.txt"
    mine.write_text("the user's own file")
    os.chmod(mine, 0o640)
    os.chown(mine, OTHER_UID, OTHER_GID)
    train, rid = start_training(procs, tmp_path, steps=100_000, pause=0.01)
    run_dir = _run_dir(store, rid)
    _chown_tree(run_dir, OTHER_UID, OTHER_GID)  # the run is the other user's
    forged = "".join(
        f'{{"t":"save","src":"{src}","path":"{name}","policy":"live","sig":null}}\n'
        for src, name in ((secret, "stolen.txt"), (mine, "mine.txt"), ("/etc/shadow", "shadow"))
    )
    _as_other_user(f"open({str(run_dir / 'run.jsonl')!r}, 'a').write({forged!r})")
    start_daemon(procs, store, interval=0.05)
    files = run_dir / "files"
    assert wait_for(lambda: (files / "mine.txt").exists(), 15)
    time.sleep(0.5)
    assert not (files / "stolen.txt").exists() and not (files / "shadow").exists()
    assert (files / "mine.txt").read_text() == "the user's own file"
    st = (files / "mine.txt").stat()
    assert stat.S_IMODE(st.st_mode) == 0o640 & stat.S_IMODE(files.stat().st_mode)  # never wider
    assert (st.st_uid, st.st_gid) == (OTHER_UID, OTHER_GID)
    log = Store(store).daemon_log.read_text()
    assert "secret.txt refused" in log and "not by the run's owner" in log


@as_root
def test_daemon_never_appends_through_a_planted_symlink(tmp_path, store, procs, traversable):  # noqa: F811
    target = tmp_path / "root-only.txt"
    target.write_text("ORIGINAL\n")
    os.chmod(target, 0o600)
    train, rid = start_training(procs, tmp_path, steps=100_000, pause=0.01)
    run_dir = _run_dir(store, rid)
    _chown_tree(run_dir, OTHER_UID, OTHER_GID)
    system = run_dir / "system.jsonl"
    _as_other_user(  # the other user swaps their run's system.jsonl for a link to root's file
        f"import os; p = {str(system)!r}\nif os.path.lexists(p): os.unlink(p)\nos.symlink({str(target)!r}, p)"
    )
    start_daemon(procs, store, interval=0.05)
    time.sleep(1.5)  # ~30 ticks
    assert target.read_text() == "ORIGINAL\n"
    assert system.is_symlink()


def test_daemon_stop_refuses_a_pid_that_is_not_the_daemon(tmp_path, store, capsys):  # noqa: F811
    """A user replaces daemon.pid with another process's pid and holds the lock: stop signals no one."""
    from conftest import run_cli

    victim = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    try:
        pid_file = Store(store).daemon_pid
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(pid_file, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)  # the attacker holds the lock...
        os.ftruncate(fd, 0)
        os.write(fd, f"{victim.pid}\n".encode())  # ...and names the victim
        code, out, err = run_cli(capsys, "daemon", "stop", "--dir", str(store))
        assert code == 1 and f"refusing to signal pid {victim.pid}" in err
        assert "kill -9" not in err and len(err.strip().splitlines()) == 1
        time.sleep(0.2)
        assert victim.poll() is None  # alive
        os.close(fd)
    finally:
        victim.kill()
        victim.wait()


def test_daemon_stop_still_stops_the_real_daemon(store, procs, capsys):  # noqa: F811
    from conftest import run_cli

    d = start_daemon(procs, store, interval=0.05)
    code, out, err = run_cli(capsys, "daemon", "stop", "--dir", str(store))
    assert code == 0, err
    assert d.wait(timeout=10) == 0


def test_nothing_runstore_creates_is_world_writable_even_with_umask_0(tmp_path):
    code = """
import os, numpy as np
os.umask(0)
import runstore
run = runstore.init(project="p", config={"lr": 0.1})
run.log({"a": 1, "img": runstore.Image(np.zeros((4, 4, 3), dtype=np.uint8))})
open("saved.txt", "w").write("x")
run.save("saved.txt", policy="now")
run.log_code(".")
run.finish()
os.umask(0o022)
"""
    env = child_env(RUNSTORE_DIR=str(tmp_path / ".wandb"), RUNSTORE_CONSOLE="wrap")
    r = subprocess.run([PY, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    found = []
    for d, _dirs, files in os.walk(tmp_path / ".wandb"):
        for n in [d, *(os.path.join(d, f) for f in files)]:
            mode = os.lstat(n).st_mode
            if not stat.S_ISLNK(mode) and mode & stat.S_IWOTH:
                found.append((n, oct(mode)))
    assert not found
    assert len(list((tmp_path / ".wandb").rglob("*"))) > 10
