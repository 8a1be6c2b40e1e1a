"""One run: its state is a fold over `run.jsonl` (and, for the summary, its current history).

Record types of run.jsonl are declared in store/schema.py and documented in docs/FORMAT.md. Every field a
reader does not know is ignored, so newer writers of the same major format version stay readable. The
writers here (`append_record`, `rewind`, `mark_if_crashed`) are the ones outside the live SDK `Run`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import format as fmt
from . import jsonl, schema
from . import layout as L
from .history import iter_rows
from .layout import HISTORY, RunRef
from .liveness import is_alive
from .summary import MetricDefs, SummaryState

# A run on another host whose files have not changed for this long is presumed dead.
REMOTE_HEARTBEAT_S = 300.0


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
    history_name: str = HISTORY  # the current history generation (a rewind starts a new one)
    # run.save() records by source path (the last one wins): {"path": under files/, "policy", "sig"}
    saves: dict[str, dict[str, Any]] = field(default_factory=dict)
    _summary: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def path(self) -> Path:
        return self.ref.path

    @property
    def history_path(self) -> Path:
        """The history file rows are read from and appended to (docs/FORMAT.md, "History generations")."""
        return self.ref.history_file(self.history_name)

    @property
    def format(self) -> tuple[int, int]:
        """The format version the run was started with (format 1 for runs that record none)."""
        return fmt.parse(self.info.get("format")) or fmt.LEGACY

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
        for path in (self.ref.run_log, self.history_path, self.ref.system_log):
            try:
                newest = max(newest, os.stat(path).st_mtime)
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
    """The run's state folded from run.jsonl. FormatError if it was written in a newer major format."""
    events, _ = jsonl.read(ref.run_log)
    events = [ev for ev in events if isinstance(ev, dict)]
    st = RunState(ref=ref, events=events)
    for ev in events:
        try:
            _apply_event(st, ev)
        except (TypeError, ValueError, AttributeError, KeyError):
            continue  # a malformed record (hand-edited, foreign writer) is skipped like a torn line
    fmt.check(st.format, f"run {ref.project}/{ref.id}")
    return st


def _apply_event(st: RunState, ev: dict[str, Any]) -> None:
    t = ev.get("t")
    if t == "init":
        st.info = {k: v for k, v in ev.items() if k != "t"}
        st.config = {}
        st.segments = [Segment(float(ev.get("created", 0.0)), 0, 0.0)]
        st.live, st.exit = ev, None
        st.history_name = HISTORY
    elif t == "rewind":
        # Format 2 names the new generation; a format-1 rewind swapped history.jsonl itself (`kept`
        # names the side file that holds the old rows), so the current file stays history.jsonl.
        name = ev.get("history")
        if isinstance(name, str) and L.history_generation(name) is not None:
            st.history_name = name
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
    elif t == "save":
        if isinstance(ev.get("src"), str) and isinstance(ev.get("path"), str):
            st.saves[ev["src"]] = {"path": ev["path"], "policy": ev.get("policy"), "sig": ev.get("sig")}
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
    for row in iter_rows(st.history_path, offset):
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


class RunFollower:
    """A RunState kept current by folding only the bytes run.jsonl gained since the last `refresh()`
    (the daemon follows every live run this way, once per sampling interval). It keeps no event list,
    so its memory does not grow with the run; its `state` has no summary."""

    def __init__(self, ref: RunRef) -> None:
        self.ref = ref
        self.state = RunState(ref=ref)
        self.offset = 0

    def refresh(self) -> bool:
        """Fold what was appended since the last call; whether anything was. FileNotFoundError if the
        run's log is gone."""
        size = os.stat(self.ref.run_log).st_size
        if size < self.offset:  # replaced (never done by runstore; a restored backup, say): start over
            self.state, self.offset = RunState(ref=self.ref), 0
        if size == self.offset:
            return False
        events, self.offset = jsonl.read(self.ref.run_log, self.offset)
        for ev in events:
            if isinstance(ev, dict):
                try:
                    _apply_event(self.state, ev)
                except (TypeError, ValueError, AttributeError, KeyError):
                    continue
        return True

    @property
    def ended(self) -> bool:
        """The run's last init/resume has an exit record after it."""
        return self.state.exit is not None


# -- writers outside the SDK -------------------------------------------------------------------------
def append_record(ref: RunRef, rec: dict[str, Any]) -> None:
    """Append one record to the run's event log with a single write."""
    if schema.STRICT:
        schema.check("run.jsonl", rec)
    jsonl.append(ref.run_log, rec)


def rewind(ref: RunRef, step: int, now: float | None = None) -> str:
    """`resume_from=<id>?_step=N`: start a new history generation holding the rows up to `step`, and
    name it in a `rewind` record. Nothing already written changes, so a replica that copied the old
    generation by offset never sees a file shrink or change under it. Returns the new file's name."""
    now = time.time() if now is None else now
    st = load_run(ref)
    kept = b"".join(jsonl.encode(r) for r in iter_rows(st.history_path) if r["_step"] <= step)
    taken = {L.history_generation(p.name) for p in ref.path.iterdir()}
    generation = max((g for g in taken if g is not None), default=0) + 1  # never reuse an orphan's name
    name = L.history_name(generation)
    jsonl.write_atomic(ref.history_file(name), kept, replace=False)
    append_record(ref, {"t": "rewind", "step": step, "time": now, "history": name})
    return name


def _complete_bytes(path: Path) -> int:
    """Bytes of a history file up to its last newline: a torn tail left by a dead writer is not covered
    by a snapshot (a resumed writer will seal it into an undecodable line, skipped by every reader)."""
    try:
        with jsonl.open_read(path) as f:
            size = f.seek(0, os.SEEK_END)
            pos = size
            while pos > 0:
                start = max(0, pos - 65536)
                f.seek(start)
                block = f.read(pos - start)
                nl = block.rfind(b"\n")
                if nl >= 0:
                    return start + nl + 1
                pos = start
    except OSError:
        pass
    return 0


def crashed_record(st: RunState, now: float | None = None) -> dict[str, Any]:
    """The exit record for a run whose process died without writing one, with the same summary snapshot
    the SDK's `finish()` writes, so a later read starts from it instead of re-folding the whole history."""
    now = time.time() if now is None else now
    hbytes = _complete_bytes(st.history_path)
    state = fold_summary(st)
    last = last_step(st.history_path)
    seg_step = st.segments[-1].step if st.segments else 0
    step = max(seg_step, 0 if last is None else last + 1)
    runtime = st.runtime  # for a dead run: up to its files' last change, not up to now
    return {
        "t": "exit",
        "state": "crashed",
        "code": None,
        "time": now,
        "runtime": runtime,
        "step": step,
        "history_bytes": hbytes,
        **state.snapshot(),
        "by": "daemon",
    }


def mark_if_crashed(ref: RunRef) -> bool:
    """Append a `crashed` exit record if the run's last init/resume has no exit and its writer is dead
    on this host. Returns whether it wrote one. Reads run.jsonl afresh, so a run that finished or was
    resumed by another process in the meantime is left alone."""
    st = load_run(ref)
    if st.exit is not None or st.live is None:
        return False
    live = st.live
    if is_alive(live.get("pid"), live.get("pid_start"), live.get("host")) is not False:
        return False  # alive, or on another host (only that host can tell)
    append_record(ref, crashed_record(st))
    return True


def mark_stopped(ref: RunRef, code: int | None, reason: str) -> None:
    """Append the exit record that makes an early-terminated sweep trial read `stopped` (after its
    process is gone: its own finish(), if any, came first and this record, being last, wins)."""
    rec = crashed_record(load_run(ref))
    rec.update({"state": "stopped", "code": code, "by": "agent", "reason": reason})
    append_record(ref, rec)
