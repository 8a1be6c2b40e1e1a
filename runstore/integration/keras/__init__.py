"""wandb's Keras callbacks (`wandb.integration.keras`), logging into the current runstore run, for
Keras 3 (tests/integrations/test_keras.py runs them on the torch backend). Importing this package imports
keras; `import runstore` never does.

* `WandbMetricsLogger(log_freq="epoch" | "batch" | N, initial_global_step=0)`: what Keras passes to its
  callbacks, as `epoch/<name>` each epoch (x-axis `epoch/epoch`) or `batch/<name>` every N batches
  (x-axis `batch/batch_step`), with the learning rate.
* `WandbModelCheckpoint(filepath, ...)`: Keras' `ModelCheckpoint`; every file it writes is also logged
  as the next version of the model artifact `run_<id>_model` (aliases `latest`, `epoch_<N>`).
* `WandbEvalCallback`: the base class for prediction tables (`add_ground_truth`, `add_model_predictions`);
  its tables are artifacts as in wandb (`val:v0` table `val_data` once, `run_<id>_pred` table
  `eval_data` each epoch).
* `WandbCallback`: the legacy callback: the metrics each epoch, the best value of `monitor` in the
  summary (`best_<monitor>`, `best_epoch`) and the best model saved into the run.
"""

try:
    import keras  # noqa: F401
except ModuleNotFoundError as e:
    # name="keras": the shim's `wandb.integration.keras` passes a missing library's error through as is
    raise ModuleNotFoundError(
        f"runstore's Keras callbacks need Keras 3 (pip install keras): {e}", name=e.name
    ) from e

from .eval_callback import WandbEvalCallback  # noqa: E402
from .legacy import WandbCallback  # noqa: E402
from .metrics_logger import WandbMetricsLogger  # noqa: E402
from .model_checkpoint import WandbModelCheckpoint  # noqa: E402

__all__ = ["WandbMetricsLogger", "WandbModelCheckpoint", "WandbEvalCallback", "WandbCallback"]
