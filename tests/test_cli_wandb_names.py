"""CLI commands a wandb user looks for: `--version`, `disabled` / `enabled`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import runstore
from runstore.sdk.disabled import DisabledRun


def rs(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update({"RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0"})
    return subprocess.run(
        [sys.executable, "-m", "runstore", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version(tmp_path: Path) -> None:
    for flag in ("--version", "-V"):
        p = rs(tmp_path, flag)
        assert p.returncode == 0 and p.stdout == f"runstore {runstore.__version__}\n"


def test_disabled_then_enabled(tmp_path: Path) -> None:
    assert rs(tmp_path, "init").returncode == 0
    p = rs(tmp_path, "disabled")
    assert p.returncode == 0 and "disabled" in p.stdout
    run = runstore.init(project="p")
    assert isinstance(run, DisabledRun)
    run.finish()
    assert not (tmp_path / ".wandb" / "projects" / "p").exists()
    p = rs(tmp_path, "enabled")
    assert p.returncode == 0 and "enabled" in p.stdout
    run = runstore.init(project="p")
    assert not isinstance(run, DisabledRun)
    run.finish()
    assert (tmp_path / ".wandb" / "projects" / "p" / "runs" / run.id).is_dir()


def test_a_malformed_filter_is_an_error_naming_it(tmp_path: Path) -> None:
    run = runstore.init(project="p", config={"lr": 2})
    run.finish()
    for bad in ("config.lr>>1", "config.lr=>1", "state==!finished"):
        p = rs(tmp_path, "ls", "--filter", bad)
        assert p.returncode != 0 and bad in p.stderr and "Traceback" not in p.stderr, (bad, p.stderr)
    p = rs(tmp_path, "ls", "--filter", "config.lr>1", "--json")
    assert p.returncode == 0 and run.id in p.stdout
