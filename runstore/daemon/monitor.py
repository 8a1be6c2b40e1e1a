"""The task that watches live runs: sample each one whose process is alive, mark dead ones crashed.

Per tick and live run it costs: a /proc read (is the writer alive?), a stat of the run's event log (and
a fold of any new bytes, to notice an exit record: store.runs.RunFollower), the process-tree sample, one
append to its system metrics; once a minute, a stat of its history (has it grown enough to extend the
derived caches on the builder's thread?). A run whose directory is broken is retried with exponential
backoff and logged at a limited rate.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..store import jsonl
from ..store.layout import RunRef
from ..store.live import BadMarker, Marker, MarkerScanner
from ..store.liveness import is_alive
from ..store.runs import RunFollower, mark_if_crashed
from ..store.store import Store
from .gpu import GpuBackend
from .log import Backoff, DaemonLog
from .sampler import MIB, ChildIndex, HostSampler, HostSnapshot, RunSampler

BAD_MARKER_GRACE_S = 60.0  # an unreadable marker this old is removed (writers replace markers atomically)
# A history smaller than this parses faster than its column cache loads: no cache is worth building
CACHE_MIN_BYTES = 2 << 20
# A live run's caches are extended at most this often, and only after its history grew this much: a
# dashboard charting it then extends a pyramid by at most a few megabytes of rows, not by all of them.
LIVE_BUILD_S = 60.0
LIVE_BUILD_BYTES = 2 << 20


class CacheBuilder:
    """Builds the history column cache (store/history.py `read_columns`) and chart pyramid
    (store/pyramid.py) of runs that ended, and extends them for live runs whose history grew, on a
    thread of its own, so the first `Api().run(...).history()` of a finished 1M-step run reads columns
    instead of parsing a million lines, and the server's first chart of it reads buckets instead of
    building them. Derived data: any failure (no numpy in this install, a read-only store, a history too
    wide) just leaves no cache, and is one log line (rate-limited for a live run)."""

    def __init__(self, log: DaemonLog) -> None:
        import queue
        import threading

        self.log = log
        self._queue: queue.Queue[tuple[RunRef, bool] | None] = queue.Queue()
        self._seen: set[str] = set()
        self._thread = threading.Thread(target=self._work, name="runstore-cache-builder", daemon=True)
        self._thread.start()

    def ended(self, ref: RunRef) -> None:
        if ref.dir not in self._seen:
            self._seen.add(ref.dir)
            self._queue.put((ref, False))

    def grew(self, ref: RunRef) -> None:
        """A live run's history grew (LIVE_BUILD_BYTES): extend its caches (unless it is queued already)."""
        if ref.dir not in self._seen:
            self._seen.add(ref.dir)
            self._queue.put((ref, True))

    def close(self) -> None:
        self._queue.put(None)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            ref, live = job
            # Dropped before building, not after: a run that ends while its live build runs is queued
            # again, so the rows it wrote meanwhile are cached too (and a resumed run ending again).
            self._seen.discard(ref.dir)
            for what, build in (("column cache", self.build), ("chart pyramid", self.build_pyramid)):
                try:
                    if not build(ref):
                        break  # no history worth caching
                except Exception as e:  # derived: never the daemon's problem
                    msg = f"no {what} ({type(e).__name__}: {e})"
                    if live:  # retried as the run grows: logged at a limited rate
                        self.log.error(f"run {ref.project}/{ref.id}", msg)
                    else:
                        self.log.info(f"run {ref.project}/{ref.id}: {msg}")
                    break

    @staticmethod
    def build(ref: RunRef) -> bool:
        """Build (or extend) the run's column cache; whether there was a history worth caching."""
        from ..store.history import read_columns
        from ..store.runs import load_run

        st = load_run(ref)
        try:
            if os.stat(st.history_path).st_size < CACHE_MIN_BYTES:
                return False
        except FileNotFoundError:
            return False
        try:
            import numpy  # noqa: F401 - the cache is numpy columns: an install without it has none
        except ImportError:
            return False
        read_columns(st.history_path, ref.history_cache(st.history_name))
        return True

    @staticmethod
    def build_pyramid(ref: RunRef) -> bool:
        """Build (or extend) the run's chart pyramid file, after `build` (whose column cache it reads);
        whether there was a history."""
        from ..store import pyramid
        from ..store.history import read_columns
        from ..store.runs import load_run

        st = load_run(ref)
        path, name = st.history_path, st.history_name
        return pyramid.build_file(
            path, ref.history_pyramid(name), lambda: read_columns(path, ref.history_cache(name))
        )


@dataclass
class Tracked:
    marker: Marker
    ref: RunRef
    backoff: Backoff
    follower: RunFollower
    sampler: RunSampler | None = None
    retry_at: float = 0.0
    # run.save(policy="live") files: source path -> (size, mtime_ns) of the copy last made by anyone
    copied: dict[str, Any] = field(default_factory=dict)
    grown_at: float = -LIVE_BUILD_S  # when the history's growth was last looked at (monotonic)
    grown_size: int = 0  # the history's size when its caches were last queued for building

    @property
    def segment(self) -> tuple[float | None, float]:
        """(start, runtime before it) of the run's current segment."""
        segs = self.follower.state.segments
        return (segs[-1].start, segs[-1].runtime_offset) if segs else (None, 0.0)


class RunDirMissing(OSError):
    pass


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


class LiveRunsTask:
    """A daemon `Task` (see loop.py): runs every `interval` seconds, never wants file-system events."""

    name = "live-runs"
    wants_events = False

    def __init__(self, store: Store, interval: float, log: DaemonLog, gpu: GpuBackend | None = None) -> None:
        self.interval = interval
        self.log = log
        self.gpu = gpu
        self.scanner = MarkerScanner(store)
        self.host = HostSampler(gpu)
        self.index = ChildIndex(refresh_s=max(10.0, 5 * interval))
        self.tracked: dict[str, Tracked] = {}
        self.live_local = 0  # markers of this host whose writer is alive, as of the last tick
        self._due = 0.0
        self._gpu_errors = 0
        self.caches = CacheBuilder(log)

    # -- Task protocol ---------------------------------------------------------------------------
    def due(self) -> float:
        return self._due

    def busy(self) -> bool:
        return self.live_local > 0

    def on_event(self, path: str, now: float) -> None:
        pass

    def close(self) -> None:
        self.tracked.clear()
        self.caches.close()

    def tick(self, now: float) -> None:
        # Fixed cadence (no drift), but never a burst of catch-up ticks after a stall.
        self._due = (
            max(self._due + self.interval, now + self.interval / 2) if self._due else now + self.interval
        )
        wall = time.time()
        markers = self.scanner.scan()
        for name in list(self.tracked):
            if name not in markers:  # its run finished and removed its marker
                self.caches.ended(self.tracked.pop(name).ref)
        host: list[HostSnapshot] = []  # sampled on first need, once for all runs
        live = 0
        for name, m in markers.items():
            if isinstance(m, BadMarker):
                self._bad_marker(name, m, wall)
                continue
            tr = self.tracked.get(name)
            if tr is None or tr.marker.sig != m.sig:
                ref = RunRef(m.project, m.id, m.dir)
                tr = self.tracked[name] = Tracked(
                    marker=m, ref=ref, backoff=Backoff(self.interval), follower=RunFollower(ref)
                )
            alive = is_alive(m.pid, m.pid_start, m.host)
            if alive:
                live += 1
            if alive is None or now < tr.retry_at:
                continue  # another host's run (its own daemon samples it), or backing off
            key = f"run {m.project}/{m.id}"
            try:
                self._handle(tr, bool(alive), host, wall)
            except Exception as e:
                delay = tr.backoff.fail()
                tr.retry_at = now + delay
                self.log.error(key, f"{type(e).__name__}: {e} (next try in {delay:.3g}s)", now)
            else:
                if tr.backoff.failures:
                    tr.backoff.reset()
                    self.log.ok(key, now)
        self.live_local = live
        self._check_gpu(now)

    # -- one run ---------------------------------------------------------------------------------
    def _handle(self, tr: Tracked, alive: bool, host: list[HostSnapshot], wall: float) -> None:
        m = tr.marker
        try:
            tr.follower.refresh()
        except FileNotFoundError:
            if not alive:
                self._drop(tr, "its process exited and its directory is gone")
                return
            raise RunDirMissing(f"no run in {m.dir}") from None
        if tr.follower.ended:
            self._drop(tr, None)  # finished (finish() normally removes the marker itself)
            return
        if not alive:
            if mark_if_crashed(tr.ref):
                self.log.info(
                    f"run {m.project}/{m.id} marked crashed: process {m.pid} died without an exit record"
                )
            self._drop(tr, None)
            return
        if tr.follower.state.saves:
            self._copy_live_files(tr)
        if not host:
            host.append(self.host.sample())
        snap = host[0]
        if tr.sampler is None:
            tr.sampler = self._new_sampler(tr, snap)
        seg_start, runtime_offset = tr.segment
        runtime = None if seg_start is None else runtime_offset + wall - seg_start
        row = tr.sampler.row(wall, snap, self.index, time.monotonic(), runtime)
        if row is not None:  # None: the process ended since the liveness check; next tick decides
            jsonl.append(tr.ref.system_log, row)
        self._maybe_grew(tr, time.monotonic())

    def _maybe_grew(self, tr: Tracked, now: float) -> None:
        """Queue a live run's caches for extending (on the builder's thread, never here) at most once a
        LIVE_BUILD_S, when its history grew LIVE_BUILD_BYTES since they were last queued."""
        if now - tr.grown_at < LIVE_BUILD_S:
            return
        tr.grown_at = now
        try:
            size = os.stat(tr.follower.state.history_path).st_size
        except OSError:
            return
        if size - tr.grown_size >= LIVE_BUILD_BYTES:
            tr.grown_size = size
            self.caches.grew(tr.ref)

    def _copy_live_files(self, tr: Tracked) -> None:
        """Re-copy `save(policy="live")` files that changed since their last copy (at most once a tick)."""
        for src, rec in tr.follower.state.saves.items():
            if rec.get("policy") != "live":
                continue
            try:
                st = os.stat(src)
            except OSError:
                continue  # gone or unreadable for now: the last copy stays
            sig = [st.st_size, st.st_mtime_ns]
            if sig == tr.copied.get(src, rec.get("sig")):
                continue
            dest = tr.ref.files_path(rec["path"])
            if dest is None:
                continue  # a hand-edited record pointing outside the run: never write there
            try:
                # The daemon may run as another user (root) than the run's: it copies only what the
                # run's owner could read themselves, never a file a forged `save` record names.
                jsonl.copy_for_owner(src, dest, tr.ref.path)
            except (jsonl.NotOwner, jsonl.NotRegularFile) as e:
                self.log.error(f"run {tr.ref.project}/{tr.ref.id}", f"save of {src} refused: {e.strerror}")
            tr.copied[src] = sig

    def _new_sampler(self, tr: Tracked, snap: HostSnapshot) -> RunSampler:
        """A sampler that continues what an earlier daemon wrote for this segment (sample index, and the
        since-start counters), so a restarted daemon does not start the run's counts over."""
        last = jsonl.last_row(tr.ref.system_log)
        step = last["_step"] + 1 if last else 0
        base = HostSnapshot(
            metrics={},
            total_memory=snap.total_memory,
            disk_read=snap.disk_read,
            disk_write=snap.disk_write,
            net_sent=snap.net_sent,
            net_recv=snap.net_recv,
        )
        ts = _num(last.get("_timestamp")) if last else None
        seg_start, _ = tr.segment
        if last and ts is not None and seg_start is not None and ts >= seg_start:
            for attr, key, scale in (
                ("disk_read", "disk.in", MIB),
                ("disk_write", "disk.out", MIB),
                ("net_sent", "network.sent", 1.0),
                ("net_recv", "network.recv", 1.0),
            ):
                cur, done = getattr(base, attr), _num(last.get(key))
                if cur is not None and done is not None:
                    setattr(base, attr, cur - int(done * scale))
        return RunSampler(tr.marker.pid, base, next_step=step)

    def _drop(self, tr: Tracked, why: str | None) -> None:
        m = tr.marker
        self.scanner.remove(m.name, m.sig)
        self.tracked.pop(m.name, None)
        self.caches.ended(tr.ref)
        if why:
            self.log.info(f"run {m.project}/{m.id}: live marker removed ({why})")

    def _bad_marker(self, name: str, err: BadMarker, wall: float) -> None:
        key = f"marker {name}"
        if wall - err.mtime >= BAD_MARKER_GRACE_S:
            self.scanner.remove(name, err.sig)
            self.log.forget(key)
            self.log.info(f"removed unreadable live marker {name}: {err}")
        else:
            self.log.error(key, f"unreadable live marker: {err}")

    def _check_gpu(self, now: float) -> None:
        errors = getattr(self.gpu, "errors", 0)
        if errors > self._gpu_errors:
            self.log.error("gpu", f"{errors - self._gpu_errors} NVML queries failed", now)
        elif self._gpu_errors and errors == self._gpu_errors:
            self.log.ok("gpu", now)
        self._gpu_errors = errors
