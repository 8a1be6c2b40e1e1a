"""Seed 001: both tabs of wandb's sweep example, verbatim except `import runstore as wandb`
(examples/sweep/), run as a user would: a script, and `runstore sweep` + `runstore agent` from a shell."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from test_sweep_agent_helpers import CLI_SHIM, PY, child_env, store_of

import runstore
from runstore.store import sweeps as S

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "sweep"
# Until runstore/__init__.py exports sweep/agent, the script is run with them attached (a no-op after).
RUN_SCRIPT = (
    "import runpy, sys, runstore\n"
    "if not hasattr(runstore, 'agent'):\n"
    "    from runstore.sweeps.agent import agent\n"
    "    from runstore.sweeps.controller import sweep\n"
    "    runstore.sweep, runstore.agent = sweep, agent\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
)


def _copy(tmp_path: Path) -> None:
    for f in ("config.yaml", "train.py", "in_process.py"):
        shutil.copy(EXAMPLES / f, tmp_path / f)


def test_examples_are_the_seed_verbatim() -> None:
    for f in ("train.py", "in_process.py"):
        text = (EXAMPLES / f).read_text()
        assert "import runstore as wandb\n" in text and "import wandb\n" not in text
    assert "wandb.agent(sweep_id, function=main, count=4)" in (EXAMPLES / "in_process.py").read_text()


def test_seed_script_tab_in_process(tmp_path: Path) -> None:
    _copy(tmp_path)
    p = subprocess.run(
        [PY, "-c", RUN_SCRIPT, "in_process.py"],
        cwd=tmp_path,
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    (sd,) = S.list_sweeps(store_of(tmp_path))
    st = sd.load()
    assert st.project == "mi-primer-barrido" and len(st.trials) == 4
    assert {t.state for t in st.trials.values()} == {"finished"}
    sw = runstore.Api().sweep(sd.id) if hasattr(runstore.Api(), "sweep") else None
    if sw is None:
        from runstore.api import Sweep

        sw = Sweep.load(runstore.Api(), f"mi-primer-barrido/{sd.id}")
    assert sw.name == "barrido" and len(sw.runs) == 4
    for run in sw.runs:
        assert run.state == "finished" and run.project == "mi-primer-barrido"
        assert run.config["batch_size"] in (16, 32, 64) and run.config["epochs"] in (5, 10, 15)
        assert 0.0001 <= run.config["lr"] <= 0.1 and "val_acc" in run.summary
    best = sw.best_run()
    assert best.summary["val_acc"] == max(r.summary["val_acc"] for r in sw.runs)


def test_seed_cli_tab(tmp_path: Path) -> None:
    _copy(tmp_path)
    env = child_env(tmp_path)
    p = subprocess.run(
        [PY, "-c", CLI_SHIM, "sweep", "--project", "demo-barrido-cli", "config.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    cmd = p.stdout.splitlines()[1].partition("Run sweep agent with: ")[2].split()
    assert cmd[:2] == ["runstore", "agent"]
    a = subprocess.run(
        [PY, "-c", CLI_SHIM, "agent", "--count", "5", *cmd[2:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert a.returncode == 0, a.stderr
    (sd,) = S.list_sweeps(store_of(tmp_path))
    st = sd.load()
    assert len(st.trials) == 5 and {t.state for t in st.trials.values()} == {"finished"}
    for t in st.trials.values():
        run = runstore.Api().run(f"demo-barrido-cli/{t.run_id}")
        # init(config=<the whole sweep YAML>) then the sweep's values deep-merged and locked over it
        assert run.config["method"] == "random" and run.config["batch_size"] == t.params["batch_size"]
        assert run.config["lr"] == t.params["lr"] and "val_acc" in run.summary
