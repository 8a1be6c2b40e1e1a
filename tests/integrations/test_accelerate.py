"""accelerate's own wandb tracker (`Accelerator(log_with="wandb")`), unedited, through runstore's `wandb`
shim: `init_trackers` (project, config, `init_kwargs`), `accelerator.log(values, step=)`, the tracker's
tables and images, and `end_training`, read back with `Api()`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_child_env, run_training

import runstore
from runstore import shim

pytest.importorskip("accelerate")
pytest.importorskip("torch")

TRAIN = """\
import json, sys
import numpy as np
import torch
from accelerate import Accelerator

project = sys.argv[1]
accelerator = Accelerator(log_with="wandb", cpu=True)
accelerator.init_trackers(
    project,
    config={"lr": 0.1, "batch_size": 16, "model": "linear"},
    init_kwargs={"wandb": {"name": "acc-run", "tags": ["tiny", "cpu"]}},
)
torch.manual_seed(0)
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model, optimizer = accelerator.prepare(model, optimizer)
x, y = torch.randn(16, 3), torch.randn(16, 1)
losses = []
for i in range(5):
    loss = torch.nn.functional.mse_loss(model(x), y)
    accelerator.backward(loss)
    optimizer.step()
    optimizer.zero_grad()
    losses.append(loss.item())
    accelerator.log({"train/loss": loss.item(), "epoch": i}, step=10 * i)
tracker = accelerator.get_tracker("wandb")
tracker.log_table("preds", columns=["i", "pred"], data=[[0, 0.5], [1, 1.5]], step=50)
tracker.log_images({"samples": [np.full((4, 6, 3), 255, dtype=np.uint8)]}, step=60)
accelerator.log({"after": 1.0})  # no step
run = accelerator.get_tracker("wandb", unwrap=True)
print("RESULT " + json.dumps({"run": run.id, "losses": losses, "type": type(run).__module__}), flush=True)
accelerator.end_training()
"""


child_env = clean_child_env


def train(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Any]:
    return run_training(tmp_path, TRAIN, argv, env)


def check_run(run: Any, out: dict[str, Any]) -> None:
    assert run.id == out["run"] and out["type"] == "runstore.sdk.run"  # the tracker holds runstore's run
    assert run.state == "finished" and run.name == "acc-run" and run.tags == ["tiny", "cpu"]
    assert run.config == {"lr": 0.1, "batch_size": 16, "model": "linear"}
    assert run.metadata["wandb"]["imported"] == "shim"
    rows = list(run.scan_history(keys=["_step", "train/loss", "epoch"]))
    # accelerator.log(values, step=) puts each row at the step it was given
    assert [r["_step"] for r in rows] == [0, 10, 20, 30, 40]
    assert [r["epoch"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["train/loss"] for r in rows] == out["losses"]
    table = run.table("preds", step=50)
    assert table.columns == ["i", "pred"] and table.data == [[0, 0.5], [1, 1.5]]
    image_rows = list(run.scan_history(keys=["_step", "samples"]))
    assert [r["_step"] for r in image_rows] == [60]
    images = [r["samples"] for r in image_rows]
    assert images[0]["_type"] == "images/separated" and images[0]["count"] == 1
    assert (images[0]["width"], images[0]["height"]) == (6, 4)
    # a log() without a step after one with a step completes that step's row (wandb's rule)
    assert [r["_step"] for r in run.scan_history(keys=["_step", "after"])] == [60]
    assert run.summary["train/loss"] == out["losses"][-1] and run.summary["after"] == 1.0


def test_accelerate_tracker_under_runstore_run(tmp_path: Path) -> None:
    p, out = train(
        tmp_path,
        [sys.executable, "-m", "runstore", "run", "-p", "acc", "--", sys.executable, "train.py", "acc"],
        child_env(tmp_path),
    )
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs())
    assert [(r.project, r.id) for r in runs] == [("acc", out["run"])]
    check_run(runs[0], out)
    assert "WARNING" not in p.stderr, p.stderr


def test_init_trackers_project_name_is_the_runs_project(tmp_path: Path) -> None:
    """With the shim on PYTHONPATH (`accelerate launch` under `PYTHONPATH=$(runstore shim path)`), the
    name given to init_trackers is the project, as in wandb."""
    _p, out = train(
        tmp_path,
        [sys.executable, "train.py", "my-project"],
        child_env(tmp_path, PYTHONPATH=str(shim.site_dir())),
    )
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs())
    assert [(r.project, r.id) for r in runs] == [("my-project", out["run"])]
    check_run(runs[0], out)
