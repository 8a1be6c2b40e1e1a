"""The `runstore` command line. One module per command group; this file is the table of contents."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="runstore",
    help="runstore: local-first experiment tracking with wandb's API. Runs live in plain files under .wandb/.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,  # tracebacks with locals could print secrets
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},  # `-h` as `runstore agent -h` has it
)

from ..errors import Error  # noqa: E402
from . import (  # noqa: E402
    artifact_cmd,
    daemon_cmd,
    diff,
    import_cmd,
    listing,
    login_cmd,
    restore,
    run_cmd,
    server_cmd,
    settings_cmds,
    shim_cmd,
    show_cmd,
    sweep_cmd,
    sync_cmd,
    ui_cmd,
)
from ._common import debug_enabled, err_console  # noqa: E402

try:  # recent typer ships its own copy of click
    from typer._click.exceptions import ClickException
except ImportError:
    from click import ClickException  # type: ignore[assignment]


def _print_version(value: bool) -> None:
    if value:
        from ..base.version import __version__

        sys.stdout.write(f"runstore {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        "-V",
        is_eager=True,
        expose_value=False,
        callback=_print_version,
        help="Print runstore's version and exit.",
    ),
) -> None:
    """runstore: local-first experiment tracking with wandb's API. Runs live in plain files under .wandb/."""


settings_cmds.register(app)
listing.register(app)
diff.register(app)
show_cmd.register(app)
restore.register(app)
run_cmd.register(app)
daemon_cmd.register(app)
sweep_cmd.register(app)
sync_cmd.register(app)
shim_cmd.register(app)
artifact_cmd.register(app)
import_cmd.register(app)
server_cmd.register(app)
login_cmd.register(app)
ui_cmd.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: errors become one line on stderr and exit code 1 (2 for usage), no traceback."""
    cmd = typer.main.get_command(app)
    try:
        args = sys.argv[1:] if argv is None else argv
        if args[:1] == ["agent"]:
            # Straight to argparse: typer's parameter coercion imports pydantic, and an agent must start
            # its first trial within 0.5 s.
            rv = sweep_cmd.agent_main(args[1:])
        else:
            rv = cmd.main(args=argv, prog_name="runstore", standalone_mode=False)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except typer.Abort:
        err_console.print("Aborted.")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:
        if debug_enabled():
            raise
        from rich.text import Text

        known = isinstance(e, (Error, OSError, ValueError, TypeError))
        msg = (
            str(e) if known else f"internal error ({type(e).__name__}: {e}); set RUNSTORE_DEBUG=1 for details"
        )
        err_console.print(
            Text.assemble(("error: ", "bold red"), msg.splitlines()[0] if msg else type(e).__name__),
            soft_wrap=True,
        )
        sys.exit(getattr(e, "exit_code", 1))
    sys.exit(rv if isinstance(rv, int) else 0)
