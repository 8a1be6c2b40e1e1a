"""runstore's stand-in for `wandb` (the "shim"): code that does `import wandb`, and libraries that do it
for you (Lightning, Hugging Face, accelerate, Keras), log into a runstore store instead.

It is on `sys.path` only when asked for: `runstore run -- CMD` puts it in front of the child's path,
`runstore shim install` adds it to an environment, `runstore shim path` prints the directory for
`PYTHONPATH`. The installed-distribution record next to it says `wandb 0.31.0+runstore`, the version of
the wandb API it follows, so version checks of integrations pass and `pip list` shows what it is.
"""

from __future__ import annotations

import sys as _sys
from typing import Any as _Any

import runstore as _rs
from runstore import __all__ as _rs_all
from runstore.sdk import registry as _registry

from . import _aliases

# the top-level wandb names that are modules of runstore's (`wandb.sklearn`, `wandb.util`, …)
_ALIASED = tuple(n.split(".", 1)[1] for n in _aliases.ALIASES if n.count(".") == 1)

# wandb's top-level names are runstore's. Only those runstore has loaded are copied now; the others
# (Api, the data types, plot, …) come through __getattr__ on first use, so `import wandb` stays as
# cheap as `import runstore`.
globals().update({k: v for k, v in vars(_rs).items() if k in _rs_all})

__version__ = "0.31.0+runstore"
__runstore_shim__ = True  # the run's metadata and `runstore status` say which wandb was imported

# wandb's module globals (`wandb.run`, `wandb.log`, …) follow the current run, as runstore's do.
_registry.publish(_sys.modules[__name__])

# wandb modules whose code is runstore's (`wandb.sklearn`, `wandb.integration.keras`, `wandb.util`, …):
# resolved by name on import, see _aliases.py.
_aliases.install()

# wandb's own subpackages and modules, imported on first attribute access as wandb does for most of them
_SUBMODULES = ("sdk", "errors", "apis", "wandb_run", "env", "integration", *_ALIASED)


def __getattr__(name: str) -> _Any:
    # The read API, the data types and the chart presets load on first use, as in runstore itself.
    if name in _rs_all or name.startswith("__"):
        return getattr(_rs, name)
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'wandb' (runstore's shim) has no attribute {name!r}")


__all__ = list(_rs_all)
