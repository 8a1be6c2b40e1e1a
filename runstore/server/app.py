"""The server's HTTP app (FastAPI): a runstore store behind token auth.

Ingest (`/api/v1/store/...`) is the remote contract of remotes/base.py over HTTP, so a server is a
remote like a directory or a bucket (`runstore sync --remote http://host:8080`): append bytes at an
offset (409 with the current size when the offset is not the file's size, so a client resumes), put a
whole file once or again (atomic), read a byte range, list with sizes. The files are the store's own
(`runstore ls --dir STORE` reads them); the store's file kinds decide what may be written and how.

Every error is `{"error": {"code", "message", ...}}` with its HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import re
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
_UPLOAD_ID = re.compile(r"[0-9a-f]{16,32}")
READ_TIMEOUT = 30.0  # seconds a request's headers, or the next piece of its body, may take to arrive
MIN_RATE = 16 << 10  # bytes/s a body must average past READ_TIMEOUT: a trickle is cut off, a slow link is not
TOKEN_SCOPE_KEY = "runstore.token"  # the request's token, once the auth middleware has checked it
TOKEN_COOKIE = "runstore_token"  # the dashboard's token: what a browser sends with an <img> (reads only)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


class BodyRefused(StarletteHTTPException):
    """Raised from `receive` when a body is too large or too slow. An HTTPException, so that FastAPI's
    own body parsing (JSON bodies of other routes) passes it on instead of calling it a parse error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        # the rest of the body is not read: the connection cannot carry another request
        super().__init__(status, message, headers={"Connection": "close"})
        self.code = code


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="runstore"'
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status, headers=headers)


ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    414: "path_too_long",
    416: "bad_range",
    422: "invalid_request",
}


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

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        auth: bool = True,
        max_body: int = MAX_BODY,
        read_only: bool = False,
    ) -> None:
        self.store = Store(Path(root))
        self.store.ensure()
        self.root = self.store.root
        self.real_root = os.path.realpath(self.root)
        self.files = DirRemote(self.root)
        self.tokens = Tokens(self.root)
        self.auth = auth
        self.max_body = max_body
        self.read_only = read_only  # `runstore ui`: a dashboard on loopback writes nothing

    # -- auth ------------------------------------------------------------------------------------
    def authenticate(self, request: Request, scope: str) -> Token | None:
        """The request's token, refused (401) when missing or unknown, and (403) when its scope is
        below `scope`."""
        if self.read_only and scope != "read":
            raise ApiError(
                403, "read_only", "this is a read-only dashboard (`runstore ui`); use `runstore server`"
            )
        if not self.auth:
            return None
        token = request.scope.get(TOKEN_SCOPE_KEY)
        if not isinstance(token, Token):
            token = self.identify(self.credentials(request))
        if scope != "read" and not request.headers.get("authorization"):
            # a cookie goes with any request a page makes, another site's form included: reads only
            raise ApiError(403, "forbidden", "a dashboard cookie only reads: send `Authorization: Bearer`")
        if not token.allows(scope):
            raise ApiError(403, "forbidden", f"this token's scope is {token.scope!r}; this needs {scope!r}")
        return token

    def credentials(self, request: Request) -> str:
        """The request's Authorization header, or the dashboard's cookie as a bearer token."""
        header = request.headers.get("authorization", "")
        if not header and request.method in ("GET", "HEAD"):
            cookie = request.cookies.get(TOKEN_COOKIE, "")
            if cookie:
                return f"Bearer {cookie}"
        return header

    def identify(self, header: str) -> Token:
        """The live token an Authorization header carries (401 otherwise)."""
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
        # no component may be a symlink, the file itself included (a store's files are regular files):
        # a shared store must not lead a write (or a read, or a size) elsewhere
        cur = self.root
        for part in rel.split("/"):
            cur = cur / part
            try:
                if stat.S_ISLNK(os.lstat(cur).st_mode):
                    raise ApiError(400, "bad_path", f"{rel}: leads through a symlink")
            except (FileNotFoundError, NotADirectoryError):
                break
        return path

    def writable(self, rel: str) -> str:
        """The kind of `rel`, refused (4xx) when it is not a file a client may write."""
        kind = L.kind_of(rel)
        if kind is None or kind == L.DERIVED:
            raise ApiError(400, "bad_path", f"{rel}: not a file a remote store holds")
        parts = rel.split("/")
        if len(parts) == 1:  # format.json, settings.yaml: a bad one would keep the server from restarting
            raise ApiError(
                403, "forbidden", f"{rel}: the server's own store settings are not written over HTTP"
            )
        # projects/<p>/runs/<id>, sweeps/<id>: names a local store would accept (no control characters
        # for `runstore ls` to print, nothing too long to be a directory)
        owner = parts[1:4:2] if parts[0] == L.PROJECTS_DIR else parts[1:2] if parts[0] == L.SWEEPS_DIR else []
        if not all(L.valid_name(n) and n.isprintable() for n in owner):
            raise ApiError(400, "bad_path", f"{rel}: not a valid project, run or sweep name")
        return kind


class Limits:
    """ASGI middleware in front of every route: the token is checked before anything is parsed (an
    unauthenticated client cannot make the server read a body), and a body larger than `max_body` or
    slower than `read_timeout` (then MIN_RATE) is refused while it arrives, whoever reads it (the
    ingest routes, or FastAPI parsing a JSON body)."""

    def __init__(self, app: ASGIApp, srv: Server, read_timeout: float) -> None:
        self.app = app
        self.srv = srv
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            if self.srv.auth and scope["path"].startswith(API):
                scope[TOKEN_SCOPE_KEY] = self.srv.identify(self.srv.credentials(request))
            declared = request.headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.srv.max_body):
                # the connection stays usable: the server skips the declared bytes without keeping them
                raise ApiError(413, "too_large", f"request bodies are at most {self.srv.max_body} bytes")
        except ApiError as e:
            await error_response(e.status, e.code, e.message)(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = 0
        done = False

        async def limited() -> Message:
            nonlocal got, done
            if done:  # the body is in: what follows is the wait for a disconnect, which has no deadline
                return await receive()
            wait = min(self.read_timeout, started + self.read_timeout + got / MIN_RATE - loop.time())
            try:
                message = await asyncio.wait_for(receive(), max(wait, 0.001))
            except (TimeoutError, asyncio.TimeoutError):  # one class only from 3.11 on
                raise BodyRefused(408, "timeout", "the request body arrives too slowly") from None
            if message["type"] == "http.request":
                got += len(message.get("body", b""))
                done = not message.get("more_body", False)
                if got > self.srv.max_body:
                    raise BodyRefused(
                        413, "too_large", f"request bodies are at most {self.srv.max_body} bytes"
                    )
            else:
                done = True
            return message

        await self.app(scope, limited, send)


def _error_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with what every route may answer that FastAPI does not know about: the
    error shape for the statuses the auth, the limits and the path checks give, raw bodies."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    }
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # 422s are answered in the error shape, not FastAPI's `detail` list
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    common = (400, 401, 403, 404, 408, 413, 414, 422)
    for path, ops in doc.get("paths", {}).items():
        if not path.startswith(API):
            continue
        for op in ops.values():
            responses = op.setdefault("responses", {})
            for status in common + tuple(op.pop("x-runstore-errors", ())):
                old = responses.get(str(status))
                if old is None or "HTTPValidationError" in str(old):
                    responses[str(status)] = {"description": ERROR_CODES[status], **error}
    app.openapi_schema = doc
    return doc


RAW_BODY = {
    "requestBody": {
        "required": False,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
BYTES = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
SIZE_HEADER = {"X-Runstore-Size": {"schema": {"type": "integer"}, "description": "the file's size"}}


def create_app(
    root: str | os.PathLike[str],
    *,
    auth: bool = True,
    max_body: int = MAX_BODY,
    read_timeout: float = READ_TIMEOUT,
    read_only: bool = False,
    hosts: list[str] | None = None,
) -> FastAPI:
    """The server's app; `read_only` and `hosts` (the Host headers answered: a page of another site
    that resolves its name to 127.0.0.1 must not read a loopback dashboard) are `runstore ui`'s."""
    srv = Server(root, auth=auth, max_body=max_body, read_only=read_only)
    app = FastAPI(
        title="runstore server",
        version=__version__,
        description="A runstore store over HTTP: ingest for `runstore sync`, and the read API.",
    )
    app.state.server = srv
    app.add_middleware(Limits, srv=srv, read_timeout=read_timeout)
    if hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts)
    app.openapi = lambda: _error_schema(app)  # type: ignore[method-assign]

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.code, e.message, **e.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, e: StarletteHTTPException) -> JSONResponse:
        code = getattr(e, "code", None) or ERROR_CODES.get(e.status_code, "http_error")
        return error_response(e.status_code, code, str(e.detail), headers=dict(e.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return error_response(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}")

    async def body(request: Request) -> bytes:
        out = bytearray()
        async for chunk in request.stream():  # Limits cuts off one too large or too slow
            out += chunk
        return bytes(out)

    def guarded(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await run_in_threadpool(fn, *args, **kwargs)
            except ApiError:
                raise
            except Conflict as c:
                raise ApiError(409, "conflict", str(c), size=c.size) from None
            except FileNotFoundError:
                raise ApiError(404, "not_found", "no such file") from None
            except BadPath as e:
                raise ApiError(400, "bad_path", str(e)) from None
            except OSError as e:
                # what a client's path makes of the store's tree (a file where its path needs a directory,
                # a directory where it names a file, a symlink): its request, not the server, is at fault
                client = e.errno in (
                    errno.ENAMETOOLONG,
                    errno.ELOOP,
                    errno.EISDIR,
                    errno.ENOTDIR,
                    errno.EEXIST,
                )
                raise ApiError(400 if client else 500, "io_error", e.strerror or "I/O error") from None

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

    @app.head(
        f"{STORE_URL}/{{rel:path}}",
        tags=["ingest"],
        response_class=Response,
        responses={200: {"description": "the file's size", "headers": SIZE_HEADER, "content": {}}},
    )
    async def file_size(request: Request, rel: str) -> Response:
        """The file's size (X-Runstore-Size), 404 when absent."""
        token = srv.authenticate(request, "read")
        srv.path(rel, token)
        if L.kind_of(rel) in (None, L.DERIVED):
            raise ApiError(404, "not_found", "no such file")  # nor say how large a server file is
        n = await guarded(srv.files.size)(rel)
        if n is None:
            raise ApiError(404, "not_found", "no such file")
        return Response(headers={"X-Runstore-Size": str(n), "Content-Length": str(n)})

    @app.get(
        f"{STORE_URL}/{{rel:path}}",
        tags=["ingest"],
        response_class=Response,
        responses={
            200: {"description": "bytes [start, end)", "headers": SIZE_HEADER, **BYTES},
            206: {"description": "the bytes of the Range asked for", "headers": SIZE_HEADER, **BYTES},
        },
        openapi_extra={"x-runstore-errors": [416]},
    )
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

    @app.post(
        f"{STORE_URL}/{{rel:path}}",
        tags=["ingest"],
        openapi_extra={**RAW_BODY, "x-runstore-errors": [409]},
    )
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
            with _locked_current(path):
                return srv.files.append(rel, offset, data)

        return {"size": await guarded(run)()}

    @app.put(f"{STORE_URL}/{{rel:path}}", tags=["ingest"], openapi_extra=RAW_BODY)
    async def put(request: Request, rel: str, replace: bool = False) -> dict[str, Any]:
        """Store the body as the whole file, atomically; `replace=false` keeps an existing file."""
        token = srv.authenticate(request, "write")
        path = srv.path(rel, token)
        kind = srv.writable(rel)
        data = await body(request)

        def run() -> bool:
            if kind != L.APPEND or not replace:
                return bool(srv.files.put(rel, data, replace=replace))
            # a repair (sync found the copy here damaged): the new file replaces the old one while
            # the old one's appenders are held off, and those waiting move on to the new file
            L.make_dirs(path.parent)
            with _locked_current(path):
                return bool(srv.files.put(rel, data, replace=True))

        return {"written": await guarded(run)()}

    @app.post(f"{API}/upload/{{rel:path}}", tags=["ingest"], openapi_extra=RAW_BODY)
    async def upload(
        request: Request,
        rel: str,
        upload: str,
        offset: int | None = None,
        commit: int | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """A whole file larger than one request, in pieces: append the body at `offset` to the upload
        `upload` (16-32 hex digits the client chose; 409 with the staged size when `offset` is not it),
        then `commit=<total size>` puts the staged bytes in place atomically, as PUT does."""
        token = srv.authenticate(request, "write")
        path = srv.path(rel, token)
        kind = srv.writable(rel)
        if not _UPLOAD_ID.fullmatch(upload):
            raise ApiError(400, "bad_request", "upload must be 16-32 lowercase hex digits")
        if (offset is None) == (commit is None) or (offset or 0) < 0 or (commit or 0) < 0:
            raise ApiError(400, "bad_request", "give offset=N (a piece) or commit=SIZE (the end)")
        # hidden (layout.is_tmp): listings, readers and replicas never take it for a store file
        staging = L.upload_staging(path, upload)
        data = await body(request) if offset is not None else b""

        def piece() -> int:
            L.make_dirs(path.parent)
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise ApiError(400, "bad_path", f"{rel}: the staging file is not a regular file")
                if st.st_size != offset:
                    raise Conflict(rel, int(offset or 0), st.st_size)
                view = memoryview(data)
                pos = st.st_size
                while view:
                    n = os.pwrite(fd, view, pos)
                    pos += n
                    view = view[n:]
                return pos
            finally:
                os.close(fd)

        def finish() -> bool:
            try:
                st = os.stat(staging, follow_symlinks=False)
            except FileNotFoundError:
                raise ApiError(404, "not_found", f"no upload {upload} of {rel}") from None
            if not stat.S_ISREG(st.st_mode) or st.st_size != commit:
                raise Conflict(rel, int(commit or 0), st.st_size)
            try:
                if replace and kind == L.APPEND:  # a repair: see PUT
                    with _locked_current(path):
                        os.replace(staging, path)
                    return True
                if replace:
                    os.replace(staging, path)
                    return True
                try:
                    os.link(staging, path)  # create-only, as PUT with replace=false
                    return True
                except FileExistsError:
                    return False
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(staging)

        if offset is not None:
            return {"size": await guarded(piece)()}
        return {"written": bool(await guarded(finish)())}

    @app.post(f"{API}/seal/{{rel:path}}", tags=["ingest"])
    async def seal(request: Request, rel: str) -> dict[str, Any]:
        """The append file will not grow again (a directory store has nothing to compact)."""
        token = srv.authenticate(request, "write")
        srv.path(rel, token)
        if srv.writable(rel) != L.APPEND:
            raise ApiError(400, "bad_kind", f"{rel} is not an append file")
        return {"ok": True}

    @app.delete(f"{STORE_URL}/{{rel:path}}", tags=["ingest"])
    async def delete(request: Request, rel: str) -> dict[str, Any]:
        """Delete a file (admin tokens only)."""
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

    from . import sweeps  # its routes use this module's Server and errors

    sweeps.install(app, srv)
    from .read import install as install_read  # the read API: runstore.Api over HTTP

    install_read(app, srv)
    from .ui import install as install_ui  # the dashboard's pages, one more client of the API

    install_ui(app, srv)
    from .ui_artifacts import install as install_artifacts

    install_artifacts(app, srv)
    return app


@contextlib.contextmanager
def _locked_current(path: Path) -> Any:
    """Hold the flock of the file now at `path` (created if missing): one appender (or repairer) of a
    file at a time across the server's workers. A file replaced while we waited for its lock is not
    the file any more: take the lock of the one that replaced it."""
    while True:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                yield
                return
        finally:
            os.close(fd)


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


__all__ = ["create_app", "Server", "ApiError", "project_of", "may_touch", "API", "STORE_URL", "TOKEN_COOKIE"]
