"""Print docs/CLI.md from the real `--help` of every command, so the reference cannot drift.

tests/test_docs.py checks that the committed docs/CLI.md equals this output; `make docs` rewrites it.
"""

from __future__ import annotations

import os
import subprocess
import sys


def commands() -> list[tuple[str, bool]]:
    import typer

    from runstore.cli import app

    group = typer.main.get_command(app)
    return [(name, bool(getattr(group.commands[name], "hidden", False))) for name in group.commands]


def help_text(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "runstore", *args, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout.rstrip()


def main() -> None:
    print("# runstore CLI reference\n")
    print("Generated from the real `--help` output by `make docs` (scripts/gen_cli_docs.py); do not edit.\n")
    print("```text\n" + help_text() + "\n```\n")
    for name, hidden in commands():
        if hidden:
            continue
        print(f"## runstore {name}\n")
        print("```text\n" + help_text(name) + "\n```\n")
    aliases = [n for n, h in commands() if h]
    if aliases:
        print(
            "Aliases: "
            + ", ".join(f"`runstore {a}`" for a in aliases)
            + " (`offline` = `off`, `online` = `on`, as in wandb)."
        )


if __name__ == "__main__":
    main()
