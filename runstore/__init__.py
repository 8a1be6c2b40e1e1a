"""runstore: a local-first experiment tracker with wandb's Python API.

import runstore as wandb
run = wandb.init(project="p", config={"lr": 0.01})
wandb.log({"loss": 0.5})
wandb.finish()
"""

from __future__ import annotations

import sys
from typing import Any

from .base.term import termerror, termlog, termwarn
from .base.version import __version__
from .errors import CommError, ConfigError, Error, UsageError
from .sdk import registry as _registry
from .sdk.init import finish, init, login, setup
from .sdk.run import AlertLevel
from .sdk.save import restore
from .sdk.settings import UserSettings as Settings

# wandb's module globals. While a run is active the registry points them at it (`run.log` etc.); until
# then they are placeholders that explain the missing init().
run: Any = None
config: Any = _registry.PREINIT["config"]
summary: Any = _registry.PREINIT["summary"]
log = _registry.PREINIT["log"]
define_metric = _registry.PREINIT["define_metric"]
mark_preempting = _registry.PREINIT["mark_preempting"]
alert = _registry.PREINIT["alert"]
save = _registry.PREINIT["save"]
watch = _registry.PREINIT["watch"]
unwatch = _registry.PREINIT["unwatch"]
log_artifact = _registry.PREINIT["log_artifact"]
use_artifact = _registry.PREINIT["use_artifact"]
log_model = _registry.PREINIT["log_model"]
use_model = _registry.PREINIT["use_model"]
link_model = _registry.PREINIT["link_model"]
_registry.publish(sys.modules[__name__])

join = finish  # wandb's old name for finish()


def require(*requirements: str, **_: Any) -> None:
    """wandb's feature switches (`"service"`, `"core"`, …) choose between parts of wandb's own client;
    runstore has one implementation, so every requirement is already met."""


_MEDIA = (
    "Image",
    "Histogram",
    "Html",
    "Audio",
    "Video",
    "Object3D",
    "box3d",
    "Molecule",
    "Plotly",
    "Table",
    "Graph",
    "Node",
    "Edge",
    "Classes",
)


def __getattr__(name: str) -> Any:
    # The read API, the data types and the chart presets pull in more code (numpy, PIL, …):
    # load them only when asked for, so `import runstore` stays fast.
    # import_module, not `from . import x`: the latter asks this very __getattr__ first and recurses.
    from importlib import import_module

    if name == "Api":
        return import_module(f"{__name__}.api").Api
    if name == "Run":
        return import_module(f"{__name__}.sdk.run").Run
    if name == "Artifact":
        return import_module(f"{__name__}.sdk.artifact").Artifact
    if name in _MEDIA:
        return getattr(import_module(f"{__name__}.media"), name)
    if name in ("plot", "util", "data_types"):
        return import_module(f"{__name__}.{name}")
    if name == "sklearn":  # wandb.sklearn is wandb.integration.sklearn
        return import_module(f"{__name__}.integration.sklearn")
    if name == "tensorboard":
        return import_module(f"{__name__}.integration.tensorboard")
    if name == "integration":
        return import_module(f"{__name__}.integration")
    if name == "plot_table":
        return import_module(f"{__name__}.plot").plot_table
    if name == "sweep":
        return import_module(f"{__name__}.sweeps.controller").sweep
    if name == "agent":
        return import_module(f"{__name__}.sweeps.agent").agent
    raise AttributeError(f"module 'runstore' has no attribute {name!r}")


__all__ = [
    "__version__",
    "init",
    "finish",
    "join",
    "require",
    "AlertLevel",
    "Run",
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
    "watch",
    "unwatch",
    "log_artifact",
    "use_artifact",
    "log_model",
    "use_model",
    "link_model",
    "Artifact",
    "Api",
    "Settings",
    "Error",
    "UsageError",
    "CommError",
    "ConfigError",
    *_MEDIA,
    "plot",
    "plot_table",
    "util",
    "data_types",
    "sweep",
    "agent",
]
