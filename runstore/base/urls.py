"""URLs as they may be shown: a user's remote or git URL can carry a password or a token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from . import env

_CREDENTIALS = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")
_SECRET_PARAMS = re.compile(
    r"(?i)([?&](?:token|key|secret|password|sig|signature|access_token|x-amz-signature|x-amz-credential)=)[^&]*"
)


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x?token=t` -> `https://host/x?token=***`: what may be printed, logged or
    recorded. scp-style `git@host:x` is kept as it is: it names a user, not a secret."""
    return _SECRET_PARAMS.sub(r"\1***", _CREDENTIALS.sub(r"\g<scheme>", url))


def server_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """WANDB_BASE_URL (or RUNSTORE_BASE_URL) when it names a server runstore can sync to: an http(s)
    URL that is not wandb's cloud (users of real wandb keep `https://api.wandb.ai` in their shell, and
    a runstore server is never there)."""
    value = env.get("base_url", environ)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if host == "wandb.ai" or host.endswith(".wandb.ai"):
        return None
    return value


def configured_remote(
    file_remote: object | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The remote a store syncs to when no `--remote` is given: RUNSTORE_REMOTE, else the store's
    settings.yaml `remote` (`file_remote`), else WANDB_BASE_URL when it names a runstore server."""
    value = env.get("remote", environ) or file_remote
    if value:
        return str(value)
    return server_from_env(environ)
