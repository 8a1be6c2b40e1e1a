"""`wandb.errors`: wandb's exception names, which are runstore's."""

from runstore.errors import CommError, ConfigError, Error, UsageError

AuthenticationError = CommError  # no account here: raised by nothing, caught by integrations

__all__ = ["Error", "CommError", "UsageError", "ConfigError", "AuthenticationError"]
