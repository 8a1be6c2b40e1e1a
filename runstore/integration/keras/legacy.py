"""`WandbCallback`: wandb's original all-in-one Keras callback (deprecated in wandb in favour of the
three above, still used by many scripts)."""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from typing import Any

import keras

from ...base import term
from ._common import current_run, live_run

# Arguments of wandb's callback that need TensorFlow or wandb's servers (gradients through a TF graph,
# FLOPs from the TF profiler, image/prediction panels built for the web UI): accepted, and ignored with
# a warning when asked for.
_UNSUPPORTED = (
    "log_gradients",
    "log_evaluation",
    "input_type",
    "output_type",
    "compute_flops",
    "generator",
)


class WandbCallback(keras.callbacks.Callback):
    """Logs what Keras reports at the end of each epoch (plus `epoch`, 0-based), as one history row,
    and keeps the best value of `monitor` (mode "min", "max" or "auto": "max" for accuracy-like names) in
    the summary as `<log_best_prefix><monitor>` and `<log_best_prefix>epoch`. With `save_model` (the
    default) the best model is written into the run's files as `model-best.keras` (its weights as
    `model-best.weights.h5` with `save_weights_only`; Keras 3 no longer writes wandb's `model-best.h5`).
    `log_weights` adds a histogram of each layer's weights and bias (`parameters/<layer>.weights`,
    `.bias`); `log_batch_frequency=N` also logs the batch metrics every N batches. A resumed run starts
    from the best value in its summary."""

    def __init__(
        self,
        monitor: str = "val_loss",
        verbose: int = 0,
        mode: str = "auto",
        save_weights_only: bool = False,
        log_weights: bool = False,
        log_gradients: bool = False,
        save_model: bool = True,
        training_data: Any = None,
        validation_data: Any = None,
        labels: list[str] | None = None,
        predictions: int = 36,
        generator: Any = None,
        input_type: str | None = None,
        output_type: str | None = None,
        log_evaluation: bool = False,
        validation_steps: int | None = None,
        class_colors: Any = None,
        log_batch_frequency: int | None = None,
        log_best_prefix: str = "best_",
        save_graph: bool = True,
        validation_indexes: Any = None,
        validation_row_processor: Callable[..., Any] | None = None,
        prediction_row_processor: Callable[..., Any] | None = None,
        infer_missing_processors: bool = True,
        log_evaluation_frequency: int = 0,
        compute_flops: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        run = current_run("WandbCallback")
        self._run = run
        asked = {
            "log_gradients": log_gradients,
            "log_evaluation": log_evaluation,
            "input_type": input_type,
            "output_type": output_type,
            "compute_flops": compute_flops,
            "generator": generator,
        }
        ignored = [k for k in _UNSUPPORTED if asked[k]]
        if ignored:
            term.current().warn(
                f"WandbCallback: {', '.join(ignored)} not supported by runstore's Keras callback; ignored "
                "(use WandbEvalCallback for prediction tables)",
                once_key=f"keras-legacy-ignored:{ignored}",
            )
        self.monitor = monitor
        self.verbose = verbose
        self.save_weights_only = save_weights_only
        self.save_model = save_model
        self.log_weights = log_weights
        self.training_data = training_data
        self.validation_data = validation_data
        self.labels = labels or []
        self.log_batch_frequency = log_batch_frequency
        self.log_best_prefix = log_best_prefix
        self.save_graph = save_graph
        name = "model-best.weights.h5" if save_weights_only else "model-best.keras"
        self.filepath = os.path.join(run.dir, name)
        if mode not in ("auto", "min", "max"):
            term.current().warn(f"WandbCallback: mode {mode!r} is unknown, using 'auto'")
            mode = "auto"
        if mode == "auto":
            mode = "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"
        self.monitor_op: Callable[[Any, Any], bool] = operator.gt if mode == "max" else operator.lt
        self.best: float = float("-inf") if mode == "max" else float("inf")
        self.current: Any = None
        if log_best_prefix:
            previous = run.summary.get(f"{log_best_prefix}{monitor}")
            if isinstance(previous, (int, float)) and not isinstance(previous, bool):
                self.best = previous
        self._graph_rendered = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = dict(logs or {})
        run = live_run(self._run)
        if self.log_weights:
            run.log(self._weight_histograms(), commit=False)
        run.log({"epoch": epoch}, commit=False)
        run.log(logs, commit=True)
        self.current = logs.get(self.monitor)
        if self.current is None or not self.monitor_op(self.current, self.best):
            return
        if self.log_best_prefix:
            run.summary[f"{self.log_best_prefix}{self.monitor}"] = self.current
            run.summary[f"{self.log_best_prefix}epoch"] = epoch
            if self.verbose and not self.save_model:
                print(
                    f"Epoch {epoch:05d}: {self.monitor} improved from {self.best:0.5f} to {self.current:0.5f}"
                )
        if self.save_model:
            self._save_model(epoch)
        self.best = self.current

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.save_graph and not self._graph_rendered:
            self._graph_rendered = True
            self._log_graph()
        if self.log_batch_frequency and batch % self.log_batch_frequency == 0:
            live_run(self._run).log(dict(logs or {}), commit=True)

    def _log_graph(self) -> None:
        """wandb's model graph in the summary, once runstore has a `Graph` that reads Keras models."""
        import importlib

        graph = getattr(importlib.import_module("runstore"), "Graph", None)
        from_keras = getattr(graph, "from_keras", None)
        if from_keras is None:
            return
        try:
            live_run(self._run).summary["graph"] = from_keras(self.model)
        except Exception as e:  # a graph is a nicety: never stop training for it
            term.current().warn(f"WandbCallback: could not log the model graph ({e})", once_key="keras-graph")

    def _weight_histograms(self) -> dict[str, Any]:
        import numpy as np

        from ...media import Histogram

        out: dict[str, Any] = {}
        for layer in self.model.layers:
            weights = layer.get_weights()
            if len(weights) not in (1, 2):
                continue
            for suffix, w in zip(("weights", "bias"), weights, strict=False):
                key = f"parameters/{layer.name}.{suffix}"
                arr = np.asarray(w)
                if not np.issubdtype(arr.dtype, np.number):
                    term.current().warn(f"WandbCallback: {key} is not numeric; not logged", once_key=key)
                    continue
                out[key] = Histogram(arr)
        return out

    def _save_model(self, epoch: int) -> None:
        if getattr(self._run, "disabled", False):
            return
        if self.verbose > 0:
            print(
                f"Epoch {epoch:05d}: {self.monitor} improved from {self.best:0.5f} to {self.current:0.5f}, "
                f"saving model to {self.filepath}"
            )
        try:
            if self.save_weights_only:
                self.model.save_weights(self.filepath, overwrite=True)
            else:
                self.model.save(self.filepath, overwrite=True)
        except Exception as e:  # e.g. a subclassed model Keras cannot serialize: keep training
            term.current().warn(
                f"WandbCallback: could not save the model ({type(e).__name__}: {e})", once_key="keras-save"
            )
