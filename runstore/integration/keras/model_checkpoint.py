"""`WandbModelCheckpoint`: Keras' `ModelCheckpoint`, with every checkpoint it writes logged as an artifact."""

from __future__ import annotations

import os
import string
from typing import Any, Literal

import keras

from ...base import term
from ._common import current_run, live_run, log_checkpoint

Mode = Literal["auto", "min", "max"]
SaveStrategy = Literal["epoch"]


def _signature(path: str) -> tuple[int, int] | None:
    """What tells a rewritten checkpoint from the one already there (a directory: its newest file)."""
    try:
        if os.path.isdir(path):
            stats = [os.stat(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs]
            return (max(s.st_mtime_ns for s in stats), sum(s.st_size for s in stats)) if stats else None
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return None


class WandbModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """Saves the model (or its weights) as Keras' `ModelCheckpoint` does, with the same arguments and
    rules (`filepath` may hold `{epoch}`, `{batch}` and metric placeholders; `save_best_only` keeps only
    improvements of `monitor`; `save_freq` is "epoch" or a number of batches). Each written checkpoint
    is then logged, as in wandb, as the next version of the model artifact `run_<id>_model`, with the
    aliases `latest` and `epoch_<epoch>` (`epoch_<epoch>_batch_<batch>` when saving every N batches)."""

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: Mode = "auto",
        save_freq: SaveStrategy | int = "epoch",
        initial_value_threshold: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            filepath=filepath,
            monitor=monitor,
            verbose=verbose,
            save_best_only=save_best_only,
            save_weights_only=save_weights_only,
            mode=mode,
            save_freq=save_freq,
            initial_value_threshold=initial_value_threshold,
            **kwargs,
        )
        self._run = current_run("WandbModelCheckpoint")
        self.saved: list[str] = []  # the checkpoints written so far, in order (a path may repeat)
        if self.save_best_only and not any(
            field is not None for _, field, _, _ in string.Formatter().parse(str(self.filepath))
        ):
            term.current().warn(
                "WandbModelCheckpoint(save_best_only=True): put placeholders such as {epoch:02d} in "
                "`filepath`, or each better model replaces the previous one on disk (the artifact keeps "
                "every version)",
                once_key="keras-ckpt-placeholders",
            )

    def _save_model(self, epoch: int, batch: int | None, logs: dict[str, Any] | None) -> None:
        # Keras decides whether to write (save_best_only, save_freq); a new or rewritten file at the
        # path it formats is a checkpoint it wrote.
        path = self._get_file_path(epoch, batch, logs)
        before = _signature(path)
        super()._save_model(epoch=epoch, batch=batch, logs=logs)
        after = _signature(path)
        if after is not None and after != before:
            self.saved.append(path)
            alias = f"epoch_{epoch}" if batch is None else f"epoch_{epoch}_batch_{batch}"
            log_checkpoint(live_run(self._run), path, ["latest", alias])
