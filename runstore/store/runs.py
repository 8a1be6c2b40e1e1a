"""Reading one run: its state is a fold over `run.jsonl` (and, for the summary, `history.jsonl`).

Event kinds in run.jsonl (docs/FORMAT.md): init, resume, config, edit, metric, summary, meta, dropped,
exit. Every field a reader does not know is ignored, so newer writers stay readable.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import jsonl
from .layout import HISTORY, RUN_LOG, SYSTEM, RunRef
from .liveness import is_alive
from .summary import MetricDefs, SummaryState

# A run on another host whose files have not changed for this long is presumed dead.
REMOTE_HEARTBEAT_S = 300.0
TERMINAL = ("finished", "failed", "crashed", "killed")


@dataclass
class Segment:
    """One process's stretch of a run (the first start, then one per resume)."""

    start: float
    step: int
    runtime_offset: float


@dataclass
class RunState:
    ref: RunRef
    info: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    defs: MetricDefs = field(default_factory=MetricDefs)
    segments: list[Segment] = field(default_factory=list)
    exit: dict[str, Any] | None = None
    live: dict[str, Any] | None = None  # the init/resume event of a segment without an exit
    events: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    _summary: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def path(self) -> Path:
        return self.ref.path

    @property
    def exit_code(self) -> int | None:
        return None if self.exit is None else self.exit.get("code")

    @property
    def state(self) -> str:
        if self.exit is not None:
            if self.exit.get("state"):
                return str(self.exit["state"])
            return "finished" if self.exit.get("code", 0) == 0 else "failed"  # None never gets here
        live = self.live or {}
        alive = is_alive(live.get("pid"), live.get("pid_start"), live.get("host"))
        if alive is None:
            alive = time.time() - self.last_activity() < REMOTE_HEARTBEAT_S
        return "running" if alive else "crashed"

    def last_activity(self) -> float:
        newest = 0.0
        for name in (RUN_LOG, HISTORY, SYSTEM):
            try:
                newest = max(newest, os.stat(self.path / name).st_mtime)
            except OSError:
                pass
        return newest

    @property
    def created(self) -> float:
        return float(self.info.get("created", 0.0))

    @property
    def runtime(self) -> float:
        """Seconds the run has been alive over all its segments."""
        if self.exit is not None and "runtime" in self.exit:
            return float(self.exit["runtime"])
        if not self.segments:
            return 0.0
        seg = self.segments[-1]
        end = time.time() if self.state == "running" else max(self.last_activity(), seg.start)
        return seg.runtime_offset + max(0.0, end - seg.start)

    @property
    def summary(self) -> dict[str, Any]:
        if self._summary is None:
            self._summary = fold_summary(self).values
        return self._summary


def last_step(path: Path) -> int | None:
    """The `_step` of the last complete row of a history file (read from its end)."""
    row = jsonl.last_row(path)
    return None if row is None else row["_step"]


def load_run(ref: RunRef) -> RunState:
    events, _ = jsonl.read(ref.path / RUN_LOG)
    events = [ev for ev in events if isinstance(ev, dict)]
    st = RunState(ref=ref, events=events)
    for ev in events:
        try:
            _apply_event(st, ev)
        except (TypeError, ValueError, AttributeError, KeyError):
            continue  # a malformed record (hand-edited, foreign writer) is skipped like a torn line
    return st


def _apply_event(st: RunState, ev: dict[str, Any]) -> None:
    t = ev.get("t")
    if t == "init":
        st.info = {k: v for k, v in ev.items() if k != "t"}
        st.config = {}
        st.segments = [Segment(float(ev.get("created", 0.0)), 0, 0.0)]
        st.live, st.exit = ev, None
    elif t == "resume":
        st.segments.append(
            Segment(float(ev.get("time", 0.0)), int(ev.get("step", 0)), float(ev.get("runtime", 0.0)))
        )
        st.live, st.exit = ev, None
    elif t == "config":
        st.config.update(ev.get("set") or {})
        for k in ev.get("del") or ():
            st.config.pop(k, None)
    elif t == "edit":
        st.info.update(ev.get("set") or {})
    elif t == "meta":
        st.metadata.update(ev.get("set") or {})
    elif t == "metric":
        if "name" in ev:
            st.defs.add({k: v for k, v in ev.items() if k != "t"})
    elif t == "dropped":
        st.dropped += 1
    elif t == "exit":
        ev = dict(ev)
        if type(ev.get("code", 0)) is not int and not (ev.get("code") is None and ev.get("state")):
            ev["code"] = 1  # junk; a daemon's crashed record legitimately has no code
        if not isinstance(ev.get("runtime", 0.0), (int, float)):
            ev.pop("runtime")
        if not isinstance(ev.get("summary", {}), dict):
            ev.pop("summary")
        st.exit, st.live = ev, None


def fold_summary(st: RunState) -> SummaryState:
    """The run's summary: the last final snapshot, then whatever was logged or edited after it."""
    from .history import iter_rows

    start_idx, offset = 0, 0
    state = SummaryState(defs=MetricDefs())
    for i in range(len(st.events) - 1, -1, -1):
        ev = st.events[i]
        if isinstance(ev, dict) and ev.get("t") == "rewind":
            break  # snapshots before a rewind describe rows that are no longer in the history
        if isinstance(ev, dict) and ev.get("t") == "exit" and isinstance(ev.get("summary"), dict):
            aggs = ev.get("aggs") if isinstance(ev.get("aggs"), dict) else {}
            hb = ev.get("history_bytes", 0)
            state = SummaryState(values=ev["summary"], aggs=aggs, defs=MetricDefs())
            start_idx, offset = i + 1, hb if type(hb) is int and hb >= 0 else 0
            for prev in st.events[:i]:
                if isinstance(prev, dict) and prev.get("t") == "metric" and "name" in prev:
                    state.defs.add({k: v for k, v in prev.items() if k != "t"})
            break
    # Summary edits are ordered against history rows by step: an edit made while the next step was C
    # comes after every row with _step < C and before the rest (docs/FORMAT.md).
    pending = [
        e for e in st.events[start_idx:] if isinstance(e, dict) and e.get("t") in ("summary", "metric")
    ]
    pending = [e for e in pending if type(e.get("step", 0)) is int]
    j = 0
    for row in iter_rows(st.path / HISTORY, offset):
        s = row.get("_step")
        if type(s) is not int:
            continue  # not a row this format writes
        while j < len(pending) and pending[j].get("step", 0) <= s:
            _apply(state, pending[j])
            j += 1
        state.apply_row(with_runtime(row, st.segments))
    for ev in pending[j:]:
        _apply(state, ev)
    return state


def _apply(state: SummaryState, ev: dict[str, Any]) -> None:
    try:
        if ev.get("t") == "metric":
            if isinstance(ev.get("name"), str):
                state.defs.add({k: v for k, v in ev.items() if k != "t"})
        else:
            state.apply_edit(ev)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        pass  # a malformed edit record is skipped, like an undecodable line


def with_runtime(row: dict[str, Any], segments: list[Segment]) -> dict[str, Any]:
    """Add the derived `_runtime` to a history row (it is not stored: see docs/FORMAT.md)."""
    ts = row.get("_timestamp")
    if not isinstance(ts, (int, float)) or not segments or "_runtime" in row:
        return row
    seg = segments[0]
    step = row.get("_step")
    if len(segments) > 1 and type(step) is int:
        for s in segments:
            if s.step <= step:
                seg = s
    row["_runtime"] = seg.runtime_offset + (ts - seg.start)
    return row
