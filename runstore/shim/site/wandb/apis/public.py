"""`wandb.apis.public`: `Api` and the objects it returns."""

from runstore.api import Api
from runstore.api._runs import Run, Runs

__all__ = ["Api", "Run", "Runs"]
