"""runstore: a local-first experiment tracker with wandb's Python API.

import runstore as wandb
run = wandb.init(project="p", config={"lr": 0.01})
wandb.log({"loss": 0.5})
wandb.finish()
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from .errors import CommError, ConfigError, Error, UsageError  # noqa: E402
from .sdk import preinit as _preinit  # noqa: E402
from .sdk.init import finish, init, login, setup  # noqa: E402
from .sdk.settings import UserSettings as Settings  # noqa: E402
from .sdk.term import termerror, termlog, termwarn  # noqa: E402

run: Any = None
config: Any = _preinit.config
summary: Any = _preinit.summary
log = _preinit.log
define_metric = _preinit.define_metric
mark_preempting = _preinit.mark_preempting
alert = _preinit.alert
save = _preinit.save


_MEDIA = ("Image", "Histogram", "Html", "Audio", "Video", "Object3D", "box3d", "Molecule", "Plotly", "Table")


def __getattr__(name: str) -> Any:
    # The read API, the data types and the chart presets pull in more code (numpy, PIL, …):
    # load them only when asked for, so `import runstore` stays fast.
    if name == "Api":
        from .api import Api

        return Api
    # import_module, not `from . import x`: the latter asks this very __getattr__ first and recurses.
    from importlib import import_module

    if name in _MEDIA:
        return getattr(import_module(f"{__name__}.media"), name)
    if name == "plot":
        return import_module(f"{__name__}.plot")
    if name == "plot_table":
        return import_module(f"{__name__}.plot").plot_table
    if name == "restore":
        return import_module(f"{__name__}.sdk.save").restore
    if name == "sweep":
        return import_module(f"{__name__}.sweeps.controller").sweep
    if name == "agent":
        return import_module(f"{__name__}.sweeps.agent").agent
    raise AttributeError(f"module 'runstore' has no attribute {name!r}")


__all__ = [
    "__version__",
    "init",
    "finish",
    "save",
    "restore",
    "login",
    "setup",
    "termlog",
    "termwarn",
    "termerror",
    "log",
    "config",
    "summary",
    "run",
    "define_metric",
    "mark_preempting",
    "alert",
    "Api",
    "Settings",
    "Error",
    "UsageError",
    "CommError",
    "ConfigError",
    *_MEDIA,
    "plot",
    "plot_table",
    "sweep",
    "agent",
]
