"""`runstore diff A B`: what differs between two runs (config, summary, metadata)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from ..api import Api, Run, compare
from ._common import console, fmt_duration, fmt_value, json_text, printable, require_store, store_at


def _cell(section: str, key: str, v: Any, width: int) -> str:
    if section == "metadata" and key == "runtime" and isinstance(v, (int, float)):
        return fmt_duration(v)
    return fmt_value(v, width)


def markdown(a: Run, b: Run, result: dict[str, dict[str, list[Any]]]) -> str:
    def cell(section: str, k: str, v: Any) -> str:
        return _cell(section, k, v, 60).replace("|", "\\|")

    lines = [
        f"### runstore diff: `{printable(a.name or '')}` ({a.id}) vs `{printable(b.name or '')}` ({b.id})",
        "",
    ]
    for section, rows in result.items():
        if not rows:
            continue
        lines += [f"**{section}**", "", f"| key | {a.id} | {b.id} |", "|---|---|---|"]
        lines += [
            f"| `{printable(k)}` | {cell(section, k, va)} | {cell(section, k, vb)} |"
            for k, (va, vb) in rows.items()
        ]
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
    api = Api(store=store)
    a, b = api.run(run_a, project=project), api.run(run_b, project=project)
    result = compare(a, b, show_all)
    if json:
        # Each side as `ls --json` shows it, minus the config and summary that the sections compare.
        side = {
            r.id: {k: v for k, v in r.to_dict().items() if k not in ("config", "summary")} for r in (a, b)
        }
        payload = {"a": side[a.id], "b": side[b.id], **result}
        console.print_json(json_text(payload))
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
    # Text, not str: names, keys and values are the user's, never rich markup; control characters escaped
    table.add_column(Text(printable(f"{a.name} ({a.id})")), overflow="fold")
    table.add_column(Text(printable(f"{b.name} ({b.id})")), overflow="fold")
    for section, rows in result.items():
        first = True
        for k, (va, vb) in rows.items():
            table.add_row(
                section if first else "",
                Text(printable(k)),
                Text(_cell(section, k, va, 40)),
                Text(_cell(section, k, vb, 40)),
            )
            first = False
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)


__all__ = ["markdown", "register"]
