"""`wandb.apis`: the read API."""

from . import public  # noqa: F401
