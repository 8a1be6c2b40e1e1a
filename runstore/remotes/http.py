"""A runstore server as a remote (`http://host:8080`, `https://host/runstore/`): the server's ingest
endpoints (runstore/server/app.py) are the Remote protocol over HTTP, so a sync, a pull and the daemon's
streaming talk to a server as they talk to a directory.

* One keep-alive `httpx.Client` per remote, made at the first request, which first asks `/healthz`: a
  URL that is not a runstore server is one clear error instead of every file looking absent.
* Reads, listings, puts, seals and deletes are idempotent: retried with backoff on connection errors,
  timeouts, 429 and 5xx (a server restarting is waited for a few seconds). An append is retried too, but
  after an attempt whose outcome is unknown its retry may find the bytes already there: the server then
  answers 409 with its size, which is our own append when the bytes at the offset are ours (checked),
  and a `Conflict` otherwise, from which the Pusher resumes.
* The token (base/credentials.py) goes in `Authorization: Bearer`; it is looked up again once after a
  401, so a daemon started before `runstore login` picks the new one up. 401/403 are `Unauthorized`,
  one line saying how to authenticate, never the token.
* TLS is verified: the system's CAs and certifi's, or REQUESTS_CA_BUNDLE / SSL_CERT_FILE (a private CA).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import orjson

from ..base import credentials
from ..base import env as _env
from ..base.version import __version__
from .base import (
    CHUNK,
    Conflict,
    MissingBackend,
    RemoteError,
    Unauthorized,
    check_rel,
    strip_credentials,
    url_key,
)

if TYPE_CHECKING:
    import httpx

API = "/api/v1"
# seconds between attempts of an idempotent request: about 8 s in all, what a server restart takes
RETRY_DELAYS: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6, 2.0, 3.0)
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
CONNECT_TIMEOUT = 10.0
CA_VARS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:
        raise MissingBackend(
            "http(s):// remotes (runstore servers) need httpx: pip install 'runstore[server]'"
        ) from None
    return httpx


def ssl_context() -> ssl.SSLContext:
    """Certificates are verified against REQUESTS_CA_BUNDLE or SSL_CERT_FILE when one is set (a private
    CA), else the system's CAs and certifi's bundle (what httpx and requests trust by default)."""
    for var in CA_VARS:
        path = os.environ.get(var, "").strip()
        if path:
            try:
                if os.path.isdir(path):
                    return ssl.create_default_context(capath=path)
                return ssl.create_default_context(cafile=path)
            except (OSError, ssl.SSLError) as e:
                raise RemoteError(
                    f"{var}={path}: cannot load CA certificates from it ({_reason(e)})"
                ) from None
    ctx = ssl.create_default_context()
    try:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):
        pass
    return ctx


class _Failed(Exception):
    """One attempt that got no answer: `retry` whether another attempt may get one, `sent` whether
    the request may have reached the server (its outcome is unknown)."""

    def __init__(self, message: str, *, retry: bool, sent: bool) -> None:
        super().__init__(message)
        self.retry = retry
        self.sent = sent


class HttpRemote:
    def __init__(self, url: str, *, token: str | None = None, timeout: float | None = None) -> None:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"{strip_credentials(url)}: not an http(s) URL of a runstore server")
        if importlib.util.find_spec("httpx") is None:
            _httpx()  # the MissingBackend naming the extra, now rather than at the first request
        self.url = strip_credentials(url.strip())
        hostport = parts.netloc.rpartition("@")[2]
        # a server behind a reverse proxy at https://host/runstore/: every endpoint below that path
        self.base = f"{scheme}://{hostport}{parts.path.rstrip('/')}"
        self._given_url = url.strip()  # its userinfo may hold the token
        self._fixed_token = token
        self._token: str | None = None
        self._source = ""
        self._resolved = False
        self._timeout = float(timeout if timeout is not None else _env.get("http_timeout") or 60.0)
        self._client: httpx.Client | None = None
        self._checked = False

    @property
    def key(self) -> str:
        return url_key(self.url)

    def __repr__(self) -> str:
        return f"HttpRemote({self.url!r})"

    # -- the connection ------------------------------------------------------------------------------
    def _resolve_token(self) -> None:
        if self._fixed_token is not None:
            self._token, self._source = self._fixed_token, "the caller"
        else:
            self._token, self._source = credentials.token_for(self._given_url)
        self._resolved = True

    def _http(self) -> httpx.Client:
        if self._client is None:
            httpx = _httpx()
            self._client = httpx.Client(
                timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, CONNECT_TIMEOUT)),
                verify=ssl_context() if self.base.startswith("https:") else False,
                headers={"User-Agent": f"runstore/{__version__}"},
                # a redirect would resend bodies and tokens somewhere the user did not name
                follow_redirects=False,
            )
        return self._client

    def _check_server(self) -> None:
        """Once per connection: the URL is a runstore server (else every HEAD's 404 would read as
        'absent', and a push would start over against the wrong thing)."""
        if self._checked:
            return
        resp = self._call("GET", "/healthz", auth=False)
        try:
            ok = resp.status_code == 200 and "version" in resp.json()
        except ValueError:
            ok = False
        if not ok:
            raise RemoteError(
                f"{self.url} does not answer as a runstore server (GET /healthz: HTTP {resp.status_code}); "
                "check the URL (and its path, behind a reverse proxy)"
            )
        self._checked = True

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | Path | None = None,
        auth: bool = True,
        content_type: str | None = None,
    ) -> httpx.Response:
        """One attempt. `path` is already quoted."""
        httpx = _httpx()
        client = self._http()
        headers: dict[str, str] = {"Content-Type": content_type} if content_type else {}
        if auth:
            if not self._resolved:
                self._resolve_token()
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
        content: Any = None
        if isinstance(body, Path):
            size = os.stat(body).st_size
            headers["Content-Length"] = str(size)
            content = _file_chunks(body, size)
        elif body is not None:
            content = body
        try:
            return client.request(method, self.base + path, params=params, content=content, headers=headers)
        except httpx.TransportError as e:
            raise self._failed(e) from None
        except ssl.SSLError as e:  # raised outside httpx's mapping by some TLS failures
            raise RemoteError(self._tls_message(e)) from None

    def _failed(self, e: Exception) -> Exception:
        httpx = _httpx()
        if _in_chain(e, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(e):
            return RemoteError(self._tls_message(e))
        if _in_chain(e, socket.gaierror):
            return RemoteError(f"{self.url}: cannot resolve the host name ({_reason(e)})")
        if isinstance(e, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return RemoteError(f"{self.url}: {_reason(e)}")
        # ConnectError/ConnectTimeout: the request never left; anything later may have been received
        sent = not isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        what = "timed out" if isinstance(e, httpx.TimeoutException) else _reason(e) or type(e).__name__
        return _Failed(f"{self.url}: cannot reach the server ({what})", retry=True, sent=sent)

    def _tls_message(self, e: BaseException) -> str:
        return (
            f"{self.url}: the server's TLS certificate is not trusted ({_reason(e)}); for a private CA set "
            "REQUESTS_CA_BUNDLE or SSL_CERT_FILE to its certificate (PEM)"
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: bytes | Path | None = None,
        auth: bool = True,
        rel: str = "",
    ) -> httpx.Response:
        """An idempotent request, retried; an error status other than 404/409 is raised (401/403 as
        Unauthorized), a 404 or 409 is the caller's to read."""
        if auth and not self._checked:
            self._check_server()
        reauth = auth
        last = ""
        for delay in (*RETRY_DELAYS, None):
            try:
                resp = self._send(method, path, params=params, body=body, auth=auth)
            except _Failed as f:
                last = str(f)
                if delay is None:
                    break
                self._drop_connections()
                time.sleep(delay)
                continue
            if resp.status_code in RETRY_STATUS and delay is not None:
                last = self._status_message(resp, rel)
                time.sleep(_retry_after(resp, delay))
                continue
            if resp.status_code == 401 and reauth:
                reauth = False
                before = self._token
                self._resolve_token()  # a `runstore login` since: take its token and try once more
                if self._token != before:
                    continue
            if resp.status_code >= 400 and resp.status_code not in (404, 409):
                raise self._error(resp, rel)
            return resp
        raise RemoteError(last)

    def _drop_connections(self) -> None:
        """After a connection failure the pooled ones are likely dead too (a restarted server)."""
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
            self._client = None

    def _error(self, resp: httpx.Response, rel: str = "") -> RemoteError:
        status = resp.status_code
        code, message, _ = _error_of(resp)
        where = f"{self.url}: {rel + ': ' if rel else ''}"
        if status == 401:
            how = f"log in with `runstore login {self.url}` or set RUNSTORE_API_KEY (or WANDB_API_KEY)"
            if not self._token:
                return Unauthorized(f"{self.url}: the server needs a token: {how}", message)
            return Unauthorized(
                f"{self.url}: the server refused the token from {self._source} ({message}); {how}", message
            )
        if status == 403:
            if "scope" in message:  # the token may not do this anywhere: every request would be refused
                return Unauthorized(f"{where}refused for the token from {self._source}: {message}", message)
            return RemoteError(f"{where}refused by the server: {message}")
        if status == 413:
            return RemoteError(
                f"{where}too large for the server ({message}); its operator can raise `runstore server "
                "--max-body-mb`"
            )
        if status in (301, 302, 303, 307, 308):
            target = strip_credentials(resp.headers.get("location", "?"))
            return RemoteError(f"{self.url}: the server redirects to {target}; use that URL")
        return RemoteError(f"{where}{message or 'HTTP ' + str(status)}" + (f" ({code})" if code else ""))

    def _status_message(self, resp: httpx.Response, rel: str) -> str:
        _, message, _ = _error_of(resp)
        return (
            f"{self.url}: {rel + ': ' if rel else ''}the server answered HTTP {resp.status_code} ({message})"
        )

    # -- the Remote protocol -------------------------------------------------------------------------
    def listing(self, prefix: str = "") -> dict[str, int]:
        params = {}
        if prefix:
            check_rel(prefix.rstrip("/"))
            params["prefix"] = prefix
        resp = self._call("GET", f"{API}/store", params=params)
        if resp.status_code == 404:
            raise self._error(resp)
        files = _json(resp, self.url).get("files")
        if not isinstance(files, dict):
            raise RemoteError(f"{self.url}: the server's listing is not {{'files': {{path: size}}}}")
        out: dict[str, int] = {}
        for rel, size in files.items():
            check_rel(rel)  # a hostile server must not make a pull write outside the store
            if isinstance(size, int) and size >= 0 and rel.startswith(prefix):
                out[rel] = size
        return out

    def size(self, rel: str) -> int | None:
        resp = self._call("HEAD", _store_path(rel), rel=rel)
        if resp.status_code == 404:
            return None
        try:
            return int(resp.headers["x-runstore-size"])
        except (KeyError, ValueError):
            raise RemoteError(f"{self.url}: {rel}: the server sent no X-Runstore-Size") from None

    def read(self, rel: str, start: int = 0, end: int | None = None) -> bytes:
        path = _store_path(rel)
        if end is not None and end <= start:
            return b""  # the server refuses an inverted range; an empty one needs no request
        params: dict[str, Any] = {"start": max(0, start)}
        if end is not None:
            params["end"] = end
        resp = self._call("GET", path, params=params, rel=rel)
        if resp.status_code == 404:
            raise FileNotFoundError(rel)
        return resp.content

    def append(self, rel: str, offset: int, data: bytes) -> int:
        path = _store_path(rel)
        if not self._checked:
            self._check_server()
        unknown = False  # an earlier attempt may have landed
        reauth = True
        last = ""
        for delay in (*RETRY_DELAYS, None):
            try:
                resp = self._send("POST", path, params={"offset": offset}, body=data)
            except _Failed as f:
                unknown = unknown or f.sent
                last = str(f)
                if delay is None:
                    break
                self._drop_connections()
                time.sleep(delay)
                continue
            if resp.status_code in RETRY_STATUS and delay is not None:
                unknown = unknown or resp.status_code != 429  # a 5xx may have come after the write
                last = self._status_message(resp, rel)
                time.sleep(_retry_after(resp, delay))
                continue
            if resp.status_code == 401 and reauth:
                reauth = False
                before = self._token
                self._resolve_token()
                if self._token != before:
                    continue
            if resp.status_code == 409:
                _, _, extra = _error_of(resp)
                size = extra.get("size")
                if not isinstance(size, int):
                    raise RemoteError(f"{self.url}: {rel}: a conflict without the file's size")
                end = offset + len(data)
                if unknown and size == end and self.read(rel, offset, end) == data:
                    return end  # our earlier attempt landed; its answer was lost
                raise Conflict(rel, offset, size)
            if resp.status_code >= 400:
                raise self._error(resp, rel)
            size = _json(resp, self.url).get("size")
            if not isinstance(size, int):
                raise RemoteError(f"{self.url}: {rel}: the server's answer to an append has no size")
            return size
        raise RemoteError(last)

    def put(self, rel: str, source: bytes | Path, *, replace: bool) -> bool:
        size = len(source) if isinstance(source, bytes) else os.stat(source).st_size
        if size > CHUNK:
            return self._put_in_pieces(rel, source, size, replace)
        resp = self._call(
            "PUT", _store_path(rel), params={"replace": "true" if replace else "false"}, body=source, rel=rel
        )
        if resp.status_code in (404, 409):
            raise self._error(resp, rel)
        return bool(_json(resp, self.url).get("written"))

    def _put_in_pieces(self, rel: str, source: bytes | Path, size: int, replace: bool) -> bool:
        """A file larger than one request (a model, a dataset shard): CHUNK-sized pieces into a staging
        upload of its own, then one commit that puts it in place atomically. A piece whose answer was
        lost is resolved by the staged size the server reports (409), as appends are."""
        path = f"{API}/upload/{quote(check_rel(rel), safe='/')}"
        upload = os.urandom(12).hex()
        pos = 0
        while pos < size:
            if isinstance(source, bytes):
                data = source[pos : pos + CHUNK]
            else:
                with open(source, "rb") as f:
                    f.seek(pos)
                    data = f.read(min(CHUNK, size - pos))
            if not data:
                raise RemoteError(f"{rel}: the file shrank while it was being sent")
            resp = self._call("POST", path, params={"upload": upload, "offset": pos}, body=data, rel=rel)
            if resp.status_code == 409:
                have = int(_error_of(resp)[2].get("size", -1))
                if not 0 <= have <= size:
                    raise self._error(resp, rel)
                pos = have
                continue
            if resp.status_code == 404:
                raise self._error(resp, rel)
            pos += len(data)
        params = {"upload": upload, "commit": size, "replace": "true" if replace else "false"}
        resp = self._call("POST", path, params=params, rel=rel)
        if resp.status_code in (404, 409):
            raise self._error(resp, rel)
        return bool(_json(resp, self.url).get("written"))

    def seal(self, rel: str) -> None:
        resp = self._call("POST", f"{API}/seal/{quote(check_rel(rel), safe='/')}", rel=rel)
        if resp.status_code in (404, 409):
            raise self._error(resp, rel)

    def delete(self, rel: str) -> None:
        resp = self._call("DELETE", _store_path(rel), rel=rel)
        if resp.status_code == 409:
            raise self._error(resp, rel)
        # 404: nothing there, as the protocol wants

    def _index(self) -> dict[str, Any]:
        resp = self._call("GET", f"{API}/index")
        if resp.status_code == 404:
            raise self._error(resp)
        return _json(resp, self.url)

    def projects_runs(self) -> list[tuple[str, str]]:
        runs = self._index().get("runs")
        if not isinstance(runs, list):
            raise RemoteError(f"{self.url}: the server's index has no list of runs")
        return [
            (p, r)
            for p, r in (x for x in runs if isinstance(x, list) and len(x) == 2)
            if isinstance(p, str) and isinstance(r, str)
        ]

    def sweep_ids(self) -> list[str]:
        sweeps = self._index().get("sweeps")
        return [s for s in sweeps if isinstance(s, str)] if isinstance(sweeps, list) else []

    def call_json(self, method: str, path: str, doc: dict[str, Any] | None = None) -> dict[str, Any]:
        """A JSON request to the server's API beyond the store's files (sweeps across machines). Not
        retried once it may have reached the server (registering an agent or taking a trial is not
        idempotent); retried while the connection could not be made. Errors are one-line RemoteErrors."""
        if not self._checked:
            self._check_server()
        data = orjson.dumps(doc if doc is not None else {})
        for delay in (*RETRY_DELAYS, None):
            try:
                resp = self._send(method, path, body=data, content_type="application/json")
            except _Failed as f:
                if f.sent or delay is None:
                    raise RemoteError(str(f)) from None
                self._drop_connections()
                time.sleep(delay)
                continue
            if resp.status_code >= 400:
                raise self._error(resp)
            return _json(resp, self.url)
        raise RemoteError(f"{self.url}: cannot reach the server")  # pragma: no cover - the loop raises

    def check_token(self) -> None:
        """Raise (Unauthorized, RemoteError) unless the server takes this remote's token for reading."""
        self._index()

    def close(self) -> None:
        self._drop_connections()
        self._checked = False
        self._resolved = False  # the next use looks the token up again (a login since)


# -- helpers ------------------------------------------------------------------------------------------
def _store_path(rel: str) -> str:
    return f"{API}/store/{quote(check_rel(rel), safe='/')}"


def _file_chunks(path: Path, size: int) -> Any:
    """The body of a PUT from a file, in pieces (a 1 GB model is never in memory at once), made anew for
    each attempt."""
    with open(path, "rb") as f:
        left = size
        while left > 0:
            data = f.read(min(CHUNK, left))
            if not data:
                raise RemoteError(f"{path}: the file shrank while it was being sent")
            left -= len(data)
            yield data


def _json(resp: httpx.Response, url: str) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RemoteError(f"{url}: the server's answer is not a JSON object (HTTP {resp.status_code})")
    return data


def _error_of(resp: httpx.Response) -> tuple[str, str, dict[str, Any]]:
    """(code, one-line message, the error object) of an error answer, whatever its shape."""
    try:
        err = resp.json().get("error")
    except (ValueError, AttributeError):
        err = None
    if isinstance(err, dict):
        msg = str(err.get("message") or "")
        return str(err.get("code") or ""), _one_line(msg) or f"HTTP {resp.status_code}", err
    reason = resp.reason_phrase or ""
    return "", f"HTTP {resp.status_code}{' ' + reason if reason else ''}", {}


def _one_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return strip_credentials(line[:limit])


def _retry_after(resp: httpx.Response, default: float) -> float:
    try:
        return min(max(float(resp.headers.get("retry-after", "")), 0.0), 10.0)
    except ValueError:
        return default


def _in_chain(e: BaseException, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False


def _reason(e: BaseException) -> str:
    """The innermost useful line of an exception chain (no tracebacks, no credentials)."""
    texts = []
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError) and cur.verify_message:
            texts.append(str(cur.verify_message))
        elif str(cur).strip():
            texts.append(str(cur))
        cur = cur.__cause__ or cur.__context__
    return _one_line(texts[-1] if texts else type(e).__name__, 200)


__all__ = ["HttpRemote", "ssl_context", "RETRY_DELAYS"]
