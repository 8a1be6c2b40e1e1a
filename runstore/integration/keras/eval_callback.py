"""`WandbEvalCallback`: the base class for callbacks that log model predictions as tables."""

from __future__ import annotations

import abc
from typing import Any

import keras

from ...media import Table
from ...sdk.artifact import Artifact
from ._common import current_run, live_run


class WandbEvalCallback(keras.callbacks.Callback, abc.ABC):
    """Subclass it and implement `add_ground_truth(logs)` (fill `self.data_table`, once, when training
    begins) and `add_model_predictions(epoch, logs)` (fill `self.pred_table`, after each epoch).

    `self.data_table` has the columns `data_table_columns` (mixed types allowed); `self.pred_table` the
    columns `pred_table_columns`, a new one each epoch. `self.data_table_ref` is the logged data table,
    to read ground-truth cells from (`data_table_ref.data[i][j]`, `data_table_ref.get_index()`).

    Both tables are artifacts, as in wandb: the data table is added as `val_data` to the artifact `val`
    (type `dataset`) that the run uses; each epoch's predictions are the next version of
    `run_<id>_pred` (type `evaluation`), table `eval_data`.
    """

    def __init__(
        self,
        data_table_columns: list[str],
        pred_table_columns: list[str],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._run = current_run("WandbEvalCallback")
        self.data_table_columns = data_table_columns
        self.pred_table_columns = pred_table_columns

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.init_data_table(column_names=self.data_table_columns)
        self.add_ground_truth(logs)
        self.log_data_table()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.init_pred_table(column_names=self.pred_table_columns)
        self.add_model_predictions(epoch, logs)
        self.log_pred_table()

    @abc.abstractmethod
    def add_ground_truth(self, logs: dict[str, Any] | None = None) -> None:
        """Add the validation (or training) data to `self.data_table`; called once, when training begins."""
        raise NotImplementedError(f"{type(self).__name__}.add_ground_truth")

    @abc.abstractmethod
    def add_model_predictions(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Add the model's predictions to `self.pred_table`; called at the end of each epoch."""
        raise NotImplementedError(f"{type(self).__name__}.add_model_predictions")

    def init_data_table(self, column_names: list[str]) -> None:
        self.data_table = Table(columns=column_names, allow_mixed_types=True)

    def init_pred_table(self, column_names: list[str]) -> None:
        self.pred_table = Table(columns=column_names)

    def log_data_table(self, name: str = "val", type: str = "dataset", table_name: str = "val_data") -> None:
        """Use `self.data_table` as table `table_name` of artifact `name`; `self.data_table_ref` is the
        table read back from it."""
        run = live_run(self._run)
        if getattr(run, "disabled", False):
            self.data_table_ref = self.data_table
            return
        art = Artifact(name, type=type)
        art.add(self.data_table, table_name)
        run.use_artifact(art)
        self.data_table_ref = art.get(table_name)

    def log_pred_table(
        self, type: str = "evaluation", table_name: str = "eval_data", aliases: list[str] | None = None
    ) -> None:
        """Log `self.pred_table` as table `table_name` of the next version of `run_<id>_pred`."""
        run = live_run(self._run)
        art = Artifact(f"run_{run.id}_pred", type=type)
        art.add(self.pred_table, table_name)
        run.log_artifact(art, aliases=aliases or ["latest"])
