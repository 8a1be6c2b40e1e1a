"""`runstore restore RUN`: check out the run's commit, apply its diff.patch, write its config."""

from __future__ import annotations

from pathlib import Path

import typer

from ..capture.restore import restore as do_restore
from ..store.runs import load_run
from ._common import console, require_store, store_at


def restore(
    run: str = typer.Argument(..., metavar="RUN", help="id, id prefix, name, run directory or 'latest'."),
    no_git: bool = typer.Option(False, "--no-git", help="Only restore the config and saved files."),
    branch: bool = typer.Option(
        True, "--branch/--no-branch", help="Create branch runstore/<id> (default) or detach HEAD."
    ),
    force: bool = typer.Option(False, "--force", help="Stash uncommitted changes instead of refusing."),
    project: str = typer.Option(None, "--project", "-p", help="Look the run up in this project."),
    dir: Path = typer.Option(None, "--dir", help="Store directory (or its parent)."),
) -> None:
    """Restore a run's exact code: its git commit on a new branch plus its diff.patch, and its config."""
    store = require_store(store_at(dir))
    st = load_run(store.resolve(run, project))
    r = do_restore(store, st, Path.cwd(), use_git=not no_git, branch=branch, force=force)
    if r.stash:
        console.print(f"stashed your uncommitted changes as '{r.stash}' (git stash list)")
    if r.commit:
        where = f"branch {r.branch}" if r.branch else "a detached HEAD"
        console.print(
            f"checked out {r.commit[:12]} on {where}"
            + (" and applied the run's diff.patch" if r.patched else " (the run had no local changes)")
        )
    if r.paths is not None:
        console.print(f"config: {r.paths.config}")
        if r.files:
            console.print(f"{len(r.files)} file(s) restored under {r.paths.files_dir}")
    if r.command:
        console.print(f"re-run with: {r.command}")


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)
