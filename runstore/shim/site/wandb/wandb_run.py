"""`wandb.wandb_run.Run` (the old location of `wandb.sdk.wandb_run.Run`)."""

from runstore.sdk.run import Run

__all__ = ["Run"]
