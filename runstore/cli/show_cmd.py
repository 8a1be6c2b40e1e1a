"""`runstore show RUN`: one run on one screen — identity, config, summary, files, and a sparkline of each
main metric (min, max, last) drawn from the whole history."""

from __future__ import annotations

import math
from array import array
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ..api import Api, Run
from ..capture.restore import rerun_command
from ..store.runs import load_run
from ._common import console, fmt_duration, fmt_time, fmt_value, json_text, require_store, safe_text, store_at

BARS = "▁▂▃▄▅▆▇█"
DEFAULT_METRICS = 8
MAX_FILES = 20


def sparkline(values: array[float] | list[float], width: int) -> str:
    """`values` in `width` buckets; a bucket with no finite value is a blank. Each bucket is drawn by
    its extreme farther from its mean, so a one-step spike (or drop) shows where it happened rather
    than being averaged away."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    n = len(values)
    width = max(1, min(width, n))
    out = []
    for b in range(width):
        chunk = [v for v in values[b * n // width : (b + 1) * n // width] if math.isfinite(v)]
        if not chunk:
            out.append(" ")
            continue
        mean = sum(chunk) / len(chunk)
        top, bottom = max(chunk), min(chunk)
        m = top if top - mean >= mean - bottom else bottom
        out.append(BARS[0] if hi == lo else BARS[min(len(BARS) - 1, int((m - lo) / (hi - lo) * len(BARS)))])
    return "".join(out)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and "_type" not in v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def metric_series(run: Run, keys: list[str]) -> dict[str, array[float]]:
    """Each key's values over the whole history, in step order (8 bytes per value)."""
    series: dict[str, array[float]] = {k: array("d") for k in keys}
    for row in run.scan_history():
        flat = _flat(row) if any(isinstance(v, dict) for v in row.values()) else row
        for k, arr in series.items():
            x = _number(flat.get(k))
            if x is not None:
                arr.append(x)
    return series


def main_metrics(run: Run, chosen: list[str] | None, limit: int) -> list[str]:
    if chosen:
        return chosen
    summary = _flat(dict(run.summary_metrics))
    return [k for k in sorted(summary) if not k.startswith("_") and _number(summary[k]) is not None][:limit]


def show(
    run_id: str = typer.Argument(
        "latest", metavar="RUN", help="id, id prefix, name, run directory or 'latest'."
    ),
    metric: list[str] = typer.Option(
        None, "--metric", "-m", help="Metrics to draw (repeatable); default: the run's first 8 numeric ones."
    ),
    width: int = typer.Option(40, "--width", "-w", min=5, max=400, help="Sparkline width in characters."),
    json: bool = typer.Option(False, "--json", help="Print JSON: the run as `ls --json`, files and metrics."),
    project: str = typer.Option(None, "--project", "-p", help="Look the run up in this project."),
    dir: Path = typer.Option(None, "--dir", help="Store directory (or its parent)."),
) -> None:
    """Show one run: identity, config, summary, files and its main metrics as sparklines."""
    store = require_store(store_at(dir))
    run = Api(store=store).run(run_id, project=project)
    keys = main_metrics(run, metric, DEFAULT_METRICS)
    series = metric_series(run, keys)
    files = run.files()
    if json:
        payload = {
            **run.to_dict(),
            "files": [{"name": f.name, "size": f.size} for f in files],
            "metrics": {
                k: {"count": len(v), "min": min(v), "max": max(v), "last": v[-1]} if v else {"count": 0}
                for k, v in series.items()
            },
        }
        console.print_json(json_text(payload))
        return
    _print(run, keys, series, files, width)


def _print(run: Run, keys: list[str], series: dict[str, array[float]], files: list[Any], width: int) -> None:
    esc = safe_text
    state = run.state
    console.print(f"[bold]{esc(run.name or '')}[/bold] ({run.id})  project {esc(run.project)}  {state}")
    parts = [f"created {fmt_time(run.created)}", f"runtime {fmt_duration(run.runtime)}"]
    parts.append(f"steps {run.lastHistoryStep + 1}")
    if run.tags:
        parts.append("tags " + ", ".join(esc(t) for t in run.tags))
    for label in ("group", "job_type"):
        v = getattr(run, label, None)
        if v:
            parts.append(f"{label} {esc(str(v))}")
    console.print("  ".join(parts))
    console.print(f"dir {run.dir}")
    if run.notes:
        console.print(f"notes: {esc(run.notes)}")
    cmd = rerun_command(load_run(run._st.ref))
    if cmd:
        console.print(f"command: {esc(cmd)}")
    git = run.metadata.get("git") or {}
    if git.get("commit"):
        dirty = " (uncommitted changes: diff.patch)" if git.get("dirty") else ""
        console.print(f"git: {git['commit'][:12]} on {esc(str(git.get('branch') or 'detached'))}{dirty}")
    _kv("config", {k: v for k, v in _flat(run.config).items() if not k.startswith("_wandb")})
    summary = {k: v for k, v in _flat(dict(run.summary_metrics)).items() if not k.startswith("_")}
    _kv("summary", summary)
    if keys:
        t = Table(title="metrics", title_justify="left", show_edge=False)
        for col in ("metric", "min", "max", "last", "history"):
            t.add_column(col, justify="right" if col in ("min", "max", "last") else "left", no_wrap=True)
        for k in keys:
            v = series[k]
            if not v:
                t.add_row(esc(k), "-", "-", "-", "(not in the history)")
                continue
            t.add_row(esc(k), fmt_value(min(v)), fmt_value(max(v)), fmt_value(v[-1]), sparkline(v, width))
        console.print(t)
    if files:
        shown = files[:MAX_FILES]
        more = f" … and {len(files) - len(shown)} more" if len(files) > len(shown) else ""
        console.print(
            f"files ({len(files)}): " + ", ".join(f"{esc(f.name)} {_size(f.size)}" for f in shown) + more
        )


def _kv(title: str, d: dict[str, Any]) -> None:
    if not d:
        console.print(f"{title}: -")
        return
    t = Table(title=title, title_justify="left", show_header=False, show_edge=False)
    t.add_column("key", style="bold", no_wrap=True)
    t.add_column("value")
    for k in sorted(d):
        t.add_row(safe_text(k), safe_text(fmt_value(d[k], 60)))
    console.print(t)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}B"


def register(app: typer.Typer) -> None:
    app.command("show")(show)
