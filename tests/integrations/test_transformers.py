"""Hugging Face's `Trainer(report_to="wandb")` (its own `WandbCallback`), unedited, through runstore's
`wandb` shim: a tiny randomly initialised BERT (built from a config, nothing downloaded) trains for a few
steps; the metrics the Trainer logged, the TrainingArguments and model config it put into `wandb.config`
and its end-of-training summary are read back with `Api()`. `WANDB_LOG_MODEL=checkpoint` and `=end` log
model artifacts, read back with `Api()` and `use_model()` as in wandb."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_child_env, run_training

import runstore
from runstore import shim

pytest.importorskip("transformers")
pytest.importorskip("torch")

TRAIN = """\
import json, sys
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

torch.manual_seed(0)
config = BertConfig(
    vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
    max_position_embeddings=16, num_labels=2,
)
model = BertForSequenceClassification(config)


class Data(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(0, 50, (n, 8), generator=g)
        self.y = torch.randint(0, 2, (n,), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "labels": self.y[i]}


save = sys.argv[1]
args = TrainingArguments(
    output_dir="out", run_name="tiny-bert", per_device_train_batch_size=4, per_device_eval_batch_size=4,
    num_train_epochs=2, learning_rate=1e-3, logging_steps=2, eval_strategy="epoch", save_strategy=save,
    report_to="wandb", use_cpu=True, disable_tqdm=True, seed=0,
)
trainer = Trainer(model=model, args=args, train_dataset=Data(16, 1), eval_dataset=Data(8, 2))
trainer.train()
import wandb

out = {
    "run": wandb.run.id, "num_parameters": model.num_parameters(), "log_history": trainer.state.log_history,
}
print("RESULT " + json.dumps(out), flush=True)
"""

# 16 samples / 4 per batch = 4 steps per epoch, 2 epochs, a row every 2 steps
STEPS = [2, 4, 6, 8]


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_child_env(
        tmp_path,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf-home"),  # nothing from a developer's cache either
        **extra,
    )


def train(
    tmp_path: Path, argv: list[str], env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], Any]:
    return run_training(tmp_path, TRAIN, argv, env)


def test_trainer_report_to_wandb_under_runstore_run(tmp_path: Path) -> None:
    p, out = train(
        tmp_path,
        [sys.executable, "-m", "runstore", "run", "-p", "hf", "--", sys.executable, "train.py", "no"],
        child_env(tmp_path),
    )
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs("hf"))
    assert [r.id for r in runs] == [out["run"]]
    run = runs[0]
    assert run.state == "finished" and run.name == "tiny-bert"
    assert run.metadata["wandb"]["imported"] == "shim"
    assert "WARNING" not in p.stderr, p.stderr

    # wandb.config: the TrainingArguments, the model's config and the parameter count
    config = run.config
    assert config["learning_rate"] == 1e-3 and config["num_train_epochs"] == 2
    assert config["per_device_train_batch_size"] == 4 and config["logging_steps"] == 2
    assert config["report_to"] == ["wandb"] and config["run_name"] == "tiny-bert"
    assert config["model_type"] == "bert" and config["hidden_size"] == 8 and config["num_hidden_layers"] == 1
    assert config["model/num_parameters"] == out["num_parameters"]

    # what the Trainer logged, key for key as it reported it (its log_history), under wandb's names
    history = out["log_history"]
    train_logs = [h for h in history if "loss" in h]
    eval_logs = [h for h in history if "eval_loss" in h]
    rows = list(
        run.scan_history(keys=["train/loss", "train/learning_rate", "train/epoch", "train/global_step"])
    )
    assert [r["train/global_step"] for r in rows] == STEPS == [h["step"] for h in train_logs]
    assert [r["train/epoch"] for r in rows] == [0.5, 1.0, 1.5, 2.0]
    assert [r["train/loss"] for r in rows] == [h["loss"] for h in train_logs]
    # linear decay from 1e-3 to 0 over 8 steps; each row has the rate of the step just taken
    assert [r["train/learning_rate"] for r in rows] == pytest.approx(
        [1e-3 * (1 - (s - 1) / 8) for s in STEPS]
    )
    assert [r["train/learning_rate"] for r in rows] == [h["learning_rate"] for h in train_logs]
    assert all(isinstance(r["train/loss"], float) and r["train/loss"] > 0 for r in rows)
    evals = list(run.scan_history(keys=["eval/loss", "train/global_step"]))
    assert [(r["train/global_step"], r["eval/loss"]) for r in evals] == [
        (h["step"], h["eval_loss"]) for h in eval_logs
    ]
    assert [r["train/global_step"] for r in evals] == [4, 8]

    # the end-of-training numbers go to the summary, not the history
    final = history[-1]
    summary = run.summary
    for k in (
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_loss",
        "total_flos",
    ):
        assert summary[k] == final[k], k
        assert not list(run.scan_history(keys=[k])), k
    assert summary["train/global_step"] == 8 and summary["train/epoch"] == 2.0
    assert summary["train/loss"] == rows[-1]["train/loss"]


def test_log_model_checkpoint_logs_every_checkpoint_as_a_version(tmp_path: Path) -> None:
    p, out = train(
        tmp_path,
        [sys.executable, "train.py", "epoch"],
        child_env(
            tmp_path,
            PYTHONPATH=str(shim.site_dir()),
            WANDB_PROJECT="hf-ckpt",
            WANDB_LOG_MODEL="checkpoint",
        ),
    )
    api = runstore.Api(store=tmp_path / ".wandb")
    run = api.run(f"hf-ckpt/{out['run']}")
    assert run.state == "finished"
    assert "WARNING" not in p.stderr, p.stderr[-3000:]
    # v0: the architecture when training starts; v1, v2: the checkpoints of the two epochs (steps 4, 8);
    # v3: the final model, with the Trainer's aliases
    versions = api.artifact_versions("model", "hf-ckpt/model-tiny-bert")
    assert [(a.version, a.aliases) for a in versions] == [
        ("v0", ["base_model"]),
        ("v1", ["epoch_1.0", "checkpoint_global_step_4"]),
        ("v2", ["epoch_2.0", "checkpoint_global_step_8"]),
        ("v3", ["final_model", "latest"]),
    ]
    assert [e.path for e in versions[0].files()] == ["model_architecture.txt"]
    assert versions[0].metadata["initial_model"] is True
    for art, step in zip(versions[1:3], (4, 8), strict=True):
        assert {"model.safetensors", "config.json", "trainer_state.json", "optimizer.pt"} <= {
            e.path for e in art.files()
        }
        root = Path(art.download(tmp_path / f"got-{step}"))
        assert json.loads((root / "trainer_state.json").read_text())["global_step"] == step
        # the very bytes the Trainer wrote into its output_dir
        written = tmp_path / "out" / f"checkpoint-{step}" / "model.safetensors"
        assert (root / "model.safetensors").read_bytes() == written.read_bytes()
    final = Path(versions[3].download(tmp_path / "final"))
    assert json.loads((final / "config.json").read_text())["hidden_size"] == 8
    assert [a.name for a in run.logged_artifacts()] == [f"model-tiny-bert:v{n}" for n in range(4)]
    # training itself is untouched
    assert [
        r["train/global_step"] for r in run.scan_history(keys=["train/loss", "train/global_step"])
    ] == STEPS


def test_log_model_end_is_a_model_the_next_job_loads_with_use_model(tmp_path: Path) -> None:
    p, out = train(
        tmp_path,
        [sys.executable, "train.py", "no"],
        child_env(tmp_path, PYTHONPATH=str(shim.site_dir()), WANDB_PROJECT="hf-end", WANDB_LOG_MODEL="end"),
    )
    assert "WARNING" not in p.stderr, p.stderr[-3000:]
    from transformers import BertForSequenceClassification

    consumer = runstore.init(project="hf-end", mode="offline")
    path = consumer.use_model("model-tiny-bert:final_model")
    consumer.finish()
    model = BertForSequenceClassification.from_pretrained(path)
    assert model.config.hidden_size == 8 and model.num_parameters() == out["num_parameters"]
    art = runstore.Api().artifact("hf-end/model-tiny-bert:latest")
    assert art.aliases == ["final_model", "latest"] and art.logged_by().id == out["run"]
    assert [r.id for r in art.used_by()] == [consumer.id]
