"""`runstore ls`: a table of runs with the config and summary columns that differ between them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..api import Api, Run
from ..base.gcpause import paused
from ..errors import UsageError
from ..store.history import flatten
from ..store.query import parse_filter
from ._common import console, fmt_duration, fmt_time, fmt_value, json_text, printable, require_store, store_at

MAX_VARYING = 8
_ANSI = {"running": "33", "finished": "32", "failed": "31", "crashed": "31", "killed": "31", "stopped": "33"}


def _varying(rows: list[dict[str, Any]], kind: str) -> list[str]:
    """Leaf keys of config/summary whose values are not the same in every listed run."""
    flat = [flatten(r[kind]) for r in rows]
    keys: dict[str, None] = {}
    for f in flat:
        for k in f:
            if not k.startswith("_"):
                keys.setdefault(k, None)
    out = []
    for k in keys:
        vals = [json_text(f.get(k), sort_keys=True) for f in flat]
        if len(rows) == 1 or len(set(vals)) > 1:
            out.append(k)
    return sorted(out)[:MAX_VARYING]


def collect(
    store_dir: Path | None,
    project: str | None,
    filters: list[str],
    sort: str | None,
    limit: int,
    sweep: str | None = None,
) -> tuple[list[Run], int]:
    store = require_store(store_at(store_dir))
    if project is None:
        project = store.read_settings().get("project") or None
        if project and not store.has_project(project):
            project = None  # the default project has no runs yet: list every project's
    flt: dict[str, Any] = {"$and": [parse_filter(f) for f in filters]} if filters else {}
    if sweep:
        flt = {"$and": [flt, {"sweep": sweep}]} if flt else {"sweep": sweep}
    runs = list(Api(store=store, overrides={"project": project}).runs(project, flt, sort or "-created_at"))
    return (runs[:limit] if limit > 0 else runs), len(runs)


def ls(
    project: str = typer.Option(None, "--project", "-p", help="Only this project (default: the store's)."),
    filter: list[str] = typer.Option(
        None,
        "--filter",
        "-f",
        help="FIELD OP VALUE (config.lr>0.01, state=finished, tags=best, "
        "name~^exp) or a JSON filter; repeat to AND.",
    ),
    sort: str = typer.Option(
        "-created_at", "--sort", "-s", help="Field to sort by, +/- prefix (e.g. -summary_metrics.acc)."
    ),
    limit: int = typer.Option(50, "--limit", "-n", help="Show at most N runs (0 = all)."),
    dir: Path = typer.Option(None, "--dir", help="Store directory (or its parent)."),
    sweep: str = typer.Option(None, "--sweep", help="Only runs of this sweep id."),
    json: bool = typer.Option(False, "--json", help="Print a JSON array with one object per run."),
    remote: str = typer.Option(
        None, "--remote", help="List the runs at this remote URL instead (fetches only their run logs)."
    ),
) -> None:
    """List runs: name, id, state, created, runtime, and the config/summary values that vary."""
    if limit < 0:
        raise UsageError("--limit must be >= 0")
    if remote is not None:
        if dir is not None:
            raise UsageError("--remote and --dir cannot be combined")
        dir = remote_store(remote, project)
    with paused():  # one dict per run, thousands of runs: see base/gcpause.py
        _ls(dir, project, filter or [], sort, limit, sweep, json)


def _ls(
    dir: Path | None,
    project: str | None,
    filter: list[str],
    sort: str | None,
    limit: int,
    sweep: str | None,
    json: bool,
) -> None:
    runs, total = collect(dir, project, filter, sort, limit, sweep)
    if json:
        out = [r.to_dict() for r in runs]
        # Straight to stdout: rich's JSON highlighting takes seconds on thousands of runs.
        console.file.write(json_text(out, indent=True))
        console.file.write("\n")
        console.file.flush()
        return
    if not runs:
        console.print("no runs" + (" match" if filter else ""))
        return
    render(runs, total)


def render(runs: list[Run], total: int) -> None:
    rows = [r.to_dict() for r in runs]
    multi = len({r["project"] for r in rows}) > 1
    fixed: list[tuple[str, list[str]]] = []
    if multi:
        fixed.append(("project", [printable(r["project"]) for r in rows]))
    fixed += [
        ("name", [fmt_value(r["name"], 32) for r in rows]),
        ("id", [r["id"] for r in rows]),
        ("state", [r["state"] for r in rows]),
        ("created", [fmt_time(r.created) for r in runs]),
        ("runtime", [fmt_duration(r["runtime"]) for r in rows]),
    ]
    flat_cfg = [flatten(r["config"]) for r in rows]
    flat_sum = [flatten(r["summary"]) for r in rows]
    extra: list[tuple[str, str, list[str]]] = []
    for kind, flats in (("config", flat_cfg), ("summary", flat_sum)):
        for k in _varying(rows, kind):
            extra.append((kind, printable(k), [fmt_value(f[k]) if k in f else "-" for f in flats]))

    def width(header: str, cells: list[str]) -> int:
        return max([len(header), *map(len, cells)]) + 2

    budget = console.width - sum(width(h, c) for h, c in fixed)
    shown, hidden = [], []
    for kind, k, cells in extra:
        w = width(k, cells)
        if w <= budget:
            shown.append((kind, k, cells))
            budget -= w
        else:
            hidden.append(k)
    # Plain padded text rather than a rich Table: rich needs seconds for 10,000 rows.
    cols = [(h, cells, "left") for h, cells in fixed] + [(k, cells, "right") for _, k, cells in shown]
    widths = [max([len(h), *map(len, cells)]) for h, cells, _ in cols]
    color = console.is_terminal and not console.no_color
    state_col = len(fixed) - 3

    def line(values: list[str], header: bool = False) -> str:
        parts = []
        for j, (v, w, (_, _, align)) in enumerate(zip(values, widths, cols, strict=True)):
            cell = v.ljust(w) if align == "left" else v.rjust(w)
            if color and header:
                cell = f"\x1b[1m{cell}\x1b[0m"
            elif color and j == state_col:
                cell = f"\x1b[{_ANSI.get(v, '0')}m{cell}\x1b[0m"
            parts.append(cell)
        return "  ".join(parts).rstrip()

    out = [line([h for h, _, _ in cols], header=True)]
    out += [line([cells[i] for _, cells, _ in cols]) for i in range(len(rows))]
    console.file.write("\n".join(out) + "\n")
    console.file.flush()
    if hidden:
        console.print(f"(not shown for width: {', '.join(hidden)}; see --json)")
    if total > len(rows):
        console.print(f"… {total - len(rows)} more run(s); use --limit 0 to show all")


def remote_store(url: str, project: str | None) -> Path:
    """A store to list a remote's runs from: a directory remote is one; for an object store, a mirror
    of its run logs in the local store's cache (only new bytes fetched each time)."""
    from ..remotes import open_remote
    from ..remotes.directory import DirRemote
    from ..remotes.sync import Puller
    from ..store import layout as L
    from ..store.store import Store

    rem = open_remote(url)
    if isinstance(rem, DirRemote):
        return rem.root
    local = Store.discover()
    if local.exists():
        mirror = local.remote_mirror(rem.key)
    else:
        import tempfile

        mirror = Path(tempfile.mkdtemp(prefix="runstore-ls-")) / L.STORE_DIRNAME
    store = Store(mirror)
    store.ensure()
    puller = Puller(store, rem, only=lambda rel: rel.rsplit("/", 1)[-1] == L.RUN_LOG)
    try:
        for p, i in rem.projects_runs():
            if project is None or p == project:
                res = puller.pull_run(p, i, allow_live=True)
                if res.errors:
                    console.print(f"skipped {p}/{i}: {'; '.join(res.errors)}")
    finally:
        rem.close()
    return mirror


def register(app: typer.Typer) -> None:
    app.command("ls")(ls)
