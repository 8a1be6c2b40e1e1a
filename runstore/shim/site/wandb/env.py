"""`wandb.env`: the helpers that set wandb's environment variables for later `init()` calls."""

from __future__ import annotations

import os

from runstore.base import env as _env


def _set(setting: str, value: str, env: dict[str, str] | None) -> None:
    target = os.environ if env is None else env
    for var, v in _env.assignments({setting: value}).items():  # the WANDB_* name, its twin removed
        if v is None:
            target.pop(var, None)
        else:
            target[var] = v


def set_project(value: str, env: dict[str, str] | None = None) -> None:
    _set("project", value, env)


def set_entity(value: str, env: dict[str, str] | None = None) -> None:
    _set("entity", value, env)


__all__ = ["set_project", "set_entity"]
