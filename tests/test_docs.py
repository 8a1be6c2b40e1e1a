"""Docs that cannot drift: the CLI reference is the real --help; every command is in the README."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_generated_from_help() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert (ROOT / "docs" / "CLI.md").read_text() == out, "docs/CLI.md is stale: run `make docs`"


def test_every_command_is_in_the_readme() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from gen_cli_docs import commands

    readme = (ROOT / "README.md").read_text()
    for name, _hidden in commands():
        assert f"runstore {name}" in readme, f"README does not mention `runstore {name}`"
    for target in ("make demo", "make test"):
        assert target in readme
