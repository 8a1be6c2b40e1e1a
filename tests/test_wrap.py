"""`runstore run -- CMD`: exit codes, signals, console tee, metrics parsing, a child that joins the run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runstore
from runstore.wrap import parse_metrics

PY = sys.executable


def rs_run(
    tmp_path: Path, *args: str, stdout=subprocess.PIPE, timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(
        {
            "RUNSTORE_DIR": str(tmp_path / ".wandb"),
            "RUNSTORE_DAEMON": "0",
            "PATH": f"{Path(PY).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    return subprocess.run(
        [PY, "-m", "runstore", "run", *args],
        cwd=tmp_path,
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=timeout,
    )


def only_run(tmp_path: Path, project: str = "w"):
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs(project))
    assert len(runs) == 1
    return runs[0]


def test_exit_code_output_and_metadata(tmp_path: Path) -> None:
    p = rs_run(
        tmp_path,
        "-p",
        "w",
        "--name",
        "wrapped",
        "--tags",
        "a,b",
        "--tags",
        "c",
        "--",
        "sh",
        "-c",
        "echo to-out; echo to-err >&2; printf '\\rbar 1%%\\rbar 100%%\\n'; exit 3",
    )
    assert p.returncode == 3
    assert b"to-out" in p.stdout and b"to-err" in p.stderr and b"\rbar 1%\rbar 100%" in p.stdout
    r = only_run(tmp_path)
    assert (r.state, r.exit_code, r.name, r.tags) == ("failed", 3, "wrapped", ["a", "b", "c"])
    assert r.metadata["program"].endswith("sh") and r.metadata["args"][0] == "-c"
    log = (Path(r.dir) / "files" / "output.log").read_text().splitlines()
    assert "to-out" in log and "to-err" in log and "bar 100%" in log and "bar 1%" not in "".join(log)


def test_missing_command_is_a_clear_error(tmp_path: Path) -> None:
    p = rs_run(tmp_path, "-p", "w", "--", "definitely-not-a-command-xyz")
    assert p.returncode == 127
    assert p.stderr.decode().strip() == "error: command not found: definitely-not-a-command-xyz"
    assert not (tmp_path / ".wandb" / "projects" / "w").exists()  # no run for a command that never ran
    p = rs_run(tmp_path, "-p", "w")
    assert p.returncode == 2 and b"nothing to run" in p.stderr


def test_child_killed_by_a_signal(tmp_path: Path) -> None:
    p = rs_run(
        tmp_path, "-p", "w", "--", PY, "-c", "import os; print('before', flush=True); os.kill(os.getpid(), 9)"
    )
    assert p.returncode == 128 + 9 and b"before" in p.stdout
    r = only_run(tmp_path)
    assert r.state == "failed" and r.exit_code == 137
    assert "before" in (Path(r.dir) / "files" / "output.log").read_text()


def test_flood_of_100_mb(tmp_path: Path) -> None:
    # 100 MB in 1.6M lines; the terminal side goes to /dev/null, the log must hold every line.
    code = "import sys\nline = 'x' * 63 + '\\n'\nw = sys.stdout.write\nfor i in range(1_600_000): w(line)\n"
    p = rs_run(tmp_path, "-p", "w", "--", PY, "-c", code, stdout=subprocess.DEVNULL, timeout=300)
    assert p.returncode == 0
    log = Path(only_run(tmp_path).dir) / "files" / "output.log"
    assert log.stat().st_size == 1_600_000 * 64
    with log.open("rb") as f:
        assert sum(1 for _ in f) == 1_600_000


def test_parse_metrics_rows(tmp_path: Path) -> None:
    script = "for i in range(3):\n    print(f'epoch {i}: loss={1/(i+1):.3f} acc: {i*0.3:.1f} lr=1e-3 url=http://x:80')\n"
    p = rs_run(tmp_path, "-p", "w", "--parse-metrics", "--", PY, "-c", script)
    assert p.returncode == 0
    rows = list(only_run(tmp_path).scan_history())
    assert [r["loss"] for r in rows] == [1.0, 0.5, 0.333]
    assert [r["acc"] for r in rows] == [0.0, 0.3, 0.6] and rows[0]["lr"] == 0.001
    assert "epoch" not in rows[0] and "url" not in rows[0]


def test_parse_metrics_unit() -> None:
    assert parse_metrics("loss=0.5 acc: 1 n=-3 big=1e10 x=nan") == {
        "loss": 0.5,
        "acc": 1,
        "n": -3,
        "big": 1e10,
        "x": pytest.approx(float("nan"), nan_ok=True),
    }
    assert parse_metrics("12:30:01 started at http://host:8080/a=b") == {}
    assert parse_metrics("train/loss=0.1, val.acc: 0.2") == {"train/loss": 0.1, "val.acc": 0.2}


def test_instrumented_child_joins_the_run(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(
        "import os, runstore as wandb\n"
        "run = wandb.init(config={'lr': 0.1})\n"
        "assert run.id == os.environ['WANDB_RUN_ID']\n"
        "for i in range(3):\n    wandb.log({'loss': 1 / (i + 1)})\n"
        "wandb.run.summary['best'] = 1\n"
        "print('done')\n"
    )
    p = rs_run(tmp_path, "-p", "w", "--", "python", "train.py")
    assert p.returncode == 0, p.stderr
    r = only_run(tmp_path)  # one run, not two
    assert r.state == "finished" and r.config == {"lr": 0.1}
    assert [x["loss"] for x in r.scan_history()] == [1.0, 0.5, 1 / 3]
    assert r.summary["best"] == 1 and r.summary["loss"] == 1 / 3
    assert r.metadata["program"] == str(tmp_path / "train.py")


def test_sigterm_is_forwarded_to_the_child(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update({"RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0"})
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('got term', flush=True), sys.exit(5)))\n"
        "print('ready', flush=True)\ntime.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [PY, "-m", "runstore", "run", "-p", "w", "--", PY, "-c", code],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 5
    assert b"got term" in proc.stdout.read()
    assert only_run(tmp_path).exit_code == 5


def test_disabled_mode_runs_the_command_and_tracks_nothing(tmp_path: Path, capfd) -> None:
    env = {**os.environ, "WANDB_MODE": "disabled", "RUNSTORE_DIR": str(tmp_path / ".wandb")}
    p = subprocess.run(
        [PY, "-m", "runstore", "run", "--", PY, "-c", "print('hi'); raise SystemExit(3)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert p.returncode == 3 and "hi" in p.stdout
    assert not (tmp_path / ".wandb" / "projects").exists()


def test_a_child_that_clears_wandb_variables_starts_fresh_runs(tmp_path: Path) -> None:
    """wandb's cross-validation recipe: the wrapped script starts workers with every WANDB_* variable
    removed, so each worker's init() makes a run of its own. A RUNSTORE_* twin of WANDB_RUN_ID left in
    the environment would make every worker reuse (and fail on) the wrapper's run."""
    (tmp_path / "cv.py").write_text(
        "import os, subprocess, sys\n"
        "import runstore\n"
        "run = runstore.init()  # joins the wrapper's run\n"
        "print('PARENT', run.id, flush=True)\n"
        "env = {k: v for k, v in os.environ.items() if not k.startswith('WANDB_')}\n"
        "for fold in range(2):\n"
        "    out = subprocess.run([sys.executable, '-c', 'import runstore; r = runstore.init(project=\"cv\"); "
        "print(r.id); r.finish()'], env=env, capture_output=True, text=True, timeout=60)\n"
        "    assert out.returncode == 0, out.stderr\n"
        "    print('FOLD', out.stdout.split()[-1], flush=True)\n"
        "run.finish()\n"
    )
    p = rs_run(tmp_path, "-p", "w", "--", PY, "cv.py")
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stdout.decode().split("\n")
    parent = next(ln.split()[1] for ln in lines if ln.startswith("PARENT"))
    folds = [ln.split()[1] for ln in lines if ln.startswith("FOLD")]
    assert len(folds) == 2 and parent not in folds and folds[0] != folds[1]
    assert sorted(r.id for r in runstore.Api(store=tmp_path / ".wandb").runs("cv")) == sorted(folds)
    assert only_run(tmp_path).id == parent


def test_the_wrappers_run_wins_over_a_stale_runstore_variable(tmp_path: Path, monkeypatch) -> None:
    """A RUNSTORE_RUN_ID / RUNSTORE_PROJECT inherited by `runstore run` does not reach its child."""
    (tmp_path / "join.py").write_text(
        "import os, runstore\n"
        "print('SEEN', os.environ.get('RUNSTORE_RUN_ID'), os.environ.get('RUNSTORE_PROJECT'), flush=True)\n"
        "r = runstore.init(); print('JOINED', r.id, r.project, flush=True); r.finish()\n"
    )
    monkeypatch.setenv("RUNSTORE_RUN_ID", "stale123")
    monkeypatch.setenv("RUNSTORE_PROJECT", "elsewhere")
    env = {**os.environ, "RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0"}
    p = subprocess.run(
        [PY, "-m", "runstore", "run", "-p", "w", "--", PY, "join.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert "SEEN None None" in p.stdout
    joined = next(ln.split() for ln in p.stdout.splitlines() if ln.startswith("JOINED"))
    run = only_run(tmp_path)
    assert joined[1:] == [run.id, "w"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _commit_repo(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.email", "t@example.com")
    _git(path, "config", "user.name", "t")
    (path / "README").write_text(path.name + "\n")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "init")
    return _git(path, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("form", [["-m", "pkg.train", "--lr", "1"], ["-c", "import pkg.train", "--lr", "1"]])
def test_python_m_and_c_record_the_working_directorys_repository(tmp_path, form):
    """The interpreter lives in another git repository (as a pyenv checkout does): the run's git state,
    code and rerun command are the working directory's, never the interpreter's."""
    interp_sha = _commit_repo(tmp_path / "interp")
    (tmp_path / "interp" / "bin").mkdir()
    python = tmp_path / "interp" / "bin" / "python3"
    python.symlink_to(PY)
    work = tmp_path / "work"
    work_sha = _commit_repo(work)
    (work / "pkg").mkdir()
    (work / "pkg" / "__init__.py").write_text("")
    (work / "pkg" / "train.py").write_text("print('trained')\n")
    r = rs_run(work, "-p", "w", "--", str(python), *form)
    assert r.returncode == 0, r.stderr
    run = only_run(work)
    git_meta = run.metadata["git"]
    assert git_meta["commit"] == work_sha != interp_sha
    assert Path(git_meta["root"]) == work
    assert "codePath" not in run.metadata
    from runstore.capture.restore import rerun_command
    from runstore.store.runs import load_run
    from runstore.store.store import Store

    st = load_run(Store(work / ".wandb").find_run_by_id(run.id, "w"))
    assert rerun_command(st) == "python " + " ".join(f"'{a}'" if " " in a else a for a in form)
