"""The server's HTTP app (FastAPI): a runstore store behind token auth.

Ingest (`/api/v1/store/...`) is the remote contract of remotes/base.py over HTTP, so a server is a
remote like a directory or a bucket (`runstore sync --remote http://host:8080`): append bytes at an
offset (409 with the current size when the offset is not the file's size, so a client resumes), put a
whole file once or again (atomic), read a byte range, list with sizes. The files are the store's own
(`runstore ls --dir STORE` reads them); the store's file kinds decide what may be written and how.

Every error is `{"error": {"code", "message", ...}}` with its HTTP status.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..base.version import __version__
from ..remotes.base import BadPath, Conflict, check_rel
from ..remotes.directory import DirRemote
from ..store import layout as L
from ..store.store import Store
from .tokens import Token, Tokens

API = "/api/v1"
STORE_URL = f"{API}/store"  # a store file's bytes: /api/v1/store/<path in the store>
MAX_BODY = 64 << 20  # bytes per request: clients send 8 MB chunks (remotes/base.CHUNK)
MAX_PATH = 1024


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="runstore"'} if status == 401 else None
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status, headers=headers)


# -- who may do what ---------------------------------------------------------------------------------
def project_of(rel: str) -> str | None:
    """The project a store path belongs to; "" for paths of no project (store-level files, sweeps), and
    None for artifact objects, which are shared by every project (named by their content)."""
    parts = rel.split("/")
    if parts[0] == L.PROJECTS_DIR and len(parts) > 1:
        return parts[1]
    if parts[0] == L.ARTIFACTS_DIR and len(parts) > 2 and parts[1] == L.PROJECTS_DIR:
        return parts[2]
    if parts[0] == L.ARTIFACTS_DIR and len(parts) > 1 and parts[1] == L.OBJECTS_DIR:
        return None
    return ""


def may_touch(token: Token | None, rel: str) -> bool:
    """Whether `token` (None: auth is off) reaches `rel`: a project-scoped token reaches its project's
    files and the shared artifact objects, nothing else."""
    if token is None or token.project is None:
        return True
    owner = project_of(rel)
    return owner is None or owner == token.project


class Server:
    """What the routes share: the store, its tokens, the per-file locks."""

    def __init__(self, root: str | os.PathLike[str], *, auth: bool = True, max_body: int = MAX_BODY) -> None:
        self.store = Store(Path(root))
        self.store.ensure()
        self.root = self.store.root
        self.real_root = os.path.realpath(self.root)
        self.files = DirRemote(self.root)
        self.tokens = Tokens(self.root)
        self.auth = auth
        self.max_body = max_body

    # -- auth ------------------------------------------------------------------------------------
    def authenticate(self, request: Request, scope: str) -> Token | None:
        if not self.auth:
            return None
        header = request.headers.get("authorization", "")
        kind, _, value = header.partition(" ")
        presented = ""
        if kind.lower() == "bearer":
            presented = value.strip()
        elif kind.lower() == "basic":  # wandb's clients: user `api`, password the key
            import base64
            import binascii

            try:
                presented = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                presented = ""
        if not presented:
            raise ApiError(401, "unauthorized", "no token: send `Authorization: Bearer <token>`")
        token = self.tokens.check(presented)
        if token is None:
            raise ApiError(401, "unauthorized", "unknown or revoked token")
        if not token.allows(scope):
            raise ApiError(403, "forbidden", f"this token's scope is {token.scope!r}; this needs {scope!r}")
        return token

    # -- paths -----------------------------------------------------------------------------------
    def path(self, rel: str, token: Token | None) -> Path:
        """The store file `rel` names, refused (4xx) when it is not a store path, leads through a
        symlink, or lies outside what the token reaches."""
        if len(rel) > MAX_PATH:
            raise ApiError(414, "path_too_long", f"store paths are at most {MAX_PATH} characters")
        try:
            check_rel(rel)
        except BadPath as e:
            raise ApiError(400, "bad_path", str(e)) from None
        if any(len(p.encode()) > 255 for p in rel.split("/")):
            raise ApiError(400, "bad_path", "a path component is longer than 255 bytes")
        if not may_touch(token, rel):
            raise ApiError(403, "forbidden", f"this token is for project {token.project!r} only")  # type: ignore[union-attr]
        path = self.root / rel
        # no component may be a symlink: a shared store must not lead a write (or a read) elsewhere
        cur = self.root
        for part in rel.split("/")[:-1]:
            cur = cur / part
            try:
                if stat.S_ISLNK(os.lstat(cur).st_mode):
                    raise ApiError(400, "bad_path", f"{rel}: leads through a symlink")
            except FileNotFoundError:
                break
        return path

    def writable(self, rel: str) -> str:
        kind = L.kind_of(rel)
        if kind is None or kind == L.DERIVED:
            raise ApiError(400, "bad_path", f"{rel}: not a file a remote store holds")
        return kind


def create_app(root: str | os.PathLike[str], *, auth: bool = True, max_body: int = MAX_BODY) -> FastAPI:
    srv = Server(root, auth=auth, max_body=max_body)
    app = FastAPI(
        title="runstore server",
        version=__version__,
        description="A runstore store over HTTP: ingest for `runstore sync`, and the read API.",
    )
    app.state.server = srv

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.code, e.message, **e.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return error_response(e.status_code, code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    async def body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                n = int(declared)
            except ValueError:
                raise ApiError(400, "bad_request", "Content-Length is not a number") from None
            if n > srv.max_body:
                raise ApiError(413, "too_large", f"request bodies are at most {srv.max_body} bytes")
        out = bytearray()
        async for chunk in request.stream():
            out += chunk
            if len(out) > srv.max_body:  # chunked uploads: cut off here, not after memory runs out
                raise ApiError(413, "too_large", f"request bodies are at most {srv.max_body} bytes")
        return bytes(out)

    def guarded(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any) -> Any:
            try:
                return await run_in_threadpool(fn, *args)
            except ApiError:
                raise
            except Conflict as c:
                raise ApiError(409, "conflict", str(c), size=c.size) from None
            except FileNotFoundError:
                raise ApiError(404, "not_found", "no such file") from None
            except BadPath as e:
                raise ApiError(400, "bad_path", str(e)) from None
            except OSError as e:
                raise ApiError(
                    400 if e.errno in (36, 40, 21, 20) else 500, "io_error", e.strerror or "I/O error"
                ) from None

        return call

    # -- health ----------------------------------------------------------------------------------
    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, Any]:
        """Liveness: the store is there and answers."""
        return {"ok": os.path.isdir(srv.root), "version": __version__}

    # -- ingest (the remote contract) --------------------------------------------------------------
    @app.get(STORE_URL, tags=["ingest"])
    async def listing(request: Request, prefix: str = "") -> dict[str, Any]:
        """Every file under `prefix` (a directory path ending in `/`, or empty) with its size."""
        token = srv.authenticate(request, "read")
        if prefix:
            srv.path(prefix.rstrip("/") + "/x", token)  # validates the prefix itself
            if not prefix.endswith("/"):
                raise ApiError(400, "bad_path", "a prefix is a directory path ending in '/'")

        def run() -> dict[str, int]:
            got = srv.files.listing(prefix)
            return {
                rel: n
                for rel, n in got.items()
                if may_touch(token, rel) and L.kind_of(rel) not in (None, L.DERIVED)
            }

        return {"files": await guarded(run)()}

    @app.head(f"{STORE_URL}/{{rel:path}}", tags=["ingest"])
    async def file_size(request: Request, rel: str) -> Response:
        token = srv.authenticate(request, "read")
        srv.path(rel, token)
        n = await guarded(srv.files.size)(rel)
        if n is None:
            return Response(status_code=404)
        return Response(headers={"X-Runstore-Size": str(n), "Content-Length": str(n)})

    @app.get(f"{STORE_URL}/{{rel:path}}", tags=["ingest"], response_class=Response)
    async def read(request: Request, rel: str, start: int = 0, end: int | None = None) -> Response:
        """Bytes [start, end) of a file (or the HTTP `Range` asked for)."""
        token = srv.authenticate(request, "read")
        srv.path(rel, token)
        if L.kind_of(rel) in (None, L.DERIVED):
            raise ApiError(404, "not_found", "no such file")
        rng = request.headers.get("range")
        status = 200
        if rng:
            start, end = _range(rng)
            status = 206
        if start < 0 or (end is not None and end < start):
            raise ApiError(416, "bad_range", "start must be >= 0 and end >= start")
        size = await guarded(srv.files.size)(rel)
        if size is None:
            raise ApiError(404, "not_found", "no such file")
        data = await guarded(srv.files.read)(rel, start, end)
        headers = {"X-Runstore-Size": str(size)}
        if status == 206:
            headers["Content-Range"] = (
                f"bytes {start}-{start + len(data) - 1}/{size}" if data else f"bytes */{size}"
            )
        return Response(data, status_code=status, media_type="application/octet-stream", headers=headers)

    @app.post(f"{STORE_URL}/{{rel:path}}", tags=["ingest"])
    async def append(request: Request, rel: str, offset: int) -> dict[str, Any]:
        """Append the body at `offset`, which must be the file's size (409 with the size otherwise)."""
        token = srv.authenticate(request, "write")
        path = srv.path(rel, token)
        if srv.writable(rel) != L.APPEND:
            raise ApiError(400, "bad_kind", f"{rel} is not an append file: PUT it whole")
        if offset < 0:
            raise ApiError(400, "bad_request", "offset must be >= 0")
        data = await body(request)

        def run() -> int:
            L.make_dirs(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            try:
                # one appender per file at a time, across the server's workers: the size check and the
                # write are one step
                fcntl.flock(fd, fcntl.LOCK_EX)
                return srv.files.append(rel, offset, data)
            finally:
                os.close(fd)

        return {"size": await guarded(run)()}

    @app.put(f"{STORE_URL}/{{rel:path}}", tags=["ingest"])
    async def put(request: Request, rel: str, replace: bool = False) -> dict[str, Any]:
        """Store the body as the whole file, atomically; `replace=false` keeps an existing file."""
        token = srv.authenticate(request, "write")
        srv.path(rel, token)
        kind = srv.writable(rel)
        if kind == L.APPEND and replace:
            raise ApiError(400, "bad_kind", f"{rel} is an append file: append to it")
        data = await body(request)
        written = await guarded(srv.files.put)(rel, data, replace=replace)
        return {"written": bool(written)}

    @app.post(f"{API}/seal/{{rel:path}}", tags=["ingest"])
    async def seal(request: Request, rel: str) -> dict[str, Any]:
        """The append file will not grow again (a directory store has nothing to compact)."""
        token = srv.authenticate(request, "write")
        srv.path(rel, token)
        return {"ok": True}

    @app.delete(f"{STORE_URL}/{{rel:path}}", tags=["ingest"])
    async def delete(request: Request, rel: str) -> dict[str, Any]:
        token = srv.authenticate(request, "admin")
        srv.path(rel, token)
        srv.writable(rel)
        await guarded(srv.files.delete)(rel)
        return {"ok": True}

    @app.get(f"{API}/index", tags=["ingest"])
    async def index(request: Request) -> dict[str, Any]:
        """The runs (project, id) and sweep ids the store holds (what the token reaches)."""
        token = srv.authenticate(request, "read")
        runs = await guarded(srv.files.projects_runs)()
        sweeps = await guarded(srv.files.sweep_ids)() if token is None or token.project is None else []
        return {
            "runs": [[p, r] for p, r in runs if token is None or token.project in (None, p)],
            "sweeps": sweeps,
        }

    return app


def _range(header: str) -> tuple[int, int | None]:
    """`bytes=a-b` / `bytes=a-` as [start, end)."""
    unit, _, spec = header.partition("=")
    first, _, last = spec.partition("-")
    try:
        if unit.strip() != "bytes" or "," in spec or not first.strip():
            raise ValueError
        start = int(first)
        end = int(last) + 1 if last.strip() else None
    except ValueError:
        raise ApiError(416, "bad_range", f"unsupported Range {header!r}: use bytes=START-[END]") from None
    return start, end


__all__ = ["create_app", "Server", "ApiError", "project_of", "may_touch", "API", "STORE_URL"]
