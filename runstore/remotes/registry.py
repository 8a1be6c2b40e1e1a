"""Remotes by URL: a scheme picks the backend.

* a path or `file://` — a directory that is itself a store (`directory.DirRemote`);
* `http://`, `https://` — a runstore server (`http.HttpRemote`; the path is kept: a server behind a
  reverse proxy at `https://host/runstore/`);
* anything else fsspec knows (`s3://`, `gs://`, `az://`, `memory://`, …) — `objects.ObjectRemote`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote, urlparse

from .base import Remote, RemoteError, strip_credentials

Factory = Callable[[str], Remote]
_FACTORIES: dict[str, Factory] = {}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def register(scheme: str, factory: Factory) -> None:
    """Route URLs of `scheme` to `factory` (which gets the whole URL)."""
    _FACTORIES[scheme.lower()] = factory


def scheme_of(url: str) -> str | None:
    m = _SCHEME.match(url)
    return m.group(1).lower() if m else None


def open_remote(url: str) -> Remote:
    """The remote a URL names. RemoteError (one line, no credentials) when it cannot be used."""
    if not isinstance(url, str) or not url.strip():
        raise RemoteError("no remote URL given")
    url = url.strip()
    scheme = scheme_of(url)
    if scheme in _FACTORIES:
        return _FACTORIES[scheme](url)
    if scheme is None or scheme == "file":
        from .directory import DirRemote

        path = unquote(urlparse(url).path) if scheme == "file" else url
        if not path:
            raise RemoteError(f"{strip_credentials(url)} names no directory")
        return DirRemote(path)
    if scheme in ("http", "https"):
        from .http import HttpRemote  # httpx is imported at the first request, not here

        return HttpRemote(url)
    from .objects import ObjectRemote

    return ObjectRemote(url)


__all__ = ["register", "open_remote", "scheme_of"]
