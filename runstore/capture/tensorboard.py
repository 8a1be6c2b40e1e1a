"""TensorBoard's event files read as rows of loggable values, and the patch of TensorBoard's writers
behind `init(sync_tensorboard=True)` and `runstore.integration.tensorboard.patch()` (docs/COMPAT.md §18).

Reading. An event file is a sequence of TFRecords: an 8-byte length, the masked CRC32C of the length, an
`Event` protobuf, the masked CRC32C of the event. `EventFile` reads one by byte offset, so a file a writer
is still appending to is read piece by piece: a record counts once all its bytes are on disk, and the
offset moves past exactly the records handed out (never one twice, never one skipped). A damaged record is
waited for while a run is live (the bytes may still be arriving) and skipped with one warning at the end.

Rows, as wandb's TensorBoard integration makes them (wandb-core's `tensorboard` package): consecutive
events of one file with the same step form one row (a tag seen again within the step starts a new row,
so no value is overwritten); the row holds the values under their tags, the step under `global_step`,
and the event's wall time as `_timestamp`. A file in a sub-directory of the root log directory has that
sub-directory (with `/`) as a prefix of every key, `global_step` included.

Live capture. The writers' `EventFileWriter` (TF2: `create_summary_file_writer`) is replaced by a
subclass that registers its log directory; the files there are read while the writer writes (at most
once a second, in the writer's thread, so rows are logged by the thread that logs) and completely when
the run finishes: its `finish()` first flushes the writers, then reads every file to its end. This module
sits below the SDK: it is handed the SDK's way to follow the current run and the media types it needs.
"""

from __future__ import annotations

import contextlib
import heapq
import importlib.abc
import importlib.machinery
import itertools
import os
import re
import socket
import struct
import sys
import tempfile
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base import term

Warn = Callable[[str, str | None], None]

HEADER = 12  # uint64 length + uint32 masked CRC of it
FOOTER = 4  # uint32 masked CRC of the data
# Pure-Python CRC32C costs ~0.2 s per MiB: bigger records (large images) are checked by their header CRC
# and by parsing, not by a CRC over every byte.
CRC_CHECKED = 1 << 20
MAX_RECORD = 256 << 20  # a length beyond this is taken for damage, not for data
RESYNC_WINDOW = 16 << 20
ROOT_WAIT = 10.0  # wandb waits this long for a second log directory before a lone one gets no prefix
DRAIN_INTERVAL = 1.0
SETTLE_TIMEOUT = 10.0  # at finish, for a writer's queue to reach its file
MAX_BINS = 512  # runstore's (and wandb's) Histogram.MAX_LENGTH: finer histograms are re-binned
CAPTURED_PLUGINS = ("scalars", "histograms", "images", "text")
STEP_KEY = "global_step"


class Unavailable(ImportError):
    """The `tensorboard` package, which reads event files, is not installed."""


def require_tensorboard() -> None:
    try:
        import tensorboard.compat.proto.event_pb2  # noqa: F401
    except ImportError:
        raise Unavailable(
            "reading TensorBoard event files needs the tensorboard package: pip install 'runstore[tensorboard]'"
        ) from None


def is_event_file(name: str) -> bool:
    """wandb's rule: `tfevents` is one of the dot-separated parts of the name (TF's profiler and
    SageMaker leave look-alikes that are not event files)."""
    return "tfevents" in name.split(".") and not name.endswith((".profile-empty", ".sagemaker-uploaded"))


# -- records ---------------------------------------------------------------------------------------
_CRC_TABLE: list[int] = []


def masked_crc32c(data: bytes) -> int:
    if not _CRC_TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _CRC_TABLE.append(c)
    table = _CRC_TABLE
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def _header_ok(head: bytes) -> bool:
    return masked_crc32c(head[:8]) == struct.unpack("<I", head[8:12])[0]


class EventFile:
    """One event file, read by byte offset: each `records()` call hands out the records completed since."""

    def __init__(self, path: str, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self.dead = False  # rewritten under us: reading on could duplicate or misread records

    def size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def records(self, final: bool, warn: Warn) -> Iterator[bytes]:
        """The next records; `offset` is past each one when it is handed out. `final`: no more bytes
        will come, so damage is skipped (with a warning) rather than waited for."""
        if self.dead:
            return
        try:
            f = open(self.path, "rb")
        except OSError as e:
            if final:
                warn(
                    f"cannot read TensorBoard event file {self.path}: {e.strerror or e}",
                    f"tb-open:{self.path}",
                )
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            if size < self.offset:
                self.dead = True
                warn(
                    f"TensorBoard event file {self.path} is shorter than the {self.offset} bytes already "
                    "read (rewritten?); it is not read further",
                    f"tb-shrunk:{self.path}",
                )
                return
            f.seek(self.offset)
            while True:
                pos = self.offset
                head = f.read(HEADER)
                if len(head) < HEADER:
                    self._incomplete(final, len(head), warn)
                    return
                if not _header_ok(head):
                    if not final or not self._resync(f, pos, "its length fails its checksum", warn):
                        return
                    continue
                (length,) = struct.unpack("<Q", head[:8])
                if length > MAX_RECORD:
                    if not final or not self._resync(f, pos, f"it claims {length} bytes", warn):
                        return
                    continue
                data = f.read(length)
                crc = f.read(FOOTER)
                if len(data) < length or len(crc) < FOOTER:
                    self._incomplete(final, HEADER + len(data) + len(crc), warn)
                    return
                if length <= CRC_CHECKED and masked_crc32c(data) != struct.unpack("<I", crc)[0]:
                    if not final or not self._resync(f, pos, "its data fails its checksum", warn):
                        return
                    continue
                self.offset = pos + HEADER + length + FOOTER
                yield data

    def _incomplete(self, final: bool, n: int, warn: Warn) -> None:
        # The offset stays before the partial record: a later read (or import) takes it once complete.
        if final and n:
            warn(
                f"TensorBoard event file {self.path} ends with an incomplete record ({n} bytes at byte "
                f"{self.offset}; the writer was interrupted or is still writing); it is not read",
                f"tb-partial:{self.path}:{self.offset}",
            )

    def _resync(self, f: Any, pos: int, why: str, warn: Warn) -> bool:
        """Skip the damaged record at `pos` to the next intact one; False (at the end) if none follows."""
        start = pos + 1
        while True:
            f.seek(start)
            window = f.read(RESYNC_WINDOW)
            if len(window) < HEADER + FOOTER:
                end = start + len(window)
                warn(
                    f"TensorBoard event file {self.path} has a damaged record at byte {pos} ({why}) and no "
                    f"intact record after it; its last {end - pos} bytes are ignored",
                    f"tb-damaged:{self.path}:{pos}",
                )
                self.offset = end
                return False
            # A record of less than 4 GiB has four zero bytes at the top of its length: look there only.
            # Headers are remembered, so a long run of zeros costs one checksum, not one per byte.
            seen: dict[bytes, bool] = {}
            for m in re.finditer(b"(?=\x00\x00\x00\x00)", window):
                i = m.start() - 4
                if i < 0 or i + HEADER > len(window):
                    continue
                head = window[i : i + HEADER]
                ok = seen.get(head)
                if ok is None:
                    ok = seen[head] = _header_ok(head)
                if not ok:
                    continue
                (length,) = struct.unpack("<Q", window[i : i + 8])
                f.seek(start + i + HEADER)
                data = f.read(length)
                crc = f.read(FOOTER)
                if len(data) < length or len(crc) < FOOTER:
                    continue
                if length <= CRC_CHECKED and masked_crc32c(data) != struct.unpack("<I", crc)[0]:
                    continue
                self.offset = start + i
                warn(
                    f"TensorBoard event file {self.path} has a damaged record at byte {pos} ({why}); "
                    f"skipped {self.offset - pos} bytes to the next intact record",
                    f"tb-damaged:{self.path}:{pos}",
                )
                f.seek(self.offset)
                return True
            if len(window) < RESYNC_WINDOW:
                start += len(window)
            else:
                start += len(window) - HEADER  # a header may straddle two windows


# -- values ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TBHistogram:
    values: list[float]
    bins: list[float]


@dataclass(frozen=True)
class TBImage:
    data: bytes
    format: str
    width: int
    height: int


@dataclass
class Row:
    values: dict[str, Any]
    step: int
    wall: float


def _np() -> Any:
    import numpy

    return numpy


def _make_ndarray(tensor: Any) -> Any:
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(tensor)


def _f32(x: float) -> float:
    """A float32 as the shortest decimal that reads back as it (0.1 stays 0.1, as wandb logs it)."""
    np = _np()
    return float(str(np.float32(x)))


def _scalar(arr: Any) -> Any:
    if arr.size != 1:
        raise ValueError(f"a scalar summary holds {arr.size} values")
    x = arr.reshape(()).item()
    if arr.dtype.kind == "f":
        return _f32(x) if arr.dtype.itemsize == 4 else float(x)
    if arr.dtype.kind in "iub":
        return x
    raise ValueError(f"a scalar summary holds {arr.dtype} data")


def rebin(
    bins: Sequence[float], values: Sequence[float], n: int = MAX_BINS
) -> tuple[list[float], list[float]]:
    """`values` over `bins` (len(values) + 1 edges) regrouped into `n` bins: new edges at evenly spaced
    positions of the old edge list, each old bin's weight shared by overlap (the total is kept)."""
    old = len(values)
    if old <= n:
        return list(bins), list(values)
    edges = []
    for i in range(n + 1):
        q, r = divmod(i * old, n)
        edges.append(float(bins[q]) if r == 0 else bins[q] + (bins[q + 1] - bins[q]) * r / n)
    out = [0.0] * n
    width = old / n  # of a new bin, counted in old bins
    for k, w in enumerate(values):
        lo, hi = float(k), float(k + 1)
        j = min(int(lo / width), n - 1)
        while lo < hi and j < n:
            top = min(hi, (j + 1) * width) if j < n - 1 else hi
            if top > lo:
                out[j] += w * (top - lo)
                lo = top
            j += 1
    return edges, out


def _histogram_tensor(arr: Any) -> TBHistogram | None:
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"a histogram tensor has shape {arr.shape}, not (bins, 3)")
    if arr.shape[0] == 0:
        return None  # a histogram of no data
    a = arr.astype(float)
    bins = [*a[:, 0].tolist(), float(a[-1, 1])]
    bins, values = rebin(bins, a[:, 2].tolist())
    return TBHistogram(values, bins)


def _histogram_proto(h: Any) -> TBHistogram:
    limits, counts = list(h.bucket_limit), list(h.bucket)
    if not limits or len(limits) != len(counts):
        raise ValueError(f"a histogram has {len(limits)} bucket limits for {len(counts)} buckets")
    # TensorBoard's first bucket is (-inf, limits[0]]; writers leave it empty, or it starts at `min`
    if counts[0] == 0:
        bins, values = limits, counts[1:]
    elif h.min < limits[0]:
        bins, values = [h.min, *limits], counts
    else:
        raise ValueError("a histogram's first bucket has no left edge")
    bins, values = rebin(bins, values)
    return TBHistogram(values, bins)


def _image(data: bytes, width: Any, height: Any) -> TBImage:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        fmt = "png"
    elif data.startswith((b"GIF87a", b"GIF89a")):
        fmt = "gif"
    elif data.startswith(b"\xff\xd8\xff"):
        fmt = "jpg"
    else:
        raise ValueError("an image is not PNG, GIF or JPEG data")
    return TBImage(bytes(data), fmt, int(width), int(height))


def _text(arr: Any) -> Any:
    if arr.dtype.kind not in "OSU":
        raise ValueError(f"a text summary holds {arr.dtype} data")

    def dec(x: Any) -> Any:
        if isinstance(x, list):
            return [dec(y) for y in x]
        return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)

    return dec(arr.reshape(()).item()) if arr.size == 1 else dec(arr.tolist())


class FileStream:
    """The rows of one event file (under `namespace`), read incrementally from `offset`."""

    def __init__(
        self, path: str, namespace: str, offset: int = 0, plugins: dict[str, str] | None = None
    ) -> None:
        self.file = EventFile(path, offset)
        self.namespace = namespace
        # A writer may store a tag's plugin (scalars, images, …) only with its first value: remembered.
        self.plugins: dict[str, str] = dict(plugins or {})
        self.skipped: set[str] = set()  # plugins whose data is not captured (hparams, pr_curves, …)
        self.step_key = f"{namespace}/{STEP_KEY}" if namespace else STEP_KEY
        self._pending: Row | None = None

    @property
    def path(self) -> str:
        return self.file.path

    def rows(self, final: bool, warn: Warn) -> Iterator[Row]:
        """The rows completed since the last call. The last row stays pending until a later step shows it
        is complete, or `final`."""
        from google.protobuf.message import DecodeError
        from tensorboard.compat.proto import event_pb2

        for data in self.file.records(final, warn):
            try:
                ev = event_pb2.Event.FromString(data)
            except DecodeError:
                warn(
                    f"TensorBoard event file {self.path}: a record is not an event (at byte "
                    f"{self.file.offset - len(data) - HEADER - FOOTER}); skipped",
                    f"tb-decode:{self.path}",
                )
                continue
            if not ev.HasField("summary"):
                continue
            values = self._convert(ev, warn)
            if not values:
                continue
            p = self._pending
            if p is not None and (p.step != ev.step or not values.keys().isdisjoint(p.values)):
                yield self._done(p)
                p = None
            if p is None:
                p = self._pending = Row({}, int(ev.step), float(ev.wall_time))
            p.values.update(values)
            p.wall = float(ev.wall_time)
        if final and self._pending is not None:
            yield self._done(self._pending)

    def _done(self, row: Row) -> Row:
        self._pending = None
        row.values[self.step_key] = row.step
        return row

    def _convert(self, ev: Any, warn: Warn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for v in ev.summary.value:
            if not v.tag:
                continue
            name = v.metadata.plugin_data.plugin_name
            if name:
                self.plugins[v.tag] = name
            else:
                name = self.plugins.get(v.tag, "")
            key = f"{self.namespace}/{v.tag}" if self.namespace else v.tag
            try:
                value = self._value(name, v)
            except (ValueError, TypeError, IndexError) as e:
                warn(f"TensorBoard value {key!r} in {self.path} is not captured: {e}", f"tb-value:{key}:{e}")
                continue
            if value is not None:
                out[key] = value
        return out

    def _value(self, plugin: str, v: Any) -> Any:
        kind = v.WhichOneof("value")
        if plugin == "":  # TF1's summaries: what the value is tells what it means
            if kind == "simple_value":
                return _f32(v.simple_value)
            if kind == "histo":
                return _histogram_proto(v.histo)
            if kind == "image":
                return [_image(v.image.encoded_image_string, v.image.width, v.image.height)]
            if kind is not None:
                self.skipped.add(kind)
            return None
        if plugin not in CAPTURED_PLUGINS:
            self.skipped.add(plugin)
            return None
        if kind == "simple_value" and plugin == "scalars":
            return _f32(v.simple_value)
        if kind == "histo" and plugin == "histograms":
            return _histogram_proto(v.histo)
        if kind == "image" and plugin == "images":
            return [_image(v.image.encoded_image_string, v.image.width, v.image.height)]
        if kind != "tensor":
            return None  # e.g. a video torch could not encode: the tag without data
        if plugin == "images":
            s = list(v.tensor.string_val)
            if len(s) < 3:
                raise ValueError(f"an image tensor holds {len(s)} strings, not width, height, images")
            return [_image(b, s[0], s[1]) for b in s[2:]]
        arr = _make_ndarray(v.tensor)
        if plugin == "scalars":
            return _scalar(arr)
        if plugin == "histograms":
            return _histogram_tensor(arr)
        return _text(arr)


MAX_MERGED = 256  # files open at once to interleave their rows by time; more are read one after another


def merged(streams: Sequence[FileStream], final: bool, warn: Warn) -> Iterator[Row]:
    """The rows of several files in wall-time order (each file's own order kept)."""
    rows = [s.rows(final, warn) for s in streams]
    if len(rows) > MAX_MERGED:
        return itertools.chain(*rows)
    return heapq.merge(*rows, key=lambda r: r.wall)


# -- logging a row ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MediaTypes:
    """The SDK's data types (this module is below them): `runstore.media.Histogram` and `.Image`."""

    histogram: Callable[..., Any]
    image: Callable[..., Any]


def log_row(run: Any, row: Row, media: MediaTypes, timestamp: float, warn: Warn = term.warn) -> None:
    """`run.log()` the row as one history row whose `_timestamp` is `timestamp`."""
    images = any(isinstance(v, list) and v and isinstance(v[0], TBImage) for v in row.values.values())
    with tempfile.TemporaryDirectory(prefix="runstore-tb-") if images else contextlib.nullcontext("") as tmp:
        values: dict[str, Any] = {}
        for k, v in row.values.items():
            try:
                values[k] = _loggable(v, media, tmp)
            except (ValueError, TypeError, OSError) as e:
                warn(f"TensorBoard value {k!r} is not captured: {e}", f"tb-media:{k}:{type(e).__name__}")
        # The row's time is the event's: the run's clock is what log() stamps rows with.
        saved = getattr(run, "_clock", None)
        if callable(saved):
            run._clock = lambda: timestamp
        try:
            run.log(values)
        finally:
            if callable(saved):
                run._clock = saved


def _loggable(v: Any, media: MediaTypes, tmp: str) -> Any:
    if isinstance(v, TBHistogram):
        return media.histogram(np_histogram=(v.values, v.bins))
    if isinstance(v, list) and v and isinstance(v[0], TBImage):
        out = []
        for im in v:
            # A file keeps the writer's exact bytes (an animated GIF stays animated); Image copies it.
            fd, path = tempfile.mkstemp(suffix=f".{im.format}", dir=tmp)
            with os.fdopen(fd, "wb") as f:
                f.write(im.data)
            out.append(media.image(path))
        return out
    return v


# -- live capture ----------------------------------------------------------------------------------
@dataclass
class _Logdir:
    path: str
    root: str | None  # given (root_logdir, or a generated name): the namespace is the path below it
    since: float
    existing: frozenset[str]  # event files there before the writer: not this run's
    namespace: str | None = None
    base: str | None = None  # what saved event files are relative to
    streams: dict[str, FileStream] = field(default_factory=dict)


def _event_files(path: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_file() and is_event_file(e.name))
    except OSError:
        return []


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def namespace_of(path: str, root: str) -> str:
    """The key prefix of a log directory below `root` ("" for the root itself)."""
    rel = os.path.relpath(path, root)
    return "" if rel == "." else rel.replace(os.sep, "/")


class _Sync:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.enabled = False
        self.root_logdir = ""
        self.save = True
        self.skip_tf2 = False
        self.media: MediaTypes | None = None
        self.run: Any = None
        self.logdirs: list[_Logdir] = []
        self.writers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.patched: list[tuple[types.ModuleType, str, Any]] = []
        self.hook: _ImportHook | None = None
        self.follower: _Follower | None = None
        self.draining = False
        self.last_drain = 0.0

    # which run
    def follow(self, run: Any) -> None:
        with self.lock:
            if run is None or run is self.run:
                return
            if getattr(run, "disabled", False) or getattr(run, "_finished", False):
                return
            if self.run is not None and not getattr(self.run, "_finished", True):
                return  # another run is current, but the one being captured is still live
            if not self.enabled and not self.logdirs:
                return
            self.run = run
            original = run.finish

            def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
                self.final(run)
                original(exit_code=exit_code, quiet=quiet)

            # Run has no hook before its exit record; what the writers flushed must be in the history first
            run.finish = finish

    # which directories
    def add_logdir(self, raw: Any) -> None:
        try:
            path = os.fsdecode(os.fspath(raw))
        except TypeError:
            path = str(raw)
        if "://" in path:
            term.warn(
                f"TensorBoard log directory {path} is not on this machine; its events are not captured",
                once_key=f"tb-remote:{path}",
            )
            return
        path = os.path.abspath(path)
        with self.lock:
            if any(ld.path == path for ld in self.logdirs):
                return
            root: str | None = None
            # wandb: a directory named after the date and this host was made by a writer given no
            # log directory; it is its own root (so add_scalars' sub-writers below it get prefixes)
            m = re.search(rf"-\d+_{re.escape(socket.gethostname())}(?=$|{re.escape(os.sep)})", path)
            if m:
                root = path[: m.end()]
            elif self.root_logdir:
                given = os.path.abspath(self.root_logdir)
                if _under(path, given):
                    root = given
                else:
                    term.warn(
                        f"TensorBoard log directory {path} is outside root_logdir {self.root_logdir}; "
                        "its keys get no prefix from it",
                        once_key=f"tb-outside:{path}",
                    )
            self.logdirs.append(_Logdir(path, root, time.monotonic(), frozenset(_event_files(path))))

    def _place(self, ld: _Logdir, final: bool) -> bool:
        """Decide `ld`'s namespace (wandb's rule): below its given root; else below the common root of
        all log directories once there are two; else, after ROOT_WAIT or at the end, none."""
        if ld.namespace is not None:
            return True
        if ld.root is not None:
            base = ld.root
        elif len(self.logdirs) > 1:
            base = os.path.commonpath([d.path for d in self.logdirs])
        elif final or time.monotonic() - ld.since >= ROOT_WAIT:
            ld.namespace = ""
            cwd = os.getcwd()
            ld.base = cwd if _under(ld.path, cwd) else os.path.dirname(ld.path)
            return True
        else:
            return False
        ld.namespace, ld.base = namespace_of(ld.path, base), base
        return True

    # reading
    def drain(self, final: bool) -> None:
        run, media = self.run, self.media
        if run is None or media is None:
            return
        streams: list[FileStream] = []
        for ld in self.logdirs:
            if not self._place(ld, final):
                continue
            for name in _event_files(ld.path):
                if name not in ld.existing and name not in ld.streams:
                    ld.streams[name] = FileStream(os.path.join(ld.path, name), ld.namespace or "")
            streams.extend(ld.streams.values())
        for row in merged(streams, final, term.warn):
            log_row(run, row, media, row.wall)

    def maybe_drain(self, force: bool) -> None:
        now = time.monotonic()
        if self.run is None or self.draining or (not force and now - self.last_drain < DRAIN_INTERVAL):
            return
        if not self.lock.acquire(blocking=False):
            return  # another thread is reading; it will take these events too
        try:
            self.draining = True
            self.last_drain = now
            self.drain(final=False)
        except Exception as e:  # capture is best effort; training goes on
            term.warn(f"TensorBoard capture failed ({type(e).__name__}: {e})", once_key=f"tb-drain:{e}")
        finally:
            self.draining = False
            self.lock.release()

    def final(self, run: Any) -> None:
        """Before `run` finishes: flush its writers, read their files to the end, save them."""
        with self.lock:
            if run is not self.run:
                return
            self.draining = True
            try:
                paths = {ld.path for ld in self.logdirs}
                for w in list(self.writers):
                    if getattr(w, "_runstore_logdir", None) in paths:
                        try:
                            w._runstore_settle()
                        except Exception:
                            pass  # closed already: its events are on disk
                self.drain(final=True)
                if self.save:
                    self._save(run)
            except Exception as e:
                term.warn(
                    f"TensorBoard capture failed at finish ({type(e).__name__}: {e})", once_key="tb-final"
                )
            finally:
                self.draining = False
                self.run = None
                self.logdirs = []

    def _save(self, run: Any) -> None:
        for ld in self.logdirs:
            for s in ld.streams.values():
                try:
                    run.save(s.path, base_path=ld.base, policy="now")
                except (ValueError, OSError) as e:
                    term.warn(f"could not save {s.path} into the run ({e})", once_key=f"tb-save:{s.path}")


_S = _Sync()


class _Follower(types.ModuleType):
    """A namespace the SDK keeps in step with its current run (`registry.publish`): through it the
    capture learns which run to write to, before anything is logged (a writer may predate init())."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        _S.follow(self.__dict__.get("run"))


# -- the patch ---------------------------------------------------------------------------------------
_TF2 = "tensorflow.python.ops.gen_summary_ops"
TARGETS = {
    "tensorboard.summary.writer.event_file_writer": "EventFileWriter",
    "torch.utils.tensorboard.writer": "EventFileWriter",
    "tensorboardX.writer": "EventFileWriter",
    "tensorflow.python.summary.writer.writer": "EventFileWriter",  # TF1's FileWriter
    _TF2: "create_summary_file_writer",  # tf.summary.create_file_writer
}


def _writer_class(base: type) -> type:
    class EventFileWriter(base):
        """TensorBoard's writer, telling runstore where it writes. Nothing runstore does here may
        break the writer: the user's TensorBoard logging comes first."""

        _runstore_original = base
        # class defaults: the base's __init__ may already call add_event (tensorboard's does)
        _runstore_logdir: str | None = None
        _runstore_counting = False
        _runstore_added = 0
        _runstore_written = 0

        def __init__(self, logdir: Any, *args: Any, **kwargs: Any) -> None:
            # before the writer creates its file: that file is then the first new one there
            _quietly(_S.add_logdir, logdir)
            super().__init__(logdir, *args, **kwargs)
            _quietly(self._runstore_setup, logdir)

        def _runstore_setup(self, logdir: Any) -> None:
            self._runstore_logdir = os.path.abspath(os.fsdecode(os.fspath(logdir)))
            # tensorboardX's flush() writes out its file but not its queue: count what its worker wrote
            inner: Any = getattr(self, "_ev_writer", None)
            if hasattr(self, "_event_queue") and callable(getattr(inner, "write_event", None)):
                write = inner.write_event
                ref = weakref.ref(self)

                def write_event(event: Any) -> Any:
                    out = write(event)
                    me = ref()
                    if me is not None:
                        me._runstore_written += 1
                    return out

                inner.write_event = write_event
                self._runstore_counting = True
            _S.writers.add(self)

        def add_event(self, event: Any) -> None:
            if self._runstore_counting and not getattr(self, "_closed", False):
                self._runstore_added += 1
            super().add_event(event)
            _S.maybe_drain(force=False)

        def _runstore_settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
            """Everything added so far on disk."""
            if self._runstore_counting:
                deadline = time.monotonic() + timeout
                worker = getattr(self, "_worker", None)
                while (
                    self._runstore_written < self._runstore_added
                    and worker is not None
                    and worker.is_alive()
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.005)
            self.flush()

        def flush(self) -> None:
            super().flush()
            _S.maybe_drain(force=True)

        def close(self) -> None:
            super().close()
            _S.maybe_drain(force=True)

    EventFileWriter.__module__ = base.__module__
    EventFileWriter.__qualname__ = base.__qualname__
    return EventFileWriter


def _quietly(f: Callable[..., Any], *args: Any) -> None:
    try:
        f(*args)
    except Exception as e:
        term.warn(f"TensorBoard capture: {type(e).__name__}: {e}", once_key=f"tb-writer:{type(e).__name__}")


def _tf2_function(original: Callable[..., Any]) -> Callable[..., Any]:
    def create_summary_file_writer(*args: Any, **kwargs: Any) -> Any:
        logdir: Any = kwargs.get("logdir", args[1] if len(args) > 1 else None)
        try:
            if hasattr(logdir, "numpy"):  # TF passes a tensor
                logdir = logdir.numpy()
            if logdir is not None:
                _S.add_logdir(os.fsdecode(logdir) if isinstance(logdir, bytes) else logdir)
        except Exception as e:
            term.warn(f"TensorBoard: TF writer's log directory unknown ({e})", once_key="tb-tf2")
        return original(*args, **kwargs)

    create_summary_file_writer._runstore_original = original  # type: ignore[attr-defined]
    return create_summary_file_writer


def _patch_module(module: types.ModuleType) -> None:
    name = module.__name__
    attr = TARGETS.get(name)
    if attr is None or (name == _TF2 and _S.skip_tf2):
        return
    current = getattr(module, attr, None)
    if current is None:
        return
    original = getattr(current, "_runstore_original", None)
    if original is not None:  # it imported an already patched class (torch from tensorboard)
        _S.patched.append((module, attr, original))
        return
    setattr(module, attr, _tf2_function(current) if name == _TF2 else _writer_class(current))
    _S.patched.append((module, attr, current))


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._inner.exec_module(module)
        with _S.lock:
            if _S.enabled:
                _patch_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _ImportHook(importlib.abc.MetaPathFinder):
    """Patches a writer module when it is imported after the patch (importing torch or TF only to
    patch them would cost seconds)."""

    def find_spec(
        self, fullname: str, path: Any, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in TARGETS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def is_enabled() -> bool:
    return _S.enabled


def enable(
    follow: Callable[[types.ModuleType], None],
    media: MediaTypes,
    root_logdir: str = "",
    save: bool = True,
    pytorch: bool | None = None,
    tensorboard_x: bool | None = None,
) -> None:
    """Patch TensorBoard's writers (those imported now, the others when imported) so what they write
    lands in the current run. `follow` is the SDK's `registry.publish`. `pytorch`/`tensorboard_x` true:
    TF2's writer is left alone (wandb's meaning). Raises `Unavailable` without the tensorboard package."""
    require_tensorboard()
    with _S.lock:
        if _S.enabled:
            raise ValueError(
                "TensorBoard is already patched: remove sync_tensorboard=True from init() or call "
                "tensorboard.patch() only once"
            )
        _S.enabled = True
        _S.root_logdir = os.fspath(root_logdir or "")
        _S.save = bool(save)
        _S.skip_tf2 = bool(pytorch or tensorboard_x)
        _S.media = media
        for name in TARGETS:
            module = sys.modules.get(name)
            if module is not None:
                _patch_module(module)
        _S.hook = _ImportHook()
        sys.meta_path.insert(0, _S.hook)
        if _S.follower is None:
            _S.follower = _Follower("runstore.capture.tensorboard.follower")
            follow(_S.follower)
        else:  # registry.publish keeps it; catch up with a run started while unpatched
            _S.follow(_S.follower.__dict__.get("run"))


def enable_from_init(follow: Callable[[types.ModuleType], None], media: MediaTypes) -> None:
    """`init(sync_tensorboard=True)`: patch unless `patch()` came first (its root_logdir stands)."""
    if _S.enabled:
        return
    try:
        enable(follow, media)
    except Unavailable as e:
        term.warn(f"{e}; sync_tensorboard is ignored", once_key="tb-unavailable")


def disable() -> None:
    """Put the writers back. Directories already registered are still read until their run finishes."""
    with _S.lock:
        for module, attr, original in reversed(_S.patched):
            setattr(module, attr, original)
        _S.patched.clear()
        if _S.hook is not None and _S.hook in sys.meta_path:
            sys.meta_path.remove(_S.hook)
        _S.hook = None
        _S.enabled = False


def reset() -> None:
    """Unpatch, and forget the run being captured and every directory (tests start from nothing)."""
    disable()
    with _S.lock:
        _S.run = None
        _S.logdirs = []
        _S.writers = weakref.WeakSet()


__all__ = [
    "EventFile",
    "FileStream",
    "MediaTypes",
    "Row",
    "TBHistogram",
    "TBImage",
    "Unavailable",
    "disable",
    "enable",
    "enable_from_init",
    "is_enabled",
    "is_event_file",
    "log_row",
    "masked_crc32c",
    "merged",
    "namespace_of",
    "rebin",
    "require_tensorboard",
    "reset",
]
