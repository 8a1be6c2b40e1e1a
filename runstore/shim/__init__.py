"""The `wandb` shim: a `wandb` package that forwards to runstore, for code and libraries that `import
wandb` themselves (docs/COMPAT.md §17).

`site_dir()` is a directory holding that package and an installed-distribution record
(`wandb-0.31.0+runstore.dist-info`). Putting the directory on `sys.path` turns it on: `runstore run`
does it for its child (`PYTHONPATH`), `runstore shim install` writes a `.pth` file into an
environment, `runstore shim path` prints it for launchers (`torchrun`, `accelerate launch`, SLURM).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

from ..errors import UsageError

SHIM_VERSION = "0.31.0+runstore"
PTH_NAME = "runstore-wandb-shim.pth"


def site_dir() -> Path:
    return Path(__file__).resolve().parent / "site"


def real_wandb() -> str | None:
    """The version of a real wandb distribution installed where this interpreter looks, or None."""
    from importlib import metadata

    for dist in metadata.distributions(name="wandb"):
        version = dist.version or ""
        if not version.endswith("+runstore"):
            return version
    return None


def in_use() -> str | None:
    """Which `wandb` this process imported: "shim", "wandb <version>" or None (not imported)."""
    mod = sys.modules.get("wandb")
    if mod is None:
        return None
    if getattr(mod, "__runstore_shim__", False):
        return "shim"
    return f"wandb {getattr(mod, '__version__', '?')}"


def child_pythonpath(environ: dict[str, str]) -> str:
    """PYTHONPATH for a child that should import the shim as `wandb` (in front of everything)."""
    current = environ.get("PYTHONPATH", "")
    parts = [str(site_dir())] + [p for p in current.split(os.pathsep) if p and p != str(site_dir())]
    return os.pathsep.join(parts)


def pth_path() -> Path:
    return Path(sysconfig.get_paths()["purelib"]) / PTH_NAME


def install(force: bool = False) -> Path:
    """Add the shim to this interpreter's environment (a `.pth` file in its site-packages). Refuses when
    a real wandb is installed there, unless `force` (then the shim goes in front of it)."""
    real = real_wandb()
    if real is not None and not force:
        raise UsageError(
            f"wandb {real} is installed in this environment; the shim would hide it. Uninstall it "
            "(pip uninstall wandb), use `runstore run` (which puts the shim in front only for its child), "
            "or pass --force"
        )
    path = pth_path()
    site = str(site_dir())
    # A plain path line appends the directory to sys.path; with a real wandb present (--force) an import
    # line puts it first, so `import wandb` finds the shim.
    line = f"import sys; sys.path.insert(0, {site!r})\n" if real is not None else f"{site}\n"
    path.write_text(line)
    return path


def uninstall() -> Path | None:
    """Remove the shim from this environment; the `.pth` file removed, or None if there was none."""
    path = pth_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


def installed() -> bool:
    return pth_path().is_file()


__all__ = [
    "SHIM_VERSION",
    "site_dir",
    "real_wandb",
    "in_use",
    "child_pythonpath",
    "install",
    "uninstall",
    "installed",
]
