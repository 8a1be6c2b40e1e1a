"""`wandb.sdk.lib.config_util.ConfigError`."""

from runstore.errors import ConfigError

__all__ = ["ConfigError"]
