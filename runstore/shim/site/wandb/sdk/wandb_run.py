"""`wandb.sdk.wandb_run.Run`: what isinstance checks of integrations compare against."""

from runstore.sdk.run import Run

__all__ = ["Run"]
