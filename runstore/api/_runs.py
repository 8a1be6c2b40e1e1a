"""Runs read from the store: `Run`, `Runs`, `File` (what `Api().run()` and `Api().runs()` return)."""

from __future__ import annotations

import copy
import fnmatch
import mimetypes
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Error
from ..media.table import Table
from ..media.table_files import is_table_ref
from ..sdk.summary import SummaryView
from ..store import jsonl
from ..store.history import flatten, iter_rows, read_columns
from ..store.layout import walk
from ..store.query import MISSING, iso
from ..store.runs import RunState, append_record, last_step, with_runtime

if TYPE_CHECKING:
    from ._api import Api
    from ._sweeps import Sweep


class Runs:
    """A list of runs (len, indexing, iteration), as `wandb.Api().runs()` returns."""

    def __init__(self, api: Api, runs: list[Run]) -> None:
        self._api = api
        self._runs = runs

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    def __getitem__(self, i: Any) -> Any:
        return self._runs[i]

    def __repr__(self) -> str:
        return f"<Runs {len(self._runs)}>"

    @property
    def length(self) -> int:
        return len(self._runs)

    def histories(
        self,
        samples: int | None = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        format: str = "default",
    ) -> Any:
        frames: list[dict[str, Any]] = []
        for r in self._runs:
            rows = r.history(samples=samples, keys=keys, x_axis=x_axis, pandas=False)
            frames.extend({**row, "run_id": r.id} for row in rows)
        if format == "pandas":
            import pandas as pd

            return pd.DataFrame(frames)
        return frames


class _ApiSummary(SummaryView):
    """Edits are kept until `summary.update()` or `run.update()` writes them."""

    def __init__(self, run: Run, values: dict[str, Any]) -> None:
        super().__init__(values, None)
        object.__setattr__(self, "_run", run)
        object.__setattr__(self, "_edits", [])
        object.__setattr__(self, "_persist", self._edits.append)

    def update(self, d: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().update(d, **kwargs)
        self._run._write_summary_edits()


class File:
    """A file of a run (`run.files()` / `run.file(name)`)."""

    def __init__(self, root: Path, name: str) -> None:
        self._root = root
        self.name = name

    @property
    def path(self) -> Path:
        return self._root / self.name

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    @property
    def mimetype(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    @property
    def url(self) -> str:
        return self.path.as_uri()

    direct_url = url

    @property
    def updated_at(self) -> str | None:
        try:
            return iso(self.path.stat().st_mtime)
        except OSError:
            return None

    def download(
        self, root: str | os.PathLike[str] = ".", replace: bool = False, exist_ok: bool = False
    ) -> Any:
        """Copy the file to `root/name` and return it opened for reading, as wandb does."""
        dest = Path(root) / self.name
        if dest.exists() and not replace:
            if not exist_ok:
                raise ValueError(
                    f"{dest} already exists; pass replace=True to overwrite or exist_ok=True to keep it"
                )
            return open(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._fetch(dest)
        return open(dest)

    def _fetch(self, dest: Path) -> None:
        try:  # never through a symlink planted in the run (the listing left them out, this closes the race)
            with jsonl.open_read(self.path) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except FileNotFoundError:
            raise Error(f"file {self.name!r} is not a regular file of the run (gone, or a link)") from None

    def __repr__(self) -> str:
        return f"<File {self.name} ({self.size} bytes)>"


class Run:
    """One run read from the store. Edit `name`, `tags`, `notes`, `config`, `summary`, then `update()`."""

    def __init__(self, api: Api, state: RunState) -> None:
        self._api = api
        self._st = state
        self._info = state.info  # copied on the first edit (below)
        # Copies to edit are made on first use: listing 10,000 runs must not deep-copy 10,000 configs.
        self._orig_info: dict[str, Any] | None = None
        self._config: dict[str, Any] | None = None
        self._orig_config: dict[str, Any] = {}
        self._summary: _ApiSummary | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The run's config (without wandb's internal `_wandb` key); edit it, then `update()`."""
        if self._config is None:
            self._config = {k: copy.deepcopy(v) for k, v in self._st.config.items() if k != "_wandb"}
            self._orig_config = copy.deepcopy(self._config)
        return self._config

    @config.setter
    def config(self, value: Mapping[str, Any]) -> None:
        self.config  # noqa: B018 - takes the snapshot that update() compares with
        self._config = dict(value)

    def _edit_info(self, key: str, value: Any) -> None:
        if self._orig_info is None:
            self._orig_info = copy.deepcopy(self._info)
            self._info = dict(self._info)
        self._info[key] = value

    # -- identity ------------------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self._st.id

    storage_id = id

    @property
    def project(self) -> str:
        return self._st.ref.project

    @property
    def entity(self) -> str:
        return self._info.get("entity") or ""

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> None:
        return None

    @property
    def dir(self) -> str:
        return str(self._st.path)

    def _info_prop(key: str, kind: type = str) -> property:  # type: ignore[misc]
        def get(self: Run) -> Any:
            return self._info.get(key)

        def set_(self: Run, value: Any) -> None:
            if value is not None and not isinstance(value, kind):
                raise TypeError(f"run.{key} must be a {kind.__name__}")
            self._edit_info(key, value)

        return property(get, set_)

    name = display_name = _info_prop("name")
    notes = description = _info_prop("notes")
    group = _info_prop("group")
    job_type = _info_prop("job_type")
    del _info_prop

    @property
    def tags(self) -> list[str]:
        return list(self._info.get("tags") or [])

    @tags.setter
    def tags(self, value: Any) -> None:
        if isinstance(value, str) or not all(isinstance(t, str) for t in value):
            raise TypeError("run.tags must be a list of str")
        self._edit_info("tags", list(value))

    @property
    def state(self) -> str:
        return self._st.state

    @property
    def exit_code(self) -> int | None:
        return self._st.exit_code

    @property
    def created_at(self) -> str:
        return iso(self._st.created)

    @property
    def created(self) -> float:
        """When the run started, in Unix seconds (runstore's addition beside wandb's `created_at`)."""
        return self._st.created

    @property
    def heartbeat_at(self) -> str:
        return iso(max(self._st.last_activity(), self._st.created))

    @property
    def runtime(self) -> float:
        return self._st.runtime

    @property
    def sweep(self) -> Sweep | None:
        """The Sweep this run belongs to, or None."""
        sid = self._info.get("sweep_id")
        if not sid:
            return None
        try:
            return self._api.sweep(sid)
        except Error:
            return None  # a run that names a sweep missing from this store

    @property
    def sweep_name(self) -> str | None:
        """The id of the sweep this run belongs to (from WANDB_SWEEP_ID at init), or None."""
        return self._info.get("sweep_id")

    @property
    def user(self) -> str | None:
        return self._st.metadata.get("username") or self._info.get("username")

    @property
    def metadata(self) -> dict[str, Any]:
        """wandb-metadata.json's content: what was recorded about the process and machine."""
        keys = ("host", "pid", "program", "args", "cwd", "python", "executable", "mode")
        base = {k: self._info[k] for k in keys if k in self._info}
        if "created" in self._info:
            base["startedAt"] = iso(self._info["created"])
        return {**base, **self._st.metadata}

    @property
    def rawconfig(self) -> dict[str, Any]:
        return {k: {"value": v} for k, v in self._st.config.items()}

    json_config = rawconfig

    @property
    def summary(self) -> _ApiSummary:
        if self._summary is None:
            self._summary = _ApiSummary(self, copy.deepcopy(self._st.summary))
        return self._summary

    @property
    def summary_metrics(self) -> dict[str, Any]:
        return self.summary.as_dict()

    @property
    def lastHistoryStep(self) -> int:  # noqa: N802 - wandb's name
        s = last_step(self._st.history_path)
        return -1 if s is None else s

    @property
    def system_metrics(self) -> dict[str, Any]:
        """The latest system-metrics sample, keys as wandb serves them (`system.cpu`, …)."""
        rows, _ = jsonl.read(self._st.ref.system_log)
        return _system_keys(rows[-1]) if rows and isinstance(rows[-1], dict) else {}

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} ({self.state})>"

    # -- history -------------------------------------------------------------------------------
    def _stream_path(self, stream: str) -> Path:
        if stream in ("default", "history"):
            return self._st.history_path
        if stream in ("events", "system"):
            return self._st.ref.system_log
        raise ValueError(f"stream must be 'default' or 'events', got {stream!r}")

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int = 0,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every row (no sampling) with `min_step <= _step < max_step`; with `keys`, only rows having
        all of them, reduced to those keys."""
        if keys is not None and (isinstance(keys, str) or not all(isinstance(k, str) for k in keys)):
            raise TypeError("scan_history(keys=...) takes a list of str")
        segments = self._st.segments
        for row in iter_rows(self._st.history_path):
            step = row.get("_step", 0)
            if step < min_step or (max_step is not None and step >= max_step):
                continue
            row = with_runtime(row, segments)
            if keys is None:
                yield row
                continue
            flat = flatten(row) if any(isinstance(v, dict) for v in row.values()) else row
            if all(k in flat for k in keys):
                yield {k: flat[k] for k in keys}

    def history(
        self,
        samples: int | None = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
        *,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Any:
        """Rows of the run's history, evenly sampled down to `samples` (None: every row).

        With `keys`, only rows having all of them, with those columns and `x_axis`. `stream="events"`
        reads the system metrics sampled by the daemon. `min_step <= _step < max_step` (runstore's
        addition, as in scan_history) limits the rows before they are sampled.
        """
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise ValueError(f"history(samples=...) must be a positive int or None, got {samples!r}")
        path = self._stream_path(stream)
        ranged = min_step is not None or max_step is not None
        if keys is not None:
            if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
                raise TypeError("history(keys=...) takes a list of str")
            rows = []
            for row in (
                iter_rows(path)
                if stream not in ("default", "history")
                else (with_runtime(r, self._st.segments) for r in iter_rows(path))
            ):
                if ranged and not _in_range(row, min_step, max_step):
                    continue
                flat = flatten(row) if stream in ("default", "history") else _system_keys(row)
                if all(k in flat for k in keys):
                    rows.append({c: flat[c] for c in (x_axis, *keys) if c in flat})
            rows = _sample(rows, samples)
            if pandas:
                import pandas as pd

                return pd.DataFrame(rows)
            return rows
        if pandas:
            df = self._frame(path, samples, stream in ("default", "history"), min_step, max_step)
            if stream not in ("default", "history"):
                df = df.rename(columns=lambda c: c if c.startswith("_") else f"system.{c}")
            return df
        rows = [
            with_runtime(r, self._st.segments) if stream in ("default", "history") else _system_keys(r)
            for r in iter_rows(path)
            if not ranged or _in_range(r, min_step, max_step)
        ]
        return _sample(rows, samples)

    def downsample(
        self,
        keys: list[str],
        buckets: int = 2000,
        x_axis: str = "_step",
        *,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> dict[str, dict[str, list[Any]]]:
        """For a chart (runstore's addition): each metric of `keys` cut into at most `buckets` buckets of
        consecutive points, each with its first, min, max and last value, so no spike is lost. Returns
        `{key: {"x", "x_end", "first", "min", "max", "last", "count"}}` (lists, one item per bucket)."""
        from ._downsample import downsample

        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            raise TypeError("downsample(keys=...) takes a list of str")
        df = self._frame(self._st.history_path, None, x_axis == "_runtime" or "_runtime" in keys)
        cols = {c: df[c].to_numpy() for c in {"_step", x_axis, *keys} if c in df.columns}
        return downsample(cols, len(df), list(keys), buckets, x_axis, min_step, max_step)

    def _frame(
        self,
        path: Path,
        samples: int | None,
        runtime: bool,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Any:
        import numpy as np
        import pandas as pd

        from ._downsample import step_mask

        cache = self._st.ref.history_cache(self._st.history_name) if path == self._st.history_path else None
        cols, n = read_columns(path, cache)
        mask = step_mask(cols, n, min_step, max_step)
        if mask is not None:
            cols = {k: v[mask] for k, v in cols.items()}
            n = int(mask.sum())
        if samples is not None and n > samples:
            idx = _sample_index(n, samples)
            cols = {k: v[idx] for k, v in cols.items()}
        df = pd.DataFrame(cols, copy=False)
        if runtime and "_timestamp" in df.columns and "_runtime" not in df.columns and self._st.segments:
            segs = self._st.segments
            ts = pd.to_numeric(df["_timestamp"], errors="coerce").to_numpy(dtype=float)  # junk -> NaN
            if len(segs) == 1:
                df["_runtime"] = ts - segs[0].start + segs[0].runtime_offset
            else:
                steps = df["_step"].to_numpy()
                which = np.searchsorted(np.array([s.step for s in segs]), steps, side="right") - 1
                which = np.clip(which, 0, len(segs) - 1)
                starts = np.array([s.start for s in segs])[which]
                offs = np.array([s.runtime_offset for s in segs])[which]
                df["_runtime"] = ts - starts + offs
        return df

    # -- files ---------------------------------------------------------------------------------
    def files(
        self, names: list[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> list[File]:
        root = self._st.ref.files_dir
        out = []
        for rel, _path in walk(root):
            if names is not None and rel not in names:
                continue
            if pattern is not None and not fnmatch.fnmatch(rel, pattern):
                continue
            out.append(File(root, rel))
        return out

    def file(self, name: str) -> File:
        target = self._st.ref.saved_file(name)
        if target is None:
            raise Error(f"file {name!r} not found in run {self.id}; list them with run.files()")
        return File(self._st.ref.files_dir, self._st.ref.files_rel(target))

    # -- artifacts -----------------------------------------------------------------------------
    def logged_artifacts(self, per_page: int = 100) -> list[Any]:
        """The artifact versions this run logged, oldest first."""
        from ._artifacts import runs_artifacts

        return runs_artifacts(self._api.store, f"{self.project}/{self.id}", used=False)

    def used_artifacts(self, per_page: int = 100) -> list[Any]:
        """The artifact versions this run used, oldest first."""
        from ._artifacts import runs_artifacts

        return runs_artifacts(self._api.store, f"{self.project}/{self.id}", used=True)

    # -- tables --------------------------------------------------------------------------------
    def table(self, key: str, step: int | None = None) -> Any:
        """A logged `Table` read back: the latest one (from the summary), or the one logged at `step`.

        INCREMENTAL tables come back whole (every increment up to that log). For a chart logged under
        `K`, `table("K")` finds its table at `K_table`. `.get_dataframe()` gives a DataFrame.
        """
        if not isinstance(key, str):
            raise TypeError(f"run.table(key) takes a str, got {type(key).__name__}")
        names = (key, f"{key}_table", f"Custom Chart Tables/{key}_table")
        if step is None:
            found = _table_ref(flatten(self._st.summary), names)
        else:
            found = None
            for row in self.scan_history(min_step=int(step), max_step=int(step) + 1):
                found = _table_ref(flatten(row), names)
        if found is None:
            where = "the summary" if step is None else f"history step {step}"
            keys = sorted(k for k, v in flatten(self._st.summary).items() if is_table_ref(v))
            raise Error(
                f"no table logged under {key!r} in {where} of run {self.id}; "
                f"tables in the summary: {keys or 'none'}"
            )
        return Table.from_json(found, root=self._st.ref.files_dir)

    # -- edits ---------------------------------------------------------------------------------
    def _append(self, ev: dict[str, Any]) -> None:
        append_record(self._st.ref, ev)

    def _write_summary_edits(self) -> None:
        s = self._summary
        if s is None or not s._edits:
            return
        step = self.lastHistoryStep + 1
        sets = [e["set"][0] for e in s._edits if "set" in e]
        dels = [e["del"][0] for e in s._edits if "del" in e]
        ev: dict[str, Any] = {"t": "summary", "step": step, "source": "api"}
        if sets:
            ev["set"] = sets
        if dels:
            ev["del"] = dels
        self._append(ev)
        s._edits.clear()

    def update(self) -> None:
        """Persist edits to name, notes, tags, group, job_type, config and summary."""
        orig = self._orig_info if self._orig_info is not None else self._info
        changed = {k: v for k, v in self._info.items() if orig.get(k) != v}
        if changed:
            self._append({"t": "edit", "set": changed, "source": "api"})
            self._orig_info = copy.deepcopy(self._info)
        cfg_set = {k: v for k, v in self.config.items() if self._orig_config.get(k, MISSING) != v}
        cfg_del = [k for k in self._orig_config if k not in self.config]
        if cfg_set or cfg_del:
            ev: dict[str, Any] = {"t": "config", "source": "api"}
            if cfg_set:
                ev["set"] = cfg_set
            if cfg_del:
                ev["del"] = cfg_del
            self._append(ev)
            self._orig_config = copy.deepcopy(self.config)
        self._write_summary_edits()

    save = update

    # -- as data ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The run as one JSON-able object: what `runstore ls --json` prints for it (and what an HTTP
        reader serves), with the config and summary as stored, not as edited since."""
        st = self._st
        info = st.info
        return {
            "id": st.id,
            "name": info.get("name"),
            "project": st.ref.project,
            "entity": info.get("entity") or "",
            "state": st.state,
            "exit_code": st.exit_code,
            "created_at": iso(st.created),
            "runtime": round(st.runtime, 3),
            "tags": list(info.get("tags") or []),
            "group": info.get("group"),
            "job_type": info.get("job_type"),
            "notes": info.get("notes"),
            "sweep": info.get("sweep_id"),
            "path": st.ref.dir,
            "config": {k: v for k, v in st.config.items() if k != "_wandb"},
            "summary": st.summary,
        }


def _system_keys(row: dict[str, Any]) -> dict[str, Any]:
    """system.jsonl stores wandb-core's names bare (`cpu`); wandb serves them as `system.cpu`."""
    return {k if k.startswith("_") else f"system.{k}": v for k, v in row.items()}


def _in_range(row: dict[str, Any], min_step: int | None, max_step: int | None) -> bool:
    step = row.get("_step", 0)
    return (min_step is None or step >= min_step) and (max_step is None or step < max_step)


def _table_ref(flat: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
    for name in names:
        if is_table_ref(flat.get(name)):
            return flat[name]
    return None


def _sample_index(n: int, samples: int) -> Any:
    import numpy as np

    return np.unique(np.linspace(0, n - 1, samples).round().astype(np.int64))


def _sample(rows: list[dict[str, Any]], samples: int | None) -> list[dict[str, Any]]:
    if samples is None or len(rows) <= samples:
        return rows
    n = len(rows)
    if samples == 1:
        return [rows[-1]]
    idx = sorted({round(i * (n - 1) / (samples - 1)) for i in range(samples)})
    return [rows[i] for i in idx]


__all__ = ["Api", "Run", "Runs", "File"]
