"""System metrics with psutil: host-wide values once per tick, then one process tree per live run.

Cheap by construction (the daemon's own CPU target is ≤ 1% of one core): host values are read once per
tick and shared by every run; `psutil.Process` objects are kept across ticks (CPU % is the difference
between two samples); the process table is scanned for children at most every `tree_refresh_s`
seconds, once for all runs; counters for `disk.in/out` and `network.sent/recv` keep a per-run baseline.

Row keys (wandb-core names, stored without wandb's `system.` prefix; docs/FORMAT.md "system.jsonl"):
  cpu                      CPU of the run's process tree, % of the CPUs it may use (100 = every core in
                           its affinity mask / cgroup quota busy), like wandb-core
  cpu_percent              CPU of the whole machine, % of all cores (runstore's name; wandb has none)
  proc.cpu.threads         threads in the process tree
  memory_percent           memory used on the machine, %
  proc.memory.rssMB        resident memory of the process tree, MiB
  proc.memory.percent      that RSS as % of the machine's memory
  proc.memory.availableMB  memory available on the machine, MiB
  disk./.usagePercent, disk./.usageGB   usage of the filesystem holding `/` (GiB used)
  disk.in, disk.out        MiB read / written by the machine's disks since the daemon first saw the run
  network.sent, network.recv   bytes sent / received by the machine since the daemon first saw the run
  gpu.<i>.*                see runstore/daemon/gpu.py
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from .gpu import GpuBackend

MIB = 1024.0 * 1024.0
GIB = MIB * 1024.0


def _r(x: float) -> float:
    return round(x, 2)  # two decimals: ~40% fewer bytes per row, and no metric here means more


@dataclass
class HostSnapshot:
    metrics: dict[str, float]
    total_memory: float
    disk_read: int | None = None
    disk_write: int | None = None
    net_sent: int | None = None
    net_recv: int | None = None


class HostSampler:
    """Machine-wide values, read once per tick."""

    def __init__(self, gpu: GpuBackend | None = None, disk_paths: tuple[str, ...] = ("/",)) -> None:
        self.gpu = gpu
        self.disk_paths = disk_paths
        psutil.cpu_percent(None)  # the first call only sets the reference point

    def sample(self) -> HostSnapshot:
        vm = psutil.virtual_memory()
        m: dict[str, float] = {
            "cpu_percent": _r(psutil.cpu_percent(None)),
            "memory_percent": _r(vm.percent),
            "proc.memory.availableMB": _r(vm.available / MIB),
        }
        for p in self.disk_paths:
            try:
                du = psutil.disk_usage(p)
            except OSError:
                continue
            m[f"disk.{p}.usagePercent"] = _r(du.percent)
            m[f"disk.{p}.usageGB"] = _r(du.used / GIB)
        snap = HostSnapshot(metrics=m, total_memory=float(vm.total))
        try:
            dio = psutil.disk_io_counters()
        except (OSError, RuntimeError):
            dio = None  # containers without /proc/diskstats
        if dio is not None:
            snap.disk_read, snap.disk_write = dio.read_bytes, dio.write_bytes
        try:
            nio = psutil.net_io_counters()
        except (OSError, RuntimeError):
            nio = None
        if nio is not None:
            snap.net_sent, snap.net_recv = nio.bytes_sent, nio.bytes_recv
        if self.gpu is not None:
            m.update(self.gpu.sample())
        return snap


def _ppid_map() -> dict[int, int]:
    fn = getattr(psutil, "_ppid_map", None)  # one pass over /proc; stable in psutil for a decade
    if fn is not None:
        try:
            return dict(fn())
        except Exception:
            pass
    out: dict[int, int] = {}
    for p in psutil.process_iter(["ppid"]):
        ppid = p.info.get("ppid")
        if ppid is not None:
            out[p.pid] = ppid
    return out


class ChildIndex:
    """parent pid -> child pids, rebuilt from one scan of the process table at most every `refresh_s`.

    A child started between scans is counted from the next scan on; that lag is the price of not reading
    every process's /proc entry every tick (a busy node has hundreds).
    """

    def __init__(self, refresh_s: float = 10.0) -> None:
        self.refresh_s = refresh_s
        self._children: dict[int, list[int]] = {}
        self._built = float("-inf")

    def descendants(self, pid: int, now: float) -> list[int]:
        if now - self._built >= self.refresh_s:
            self._built = now
            children: dict[int, list[int]] = {}
            for child, parent in _ppid_map().items():
                children.setdefault(parent, []).append(child)
            self._children = children
        out: list[int] = []
        todo = [pid]
        while todo:
            for c in self._children.get(todo.pop(), ()):
                if c != pid and c not in out:
                    out.append(c)
                    todo.append(c)
        return out


@dataclass
class TreeSample:
    cpu: float  # percent of one core, summed over the tree
    threads: int
    rss: int


@dataclass
class ProcessTree:
    """The training process and its descendants, with psutil objects kept across ticks."""

    root: int
    procs: dict[int, psutil.Process] = field(default_factory=dict)

    def sample(self, index: ChildIndex, now: float) -> TreeSample | None:
        wanted = [self.root, *index.descendants(self.root, now)]
        for pid in list(self.procs):
            if pid not in wanted:
                del self.procs[pid]
        cpu, threads, rss = 0.0, 0, 0
        for pid in wanted:
            p = self.procs.get(pid)
            if p is None:
                try:
                    p = self.procs[pid] = psutil.Process(pid)
                except psutil.Error:
                    continue
            try:
                with p.oneshot():
                    cpu += p.cpu_percent(None)  # 0.0 on the first call for a process: no reference yet
                    threads += p.num_threads()
                    rss += p.memory_info().rss
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                self.procs.pop(pid, None)
                if pid == self.root:
                    return None
            except psutil.Error:
                continue  # AccessDenied for a child running as another user: count what we can
        return TreeSample(cpu=cpu, threads=threads, rss=rss)


def _cgroup_quota(pid: int) -> float | None:
    """CPUs granted by the cgroup quota of `pid` (v2 `cpu.max` or v1 `cpu.cfs_quota_us`), or None."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    best: float | None = None
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        files: tuple[str, ...]
        if controllers == "":
            base, files = Path("/sys/fs/cgroup"), ("cpu.max",)
        elif "cpu" in controllers.split(","):
            base, files = Path("/sys/fs/cgroup") / controllers, ("cpu.cfs_quota_us", "cpu.cfs_period_us")
            if not base.is_dir():
                base = Path("/sys/fs/cgroup/cpu")
        else:
            continue
        d = base / rel.lstrip("/")
        while True:  # a quota on any ancestor limits the process too
            try:
                if len(files) == 1:
                    quota_s, period_s = (d / files[0]).read_text().split()[:2]
                else:
                    quota_s, period_s = ((d / f).read_text().strip() for f in files)
                if quota_s not in ("max", "-1") and float(period_s) > 0:
                    q = float(quota_s) / float(period_s)
                    best = q if best is None else min(best, q)
            except (OSError, ValueError):
                pass
            if d == base or d.parent == d:
                break
            d = d.parent
    return best


def effective_cpus(pid: int) -> float:
    """How many CPUs `pid` may use: its affinity mask, capped by a cgroup quota."""
    try:
        n = float(len(psutil.Process(pid).cpu_affinity() or ()) or (os.cpu_count() or 1))
    except (psutil.Error, AttributeError, OSError):
        n = float(os.cpu_count() or 1)  # macOS has no cpu_affinity
    q = _cgroup_quota(pid)
    return max(0.01, min(n, q) if q else n)


class RunSampler:
    """One live run: its process tree, the counters' baselines and its sample index."""

    def __init__(self, pid: int, first: HostSnapshot, next_step: int = 0) -> None:
        self.tree = ProcessTree(pid)
        self.cpus = effective_cpus(pid)
        self.base = first
        self.step = next_step

    def row(
        self, now: float, host: HostSnapshot, index: ChildIndex, mono: float, runtime: float | None
    ) -> dict[str, Any] | None:
        """One system.jsonl row, or None when the process is gone."""
        t = self.tree.sample(index, mono)
        if t is None:
            return None
        row: dict[str, Any] = {"_step": self.step, "_timestamp": round(now, 3)}
        if runtime is not None:
            row["_runtime"] = round(runtime, 3)
        row["cpu"] = _r(t.cpu / self.cpus)
        row["proc.cpu.threads"] = t.threads
        row["proc.memory.rssMB"] = _r(t.rss / MIB)
        if host.total_memory:
            row["proc.memory.percent"] = _r(100.0 * t.rss / host.total_memory)
        row.update(host.metrics)
        b = self.base
        if host.disk_read is not None and b.disk_read is not None and b.disk_write is not None:
            row["disk.in"] = _r(max(0, host.disk_read - b.disk_read) / MIB)
            row["disk.out"] = _r(max(0, (host.disk_write or 0) - b.disk_write) / MIB)
        if host.net_sent is not None and b.net_sent is not None and b.net_recv is not None:
            row["network.sent"] = max(0, host.net_sent - b.net_sent)
            row["network.recv"] = max(0, (host.net_recv or 0) - b.net_recv)
        self.step += 1
        return row
