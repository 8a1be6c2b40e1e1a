"""GPU metrics through NVML. There is no GPU here, so the NVML backend is tested against a fake pynvml
module (the one place tests may fake something: STYLE.md item 14)."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from runstore.daemon import gpu
from runstore.daemon.gpu import NvmlBackend, gpu_inventory, open_backend


class NVMLError(Exception):
    pass


class NVMLError_NotSupported(NVMLError):  # noqa: N801 - pynvml's name
    pass


class FakeNvml:
    """Just enough of pynvml: two devices; device 1 cannot report power (like some boards)."""

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported

    def __init__(self, count: int = 2, init_error: Exception | None = None) -> None:
        self.n = count
        self.init_error = init_error
        self.calls: dict[str, int] = {}
        self.shutdown = False

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def nvmlInit(self) -> None:  # noqa: N802
        if self.init_error is not None:
            raise self.init_error

    def nvmlShutdown(self) -> None:  # noqa: N802
        self.shutdown = True

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return self.n

    def nvmlDeviceGetHandleByIndex(self, i: int) -> Any:  # noqa: N802
        return ("handle", i)

    def nvmlDeviceGetUtilizationRates(self, h: Any) -> Any:  # noqa: N802
        return SimpleNamespace(gpu=50 + h[1], memory=20 + h[1])

    def nvmlDeviceGetMemoryInfo(self, h: Any) -> Any:  # noqa: N802
        return SimpleNamespace(total=16 * 2**30, used=4 * 2**30, free=12 * 2**30)

    def nvmlDeviceGetTemperature(self, h: Any, sensor: int) -> int:  # noqa: N802
        assert sensor == 0  # NVML_TEMPERATURE_GPU
        return 60 + h[1]

    def nvmlDeviceGetPowerUsage(self, h: Any) -> int:  # noqa: N802
        self._count("power")
        if h[1] == 1:
            raise NVMLError_NotSupported("Not Supported")
        return 150_000  # milliwatts

    def nvmlDeviceGetEnforcedPowerLimit(self, h: Any) -> int:  # noqa: N802
        return 300_000

    def nvmlDeviceGetName(self, h: Any) -> bytes:  # noqa: N802
        return b"NVIDIA A100-SXM4-40GB"  # older pynvml returns bytes

    def nvmlDeviceGetUUID(self, h: Any) -> str:  # noqa: N802
        return f"GPU-{h[1]:04d}"


def test_nvml_sample_names_and_units() -> None:
    fake = FakeNvml()
    b = NvmlBackend(fake)
    assert b.count() == 2
    s = b.sample()
    assert s["gpu.0.gpu"] == 50.0 and s["gpu.0.memory"] == 20.0
    assert s["gpu.0.memoryAllocated"] == 25.0 and s["gpu.0.memoryAllocatedBytes"] == 4 * 2**30
    assert s["gpu.0.temp"] == 60.0
    assert s["gpu.0.powerWatts"] == 150.0 and s["gpu.0.enforcedPowerLimitWatts"] == 300.0
    assert s["gpu.0.powerPercent"] == 50.0
    # Device 1 has no power reading: its other metrics are there, the power ones are simply absent.
    assert s["gpu.1.gpu"] == 51.0 and s["gpu.1.temp"] == 61.0
    assert "gpu.1.powerWatts" not in s and "gpu.1.powerPercent" not in s
    assert s["gpu.1.enforcedPowerLimitWatts"] == 300.0
    assert b.errors == 0  # "not supported" is not an error


def test_unsupported_metric_is_not_queried_again() -> None:
    fake = FakeNvml()
    b = NvmlBackend(fake)
    for _ in range(5):
        b.sample()
    # device 0 every time, device 1 only once: a failing query costs nothing per sample afterwards
    assert fake.calls["power"] == 5 + 1


def test_other_nvml_errors_are_counted_not_raised() -> None:
    fake = FakeNvml(count=1)

    def broken(h: Any) -> Any:
        raise NVMLError("GPU is lost")

    fake.nvmlDeviceGetUtilizationRates = broken  # type: ignore[method-assign]
    b = NvmlBackend(fake)
    s = b.sample()
    assert "gpu.0.gpu" not in s and s["gpu.0.temp"] == 60.0
    assert b.errors == 1


def test_inventory() -> None:
    b = NvmlBackend(FakeNvml())
    assert b.inventory() == [
        {"name": "NVIDIA A100-SXM4-40GB", "memoryTotal": 16 * 2**30, "uuid": "GPU-0000"},
        {"name": "NVIDIA A100-SXM4-40GB", "memoryTotal": 16 * 2**30, "uuid": "GPU-0001"},
    ]


def test_open_backend_with_failing_init_logs_one_line() -> None:
    lines: list[str] = []
    assert open_backend(lines.append, nvml=FakeNvml(init_error=NVMLError("Driver Not Loaded"))) is None
    assert len(lines) == 1 and "Driver Not Loaded" in lines[0]


def test_open_backend_without_devices_is_none_and_quiet() -> None:
    lines: list[str] = []
    fake = FakeNvml(count=0)
    assert open_backend(lines.append, nvml=fake) is None
    assert lines == [] and fake.shutdown


def test_open_backend_with_fake_gpu() -> None:
    b = open_backend(nvml=FakeNvml())
    assert b is not None and b.count() == 2


def test_no_gpu_here_means_no_backend_no_log_and_cheap_inventory() -> None:
    if gpu.driver_present():
        pytest.skip("this machine has an NVIDIA driver")
    lines: list[str] = []
    assert open_backend(lines.append) is None
    assert lines == []  # no GPU is not worth a warning
    gpu._inventory.cache_clear()
    assert gpu_inventory() == []
    # A stat(), not an import of pynvml (its cost is measured by `make bench`). Checked in a fresh
    # interpreter, where nothing else has imported pynvml yet; the last line shows it is importable there,
    # so its absence means gpu_inventory() did not import it.
    code = (
        "import sys\n"
        "from runstore.daemon.gpu import gpu_inventory, open_backend\n"
        "before = 'pynvml' in sys.modules\n"
        "inventory, backend = gpu_inventory(), open_backend()\n"
        "after = 'pynvml' in sys.modules\n"
        "import pynvml\n"
        "print(before, inventory, backend, after, 'pynvml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "[]", "None", "False", "True"]


def test_sampler_includes_gpu_metrics_from_backend() -> None:
    from runstore.daemon.sampler import HostSampler

    snap = HostSampler(gpu=NvmlBackend(FakeNvml(count=1))).sample()
    assert snap.metrics["gpu.0.gpu"] == 50.0 and "cpu_percent" in snap.metrics
