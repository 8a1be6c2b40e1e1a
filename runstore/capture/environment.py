"""Metadata about the machine and process (docs/COMPAT.md §13.4) and the installed distributions."""

from __future__ import annotations

import getpass
import hashlib
import os
import platform
import sys
from typing import Any

from ..base import env as _env
from ..daemon.gpu import gpu_inventory
from ..store.jsonl import write_atomic
from ..store.layout import make_dirs
from ..store.store import Store


def _environment_key() -> str:
    """Changes whenever a distribution is installed or removed: pip adds or deletes entries in a
    site directory, which changes that directory's mtime."""
    h = hashlib.sha1(sys.executable.encode())
    for p in sys.path:
        try:
            st = os.stat(p or ".")
        except OSError:
            continue
        h.update(f"{p}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()[:16]


def requirements_cached(store: Store | None) -> str:
    """`requirements()`, remembered per environment in the store's derived cache (scanning a large
    environment's metadata takes tens of milliseconds; the cache read takes one)."""
    if store is None:
        return requirements()
    path = store.requirements_cache(_environment_key())
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        pass
    text = requirements()
    try:
        make_dirs(path.parent)
        write_atomic(path, text.encode())
    except OSError:
        pass  # no cache on a read-only store; the text is still right
    return text


def requirements() -> str:
    """`name==version` of every installed distribution, sorted (pip freeze without a subprocess)."""
    # Here, not at the top: importlib.metadata (and the email package it loads) costs ~15 ms, and this
    # runs on the capture thread, off init()'s path.
    from importlib import metadata

    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        try:
            name = dist.metadata["Name"]
        except Exception:
            name = None
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "".join(line + "\n" for _, line in sorted(seen.items()))


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict[str, Any]:
    """Hardware and OS facts; every probe is guarded so a strange machine yields fewer keys, not errors."""
    meta: dict[str, Any] = {"os": platform.platform(), "cpu_count_logical": os.cpu_count()}
    try:
        meta["username"] = getpass.getuser()
    except Exception:
        pass
    model = _cpu_model()
    if model:
        meta["cpu"] = {"model": model}
    try:
        import psutil

        meta["cpu_count"] = psutil.cpu_count(logical=False)
        meta["memory"] = {"total": psutil.virtual_memory().total}
        du = psutil.disk_usage("/")
        meta["disk"] = {"/": {"total": du.total, "used": du.used}}
    except Exception:
        pass
    try:
        gpus = gpu_inventory()
    except Exception:
        gpus = []
    if gpus:
        meta["gpu"] = gpus[0].get("name")
        meta["gpu_count"] = len(gpus)
        meta["gpu_nvidia"] = gpus
    slurm = {k[6:].lower(): v for k, v in os.environ.items() if k.startswith("SLURM_")}
    if slurm:
        meta["slurm"] = slurm
    docker = _env.get("docker")
    if docker:
        meta["docker"] = docker
    meta["executable"] = sys.executable
    return meta
