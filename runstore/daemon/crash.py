"""The exit record the daemon writes for a run whose process died without writing one."""

from __future__ import annotations

import os
import time
from typing import Any

from ..store import jsonl
from ..store.layout import HISTORY, RUN_LOG, RunRef
from ..store.liveness import is_alive
from ..store.runs import RunState, fold_summary, last_step, load_run


def _history_bytes(ref: RunRef) -> int:
    """Bytes of history.jsonl up to its last newline: a torn tail left by the dead writer is not covered
    by the snapshot (a resumed writer will seal it into an undecodable line, skipped by every reader)."""
    path = ref.path / HISTORY
    try:
        with open(path, "rb") as f:
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
    """The exit record for a dead run, with the same summary snapshot the SDK's `finish()` writes, so a
    later read starts from it instead of re-folding the whole history."""
    now = time.time() if now is None else now
    hbytes = _history_bytes(st.ref)
    state = fold_summary(st)
    last = last_step(st.ref.path / HISTORY)
    seg_step = st.segments[-1].step if st.segments else 0
    step = max(seg_step, 0 if last is None else last + 1)
    runtime = st.runtime  # for a dead run: up to its files' last change, not up to now
    rec: dict[str, Any] = {
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
    return rec


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
    jsonl.append(ref.path / RUN_LOG, crashed_record(st))
    return True
