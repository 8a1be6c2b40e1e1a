"""GPU metrics through NVML, behind a small interface so the rest of the daemon never sees pynvml.

`open_backend()` returns None when there is no NVIDIA GPU: no metrics, no error, and at most one line
in daemon.log (only when a driver is present but NVML fails). The cheap check comes first: on Linux
without `/proc/driver/nvidia` pynvml is not even imported (importing it costs ~20 ms, too much for
`init()`, which records `gpu_inventory()` in the run's metadata).

Metric names are wandb-core's (docs/COMPAT.md §13.1), per device index i:
`gpu.i.gpu` (utilisation %), `gpu.i.memory` (memory-controller utilisation %), `gpu.i.memoryAllocated`
(% of memory in use), `gpu.i.memoryAllocatedBytes`, `gpu.i.temp` (°C), `gpu.i.powerWatts`,
`gpu.i.enforcedPowerLimitWatts`, `gpu.i.powerPercent` (power / enforced limit, %).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any, Protocol

NVML_TEMPERATURE_GPU = 0  # pynvml.NVML_TEMPERATURE_GPU; a literal so a fake module need not define it


class GpuBackend(Protocol):
    def count(self) -> int: ...

    def sample(self) -> dict[str, float]: ...

    def inventory(self) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def _text(v: Any) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v)


class NvmlBackend:
    """GpuBackend over a pynvml-like module (the real `pynvml`, or a fake in tests).

    A metric a device does not support (NVMLError_NotSupported, e.g. power on some boards) is never
    asked for again, so an unsupported query costs nothing per sample and logs nothing.
    """

    def __init__(self, nvml: Any) -> None:
        self.nvml = nvml
        nvml.nvmlInit()  # raises NVMLError when there is no driver/device: the caller decides
        self.handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(int(nvml.nvmlDeviceGetCount()))]
        self._unsupported: set[tuple[int, str]] = set()
        self.errors = 0  # failed queries other than "not supported"; the sampler may log them
        not_supported = getattr(nvml, "NVMLError_NotSupported", None)
        self._not_supported: type[BaseException] | None = (
            not_supported if isinstance(not_supported, type) else None
        )
        err = getattr(nvml, "NVMLError", Exception)
        self._error: type[BaseException] = err if isinstance(err, type) else Exception

    def count(self) -> int:
        return len(self.handles)

    def _query(self, i: int, what: str, fn: Callable[[], Any]) -> Any:
        if (i, what) in self._unsupported:
            return None
        try:
            return fn()
        except self._error as e:
            if self._not_supported is not None and isinstance(e, self._not_supported):
                self._unsupported.add((i, what))
            else:
                self.errors += 1
            return None

    def sample(self) -> dict[str, float]:
        n = self.nvml
        out: dict[str, float] = {}
        for i, h in enumerate(self.handles):
            p = f"gpu.{i}."
            util = self._query(i, "util", partial(n.nvmlDeviceGetUtilizationRates, h))
            if util is not None:
                out[p + "gpu"] = float(util.gpu)
                out[p + "memory"] = float(util.memory)
            mem = self._query(i, "mem", partial(n.nvmlDeviceGetMemoryInfo, h))
            if mem is not None and mem.total:
                out[p + "memoryAllocated"] = round(100.0 * mem.used / mem.total, 2)
                out[p + "memoryAllocatedBytes"] = float(mem.used)
            temp = self._query(i, "temp", partial(n.nvmlDeviceGetTemperature, h, NVML_TEMPERATURE_GPU))
            if temp is not None:
                out[p + "temp"] = float(temp)
            power = self._query(i, "power", partial(n.nvmlDeviceGetPowerUsage, h))  # milliwatts
            limit = self._query(i, "limit", partial(n.nvmlDeviceGetEnforcedPowerLimit, h))
            if power is not None:
                out[p + "powerWatts"] = round(power / 1000.0, 3)
            if limit:
                out[p + "enforcedPowerLimitWatts"] = round(limit / 1000.0, 3)
                if power is not None:
                    out[p + "powerPercent"] = round(100.0 * power / limit, 2)
        return out

    def inventory(self) -> list[dict[str, Any]]:
        """Static facts per device, for run metadata (wandb's `gpu_nvidia` entries)."""
        n = self.nvml
        out: list[dict[str, Any]] = []
        for i, h in enumerate(self.handles):
            d: dict[str, Any] = {}
            name = self._query(i, "name", partial(n.nvmlDeviceGetName, h))
            if name is not None:
                d["name"] = _text(name)
            mem = self._query(i, "mem", partial(n.nvmlDeviceGetMemoryInfo, h))
            if mem is not None:
                d["memoryTotal"] = int(mem.total)
            if hasattr(n, "nvmlDeviceGetUUID"):
                uuid = self._query(i, "uuid", partial(n.nvmlDeviceGetUUID, h))
                if uuid is not None:
                    d["uuid"] = _text(uuid)
            out.append(d)
        return out

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:
            pass


def driver_present() -> bool:
    """A cheap guess whether NVML could work; False means "don't even import pynvml"."""
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia")
    return sys.platform == "win32"  # macOS has no NVIDIA driver; Windows has no cheap check


def open_backend(log: Callable[[str], None] | None = None, nvml: Any = None) -> NvmlBackend | None:
    """The NVML backend, or None without a usable GPU. `log` gets at most one line, and only when a
    driver seems present but NVML fails (a machine without GPUs logs nothing)."""
    if nvml is None:
        if not driver_present():
            return None
        try:
            import pynvml
        except Exception as e:
            if log:
                log(f"GPU metrics off: cannot import pynvml ({e})")
            return None
        nvml = pynvml
    try:
        backend = NvmlBackend(nvml)
    except Exception as e:
        if log:
            log(f"GPU metrics off: NVML unavailable ({type(e).__name__}: {e})")
        return None
    if not backend.count():
        backend.close()
        return None
    return backend


@lru_cache(maxsize=1)
def _inventory() -> tuple[dict[str, Any], ...]:
    backend = open_backend()
    if backend is None:
        return ()
    try:
        return tuple(backend.inventory())
    finally:
        backend.close()


def gpu_inventory() -> list[dict[str, Any]]:
    """Per-GPU static facts (`name`, `memoryTotal` bytes, `uuid`) for run metadata; [] without NVML.
    Cached per process; costs a stat() on machines without an NVIDIA driver. Never raises."""
    try:
        return [dict(d) for d in _inventory()]
    except Exception:
        return []
