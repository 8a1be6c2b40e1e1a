"""`runstore ui`: the dashboard of the store this directory is in, on loopback, read-only."""

from __future__ import annotations

import contextlib
import errno
import socket
from pathlib import Path

import typer

from ..errors import UsageError
from ._common import err_console, safe_text, store_at
from .server_cmd import LOOPBACK


def _listen(host: str, port: int) -> socket.socket:
    """Bind before anything else so a busy port is one line, and `--port 0` can print the port it got."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} is in use: pick another with --port") from None
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def ui(
    dir: Path = typer.Option(
        None, "--dir", help="The store (or a directory under it); default: found like .git."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (default: loopback only)."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0: any free port)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the dashboard in a browser."),
) -> None:
    """Serve the dashboard (runs table, charts, media, live runs) until Ctrl-C. Read-only; on another
    address than loopback it needs the server's tokens (`runstore server token create`)."""
    try:
        import uvicorn

        from ..server.app import create_app
        from ..server.asgi import protocol
        from ..server.tokens import Tokens
    except ImportError:
        raise UsageError("runstore ui needs its extra: pip install 'runstore[server]'") from None
    store = store_at(dir)
    if not store.root.is_dir():
        raise UsageError(f"no store at {safe_text(str(store.root))}: run `runstore init` or log a run first")
    store.check_format()
    host = host.strip("[]")
    local = host in LOOPBACK
    if not local and not Tokens(store.root).any():
        raise UsageError(
            f"refusing to show runs on {host} without a token: create one with `runstore server token "
            f"create --name NAME --scope read --dir {store.root}`, or keep the default --host 127.0.0.1"
        )
    sock = _listen(host, port)
    port = sock.getsockname()[1]
    # on loopback, only requests that name a loopback host: a page of another site whose name resolves
    # to 127.0.0.1 (DNS rebinding) is refused before any route reads the store
    hosts = ["127.0.0.1", "localhost", "[::1]", "::1"] if local else None
    app = create_app(store.root, auth=not local, read_only=True, hosts=hosts)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    err_console.print(f"runstore ui: {safe_text(str(store.root))} at {url} (Ctrl-C to stop)", soft_wrap=True)
    print(url, flush=True)
    if open_browser:
        import webbrowser

        with contextlib.suppress(Exception):  # no browser here: the URL is printed anyway
            webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", http=protocol(30.0), timeout_keep_alive=30)
    server = uvicorn.Server(config)
    # uvicorn shuts down gracefully on Ctrl-C, then raises the signal again for the default handler:
    # a dashboard stopped on purpose exits 0
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
