"""The ASGI app uvicorn's workers import (`runstore.server.asgi:make`, a factory): its settings come
from RUNSTORE_SERVER_CONFIG, which `runstore server` sets before it starts uvicorn, so every worker
process builds the same app."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from ..base import env
from .app import MAX_BODY, create_app


def config(store: str, auth: bool, max_body: int) -> str:
    return json.dumps({"store": store, "auth": auth, "max_body": max_body})


def make() -> FastAPI:
    raw = env.get("server_config")
    if not raw:
        raise RuntimeError(
            "runstore.server.asgi:make is started by `runstore server` (no RUNSTORE_SERVER_CONFIG)"
        )
    cfg: dict[str, Any] = json.loads(raw)
    return create_app(
        cfg["store"], auth=bool(cfg.get("auth", True)), max_body=int(cfg.get("max_body") or MAX_BODY)
    )
