"""The on-disk sweep: journal records, folding, the lock, and the controller's decisions (no processes)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from test_sweep_agent_helpers import PY, grid_config, journal, make_sweep, store_of

import runstore
from runstore.errors import UsageError
from runstore.store import sweeps as S
from runstore.sweeps import controller as C
from runstore.sweeps.schema import SweepConfigError


def test_create_writes_config_and_journal(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2], name="demo"), project="proj")
    assert len(sd.id) == 8 and sd.id.isalnum() and sd.id == sd.id.lower()
    assert sd.path == tmp_path / ".wandb" / "sweeps" / sd.id
    assert (sd.path / "config.yaml").read_text().startswith("method: grid")
    (create,) = journal(sd)
    assert create["t"] == "create" and create["project"] == "proj" and create["config"]["name"] == "demo"
    st = sd.load()
    assert (st.state, st.project, st.trials) == ("PENDING", "proj", {})
    assert S.open_sweep(store_of(tmp_path), f"ent/proj/{sd.id}").id == sd.id
    assert [s.id for s in S.list_sweeps(store_of(tmp_path))] == [sd.id]


def test_invalid_config_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(SweepConfigError) as e:
        make_sweep(
            tmp_path, {"method": "grid", "parameters": {"lr": {"min": 0.0, "max": 1.0}}, "run_cap": -1}
        )
    assert len(e.value.problems) >= 2
    assert S.list_sweeps(store_of(tmp_path)) == []


def test_open_sweep_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a sweep id"):
        S.open_sweep(store_of(tmp_path), "nope")
    with pytest.raises(UsageError, match="no sweep 'abcd1234'"):
        S.open_sweep(store_of(tmp_path), "p/abcd1234")


def test_grid_proposals_are_exhaustive_and_unique(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2], ["a", "b"]))
    ctl = C.Controller(sd)
    agent = ctl.register_agent()
    seen = []
    for _ in range(4):
        tick = ctl.tick(agent, want_run=True)
        assert tick.assignment is not None
        seen.append((tick.assignment.params["x"], tick.assignment.params["y"]))
        ctl.record_result(agent, tick.assignment.run_id, "finished", 0)
    assert seen == [(1, "a"), (1, "b"), (2, "a"), (2, "b")]  # wandb's order: last parameter fastest
    tick = ctl.tick(agent, want_run=True)
    assert tick.assignment is None and tick.done and "every parameter combination" in tick.done
    assert sd.load().state == "FINISHED"
    kinds = [r["t"] for r in journal(sd)]
    assert kinds[:4] == ["create", "agent", "propose", "assign"]
    assert kinds.count("result") == 4 and kinds[-1] == "state"


def test_exhausted_grid_waits_for_runs_in_flight(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1]))
    ctl = C.Controller(sd)
    a, b = ctl.register_agent(), ctl.register_agent()
    t1 = ctl.tick(a, want_run=True)
    t2 = ctl.tick(b, want_run=True)
    assert t1.assignment is not None and t2.assignment is None and t2.wait and not t2.done
    ctl.record_result(a, t1.assignment.run_id, "finished", 0)
    assert ctl.tick(b, want_run=True).done


def test_run_cap_is_honoured(tmp_path: Path) -> None:
    cfg = {"method": "random", "run_cap": 3, "parameters": {"x": {"min": 0.0, "max": 1.0}}}
    sd = make_sweep(tmp_path, cfg)
    ctl = C.Controller(sd)
    agent = ctl.register_agent()
    ids = []
    while True:
        tick = ctl.tick(agent, want_run=True)
        if tick.assignment is None:
            break
        ids.append(tick.assignment.run_id)
        ctl.record_result(agent, tick.assignment.run_id, "failed", 1)
    assert len(ids) == 3 and "run_cap 3" in (tick.done or "")


def test_dead_agent_slot_is_released_and_reproposed(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2]))
    # an agent whose process is gone: a pid that has exited
    p = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(p.stdout)
    with sd.locked():
        sd.append(
            {
                "t": "agent",
                "agent": "deadagnt",
                "host": os.uname().nodename,
                "pid": dead_pid,
                "pid_start": "x",
            },
            {"t": "propose", "run": "orphan01", "params": {"x": 1}},
            {"t": "assign", "run": "orphan01", "agent": "deadagnt"},
        )
    ctl = C.Controller(sd)
    me = ctl.register_agent()
    tick = ctl.tick(me, want_run=True)
    assert tick.assignment is not None and tick.assignment.params == {"x": 1}  # re-proposed
    rel = journal(sd, "release")
    assert [r["run"] for r in rel] == ["orphan01"]
    assert sd.load().trials["orphan01"].released


def test_dead_agent_with_finished_run_keeps_its_result(tmp_path: Path, monkeypatch) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2]))
    p = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    with sd.locked():
        sd.append(
            {"t": "agent", "agent": "deadagnt", "host": os.uname().nodename, "pid": int(p.stdout)},
            {"t": "propose", "run": "done0001", "params": {"x": 1}},
            {"t": "assign", "run": "done0001", "agent": "deadagnt"},
        )
    runstore.init(project="p", id="done0001", config={"x": 1}).finish()
    ctl = C.Controller(sd)
    tick = ctl.tick(ctl.register_agent(), want_run=True)
    assert tick.assignment is not None and tick.assignment.params == {"x": 2}
    assert sd.load().trials["done0001"].state == "finished"


def test_state_actions_and_update(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2]))
    with pytest.raises(UsageError, match="cannot resume"):
        C.set_state(sd, "resume")
    assert C.set_state(sd, "pause") == "PAUSED"
    ctl = C.Controller(sd)
    agent = ctl.register_agent()
    assert ctl.tick(agent, want_run=True).wait
    assert C.set_state(sd, "resume") == "PENDING"  # nothing started yet
    C.update_config(sd, grid_config(tmp_path, [7]))
    assert sd.load().config["parameters"]["x"]["values"] == [7]
    assert "7" in (sd.path / "config.yaml").read_text()
    tick = ctl.tick(agent, want_run=True)
    assert tick.assignment is not None and tick.assignment.params == {"x": 7}
    assert sd.load().state == "RUNNING"
    with pytest.raises(UsageError, match="already started 1 run"):
        C.update_config(sd, grid_config(tmp_path, [8]))
    assert C.set_state(sd, "stop") == "FINISHED"
    assert ctl.tick(agent, want_run=True).done
    assert ctl.tick(agent, want_run=False).stop == {}  # --stop lets running runs finish
    assert C.set_state(sd, "cancel") == "CANCELED"
    assert ctl.tick(agent, want_run=False).stop == {tick.assignment.run_id: "cancel"}
    with pytest.raises(UsageError, match="it is CANCELED"):
        C.set_state(sd, "stop")


def test_prior_runs_seed_the_grid(tmp_path: Path) -> None:
    runstore.init(project="p", id="prior001", config={"x": 1}).finish()
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1, 2]), prior_runs=["prior001"])
    assert sd.load().trials["prior001"].prior
    ctl = C.Controller(sd)
    agent = ctl.register_agent()
    tick = ctl.tick(agent, want_run=True)
    assert tick.assignment is not None and tick.assignment.params == {"x": 2}


def test_lock_is_exclusive(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1]))
    order: list[str] = []

    def other() -> None:
        fd = os.open(sd.path / "lock", os.O_RDWR)
        fcntl.flock(fd, fcntl.LOCK_EX)
        order.append("other")
        os.close(fd)

    with sd.locked():
        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.2)
        order.append("holder")
    t.join(5)
    assert order == ["holder", "other"]


def test_fold_skips_malformed_lines(tmp_path: Path) -> None:
    sd = make_sweep(tmp_path, grid_config(tmp_path, [1]))
    with open(sd.journal, "ab") as f:
        f.write(b'{"t":"result","run":"missing1","state":"finished"}\n{"t":"propose"}\nnot json\n{"t":"x"')
    st = sd.load()
    assert st.state == "PENDING" and st.trials == {}
