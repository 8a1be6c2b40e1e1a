"""Lightning's own `WandbLogger`, unedited, through runstore's `wandb` shim under `runstore run`: the
metrics Lightning logs, its hyperparameters and the summary land in one run, read back with `Api()`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import clean_child_env, run_training

import runstore

pytest.importorskip("lightning")

TRAIN = """\
import torch
from torch import nn
import lightning as L
from lightning.pytorch.loggers import WandbLogger


class M(L.LightningModule):
    def __init__(self, lr=0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch, i):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


torch.manual_seed(0)
data = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randn(64, 1))
loader = torch.utils.data.DataLoader(data, batch_size=8)
logger = WandbLogger(project="pl")
trainer = L.Trainer(
    max_epochs=2, logger=logger, log_every_n_steps=2, enable_progress_bar=False,
    enable_checkpointing=False, enable_model_summary=False,
)
trainer.fit(M(), loader)
print("RUN", logger.experiment.id, flush=True)
"""


def runstore_run(project: str) -> list[str]:
    return [sys.executable, "-m", "runstore", "run", "-p", project, "--", sys.executable, "train.py"]


def test_lightning_wandb_logger_under_runstore_run(tmp_path: Path) -> None:
    p, _ = run_training(tmp_path, TRAIN, runstore_run("pl"), clean_child_env(tmp_path), result=False)
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs("pl"))
    assert len(runs) == 1, [(r.project, r.id) for r in runs]
    run = runs[0]
    assert f"RUN {run.id}" in p.stdout
    assert run.state == "finished" and run.config["lr"] == 0.1
    rows = list(run.scan_history(keys=["train_loss", "trainer/global_step"]))
    # 64 samples / 8 per batch = 8 steps per epoch, 2 epochs, a row every 2 steps
    assert [r["trainer/global_step"] for r in rows] == [1, 3, 5, 7, 9, 11, 13, 15]
    assert all(isinstance(r["train_loss"], float) and r["train_loss"] > 0 for r in rows)
    assert run.summary["epoch"] == 1 and run.summary["train_loss"] == rows[-1]["train_loss"]
    assert run.metadata["wandb"]["imported"] == "shim"


def test_log_model_logs_the_checkpoint_as_an_artifact_the_next_job_uses(tmp_path: Path) -> None:
    """`WandbLogger(log_model=True)` logs each checkpoint as a version of `model-<run id>` with Lightning's
    aliases (`latest`, `best`), and another job reads it back with `use_artifact`, offline."""
    script = TRAIN.replace('WandbLogger(project="pl")', 'WandbLogger(project="pl-ckpt", log_model=True)')
    script = script.replace("enable_checkpointing=False", "enable_checkpointing=True")
    env = clean_child_env(tmp_path)
    p, _ = run_training(tmp_path, script, runstore_run("pl-ckpt"), env, result=False)
    assert "WARNING" not in p.stderr, p.stderr[-3000:]
    run_id = p.stdout.split("RUN ", 1)[1].split()[0]
    ckpts = list((tmp_path / "pl-ckpt").rglob("*.ckpt"))
    assert len(ckpts) == 1, ckpts
    consumer = runstore.init(project="pl-ckpt", mode="offline")
    art = consumer.use_artifact(f"model-{run_id}:best", type="model")
    consumer.finish()
    assert art.version == "v0" and art.aliases == ["best", "latest"]
    assert [e.path for e in art.files()] == ["model.ckpt"]
    assert art.metadata["original_filename"] == ckpts[0].name
    root = Path(art.download())
    assert (root / "model.ckpt").read_bytes() == ckpts[0].read_bytes()
    assert art.logged_by().id == run_id and [r.id for r in art.used_by()] == [consumer.id]
