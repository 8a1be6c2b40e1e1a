"""What a sweep trial's run does with the agent's environment (docs/COMPAT.md §3.3, §11.6)."""

from __future__ import annotations

from pathlib import Path

from conftest import run_state

import runstore


def _trial_env(monkeypatch, tmp_path: Path, yaml_text: str, run_id: str = "trial001") -> None:
    path = tmp_path / "config-trial.yaml"
    path.write_text(yaml_text)
    monkeypatch.setenv("WANDB_SWEEP_ID", "swp12345")
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(path))
    monkeypatch.setenv("WANDB_RUN_ID", run_id)
    monkeypatch.setenv("WANDB_PROJECT", "sweepproj")


def test_sweep_values_deep_merge_and_lock(monkeypatch, tmp_path: Path, capfd) -> None:
    _trial_env(
        monkeypatch,
        tmp_path,
        "wandb_version: 1\n\nlr:\n  value: 0.05\nopt:\n  value:\n    name: adam\n    beta: 0.9\n",
    )
    run = runstore.init(
        project="ignored", id="alsoignored", config={"lr": 0.1, "bs": 32, "opt": {"name": "sgd", "mom": 0.5}}
    )
    assert (run.project, run.id, run.sweep_id) == ("sweepproj", "trial001", "swp12345")
    assert run.config.lr == 0.05 and run.config.bs == 32
    assert run.config.opt == {"name": "adam", "mom": 0.5, "beta": 0.9}
    run.config.update({"lr": 1.0})  # locked: ignored with wandb's warning, no exception
    run.config.update({"bs": 64}, allow_val_change=True)  # not a sweep key: changes as usual
    err = capfd.readouterr().err
    assert "Ignoring project 'ignored' when running a sweep." in err
    assert "Ignoring id 'alsoignored' when running a sweep." in err
    assert "Config item 'lr' was locked by 'sweep' (ignored update)." in err
    assert run.config.lr == 0.05 and run.config.bs == 64
    run.finish()
    st = run_state("trial001", "sweepproj")
    assert st.config["lr"] == 0.05 and st.config["opt"]["beta"] == 0.9 and st.info["sweep_id"] == "swp12345"


def test_unreadable_sweep_file_warns_and_runs(monkeypatch, tmp_path: Path, capfd) -> None:
    _trial_env(monkeypatch, tmp_path, "lr: [unclosed\n")
    run = runstore.init(config={"lr": 0.1})
    assert run.config.lr == 0.1
    assert "sweep parameters could not be read" in capfd.readouterr().err
