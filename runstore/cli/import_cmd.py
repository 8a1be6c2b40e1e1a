"""`runstore import tensorboard LOGDIR...`: other tools' logs as runs (library: runstore.integration)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..errors import UsageError
from ..store.layout import RunRef
from ..store.store import Store
from ._common import console, err_console, store_at

if TYPE_CHECKING:
    from ..integration.tensorboard import ImportResult

import_app = typer.Typer(
    help="Turn other tools' logs into runs.", no_args_is_help=True, rich_markup_mode=None
)


def _describe(r: ImportResult) -> str:
    if r.created:
        line = f"{r.logdir}: imported as {r.path} ({r.name}): {r.rows} rows from {r.files} event file(s)"
    elif r.rows:
        line = f"{r.logdir}: {r.rows} new rows added to {r.path} ({r.name})"
    else:
        line = f"{r.logdir}: up to date ({r.path})"
    if r.skipped:
        line += f"; not imported: {', '.join(sorted(r.skipped))}"
    return line


def _import(store: Store, logdir: str, project: str | None, name: str | None) -> ImportResult:
    # imported here: the SDK, media and event-file reading stay out of every other command's start
    from ..integration.tensorboard import import_logdir

    try:
        return import_logdir(logdir, store, project=project, name=name)
    except ImportError as e:  # the tensorboard package is missing
        raise UsageError(str(e)) from None


@import_app.command("tensorboard")
def tensorboard(
    logdirs: list[Path] = typer.Argument(..., help="TensorBoard log directories."),
    project: str = typer.Option(None, "--project", "-p", help="Project of the runs (default: the store's)."),
    name: str = typer.Option(None, "--name", "-n", help="Run name (default: the directory's name)."),
    dir: Path = typer.Option(
        None, "--dir", help="Store directory (or its parent); default: found like .git."
    ),
) -> None:
    """Turn TensorBoard log directories into runs.

    One run per LOGDIR, with every event file in it or below it (a sub-directory's name prefixes its
    keys). Scalars, histograms, images and text are imported; each row keeps its event's wall time.
    Importing a LOGDIR again adds only what was written since.
    """
    if name is not None and len(logdirs) > 1:
        raise UsageError("--name names one run: give one LOGDIR with it")
    from ..integration.tensorboard import check_logdir

    for d in logdirs:
        check_logdir(d)  # every argument is checked before anything is written
    store = store_at(dir)
    for d in logdirs:
        console.print(_describe(_import(store, str(d), project, name)), soft_wrap=True)


def import_for_sync(store: Store, logdir: str, project: str | None) -> RunRef:
    """`runstore sync LOGDIR` of a TensorBoard log directory: import it (or bring it up to date) and
    return its run. The line goes to stderr: `sync --json` keeps stdout for its JSON."""
    r = _import(store, logdir, project, None)
    err_console.print(_describe(r), soft_wrap=True)
    return store.run(r.project, r.run_id)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")


__all__ = ["import_for_sync", "register", "import_app"]
