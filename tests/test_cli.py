"""The CLI: init/off/on/status/ls/diff, RUN references, and one-line errors with exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

import runstore

cli = run_cli


def _make(project: str = "p", name: str | None = None, config=None, acc=0.5, **kw) -> str:
    run = runstore.init(project=project, name=name, config=config or {}, reinit="finish_previous", **kw)
    runstore.log({"acc": acc, "loss": 1 - acc})
    rid = run.id
    run.finish(quiet=True)
    return rid


def test_init_off_on_status(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RUNSTORE_DIR")
    code, out, _ = cli(capsys, "init", "--project", "peds", "--mode", "offline")
    assert code == 0 and "Initialized" in out
    settings = yaml.safe_load((tmp_path / ".wandb" / "settings.yaml").read_text())
    assert settings == {"project": "peds", "mode": "offline"}
    sub = tmp_path / "deep" / "er"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)  # found like .git from a subdirectory
    assert cli(capsys, "on")[0] == 0
    assert "mode" not in yaml.safe_load((tmp_path / ".wandb" / "settings.yaml").read_text())
    assert cli(capsys, "offline")[0] == 0
    assert yaml.safe_load((tmp_path / ".wandb" / "settings.yaml").read_text())["mode"] == "offline"
    code, out, _ = cli(capsys, "status", "--json")
    report = json.loads(out)
    assert report["store"] == str(tmp_path / ".wandb") and report["effective"]["mode"] == "offline"
    assert report["effective"]["project"] == "peds"
    # A run started from the subdirectory lands in that store with the default project.
    run = runstore.init()
    assert run.project == "peds" and str(tmp_path / ".wandb") in run.sync_dir and run.mode == "offline"
    run.finish(quiet=True)
    monkeypatch.chdir(tmp_path)  # `init`, like `git init`, works on the current directory
    assert cli(capsys, "init", "--reset")[0] == 0
    assert yaml.safe_load((tmp_path / ".wandb" / "settings.yaml").read_text()) in (None, {})


def test_init_rejects_bad_values(capsys) -> None:
    code, _, err = cli(capsys, "init", "--mode", "sideways")
    assert code == 1 and "mode" in err and "Traceback" not in err
    code, _, err = cli(capsys, "init", "--project", "a/b")
    assert code == 1 and "invalid project" in err


def test_ls_table_json_filter_sort_limit(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    a = _make(name="alpha", config={"lr": 0.1, "bs": 32}, acc=0.9)
    b = _make(name="beta", config={"lr": 0.01, "bs": 32}, acc=0.4)
    code, out, _ = cli(capsys, "ls")
    assert code == 0
    lines = out.splitlines()
    header = lines[0].split()
    assert header[:5] == ["name", "id", "state", "created", "runtime"]
    assert "lr" in header and "acc" in header and "bs" not in header  # only columns that vary
    assert lines[1].split()[0] == "beta" and lines[2].split()[0] == "alpha"  # newest first
    code, out, _ = cli(capsys, "ls", "--json", "--filter", "config.lr>0.05")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [a] and rows[0]["config"] == {"lr": 0.1, "bs": 32}
    assert rows[0]["summary"]["acc"] == 0.9 and rows[0]["state"] == "finished"
    code, out, _ = cli(capsys, "ls", "--json", "--sort", "+summary_metrics.acc")
    assert [r["id"] for r in json.loads(out)] == [b, a]
    code, out, _ = cli(capsys, "ls", "--json", "--filter", '{"config.lr": {"$lt": 0.05}}')
    assert [r["id"] for r in json.loads(out)] == [b]
    code, out, _ = cli(capsys, "ls", "--limit", "1")
    assert "1 more run" in out
    code, out, _ = cli(capsys, "ls", "--filter", "name~^al", "--json")
    assert [r["id"] for r in json.loads(out)] == [a]
    code, out, _ = cli(capsys, "ls", "--filter", "state=crashed")
    assert code == 0 and "no runs match" in out


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["ls", "--filter", "nonsense"], "FIELD OP VALUE"),
        (["ls", "--filter", "{bad json"], "not valid JSON"),
        (["ls", "--filter", "name~("], "regular expression"),
        (["ls", "--limit", "-3"], "--limit"),
        (["diff", "nosuchrun", "latest"], "no run matches"),
    ],
)
def test_cli_errors_are_one_line(capsys, argv, needle) -> None:
    _make()
    code, _, err = cli(capsys, *argv)
    assert code == 1
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_usage_errors_exit_2(capsys) -> None:
    code, _, err = cli(capsys, "frobnicate")
    assert code == 2 and "No such command" in err
    code, _, err = cli(capsys, "ls", "--limit", "many")
    assert code == 2


def test_no_store_is_a_clear_error(capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "nothing-here"))
    code, _, err = cli(capsys, "ls")
    assert code == 1 and "no runstore store" in err


def test_diff_reports_what_differs(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    a = _make(name="first", config={"lr": 0.1, "bs": 32, "opt": {"name": "adam"}}, acc=0.9)
    b = _make(name="second", config={"lr": 0.2, "bs": 32, "opt": {"name": "sgd"}, "new": 1}, acc=0.4)
    code, out, _ = cli(capsys, "diff", a, b, "--json")
    res = json.loads(out)
    assert res["config"] == {"lr": [0.1, 0.2], "new": [None, 1], "opt.name": ["adam", "sgd"]}
    assert res["summary"]["acc"] == [0.9, 0.4] and "bs" not in res["config"]
    code, out, _ = cli(capsys, "diff", a, b, "--all", "--json")
    assert json.loads(out)["config"]["bs"] == [32, 32]
    code, out, _ = cli(capsys, "diff", "first", b[:4], "--markdown")
    assert out.startswith("### runstore diff") and "| `lr` | 0.1 | 0.2 |" in out
    code, out, _ = cli(capsys, "diff", a, b)
    assert code == 0 and "lr" in out and "second" in out
    code, out, _ = cli(capsys, "diff", a, a)
    assert "no differences" in out


def test_run_references(capsys, tmp_path: Path) -> None:
    a = _make("p1", name="same")
    b = _make("p2", name="same")
    code, out, _ = cli(
        capsys, "diff", f"p1/{a}", str(tmp_path / ".wandb" / "projects" / "p2" / "runs" / b), "--json"
    )
    assert code == 0 and json.loads(out)["b"]["id"] == b
    code, _, err = cli(capsys, "diff", "same", "latest")
    assert code == 1 and "ambiguous" in err
    code, out, _ = cli(capsys, "diff", "latest", a, "--json")
    assert json.loads(out)["a"]["id"] == b


def test_real_subprocess_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0"}
    p = subprocess.run(
        [sys.executable, "-m", "runstore", "diff", "x", "y"], capture_output=True, text=True, env=env
    )
    assert p.returncode == 1 and p.stderr.startswith("error:") and "Traceback" not in p.stderr
    p = subprocess.run([sys.executable, "-m", "runstore", "--help"], capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "ls" in p.stdout


def test_messages_are_not_broken_mid_sentence_on_a_narrow_terminal(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(COLUMNS="60", RUNSTORE_DIR=str(tmp_path / "nowhere" / ".wandb"))
    r = subprocess.run(
        [sys.executable, "-m", "runstore", "status"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("store: ") and first.endswith("creates it)"), r.stdout


def test_every_command_and_subcommand_takes_dash_h(capsys):
    import typer

    from runstore.cli import app

    group = typer.main.get_command(app)
    paths = [[]]
    for name, cmd in group.commands.items():
        paths.append([name])
        for sub in getattr(cmd, "commands", {}) or {}:
            paths.append([name, sub])
    assert len(paths) > 15
    for path in paths:
        code, out, err = run_cli(capsys, *path, "-h")
        assert code == 0 and ("Usage:" in out or "usage:" in out), (path, err)
