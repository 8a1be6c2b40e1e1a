"""The read API over HTTP: what `runstore.Api` answers locally, answered by the server for its store.

Every route is under /api/v1, needs a `read` token, and sees what the token reaches (a project-scoped
token: its project only, and the sweeps of that project). The work is the local Api's: the same filter
and order code (store/query.py), the same Run and Sweep objects over the server's store, so a client
(`runstore.Api(base_url=...)`, api/_remote.py) gets the answers the local Api would give.

* `GET /projects`; `GET /runs` (every project) and `GET /projects/{p}/runs`: `filters` (JSON, the
  MongoDB-style subset), `order`, `per_page`, `cursor` (from the previous page's `next_cursor`);
* `GET /projects/{p}/runs/{id}`: one run, with its files (names, sizes, and the store URL that serves
  their bytes with HTTP Range);
* `GET .../history`: `Run.history()` (`keys`, `samples`, `x_axis`, `stream`, a step range);
* `GET .../history/downsample`: per metric at most N buckets of first/min/max/last (no spike lost;
  over `_step` read from each metric's min/max pyramid, store/pyramid.py, so zooming costs no pass);
* `GET .../history/rows`: every row (`scan_history`), a page at a time, resumable by `cursor`;
* `GET /sweeps`, `GET /sweeps/{id}`: sweeps with their runs and best run.

Bodies are written by the store's JSON encoder, so NaN and ±Infinity in summaries and histories come
back as they were logged (as the `NaN`/`Infinity` extensions Python's json reads).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from ..api import Api, Run, Sweep
from ..api._downsample import MAX_BUCKETS
from ..api._downsample import downsample as downsample_columns
from ..base.gcpause import paused
from ..errors import Error, RunNotFound, StoreError
from ..store import jsonl
from ..store import layout as L
from ..store import sweeps as S
from ..store.history import CHUNK, WideHistory, column_samples, flatten, read_columns, samples_of
from ..store.index import load_states
from ..store.pyramid import HistoryPyramids
from ..store.pyramid import empty as no_buckets
from ..store.query import iso, select
from ..store.runs import RunState, load_run, with_runtime
from .app import API, STORE_URL, ApiError, Server, may_touch
from .tokens import Token

MAX_PER_PAGE = 1000
MAX_PAGE_ROWS = 10_000
MAX_FILTER = 64 << 10  # bytes of a `filters` query parameter
MAX_KEYS = 200
T = TypeVar("T")


class JsonBody(JSONResponse):
    """JSON written by the store's encoder: NaN/Infinity and big ints survive, as in the store."""

    def render(self, content: Any) -> bytes:
        return jsonl.encode(content)


# -- what the schema promises ---------------------------------------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Open):
    code: str
    message: str


class ReadError(BaseModel):
    error: ErrorDetail


class FileDoc(BaseModel):
    name: str
    size: int
    updated_at: str | None
    url: str


class RunDoc(_Open):
    id: str
    project: str
    name: Any = None
    entity: Any = None
    state: str
    exit_code: Any = None
    created: float
    created_at: str
    heartbeat_at: str
    last_activity: float
    runtime: float
    last_step: int
    tags: list[Any]
    group: Any = None
    job_type: Any = None
    notes: Any = None
    sweep: Any = None
    config: dict[str, Any]
    summary: dict[str, Any]
    metadata: dict[str, Any]
    info: dict[str, Any]
    segments: list[list[float]]
    exit: dict[str, Any] | None
    live: dict[str, Any] | None
    history: str
    files: list[FileDoc] | None = None


class RunsPage(BaseModel):
    runs: list[RunDoc]
    total: int
    next_cursor: str | None


class Projects(BaseModel):
    projects: list[str]


class HistoryOut(BaseModel):
    rows: list[dict[str, Any]] | None = None
    columns: dict[str, list[Any]] | None = None


class Buckets(BaseModel):
    x: list[Any]
    x_end: list[Any]
    first: list[Any]
    min: list[Any]
    max: list[Any]
    last: list[Any]
    count: list[int]


class DownsampleOut(BaseModel):
    x_axis: str
    buckets: int
    metrics: dict[str, Buckets]


class RowsPage(BaseModel):
    rows: list[dict[str, Any]]
    next_cursor: str | None


class SweepDoc(_Open):
    id: str
    name: str
    state: str
    method: Any = None
    metric: dict[str, Any] | None = None
    project: str
    entity: str
    created_at: str
    created: float
    expected_run_count: int | None
    config: dict[str, Any]
    runs: int
    trials: list[dict[str, Any]]
    run_ids: list[list[str]] | None = None
    order: str | None = None
    best_run: list[str] | None = None


class SweepsOut(BaseModel):
    sweeps: list[SweepDoc]


_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ReadError, "description": d}
    for s, d in (
        (400, "Bad parameters (a filter, a name, a cursor)"),
        (401, "No token, or an unknown or revoked one"),
        (403, "The token's scope or project does not reach this"),
        (404, "No such project, run or sweep"),
        (409, "The history changed under a cursor"),
        (422, "A parameter of the wrong type or out of range"),
    )
}


class Columns:
    """The last histories charted, as columns in memory (a dashboard asks for the same run again and
    again, as it polls or zooms): at most `budget` cells, least recently used out first. An entry is
    used only while its file is unchanged (size, mtime, inode); a grown file is read again, the rows it
    already had from the disk cache (store/history.py)."""

    def __init__(self, budget: int = 16_000_000) -> None:
        self.budget = budget
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[tuple[int, int, int], dict[str, Any], int]] = OrderedDict()

    def get(self, st: RunState) -> tuple[dict[str, Any], int]:
        path = st.history_path
        try:
            s = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return {}, 0
        sig = (s.st_size, s.st_mtime_ns, s.st_ino)
        key = os.fspath(path)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == sig:
                self._items.move_to_end(key)
                return hit[1], hit[2]
        cols, n = read_columns(path, st.ref.history_cache(st.history_name))
        self._keep(key, sig, cols, n)
        return cols, n

    def samples(self, st: RunState) -> dict[str, Any]:
        """Each column's dtype, or first value for a column of objects (history.column_samples): from
        memory, else from the column cache's header, reading the columns only when neither knows."""
        path = st.history_path
        try:
            s = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            return {}
        with self._lock:
            hit = self._items.get(os.fspath(path))
        if hit is not None and hit[0] == (s.st_size, s.st_mtime_ns, s.st_ino):
            return samples_of(hit[1])
        got = column_samples(path, st.ref.history_cache(st.history_name))
        return got if got is not None else samples_of(self.get(st)[0])

    def _keep(self, key: str, sig: tuple[int, int, int], cols: dict[str, Any], n: int) -> None:
        cells = n * max(1, len(cols))
        if cells <= self.budget:
            with self._lock:
                self._items[key] = (sig, cols, n)
                self._items.move_to_end(key)
                while sum(e[2] * max(1, len(e[1])) for e in self._items.values()) > self.budget:
                    self._items.popitem(last=False)


class Charts:
    """What charts read: per metric at most N buckets of first/min/max/last over a step range (the
    downsample route's "metrics", and the UI's). Over `_step`, from each metric's pyramid (store/pyramid.py:
    every zoom of a million points costs O(buckets), not a pass over them), kept per history file and
    metric, least recently used out first beyond `budget` points; over another x axis, from the columns
    (`Columns`) in one pass, as api/_downsample does. Ranges of at most EXACT points are cut into
    equal-count buckets from the raw points either way, so a short series looks as it always did.
    A pyramid file holds levels, not points: the whole range of a finished run (a dashboard's first paint)
    is read from it alone; a zoom's edges and short ranges take the points from the columns, read once
    per history (`Columns` keeps them) and kept by the pyramid after."""

    EXACT = 1 << 16  # points; cutting these takes well under a millisecond

    def __init__(self, columns: Columns | None = None, budget: int = 16_000_000) -> None:
        self.columns = columns if columns is not None else Columns()
        self.budget = budget
        self._lock = threading.Lock()
        # history path -> (its lock, its pyramids, what they held when last read: HistoryPyramids.points)
        self._items: OrderedDict[str, list[Any]] = OrderedDict()

    def downsample(
        self,
        run: Run,
        keys: list[str],
        buckets: int,
        x_axis: str = "_step",
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> dict[str, dict[str, list[Any]]]:
        if not 1 <= buckets <= MAX_BUCKETS:
            raise ValueError(f"buckets must be 1..{MAX_BUCKETS}, got {buckets}")
        st = run._st
        if x_axis != "_step":
            if x_axis == "_runtime" or "_runtime" in keys:  # derived from the segments: not a column
                return run.downsample(keys, buckets, x_axis, min_step=min_step, max_step=max_step)
            cols, n = self.columns.get(st)
            return downsample_columns(cols, n, keys, buckets, x_axis, min_step, max_step)
        out: dict[str, dict[str, list[Any]]] = {}
        if "_runtime" in keys:
            out.update(run.downsample(["_runtime"], buckets, x_axis, min_step=min_step, max_step=max_step))
        names = [k for k in keys if k != "_runtime"]
        if names:
            out.update(self._pyramids(st, names, buckets, min_step, max_step))
        return {k: out[k] for k in keys}

    def _pyramids(
        self, st: RunState, keys: list[str], buckets: int, min_step: int | None, max_step: int | None
    ) -> dict[str, dict[str, list[Any]]]:
        path = st.history_path
        name = os.fspath(path)
        with self._lock:
            item = self._items.get(name)
            if item is None:
                hp = HistoryPyramids(path, st.ref.history_pyramid(st.history_name))
                item = self._items[name] = [threading.Lock(), hp, 0]
            self._items.move_to_end(name)
        lock, hp = item[0], item[1]
        with lock:  # one request extends a history's pyramids at a time; queries read them whole
            got = hp.query(keys, lambda: self.columns.get(st), min_step, max_step, buckets, self.EXACT)
            out = {k: got[k] if k in got else no_buckets() for k in keys}
            held = hp.points()
        with self._lock:
            item[2] = held
            total = sum(e[2] for e in self._items.values())
            for k in list(self._items):
                if total <= self.budget:
                    break
                size = self._items[k][2]
                if k != name or size > self.budget:  # the one just read stays, unless it alone is too big
                    self._items.pop(k)
                    total -= size
        return out


def route(*parts: str) -> str:
    """A route of the read API (its nouns are the API's; that they name store directories too is the
    point of mirroring `Api`, not a store path being built here)."""
    return "/".join((API, *parts))


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:500]


async def work(fn: Callable[..., T], *args: Any) -> T:
    """Run `fn` off the event loop; what it raises becomes a 4xx with the JSON error shape."""
    try:
        return await run_in_threadpool(fn, *args)
    except ApiError:
        raise
    except (RunNotFound, FileNotFoundError) as e:
        raise ApiError(404, "not_found", _one_line(e)) from None
    except WideHistory as e:
        raise ApiError(422, "too_wide", _one_line(e)) from None
    except StoreError as e:
        raise ApiError(500, "store_error", _one_line(e)) from None
    except (Error, ValueError, TypeError, RecursionError) as e:
        # UsageError (a bad filter or operator) is a ValueError and an Error
        raise ApiError(400, "bad_request", _one_line(e)) from None


# -- documents --------------------------------------------------------------------------------------------
def run_doc(run: Run, files: bool = False) -> dict[str, Any]:
    """A run as the client rebuilds it: the folded state (info, config, summary, metadata, segments,
    exit, live record, history generation) and what the server computed of it (state, runtime, last
    activity), plus the friendly fields a dashboard reads."""
    st = run._st
    info = st.info
    doc: dict[str, Any] = {
        "id": st.id,
        "project": st.ref.project,
        "name": info.get("name"),
        "entity": info.get("entity") or "",
        "state": st.state,
        "exit_code": st.exit_code,
        "created": st.created,
        "created_at": iso(st.created),
        "heartbeat_at": run.heartbeat_at,
        "last_activity": st.last_activity(),
        "runtime": st.runtime,
        "last_step": run.lastHistoryStep,
        "tags": list(info.get("tags") or []),
        "group": info.get("group"),
        "job_type": info.get("job_type"),
        "notes": info.get("notes"),
        "sweep": info.get("sweep_id"),
        "config": st.config,
        "summary": st.summary,
        "metadata": st.metadata,
        "info": info,
        "segments": [[s.start, s.step, s.runtime_offset] for s in st.segments],
        "exit": st.exit,
        "live": st.live,
        "history": st.history_name,
    }
    if files:
        base = f"{STORE_URL}/{st.ref.rel}/{L.FILES_DIR}/"
        doc["files"] = [
            {"name": f.name, "size": f.size, "updated_at": f.updated_at, "url": base + quote(f.name)}
            for f in run.files()
        ]
    return doc


def sweep_doc(sweep: Sweep, detail: bool, order: str | None = None) -> dict[str, Any]:
    doc = sweep.to_dict()
    doc["created"] = sweep.created
    if detail:
        doc["run_ids"] = [[s.ref.project, s.id] for s in sweep.load_states()]
        doc["order"] = sweep.order
        try:
            best = sweep.best_run(order)
        except Error:
            best = None  # no metric and no order: no best run to name
        doc["best_run"] = [best.project, best.id] if best is not None else None
    return doc


def _cursor_offset(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if not (cursor.isascii() and cursor.isdigit()) or len(cursor) > 18:
        raise ApiError(400, "bad_cursor", "cursor must be a next_cursor this API returned")
    return int(cursor)


def _filters(raw: str | None) -> Any:
    if raw is None or raw.strip() == "":
        return None
    if len(raw) > MAX_FILTER:
        raise ApiError(400, "bad_filter", f"filters are at most {MAX_FILTER} bytes of JSON")
    if jsonl.too_deep(raw):
        raise ApiError(400, "bad_filter", f"filters nest more than {jsonl.MAX_DEPTH} levels")
    try:
        flt = jsonl.decode(raw)
    except ValueError:
        raise ApiError(400, "bad_filter", "filters is not JSON (a MongoDB-style object)") from None
    if not isinstance(flt, dict):
        raise ApiError(400, "bad_filter", 'filters must be a JSON object like {"state": "finished"}')
    for pattern in _regexes(flt):
        _check_regex(pattern)
    return flt


MAX_REGEX = 200
# a quantified group that itself ends in a quantifier, `(a+)+`, `(x*)*`, `(\w+){2,}`: the shape of
# catastrophic backtracking, which would hold a worker for as long as a hostile pattern likes
_NESTED = re.compile(r"\((?:[^()\\]|\\.)*[+*}]\)[+*{]")


def _regexes(flt: Any) -> list[str]:
    out: list[str] = []
    stack = [flt]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "$regex" and isinstance(v, str):
                    out.append(v)
                else:
                    stack.append(v)
        elif isinstance(x, list):
            stack.extend(x)
    return out


def _check_regex(pattern: str) -> None:
    """Patterns a token holder sends run in the server's workers: bounded in length, and never of the
    nested-quantifier shape that backtracks exponentially."""
    if len(pattern) > MAX_REGEX:
        raise ApiError(400, "bad_filter", f"a $regex is at most {MAX_REGEX} characters on a server")
    if _NESTED.search(pattern):
        raise ApiError(
            400,
            "bad_filter",
            f"$regex {pattern!r} nests quantifiers (like (a+)+), which can backtrack without end; "
            "write it without the nested repeat",
        )


def _keys(keys: list[str] | None) -> list[str] | None:
    if keys is not None and len(keys) > MAX_KEYS:
        raise ApiError(400, "bad_request", f"at most {MAX_KEYS} keys per request")
    return keys


def scan_page(
    st: RunState,
    keys: list[str] | None,
    min_step: int,
    max_step: int | None,
    offset: int,
    page_size: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to `page_size` rows as `Run.scan_history` yields them, read from byte `offset` of the history;
    the offset to continue from, None at its end (a torn last line is left for the next page)."""
    rows: list[dict[str, Any]] = []
    segments = st.segments
    try:
        f = jsonl.open_read(st.history_path)
    except FileNotFoundError:
        return rows, None
    with f:
        f.seek(offset)
        base, rest = offset, b""
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return rows, None
            data = rest + chunk
            start = 0
            while len(rows) < page_size:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                line, start = data[start:nl], nl + 1
                try:
                    row = jsonl.decode(line) if line and not jsonl.too_deep(line) else None
                except ValueError:
                    continue
                if not isinstance(row, dict) or type(row.get("_step")) is not int:
                    continue
                step = row["_step"]
                if step < min_step or (max_step is not None and step >= max_step):
                    continue
                row = with_runtime(row, segments)
                if keys is None:
                    rows.append(row)
                    continue
                flat = flatten(row) if any(isinstance(v, dict) for v in row.values()) else row
                if all(k in flat for k in keys):
                    rows.append({k: flat[k] for k in keys})
            if len(rows) >= page_size:
                return rows, base + start
            base, rest = base + start, data[start:]


def project_of(project: str, token: Token | None) -> str:
    """`project`, refused when it names nothing a store can hold (404) or `token` does not reach it (403)."""
    if not L.valid_name(project):
        raise ApiError(404, "not_found", f"no project {project[:100]!r}")
    if not may_touch(token, f"{L.PROJECTS_DIR}/{project}"):
        raise ApiError(403, "forbidden", f"this token is for project {token.project!r} only")  # type: ignore[union-attr]
    return project


def find_run(api: Api, srv: Server, project: str, run_id: str) -> Run:
    """Run `run_id` of `project` (whose access was checked), or a 404 naming it."""
    if not L.valid_name(run_id):
        raise ApiError(404, "not_found", f"no run {run_id[:100]!r} in project {project!r}")
    ref = srv.store.find_run_by_id(run_id, project)
    if ref is None:
        raise ApiError(404, "not_found", f"no run {run_id!r} in project {project!r}")
    st = load_run(ref)
    if not st.info:
        raise ApiError(404, "not_found", f"run {project}/{run_id} has no records yet")
    return Run(api, st)


# -- routes ------------------------------------------------------------------------------------------------
def install(app: FastAPI, srv: Server) -> None:
    """Add the read routes to `app` (create_app calls this)."""
    api = Api(store=srv.store)
    charts = app.state.charts = Charts()

    def load(project: str, run_id: str, token: Token | None) -> Run:
        project_of(project, token)
        return find_run(api, srv, project, run_id)

    def listing(project: str | None, filters: Any, order: str, per_page: int, offset: int) -> dict[str, Any]:
        with paused():  # thousands of runs: see base/gcpause.py
            states = select(load_states(srv.store, project, keep=True), filters, order)
            page = states[offset : offset + per_page]
            end = offset + len(page)
            return {
                "runs": [run_doc(Run(api, s)) for s in page],
                "total": len(states),
                "next_cursor": str(end) if end < len(states) else None,
            }

    run_path = route("projects", "{project}", "runs", "{run_id}")
    common: dict[str, Any] = {"response_class": JsonBody, "responses": _ERRORS, "tags": ["read"]}
    order_q = Query(
        "+created_at", max_length=500, description="`+`/`-` and a field, e.g. -summary_metrics.acc"
    )
    filters_q = Query(None, description='MongoDB-style filters as JSON, e.g. {"config.lr": {"$gt": 0.01}}')
    per_page_q = Query(50, ge=1, le=MAX_PER_PAGE)
    cursor_q = Query(None, pattern=r"^[0-9]{0,18}$", description="`next_cursor` of the previous page")
    keys_q = Query(None, description="Metrics to read (repeat the parameter for several)")

    @app.get(route("projects"), response_model=Projects, **common)
    async def projects(request: Request) -> Any:
        """The projects of the store the token reaches."""
        token = srv.authenticate(request, "read")
        names = await work(srv.store.projects)
        return JsonBody({"projects": [p for p in names if may_touch(token, f"{L.PROJECTS_DIR}/{p}")]})

    @app.get(route("runs"), response_model=RunsPage, **common)
    async def all_runs(
        request: Request,
        filters: str | None = filters_q,
        order: str = order_q,
        per_page: int = per_page_q,
        cursor: str | None = cursor_q,
    ) -> Any:
        """Runs of every project the token reaches, filtered and ordered as `Api().runs()` does."""
        token = srv.authenticate(request, "read")
        flt, offset = _filters(filters), _cursor_offset(cursor)
        project = token.project if token is not None else None
        return JsonBody(await work(listing, project, flt, order, per_page, offset))

    @app.get(route("projects", "{project}", "runs"), response_model=RunsPage, **common)
    async def runs(
        request: Request,
        project: str,
        filters: str | None = filters_q,
        order: str = order_q,
        per_page: int = per_page_q,
        cursor: str | None = cursor_q,
    ) -> Any:
        """Runs of a project, filtered and ordered as `Api().runs("project", filters, order)` does."""
        token = srv.authenticate(request, "read")
        project_of(project, token)
        flt, offset = _filters(filters), _cursor_offset(cursor)
        return JsonBody(await work(listing, project, flt, order, per_page, offset))

    @app.get(run_path, response_model=RunDoc, **common)
    async def one_run(request: Request, project: str, run_id: str) -> Any:
        """One run: config, summary, metadata, state, files (their bytes: GET their `url`, Range works)."""
        token = srv.authenticate(request, "read")
        return JsonBody(await work(lambda: run_doc(load(project, run_id, token), files=True)))

    @app.get(f"{run_path}/history", response_model=HistoryOut, **common)
    async def history(
        request: Request,
        project: str,
        run_id: str,
        keys: list[str] | None = keys_q,
        samples: int = Query(500, ge=0, le=10_000_000, description="Rows evenly sampled; 0: every row"),
        x_axis: str = Query("_step", max_length=1000),
        stream: Literal["default", "history", "events", "system"] = "default",
        min_step: int | None = Query(None, ge=-(2**62), le=2**62),
        max_step: int | None = Query(None, ge=-(2**62), le=2**62),
        pandas: bool = Query(False, description="Columns of the DataFrame `history(pandas=True)` gives"),
    ) -> Any:
        """`Run.history()`: rows (or a DataFrame's columns with `pandas=true`), evenly sampled."""
        token = srv.authenticate(request, "read")
        ks = _keys(keys)

        def run() -> dict[str, Any]:
            r = load(project, run_id, token)
            out = r.history(
                samples=samples or None,
                keys=ks,
                x_axis=x_axis,
                pandas=pandas,
                stream=stream,
                min_step=min_step,
                max_step=max_step,
            )
            if pandas:
                return {"columns": {str(c): out[c].tolist() for c in out.columns}}
            return {"rows": out}

        return JsonBody(await work(run))

    @app.get(f"{run_path}/history/downsample", response_model=DownsampleOut, **common)
    async def downsample(
        request: Request,
        project: str,
        run_id: str,
        keys: list[str] = Query(..., min_length=1, description="Metrics to chart"),
        buckets: int = Query(2000, ge=1, le=MAX_BUCKETS),
        x_axis: str = Query("_step", max_length=1000),
        min_step: int | None = Query(None, ge=-(2**62), le=2**62),
        max_step: int | None = Query(None, ge=-(2**62), le=2**62),
    ) -> Any:
        """For a chart: each metric cut into at most `buckets` buckets of consecutive points, with each
        bucket's first, min, max and last value and the x of its first and last point."""
        token = srv.authenticate(request, "read")
        ks = _keys(keys) or []

        def run() -> dict[str, Any]:
            r = load(project, run_id, token)
            metrics = charts.downsample(r, ks, buckets, x_axis, min_step, max_step)
            return {"x_axis": x_axis, "buckets": buckets, "metrics": metrics}

        return JsonBody(await work(run))

    @app.get(f"{run_path}/history/rows", response_model=RowsPage, **common)
    async def rows(
        request: Request,
        project: str,
        run_id: str,
        keys: list[str] | None = keys_q,
        min_step: int = Query(0, ge=-(2**62), le=2**62),
        max_step: int | None = Query(None, ge=-(2**62), le=2**62),
        page_size: int = Query(1000, ge=1, le=MAX_PAGE_ROWS),
        cursor: str | None = Query(
            None, pattern=r"^[^@]{0,100}@[0-9]{1,18}$", description="`next_cursor` of the previous page"
        ),
    ) -> Any:
        """Every row, unsampled (`scan_history`), with `min_step <= _step < max_step`; with `keys`, only
        rows having all of them, reduced to them. Continue with `cursor=next_cursor` until it is null."""
        token = srv.authenticate(request, "read")
        ks = _keys(keys)

        def run() -> dict[str, Any]:
            r = load(project, run_id, token)
            st = r._st
            offset = 0
            if cursor:
                gen, _, pos = cursor.rpartition("@")
                if gen != st.history_name:
                    raise ApiError(409, "history_changed", "the run's history was rewound; scan again")
                offset = _cursor_offset(pos)
            got, nxt = scan_page(st, ks, min_step, max_step, offset, page_size)
            return {"rows": got, "next_cursor": None if nxt is None else f"{st.history_name}@{nxt}"}

        return JsonBody(await work(run))

    def sweep_visible(sweep: Sweep, token: Token | None) -> bool:
        return token is None or token.project is None or sweep.project == token.project

    @app.get(route("sweeps"), response_model=SweepsOut, **common)
    async def sweeps(request: Request) -> Any:
        """The sweeps of the store the token reaches (a project token: its project's)."""
        token = srv.authenticate(request, "read")

        def run() -> dict[str, Any]:
            return {"sweeps": [sweep_doc(s, False) for s in api.sweeps() if sweep_visible(s, token)]}

        return JsonBody(await work(run))

    @app.get(route("sweeps", "{sweep_id}"), response_model=SweepDoc, **common)
    async def one_sweep(
        request: Request,
        sweep_id: str,
        order: str | None = Query(
            None, max_length=500, description="best_run's order; default: the metric's"
        ),
    ) -> Any:
        """One sweep: config, state, trials, its runs ([project, id]) and best run."""
        token = srv.authenticate(request, "read")

        def run() -> dict[str, Any]:
            if not L.valid_name(sweep_id):
                raise ApiError(404, "not_found", f"no sweep {sweep_id[:100]!r}")
            if not S.SweepDir(srv.store, sweep_id).exists():
                raise ApiError(404, "not_found", f"no sweep {sweep_id!r}")
            sweep = api.sweep(sweep_id)
            if not sweep_visible(sweep, token):
                raise ApiError(404, "not_found", f"no sweep {sweep_id!r}")  # not even its existence
            doc = sweep_doc(sweep, True, order or None)
            if token is not None and token.project is not None:
                doc["run_ids"] = [r for r in doc["run_ids"] if r[0] == token.project]
                if doc["best_run"] is not None and doc["best_run"][0] != token.project:
                    doc["best_run"] = None
            return doc

        return JsonBody(await work(run))


__all__ = [
    "install",
    "run_doc",
    "sweep_doc",
    "scan_page",
    "JsonBody",
    "Charts",
    "Columns",
    "project_of",
    "find_run",
]
