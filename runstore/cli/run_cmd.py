"""`runstore run -- CMD [ARGS...]`: track any command as a run."""

from __future__ import annotations

from pathlib import Path

import typer

from ..wrap import run_command
from ._common import store_at


def run(
    cmd: list[str] = typer.Argument(None, metavar="-- CMD [ARGS]...", help="The command to run."),
    project: str = typer.Option(None, "--project", "-p", help="Project of the run."),
    name: str = typer.Option(None, "--name", "-n", help="Run name (default: generated)."),
    tags: list[str] = typer.Option(None, "--tags", "-t", help="Tag (repeat, or comma-separate)."),
    group: str = typer.Option(None, "--group", "-g", help="Run group."),
    job_type: str = typer.Option(None, "--job-type", "-j", help="Job type."),
    notes: str = typer.Option(None, "--notes", help="Notes."),
    parse_metrics: bool = typer.Option(
        False, "--parse-metrics", help="Log numeric key=value / key: value pairs printed by CMD."
    ),
    dir: Path = typer.Option(None, "--dir", help="Store directory (or its parent)."),
    wandb_shim: bool = typer.Option(
        True,
        "--wandb-shim/--no-wandb-shim",
        help="Put runstore's `wandb` package first on the child's PYTHONPATH, so `import wandb` (in CMD or "
        "in the libraries it uses) logs into this run; --no-wandb-shim keeps a real wandb.",
    ),
) -> None:
    """Run CMD as a tracked run: console, metadata, git, system metrics, exit code.

    The child gets WANDB_RUN_ID / WANDB_RESUME=allow / WANDB_PROJECT, so a script that calls
    runstore.init(), or wandb.init() through runstore's wandb shim, joins this run. Exits with CMD's
    exit code.
    """
    tag_list = [t.strip() for group_ in (tags or []) for t in group_.split(",") if t.strip()]
    store = store_at(dir) if dir is not None else None
    code = run_command(
        cmd or [],
        project=project,
        name=name,
        tags=tag_list or None,
        group=group,
        job_type=job_type,
        notes=notes,
        parse=parse_metrics,
        store_dir=store.root if store else None,
        wandb_shim=wandb_shim,
    )
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("run", context_settings={"allow_interspersed_args": False})(run)
