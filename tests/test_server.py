"""`runstore server`'s security and reliability (issue 11), against a real server on 127.0.0.1.

The matrix tests run uvicorn in a thread of this process (`create_app`, real HTTP); the tests of the
command line, of resource use and of crashes start `python -m runstore server` as a subprocess. The
auth and traversal matrices iterate the routes of the served OpenAPI document, so a route added later
is covered without touching this file.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import run_cli
from remote_servers import ThreadServer, free_port

from runstore.server.app import create_app
from runstore.server.tokens import Tokens

HOST = "127.0.0.1"
RUN = "projects/p/runs/r1/run.jsonl"  # an append file of project p
OTHER = "projects/q/runs/r1/run.jsonl"  # the same in project q
OBJECT = "artifacts/objects/d4/d41d8cd98f00b204e9800998ecf8427e"  # shared by every project
PY = sys.executable


# -- servers -----------------------------------------------------------------------------------------
@dataclass
class Served:
    """A served store and its tokens (secrets), by role."""

    url: str
    root: Path
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_tokens(root: Path) -> dict[str, str]:
    t = Tokens(root)
    out = {role: t.create(role, role)[1] for role in ("read", "write", "admin")}
    out["project"] = t.create("proj", "admin", "p")[1]
    tok, out["revoked"] = t.create("gone", "admin")
    t.revoke(tok.id)
    return out


def seed(root: Path) -> None:
    """A file in project p, one in project q, a shared artifact object, a sweep's file (again: a test
    before may have deleted or grown them)."""
    for rel, data in (
        (RUN, b'{"a":1}\n'),
        (OTHER, b'{"b":2}\n'),
        (OBJECT, b""),
        ("sweeps/s1/config.yaml", b"x: 1\n"),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    app = create_app(tmp_path_factory.mktemp("served") / ".wandb")
    root = app.state.server.root
    seed(root)
    s = Served("", root, make_tokens(root))
    ts = ThreadServer(app)
    s.url = ts.url
    yield s
    ts.stop()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server taking 1 MB bodies, with a 1.5 s read timeout."""
    app = create_app(tmp_path_factory.mktemp("limited") / ".wandb", max_body=1 << 20, read_timeout=1.5)
    root = app.state.server.root
    s = Served("", root, make_tokens(root))
    ts = ThreadServer(app, header_timeout=1.5)
    s.url = ts.url
    yield s
    ts.stop()


class Proc:
    """`python -m runstore server` in a subprocess."""

    def __init__(self, store: Path, *args: str, port: int | None = None, scheme: str = "http") -> None:
        self.port = port or free_port()
        self.url = f"{scheme}://{HOST}:{self.port}"
        self.log = store.parent / f"server-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
        self.proc = subprocess.Popen(
            [PY, "-m", "runstore", "server", "--dir", str(store), "--port", str(self.port), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "wb"),  # noqa: SIM115 - the child holds it
            env=env,
        )

    def wait_up(self, verify: Any = True) -> None:
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, f"server exited {self.proc.returncode}: {self.stderr()}"
            try:
                if httpx.get(f"{self.url}/healthz", verify=verify, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"server did not answer: {self.stderr()}"
            time.sleep(0.05)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in started:
        p.stop()


# -- the routes, from the served OpenAPI document ------------------------------------------------------
@dataclass
class Op:
    method: str
    path: str  # with {params}
    params: list[dict[str, Any]]
    body: str | None  # the request body's media type

    @property
    def needs(self) -> str:
        """The scope a route should ask of a token: reads read, deletes are admin's, the rest write."""
        return {"GET": "read", "HEAD": "read", "DELETE": "admin"}.get(self.method, "write")

    def has(self, name: str) -> bool:
        return any(p["name"] == name for p in self.params if p["in"] == "path")

    def request(self, rel: str = RUN) -> tuple[str, dict[str, Any], bytes | None, dict[str, str]]:
        """(url path, query, body, headers) of a well-formed request to this route."""
        values = {"rel": rel, "project": "p", "run_id": "r1", "sweep_id": "s1", "agent_id": "a1"}
        url = self.path
        query: dict[str, Any] = {}
        for p in self.params:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", values.get(p["name"], "x1"))
            elif p["in"] == "query" and p.get("required"):
                typ = p.get("schema", {}).get("type")
                query[p["name"]] = {"integer": 0, "boolean": "false", "number": 0}.get(str(typ), "x")
        headers: dict[str, str] = {}
        data: bytes | None = None
        if self.body == "application/json":
            data, headers["Content-Type"] = b"{}", "application/json"
        elif self.body is not None:
            data, headers["Content-Type"] = b"", self.body
        return url, query, data, headers


def operations(url: str) -> list[Op]:
    doc = httpx.get(f"{url}/openapi.json", timeout=10).json()
    ops = []
    for path, methods in doc["paths"].items():
        if not (path.startswith("/api/v1") or path == "/healthz"):
            continue
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content")
            ops.append(Op(method.upper(), path, op.get("parameters", []), next(iter(body)) if body else None))
    assert len(ops) >= 9, [f"{o.method} {o.path}" for o in ops]
    return ops


_CLIENT = httpx.Client(
    timeout=10
)  # one for the matrices: a connection per request would be most of their time


def call(s: Served, op: Op, headers: dict[str, str], rel: str = RUN) -> httpx.Response:
    url, query, data, extra = op.request(rel)
    return _CLIENT.request(op.method, s.url + url, params=query, content=data, headers={**extra, **headers})


def assert_error(r: httpx.Response, status: int | tuple[int, ...]) -> None:
    """`r` is one of `status`, in the API's error shape (a HEAD answer has no body to check)."""
    ok = (status,) if isinstance(status, int) else status
    assert r.status_code in ok, (r.request.method, r.request.url, r.status_code, r.text[:300])
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    if r.request.method == "HEAD":
        return
    err = r.json()["error"]
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert "\n" not in err["message"]


def basic(token: str, user: str = "api") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()}


# -- 1. auth ---------------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_auth_matrix_every_route(served: Served) -> None:
    s = served
    rid = s.tokens["read"].split("_")[1]
    bad_headers = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": f"Bearer rs_{rid}_wrongsecret"},
        {"Authorization": "Bearer rs_00000000_" + "x" * 43},
        {"Authorization": "Bearer " + "rs_" * 3000},
        {"Authorization": "Token " + s.tokens["admin"]},
        {"Authorization": "Basic !!!notbase64"},
        basic("nope"),
        s.auth("revoked"),
        basic(s.tokens["revoked"]),
    ]
    for op in operations(s.url):
        if op.path == "/healthz":
            assert call(s, op, {}).status_code == 200  # probes need no token
            continue
        for h in bad_headers:
            r = call(s, op, h)
            assert_error(r, 401)
            assert r.headers["www-authenticate"].startswith("Bearer")
        if op.needs in ("write", "admin"):
            assert_error(call(s, op, s.auth("read")), 403)
        if op.needs == "admin":
            assert_error(call(s, op, s.auth("write")), 403)
        # the scope it needs gets past auth, Bearer or Basic alike (what happens next is the route's)
        role = {"read": "read", "write": "write", "admin": "admin"}[op.needs]
        for h in (s.auth(role), basic(s.tokens[role])):
            r = call(s, op, h)
            assert r.status_code not in (401, 403) and r.status_code < 500, (op, r.status_code, r.text)
        if op.has("rel"):  # a project's token: its project's files, not another's
            assert_error(call(s, op, s.auth("project"), OTHER), 403)
            assert_error(call(s, op, s.auth("project"), "format.json"), 403)
            r = call(s, op, s.auth("project"), RUN)
            assert r.status_code not in (401, 403), (op, r.status_code)


@pytest.mark.timeout(30)
def test_project_token_listing_and_basic_auth(served: Served) -> None:
    s = served
    seed(s.root)
    url = f"{s.url}/api/v1/store"
    everything = httpx.get(url, headers=s.auth("read")).json()["files"]
    assert {RUN, OTHER, OBJECT, "sweeps/s1/config.yaml"} <= set(everything)
    mine = httpx.get(url, headers=s.auth("project")).json()["files"]
    assert set(mine) == {RUN, OBJECT}
    assert httpx.get(url, headers=basic(s.tokens["project"])).json()["files"] == mine
    assert_error(httpx.get(url, params={"prefix": "projects/q/"}, headers=s.auth("project")), 403)
    index = httpx.get(f"{s.url}/api/v1/index", headers=s.auth("project")).json()
    assert index == {"runs": [["p", "r1"]], "sweeps": []}
    assert httpx.get(f"{s.url}/api/v1/index", headers=basic(s.tokens["read"])).status_code == 200
    assert httpx.get(f"{s.url}/api/v1/store/{RUN}", headers=basic(s.tokens["read"])).content == b'{"a":1}\n'


@pytest.mark.timeout(30)
def test_every_error_has_one_shape(served: Served) -> None:
    s = served
    seed(s.root)
    h = s.auth("admin")
    assert_error(httpx.get(f"{s.url}/api/v1/nothing-here", headers=h), 404)
    assert_error(httpx.get(f"{s.url}/nothing-here"), 404)
    assert_error(httpx.patch(f"{s.url}/api/v1/store/{RUN}", headers=h), 405)
    assert_error(httpx.post(f"{s.url}/api/v1/store/{RUN}", headers=h), 422)  # no offset
    assert_error(httpx.post(f"{s.url}/api/v1/store/{RUN}", params={"offset": "x"}, headers=h), 422)
    assert_error(httpx.post(f"{s.url}/api/v1/store/{RUN}", params={"offset": 0}, headers=h), 409)
    assert_error(httpx.head(f"{s.url}/api/v1/store/projects/p/runs/r9/run.jsonl", headers=h), 404)
    assert_error(httpx.get(f"{s.url}/api/v1/store/{RUN}", headers={**h, "Range": "bytes=-5"}), 416)
    assert_error(httpx.get(f"{s.url}/api/v1/store/{RUN}", params={"start": 5, "end": 1}, headers=h), 416)
    assert (
        httpx.post(f"{s.url}/api/v1/store/{RUN}", params={"offset": 0}, headers=h).json()["error"]["size"]
        == 8
    )
    # what uvicorn itself refuses (not HTTP at all) is answered in the same shape
    with socket.create_connection((HOST, int(s.url.rsplit(":", 1)[1])), timeout=5) as c:
        c.sendall(b"GARBAGE\x00 / HTTP/9\r\n\r\n")
        head, _, payload = recv_all(c).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert json.loads(payload)["error"]["code"] == "bad_request"


# -- 2. traversal and injection ------------------------------------------------------------------------
def snapshot(path: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirs, files in os.walk(path):
        for n in dirs + files:
            st = os.lstat(os.path.join(dirpath, n))
            out[os.path.relpath(os.path.join(dirpath, n), path)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


HOSTILE_RELS = [
    "..",
    "../outside",
    "projects/p/runs/r1/../../../../outside",
    "projects/p/runs/r1/files/../../../../../outside",
    "%2e%2e/outside",
    "projects/p/runs/r1/files/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2foutside",
    "projects%2fp%2f..%2f..%2f..%2foutside",
    "..%5coutside",
    "projects/p/runs/r1/files/..\\..\\..\\..\\..\\outside",
    "projects/p/runs/r1/files/x%00.txt",
    "%2foutside",
    "/outside",
    "//outside",
    "projects/p/runs/r1/files/" + "a" * 256,
    "projects/p/runs/r1/files/" + "/".join(["abcdefgh"] * 130),
    "projects/p/runs/evil/run.jsonl",  # a directory symlink out of the store
    "projects/p/runs/evil/files/new.txt",
    "projects/link/runs/r1/run.jsonl",
    "projects/p/runs/r1/files/escape/x.txt",  # a symlink leaf whose target is outside
    "projects/p/runs/r1/files/escape",
    "cache/sync/x.json",
    "projects/p/runs/r1/cache/writer.lock",
    "latest-run",
    "daemon/outbox/x",
    "server/tokens.jsonl",
    "projects/p/runs/r1/unknown.bin",
    "projects/p/notruns/x",
    "projects/p%0A/runs/r1/run.jsonl",
    "projects/p/runs/r%1b[31m/run.jsonl",
    "sweeps/s1/sub/x",
    "whatever",
]


@pytest.mark.timeout(60)
def test_traversal_and_injection_refused(served: Served, tmp_path: Path) -> None:
    s = served
    outside = tmp_path / "sentinel"
    (outside / "runs" / "r1").mkdir(parents=True)
    (outside / "run.jsonl").write_bytes(b"secret\n")
    (outside / "runs" / "r1" / "run.jsonl").write_bytes(b"secret\n")
    (s.root / "projects/p/runs/evil").symlink_to(outside)
    (s.root / "projects/link").symlink_to(outside)
    (s.root / "projects/p/runs/r1/files").mkdir(parents=True, exist_ok=True)
    (s.root / "projects/p/runs/r1/files/escape").symlink_to(outside / "run.jsonl")
    tokens = Path(s.root / "server" / "tokens.jsonl").read_bytes()
    before = snapshot(outside)
    try:
        port = int(s.url.rsplit(":", 1)[1])
        store_ops = [op for op in operations(s.url) if op.has("rel")]
        assert {op.method for op in store_ops} >= {"GET", "HEAD", "POST", "PUT", "DELETE"}
        for rel in HOSTILE_RELS:
            for op in store_ops:
                url, query, data, headers = op.request("REL")
                target = url.replace("REL", rel) + "?" + "&".join(f"{k}={v}" for k, v in query.items())
                status, _, payload = raw(port, op.method, target, {**s.auth("admin"), **headers}, data)
                assert 400 <= status < 500, (op.method, rel, status, payload[:200])
                if op.method != "HEAD":
                    assert "error" in json.loads(payload), payload
        for rel in ("format.json", "settings.yaml"):  # readable, but the server's own: not written over HTTP
            for op in store_ops:
                if op.method not in ("GET", "HEAD"):
                    assert_error(call(s, op, s.auth("admin"), rel), 403)
        # the same in the query: the listing's prefix, and numbers that are not
        for prefix in (
            "../",
            "%2e%2e/",
            "/",
            "projects/../../",
            "projects/link/",
            "projects/p/runs/evil/",
            "a\\b/",
            "a%00/",
        ):
            status, _, payload = raw(port, "GET", f"/api/v1/store?prefix={prefix}", s.auth("admin"))
            assert 400 <= status < 500, (prefix, status, payload)
        for q in ("start=-1", "start=x", "end=-5", "start=1e999", "start=99999999999999999999999999&end=1"):
            status, _, _ = raw(port, "GET", f"/api/v1/store/{RUN}?{q}", s.auth("admin"))
            assert 400 <= status < 500, (q, status)
        for q in ("offset=-1", "offset=x", "offset=", "offset=1%00"):
            status, _, _ = raw(port, "POST", f"/api/v1/store/{RUN}?{q}", s.auth("admin"), b"")
            assert 400 <= status < 500, (q, status)
        # a listing of the whole store does not follow the symlinks either
        files = httpx.get(f"{s.url}/api/v1/store", headers=s.auth("admin")).json()["files"]
        assert not [f for f in files if "evil" in f or "link" in f or "escape" in f or "secret" in f]
        assert snapshot(outside) == before
        assert (s.root / "server" / "tokens.jsonl").read_bytes() == tokens
        assert not list(tmp_path.parent.glob("outside*")) and not (s.root.parent / "outside").exists()
    finally:
        for link in ("projects/p/runs/evil", "projects/link", "projects/p/runs/r1/files/escape"):
            os.unlink(s.root / link)


def raw(
    port: int, method: str, target: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request with `target` sent byte for byte (httpx would normalize `..` away)."""
    c = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        c.putrequest(method, target, skip_accept_encoding=True)
        for k, v in headers.items():
            c.putheader(k, v)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def recv_all(c: socket.socket, limit: float = 10) -> bytes:
    c.settimeout(limit)
    out = b""
    while True:
        try:
            got = c.recv(65536)
        except (ConnectionResetError, TimeoutError):
            return out
        if not got:
            return out
        out += got


# -- 3. limits -----------------------------------------------------------------------------------------
def response_of(c: socket.socket) -> tuple[int, bytes]:
    """The status and body of the one response on `c` (read until the server closes or it is whole)."""
    c.settimeout(10)
    buf = b""
    while b"\r\n\r\n" not in buf:
        got = c.recv(65536)
        if not got:
            break
        buf += got
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    while len(rest) < length:
        got = c.recv(65536)
        if not got:
            break
        rest += got
    return int(head.split(b" ")[1]), rest


def send_chunked(c: socket.socket, target: str, headers: dict[str, str], total: int) -> threading.Thread:
    """Start sending `total` bytes chunked to `target` on `c` from a thread (the server may hang up)."""

    def run() -> None:
        hdr = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        try:
            c.sendall(
                f"POST {target} HTTP/1.1\r\nHost: x\r\n{hdr}Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"x" * (1 << 20)
            framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
            for _ in range(total >> 20):
                c.sendall(framed)
            c.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # cut off: what the test wants

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.timeout(30)
def test_body_limit_with_and_without_content_length(limited: Served) -> None:
    s = limited
    port = int(s.url.rsplit(":", 1)[1])
    h = s.auth("admin")
    target = f"/api/v1/store/{RUN}?offset=0"
    # declared: refused before a byte of the body is read
    with socket.create_connection((HOST, port)) as c:
        c.sendall(f"POST {target} HTTP/1.1\r\nHost: x\r\nAuthorization: {h['Authorization']}\r\n".encode())
        c.sendall(f"Content-Length: {2 << 20}\r\n\r\n".encode())
        status, payload = response_of(c)
    assert status == 413 and json.loads(payload)["error"]["code"] == "too_large"
    # chunked, to the ingest routes and to every route with a JSON body: cut off once past the limit
    json_ops = [op for op in operations(s.url) if op.body == "application/json"]
    for t in [target, *(op.request()[0] for op in json_ops)]:
        with socket.create_connection((HOST, port)) as c:
            sender = send_chunked(c, t, {**h, "Content-Type": "application/json"}, 8 << 20)
            status, payload = response_of(c)
            sender.join(10)
        assert status == 413, (t, status, payload)
        assert json.loads(payload)["error"]["code"] == "too_large"
    assert not (s.root / RUN).exists() or (s.root / RUN).stat().st_size == 0
    # at the limit it is taken
    r = httpx.post(s.url + f"/api/v1/store/{RUN}", params={"offset": 0}, content=b"y" * (1 << 20), headers=h)
    assert r.status_code == 200 and r.json() == {"size": 1 << 20}


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.timeout(60)
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux) for the RSS")
def test_huge_chunked_body_does_not_grow_the_server(tmp_path: Path, procs: list[Proc]) -> None:
    store = tmp_path / "store"
    tok = Tokens(_store_root(store)).create("w", "write")[1]
    p = Proc(store, "--max-body-mb", "1")
    procs.append(p)
    p.wait_up()
    target = f"/api/v1/store/{RUN}?offset=0"
    auth = {"Authorization": f"Bearer {tok}"}
    httpx.post(p.url + f"/api/v1/store/{RUN}", params={"offset": 0}, content=b"warm", headers=auth)
    before = rss_kb(p.proc.pid)
    with socket.create_connection((HOST, p.port)) as c:
        sender = send_chunked(c, target, auth, 200 << 20)
        status, _ = response_of(c)
        sender.join(30)
    assert status == 413
    assert not sender.is_alive()  # the server hung up: the client is not left sending 200 MB
    after = rss_kb(p.proc.pid)
    assert after - before < 30_000, (before, after)
    assert httpx.get(f"{p.url}/healthz").status_code == 200
    assert (store / ".wandb" / RUN).read_bytes() == b"warm"


@pytest.mark.timeout(30)
def test_slow_clients_do_not_block_others_and_are_cut_off(limited: Served) -> None:
    s = limited
    port = int(s.url.rsplit(":", 1)[1])
    h = s.auth("admin")
    silent = socket.create_connection((HOST, port))  # connects, says nothing
    trickler = socket.create_connection((HOST, port))  # headers, a byte at a time
    slow_body = socket.create_connection((HOST, port))  # headers, then a body a byte at a time
    kept = socket.create_connection((HOST, port))  # one request, then the next one's headers trickle
    slow_body.sendall(
        f"POST /api/v1/store/{OTHER}?offset=0 HTTP/1.1\r\nHost: x\r\nAuthorization: {h['Authorization']}\r\n"
        "Content-Length: 100\r\n\r\n".encode()
    )
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response_of(kept)[0] == 200
    header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    closed: dict[str, float] = {}
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < 6 and len(closed) < 4:
        for name, c, data in (
            ("trickler", trickler, header[i : i + 1]),
            ("slow_body", slow_body, b"z"),
            ("kept", kept, header[i : i + 1]),
        ):
            if name not in closed:
                try:
                    c.sendall(data)
                except OSError:
                    closed[name] = time.monotonic() - start
        for name, c in (("silent", silent), ("trickler", trickler), ("slow_body", slow_body), ("kept", kept)):
            if name not in closed and _closed(c):
                closed[name] = time.monotonic() - start
        t0 = time.monotonic()
        assert httpx.get(f"{s.url}/healthz", timeout=1).status_code == 200  # others are answered
        assert time.monotonic() - t0 < 1
        i += 1
        time.sleep(0.2)
    assert set(closed) == {"silent", "trickler", "slow_body", "kept"}, closed
    assert all(1.0 < t < 4.5 for t in closed.values()), closed
    assert not (s.root / OTHER).exists()  # the slow body was not half-written
    for c in (silent, trickler, slow_body, kept):
        c.close()


def _closed(c: socket.socket) -> bool:
    """Whether the server closed `c` (what it said before is read and dropped)."""
    c.setblocking(False)
    try:
        while True:
            got = c.recv(65536)
            if not got:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        c.setblocking(True)


@pytest.mark.timeout(30)
def test_slow_body_gets_408(limited: Served) -> None:
    s = limited
    port = int(s.url.rsplit(":", 1)[1])
    with socket.create_connection((HOST, port)) as c:
        c.sendall(
            f"POST /api/v1/store/{OTHER}?offset=0 HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {s.auth('admin')['Authorization']}\r\nContent-Length: 10\r\n\r\nab".encode()
        )
        status, payload = response_of(c)
    assert status == 408 and json.loads(payload)["error"]["code"] == "timeout"


# -- 4. fuzzing the schema -----------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_schemathesis_fuzz_every_operation(served: Served) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.core.failures import FailureGroup
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    s = served
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        response_headers_conformance,
    ]
    schema = schemathesis.openapi.from_url(f"{s.url}/openapi.json")
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    calls = 0
    ops = [result.ok() for result in schema.get_all_operations()]
    assert len(ops) >= 9

    def fuzz(op: Any, mode: Any, headers: dict[str, str], examples: int) -> None:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the failures are collected
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def one(case: Any) -> None:
            nonlocal calls
            calls += 1
            r = case.call(base_url=s.url, headers=headers, timeout=10)
            statuses[r.status_code] += 1
            try:
                case.validate_response(r, checks=checks, headers=headers)
            except (Exception, FailureGroup) as e:
                inner = getattr(e, "exceptions", [e])
                failures.append(f"{op.label} -> {r.status_code}: {str(inner[0]).splitlines()[0]}")

        try:
            one()
        except Unsatisfiable:
            assert mode == GenerationMode.NEGATIVE  # a route with nothing to get wrong

    seed(s.root)
    for op in ops:
        fuzz(op, GenerationMode.POSITIVE, {}, 5)  # refused before the parameters are looked at: a few do
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(op, mode, s.auth("admin"), 15)
    assert calls > 200
    assert {200, 401, 404, 422} <= set(statuses), statuses  # it got past auth and into the routes
    assert not failures, sorted(set(failures))[:20]


# -- 5. crash and restart ------------------------------------------------------------------------------
def _store_root(store: Path) -> Path:
    from runstore.store.store import Store

    st = Store(store / ".wandb")
    st.ensure()
    return st.root


@pytest.mark.timeout(60)
def test_sigkill_while_appending_loses_nothing_acknowledged(tmp_path: Path, procs: list[Proc]) -> None:
    store = tmp_path / "store"
    root = _store_root(store)
    tok = Tokens(root).create("w", "write")[1]
    p = Proc(store)
    procs.append(p)
    p.wait_up()
    payload = b"".join(b'{"i":%d,"pad":"%s"}\n' % (i, b"x" * (i % 300)) for i in range(60_000))
    url = f"{p.url}/api/v1/store/{RUN}"
    auth = {"Authorization": f"Bearer {tok}"}
    acked = 0
    errors: list[BaseException] = []

    def appender() -> None:
        nonlocal acked
        with httpx.Client(headers=auth, timeout=5) as client:
            while acked < len(payload):
                piece = payload[acked : acked + (64 << 10)]
                try:
                    r = client.post(url, params={"offset": acked}, content=piece)
                except httpx.HTTPError as e:
                    errors.append(e)
                    return
                assert r.status_code == 200, r.text
                acked = r.json()["size"]

    t = threading.Thread(target=appender, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while acked < 200_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(p.proc.pid, signal.SIGKILL)
    p.proc.wait(10)
    t.join(10)
    assert errors and acked > 0, "the server should have died under the appender"
    on_disk = (root / RUN).read_bytes()
    assert len(on_disk) >= acked and on_disk == payload[: len(on_disk)]  # prefix-consistent
    tokens_before = (root / "server" / "tokens.jsonl").read_bytes()

    p2 = Proc(store, port=p.port)
    procs.append(p2)
    p2.wait_up()
    with httpx.Client(headers=auth, timeout=10) as client:
        # a client that lost track starts over at 0, and is told where to resume
        r = client.post(url, params={"offset": 0}, content=payload[:10])
        assert r.status_code == 409 and r.json()["error"]["size"] == len(on_disk)
        pos = r.json()["error"]["size"]
        while pos < len(payload):
            r = client.post(url, params={"offset": pos}, content=payload[pos : pos + (1 << 20)])
            assert r.status_code == 200, r.text
            pos = r.json()["size"]
        assert client.get(url).content == payload
    assert (root / RUN).read_bytes() == payload
    assert (root / "server" / "tokens.jsonl").read_bytes() == tokens_before


@pytest.mark.timeout(60)
def test_restart_keeps_tokens_and_files(tmp_path: Path, procs: list[Proc]) -> None:
    store = tmp_path / "store"
    root = _store_root(store)
    tokens = make_tokens(root)
    p = Proc(store)
    procs.append(p)
    p.wait_up()
    h = {"Authorization": f"Bearer {tokens['write']}"}
    files = {RUN: b'{"a":1}\n', "projects/p/runs/r1/files/config.yaml": b"lr: 0.1\n"}
    assert httpx.post(
        f"{p.url}/api/v1/store/{RUN}", params={"offset": 0}, content=files[RUN], headers=h
    ).is_success
    put = httpx.put(
        f"{p.url}/api/v1/store/projects/p/runs/r1/files/config.yaml", content=b"lr: 0.1\n", headers=h
    )
    assert put.json() == {"written": True}
    p.stop()
    p2 = Proc(store)
    procs.append(p2)
    p2.wait_up()
    for role in ("read", "write", "admin", "project"):
        r = httpx.get(f"{p2.url}/api/v1/store/{RUN}", headers={"Authorization": f"Bearer {tokens[role]}"})
        assert r.content == files[RUN], role
    assert (
        httpx.get(
            f"{p2.url}/api/v1/index", headers={"Authorization": f"Bearer {tokens['revoked']}"}
        ).status_code
        == 401
    )
    listing = httpx.get(f"{p2.url}/api/v1/store", headers=h, params={"prefix": "projects/p/"}).json()["files"]
    assert listing == {rel: len(data) for rel, data in files.items()}


# -- 6. the command line -------------------------------------------------------------------------------
def _listening(port: int) -> bool:
    with socket.socket() as c:
        c.settimeout(0.5)
        return c.connect_ex((HOST, port)) == 0


@pytest.mark.timeout(60)
def test_public_address_without_token_is_refused(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    r = subprocess.run(
        [
            PY,
            "-m",
            "runstore",
            "server",
            "--dir",
            str(tmp_path / "s"),
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert r.returncode in (1, 2), r
    assert len(r.stderr.strip().splitlines()) == 1 and "token" in r.stderr, r.stderr
    assert not _listening(port)


@pytest.mark.timeout(60)
def test_insecure_no_auth_warns_and_serves(tmp_path: Path, procs: list[Proc]) -> None:
    p = Proc(tmp_path / "s", "--insecure-no-auth")
    procs.append(p)
    p.wait_up()
    assert "WARNING: --insecure-no-auth" in p.stderr()
    r = httpx.put(f"{p.url}/api/v1/store/projects/p/runs/r1/files/a.txt", content=b"hi")
    assert r.json() == {"written": True}
    assert httpx.get(f"{p.url}/api/v1/store/projects/p/runs/r1/files/a.txt").content == b"hi"


@pytest.mark.timeout(30)
def test_token_commands(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "s")
    code, out, err = run_cli(
        capfd, "server", "token", "create", "--name", "ci", "--scope", "read", "--dir", d
    )
    assert code == 0
    secret = out.strip()
    assert secret.startswith("rs_") and len(out.strip().splitlines()) == 1
    tid = secret.split("_")[1]
    path = tmp_path / "s" / ".wandb" / "server" / "tokens.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret.split("_", 2)[2] not in path.read_text()  # only its hash is kept
    code, out, err = run_cli(capfd, "server", "token", "ls", "--dir", d)
    assert code == 0 and tid in out and "ci" in out and "read" in out
    assert secret not in out + err and secret.split("_", 2)[2] not in out + err
    code, out, _ = run_cli(capfd, "server", "token", "ls", "--json", "--dir", d)
    assert secret.split("_", 2)[2] not in out and json.loads(out)[0]["id"] == tid
    code, out, err = run_cli(capfd, "server", "token", "revoke", "nosuch\nid", "--dir", d)
    assert code != 0 and len(err.strip().splitlines()) == 1, err
    code, out, err = run_cli(capfd, "server", "token", "revoke", tid, "--dir", d)
    assert code == 0 and "revoked" in out
    assert Tokens(tmp_path / "s" / ".wandb").check(secret) is None
    # hostile names: refused in one line
    for name in ("a\nb", "x" * 10_000, "\x1b[2Jwipe", " ", ""):
        code, out, err = run_cli(capfd, "server", "token", "create", "--name", name, "--dir", d)
        assert code != 0 and len(err.strip().splitlines()) == 1 and "\x1b" not in err, (name[:20], err)
    code, out, err = run_cli(capfd, "server", "token", "create", "--name", "c", "--scope", "root", "--dir", d)
    assert code != 0 and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(
        capfd, "server", "token", "create", "--name", "c", "--project", "../x", "--dir", d
    )
    assert code != 0 and len(err.strip().splitlines()) == 1
    # one a hand-edited file holds: printed escaped, one line
    with open(path, "ab") as f:
        rec = {
            "t": "token",
            "id": "bad1",
            "name": "evil\n\x1b[31mred",
            "scope": "read",
            "hash": "0",
            "created": 1,
        }
        f.write(json.dumps(rec).encode() + b"\n")
    code, out, err = run_cli(capfd, "server", "token", "ls", "--dir", d)
    assert code == 0 and "\x1b" not in out
    assert len([line for line in out.splitlines() if "bad1" in line]) == 1


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key: with `cryptography` when installed, else openssl."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        import shutil

        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl CLI is there to make a certificate")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return cert, key
    import ipaddress

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    c = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(k.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(k, hashes.SHA256())
    )
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        k.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert, key


@pytest.mark.timeout(60)
def test_tls(tmp_path: Path, procs: list[Proc]) -> None:
    import ssl

    cert, key = _self_signed(tmp_path)
    store = tmp_path / "s"
    tok = Tokens(_store_root(store)).create("r", "read")[1]
    p = Proc(store, "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), scheme="https")
    procs.append(p)
    ctx = ssl.create_default_context(cafile=str(cert))
    p.wait_up(verify=ctx)
    assert "https://127.0.0.1" in p.stderr()
    r = httpx.get(f"{p.url}/api/v1/index", headers={"Authorization": f"Bearer {tok}"}, verify=ctx)
    assert r.status_code == 200 and r.json() == {"runs": [], "sweeps": []}
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{HOST}:{p.port}/healthz", timeout=5)
    with pytest.raises(httpx.HTTPError):  # nor is an unverified certificate trusted by default
        httpx.get(f"{p.url}/healthz", timeout=5)
