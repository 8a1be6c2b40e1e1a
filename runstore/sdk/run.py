"""The live `Run`: what `init()` returns. Owns the run's open files and the `log()` hot path."""

from __future__ import annotations

import enum
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from ..base import term
from ..base.convert import MAX_KEY, as_text, check_key, log_value
from ..media.base import BindContext, Media
from ..media.convert import is_media_like, to_stored
from ..store import jsonl, live, schema, writer
from ..store.layout import RunRef, make_dirs
from ..store.runs import fold_summary, last_step, load_run
from ..store.store import Store

if TYPE_CHECKING:
    from ..capture.console import ConsoleCapture
    from ..capture.recorder import Recorder
    from .artifact import Artifact
from ..store.summary import SUMMARY_OPS, MetricDefs, SummaryState, leaves, metric_name, set_path
from . import registry
from .config import Config
from .save import final_copies, restore
from .save import save as save_files
from .settings import Settings
from .summary import SummaryView

_dumps = orjson.dumps
_write = os.write
_fsum = math.fsum
# The fast path encodes without OPT_NON_STR_KEYS so that a non-str key makes orjson raise and the
# slow path can report it properly.
_FAST_OPTS = orjson.OPT_APPEND_NEWLINE


# numpy's number classes, by the Python type that holds each exactly (what their .item() returns;
# float(x) is ten times faster than x.item())
_NUMPY_NUMBERS: dict[str, type] = {
    **dict.fromkeys(("float16", "float32", "float64", "half", "single", "double"), float),
    **dict.fromkeys(
        ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "longlong", "ulonglong"),
        int,
    ),
    "bool": bool,
    "bool_": bool,
}
# class -> 0 (not plain), a conversion (float/int/bool: a numpy number) or 2 (an array or tensor: plain
# when it holds one element)
_SCALAR_KINDS: dict[type, Any] = {}


def _scalar_kind(c: type) -> Any:
    mod = c.__module__ or ""
    if mod == "numpy":
        return _NUMPY_NUMBERS.get(c.__name__) or (2 if c.__name__ == "ndarray" else 0)
    if mod.startswith("torch") and hasattr(c, "numel") and hasattr(c, "detach"):
        return 2
    return 0


def _flat(data: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of `data` when its values are finite ints/floats/bools under str keys, else None: fsum()
    rejects what is not a number (and NaN/±Inf make it NaN), orjson what is not exactly one of those
    (numpy scalars, tensors, non-str keys), as on Run.log's bare path."""
    try:
        s = _fsum(data.values())
        if s - s != 0:
            return None
        line = _dumps(data)
    except Exception:
        return None
    if len(line) > _BIG_ROW and not _str_keys(data):
        return None  # a key longer than MAX_KEY: the general path reports it
    return {**data}


def _plain(data: dict[str, Any]) -> tuple[dict[str, Any], int] | None:
    """`data` as stored when every value is a finite number, a bool, a numpy number, a one-element
    array/tensor or a dict of those, with how many levels of dicts it holds (0: flat); None sends the
    call to the slow path, which converts everything else and reports what it cannot."""
    out: dict[str, Any] = {}
    depth = 0
    for k, v in data.items():
        if k.__class__ is not str or len(k) > MAX_KEY:  # the general path reports a key that is data
            return None
        c = v.__class__
        if c is float:
            if v - v != 0:  # NaN and ±Inf need jsonl.encode's tokens
                return None
        elif c is int or c is bool:
            pass
        elif c is dict:
            if "_type" in v:  # a value (a media reference) to the summary, not a level: slow path
                return None
            flat = _flat(v)  # C-level checks: much faster than this loop for a dict of numbers
            if flat is not None:
                v = flat
                depth = depth or 1
            else:
                sub = _plain(v)
                if sub is None:
                    return None
                v = sub[0]
                if sub[1] + 1 > depth:
                    depth = sub[1] + 1
        else:
            kind = _SCALAR_KINDS.get(c)
            if kind is None:
                kind = _SCALAR_KINDS[c] = _scalar_kind(c)
            if kind == 0:
                return None
            if kind != 2:
                v = kind(v)
            elif (v.numel() if callable(v.size) else v.size) != 1:
                return None
            else:
                try:
                    v = v.item()
                except Exception:  # a tensor on a device that cannot be read: the slow path reports it
                    return None
            c = v.__class__
            if not (c is int or c is bool or (c is float and v - v == 0)):
                return None
        out[k] = v
    return out, depth


# A row longer than this (bytes) may hold a key longer than MAX_KEY: its keys are checked. Most rows are
# a few hundred bytes and never pay for it.
_BIG_ROW = MAX_KEY


def _check_keys(row: Mapping[str, Any], depth: int = 0) -> None:
    for k, v in row.items():
        if isinstance(k, str):
            check_key(k)
        if isinstance(v, Mapping) and depth < 100:  # a dict that contains itself is reported elsewhere
            _check_keys(v, depth + 1)


def _str_keys(data: dict[str, Any]) -> bool:
    """Every key is a str of at most MAX_KEY characters."""
    for k in data:  # noqa: SIM110 - a plain loop is twice as fast as all() over a generator
        if k.__class__ is not str or len(k) > MAX_KEY:
            return False
    return True


def _merge_plain(dst: dict[str, Any], src: dict[str, Any], depth: int) -> None:
    """store.summary.deep_merge for a row _plain admitted, `depth` levels of dicts deep: the same
    result, faster (a level whose dicts hold no dicts merges with dict.update)."""
    for k, v in src.items():
        if v.__class__ is dict:
            cur = dst.get(k)
            if cur.__class__ is not dict or "_type" in cur:
                cur = dst[k] = {}
            if depth == 1:
                cur.update(v)
            else:
                _merge_plain(cur, v, depth - 1)
        else:
            dst[k] = v


class RunStatus:
    """What `run.status()` returns: the files of the run and how many bytes the daemon has still to
    send to the remote (0 with no remote), as of the daemon's last status (`runstore daemon status`)."""

    def __init__(self, total: int, pending: int, sync_time: float | None, error: str | None) -> None:
        self.sync_items_total = total
        self.sync_items_pending = pending
        self.sync_time = sync_time
        self.error = error

    @classmethod
    def of(cls, run: Run) -> RunStatus:
        total = len(run._ref.files())
        try:
            doc = orjson.loads(run._store.sync_status.read_bytes())
            entry = doc.get("runs", {}).get(f"{run.project}/{run.id}") or {}
        except (OSError, ValueError, AttributeError):
            entry = {}
        pending = int(entry.get("lag_bytes") or 0) if isinstance(entry, dict) else 0
        return cls(total, pending, entry.get("last_sent"), entry.get("error"))

    def __repr__(self) -> str:
        return (
            f"RunStatus(sync_items_total={self.sync_items_total}, "
            f"sync_items_pending={self.sync_items_pending}, sync_time={self.sync_time})"
        )


class AlertLevel(str, enum.Enum):
    """wandb's alert levels: `run.alert(title, text, level=AlertLevel.WARN)`."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class Metric:
    """What `define_metric` returns; can be passed as another metric's `step_metric`."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self._d = definition

    @property
    def name(self) -> str:
        return self._d["name"]

    @property
    def step_metric(self) -> str | None:
        return self._d.get("step_metric")

    @property
    def summary(self) -> tuple[str, ...]:
        return tuple(self._d.get("summary") or ())

    @property
    def hidden(self) -> bool:
        return bool(self._d.get("hidden"))

    @property
    def goal(self) -> str | None:
        return self._d.get("goal")

    def __repr__(self) -> str:
        return f"Metric({self._d})"


class _RunSummary(SummaryView):
    def __init__(self, run: Run, values: dict[str, Any]) -> None:
        super().__init__(values, run._summary_event)
        object.__setattr__(self, "_run", run)

    def _convert(self, key: str, value: Any) -> Any:
        # wandb: `run.summary["graph_0"] = graph`, `summary["best_image"] = wandb.Image(...)`
        return self._run._value(key, value, self._run._step)

    def __getitem__(self, key: str) -> Any:
        if key == "_runtime":
            # Derived, not stored per row: valid for a row of this process's segment; a value restored
            # on resume stands until this segment logs its first row.
            r = self._run
            ts = self._values.get("_timestamp")
            if ts is not None and ts >= r._segment_start:
                return r._runtime_offset + ts - r._segment_start
        return super().__getitem__(key)


class Run:
    """A run being written by this process. Create it with `runstore.init()`."""

    def __init__(
        self,
        *,
        store: Store,
        ref: RunRef,
        settings: Settings,
        info: dict[str, Any],
        resumed: bool,
        step: int,
        runtime_offset: float,
        config: dict[str, Any],
        summary: SummaryState,
        allow_val_change: bool,
        history: Path,
        segment_start: float | None = None,
        clock: Callable[[], float] = time.time,
        terminal: term.Terminal | None = None,
    ) -> None:
        """`history` is the history generation rows are appended to; `clock` gives `_timestamp`s and
        runtimes (tests pass a fake one), `terminal` where warnings go (default: the process's)."""
        self._store = store
        self._ref = ref
        self._settings = settings
        self._info = info
        self.resumed = resumed
        self._step = step
        self.starting_step = step  # wandb: the first step of this process's segment (0 for a new run)
        self._runtime_offset = runtime_offset
        self._clock = clock
        self._term = terminal or term.current()
        self._segment_start = clock() if segment_start is None else segment_start
        self._history = history
        self._finished = False
        self._pending: dict[str, Any] = {}
        self._defs: MetricDefs = summary.defs
        self._step_values: dict[str, Any] = {}
        self._rfd = -1
        self._hfd = -1
        self._recorder: Recorder | None = None
        self._console: ConsoleCapture | None = None
        self._bind_ctx: BindContext | None = None
        self._saves: dict[str, tuple[str, str, list[int] | None]] = {}
        self._watchers: list[Any] = []  # watch(): the hooks on the user's models
        self._wlock: int | None = None  # the run's writer lock (store/writer.py), held until finish()
        self._sstate = summary
        self._svalues = summary.values
        self.config = Config(persist=self._config_event, allow_val_change=allow_val_change)
        self.config._items.update(config)
        self.summary = _RunSummary(self, summary.values)
        # No define_metric and not finished: log() may take its fast paths (see _plain)
        self._fast = not self._defs
        self._pending_slow = False  # _pending holds values _log_slow converted
        # a write failed and may have left a fragment: seal it before the next append
        self._h_torn = False
        self._r_torn = False
        self._pending_depth = 0  # levels of dicts in _pending (the summary merges them deeply)

    # -- files ----------------------------------------------------------------------------------
    def _open(self, first_event: dict[str, Any], create: bool = False) -> None:
        """Open the run's files; `create`: run.jsonl must not exist yet (FileExistsError otherwise), so
        of two processes creating one id exactly one succeeds."""
        make_dirs(self._ref.files_dir)
        self._rfd = jsonl.create_append(self._ref.run_log) if create else jsonl.open_append(self._ref.run_log)
        self._hfd = jsonl.open_append(self._history)
        self._event(first_event)

    def _append_history_line(self, line: bytes) -> None:
        """A row already encoded (a fork's copy of its parent's rows)."""
        jsonl.write_all(self._hfd, line)
        self._sstate.apply_row(jsonl.decode(line))

    def _event(self, obj: dict[str, Any], what: str = "run record") -> bool:
        """Append a record to run.jsonl; False (after a warning) when it could not be written."""
        if self._rfd < 0:
            return False
        if schema.STRICT:
            schema.check(schema.RUN_LOG, obj)
        try:
            if self._r_torn:
                jsonl.seal_fd(self._rfd, self._ref.run_log)
                self._r_torn = False
            jsonl.write_all(self._rfd, jsonl.encode(obj))
            return True
        except Exception as e:
            self._r_torn = True
            self._write_failed(e, what)
            return False

    def _write_history(self, line: bytes) -> None:
        """Append one row (the slow paths). After a failed or short write the fragment it may have left is
        sealed with a newline first (docs/FORMAT.md), so the next row is not glued to it and lost."""
        try:
            if self._h_torn:
                jsonl.seal_fd(self._hfd, self._history)
                self._h_torn = False
                self._fast = not self._defs and not self._finished
            jsonl.write_all(self._hfd, line)
        except OSError as e:
            self._history_failed(e)

    def _history_failed(self, e: BaseException) -> None:
        # The fast paths write without this check: they stay off until a write succeeds again.
        self._h_torn = True
        self._fast = False
        self._write_failed(e, "history row")

    def _write_failed(self, e: BaseException, what: str) -> None:
        self._term.warn(
            f"could not write a {what} for run {self.id} ({e}); training continues, but this data is lost",
            once_key=f"write-failed:{self.id}:{what}:{type(e).__name__}",
        )

    def _config_event(self, changed: dict[str, Any]) -> None:
        self._event({"t": "config", "set": changed})

    def _summary_event(self, ev: dict[str, Any]) -> None:
        self._event({"t": "summary", "step": self._step, **ev})

    # -- identity -------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._ref.id

    @property
    def project(self) -> str:
        return self._ref.project

    @property
    def entity(self) -> str:
        return self._info.get("entity") or ""

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}" if self.entity else f"{self.project}/{self.id}"

    @property
    def dir(self) -> str:
        return str(self._ref.files_dir)

    @property
    def sync_dir(self) -> str:
        return str(self._ref.path)

    @property
    def url(self) -> str:
        """Where the run is: a `file://` URL of its directory (never None: scripts print it)."""
        return self._ref.path.absolute().as_uri()

    @property
    def project_url(self) -> str:
        return self._ref.path.absolute().parent.parent.as_uri()

    @property
    def sweep_url(self) -> str | None:
        sid = self._info.get("sweep_id")
        return (self._store.sweeps_dir / sid).absolute().as_uri() if sid else None

    def get_url(self) -> str:
        return self.url

    def get_project_url(self) -> str:
        return self.project_url

    def get_sweep_url(self) -> str | None:
        return self.sweep_url

    @property
    def step(self) -> int:
        return self._step

    @property
    def start_time(self) -> float:
        return float(self._info.get("created", self._segment_start))

    @property
    def mode(self) -> str:
        return self._settings.mode

    @property
    def offline(self) -> bool:
        return self._settings.mode == "offline"

    @property
    def disabled(self) -> bool:
        return False

    @property
    def sweep_id(self) -> str | None:
        return self._info.get("sweep_id")

    @property
    def settings(self) -> Settings:
        return self._settings

    def _edit(self, key: str, value: Any) -> None:
        self._info[key] = value
        self._event({"t": "edit", "set": {key: value}})

    def _str_prop(key: str) -> property:  # type: ignore[misc]
        def get(self: Run) -> Any:
            return self._info.get(key)

        def set_(self: Run, value: Any) -> None:
            if value is not None and not isinstance(value, str):
                raise TypeError(f"run.{key} must be a str, got {type(value).__name__}")
            self._edit(key, value)

        return property(get, set_)

    name = _str_prop("name")
    notes = _str_prop("notes")
    group = _str_prop("group")
    job_type = _str_prop("job_type")
    del _str_prop

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._info.get("tags") or ())

    @tags.setter
    def tags(self, value: Any) -> None:
        if isinstance(value, str) or not all(isinstance(t, str) for t in value):
            raise TypeError("run.tags must be a sequence of str, e.g. run.tags += ('new',)")
        self._edit("tags", list(value))

    @property
    def display_name(self) -> str | None:
        return self.name

    def __repr__(self) -> str:
        return f"<Run {self.path} ({self.name})>"

    # -- logging --------------------------------------------------------------------------------
    def log(
        self,
        data: dict[str, Any],
        step: int | None = None,
        commit: bool | None = None,
        sync: bool | None = None,
    ) -> None:
        """Log a dict of metrics for one step (docs/COMPAT.md §4: auto step, commit=False, explicit step)."""
        if step is None and commit is None and self._fast and not self._pending and data.__class__ is dict:
            # One C-level pass decides the fast path: fsum() raises for anything that is not a single
            # number (str, None, dicts, lists, arrays, datetimes), without doing arithmetic on arrays or
            # tensors, and a NaN or ±Inf makes `s - s` NaN. orjson then refuses numpy scalars, tensors,
            # float subclasses and ints beyond 64 bits. What is left is plain finite int/float/bool,
            # stored exactly as the slow path would store it.
            try:
                s = _fsum(data.values())
                plain = s - s == 0
            except Exception:
                # not all numbers: a row of numbers and dicts of numbers (`{"train": {...}}`) is common
                # enough for a path of its own; anything else goes on to the paths below
                if self._log_nested(data):
                    return None
                return self._log_other(data, step, commit, flat=False)
            if plain:
                row = {**data, "_step": self._step, "_timestamp": self._clock()}
                try:
                    line = _dumps(row, option=_FAST_OPTS)
                except TypeError:  # numpy scalars, huge ints, non-str keys: the paths below handle them
                    return self._log_other(data, step, commit, flat=False)
                if len(line) > _BIG_ROW:
                    _check_keys(data)
                try:
                    if _write(self._hfd, line) != len(line):
                        raise OSError("short write (disk full?)")
                except OSError as e:
                    self._history_failed(e)
                self._step += 1
                self._svalues.update(row)
                return None
        return self._log_other(data, step, commit)

    def _write_row(self, line: bytes) -> None:
        """One history row, already encoded, with one write() (log()'s bare path has this inline)."""
        try:
            if _write(self._hfd, line) != len(line):
                raise OSError("short write (disk full?)")
        except OSError as e:
            self._history_failed(e)
        self._step += 1

    def _log_nested(self, data: dict[str, Any]) -> bool:
        """log(data) now, for a row whose values are finite numbers or dicts of them (one level): fsum()
        checks each dict's values, orjson the exact types and keys of the whole row, as on the bare
        path. False (nothing done) for any other row."""
        for v in data.values():
            c = v.__class__
            if c is dict:
                if "_type" in v:  # a media reference is a value to the summary, not a level
                    return False
                try:
                    s = _fsum(v.values())
                except Exception:
                    return False
                if s - s != 0:
                    return False
            elif c is float:
                if v - v != 0:
                    return False
            elif c is not int and c is not bool:
                return False
        row = {**data, "_step": self._step, "_timestamp": self._clock()}
        try:
            line = _dumps(row, option=_FAST_OPTS)
        except TypeError:
            return False
        if len(line) > _BIG_ROW:
            _check_keys(data)
        self._write_row(line)
        sv = self._svalues
        for k, v in row.items():
            if v.__class__ is dict:  # merged, as store.summary.deep_merge does; the caller's dict is not kept
                cur = sv.get(k)
                if cur.__class__ is not dict or "_type" in cur:
                    cur = sv[k] = {}
                cur.update(v)
            else:
                sv[k] = v
        return True

    def _log_other(self, data: Any, step: Any, commit: Any, flat: bool = True) -> None:
        """`flat`: whether `data` may still be a flat row of numbers (the bare path already knows when
        it is not, and an exception in fsum() is not cheap enough to pay twice)."""
        if self._fast and not self._pending_slow and data.__class__ is dict:
            # The other common forms (step=, commit=, nested dicts, numpy and torch scalars) with values
            # that need no conversion beyond .item(): stored exactly as _log_slow would store them.
            flat_row = _flat(data) if flat else None
            try:
                plain_row = (flat_row, 0) if flat_row is not None else _plain(data)
            except RecursionError:  # a dict that contains itself: the general path reports it
                plain_row = None
            if plain_row is not None and (step is None or (step.__class__ is int and step >= self._step)):
                row, depth = plain_row
                if step is not None and step > self._step:
                    if self._pending:
                        self._flush_plain()
                    self._step = step
                if self._pending:
                    self._pending.update(row)
                else:
                    self._pending = row
                if depth > self._pending_depth:
                    self._pending_depth = depth
                if commit if commit is not None else step is None:
                    self._flush_plain()
                return None
        return self._log_slow(data, step, commit)

    def _flush_plain(self) -> None:
        """_flush for a pending row of plain values (no defs, no media): one encode, one write."""
        row, self._pending = self._pending, {}
        row["_step"] = self._step
        row["_timestamp"] = self._clock()
        try:
            line = _dumps(row, option=_FAST_OPTS)
        except TypeError:  # an int beyond 64 bits: Python's json writes it exactly
            line = jsonl.encode(row)
        self._write_row(line)
        if self._pending_depth:
            _merge_plain(self._svalues, row, self._pending_depth)
            self._pending_depth = 0
        else:
            self._svalues.update(row)

    def _log_slow(self, data: Any, step: Any, commit: Any) -> None:
        if not isinstance(data, Mapping):
            raise TypeError(
                f"run.log() takes a dict of metric names to values, e.g. "
                f"run.log({{'loss': 0.5}}); got {type(data).__name__}"
            )
        for k in data:
            if not isinstance(k, str):
                raise TypeError(f"run.log() keys must be str; got {k!r} ({type(k).__name__})")
        _check_keys(data)
        if step is not None and (isinstance(step, bool) or not hasattr(step, "__index__")):
            raise TypeError(f"run.log(step=...) must be an int, got {type(step).__name__}")
        if self._finished:
            self._term.warn(
                f"run {self.id} is finished; the call to log() is ignored",
                once_key=f"log-after-finish:{self.id}",
            )
            return
        if step is not None:
            step = int(step)
        row_step = self._step if step is None else max(step, self._step)
        row = {
            (v.history_key(k) if isinstance(v, Media) else k): self._value(k, v, row_step)
            for k, v in data.items()
        }
        if step is not None:
            if step < self._step:
                self._term.warn(
                    f"Tried to log to step {step} that is less than the current step {self._step}. "
                    "Steps must be monotonically increasing, so this row is not in the history; "
                    "it is kept in run.jsonl as a 'dropped' record.",
                    once_key=f"dropped:{self.id}",
                )
                self._event({"t": "dropped", "step": step, "current": self._step, "row": row})
                return
            if step > self._step:
                if self._pending:
                    self._flush()
                self._step = step
        self._pending.update(row)
        if bool(commit) if commit is not None else step is None:
            self._flush()
        # Values converted here (media references, NaN, …) keep later calls on this path until the
        # row is written.
        self._pending_slow = bool(self._pending)

    def _value(self, key: str, v: Any, step: int) -> Any:
        try:
            return self._value_or_media(key, v, step)
        except RecursionError:  # a dict or list that contains itself
            self._term.warn(
                f"logged value for {key!r} contains itself (a recursive {type(v).__name__}); stored as str()",
                once_key=f"log-recursive:{key}",
            )
            return log_value(key, as_text(v))

    def _value_or_media(self, key: str, v: Any, step: int) -> Any:
        """A logged value as stored: media bound to files (their `_type` reference), the rest converted.

        A media value that cannot be written is a warning and the key is stored as None: tracking
        failures never stop training; bad arguments were already rejected by the media constructors.
        """
        if not is_media_like(v):
            return log_value(key, v)
        if self._bind_ctx is None:
            self._bind_ctx = BindContext(self._ref, self)
        try:
            stored = to_stored(self._bind_ctx, key, v, step)
            if isinstance(stored, dict) and stored.get("_type") == "table-file":
                from .artifact import log_run_table

                # a chart's data table lives at its own key (`K_table`): the artifact is named after it
                hk = getattr(v, "history_key", None)
                log_run_table(self, hk(key) if callable(hk) else key, v, stored)
            return stored
        except (OSError, ValueError, TypeError, ImportError) as e:
            self._term.warn(
                f"could not log {key!r} ({type(e).__name__}: {e}); stored as null, training continues",
                once_key=f"media-failed:{key}:{type(e).__name__}",
            )
            return None

    def _flush(self) -> None:
        row, self._pending = self._pending, {}
        self._pending_slow = False
        self._pending_depth = 0
        if self._defs:
            self._sync_step_metrics(row)
        row["_step"] = self._step
        row["_timestamp"] = self._clock()
        self._write_history(jsonl.encode(row))
        self._step += 1
        self._sstate.apply_row(row)

    def _sync_step_metrics(self, row: dict[str, Any]) -> None:
        """define_metric(step_metric=..., step_sync): fill in the last value of the step metric."""
        flat = {metric_name(p): (p, v) for p, v in leaves(row)}
        for name, (_path, v) in flat.items():
            if name in self._step_values or any(d.get("step_metric") == name for d in self._defs.to_list()):
                self._step_values[name] = v
        for name in list(flat):
            d = self._defs.lookup(name)
            sm = d.get("step_metric") if d else None
            if d and sm and d.get("step_sync", True) and sm not in flat and sm in self._step_values:
                set_path(row, sm.split("."), self._step_values[sm])
                flat[sm] = ((sm,), self._step_values[sm])

    def define_metric(
        self,
        name: str,
        step_metric: str | Metric | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
        **kwargs: Any,
    ) -> Metric:
        """Customize how a metric is summarized and which metric is its x-axis (docs/COMPAT.md §5)."""
        if kwargs:
            self._term.warn(
                f"define_metric() ignores unknown arguments: {', '.join(sorted(kwargs))}",
                once_key=f"define_metric-kwargs:{sorted(kwargs)}",
            )
        if not isinstance(name, str) or not name:
            raise TypeError("define_metric() name must be a non-empty str, e.g. define_metric('val/*')")
        if "*" in name[:-1]:
            raise ValueError(f"define_metric({name!r}): only a trailing '*' glob is supported")
        if isinstance(step_metric, Metric):
            step_metric = step_metric.name
        ops: list[str] = []
        if summary is not None:
            if not isinstance(summary, str):
                raise TypeError("define_metric(summary=...) is a comma-separated str, e.g. 'min,max'")
            ops = [s.strip().lower() for s in summary.split(",") if s.strip()]
            bad = [s for s in ops if s not in SUMMARY_OPS]
            if bad:
                raise ValueError(
                    f"Unhandled define_metric() arg: summary op: {bad[0]} "
                    f"(use any of {', '.join(SUMMARY_OPS)})"
                )
        if goal is not None:
            g = {"min": "minimize", "max": "maximize"}.get(goal, goal)
            if g not in ("minimize", "maximize"):
                raise ValueError(f"define_metric(goal={goal!r}): use 'minimize' or 'maximize'")
            goal = g
        d: dict[str, Any] = {"name": name}
        for k, v in (
            ("step_metric", step_metric),
            ("step_sync", step_sync),
            ("hidden", hidden),
            ("summary", ops or None),
            ("goal", goal),
            ("overwrite", overwrite),
        ):
            if v is not None:
                d[k] = v
        if step_metric and step_sync is None:
            d["step_sync"] = True
        self._defs.add(d)
        self._event({"t": "metric", "step": self._step, **d})
        self._fast = False
        return Metric(d)

    def _reload(self, summary: bool = True) -> None:
        """Another process (a child of `runstore run` that joined this run) appended rows: continue after
        its last step, and (`summary`) take the summary from the store."""
        last = last_step(self._history)
        self._step = max(self._step, (last if last is not None else -1) + 1)
        if summary:
            self._sstate = fold_summary(load_run(self._ref))
            self._svalues = self._sstate.values
            self._defs = self._sstate.defs
            self._fast = self._fast and not self._defs

    # -- finishing ------------------------------------------------------------------------------
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Flush the pending row and write the exit record. Idempotent; never blocks on uploads."""
        if self._finished:
            return
        if self._pending:
            self._flush()
        self._finished = True
        self._fast = False
        self.unwatch()  # a finished run's hooks would only warn on every step
        if self._recorder is not None:
            self._recorder.join(timeout=10.0)  # its metadata belongs before the exit record
        if self._saves:
            final_copies(self)
        if self._console is not None:
            self._console.stop()  # output.log is complete before the run reads as finished
            self._console = None
        code = int(exit_code) if exit_code is not None else 0
        now = self._clock()
        runtime = self._runtime_offset + now - self._segment_start
        values = self._sstate.values
        if values.get("_timestamp", -1.0) >= self._segment_start:
            values["_runtime"] = self._runtime_offset + values["_timestamp"] - self._segment_start
        if self._h_torn:
            try:
                jsonl.seal_fd(self._hfd, self._history)
            except OSError:
                pass  # readers skip a torn tail; whoever appends next seals it (jsonl.open_append)
        try:
            hbytes = os.fstat(self._hfd).st_size
        except OSError:
            hbytes = 0
        exit_record = {
            "t": "exit",
            "code": code,
            "time": now,
            "runtime": runtime,
            "step": self._step,
            "history_bytes": hbytes,
            **self._sstate.snapshot(),
        }
        written = self._event(exit_record, what="exit record")
        for fd in (self._hfd, self._rfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._hfd = self._rfd = -1
        if written:
            self._ended(code)
        else:
            # Without its exit record the run would read as crashed forever: try again when the process
            # exits (a full disk often has room again by then). Until then the run stays registered live.
            registry.retry_at_exit(lambda: self._retry_exit(exit_record))
        if not written:
            self._term.warn(
                f"run {self.name} ({self.id}) ended, but its exit record could not be written; it reads as "
                "crashed unless runstore can write it when this process exits"
            )
        elif not quiet:
            state = "finished" if code == 0 else f"failed (exit code {code})"
            self._term.info(
                f"run {self.name} ({self.id}) {state} after {self._step} steps, {runtime:.1f}s: "
                f"{self._ref.path}"
            )
        registry.finished(self)

    def _ended(self, code: int) -> None:
        writer.release(self._wlock)
        self._wlock = None
        live.unregister(self._store, self.project, self.id)
        if code == 0:
            self._store.clear_resume_id(self.id)

    def _retry_exit(self, record: dict[str, Any]) -> None:
        fd = jsonl.open_append(self._ref.run_log)  # seals the fragment the failed write left
        try:
            jsonl.write_all(fd, jsonl.encode(record))
        finally:
            os.close(fd)
        self._ended(int(record["code"]))
        self._term.info(f"run {self.name} ({self.id}): its exit record is written after all")

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        if exc_type is None:
            self.finish(exit_code=0)
        else:
            code = 255 if issubclass(exc_type, KeyboardInterrupt) else 1
            if issubclass(exc_type, SystemExit):
                c = exc.code if exc is not None else None
                code = 0 if c is None else c if isinstance(c, int) else 1
            self.finish(exit_code=code)
        return False

    def save(
        self, glob_str: Any = None, base_path: Any = None, policy: str = "live", glob: bool = True
    ) -> list[str]:
        """Copy files matching `glob_str` into the run (policy "live", "now" or "end"); returns their paths."""
        if self._finished:
            self._term.warn(
                f"run {self.id} is finished; save() is ignored", once_key=f"save-after-finish:{self.id}"
            )
            return []
        return save_files(self, glob_str, base_path, policy, glob)

    def restore(
        self, name: str, run_path: str | None = None, replace: bool = False, root: str | None = None
    ) -> Any:
        return restore(name, run_path or f"{self.project}/{self.id}", replace, root or self.dir)

    def log_code(
        self,
        root: str | os.PathLike[str] | None = ".",
        name: str | None = None,
        include_fn: Callable[..., bool] | None = None,
        exclude_fn: Callable[..., bool] | None = None,
    ) -> Artifact | None:
        """Save the source files under `root` (default: `*.py`) as a `code` artifact, as wandb does
        (named `name`, default `source-<project>-<program>`), and into the run's files under `code/`
        (`runstore restore` and `Api().run(...).files()` see them). Directories no source lives in
        (.git, virtualenvs, caches, stores) are skipped. Returns the artifact, or None when nothing
        matched (as wandb does)."""
        from .save import code_files

        if self._finished:
            self._term.warn(f"run {self.id} is finished; log_code() is ignored", once_key=f"code:{self.id}")
            return None
        if root is None:
            root = "."
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"log_code(root=...) must be a directory path, not {type(root).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError("log_code(name=...) must be a str")
        if not os.path.isdir(root):
            raise ValueError(f"log_code(root={os.fspath(root)!r}): not a directory")
        try:
            copied = code_files(self, os.fspath(root), include_fn, exclude_fn)
        except OSError as e:
            self._term.warn(f"log_code: could not copy the source files ({e}); training continues")
            return None
        if not copied:
            self._term.warn(f"log_code: no files matched under {os.fspath(root)!r}", once_key=f"code0:{root}")
            return None
        from .artifact import Artifact, _safe

        program = os.path.basename(str(self._info.get("program") or "")) or "notebook"
        art = Artifact(_safe(name or f"source-{self.project}-{program}"), "code")
        for rel in copied:
            # the run's copy: immutable once written, so it is hashed, not copied again
            art.add_file(str(self._ref.code_file(rel)), rel, policy="immutable")
        return self.log_artifact(art)

    # -- artifacts (sdk/artifact.py, loaded on first use) -----------------------------------------
    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
        tags: list[str] | None = None,
    ) -> Artifact:
        """Log an Artifact (or a file or directory, as an artifact named `run-<id>-<name>`) as the next
        version of its collection in this run's project; returns it, committed."""
        from .artifact import log_artifact

        return log_artifact(self, artifact_or_path, name=name, type=type, aliases=aliases, tags=tags)

    def use_artifact(
        self,
        artifact_or_name: Any,
        type: str | None = None,
        aliases: list[str] | None = None,
        use_as: str | None = None,
    ) -> Artifact:
        """An artifact version from the store (`name`, `name:alias`, `name:v3`, `project/name:alias`,
        `entity/project/name:alias`), recorded as an input of this run."""
        from .artifact import use_artifact

        return use_artifact(self, artifact_or_name, type=type, aliases=aliases)

    def log_model(self, path: Any, name: str | None = None, aliases: list[str] | None = None) -> None:
        """Log a model file or directory as a `model` artifact (wandb returns nothing)."""
        self.log_artifact(path, name=name, type="model", aliases=aliases)

    def use_model(self, name: str) -> str:
        """Use a model artifact and return where it was downloaded (its only file, if it has one)."""
        from .artifact import model_path

        return model_path(self.use_artifact(name))

    def link_artifact(
        self, artifact: Artifact, target_path: str, aliases: list[str] | None = None
    ) -> Artifact | None:
        """Link an artifact version (logged first if it is a draft) into `target_path`, a collection
        such as a portfolio or `model-registry/<name>`; returns the linked version."""
        from .artifact import link_artifact

        return link_artifact(self, artifact, target_path, aliases)

    def link_model(
        self,
        path: Any,
        registered_model_name: str,
        name: str | None = None,
        aliases: list[str] | None = None,
    ) -> Artifact | None:
        """Log a model file or directory and link it into `model-registry/<registered_model_name>`."""
        from .artifact import link_model

        return link_model(self, path, registered_model_name, name=name, aliases=aliases)

    def status(self) -> RunStatus:
        """How far the daemon's streaming of this run to the remote got (wandb's `run.status()`)."""
        return RunStatus.of(self)

    def watch(
        self,
        models: Any,
        criterion: Any = None,
        log: str | None = "gradients",
        log_freq: int = 1000,
        idx: int | None = None,
        log_graph: bool = False,
    ) -> list[Any]:
        """Histograms of a torch model's gradients and/or parameters every `log_freq` steps (wandb's
        keys `gradients/<name>`, `parameters/<name>`), and with `log_graph` its layers as `graph_<idx>`
        in the summary. Returns the Graphs. `criterion` is accepted for wandb's signature."""
        from . import watch as W

        seq = W.check_args(models, criterion, log, log_freq, idx, log_graph)
        graphs = []
        for model, i in zip(seq, W.take_indices(len(seq), idx), strict=True):
            w = W.Watcher(self, model, log, log_freq, f"graph_{i}" if i > 0 else "", i)
            if log_graph:
                graphs.append(w.hook_graph())
            self._watchers.append(w)
        return graphs

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks `watch` put on `models` (all watched models when None)."""
        if models is None:
            chosen = list(self._watchers)
        else:
            wanted = {id(m) for m in (models if isinstance(models, (list, tuple)) else [models])}
            chosen = [w for w in self._watchers if id(w.model) in wanted]
        for w in chosen:
            w.remove()
            self._watchers.remove(w)

    def _label(self, *args: Any, **kwargs: Any) -> None:
        """wandb's private telemetry label (Hugging Face's Trainer calls `run._label(code=...)`): runstore
        sends no telemetry, so there is nothing to record."""

    def mark_preempting(self) -> None:
        self._event({"t": "edit", "set": {"preempting": True}})

    def alert(self, title: str, text: str, level: Any = None, wait_duration: Any = None) -> None:
        """Record an alert in the run (there is no notification service to send it to). `level` is a
        string or an `AlertLevel`."""
        level = getattr(level, "value", level)
        self._event(
            {
                "t": "alert",
                "time": self._clock(),
                "title": str(title),
                "text": str(text),
                "level": str(level or "INFO"),
            }
        )
        self._term.info(f"alert [{level or 'INFO'}] {title}: {text}")
