"""`runstore sweep` / `runstore agent` on the command line, and the read side (`Api().sweep`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli
from test_sweep_agent_helpers import register_cli, store_of

import runstore
from runstore.store import sweeps as S

CONFIG = """
program: prog.py
method: grid
name: clisweep
metric: {name: loss, goal: minimize}
parameters:
  x: {values: [3, 1, 2]}
  opt:
    parameters:
      name: {value: adam}
"""
PROG = "import runstore\nrun = runstore.init()\nrunstore.log({'loss': run.config.x * 1.5})\n"


@pytest.fixture(autouse=True)
def _cli(tmp_path: Path) -> None:
    register_cli()
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "prog.py").write_text(PROG)


def _create(capsys, *extra: str) -> str:
    code, out, err = run_cli(capsys, "sweep", "--project", "p", *extra, "config.yaml")
    assert code == 0, err
    lines = out.splitlines()
    sid = lines[0].rpartition(" ")[2]
    assert lines[0] == f"Created sweep with ID: {sid}"
    assert lines[1] == f"Run sweep agent with: runstore agent p/{sid}"
    return sid


def _sweep(path: str):
    api = runstore.Api()
    if hasattr(api, "sweep"):
        return api.sweep(path)
    from runstore.api import Sweep

    return Sweep.load(api, path)


def test_create_run_and_read_back(capsys, tmp_path: Path) -> None:
    sid = _create(capsys)
    code, out, err = run_cli(capsys, "agent", "--count", "2", f"p/{sid}")
    assert code == 0, err
    code, out, err = run_cli(capsys, "agent", sid)
    assert code == 0 and "the sweep is finished" in err
    sw = _sweep(f"p/{sid}")
    assert (sw.id, sw.name, sw.state, sw.expected_run_count) == (sid, "clisweep", "FINISHED", 3)
    assert sw.config["metric"]["name"] == "loss" and len(sw.runs) == 3
    best = sw.best_run()
    assert best.config["x"] == 1 and best.config["opt"] == {"name": "adam"} and best.summary["loss"] == 1.5
    assert sw.best_run(order="-summary_metrics.loss").config["x"] == 3
    code, out, _ = run_cli(capsys, "sweep", "show", sid)
    assert code == 0 and f"sweep {sid} 'clisweep': FINISHED" in out and "3 run(s) of 3 (3 finished)" in out
    rows = [line for line in out.splitlines() if line.split("│")[0].strip() in {r.id for r in sw.runs}]
    assert [r.split("│")[3].strip() for r in rows] == ["1.5", "3", "4.5"]  # best first
    code, out, _ = run_cli(capsys, "ls", "--sweep", sid, "--json")
    assert code == 0 and out.count('"id"') == 3
    code, out, _ = run_cli(capsys, "sweep", "ls")
    assert sid in out and "clisweep" in out


def test_state_commands_and_update(capsys, tmp_path: Path) -> None:
    sid = _create(capsys)
    code, out, _ = run_cli(capsys, "sweep", "--pause", sid)
    assert code == 0 and "PAUSED" in out
    code, _, err = run_cli(capsys, "sweep", "--pause", sid)
    assert code != 0 and f"cannot pause sweep {sid}: it is PAUSED" in err
    assert run_cli(capsys, "sweep", "--resume", sid)[0] == 0
    (tmp_path / "two.yaml").write_text(CONFIG.replace("[3, 1, 2]", "[7]"))
    code, out, err = run_cli(capsys, "sweep", "--update", sid, "two.yaml")
    assert code == 0, err
    assert S.open_sweep(store_of(tmp_path), sid).load().config["parameters"]["x"]["values"] == [7]
    assert run_cli(capsys, "agent", "--count", "1", sid)[0] == 0
    code, _, err = run_cli(capsys, "sweep", "--update", sid, "two.yaml")
    assert code != 0 and "already started 1 run" in err
    assert run_cli(capsys, "sweep", "--stop", sid)[0] == 0
    assert run_cli(capsys, "sweep", "--cancel", sid)[0] == 0
    assert _sweep(sid).state == "CANCELED"


def test_invalid_config_lists_every_problem(capsys, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("method: grid\nrun_cap: 0\nparameters:\n  lr: {min: 0.0, max: 1.0}\n")
    code, out, err = run_cli(capsys, "sweep", "bad.yaml")
    assert code == 1 and "invalid sweep config bad.yaml:" in err
    assert len([line for line in err.splitlines() if line.startswith("  ")]) >= 2
    assert not (tmp_path / ".wandb" / "sweeps").exists() or not S.list_sweeps(store_of(tmp_path))


def test_cli_errors(capsys) -> None:
    code, _, err = run_cli(capsys, "agent", "abcd1234")
    assert code != 0 and "no sweep 'abcd1234'" in err and "Traceback" not in err
    code, _, err = run_cli(capsys, "sweep", "missing.yaml")
    assert code != 0 and "does not exist" in err
    code, _, err = run_cli(capsys, "sweep", "--stop", "--cancel", "abcd1234")
    assert code != 0 and "only one of" in err


def test_show_names_an_unnamed_sweep_once(tmp_path, capsys):
    (tmp_path / "unnamed.yaml").write_text(CONFIG.replace("name: clisweep\n", ""))
    code, out, err = run_cli(capsys, "sweep", "--project", "p", str(tmp_path / "unnamed.yaml"))
    assert code == 0, err
    sid = out.splitlines()[0].rpartition(" ")[2]
    code, out, _ = run_cli(capsys, "sweep", "show", sid)
    assert code == 0
    head = out.splitlines()[0]
    assert head.startswith(f"sweep {sid}: PENDING") and head.count(sid) == 1
