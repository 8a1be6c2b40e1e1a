"""A derived per-project index of folded run states, so listing 10,000 runs reads one file.

The index (`Store.index_path(project)`) maps run id -> the folded fields of its run.jsonl plus the size
and mtime of the files they came from. An entry is reused only while those signatures match (one `stat`
per run, two for runs without an exit record, whose summary depends on history.jsonl). The index may
be deleted at any time; a read-only store simply goes without it.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..base import term
from ..base.gcpause import paused
from ..errors import FormatError
from . import jsonl
from .jsonl import file_sig
from .layout import HISTORY, RUN_LOG, RunRef, history_generation, make_dirs
from .runs import RunState, Segment, load_run
from .store import Store
from .summary import MetricDefs

VERSION = 2


def _to_entry(st: RunState, sig: list[int], hsig: list[int] | None) -> dict[str, Any]:
    return {
        "sig": sig,
        "hsig": hsig,
        "info": st.info,
        "config": st.config,
        "metadata": st.metadata,
        "segments": [[s.start, s.step, s.runtime_offset] for s in st.segments],
        "exit": st.exit,
        "live": st.live,
        "dropped": st.dropped,
        "defs": st.defs.to_list(),
        "summary": st.summary,
        "history": st.history_name,
    }


def _from_entry(ref: RunRef, e: dict[str, Any]) -> RunState:
    history = e.get("history") or HISTORY
    if history_generation(history) is None:
        raise ValueError(f"bad history name {history!r} in the index")  # refolded from run.jsonl
    defs = MetricDefs()
    for d in e.get("defs") or ():
        defs.add(d)
    return RunState(
        ref=ref,
        info=e["info"],
        config=e["config"],
        metadata=e.get("metadata") or {},
        defs=defs,
        segments=[Segment(*s) for s in e["segments"]],
        exit=e["exit"],
        live=e["live"],
        events=[],
        dropped=e.get("dropped", 0),
        history_name=history,
        _summary=e["summary"],
    )


def _decode(raw: bytes) -> Any:
    """The index file's JSON. Not jsonl.decode: its depth check scans every byte with a regex, a second
    for a 10,000-run index, and nothing here needs it (orjson refuses nesting past its own limit; the
    stdlib's parser, which reads the NaN and ±Infinity of summaries, raises RecursionError)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


# Decoded indexes kept by processes that list the same projects again and again (the server): path ->
# (the file's signature, its entries). Only a shortcut past decoding: every entry is still checked
# against its run's files before it is used, so a stale one is refolded, never served.
_KEPT: dict[str, tuple[list[int] | None, dict[str, Any]]] = {}


def load_states(store: Store, project: str | None = None, *, keep: bool = False) -> list[RunState]:
    """Every run of `project` (or of all projects) as a RunState, using and refreshing the index.
    `keep`: keep the decoded index in memory for the next call (a long-lived reader's choice: it costs
    the index's size in memory, and saves decoding it, a third of a 10,000-run listing)."""
    out: list[RunState] = []
    with paused():  # an index of 10,000 runs is a million small objects
        for p in [project] if project else store.projects():
            out.extend(_project_states(store, p, keep))
    return out


def _project_states(store: Store, project: str, keep: bool = False) -> list[RunState]:
    path = store.index_path(project)
    key = str(path)
    kept = _KEPT.get(key) if keep else None
    if kept is not None and kept[0] is not None and kept[0] == file_sig(key):
        entries = kept[1]
    else:
        try:
            cached = _decode(path.read_bytes())
            entries = cached["runs"] if cached.get("version") == VERSION else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            entries = {}
    fresh: dict[str, Any] = {}
    states: list[RunState] = []
    dirty = False
    for ref in store.iter_runs(project):
        # Plain strings, not Paths: this loop runs once per run of the project on every listing.
        sig = file_sig(f"{ref.dir}/{RUN_LOG}")
        if sig is None:
            continue
        e = entries.get(ref.id)
        hsig = None
        if e is not None and e.get("sig") == sig:
            if e.get("exit") is None:  # a summary folded from history is only as fresh as the history
                hsig = file_sig(f"{ref.dir}/{e.get('history') or HISTORY}")
            if e.get("exit") is not None or e.get("hsig") == hsig:
                try:
                    states.append(_from_entry(ref, e))
                    fresh[ref.id] = e
                    continue
                except (KeyError, TypeError, ValueError):
                    pass
        try:
            st = load_run(ref)
        except FormatError as e:
            term.warn(f"{e}; it is left out", once_key=f"format:{ref.dir}")
            continue
        if not st.info:
            continue  # a run directory whose first record is not on disk yet
        hsig = None if st.exit is not None else file_sig(st.history_path)
        try:
            entry = _to_entry(st, sig, hsig)
            jsonl.encode(entry)
        except (TypeError, ValueError):
            states.append(st)
            continue
        fresh[ref.id] = entry
        states.append(st)
        dirty = True
    if dirty or len(fresh) != len(entries):
        try:
            make_dirs(path.parent)
            payload = {"version": VERSION, "runs": fresh}
            jsonl.write_atomic(path, jsonl.encode(payload))
        except (OSError, TypeError, ValueError):
            pass
    if keep:
        _KEPT[key] = (file_sig(key), fresh)
    return states
