"""The CLI agent with real processes sharing one store: concurrency, dead agents, failures, stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from test_sweep_agent_helpers import (
    child_env,
    grid_config,
    journal,
    kill_all,
    make_sweep,
    start_agent,
    store_of,
    trial_lines,
    wait_for,
)

from runstore.store.runs import load_run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process tests use Linux /proc")


@pytest.fixture
def procs():
    started: list[subprocess.Popen[str]] = []
    yield started
    kill_all(started)


def _run_state(tmp_path: Path, run_id: str) -> str:
    ref = store_of(tmp_path).find_run_by_id(run_id)
    assert ref is not None, run_id
    return load_run(ref).state


@pytest.mark.parametrize("n_agents", [2, 4])
def test_concurrent_agents_run_each_grid_combination_once(tmp_path: Path, procs, n_agents: int) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2, 3, 4], ["a", "b"]))
    env = child_env(tmp_path, TRIAL_SLEEP="0.2")
    agents = [start_agent(tmp_path, sd.id, env=env, procs=procs) for _ in range(n_agents)]
    outs = [a.communicate(timeout=90)[0] for a in agents]
    assert [a.returncode for a in agents] == [0] * n_agents, outs
    combos = Counter((x, y) for _, x, y, _ in trial_lines(tmp_path))
    assert combos == Counter({(str(x), y): 1 for x in (1, 2, 3, 4) for y in "ab"})
    st = sd.load()
    assert st.state == "FINISHED" and len(st.trials) == 8
    assert {t.state for t in st.trials.values()} == {"finished"}
    assert all(_run_state(tmp_path, rid) == "finished" for rid in st.trials)
    assert len({t.agent for t in st.trials.values()}) >= 2  # the work was shared


def test_agent_count_and_child_environment(tmp_path: Path, procs) -> None:
    (tmp_path / "show.py").write_text(
        "import json, os, sys\n"
        "keys = ['WANDB_SWEEP_ID', 'WANDB_RUN_ID', 'WANDB_SWEEP_PARAM_PATH', 'WANDB_PROJECT', 'RUNSTORE_DIR']\n"
        "with open(os.environ['TRIAL_LOG'], 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv[1:], 'env': {k: os.environ.get(k) for k in keys},\n"
        "                        'cwd': os.getcwd()}) + '\\n')\n"
    )
    cfg = {
        "method": "grid",
        "program": "show.py",
        "parameters": {
            "lr": {"values": [0.001]},
            "flag": {"values": [False]},
            "on": {"values": [True]},
            "layers": {"values": [[64, 128]]},
            "name": {"values": ["a b"]},
            "opt": {"parameters": {"name": {"values": ["adam"]}, "lr": {"values": [0.1, 0.2]}}},
        },
    }
    sd = make_sweep(tmp_path, cfg, project="envproj")
    a = start_agent(tmp_path, sd.id, "--count", "1", procs=procs)
    out = a.communicate(timeout=60)[0]
    assert a.returncode == 0, out
    import json

    (rec,) = [json.loads(line) for line in (tmp_path / "trials.log").read_text().splitlines()]
    assert rec["argv"] == [
        "--flag=False",
        "--layers=[64, 128]",
        "--lr=0.001",
        "--name=a b",
        "--on=True",
        "--opt={'lr': 0.1, 'name': 'adam'}",
    ]
    env = rec["env"]
    (trial,) = sd.load().trials.values()
    assert env["WANDB_SWEEP_ID"] == sd.id and env["WANDB_RUN_ID"] == trial.run_id
    assert env["WANDB_PROJECT"] == "envproj" and env["RUNSTORE_DIR"] == str(tmp_path / ".wandb")
    assert env["WANDB_SWEEP_PARAM_PATH"] == str(sd.path / f"config-{trial.run_id}.yaml")
    assert Path(env["WANDB_SWEEP_PARAM_PATH"]).read_text().startswith("wandb_version: 1")
    assert rec["cwd"] == str(tmp_path)
    assert "Agent Starting Run:" in out and "ran 1 run(s)" in out
    assert sd.load().state == "RUNNING"  # one combination left


def test_sigkilled_agent_releases_its_slot(tmp_path: Path, procs) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2, 3]))
    slow = child_env(tmp_path, TRIAL_SLEEP="30")
    victim = start_agent(tmp_path, sd.id, env=slow, procs=procs)
    wait_for(lambda: trial_lines(tmp_path), 30, "the first trial to start")
    (orphan_id, x, _, child_pid) = trial_lines(tmp_path)[0]
    os.kill(victim.pid, signal.SIGKILL)  # only the agent: its trial must not outlive it unsupervised
    victim.wait(10)
    wait_for(
        lambda: (
            not os.path.exists(f"/proc/{child_pid}")
            or open(f"/proc/{child_pid}/stat").read().split(")")[1].split()[0] == "Z"
        ),
        10,
        "the trial to die",
    )
    other = start_agent(tmp_path, sd.id, env=child_env(tmp_path), procs=procs)
    out = other.communicate(timeout=60)[0]
    assert other.returncode == 0, out
    ran = [(rid, xv) for rid, xv, _, _ in trial_lines(tmp_path)]
    assert sorted(xv for rid, xv in ran if rid != orphan_id) == ["1", "2", "3"]  # x=1 proposed again
    st = sd.load()
    assert st.trials[orphan_id].released and st.trials[orphan_id].state == "crashed"
    assert _run_state(tmp_path, orphan_id) in ("crashed", "stopped")
    assert st.state == "FINISHED"


def test_failing_program_is_counted_and_agent_continues(tmp_path: Path, procs) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2, 3]))
    env = child_env(
        tmp_path, TRIAL_EXIT="3", WANDB_AGENT_DISABLE_FLAPPING="true", WANDB_AGENT_MAX_INITIAL_FAILURES="10"
    )
    a = start_agent(tmp_path, sd.id, env=env, procs=procs)
    out = a.communicate(timeout=60)[0]
    assert a.returncode == 0, out
    assert len(trial_lines(tmp_path)) == 3 and "ran 3 run(s), 3 failed" in out
    st = sd.load()
    assert {t.state for t in st.trials.values()} == {"failed"} and {t.code for t in st.trials.values()} == {3}


def test_flapping_guard_stops_the_agent(tmp_path: Path, procs) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2, 3, 4, 5]))
    a = start_agent(tmp_path, sd.id, env=child_env(tmp_path, TRIAL_EXIT="1"), procs=procs)
    out = a.communicate(timeout=60)[0]
    assert a.returncode == 1 and "3 runs failed within 60s" in out
    assert len(trial_lines(tmp_path)) == 3


def test_max_consecutive_failed_runs(tmp_path: Path, procs) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2, 3, 4, 5]))
    env = child_env(tmp_path, TRIAL_EXIT="1", WANDB_AGENT_DISABLE_FLAPPING="true")
    a = start_agent(tmp_path, sd.id, "--max-consecutive-failed-runs", "2", env=env, procs=procs)
    out = a.communicate(timeout=60)[0]
    assert a.returncode == 1 and "2 consecutive runs failed" in out
    assert len(trial_lines(tmp_path)) == 2


def test_cancel_stops_the_running_trial_and_it_reads_stopped(tmp_path: Path, procs) -> None:
    from runstore.sweeps import controller as C

    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2]))
    # the trial ignores SIGTERM, so only the SIGKILL after the kill delay ends it
    (tmp_path / "train.py").write_text(
        "import os, signal, time, runstore\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "run = runstore.init()\nopen(os.environ['TRIAL_LOG'], 'a').write(f'{run.id} x y {os.getpid()}\\n')\n"
        "runstore.log({'loss': 1.0})\ntime.sleep(60)\n"
    )
    a = start_agent(tmp_path, sd.id, env=child_env(tmp_path, WANDB_AGENT_KILL_DELAY="1"), procs=procs)
    wait_for(lambda: trial_lines(tmp_path), 30, "the trial to start")
    run_id = trial_lines(tmp_path)[0][0]
    t0 = time.time()
    C.set_state(sd, "cancel")
    out = a.communicate(timeout=30)[0]
    assert a.returncode == 0, out
    assert 0.9 < time.time() - t0 < 15 and "SIGKILL in 1s" in out
    ref = store_of(tmp_path).find_run_by_id(run_id)
    st = load_run(ref)
    assert st.state == "stopped" and st.exit["by"] == "agent" and st.exit["code"] == 128 + 9
    assert st.summary["loss"] == 1.0
    assert sd.load().trials[run_id].state == "stopped" and len(trial_lines(tmp_path)) == 1
    assert [r["state"] for r in journal(sd, "state")] == ["CANCELED"]


def test_hyperband_stops_a_bad_run(tmp_path: Path, procs) -> None:
    (tmp_path / "hb.py").write_text(
        "import os, time, runstore\nrun = runstore.init()\n"
        "open(os.environ['TRIAL_LOG'], 'a').write(f'{run.id} {run.config.x} y {os.getpid()}\\n')\n"
        "for i in range(40):\n    runstore.log({'loss': float(run.config.x)})\n    time.sleep(0.05 if run.config.x < 5 else 0.1)\n"
    )
    cfg = {
        "method": "grid",
        "program": "hb.py",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2},
        "parameters": {"x": {"values": [1, 2, 9]}},
    }
    sd = make_sweep(tmp_path, cfg)
    a = start_agent(tmp_path, sd.id, env=child_env(tmp_path, WANDB_AGENT_KILL_DELAY="2"), procs=procs)
    out = a.communicate(timeout=90)[0]
    assert a.returncode == 0, out
    st = sd.load()
    by_x = {t.params["x"]: t for t in st.trials.values()}
    assert by_x[1].state == "finished" and by_x[9].state == "stopped" and by_x[9].stop == "hyperband"
    assert _run_state(tmp_path, by_x[9].run_id) == "stopped"
