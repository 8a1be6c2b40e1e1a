"""A sweep on disk: `<store>/sweeps/<id>/` holds an append-only `journal.jsonl` and a readable copy
of the current config.

The journal is the source of truth (docs/FORMAT.md, "Sweeps"); the sweep's state is the fold of its
records. Anything that decides what runs next (the controller, sweeps/controller.py) holds an
exclusive `flock` on the sweep's lock file while it folds and appends, so agents on one machine or on
machines sharing the store never take the same proposal twice.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base import names
from ..errors import UsageError
from . import jsonl, schema
from . import layout as L
from .layout import RunRef

if TYPE_CHECKING:
    from .store import Store

PENDING, RUNNING, PAUSED, FINISHED, CANCELED = "PENDING", "RUNNING", "PAUSED", "FINISHED", "CANCELED"
STATES = (PENDING, RUNNING, PAUSED, FINISHED, CANCELED)
DONE_STATES = (FINISHED, CANCELED)
# Trial results the agent records; a trial without one is in flight ("running").
RESULTS = ("finished", "failed", "crashed", "stopped")
_ID = re.compile(r"^[a-z0-9]{8}$")


@dataclass
class TrialRec:
    """One proposal as the journal knows it."""

    run_id: str
    params: dict[str, Any]
    agent: str | None = None
    state: str = "running"  # "running" until a result record says otherwise
    code: int | None = None
    stop: str | None = None  # why a stop was requested ("hyperband", "cancel"), if one was
    released: str | None = None  # why the slot was given back (the search may propose it again)
    prior: bool = False
    time: float = 0.0


@dataclass
class AgentRec:
    agent_id: str
    host: str
    pid: int
    pid_start: str | None
    started: float
    heartbeat: float
    exited: bool = False


@dataclass
class SweepState:
    id: str
    config: dict[str, Any] = field(default_factory=dict)
    project: str = "uncategorized"
    entity: str = ""
    created: float = 0.0
    state: str = PENDING
    trials: dict[str, TrialRec] = field(default_factory=dict)
    agents: dict[str, AgentRec] = field(default_factory=dict)
    finished_reason: str | None = None

    def active_trials(self) -> list[TrialRec]:
        """Trials the search must take into account: everything not released."""
        return [t for t in self.trials.values() if t.released is None]

    def in_flight(self) -> list[TrialRec]:
        return [t for t in self.active_trials() if t.state == "running"]

    @property
    def started(self) -> bool:
        return any(not t.prior for t in self.trials.values())


def fold(records: list[dict[str, Any]], sweep_id: str) -> SweepState:
    st = SweepState(id=sweep_id)
    for rec in records:
        try:
            apply(st, rec)
        except (TypeError, ValueError, KeyError, AttributeError):
            continue  # a malformed line is skipped, like a torn one
    return st


def apply(st: SweepState, rec: dict[str, Any]) -> None:
    """Fold one journal record into `st` (the controller applies its own decisions as it makes them)."""
    t = rec.get("t")
    now = float(rec.get("time", 0.0))
    if t == "create":
        st.config = dict(rec["config"])
        st.project = str(rec.get("project") or st.project)
        st.entity = str(rec.get("entity") or "")
        st.created = now
        st.state = PENDING
    elif t == "update":
        st.config = dict(rec["config"])
    elif t == "state":
        if rec["state"] in STATES:
            st.state = rec["state"]
            st.finished_reason = rec.get("reason")
    elif t == "agent":
        st.agents[rec["agent"]] = AgentRec(
            rec["agent"], str(rec.get("host", "")), int(rec.get("pid", 0)), rec.get("pid_start"), now, now
        )
    elif t == "heartbeat":
        if rec["agent"] in st.agents:
            st.agents[rec["agent"]].heartbeat = now
    elif t == "agent-exit":
        if rec["agent"] in st.agents:
            st.agents[rec["agent"]].exited = True
    elif t == "propose":
        st.trials[rec["run"]] = TrialRec(
            rec["run"],
            dict(rec.get("params") or {}),
            prior=bool(rec.get("prior")),
            state=str(rec.get("state", "running")),
            time=now,
        )
        if st.state == PENDING and not rec.get("prior"):
            st.state = RUNNING
    elif t == "assign":
        st.trials[rec["run"]].agent = rec["agent"]
    elif t == "result":
        tr = st.trials[rec["run"]]
        tr.state = rec["state"] if rec["state"] in RESULTS else "failed"
        tr.code = rec.get("code")
    elif t == "stop":
        st.trials[rec["run"]].stop = str(rec.get("reason") or "stop")
    elif t == "release":
        st.trials[rec["run"]].released = str(rec.get("reason") or "released")


class SweepDir:
    """One sweep's directory in a store."""

    def __init__(self, store: Store, sweep_id: str) -> None:
        self.store = store
        self.id = sweep_id
        self.path = store.sweeps_dir / sweep_id

    @property
    def journal(self) -> Path:
        return self.path / L.JOURNAL

    @property
    def rel(self) -> str:
        """The sweep directory relative to the store root."""
        return f"{L.SWEEPS_DIR}/{self.id}"

    def files(self) -> list[L.StoreFile]:
        """The sweep's files with their kinds (layout.py)."""
        out = []
        for rel, path in L.walk(self.path):
            kind = L.sweep_file_kind(rel)
            if kind is not None:
                out.append(L.StoreFile(f"{self.rel}/{rel}", path, kind))
        return out

    def exists(self) -> bool:
        return self.journal.is_file()

    def records(self) -> list[dict[str, Any]]:
        recs, _ = jsonl.read(self.journal)
        return [r for r in recs if isinstance(r, dict)]

    def load(self) -> SweepState:
        return fold(self.records(), self.id)

    def append(self, *records: dict[str, Any]) -> None:
        """Append records with one write (an assignment is its proposal plus who took it)."""
        now = time.time()
        if schema.STRICT:
            for r in records:
                schema.check("journal.jsonl", {"time": now, **r})
        data = b"".join(jsonl.encode({"time": now, **r}) for r in records)
        fd = jsonl.open_append(self.journal)
        try:
            jsonl.write_all(fd, data)
        finally:
            os.close(fd)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The sweep's exclusive lock. flock on a local disk; on NFS Linux maps it to a POSIX lock, which
        the server arbitrates between machines."""
        fd = os.open(self.path / L.SWEEP_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def write_config_copy(self, config: dict[str, Any]) -> None:
        import yaml

        jsonl.write_atomic(self.path / L.SWEEP_CONFIG, yaml.safe_dump(config, sort_keys=False).encode())

    def run_config_path(self, run_id: str, ext: str = "yaml") -> Path:
        """The trial's parameters, as the file its process reads (WANDB_SWEEP_PARAM_PATH)."""
        if not L.valid_name(run_id) or ext not in ("yaml", "json"):
            raise ValueError(f"no trial config for run {run_id!r} ({ext})")
        return self.path / f"config-{run_id}.{ext}"


def create(
    store: Store,
    config: dict[str, Any],
    project: str,
    entity: str | None = None,
    prior_runs: list[dict[str, Any]] | None = None,
) -> SweepDir:
    """A new sweep directory with its config and `create` record (plus `propose` records for prior runs)."""
    store.ensure()
    for _ in range(10):
        sd = SweepDir(store, names.new_id())
        try:
            sd.path.mkdir(parents=True, exist_ok=False)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - 36**8 ids
        raise UsageError("could not pick a free sweep id")
    sd.write_config_copy(config)
    recs: list[dict[str, Any]] = [
        {"t": "create", "id": sd.id, "config": config, "project": project, "entity": entity or ""}
    ]
    for p in prior_runs or ():
        recs.append(
            {"t": "propose", "run": p["run"], "params": p["params"], "prior": True, "state": p["state"]}
        )
    sd.append(*recs)
    return sd


def parse_path(path: str) -> tuple[str | None, str | None, str]:
    """`id`, `project/id` or `entity/project/id` -> (entity, project, id)."""
    parts = [p for p in str(path).strip().strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "sweeps":  # wandb's URL form entity/project/sweeps/id
        parts = [parts[0], parts[1], parts[3]]
    if not parts or len(parts) > 3:
        raise UsageError(f"sweep {path!r}: give a sweep id, project/id or entity/project/id")
    sid = parts[-1]
    project = parts[-2] if len(parts) >= 2 else None
    entity = parts[0] if len(parts) == 3 else None
    return entity, project, sid


def open_sweep(store: Store, path: str) -> SweepDir:
    """The sweep named by `path`; a clear error naming the store when there is none."""
    _, _, sid = parse_path(path)
    if not _ID.match(sid):
        raise UsageError(
            f"{sid!r} is not a sweep id (8 characters of a-z, 0-9); "
            "create one with `runstore sweep config.yaml`"
        )
    sd = SweepDir(store, sid)
    if not sd.exists():
        raise UsageError(
            f"no sweep {sid!r} in the store at {store.root} (is RUNSTORE_DIR/--dir the store the "
            "sweep was created in?)"
        )
    return sd


def trial_run(store: Store, st: SweepState, run_id: str) -> RunRef | None:
    """The run of a trial: in the sweep's project, or wherever a program that forced its own project put it."""
    return store.find_run_by_id(run_id, st.project) or store.find_run_by_id(run_id)


def list_sweeps(store: Store) -> list[SweepDir]:
    root = store.sweeps_dir
    try:
        ids = sorted(e.name for e in os.scandir(root) if e.is_dir() and _ID.match(e.name))
    except FileNotFoundError:
        return []
    sweeps = [SweepDir(store, i) for i in ids]
    return [sd for sd in sweeps if sd.exists()]
