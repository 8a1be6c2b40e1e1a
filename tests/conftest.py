"""Shared fixtures: every test runs in its own tmp dir with its own store and a clean environment."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import runstore
from runstore.base import term
from runstore.sdk import registry
from runstore.store import format as fmt
from runstore.store import schema
from runstore.store.history import iter_rows
from runstore.store.runs import load_run
from runstore.store.store import Store

# tests/integrations/ needs real ML libraries (torch, ...): `make test-integrations` runs it in its own
# venv; `make test` does not collect it.
collect_ignore_glob = [] if os.environ.get("RUNSTORE_INTEGRATIONS") == "1" else ["integrations/*"]

# Every record any writer appends while the suite runs is checked against store/schema.py (the
# declarations docs/FORMAT.md documents): a new record type or field fails the test that wrote it.
schema.STRICT = True

PY = sys.executable


def _finish_everything() -> None:
    for run in registry.active():
        try:
            run.finish(quiet=True)
        except Exception:
            pass
    cur = registry.current()
    if cur is not None:
        try:
            cur.finish(quiet=True)
        except Exception:
            pass
    registry.forget_all()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """chdir to tmp_path, RUNSTORE_DIR=tmp_path/.wandb, no WANDB_*/RUNSTORE_* from the outside."""
    for k in list(os.environ):
        if k.startswith(("WANDB_", "RUNSTORE_")):
            monkeypatch.delenv(k, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / ".wandb"))
    # In-process runs must not tee pytest's own fds 1/2 nor leave daemons behind; the tests of those
    # features turn them on explicitly, in subprocesses.
    monkeypatch.setenv("RUNSTORE_CONSOLE", "off")
    monkeypatch.setenv("RUNSTORE_DAEMON", "0")
    # pytest's __main__ lives in .venv inside this repository: capturing that repo's git state would
    # make every in-process run depend on the developer's working tree (test_capture.py covers git).
    monkeypatch.setenv("RUNSTORE_DISABLE_GIT", "true")
    # once-only warnings are remembered per process; each test starts with none seen
    _reset_term()
    _finish_everything()
    yield tmp_path
    _finish_everything()
    _reset_term()


def _reset_term() -> None:
    term.current().reset()  # once-only warnings, and the silent/quiet flags set by the last init()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / ".wandb")


def run_state(run_or_id: Any, project: str | None = None, root: Path | None = None):
    """load_run() for a live run object or an id, read from disk."""
    if isinstance(run_or_id, str):
        s = Store(root) if root else Store.discover()
        ref = s.find_run_by_id(run_or_id, project)
        assert ref is not None, f"run {run_or_id} not found in {s.root}"
        return load_run(ref)
    return load_run(run_or_id._ref)


def history(run_or_path: Any) -> list[dict[str, Any]]:
    """The rows of a run's current history (a live run, a run directory or a history file)."""
    if hasattr(run_or_path, "_ref"):
        return list(iter_rows(load_run(run_or_path._ref).history_path))
    p = Path(run_or_path)
    if p.is_dir():
        from runstore.store.layout import run_ref_of_dir

        ref = run_ref_of_dir(p)
        assert ref is not None, f"{p} is not a run directory"
        return list(iter_rows(load_run(ref).history_path))
    return list(iter_rows(p))


def events(run: Any, kind: str | None = None) -> list[dict[str, Any]]:
    st = run_state(run)
    return [e for e in st.events if kind is None or e.get("t") == kind]


class FakeClock:
    """A clock a test sets by hand (`clock.now = ...`), for a `Run(clock=...)`."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def clocked_run(tmp_path: Path, clock: Any, terminal: Any = None, project: str = "p") -> Any:
    """A live run whose timestamps and runtimes come from `clock` (what init() builds, minus the capture
    and the daemon), registered like one from init()."""
    from runstore.sdk.run import Run
    from runstore.sdk.settings import Settings
    from runstore.store.summary import SummaryState

    store = Store(tmp_path / ".wandb")
    store.ensure()
    ref = store.run(project, "clocked1")
    now = clock()
    info = {
        "id": ref.id,
        "project": project,
        "entity": "",
        "name": "clocked",
        "created": now,
        "format": fmt.VERSION,
    }
    run = Run(
        store=store,
        ref=ref,
        settings=Settings(mode="offline"),
        info=info,
        resumed=False,
        step=0,
        runtime_offset=0.0,
        config={},
        summary=SummaryState(),
        allow_val_change=False,
        history=ref.history_file(),
        segment_start=now,
        clock=clock,
        terminal=terminal,
    )
    run._open({"t": "init", **info})
    registry.started(run, make_current=True)
    return run


def user_keys(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def warnings_in(text: str) -> list[str]:
    return [line for line in text.splitlines() if "WARNING" in line]


def nan_eq(a: Any, b: Any) -> bool:
    """Equality where NaN == NaN, ints and floats are not conflated, and containers compare deeply."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(nan_eq(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(nan_eq(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def all_run_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("projects/*/runs/*"))


def run_cli(capture: Any, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr). `capture` is capsys or capfd."""
    from runstore.cli import main

    capture.readouterr()  # drop what earlier SDK calls printed
    with pytest.raises(SystemExit) as e:
        main(list(argv))
    out, err = capture.readouterr()
    return int(e.value.code or 0), out, err


def run_script(
    code: str, tmp_path: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with RUNSTORE_DIR pointing at this test's store."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    e["RUNSTORE_DIR"] = str(tmp_path / ".wandb")
    e["RUNSTORE_DAEMON"] = "0"  # no daemons outliving the test unless a test asks for one
    e.update(env or {})
    script = tmp_path / f"script_{abs(hash(code))}.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [PY, str(script)], cwd=tmp_path, env=e, capture_output=True, text=True, timeout=timeout
    )


def clean_child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process of a test: none of the outside's WANDB_*/RUNSTORE_* or
    PYTHONPATH, this test's store, no daemon, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.pop("PYTHONPATH", None)
    env.update({"RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0", **extra})
    return env


def run_training(
    tmp_path: Path, script: str, argv: list[str], env: dict[str, str], result: bool = True
) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Write `script` as train.py and run `argv` (which runs it) in tmp_path; it must succeed. Returns the
    process and the JSON of the one `RESULT {...}` line it must print (`result=False`: none, None)."""
    (tmp_path / "train.py").write_text(script)
    p = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = [line for line in p.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == (1 if result else 0), p.stdout[-2000:]
    return p, (json.loads(lines[0][len("RESULT ") :]) if lines else None)


__all__ = [
    "clean_child_env",
    "run_training",
    "run_cli",
    "runstore",
    "run_state",
    "history",
    "events",
    "user_keys",
    "warnings_in",
    "nan_eq",
    "all_run_dirs",
    "run_script",
    "PY",
]
