"""`wandb.sdk`: the internal modules integrations import names from."""

from runstore.sdk.artifact import Artifact
from runstore.sdk.init import init
from runstore.sdk.settings import UserSettings as Settings

from . import wandb_run  # noqa: F401 - `wandb.sdk.wandb_run.Run`

__all__ = ["Artifact", "init", "Settings"]
