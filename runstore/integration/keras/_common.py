"""What the Keras callbacks share: the run they log into, and logging checkpoints as artifacts."""

from __future__ import annotations

import os
from typing import Any

from ...errors import Error
from ...sdk import registry


def current_run(what: str) -> Any:
    """The run a callback logs into: the current one, which must exist when the callback is created."""
    run = registry.current()
    if run is None or run._finished:
        raise Error(f"You must call wandb.init() (or runstore.init()) before {what}()")
    return run


def live_run(created_with: Any) -> Any:
    """The run to log into now: the current one, else the run the callback was created with."""
    run = registry.current()
    return run if run is not None else created_with


def log_checkpoint(run: Any, path: str, aliases: list[str]) -> Any:
    """Log `path` (a file, or every file under a directory) as the next version of the run's model
    artifact `run_<id>_model`, as wandb's callbacks do; None when there is nothing to log."""
    from ...sdk.artifact import Artifact

    if getattr(run, "disabled", False) or not os.path.exists(path):
        return None
    art = Artifact(f"run_{run.id}_model", type="model")
    if os.path.isdir(path):
        art.add_dir(path)
    else:
        art.add_file(path)
    return run.log_artifact(art, aliases=aliases)


def scalar(value: Any) -> float | None:
    """A Keras variable, backend tensor or number as a float; None if it is not one number."""
    try:
        import keras

        return float(keras.ops.convert_to_numpy(value))
    except Exception:
        try:
            return float(value)
        except Exception:
            return None
