"""Tokens for runstore servers: which one a request to a URL sends, and where `runstore login` keeps them.

The file is `$XDG_CONFIG_HOME/runstore/credentials.json` (default `~/.config/runstore/`), a JSON object
`{server URL: token}`, mode 0600 in a 0700 directory: the user's, never a store's (a store is shared and
synced; a token must not travel with it).

A request's token, first found wins: the URL's own userinfo (`https://api:TOKEN@host`), RUNSTORE_API_KEY,
WANDB_API_KEY when it holds a runstore token, the file's entry for the longest URL that is a prefix of
the request's. A wandb key in WANDB_API_KEY is skipped, not sent: it would hand a wandb cloud secret to
whatever server the URL names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

import orjson

from . import env
from .urls import strip_credentials

TOKEN_PREFIX = "rs_"  # what `runstore server token create` prints: rs_<id>_<secret>
FILE_NAME = "credentials.json"


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME", "")
    # the XDG spec: a relative value is invalid and ignored
    root = Path(base) if base and os.path.isabs(base) else Path("~/.config").expanduser()
    return root / "runstore"


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    return config_dir(environ) / FILE_NAME


def server_key(url: str) -> str:
    """A server URL as the file keys it: no credentials, query or fragment; scheme and host lower-case;
    no trailing slash."""
    parts = urlsplit(strip_credentials(url.strip()))
    netloc = parts.netloc.rpartition("@")[2].lower()
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


def load(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The stored tokens ({} when there are none or the file is unreadable)."""
    try:
        data = orjson.loads(credentials_path(environ).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str) and v}


def save(url: str, token: str, environ: Mapping[str, str] | None = None) -> Path:
    """Store `token` for the server at `url` (replacing its earlier one); returns the file."""
    path = credentials_path(environ)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)  # made earlier by hand, or by an older version: tighten it
    data = load(environ)
    data[server_key(url)] = token
    body = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.tmp")
    # created 0600 before a byte of a secret is in it, then renamed over the old file: a reader sees
    # the old tokens or the new ones, never half a file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(body)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def stored_token(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The file's token for the longest stored URL that is `url` or a path prefix of it."""
    want = server_key(url)
    best: tuple[int, str] | None = None
    for key, token in load(environ).items():
        k = key.rstrip("/")
        if (want == k or want.startswith(k + "/")) and (best is None or len(k) > best[0]):
            best = (len(k), token)
    return best[1] if best else None


def url_token(url: str) -> str | None:
    """The token a URL carries itself: its password (`https://api:TOKEN@host`), or a user name that is
    a runstore token (`https://TOKEN@host`)."""
    parts = urlsplit(url.strip())
    if parts.password:
        return unquote(parts.password)
    if parts.username and unquote(parts.username).startswith(TOKEN_PREFIX):
        return unquote(parts.username)
    return None


def token_for(url: str, environ: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """(token or None, where it came from) for requests to `url`. The source names a variable or a
    file, never the secret: it goes into error messages."""
    tok = url_token(url)
    if tok:
        return tok, "the URL"
    environ = os.environ if environ is None else environ
    found = env.raw("api_key", environ)
    if found is not None:
        var, value = found
        if var.startswith("RUNSTORE_"):
            return value.strip(), var
        if value.strip().startswith(TOKEN_PREFIX):
            return value.strip(), var
        # a wandb key: never sent; RUNSTORE_API_KEY or the credentials file may still have one
    stored = stored_token(url, environ)
    if stored:
        return stored, str(credentials_path(environ))
    return None, ""


__all__ = ["config_dir", "credentials_path", "server_key", "load", "save", "stored_token", "token_for"]
