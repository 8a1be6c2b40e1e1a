"""The record types of the store's event logs and their fields, declared once.

docs/FORMAT.md documents exactly these (a test compares its tables with `RECORDS` both ways), and every
writer's records are checked against them while the test suite runs (`STRICT`), so the format cannot
grow a record type or field that the documentation does not know about. Readers ignore what they do not
know, so a minor format version may add entries here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import layout as L


@dataclass(frozen=True)
class Record:
    fields: tuple[str, ...]
    legacy: tuple[str, ...] = ()  # written by format 1 only; still understood by readers


RUN_LOG = L.RUN_LOG
JOURNAL = L.JOURNAL
ARTIFACT_LOG = L.ARTIFACT_LOG

RECORDS: dict[str, dict[str, Record]] = {
    RUN_LOG: {
        "init": Record(
            (
                "id",
                "project",
                "entity",
                "name",
                "notes",
                "tags",
                "group",
                "job_type",
                "mode",
                "created",
                "host",
                "pid",
                "pid_start",
                "program",
                "args",
                "cwd",
                "python",
                "executable",
                "sweep_id",
                "runstore",
                "format",
                "ignore_globs",
            )
        ),
        "resume": Record(("time", "step", "runtime", "host", "pid", "pid_start", "mode")),
        "config": Record(("set", "del", "source")),
        "edit": Record(("set", "source")),
        "metric": Record(
            ("name", "step_metric", "step_sync", "hidden", "summary", "goal", "overwrite", "step")
        ),
        "summary": Record(("step", "set", "del", "source")),
        "dropped": Record(("step", "current", "row")),
        "alert": Record(("time", "title", "text", "level")),
        "rewind": Record(("step", "time", "history"), legacy=("kept",)),
        "meta": Record(("set",)),
        "save": Record(("src", "path", "policy", "sig")),
        "exit": Record(
            ("code", "time", "runtime", "step", "history_bytes", "summary", "aggs", "state", "by", "reason")
        ),
    },
    JOURNAL: {
        "create": Record(("time", "id", "config", "project", "entity")),
        "update": Record(("time", "config")),
        "state": Record(("time", "state", "reason")),
        "agent": Record(("time", "agent", "kind", "host", "pid", "pid_start")),
        "heartbeat": Record(("time", "agent")),
        "agent-exit": Record(("time", "agent", "reason")),
        "propose": Record(("time", "run", "params", "prior", "state")),
        "assign": Record(("time", "run", "agent")),
        "stop": Record(("time", "run", "reason")),
        "result": Record(("time", "run", "agent", "state", "code", "by")),
        "release": Record(("time", "run", "reason")),
    },
    ARTIFACT_LOG: {
        "version": Record(
            (
                "time",
                "collection",
                "type",
                "version",
                "digest",
                "size",
                "description",
                "metadata",
                "tags",
                "run",
                "source",
            )
        ),
        "alias": Record(("time", "collection", "version", "alias", "run")),
        "use": Record(("time", "collection", "version", "run")),
        "log": Record(("time", "collection", "version", "run")),
        "delete": Record(("time", "collection", "version", "run")),
        "unalias": Record(("time", "collection", "version", "alias", "run")),
        "update": Record(("time", "collection", "version", "description", "metadata", "tags", "run")),
    },
}

# The keys an `edit` record's `set` may carry: the identity fields a run or the Api may change, and
# `preempting` (run.mark_preempting()).
EDIT_KEYS = ("name", "notes", "tags", "group", "job_type", "preempting")

# Set by the test suite: every record a writer appends is checked, and what was written is collected.
STRICT = False
SEEN: set[tuple[str, str, str]] = set()


class SchemaError(AssertionError):
    """A writer produced a record the format does not declare (only raised when STRICT)."""


def check(log: str, rec: dict[str, Any]) -> None:
    """Raise SchemaError unless `rec` is a declared record type of `log` with declared fields only."""
    t = rec.get("t")
    decl = RECORDS[log].get(t) if isinstance(t, str) else None
    if decl is None or not isinstance(t, str):
        raise SchemaError(
            f"{log}: record type {t!r} is not declared in store/schema.py (nor in docs/FORMAT.md)"
        )
    extra = [k for k in rec if k != "t" and k not in decl.fields]
    if extra:
        raise SchemaError(f"{log}: field(s) {extra} of a {t!r} record are not declared in store/schema.py")
    if t == "edit" and isinstance(rec.get("set"), dict):
        bad = [k for k in rec["set"] if k not in EDIT_KEYS]
        if bad:
            raise SchemaError(f"{log}: an edit record sets {bad}, which are not among {EDIT_KEYS}")
    SEEN.add((log, t, ""))
    SEEN.update((log, t, k) for k in rec if k != "t")


__all__ = [
    "Record",
    "RECORDS",
    "EDIT_KEYS",
    "STRICT",
    "SEEN",
    "SchemaError",
    "check",
    "RUN_LOG",
    "JOURNAL",
    "ARTIFACT_LOG",
]
