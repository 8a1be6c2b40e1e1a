"""Sweeps across machines through `runstore server` (issue 11, deliverable 4): the sweep lives in the
server's store, agents in other stores ("machines") take trials from its controller over HTTP, run them
locally and stream the trial runs back. Real processes: a server, agents, trials."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from remote_servers import free_port
from test_sweep_agent_helpers import TRAIN, kill_all, trial_lines, wait_for

from runstore.store import sweeps as S
from runstore.store.runs import load_run
from runstore.store.store import Store

PY = sys.executable
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process tests use Linux /proc"),
    pytest.mark.timeout(120),
]


class Hub:
    def __init__(self, root: Path, port: int, token: str, proc: subprocess.Popen[bytes]) -> None:
        self.root = root
        self.store = Store(root / ".wandb")
        self.url = f"http://127.0.0.1:{port}"
        self.token = token
        self.proc = proc


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    root = tmp_path / "hub"
    root.mkdir()
    env = {**_clean_env(), "RUNSTORE_DAEMON": "0", "RUNSTORE_SWEEP_AGENT_TIMEOUT": "3"}
    made = subprocess.run(
        [PY, "-m", "runstore", "server", "token", "create", "--name", "agents", "--json", "--dir", str(root)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = json.loads(made.stdout)["token"]
    port = free_port()
    log = open(tmp_path / "hub.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [PY, "-m", "runstore", "server", "--dir", str(root), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    h = Hub(root, port, token, proc)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{h.url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "hub.log").read_text()
        time.sleep(0.1)
    try:
        yield h
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def machine_env(tmp_path: Path, name: str, hub: Hub, **extra: str) -> dict[str, str]:
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    (home / "train.py").write_text(TRAIN)
    return {
        **_clean_env(),
        "RUNSTORE_DIR": str(home / ".wandb"),
        "RUNSTORE_DAEMON": "0",
        "RUNSTORE_CONSOLE": "off",
        "RUNSTORE_DISABLE_GIT": "true",
        "RUNSTORE_AGENT_POLL": "0.1",
        "RUNSTORE_API_KEY": hub.token,
        "TRIAL_LOG": str(tmp_path / "trials.log"),
        **extra,
    }


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "runstore", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def create(tmp_path: Path, hub: Hub, config: dict[str, Any]) -> str:
    env = machine_env(tmp_path, "laptop", hub)
    (tmp_path / "laptop" / "sweep.yaml").write_text(yaml.safe_dump(config))
    out = cli(["sweep", "sweep.yaml", "--remote", hub.url, "--project", "p"], env, tmp_path / "laptop")
    assert out.returncode == 0, out.stderr
    sweep_id = out.stdout.split("Created sweep with ID: ")[1].split()[0]
    assert f"runstore agent --remote {hub.url} p/{sweep_id}" in out.stdout
    assert not (tmp_path / "laptop" / ".wandb" / "sweeps").exists()  # it lives on the server
    return sweep_id


def agent(
    tmp_path: Path, name: str, hub: Hub, sweep_id: str, procs: list[Any], **extra: str
) -> subprocess.Popen[str]:
    env = machine_env(tmp_path, name, hub, **extra)
    p = subprocess.Popen(
        [PY, "-m", "runstore", "agent", "--remote", hub.url, sweep_id],
        cwd=tmp_path / name,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    procs.append(p)
    return p


@pytest.fixture
def procs() -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    kill_all(started)


def grid(xs: list[Any], ys: list[Any]) -> dict[str, Any]:
    return {"method": "grid", "program": "train.py", "parameters": {"x": {"values": xs}, "y": {"values": ys}}}


def test_agents_on_two_machines_share_a_server_sweep_each_point_once(
    tmp_path: Path, hub: Hub, procs: list[Any]
) -> None:
    sweep_id = create(tmp_path, hub, grid([1, 2, 3], ["a", "b"]))
    agents = [agent(tmp_path, m, hub, sweep_id, procs, TRIAL_SLEEP="0.3") for m in ("gpu1", "gpu2")]
    outs = [a.communicate(timeout=90)[0] for a in agents]
    assert [a.returncode for a in agents] == [0, 0], outs
    combos = Counter((x, y) for _, x, y, _ in trial_lines(tmp_path))
    assert combos == Counter({(str(x), y): 1 for x in (1, 2, 3) for y in "ab"})
    st = S.SweepDir(hub.store, sweep_id).load()
    assert st.state == "FINISHED" and {t.state for t in st.trials.values()} == {"finished"}
    assert len({t.agent for t in st.trials.values()}) == 2  # both machines worked
    # every trial run is at the server, byte for byte the machine's own copy
    for rid in st.trials:
        there = hub.store.find_run_by_id(rid, "p")
        assert there is not None and load_run(there).state == "finished"
        homes = [Store(tmp_path / m / ".wandb").find_run_by_id(rid, "p") for m in ("gpu1", "gpu2")]
        [local] = [h for h in homes if h is not None]
        assert Path(there.run_log).read_bytes() == Path(local.run_log).read_bytes()
        assert load_run(there).config["x"] in (1, 2, 3)


def test_a_dead_agents_trial_is_proposed_again_to_another_machine(
    tmp_path: Path, hub: Hub, procs: list[Any]
) -> None:
    sweep_id = create(tmp_path, hub, grid([1, 2], ["a"]))
    slow = agent(tmp_path, "flaky", hub, sweep_id, procs, TRIAL_SLEEP="60")
    wait_for(lambda: len(trial_lines(tmp_path)) >= 1, 30, "the flaky machine's first trial")
    os.killpg(slow.pid, signal.SIGKILL)  # the machine dies: agent and trial
    slow.wait(timeout=10)
    first = trial_lines(tmp_path)[0]
    good = agent(tmp_path, "steady", hub, sweep_id, procs, TRIAL_SLEEP="0.1")
    out = good.communicate(timeout=90)[0]
    assert good.returncode == 0, out
    st = S.SweepDir(hub.store, sweep_id).load()
    assert st.state == "FINISHED"
    done = Counter((str(t.params["x"]), t.params["y"]) for t in st.trials.values() if t.state == "finished")
    assert done == Counter({("1", "a"): 1, ("2", "a"): 1})
    # the dead machine's trial gave its slot back (its heartbeats stopped), and ran again on "steady"
    dead = st.trials[first[0]]
    assert dead.released is not None or dead.state != "finished"


def test_a_stop_decided_on_the_server_reaches_the_agent_on_another_machine(
    tmp_path: Path, hub: Hub, procs: list[Any]
) -> None:
    sweep_id = create(tmp_path, hub, grid([1], ["a"]))
    worker = agent(tmp_path, "gpu", hub, sweep_id, procs, TRIAL_SLEEP="60")
    wait_for(lambda: len(trial_lines(tmp_path)) >= 1, 30, "the trial to start")
    env = machine_env(tmp_path, "laptop", hub)
    out = cli(["sweep", "--cancel", sweep_id, "--remote", hub.url], env, tmp_path / "laptop")
    assert out.returncode == 0, out.stderr
    text = worker.communicate(timeout=60)[0]
    run_id = trial_lines(tmp_path)[0][0]
    assert f"Stopping run {run_id} (cancel)" in text, text
    local = Store(tmp_path / "gpu" / ".wandb").find_run_by_id(run_id, "p")
    assert local is not None and load_run(local).state == "stopped"
    there = hub.store.find_run_by_id(run_id, "p")
    assert there is not None
    assert Path(there.run_log).read_bytes() == Path(local.run_log).read_bytes(), text
    assert load_run(there).state == "stopped"  # the final push carried the stop
    assert S.SweepDir(hub.store, sweep_id).load().trials[run_id].state == "stopped"


def test_remote_sweep_errors_are_one_line(tmp_path: Path, hub: Hub) -> None:
    env = machine_env(tmp_path, "laptop", hub)
    (tmp_path / "laptop" / "bad.yaml").write_text(yaml.safe_dump({"method": "grid", "parameters": {}}))
    out = cli(["sweep", "bad.yaml", "--remote", hub.url], env, tmp_path / "laptop")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    out = cli(["agent", "--remote", hub.url, "nosuchsweep"], env, tmp_path / "laptop")
    assert out.returncode != 0 and "Traceback" not in out.stdout + out.stderr
    (tmp_path / "laptop" / "ok.yaml").write_text(yaml.safe_dump(grid([1], ["a"])))
    out = cli(
        ["sweep", "ok.yaml", "--remote", hub.url], {**env, "RUNSTORE_API_KEY": "rs_x_y"}, tmp_path / "laptop"
    )
    assert out.returncode != 0 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_hyperband_on_the_server_stops_a_bad_run_on_another_machine(
    tmp_path: Path, hub: Hub, procs: list[Any]
) -> None:
    """The controller reads the trials' metrics from the runs the agent pushes while they run, and its
    Hyperband stop reaches the agent at its next tick."""
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    program = (
        "import os, time, runstore\nrun = runstore.init()\n"
        "open(os.environ['TRIAL_LOG'], 'a').write(f'{run.id} {run.config.x} y {os.getpid()}\\n')\n"
        "for i in range(80):\n    runstore.log({'loss': float(run.config.x)})\n"
        "    time.sleep(0.02 if run.config.x < 5 else 0.15)\n"
    )
    config = {
        "method": "grid",
        "program": "hb.py",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2},
        "parameters": {"x": {"values": [1, 2, 9]}},
    }
    sweep_id = create(tmp_path, hub, config)
    (tmp_path / "gpu").mkdir()
    (tmp_path / "gpu" / "hb.py").write_text(program)
    worker = agent(tmp_path, "gpu", hub, sweep_id, procs, WANDB_AGENT_KILL_DELAY="2")
    out = worker.communicate(timeout=90)[0]
    assert worker.returncode == 0, out
    st = S.SweepDir(hub.store, sweep_id).load()
    by_x = {t.params["x"]: t for t in st.trials.values()}
    assert by_x[1].state == "finished" and by_x[2].state == "finished", out
    assert by_x[9].state == "stopped" and by_x[9].stop == "hyperband", out
    local = Store(tmp_path / "gpu" / ".wandb").find_run_by_id(by_x[9].run_id, "p")
    assert local is not None and load_run(local).state == "stopped"
    assert len(load_run(local).history_path.read_text().splitlines()) < 80  # stopped early
