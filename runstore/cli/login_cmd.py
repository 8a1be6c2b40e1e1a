"""`runstore login URL`: keep a runstore server's token in the user's config (base/credentials.py).

Like `wandb login`, it stores credentials and nothing else: the store's remote is what `runstore init
--remote URL` (or `--remote` on each sync) names, so logging in never changes where runs go.
"""

from __future__ import annotations

import getpass
import sys

import typer

from ..base import credentials
from ..base.urls import configured_remote, strip_credentials
from ..errors import CommError, UsageError
from ..store.store import Store
from ._common import console, err_console, safe_text


def _read_token(url: str) -> str:
    """The token from stdin when it is piped (`echo $TOKEN | runstore login URL`), else a prompt that
    does not echo."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    try:
        return getpass.getpass(f"Token for {url} (`runstore server token create` prints one): ").strip()
    except EOFError:
        return ""


def _default_url() -> str | None:
    try:
        store = Store.at(None)
        found = configured_remote(store.read_settings().get("remote") if store.exists() else None)
    except Exception:
        found = configured_remote(None)
    return found if found and found.lower().startswith(("http://", "https://")) else None


def login(
    target: str = typer.Argument(
        None,
        metavar="URL",
        help="The server (http(s)://host:port[/path]); default: the store's remote or WANDB_BASE_URL. "
        "A token (rs_...) here is taken as --token, as `wandb login KEY` takes a key.",
    ),
    token: str = typer.Option(
        None, "--token", help="The token (default: read from stdin, or asked for without echo)."
    ),
    host: str = typer.Option(None, "--host", help="The server, as `wandb login --host` names it."),
) -> None:
    """Store a token for a runstore server, after checking that the server takes it. Syncs, pulls and
    the daemon then use it for that URL (and any URL below it) with no variable set."""
    from ..remotes.base import RemoteError, Unauthorized
    from ..remotes.http import HttpRemote

    url: str | None = host
    given: str | None = token
    if target and target.startswith(credentials.TOKEN_PREFIX) and "://" not in target:
        if given:
            raise UsageError("a token was given twice (as the argument and as --token)")
        given = target
    elif target:
        if host:
            raise UsageError("name the server once: as URL or as --host")
        url = target
    url = url or _default_url()
    if not url:
        raise UsageError("name the server: runstore login http(s)://HOST:PORT")
    if not url.lower().startswith(("http://", "https://")):
        raise UsageError(
            f"{strip_credentials(url)}: runstore login is for runstore servers (http(s):// URLs)"
        )
    shown = credentials.server_key(url)
    token = given or credentials.url_token(url) or _read_token(shown)
    if not token:
        raise UsageError("no token given (pass --token, pipe it on stdin, or type it at the prompt)")
    if any(c.isspace() for c in token) or not token.isprintable():
        raise UsageError("a token is one word of printable characters")
    remote = HttpRemote(shown, token=token)
    try:
        remote.check_token()
    except Unauthorized as e:
        raise CommError(
            f"{shown}: the server refused this token ({e.reason or 'unauthorized'}); nothing stored"
        ) from None
    except RemoteError as e:
        raise CommError(f"{e}; nothing stored") from None
    finally:
        remote.close()
    path = credentials.save(shown, token)
    console.print(f"logged in to {safe_text(shown)}: token stored in {safe_text(str(path))}")
    err_console.print(
        f"sync to it with `runstore sync --all --remote {shown}`, or make it this store's remote with "
        f"`runstore init --remote {shown}` (the daemon then streams live runs there)",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("login")(login)


__all__ = ["register"]
