"""`wandb.apis.public`: `Api` and the objects it returns."""

from runstore.api import Api
from runstore.api._artifacts import ArtifactCollection, ArtifactType
from runstore.api._runs import Run, Runs
from runstore.sdk.artifact import Artifact

__all__ = ["Api", "Artifact", "ArtifactCollection", "ArtifactType", "Run", "Runs"]
