"""One error hierarchy for runstore.

The names mirror wandb's (`Error`, `UsageError`, `CommError`, `ConfigError`) so that scripts catching
`wandb.Error` keep working when they `import runstore as wandb`.
"""

from __future__ import annotations


class Error(Exception):
    """Base class of every error runstore raises on purpose."""


class UsageError(Error, ValueError):
    """The API was called in a way that cannot work (e.g. before `init()`, or resume='must' on a new id).

    Also a ValueError, so callers may catch it either as wandb's `Error` or as Python's misuse error.
    """


class CommError(Error):
    """A remote could not be reached (kept for wandb compatibility)."""


class ConfigError(Error):
    """A config value was changed without `allow_val_change=True`."""


class RunNotFound(Error):
    """No run matches the given reference."""


class StoreError(Error):
    """The store on disk is missing, unreadable or not writable."""


class FormatError(StoreError):
    """Data on disk is in a format version this runstore cannot read (a newer major version)."""
