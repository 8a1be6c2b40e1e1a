"""The in-process agent: `runstore.agent(sweep_id, function=..., count=...)` (docs/COMPAT.md §11.7)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from conftest import run_state
from test_sweep_agent_helpers import make_sweep

import runstore
from runstore.sweeps import controller as C
from runstore.sweeps.agent import RunStopped, agent


def _grid(xs: list[int]) -> dict:
    return {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": xs}},
    }


def test_function_agent_runs_trials_sequentially_and_finishes_them(tmp_path: Path, capfd) -> None:
    sd = make_sweep(tmp_path, _grid([1, 2, 3]), project="fp")
    seen = []

    def main() -> None:
        run = runstore.init(project="ignored", config={"x": 0, "other": "kept"})
        seen.append(
            (
                run.id,
                run.project,
                run.config.x,
                run.config.other,
                run.sweep_id,
                threading.current_thread() is not threading.main_thread(),
            )
        )
        run.config.update({"x": 100})  # locked by the sweep: ignored with wandb's warning
        runstore.log({"loss": run.config.x / 10})

    agent(sd.id, function=main, count=2)
    assert [s[2] for s in seen] == [1, 2] and all(s[1] == "fp" and s[3] == "kept" for s in seen)
    assert all(s[4] == sd.id and s[5] for s in seen)  # in a worker thread, as wandb
    for rid, *_ in seen:
        st = run_state(rid, "fp")
        assert st.state == "finished" and st.config["x"] in (1, 2) and st.info["sweep_id"] == sd.id
    err = capfd.readouterr().err
    assert "Agent Starting Run:" in err and "Config item 'x' was locked by 'sweep' (ignored update)." in err
    assert "Ignoring project 'ignored' when running a sweep." in err
    # the environment is restored: a later init() is an ordinary run
    assert not any(k in os.environ for k in ("WANDB_SWEEP_ID", "WANDB_RUN_ID", "WANDB_SWEEP_PARAM_PATH"))
    assert runstore.run is None
    later = runstore.init(project="after")
    assert later.sweep_id is None and later.project == "after"
    later.finish()
    assert {t.state for t in sd.load().trials.values()} == {"finished"}


def test_function_that_raises_fails_its_run_and_the_agent_goes_on(tmp_path: Path, capfd, monkeypatch) -> None:
    monkeypatch.setenv("WANDB_AGENT_DISABLE_FLAPPING", "true")
    sd = make_sweep(tmp_path, _grid([1, 2]))

    def main() -> None:
        run = runstore.init()
        if run.config.x == 1:
            raise RuntimeError("boom in trial")

    agent(sd.id, function=main)
    trials = {t.params["x"]: t for t in sd.load().trials.values()}
    assert trials[1].state == "failed" and trials[2].state == "finished"
    assert run_state(trials[1].run_id).exit["code"] == 1
    assert "RuntimeError: boom in trial" in capfd.readouterr().err
    assert sd.load().state == "FINISHED"


def test_stopped_function_run_gets_an_exception_and_reads_stopped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("RUNSTORE_AGENT_POLL", "0.05")
    sd = make_sweep(tmp_path, _grid([1, 2]))
    caught: list[BaseException] = []

    def main() -> None:
        runstore.init()
        threading.Timer(0.2, C.set_state, args=(sd, "cancel")).start()
        try:
            for _ in range(400):
                time.sleep(0.01)
        except Exception as e:  # wandb injects an Exception: code catching Exception sees it
            caught.append(e)
            raise

    agent(sd.id, function=main)
    assert len(caught) == 1 and isinstance(caught[0], RunStopped)
    (trial,) = sd.load().trials.values()
    assert trial.state == "stopped"
    st = run_state(trial.run_id)
    assert st.state == "stopped" and st.exit["by"] == "agent"


def test_function_that_never_inits_still_counts(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, _grid([1]))
    calls = []
    agent(sd.id, function=lambda: calls.append(os.environ["WANDB_RUN_ID"]))
    (trial,) = sd.load().trials.values()
    assert calls == [trial.run_id] and trial.state == "finished"


def test_agent_without_function_runs_the_program(tmp_path: Path) -> None:
    (tmp_path / "prog.py").write_text(
        "import runstore\nrun = runstore.init()\nrunstore.log({'loss': run.config.x})\n"
    )
    sd = make_sweep(tmp_path, {**_grid([5]), "program": "prog.py"})
    agent(sd.id, count=1)
    (trial,) = sd.load().trials.values()
    assert trial.state == "finished" and run_state(trial.run_id).summary["loss"] == 5
