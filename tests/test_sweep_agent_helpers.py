"""Shared helpers of the sweep tests (this module has no tests of its own)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from runstore.store import sweeps as S
from runstore.store.store import Store
from runstore.sweeps import controller as C

PY = sys.executable
# The CLI with the sweep commands registered, whether or not runstore.cli has wired them yet.
CLI_SHIM = (
    "import sys\nfrom runstore.cli import app, main, sweep_cmd\n"
    "if not any(c.name == 'sweep' for c in app.registered_commands):\n"
    "    sweep_cmd.register(app)\n"
    "main(sys.argv[1:])\n"
)

TRAIN = """
import os, sys, time
import runstore
run = runstore.init(config={"x": -1, "y": "default"})
with open(os.environ["TRIAL_LOG"], "a") as f:
    f.write(f"{run.id} {run.config.x} {run.config.y} {os.getpid()}\\n")
time.sleep(float(os.environ.get("TRIAL_SLEEP", "0")))
runstore.log({"loss": float(run.config.x)})
sys.exit(int(os.environ.get("TRIAL_EXIT", "0")))
"""


def register_cli() -> None:
    from runstore.cli import app, sweep_cmd

    if not any(c.name == "sweep" for c in app.registered_commands):
        sweep_cmd.register(app)


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(
        {
            "RUNSTORE_DIR": str(tmp_path / ".wandb"),
            "RUNSTORE_DAEMON": "0",
            "RUNSTORE_CONSOLE": "off",
            "RUNSTORE_DISABLE_GIT": "true",
            "RUNSTORE_AGENT_POLL": "0.1",
            "TRIAL_LOG": str(tmp_path / "trials.log"),
        }
    )
    env.update(extra)
    return env


def store_of(tmp_path: Path) -> Store:
    return Store(tmp_path / ".wandb")


def make_sweep(tmp_path: Path, config: dict[str, Any], project: str = "p", **kw: Any) -> S.SweepDir:
    return C.create_sweep(config, project=project, store=store_of(tmp_path), **kw)


def grid_config(tmp_path: Path, xs: list[Any], ys: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    (tmp_path / "train.py").write_text(TRAIN)
    params: dict[str, Any] = {"x": {"values": xs}}
    if ys is not None:
        params["y"] = {"values": ys}
    return {"method": "grid", "program": "train.py", "parameters": params, **extra}


def start_agent(
    tmp_path: Path,
    sweep_id: str,
    *args: str,
    env: dict[str, str] | None = None,
    procs: list[subprocess.Popen[str]] | None = None,
) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [PY, "-c", CLI_SHIM, "agent", *args, sweep_id],
        cwd=tmp_path,
        env=env or child_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if procs is not None:
        procs.append(p)
    return p


def kill_all(procs: list[subprocess.Popen[str]]) -> None:
    """No process may outlive a test: kill each agent's whole session (agent and trial)."""
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def trial_lines(tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "trials.log"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def wait_for(pred: Any, timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def journal(sd: S.SweepDir, kind: str | None = None) -> list[dict[str, Any]]:
    return [r for r in sd.records() if kind is None or r.get("t") == kind]


def in_process_sweep(monkeypatch: Any, trials: int, metrics: Any) -> str:
    """A grid sweep over x in 1, 2, 3 (maximizing `acc`) in the test's store, with `trials` trials run in
    this process as an agent runs them (its environment, its parameter files); each logs
    `metrics(run.config)` once. Returns the sweep's id."""
    import runstore
    from runstore.sweeps.agent import trial_env, write_param_files

    sd = C.create_sweep(
        {
            "method": "grid",
            "metric": {"name": "acc", "goal": "maximize"},
            "parameters": {"x": {"values": [1, 2, 3]}},
        },
        project="p",
    )
    ctl = C.Controller(sd)
    agent = ctl.register_agent("function")
    for _ in range(trials):
        tick = ctl.tick(agent, want_run=True)
        t = tick.assignment
        assert t is not None
        yaml_path, _ = write_param_files(sd, t.run_id, t.params, tick.config)
        with monkeypatch.context() as m:  # what an agent gives its trial
            for k, v in trial_env(sd, tick.state, t.run_id, yaml_path).items():
                if v is None:
                    m.delenv(k, raising=False)  # a RUNSTORE_* twin the agent removes
                else:
                    m.setenv(k, v)
            run = runstore.init()
            run.log(metrics(run.config))
            run.finish(quiet=True)
        ctl.record_result(agent, t.run_id, "finished", 0)
    return sd.id
