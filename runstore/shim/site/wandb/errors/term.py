"""`wandb.errors.term`: the console helpers integrations print through."""

from runstore.base.term import termerror, termlog, termwarn

__all__ = ["termlog", "termwarn", "termerror"]
