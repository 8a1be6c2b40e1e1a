"""`WandbMetricsLogger`: the logs Keras hands its callbacks, each epoch or every N batches."""

from __future__ import annotations

from typing import Any, Literal

import keras

from ...base import term
from ._common import current_run, live_run, scalar

LogStrategy = Literal["epoch", "batch"]


class WandbMetricsLogger(keras.callbacks.Callback):
    """Logs the metrics of `model.fit` into the current run, with the optimizer's learning rate.

    `log_freq="epoch"` (default): at the end of each epoch, `epoch/<metric>` for every metric Keras
    reports (`epoch/loss`, `epoch/val_loss`, …), `epoch/epoch` (0-based) and `epoch/learning_rate`;
    `epoch/*` is plotted against `epoch/epoch`.
    `log_freq="batch"` or an int N: also at the end of every Nth training batch of an epoch (batch index
    divisible by N), `batch/<metric>`, `batch/batch_step` (0, N, 2N, … over the whole fit) and
    `batch/learning_rate`; `batch/*` is plotted against `batch/batch_step`.
    `initial_global_step`: the optimizer step training resumes from (`initial_epoch` times the steps per
    epoch), for a learning-rate schedule that is called with the step.
    """

    def __init__(
        self,
        log_freq: LogStrategy | int = "epoch",
        initial_global_step: int = 0,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._run = current_run("WandbMetricsLogger")
        if log_freq == "batch":
            log_freq = 1
        if log_freq != "epoch" and (
            isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1
        ):
            raise ValueError(
                f"WandbMetricsLogger(log_freq={log_freq!r}): use 'epoch', 'batch' or an int >= 1"
            )
        self.logging_batch_wise = isinstance(log_freq, int)
        self.log_freq: int | None = log_freq if isinstance(log_freq, int) else None
        self.global_batch = 0
        self.global_step = initial_global_step
        if self.logging_batch_wise:
            self._run.define_metric("batch/batch_step")
            self._run.define_metric("batch/*", step_metric="batch/batch_step")
        else:
            self._run.define_metric("epoch/epoch")
            self._run.define_metric("epoch/*", step_metric="epoch/epoch")

    def _get_lr(self) -> float | None:
        optimizer = getattr(self.model, "optimizer", None)
        lr = getattr(optimizer, "learning_rate", None)
        if lr is None:
            return None
        value = scalar(lr)
        if value is None and callable(lr):  # a schedule object that was not evaluated for us
            try:
                value = scalar(lr(self.global_step))
            except Exception:
                value = None
        if value is None:
            term.current().warn(
                f"WandbMetricsLogger: unable to log the learning rate ({type(lr).__name__})",
                once_key="keras-lr",
            )
        return value

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {f"epoch/{k}": v for k, v in (logs or {}).items()}
        row["epoch/epoch"] = epoch
        lr = self._get_lr()
        if lr is not None:
            row["epoch/learning_rate"] = lr
        live_run(self._run).log(row)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.global_step += 1
        if self.log_freq is None or batch % self.log_freq != 0:
            return
        row = {f"batch/{k}": v for k, v in (logs or {}).items()}
        row["batch/batch_step"] = self.global_batch
        lr = self._get_lr()
        if lr is not None:
            row["batch/learning_rate"] = lr
        live_run(self._run).log(row)
        self.global_batch += self.log_freq
