"""`runstore shim install|uninstall|path|status`: runstore's `wandb` package (library: runstore.shim)."""

from __future__ import annotations

import typer

from .. import shim
from ._common import console

shim_app = typer.Typer(
    name="shim",
    help="runstore's `wandb` package: `import wandb` (in your code or in Lightning, Hugging Face, "
    "accelerate, Keras) logs into runstore. `runstore run` uses it for its child by itself.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@shim_app.command("install")
def install(
    force: bool = typer.Option(False, "--force", help="Install even over a real wandb (the shim then wins)."),
) -> None:
    """Make `import wandb` load runstore's shim in this Python environment (a .pth file)."""
    path = shim.install(force=force)
    console.print(f"installed: `import wandb` in {path.parent} now logs into runstore ({path.name})")


@shim_app.command("uninstall")
def uninstall() -> None:
    """Remove the shim from this Python environment."""
    path = shim.uninstall()
    console.print(f"removed {path}" if path else "the shim was not installed in this environment")


@shim_app.command("path")
def path() -> None:
    """Print the directory to put first on PYTHONPATH (torchrun, accelerate launch, SLURM scripts)."""
    console.file.write(f"{shim.site_dir()}\n")


def register(app: typer.Typer) -> None:
    app.add_typer(shim_app, name="shim")


__all__ = ["register", "shim_app"]
