"""The ASGI app uvicorn's workers import (`runstore.server.asgi:make`, a factory): its settings come
from RUNSTORE_SERVER_CONFIG, which `runstore server` sets before it starts uvicorn, so every worker
process builds the same app. Also the HTTP protocol uvicorn runs it with (`Protocol`), which gives a
request's headers a deadline uvicorn itself does not have."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from typing import Any

import h11
import orjson
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..base import env
from .app import MAX_BODY, READ_TIMEOUT, create_app

PROTOCOL = "runstore.server.asgi:Protocol"


def config(store: str, auth: bool, max_body: int, read_timeout: float = READ_TIMEOUT) -> str:
    return json.dumps({"store": store, "auth": auth, "max_body": max_body, "read_timeout": read_timeout})


def _config() -> dict[str, Any]:
    raw = env.get("server_config")
    if not raw:
        raise RuntimeError(
            "runstore.server.asgi:make is started by `runstore server` (no RUNSTORE_SERVER_CONFIG)"
        )
    cfg: dict[str, Any] = json.loads(raw)
    return cfg


def make() -> FastAPI:
    cfg = _config()
    return create_app(
        cfg["store"],
        auth=bool(cfg.get("auth", True)),
        max_body=int(cfg.get("max_body") or MAX_BODY),
        read_timeout=float(cfg.get("read_timeout") or READ_TIMEOUT),
    )


class Protocol(H11Protocol):
    """uvicorn's h11 protocol, but a connection whose request headers are not all in within
    `header_timeout` seconds of its first byte (or of the connection, for one that sends nothing) is
    closed: uvicorn waits for them forever, so a client trickling headers holds a connection (and,
    1,000 of them, the server's whole concurrency limit) indefinitely. The body has its deadline in
    app.Limits. Malformed requests are answered in the API's error shape."""

    header_timeout: float | None = None  # None: the server's read timeout (RUNSTORE_SERVER_CONFIG)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        if self.header_timeout is None:
            try:
                self.header_timeout = float(_config().get("read_timeout") or READ_TIMEOUT)
            except (RuntimeError, ValueError):
                self.header_timeout = READ_TIMEOUT

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._deadline is None and self._waiting_for_headers():
            assert self.header_timeout is not None
            self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn's workers (--workers > 1) accept connections without TCP_NODELAY (uvicorn #3149): each
        # response on a kept-alive connection then waits ~40 ms for the client's delayed ACK, which caps
        # ingest at ~25 appends/s per client. Small answers must leave at once.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if not self._waiting_for_headers():
            self._disarm()

    def on_response_complete(self) -> None:
        self._disarm()  # an idle kept-alive connection is uvicorn's keep-alive timeout's to close
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        body = orjson.dumps({"error": {"code": "bad_request", "message": msg}})
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        self.transport.write(
            self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request"))
        )
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


def protocol(header_timeout: float) -> type[Protocol]:
    """A Protocol with its own header deadline (a server run in-process, not by `runstore server`)."""
    return type("Protocol", (Protocol,), {"header_timeout": header_timeout})
