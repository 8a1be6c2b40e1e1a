"""`wandb.data_types`: the data types under the module name some scripts import them from
(`from wandb.data_types import Image`). They are runstore.media's."""

from __future__ import annotations

from typing import Any

from . import media as _media


def __getattr__(name: str) -> Any:
    return getattr(_media, name)


__all__ = [n for n in _media.__all__ if n not in ("Media", "BindContext")]
