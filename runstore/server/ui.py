"""The dashboard: its pages (static files in ./static, plain ES modules) and the JSON it reads beyond
the read API (read.py).

The pages are one client of the API under /api/v1; what they need that `Api(base_url=)` does not
(a run's chartable metrics, one metric of many runs at once, a diff, media bytes with a safe content
type) is here, behind the same tokens. A browser cannot add an Authorization header to an <img>, so a
token may also come as the `runstore_token` cookie, for reading only (app.py `Server.credentials`).

* `GET /` and `GET /ui/...`: the single page and its assets (vendored uPlot; plotly.js from the
  plotly package when it is installed);
* `GET /ui/raw/<store path>`: a store file's bytes with a content type from a short list (images,
  audio, video, JSON, text; anything else is octet-stream), always `nosniff` and a `sandbox` CSP, so a
  logged HTML page runs in an opaque origin that can reach neither the API nor the cookie;
* `GET /api/v1/projects/{p}/table`: the runs table, compact rows filtered with `runstore ls --filter`
  expressions;
* `GET /api/v1/projects/{p}/runs/{id}/metrics`: what can be charted (numeric history columns, with
  `define_metric` hidden/step_metric), the media keys and their types, whether there are system metrics;
* `GET /api/v1/projects/{p}/overlay`: one metric of many runs, downsampled (a project chart in one
  request);
* `GET /api/v1/projects/{p}/diff`: `runstore diff` of two or more runs.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from ..api import Api, Run
from ..api._diff import compare_many
from ..base.gcpause import paused
from ..errors import Error, UsageError
from ..store import layout as L
from ..store.history import flatten
from ..store.index import load_states
from ..store.query import parse_filter, select
from ..store.runs import RunState
from .app import STORE_URL, ApiError, Server
from .read import JsonBody, find_run, project_of, route

STATIC = Path(__file__).parent / "static"
MAX_OVERLAY = 500  # runs in one overlay request
MAX_TABLE = 20_000  # rows of a runs table
MAX_FILTER = 16 << 10  # characters of a table's filter expressions: a person types them
# A page may load its own scripts, styles and the store's media; nothing from elsewhere, no plugins,
# and it may be framed by nothing (clickjacking).
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# Types a browser may render from the store; everything else is bytes to download. HTML and SVG render,
# but only ever under FILE_CSP's sandbox: in an opaque origin, never as this one.
SAFE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".ogv": "video/ogg",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".patch": "text/plain; charset=utf-8",
    ".yaml": "text/plain; charset=utf-8",
    ".py": "text/plain; charset=utf-8",
    ".csv": "text/plain; charset=utf-8",
    ".jsonl": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
FILE_CSP = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:"


def content_type(name: str) -> str:
    return SAFE_TYPES.get(os.path.splitext(name.lower())[1], "application/octet-stream")


def _plotly_js() -> Path | None:
    try:
        import plotly
    except ImportError:
        return None
    p = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return p if p.is_file() else None


def chartable(run: Run, samples: dict[str, Any]) -> dict[str, Any]:
    """What a run page charts, from each history column's dtype or first value (`Columns.samples`):
    numeric columns (wandb's `_step`/`_runtime`/`_timestamp` are axes), with `define_metric`'s hidden
    and step_metric, and media keys by type."""
    defs = run._st.defs
    metrics: list[dict[str, Any]] = []
    media: dict[str, str] = {}
    for key, v in samples.items():
        if key.startswith("_"):  # _step, _runtime, _timestamp: the x axes, not charts
            continue
        if hasattr(v, "kind"):  # a numpy dtype: a column of numbers (or of bools, strings)
            numeric = v.kind in "iuf"
        else:  # a column of objects is what its first value is
            if isinstance(v, list) and v and isinstance(v[0], dict):
                v = v[0]  # a list of references (several plotly figures, say): their type
            if isinstance(v, dict) and isinstance(v.get("_type"), str):
                media[key] = v["_type"]
            numeric = type(v) in (int, float)
        if not numeric:
            continue
        d = defs.lookup(key)
        entry: dict[str, Any] = {"name": key}
        if isinstance(d, dict):
            if d.get("hidden"):
                entry["hidden"] = True
            if isinstance(d.get("step_metric"), str):
                entry["step_metric"] = d["step_metric"]
        metrics.append(entry)
    return {"metrics": metrics, "media": [{"key": k, "type": t} for k, t in sorted(media.items())]}


def _scalar(v: Any) -> Any:
    """A table cell: scalars as they are, media and other objects as their `_type` (or a marker)."""
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict) and isinstance(v.get("_type"), str):
        return {"_type": v["_type"]}
    return {"_type": type(v).__name__}


def table_row(st: RunState) -> dict[str, Any]:
    """A run as one row of the project page's table: what the table, the chart legend and the group-by
    need, without metadata, files or history (1,000 runs must arrive in well under a second)."""
    info = st.info
    defs = st.defs.to_list()
    row: dict[str, Any] = {
        "id": st.id,
        "name": info.get("name"),
        "state": st.state,
        "created": st.created,
        "runtime": st.runtime,
        "heartbeat": st.last_activity(),
        "tags": list(info.get("tags") or []),
        "group": info.get("group"),
        "job_type": info.get("job_type"),
        "sweep": info.get("sweep_id"),
        "notes": info.get("notes"),
        "config": {k: _scalar(v) for k, v in flatten(st.config).items()},
        "summary": {k: _scalar(v) for k, v in flatten(st.summary).items() if not k.startswith("_")},
    }
    if defs:
        row["metrics"] = {
            d["name"]: {k: d[k] for k in ("hidden", "step_metric") if d.get(k)}
            for d in defs
            if d.get("hidden") or d.get("step_metric")
        }
    return row


def _store_url(srv: Server, p: Path) -> str:
    return f"{STORE_URL}/{quote(p.relative_to(srv.root).as_posix())}"


def _size(p: Path) -> int | None:
    try:
        return os.stat(p).st_size
    except OSError:
        return None


def install(app: FastAPI, srv: Server) -> None:
    """Add the pages and the UI's routes to `app` (create_app calls this)."""
    api = Api(store=srv.store)
    charts = app.state.charts  # read.py's: the same pyramids answer the read API and the pages

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        html = (STATIC / "index.html").read_bytes()
        return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})

    @app.get("/ui/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> Response:
        p = _plotly_js()
        if p is None:
            raise ApiError(404, "not_found", "plotly is not installed: pip install 'runstore[media]'")
        return FileResponse(p, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    @app.get("/ui/raw/{rel:path}", include_in_schema=False)
    async def raw(request: Request, rel: str) -> Response:
        token = srv.authenticate(request, "read")
        path = srv.path(rel, token)
        if L.kind_of(rel) in (None, L.DERIVED) or not path.is_file():
            raise ApiError(404, "not_found", "no such file")
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": FILE_CSP,
            "Cache-Control": "no-cache",
        }
        if request.query_params.get("download"):
            headers["Content-Disposition"] = "attachment"
        return FileResponse(path, media_type=content_type(rel), headers=headers)

    @app.get("/ui/{asset:path}", include_in_schema=False)
    async def static(asset: str) -> Response:
        p = (STATIC / asset).resolve()
        if not p.is_relative_to(STATIC.resolve()) or not p.is_file():
            raise ApiError(404, "not_found", "no such page asset")
        kind = mimetypes.guess_type(p.name)[0] or "application/octet-stream"
        if p.suffix == ".js":
            kind = "text/javascript"
        return FileResponse(p, media_type=kind, headers={"Cache-Control": "no-cache"})

    def load(project: str, run_id: str) -> Run:
        return find_run(api, srv, project, run_id)

    def project_ok(request: Request, project: str) -> str:
        return project_of(project, srv.authenticate(request, "read"))

    common: dict[str, Any] = {"response_class": JsonBody, "tags": ["dashboard"]}
    run_path = route("projects", "{project}", "runs", "{run_id}")

    @app.get(f"{run_path}/metrics", **common)
    async def metrics(request: Request, project: str, run_id: str) -> Any:
        """What a run page can chart: numeric history keys (with `define_metric`'s hidden and
        step_metric), media keys and their types, and whether system metrics were sampled."""
        project_ok(request, project)

        def run() -> dict[str, Any]:
            r = load(project, run_id)
            out = chartable(r, charts.columns.samples(r._st))
            ref = r._st.ref
            out["system"] = os.path.exists(ref.system_log)
            files = {
                "history": ref.history_file(r._st.history_name),
                "system": ref.system_log,
                "output": ref.output_log,
                "diff": ref.files_dir / L.DIFF_PATCH,
            }
            out["files"] = {k: {"url": _store_url(srv, p), "size": _size(p)} for k, p in files.items()}
            out["raw"] = f"/ui/raw/{ref.rel}/{L.FILES_DIR}/"
            return out

        return JsonBody(await run_in_threadpool(run))

    @app.get(route("projects", "{project}", "table"), **common)
    async def table(
        request: Request,
        project: str,
        filter: list[str] = Query([], description="`runstore ls --filter` expressions (AND)"),
        order: str = Query("-created_at", max_length=500),
        limit: int = Query(MAX_TABLE, ge=1, le=MAX_TABLE),
    ) -> Any:
        """The project page's runs table: compact rows (flattened config, scalar summary), filtered with
        `runstore ls --filter` expressions and ordered like `Api().runs()`."""
        project_ok(request, project)
        if sum(len(f) for f in filter) > MAX_FILTER:
            raise ApiError(422, "bad_filter", f"filters are at most {MAX_FILTER} characters in all")
        try:
            flt: dict[str, Any] = {"$and": [parse_filter(f) for f in filter]} if filter else {}
        except UsageError as e:
            raise ApiError(422, "bad_filter", str(e)) from None

        def run() -> dict[str, Any]:
            with paused():
                try:
                    states = select(load_states(srv.store, project, keep=True), flt, order)
                except (Error, ValueError, TypeError) as e:
                    raise ApiError(
                        422, "bad_filter", str(e).splitlines()[0][:500] if str(e) else "bad filter"
                    ) from None
                return {"runs": [table_row(s) for s in states[:limit]], "total": len(states)}

        return JsonBody(await run_in_threadpool(run))

    @app.get(route("projects", "{project}", "overlay"), **common)
    async def overlay(
        request: Request,
        project: str,
        key: str = Query(..., max_length=1000, description="The metric"),
        runs: list[str] = Query(..., min_length=1, description="Run ids (repeat the parameter)"),
        buckets: int = Query(1000, ge=1, le=10_000),
        x_axis: str = Query("_step", max_length=1000),
        min_step: int | None = Query(None, ge=-(2**62), le=2**62),
        max_step: int | None = Query(None, ge=-(2**62), le=2**62),
    ) -> Any:
        """One metric of many runs, each downsampled as `history/downsample` does: `{runs: {id: buckets}}`
        (a run without the metric maps to empty lists; an unknown id is left out)."""
        project_ok(request, project)
        if len(runs) > MAX_OVERLAY:
            raise ApiError(422, "invalid_request", f"at most {MAX_OVERLAY} runs per request")

        def run() -> dict[str, Any]:
            out: dict[str, Any] = {}
            for rid in dict.fromkeys(runs):
                try:
                    r = load(project, rid)
                except ApiError:
                    continue
                out[rid] = charts.downsample(r, [key], buckets, x_axis, min_step, max_step)[key]
            return {"key": key, "x_axis": x_axis, "runs": out}

        return JsonBody(await run_in_threadpool(run))

    @app.get(route("projects", "{project}", "diff"), **common)
    async def diff(
        request: Request,
        project: str,
        runs: list[str] = Query(..., min_length=2, max_length=20, description="Run ids (two or more)"),
    ) -> Any:
        """What `runstore diff` shows for these runs: `{runs, config, summary, metadata}`, each section
        mapping a key that differs to the runs' values (in the order of `runs`)."""
        project_ok(request, project)

        def run() -> dict[str, Any]:
            rs = [load(project, rid) for rid in dict.fromkeys(runs)]
            doc = compare_many(rs)
            return {"runs": [r.id for r in rs], **doc}

        return JsonBody(await run_in_threadpool(run))


__all__ = ["install", "content_type", "chartable", "STATIC"]
