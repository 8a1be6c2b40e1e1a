"""`runstore diff A B`: what differs between two runs (config, summary, metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer
from rich.table import Table

from ..store.history import flatten
from ..store.query import iso
from ..store.runs import RunState, load_run
from ._common import console, fmt_duration, fmt_value, require_store, resolve_run, store_at

_ABSENT = object()
META_KEYS = (
    "state",
    "exit_code",
    "created",
    "runtime",
    "host",
    "program",
    "args",
    "python",
    "cwd",
    "git.commit",
    "git.branch",
    "git.dirty",
    "group",
    "job_type",
    "tags",
    "notes",
)


def _meta(st: RunState) -> dict[str, Any]:
    info = st.info
    m: dict[str, Any] = {
        "state": st.state,
        "exit_code": st.exit_code,
        "created": iso(st.created),
        "runtime": fmt_duration(st.runtime),
        "host": info.get("host"),
        "program": info.get("program"),
        "args": info.get("args"),
        "python": info.get("python"),
        "cwd": info.get("cwd"),
        "group": info.get("group"),
        "job_type": info.get("job_type"),
        "tags": info.get("tags"),
        "notes": info.get("notes"),
    }
    m.update({k: v for k, v in flatten(st.metadata).items() if k in META_KEYS})
    return m


def compare(a: RunState, b: RunState, show_all: bool = False) -> dict[str, dict[str, list[Any]]]:
    """{section: {key: [value_a, value_b]}} for config, summary and metadata (differing keys only,
    unless `show_all`). A key absent on one side has None there and is always a difference."""
    sections = {
        "config": (
            flatten({k: v for k, v in a.config.items() if k != "_wandb"}),
            flatten({k: v for k, v in b.config.items() if k != "_wandb"}),
        ),
        "summary": (
            {k: v for k, v in flatten(a.summary).items() if not k.startswith("_")},
            {k: v for k, v in flatten(b.summary).items() if not k.startswith("_")},
        ),
        "metadata": (_meta(a), _meta(b)),
    }
    out: dict[str, dict[str, list[Any]]] = {}
    for name, (x, y) in sections.items():
        keys = list(dict.fromkeys([*x, *y]))
        if name != "metadata":
            keys.sort()
        rows: dict[str, list[Any]] = {}
        for k in keys:
            va, vb = x.get(k, _ABSENT), y.get(k, _ABSENT)
            same = va is not _ABSENT and vb is not _ABSENT and _canon(va) == _canon(vb)
            if name == "metadata" and k in ("created", "runtime"):
                same = same or not show_all  # always different; noise unless asked for
            if show_all or not same:
                rows[k] = [None if va is _ABSENT else va, None if vb is _ABSENT else vb]
        out[name] = rows
    return out


def _canon(v: Any) -> bytes:
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def markdown(a: RunState, b: RunState, result: dict[str, dict[str, list[Any]]]) -> str:
    def cell(v: Any) -> str:
        return fmt_value(v, 60).replace("|", "\\|")

    lines = [f"### runstore diff: `{a.info.get('name')}` ({a.id}) vs `{b.info.get('name')}` ({b.id})", ""]
    for section, rows in result.items():
        if not rows:
            continue
        lines += [f"**{section}**", "", f"| key | {a.id} | {b.id} |", "|---|---|---|"]
        lines += [f"| `{k}` | {cell(va)} | {cell(vb)} |" for k, (va, vb) in rows.items()]
        lines.append("")
    if not any(result.values()):
        lines.append("No differences.")
    return "\n".join(lines)


def diff(
    run_a: str = typer.Argument(..., metavar="RUN_A", help="id, id prefix, name, run directory or 'latest'."),
    run_b: str = typer.Argument(..., metavar="RUN_B"),
    show_all: bool = typer.Option(False, "--all", "-a", help="Show equal keys too."),
    json: bool = typer.Option(False, "--json", help="Print JSON {section: {key: [a, b]}}."),
    md: bool = typer.Option(False, "--markdown", help="Print a Markdown table (for a CI comment)."),
    project: str = typer.Option(None, "--project", "-p", help="Look runs up in this project."),
    dir: Path = typer.Option(None, "--dir", help="Store directory (or its parent)."),
) -> None:
    """Compare two runs' config, summary and metadata; by default only what differs."""
    store = require_store(store_at(dir))
    a = load_run(resolve_run(store, run_a, project))
    b = load_run(resolve_run(store, run_b, project))
    result = compare(a, b, show_all)
    if json:
        payload = {
            "a": {"id": a.id, "project": a.ref.project, "name": a.info.get("name")},
            "b": {"id": b.id, "project": b.ref.project, "name": b.info.get("name")},
            **result,
        }
        console.print_json(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY).decode())
        return
    if md:
        console.print(markdown(a, b, result), markup=False, highlight=False, soft_wrap=True)
        return
    if not any(result.values()):
        console.print(f"{a.id} and {b.id}: no differences in config, summary or metadata")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("")
    table.add_column("key", no_wrap=True)
    table.add_column(f"{a.info.get('name')} ({a.id})", overflow="fold")
    table.add_column(f"{b.info.get('name')} ({b.id})", overflow="fold")
    for section, rows in result.items():
        first = True
        for k, (va, vb) in rows.items():
            table.add_row(section if first else "", k, fmt_value(va, 40), fmt_value(vb, 40))
            first = False
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


__all__ = ["compare", "markdown", "register"]
