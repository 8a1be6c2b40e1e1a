"""What the Keras callbacks share: the run they log into, and saving files where wandb logs artifacts."""

from __future__ import annotations

import os
from typing import Any

from ...base import term
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


def save_instead_of_artifact(run: Any, path: str, what: str) -> list[str]:
    """Save `path` (a file, or every file under a directory) into the run with `run.save`, where wandb
    would log an artifact. Warns once per callback kind that artifacts are not there yet."""
    if getattr(run, "disabled", False):
        return []
    if os.path.isdir(path):
        pattern, base = os.path.join(path, "**"), os.path.dirname(os.path.abspath(path))
        saved = run.save(pattern, base_path=base, policy="now")
    elif os.path.isfile(path):
        saved = run.save(path, policy="now")
    else:
        return []
    term.current().warn(
        f"artifacts are not supported yet; saved the file with run.save instead ({what}: {path})",
        once_key=f"keras-artifact:{what}",
    )
    return list(saved)


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
