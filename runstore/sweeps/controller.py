"""The sweep controller: one `tick` under the sweep's lock decides what an agent does next.

There is no controller process. Every agent runs the controller loop of docs/COMPAT.md §11.10 itself, under
the sweep's exclusive lock: fold the journal and the sweep's runs in the store, settle the trials of
agents that died, ask the search for the next parameters and the stopping rule for runs to stop, and
append the decisions. Whoever holds the lock sees every earlier decision, which is what makes two agents
on one grid run each combination exactly once.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..base import env as _env
from ..base import names, term
from ..errors import RunNotFound, UsageError
from ..store import jsonl
from ..store import sweeps as S
from ..store.history import iter_rows
from ..store.layout import RunRef, check_name
from ..store.liveness import hostname, is_alive, start_token
from ..store.runs import load_run, mark_if_crashed
from ..store.store import Store
from ..store.sweeps import SweepDir, SweepState
from .hyperband import runs_to_stop
from .schema import SweepConfig, parse_config, warnings
from .search import Trial, next_params

HEARTBEAT_S = 30.0
Emit = Callable[[dict[str, Any]], None]


@dataclass
class Assignment:
    run_id: str
    params: dict[str, Any]


@dataclass
class Tick:
    """What one agent should do now."""

    state: SweepState
    config: SweepConfig
    assignment: Assignment | None = None
    stop: dict[str, str] = field(default_factory=dict)  # this agent's runs to stop -> why
    done: str | None = None  # why the agent has nothing more to do (it exits after its running child)
    wait: str | None = None  # why there is nothing to start right now (paused, runs still in flight)


# run dir -> (run log sig, history file name, its sig, metric history, summary value): a finished run is
# read once
_metric_cache: dict[str, tuple[Any, str, Any, list[float], float | None]] = {}


def parse(config: Any) -> SweepConfig:
    return parse_config(config)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _dig(d: Any, name: str) -> Any:
    if isinstance(d, dict) and name in d:
        return d[name]
    for part in name.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def metric_values(ref: RunRef, name: str) -> tuple[list[float], float | None]:
    """The metric's logged values in order, and its summary value, for one run (cached by file signature)."""
    sig = jsonl.file_sig(ref.run_log)
    hit = _metric_cache.get(ref.dir)
    if hit is not None and hit[0] == sig and jsonl.file_sig(ref.history_file(hit[1])) == hit[2]:
        return hit[3], hit[4]
    st = load_run(ref)
    hsig = jsonl.file_sig(st.history_path)
    hist: list[float] = []
    for row in iter_rows(st.history_path):
        v = _num(_dig(row, name))
        if v is not None:
            hist.append(v)
    summary = _num(_dig(st.summary, name))
    _metric_cache[ref.dir] = (sig, st.history_name, hsig, hist, summary)
    return hist, summary


class Controller:
    def __init__(self, sd: SweepDir) -> None:
        self.sd = sd
        self.store = sd.store
        self._last_beat: dict[str, float] = {}

    # -- agents ---------------------------------------------------------------------------------
    def register_agent(self, kind: str = "cli", host: str | None = None, pid: int | None = None) -> str:
        """A new agent of this sweep. `host`/`pid`: an agent on another machine (through `runstore
        server`), whose liveness only its heartbeats (its ticks) tell."""
        agent_id = names.new_id()
        local = host is None
        pid = os.getpid() if pid is None else pid
        with self.sd.locked():
            self.sd.append(
                {
                    "t": "agent",
                    "agent": agent_id,
                    "kind": kind,
                    "host": hostname() if local else host,
                    "pid": pid,
                    "pid_start": start_token(pid) if local else None,
                }
            )
        self._last_beat[agent_id] = time.time()
        return agent_id

    def agent_exit(self, agent_id: str, reason: str) -> None:
        with self.sd.locked():
            self.sd.append({"t": "agent-exit", "agent": agent_id, "reason": reason})

    def record_result(self, agent_id: str, run_id: str, state: str, code: int | None) -> None:
        with self.sd.locked():
            self.sd.append({"t": "result", "run": run_id, "agent": agent_id, "state": state, "code": code})

    # -- the loop -------------------------------------------------------------------------------
    def tick(self, agent_id: str, want_run: bool) -> Tick:
        with self.sd.locked():
            st = self.sd.load()
            cfg = parse(st.config)
            out: list[dict[str, Any]] = []

            def emit(rec: dict[str, Any]) -> None:
                out.append(rec)
                S.apply(st, {"time": time.time(), **rec})  # later decisions in this tick see it

            now = time.time()
            # beat well within the time after which other hosts presume this agent dead
            beat = min(HEARTBEAT_S, float(_env.get("sweep_agent_timeout", warn=term.warn)) / 3)
            if now - self._last_beat.get(agent_id, 0.0) >= beat:
                emit({"t": "heartbeat", "agent": agent_id})
                self._last_beat[agent_id] = now
            self._settle_orphans(st, agent_id, emit)
            tick = Tick(state=st, config=cfg)
            trials = self._trials(st, cfg)
            mine = [t for t in st.in_flight() if t.agent == agent_id]
            if st.state == S.CANCELED:
                tick.stop = {t.run_id: "cancel" for t in mine}
                tick.done = "the sweep was canceled"
            else:
                if cfg.early_terminate and cfg.metric is not None:
                    for rid in runs_to_stop(cfg, trials):
                        tr = st.trials.get(rid)
                        if tr is not None and tr.stop is None and tr.state == "running":
                            emit({"t": "stop", "run": rid, "reason": "hyperband"})
                tick.stop = {t.run_id: t.stop for t in mine if t.stop}
                if st.state == S.FINISHED:
                    tick.done = f"the sweep is finished ({st.finished_reason or 'stopped'})"
                elif want_run:
                    self._schedule(st, cfg, trials, agent_id, tick, emit)
            if out:
                self.sd.append(*out)
            return tick

    def _schedule(
        self, st: SweepState, cfg: SweepConfig, trials: list[Trial], agent_id: str, tick: Tick, emit: Emit
    ) -> None:
        if st.state == S.PAUSED:
            tick.wait = "the sweep is paused (runstore sweep --resume ID)"
            return
        in_flight = len(st.in_flight())
        target = _target_reached(cfg, trials)
        if target:
            emit({"t": "state", "state": S.FINISHED, "reason": target})
            tick.done = f"the sweep is finished ({target})"
            return
        runs = [t for t in st.active_trials() if not t.prior]
        if cfg.run_cap is not None and len(runs) >= cfg.run_cap:
            if in_flight:
                tick.wait = f"run_cap {cfg.run_cap} reached; waiting for {in_flight} run(s) in flight"
            else:
                emit({"t": "state", "state": S.FINISHED, "reason": f"run_cap {cfg.run_cap} reached"})
                tick.done = f"the sweep is finished (run_cap {cfg.run_cap} reached)"
            return
        params = next_params(cfg, trials)
        if params is None:
            if in_flight:
                tick.wait = f"no more parameters to try; waiting for {in_flight} run(s) in flight"
            else:
                emit({"t": "state", "state": S.FINISHED, "reason": "search exhausted"})
                tick.done = "the sweep is finished (every parameter combination has run)"
            return
        run_id = names.new_id()
        while run_id in st.trials:  # pragma: no cover - 36**8 ids
            run_id = names.new_id()
        emit({"t": "propose", "run": run_id, "params": params})
        emit({"t": "assign", "run": run_id, "agent": agent_id})
        tick.assignment = Assignment(run_id, params)

    # -- reading the store ----------------------------------------------------------------------
    def _ref(self, st: SweepState, run_id: str) -> RunRef | None:
        return S.trial_run(self.store, st, run_id)

    def _trials(self, st: SweepState, cfg: SweepConfig) -> list[Trial]:
        """The search's view: every trial not released, with metric values when the search needs them."""
        need = cfg.metric is not None and (
            cfg.method == "bayes" or bool(cfg.early_terminate) or cfg.metric.target is not None
        )
        out = []
        for t in st.active_trials():
            hist: list[float] = []
            summary = None
            state = t.state
            if need or t.prior:
                ref = self._ref(st, t.run_id)
                if ref is not None and cfg.metric is not None:
                    hist, summary = metric_values(ref, cfg.metric.name)
            out.append(Trial(run_id=t.run_id, params=t.params, state=state, history=hist, summary=summary))
        return out

    def _agent_dead(self, st: SweepState, agent_id: str | None) -> bool:
        a = st.agents.get(agent_id or "")
        if a is None or a.exited:
            return True
        alive = is_alive(a.pid, a.pid_start, a.host)
        if alive is None:  # another host: only its heartbeats tell
            return time.time() - a.heartbeat > _env.get("sweep_agent_timeout", warn=term.warn)
        return not alive

    def _settle_orphans(self, st: SweepState, agent_id: str, emit: Emit) -> None:
        """Trials in flight whose agent is gone: a run that ended gets its result, a run that never started
        or crashed gives its slot back (grid proposes the combination again), a live run is left alone."""
        for t in st.in_flight():
            if t.prior or t.agent == agent_id or not self._agent_dead(st, t.agent):
                continue
            ref = self._ref(st, t.run_id)
            if ref is None:
                emit({"t": "release", "run": t.run_id, "reason": "agent died before the run started"})
                continue
            rs = load_run(ref)
            run_state = rs.state
            if run_state == "running":
                continue
            if run_state == "crashed":
                if rs.exit is None:
                    mark_if_crashed(ref)  # so the run reads crashed without waiting for a daemon
                emit({"t": "result", "run": t.run_id, "state": "crashed", "code": None, "by": "controller"})
                emit({"t": "release", "run": t.run_id, "reason": "its agent died"})
            else:
                state = run_state if run_state in S.RESULTS else "failed"
                emit(
                    {"t": "result", "run": t.run_id, "state": state, "code": rs.exit_code, "by": "controller"}
                )


def _target_reached(cfg: SweepConfig, trials: list[Trial]) -> str | None:
    m = cfg.metric
    if m is None or m.target is None:
        return None
    for t in trials:
        vals = [v for v in [*t.history, t.summary] if v is not None and math.isfinite(v)]
        if not vals:
            continue
        best = max(vals) if m.goal == "maximize" else min(vals)
        if (best >= m.target) if m.goal == "maximize" else (best <= m.target):
            return f"run {t.run_id} reached the target {m.name}={m.target}"
    return None


# -- creating and steering a sweep (`runstore.sweep()`, `runstore sweep ...`) ------------------------
def _default(key: str, given: str | None, config: dict[str, Any], store: Store) -> str | None:
    if given:
        return given
    if isinstance(config.get(key), str) and config[key]:
        return str(config[key])
    env = _env.get(key)
    if env:
        return env
    try:
        return store.read_settings().get(key) or None
    except Exception:
        return None


def _prior(store: Store, project: str, cfg: SweepConfig, run_ids: list[str]) -> list[dict[str, Any]]:
    """Existing runs that seed the search: their values of the sweep's parameters and their state."""
    out = []
    for rid in run_ids:
        rid = str(rid).rpartition("/")[2]
        ref = store.find_run_by_id(rid, project) or store.find_run_by_id(rid)
        if ref is None:
            raise RunNotFound(f"prior run {rid!r} not found in the store at {store.root}")
        rs = load_run(ref)
        params = {k: rs.config[k] for k in cfg.parameters if k in rs.config}
        state = rs.state if rs.state in S.RESULTS else ("running" if rs.state == "running" else "failed")
        out.append({"run": rid, "params": params, "state": state})
    return out


def create_sweep(
    sweep: Any,
    entity: str | None = None,
    project: str | None = None,
    prior_runs: list[str] | None = None,
    store: Store | None = None,
) -> SweepDir:
    """Validate a sweep config (dict, callable returning one, or YAML path) and create the sweep.
    Every problem is reported at once (schema.SweepConfigError) before anything is written."""
    if callable(sweep) and not isinstance(sweep, dict):
        sweep = sweep()
    store = store or Store.discover()
    cfg = parse(sweep)
    for w in warnings(cfg):
        term.warn(f"Malformed sweep config detected! {w}")
    raw = dict(cfg.raw)
    proj = check_name("project", _default("project", project, raw, store) or "uncategorized")
    ent = _default("entity", entity, raw, store)
    prior = _prior(store, proj, cfg, list(prior_runs or ()))
    return S.create(store, raw, proj, ent, prior)


ACTIONS = {
    # action: (states it applies to, new state, what it means)
    "stop": ((S.PENDING, S.RUNNING, S.PAUSED), S.FINISHED, "no new runs; running runs finish"),
    "cancel": (
        (S.PENDING, S.RUNNING, S.PAUSED, S.FINISHED),
        S.CANCELED,
        "no new runs; running runs are stopped",
    ),
    "pause": ((S.PENDING, S.RUNNING), S.PAUSED, "no new runs until resumed"),
    "resume": ((S.PAUSED,), S.RUNNING, "agents take new runs again"),
}


def set_state(sd: SweepDir, action: str) -> str:
    allowed, new, _ = ACTIONS[action]
    with sd.locked():
        st = sd.load()
        if st.state not in allowed:
            raise UsageError(f"cannot {action} sweep {sd.id}: it is {st.state}")
        if action == "resume" and not st.started:
            new = S.PENDING
        sd.append({"t": "state", "state": new, "reason": f"{action} by user"})
    return new


def update_config(sd: SweepDir, sweep: Any) -> None:
    """Replace the config of a sweep that has not started a run (wandb's `sweep --update`)."""
    cfg = parse(sweep)
    with sd.locked():
        st = sd.load()
        if st.started:
            n = sum(1 for t in st.trials.values() if not t.prior)
            raise UsageError(
                f"sweep {sd.id} has already started {n} run(s); its config can only be replaced "
                "before the first run (create a new sweep instead)"
            )
        if st.state in S.DONE_STATES:
            raise UsageError(f"sweep {sd.id} is {st.state}; create a new sweep instead")
        sd.append({"t": "update", "config": dict(cfg.raw)})
        sd.write_config_copy(dict(cfg.raw))


def sweep(
    sweep: Any, entity: str | None = None, project: str | None = None, prior_runs: list[str] | None = None
) -> str:
    """`wandb.sweep`: create a sweep in the store and return its id."""
    sd = create_sweep(sweep, entity, project, prior_runs)
    st = sd.load()
    term.info(f"Created sweep with ID: {sd.id}")
    term.info(f"Run sweep agent with: runstore agent {st.project}/{sd.id}")
    return sd.id
