"""wandb's Keras callbacks (`wandb.integration.keras`: `WandbMetricsLogger`, `WandbModelCheckpoint`,
`WandbEvalCallback` and the legacy `WandbCallback`), which live inside wandb and are runstore's own here
(runstore/integration/keras/), used unedited with Keras 3 on the torch backend through the shim. Each
test trains a tiny model for a few epochs and reads the run back with `Api()`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import clean_child_env, run_training

import runstore
from runstore import shim

# Not imported here: Keras picks its backend when imported, and this process has no KERAS_BACKEND; the
# children run with KERAS_BACKEND=torch.
if importlib.util.find_spec("keras") is None or importlib.util.find_spec("torch") is None:
    pytest.skip("needs keras and torch", allow_module_level=True)

COMMON = """\
import json, os
import numpy as np
import keras
import wandb
import runstore.integration.keras as rs_keras
from wandb.integration.keras import WandbCallback, WandbEvalCallback, WandbMetricsLogger, WandbModelCheckpoint

keras.utils.set_random_seed(0)
x = np.random.RandomState(0).randn(16, 3).astype("float32")
y = x.sum(axis=1, keepdims=True)


def model(lr):
    layers = [keras.Input((3,)), keras.layers.Dense(2, name="d1"), keras.layers.Dense(1, name="out")]
    m = keras.Sequential(layers)
    m.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", metrics=["mae"])
    return m


def result(**out):
    print("RESULT " + json.dumps(out), flush=True)
"""

EPOCHS = (
    COMMON
    + """
class Predictions(WandbEvalCallback):
    predicted = []

    def add_ground_truth(self, logs=None):
        for i in range(4):
            self.data_table.add_data(i, float(y[i, 0]))

    def add_model_predictions(self, epoch, logs=None):
        p = self.model.predict(x[:4], verbose=0)
        self.predicted.append([float(v) for v in p[:, 0]])
        for i in self.data_table_ref.get_index():
            self.pred_table.add_data(epoch, i, self.data_table_ref.data[i][1], float(p[i, 0]))


run = wandb.init(project="keras", config={"epochs": 3, "batch_size": 4})
m = model(0.05)
callbacks = [
    WandbMetricsLogger(),
    WandbModelCheckpoint("ckpt/model-{epoch:02d}.keras"),
    Predictions(["idx", "y"], ["epoch", "idx", "y", "pred"]),
]
h = m.fit(x, y, batch_size=4, epochs=3, validation_data=(x, y), verbose=0, callbacks=callbacks)
result(
    run=run.id,
    history=h.history,
    predicted=Predictions.predicted,
    ours=[
        WandbMetricsLogger is rs_keras.WandbMetricsLogger,
        WandbModelCheckpoint is rs_keras.WandbModelCheckpoint,
        WandbEvalCallback is rs_keras.WandbEvalCallback,
        WandbCallback is rs_keras.WandbCallback,
    ],
)
wandb.finish()
"""
)

BATCHES_AND_LEGACY = (
    COMMON
    + """
class Recorder(keras.callbacks.Callback):
    batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((batch, dict(logs)))


# every 2nd batch of each epoch, with a learning-rate schedule (halved each optimizer step)
run = wandb.init(project="keras-batches")
m = model(keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5))
h = m.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[Recorder(), WandbMetricsLogger(log_freq=2)])
batches_run = run.id
wandb.finish()

# the legacy callback, with the weight histograms
run = wandb.init(project="keras-legacy")
m = model(0.05)
legacy = WandbCallback(log_weights=True)
h2 = m.fit(x, y, batch_size=4, epochs=3, validation_data=(x, y), verbose=0, callbacks=[legacy])
best = keras.models.load_model(os.path.join(run.dir, "model-best.keras"))
import wandb.keras
result(
    batches_run=batches_run,
    batches=Recorder.batches,
    batches_history=h.history,
    legacy_run=run.id,
    legacy_history=h2.history,
    best_layers=[layer.name for layer in best.layers],
    legacy_alias=wandb.keras.WandbCallback is WandbCallback,
)
wandb.finish()
"""
)


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return clean_child_env(tmp_path, KERAS_BACKEND="torch", **extra)


train = run_training


F32 = float(np.float32(0.05))  # the learning rate as the optimizer's float32 variable holds it


def test_epoch_metrics_checkpoints_and_prediction_tables_under_runstore_run(tmp_path: Path) -> None:
    p, out = train(
        tmp_path,
        EPOCHS,
        [sys.executable, "-m", "runstore", "run", "-p", "keras", "--", sys.executable, "train.py"],
        child_env(tmp_path),
    )
    assert out["ours"] == [True, True, True, True]  # wandb.integration.keras is runstore's
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs("keras"))
    assert [r.id for r in runs] == [out["run"]]
    run = runs[0]
    assert run.state == "finished" and run.config == {"epochs": 3, "batch_size": 4}
    assert run.metadata["wandb"]["imported"] == "shim"

    # WandbMetricsLogger(): one row per epoch, every metric Keras reported as epoch/<name>
    history = out["history"]
    keys = [
        "epoch/epoch",
        "epoch/loss",
        "epoch/mae",
        "epoch/val_loss",
        "epoch/val_mae",
        "epoch/learning_rate",
    ]
    rows = list(run.scan_history(keys=keys))
    assert [r["epoch/epoch"] for r in rows] == [0, 1, 2]
    for name in ("loss", "mae", "val_loss", "val_mae"):
        assert [r[f"epoch/{name}"] for r in rows] == history[name], name
    assert [r["epoch/learning_rate"] for r in rows] == [F32] * 3
    assert not [k for k in run.summary if k.startswith("batch/")]

    # WandbModelCheckpoint: each checkpoint Keras wrote is a version of the model artifact, byte for byte
    api = runstore.Api(store=tmp_path / ".wandb")
    ckpts = api.artifact_versions("model", f"keras/run_{run.id}_model")
    assert [(a.version, a.aliases) for a in ckpts] == [
        ("v0", ["epoch_0"]),
        ("v1", ["epoch_1"]),
        ("v2", ["epoch_2", "latest"]),
    ]
    for n, art in enumerate(ckpts, start=1):
        root = Path(art.download(tmp_path / f"ckpt-{n}"))
        assert [e.path for e in art.files()] == [f"model-{n:02d}.keras"]
        assert (root / f"model-{n:02d}.keras").read_bytes() == (
            tmp_path / f"ckpt/model-{n:02d}.keras"
        ).read_bytes()
    assert "WARNING" not in p.stderr, p.stderr

    # WandbEvalCallback: the ground truth once (an artifact the run uses), a prediction table each epoch
    assert [a.name for a in run.used_artifacts()] == ["val:v0"]
    data = api.artifact("keras/val:latest").get("val_data")
    assert data.columns == ["idx", "y"]
    assert data.data == [[i, v] for i, v in enumerate(x_sums())]
    preds = api.artifact_versions("evaluation", f"keras/run_{run.id}_pred")
    assert [a.version for a in preds] == ["v0", "v1", "v2"]
    assert sorted(a.name for a in run.logged_artifacts()) == sorted(a.name for a in [*ckpts, *preds])
    for epoch, art in enumerate(preds):
        table = art.get("eval_data")
        assert table.columns == ["epoch", "idx", "y", "pred"]
        assert [row[0] for row in table.data] == [epoch] * 4
        assert [row[1:3] for row in table.data] == data.data
        assert [row[3] for row in table.data] == out["predicted"][epoch]


def x_sums() -> list[float]:
    x = np.random.RandomState(0).randn(16, 3).astype("float32")
    return [float(v) for v in x.sum(axis=1)[:4]]


def test_batch_logging_and_the_legacy_callback_with_the_shim_on_pythonpath(tmp_path: Path) -> None:
    _p, out = train(
        tmp_path,
        BATCHES_AND_LEGACY,
        [sys.executable, "train.py"],
        child_env(tmp_path, PYTHONPATH=str(shim.site_dir())),
    )
    api = runstore.Api(store=tmp_path / ".wandb")

    # WandbMetricsLogger(log_freq=2): batches 0 and 2 of each 4-batch epoch, batch_step counting by 2
    run = api.run(f"keras-batches/{out['batches_run']}")
    assert run.state == "finished"
    rows = list(run.scan_history(keys=["batch/batch_step", "batch/loss", "batch/mae", "batch/learning_rate"]))
    assert [r["batch/batch_step"] for r in rows] == [0, 2, 4, 6]
    recorded = [(i, logs) for i, (batch, logs) in enumerate(out["batches"]) if batch % 2 == 0]
    assert [i for i, _ in recorded] == [0, 2, 4, 6]  # indices over the whole fit: batches 0, 2 of epochs 0, 1
    assert [r["batch/loss"] for r in rows] == [logs["loss"] for _, logs in recorded]
    assert [r["batch/mae"] for r in rows] == [logs["mae"] for _, logs in recorded]
    # the schedule's rate after the optimizer's (i+1)-th step: 0.1 halved i+1 times, computed in float32
    assert [r["batch/learning_rate"] for r in rows] == pytest.approx(
        [0.1 * 0.5 ** (i + 1) for i, _ in recorded], rel=1e-6
    )
    epochs = list(run.scan_history(keys=["epoch/epoch", "epoch/loss"]))
    assert [(r["epoch/epoch"], r["epoch/loss"]) for r in epochs] == list(
        enumerate(out["batches_history"]["loss"])
    )

    # the legacy WandbCallback: a row per epoch, the best val_loss in the summary, the best model saved
    run = api.run(f"keras-legacy/{out['legacy_run']}")
    assert run.state == "finished"
    history = out["legacy_history"]
    rows = list(run.scan_history(keys=["epoch", "loss", "val_loss", "mae", "parameters/d1.weights"]))
    assert [r["epoch"] for r in rows] == [0, 1, 2]
    for name in ("loss", "val_loss", "mae"):
        assert [r[name] for r in rows] == history[name], name
    assert all(r["parameters/d1.weights"]["_type"] == "histogram" for r in rows)
    best = min(range(3), key=lambda e: history["val_loss"][e])
    assert run.summary["best_val_loss"] == history["val_loss"][best] and run.summary["best_epoch"] == best
    assert "model-best.keras" in {f.name for f in run.files()}
    assert out["best_layers"] == ["d1", "out"]
    assert out["legacy_alias"] is True  # the old `wandb.keras` name
