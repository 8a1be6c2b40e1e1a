"""`wandb.integration`: the integrations that live inside wandb. Their code is runstore's
(`runstore.integration.*`), reached through the aliases in `wandb/_aliases.py`: `wandb.integration.keras`
is `runstore.integration.keras`, and so on."""

from __future__ import annotations

from typing import Any

from .._aliases import ALIASES

_CHILDREN = tuple(n.rsplit(".", 1)[1] for n in ALIASES if n.startswith(f"{__name__}."))


def __getattr__(name: str) -> Any:
    if name in _CHILDREN:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} (runstore's shim) has no attribute {name!r}")


__all__: list[str] = []
