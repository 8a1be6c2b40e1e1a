"""The dashboard's artifacts page: a project's artifact collections, their versions, one version's
manifest and its lineage, as JSON (the page is static/artifacts.js).

Everything comes from the project's artifact log (store/artifacts.py `load`, folded), and a version's
manifest. The log records who logged a version (`run`, and `log` records: every run that logged the same
content) and who used it (`use` records, written by `run.use_artifact`), so the lineage is one hop each
way from the log alone; the page's graph adds a second hop from the same project's log: what the
logging runs used, and what the using runs logged.

* `GET /api/v1/projects/{p}/artifacts`: every collection (name, type, aliases) with its live versions
  (number, digest, size, file count, aliases with `latest` on the newest, tags, created, the run that
  logged it, the runs that used it);
* `GET /api/v1/projects/{p}/artifacts/{collection}/{version}`: one version (`vN`, `N`, `latest` or a
  custom alias) with its manifest entries a page at a time (`offset`, `limit`, a path `prefix`) and its
  lineage graph (nodes and edges).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict

from ..errors import Error
from ..store import artifacts as A
from ..store import layout as L
from ..store.query import iso
from ..store.runs import load_run
from .app import ApiError, Server, may_touch
from .read import JsonBody, ReadError, project_of, route, work
from .tokens import Token

MAX_ENTRIES = 10_000  # manifest entries in one page
MAX_COLUMN = 50  # nodes of one kind in one column of the lineage graph
MAX_NAMES = 200  # run names looked up for one graph
_VERSION = re.compile(r"^v?([0-9]{1,9})$")
NOUN = L.ARTIFACTS_DIR  # the API's noun, which names the store's directory too (as read.py's do)


# -- what the schema promises ---------------------------------------------------------------------------
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class VersionDoc(_Open):
    collection: str
    version: int
    name: str
    type: str
    digest: str
    size: int
    files: int | None
    aliases: list[str]
    tags: list[str]
    description: str | None = None
    metadata: dict[str, Any]
    created: float
    created_at: str
    run: str | None
    loggers: list[str]
    users: list[str]
    source: str | None = None


class CollectionDoc(_Open):
    name: str
    type: str
    aliases: list[str]
    versions: list[VersionDoc]


class CollectionsOut(BaseModel):
    project: str
    collections: list[CollectionDoc]


class EntryDoc(_Open):
    path: str
    digest: str
    size: int
    ref: str | None = None
    extra: dict[str, Any] | None = None
    url: str | None = None


class NodeDoc(_Open):
    id: str
    kind: str
    label: str
    column: int
    project: str | None = None
    run_id: str | None = None
    name: str | None = None
    collection: str | None = None
    version: int | None = None


class GraphDoc(BaseModel):
    nodes: list[NodeDoc]
    edges: list[list[str]]
    truncated: bool


class VersionDetail(VersionDoc):
    project: str
    entries: list[EntryDoc]
    total: int
    offset: int
    next_offset: int | None
    manifest_error: str | None = None
    lineage: GraphDoc


_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ReadError, "description": d}
    for s, d in (
        (401, "No token, or an unknown or revoked one"),
        (403, "The token's project is another"),
        (404, "No such project, collection or version"),
        (422, "A parameter of the wrong type or out of range"),
    )
}


# -- documents --------------------------------------------------------------------------------------------
class _Counts:
    """Files per manifest: manifests are immutable (named by their digest), so a count is kept for good,
    the least recently used first out past `size` entries."""

    def __init__(self, size: int = 20_000) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str, str, str, str], int] = OrderedDict()

    def get(self, srv: Server, project: str, collection: str, digest: str) -> int | None:
        key = (str(srv.root), project, collection, digest)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        try:
            objects, refs = A.read_entries(srv.store, project, collection, digest)
        except (Error, OSError, ValueError):
            return None  # missing or unreadable: the page says the count is unknown
        n = len(objects) + len(refs)
        with self._lock:
            self._items[key] = n
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return n


def version_doc(col: A.Collection, v: A.VersionRec, files: int | None) -> dict[str, Any]:
    latest = col.latest
    aliases = list(v.aliases) + (["latest"] if latest is not None and latest.version == v.version else [])
    return {
        "collection": col.name,
        "version": v.version,
        "name": f"{col.name}:v{v.version}",
        "type": v.type,
        "digest": v.digest,
        "size": v.size,
        "files": files,
        "aliases": aliases,
        "tags": list(v.tags),
        "description": v.description,
        "metadata": v.metadata,
        "created": v.time,
        "created_at": iso(v.time),
        "run": v.run,
        "loggers": list(v.loggers),
        "users": list(v.users),
        "source": v.source,
    }


def find_version(col: A.Collection, version: str) -> A.VersionRec | None:
    """`vN`/`N`, `latest` or a custom alias of a collection: its live version, or None."""
    if version == "latest":
        return col.latest
    m = _VERSION.match(version)
    if m:
        n = int(m.group(1))
        v = col.versions[n] if n < len(col.versions) else None
    else:
        k = col.aliases.get(version)
        v = col.versions[k] if k is not None else None
    return v if v is not None and not v.deleted else None


def _split_run(run: str) -> tuple[str | None, str]:
    project, _, rid = run.rpartition("/")
    return (project or None), rid


def lineage(
    srv: Server, token: Token | None, arts: A.ProjectArtifacts, col: A.Collection, v: A.VersionRec
) -> dict[str, Any]:
    """The graph around a version, in columns: what its logging runs used (0), the runs that logged it
    (1), the version (2), the runs that used it (3), what those runs logged (4). Edges point the way
    data flows: artifact -> run that used it, run -> artifact it logged."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[list[str]] = []
    per_column: dict[int, int] = {}
    truncated = False
    # every live version of the project, by the runs that logged and used it (the second hop)
    logged: dict[str, list[tuple[A.Collection, A.VersionRec]]] = {}
    used: dict[str, list[tuple[A.Collection, A.VersionRec]]] = {}
    for c in arts.collections.values():
        for x in c.live:
            for r in x.loggers:
                logged.setdefault(r, []).append((c, x))
            for r in x.users:
                used.setdefault(r, []).append((c, x))

    def add(node_id: str, column: int, doc: dict[str, Any]) -> bool:
        nonlocal truncated
        if node_id in nodes:
            return True
        if per_column.get(column, 0) >= MAX_COLUMN:
            truncated = True
            return False
        per_column[column] = per_column.get(column, 0) + 1
        nodes[node_id] = {"id": node_id, "column": column, **doc}
        return True

    def art(c: A.Collection, x: A.VersionRec, column: int) -> str | None:
        node_id = f"a:{c.name}:v{x.version}"
        doc = {
            "kind": "artifact",
            "label": f"{c.name}:v{x.version}",
            "collection": c.name,
            "version": x.version,
        }
        return node_id if add(node_id, column, {**doc, "type": x.type, "project": arts.project}) else None

    def run(r: str, column: int) -> str | None:
        project, rid = _split_run(r)
        node_id = f"r:{r}"
        return (
            node_id
            if add(node_id, column, {"kind": "run", "label": r, "project": project, "run_id": rid})
            else None
        )

    def edge(a: str | None, b: str | None) -> None:
        if a is not None and b is not None and [a, b] not in edges:
            edges.append([a, b])

    me = art(col, v, 2)
    for r in v.loggers:
        rn = run(r, 1)
        edge(rn, me)
        for c, x in used.get(r, []):
            edge(art(c, x, 0), rn)
    for r in v.users:
        rn = run(r, 3)
        edge(me, rn)
        for c, x in logged.get(r, []):
            if (c.name, x.version) != (col.name, v.version):
                edge(rn, art(c, x, 4))
    _names(srv, token, [n for n in nodes.values() if n["kind"] == "run"][:MAX_NAMES])
    return {"nodes": list(nodes.values()), "edges": edges, "truncated": truncated}


def _names(srv: Server, token: Token | None, runs: list[dict[str, Any]]) -> None:
    """Each run node's display name, for the runs the token reaches (a run of another project stays an
    id for a project token)."""
    for n in runs:
        project, rid = n.get("project"), n.get("run_id")
        if not project or not L.valid_name(project) or not L.valid_name(rid):
            continue
        if not may_touch(token, f"{L.PROJECTS_DIR}/{project}"):
            continue
        try:
            ref = srv.store.find_run_by_id(str(rid), project)
            name = load_run(ref).info.get("name") if ref is not None else None
        except (Error, OSError, ValueError):
            continue
        n["exists"] = ref is not None
        if isinstance(name, str) and name:
            n["name"] = name


def entries_page(
    srv: Server, project: str, col: A.Collection, v: A.VersionRec, prefix: str | None, offset: int, limit: int
) -> dict[str, Any]:
    try:
        objects, refs = A.read_entries(srv.store, project, col.name, v.digest)
    except (Error, OSError, ValueError) as e:
        msg = (str(e).splitlines() or [type(e).__name__])[0][:500]
        return {"entries": [], "total": 0, "offset": offset, "next_offset": None, "manifest_error": msg}
    paths = sorted(p for p in (*objects, *refs) if prefix is None or p.startswith(prefix))
    page = paths[offset : offset + limit]
    out: list[dict[str, Any]] = []
    for p in page:
        if p in objects:
            d, n = objects[p]
            rel = _object_rel(srv, d)
            url = f"/ui/raw/{rel}?download=1" if rel else None
            out.append({"path": p, "digest": d, "size": n, "ref": None, "extra": None, "url": url})
        else:
            d, n, ref = refs[p]
            extra = ref.get("extra") or None
            out.append({"path": p, "digest": d, "size": n, "ref": ref["ref"], "extra": extra, "url": None})
    end = offset + len(page)
    return {
        "entries": out,
        "total": len(paths),
        "offset": offset,
        "next_offset": end if end < len(paths) else None,
    }


def _object_rel(srv: Server, b64: str) -> str | None:
    try:
        return Path(A.object_file(srv.store, A.b64_to_hex(b64))).relative_to(srv.root).as_posix()
    except ValueError:
        return None


# -- routes ------------------------------------------------------------------------------------------------
def install(app: FastAPI, srv: Server) -> None:
    """Add the artifacts page's routes to `app` (create_app calls this)."""
    counts = _Counts()
    common: dict[str, Any] = {"response_class": JsonBody, "responses": _ERRORS, "tags": ["dashboard"]}

    def project_ok(request: Request, project: str) -> Token | None:
        token = srv.authenticate(request, "read")
        project_of(project, token)
        return token

    @app.get(route(L.PROJECTS_DIR, "{project}", NOUN), response_model=CollectionsOut, **common)
    async def collections(
        request: Request,
        project: str,
        type: str | None = Query(None, max_length=200, description="Only collections of this type"),
    ) -> Any:
        """A project's artifact collections, by name, each with its live versions (oldest first): number,
        digest, size, file count, aliases (`latest` on the newest), tags, created, who logged and used it."""
        project_ok(request, project)

        def run() -> dict[str, Any]:
            arts = A.load(srv.store, project)
            cols = []
            for name, col in sorted(arts.collections.items()):
                if type is not None and col.type != type:
                    continue
                versions = [version_doc(col, v, counts.get(srv, project, name, v.digest)) for v in col.live]
                aliases = sorted(col.aliases) + (["latest"] if col.live else [])
                cols.append({"name": name, "type": col.type, "aliases": aliases, "versions": versions})
            return {"project": project, "collections": cols}

        return JsonBody(await work(run))

    @app.get(
        route(L.PROJECTS_DIR, "{project}", NOUN, "{collection}", "{version}"),
        response_model=VersionDetail,
        **common,
    )
    async def one_version(
        request: Request,
        project: str,
        collection: str = PathParam(..., max_length=1000),
        version: str = PathParam(..., max_length=1000, description="vN, N, latest or an alias"),
        offset: int = Query(0, ge=0, le=10**9, description="The first manifest entry of the page"),
        limit: int = Query(1000, ge=1, le=MAX_ENTRIES, description="Manifest entries in the page"),
        prefix: str | None = Query(None, max_length=1000, description="Only entries whose path starts so"),
    ) -> Any:
        """One version of a collection: what the listing says of it, its manifest entries (path, digest,
        size; a reference's URI; a page at a time, in path order) and its lineage graph."""
        token = project_ok(request, project)

        def run() -> dict[str, Any]:
            arts = A.load(srv.store, project)
            col = arts.collections.get(collection)
            if col is None:
                raise ApiError(404, "not_found", f"no artifact {collection[:100]!r} in project {project!r}")
            v = find_version(col, version)
            if v is None:
                raise ApiError(404, "not_found", f"no version {version[:100]!r} of artifact {collection!r}")
            page = entries_page(srv, project, col, v, prefix or None, offset, limit)
            files = page["total"] if "manifest_error" not in page and not prefix else None
            doc = version_doc(
                col, v, files if files is not None else counts.get(srv, project, col.name, v.digest)
            )
            return {**doc, "project": project, **page, "lineage": lineage(srv, token, arts, col, v)}

        return JsonBody(await work(run))


__all__ = ["install", "version_doc", "find_version", "lineage"]
