"""TensorBoard, as wandb integrates it (`wandb.tensorboard`): `patch()`/`unpatch()` for live capture of
what SummaryWriters write, and `import_logdir()` behind `runstore import tensorboard` (docs/COMPAT.md §18).
The event-file reading itself is `runstore.capture.tensorboard`."""

from __future__ import annotations

from ._import import (
    ImportResult,
    check_logdir,
    default_project,
    event_dirs,
    import_logdir,
    is_logdir,
    run_id_for,
)
from ._patch import patch, unpatch

__all__ = [
    "ImportResult",
    "check_logdir",
    "default_project",
    "event_dirs",
    "import_logdir",
    "is_logdir",
    "patch",
    "run_id_for",
    "unpatch",
]
