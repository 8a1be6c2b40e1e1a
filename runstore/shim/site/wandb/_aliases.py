"""wandb's module names whose code is a runstore module: `import wandb.sklearn` gives
`runstore.integration.sklearn` itself (one module object, its submodules included), found by name only
when imported, so the shim works with runstore versions that do not have the target yet.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

# wandb name -> (runstore module, the feature it is, for the error when runstore has no such module)
ALIASES: dict[str, tuple[str, str]] = {
    "wandb.integration.keras": ("runstore.integration.keras", "the Keras callbacks"),
    "wandb.keras": ("runstore.integration.keras", "the Keras callbacks"),
    "wandb.integration.sklearn": ("runstore.integration.sklearn", "the scikit-learn plots"),
    "wandb.sklearn": ("runstore.integration.sklearn", "the scikit-learn plots"),
    "wandb.integration.tensorboard": ("runstore.integration.tensorboard", "TensorBoard syncing"),
    "wandb.tensorboard": ("runstore.integration.tensorboard", "TensorBoard syncing"),
    "wandb.util": ("runstore.util", "wandb.util's helpers"),
    "wandb.data_types": ("runstore.data_types", "wandb.data_types"),
}


def target_of(fullname: str) -> tuple[str, str, str] | None:
    """(runstore module, feature, the aliased wandb prefix) for a wandb module name, or None."""
    for prefix, (target, feature) in ALIASES.items():
        if fullname == prefix or fullname.startswith(prefix + "."):
            return target + fullname[len(prefix) :], feature, prefix
    return None


def _missing(name: str, target: str, feature: str) -> ImportError:
    return ImportError(
        f"{name}: {feature} are not in this version of runstore (no module {target}); "
        "upgrade runstore, or run this script with a real wandb (`runstore run --no-wandb-shim`)",
        name=name,
    )


class _Existing(importlib.abc.Loader):
    """Hands the import system a module runstore has already loaded."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec = getattr(module, "__spec__", None)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        # The import system has just set the module's __spec__ to the alias's; it stays runstore's
        # module (reload, pickling and tracebacks go by its own name).
        if self.spec is not None:
            module.__spec__ = self.spec


class AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Any = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        found = target_of(fullname)
        if found is None:
            return None
        runstore_name, feature, _prefix = found
        try:
            module = importlib.import_module(runstore_name)
        except ModuleNotFoundError as e:
            # Only the runstore module itself being absent is "runstore lacks the feature"; a library
            # it needs (keras, scikit-learn) missing keeps its own error.
            if e.name is not None and (runstore_name == e.name or runstore_name.startswith(e.name + ".")):
                raise _missing(fullname, runstore_name, feature) from None
            raise
        spec = importlib.machinery.ModuleSpec(
            fullname, _Existing(module), is_package=hasattr(module, "__path__")
        )
        return spec


def install() -> None:
    if not any(isinstance(f, AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())


__all__ = ["ALIASES", "AliasFinder", "install", "target_of"]
