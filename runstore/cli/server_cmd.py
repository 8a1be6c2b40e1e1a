"""`runstore server`: serve a store over HTTP (runstore.server), and its tokens."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import orjson
import typer

from ..base import env as _env
from ..errors import UsageError
from ._common import console, err_console, json_text, safe_text, store_at

DirOpt = typer.Option(None, "--dir", help="The store to serve (or its parent); created when missing.")
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")

server_app = typer.Typer(
    name="server",
    help="Serve a store over HTTP: the sync remote (http://host:port), the read API and sweeps, behind "
    "tokens. `runstore server token create --name ci` makes a token.",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
token_app = typer.Typer(help="Create, list and revoke the server's access tokens.", no_args_is_help=True)
server_app.add_typer(token_app, name="token")


def _server_store(dir: Path | None) -> Path:
    store = store_at(dir)
    store.ensure()
    store.check_format()
    return store.root


@server_app.callback()
def serve(
    ctx: typer.Context,
    dir: Path = DirOpt,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: loopback only)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
    insecure_no_auth: bool = typer.Option(
        False, "--insecure-no-auth", help="Accept requests without a token (trusted networks only)."
    ),
    ssl_certfile: Path = typer.Option(None, "--ssl-certfile", help="TLS certificate (PEM), for https."),
    ssl_keyfile: Path = typer.Option(None, "--ssl-keyfile", help="TLS private key (PEM)."),
    max_body_mb: int = typer.Option(64, "--max-body-mb", min=1, max=4096, help="Largest request body."),
    read_timeout: float = typer.Option(
        30.0,
        "--read-timeout",
        min=0.1,
        max=3600,
        help="Seconds a request's headers, or the next part of its body, may take to arrive (slow "
        "clients are cut off).",
    ),
) -> None:
    """Serve the store until interrupted: one access-log line per request, /healthz for checks."""
    if ctx.invoked_subcommand is not None:
        return
    from ..server.asgi import PROTOCOL, config
    from ..server.tokens import Tokens

    try:
        import uvicorn
    except ImportError:
        raise UsageError("runstore server needs its extra: pip install 'runstore[server]'") from None
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise UsageError("TLS needs both --ssl-certfile and --ssl-keyfile")
    for f in (ssl_certfile, ssl_keyfile):
        if f is not None and not f.is_file():
            raise UsageError(f"{f}: no such file")
    root = _server_store(dir)
    tokens = Tokens(root)
    if insecure_no_auth:
        err_console.print(
            "WARNING: --insecure-no-auth: anyone who can reach this address can read and write every run",
            style="bold red",
        )
    elif host not in LOOPBACK and not tokens.any():
        raise UsageError(
            f"refusing to listen on {host} without a token: create one with `runstore server token create "
            f"--name NAME --dir {root}` (or pass --insecure-no-auth on a trusted network)"
        )
    elif not tokens.any():
        err_console.print(
            f"no tokens yet: every request needs one (runstore server token create --name NAME --dir {root})"
        )
    # the workers (processes uvicorn starts) build their app from this
    cfg = config(str(root), not insecure_no_auth, max_body_mb << 20, read_timeout)
    for var, value in _env.assignments({"server_config": cfg}).items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    scheme = "https" if ssl_certfile else "http"
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    err_console.print(f"serving {safe_text(str(root))} at {scheme}://{shown}:{port}", soft_wrap=True)
    uvicorn.run(
        "runstore.server.asgi:make",
        factory=True,
        host=host.strip("[]"),
        port=port,
        workers=workers,
        access_log=True,
        log_level="info",
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        timeout_keep_alive=30,
        http=PROTOCOL,  # uvicorn's h11 protocol with a deadline for a request's headers
        limit_concurrency=1000,
    )


@token_app.command("create")
def token_create(
    name: str = typer.Option(..., "--name", help="What the token is for (ci, alice, ...)."),
    scope: str = typer.Option("write", "--scope", help="read, write (read + ingest) or admin."),
    project: str = typer.Option(None, "--project", help="Only this project's runs and artifacts."),
    dir: Path = DirOpt,
    json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a token and print it: it is shown this once (only its hash is kept)."""
    from ..server.tokens import Tokens

    try:
        tok, secret = Tokens(_server_store(dir)).create(name, scope, project)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if json:
        sys.stdout.write(orjson.dumps({**tok.to_dict(), "token": secret}).decode() + "\n")
        return
    console.print(secret)
    err_console.print(
        f"token {tok.id} ({tok.scope}{', project ' + tok.project if tok.project else ''}): shown once, "
        "keep it in a secret store"
    )


@token_app.command("ls")
def token_ls(dir: Path = DirOpt, json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The tokens (never their secrets): id, name, scope, project, created, revoked."""
    import datetime as dt

    from ..server.tokens import Tokens

    toks = Tokens(_server_store(dir)).list()
    if json:
        console.print_json(json_text([t.to_dict() for t in toks]))
        return
    if not toks:
        console.print("no tokens")
    for t in toks:
        when = dt.datetime.fromtimestamp(t.created).strftime("%Y-%m-%d %H:%M")
        state = "revoked" if t.revoked else "active"
        console.print(
            f"{t.id}  {safe_text(t.name)}  {t.scope}  {safe_text(t.project or '*')}  {when}  {state}"
        )


@token_app.command("revoke")
def token_revoke(
    token_id: str = typer.Argument(..., help="The token's id (from `token ls`)."), dir: Path = DirOpt
) -> None:
    """Revoke a token: the server refuses it from its next request on."""
    from ..server.tokens import Tokens

    try:
        tok = Tokens(_server_store(dir)).revoke(token_id)
    except KeyError as e:
        raise UsageError(str(e.args[0])) from None
    console.print(f"revoked {tok.id} ({safe_text(tok.name)})")


def register(app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
