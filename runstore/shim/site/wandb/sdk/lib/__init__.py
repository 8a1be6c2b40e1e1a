"""`wandb.sdk.lib`: `RunDisabled` is the run of `mode="disabled"`."""

from runstore.sdk.disabled import DisabledRun as RunDisabled

__all__ = ["RunDisabled"]
