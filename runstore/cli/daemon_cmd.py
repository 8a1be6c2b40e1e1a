"""`runstore daemon start|stop|status`: the store's background sampler (library: runstore.daemon.control)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import typer

from ..daemon import control
from ..daemon.syncing import read_status
from ._common import console, fmt_duration, require_store, store_at

DirOpt = typer.Option(None, "--dir", help="Directory of the store (or its parent); default: found like .git.")

daemon_app = typer.Typer(
    name="daemon",
    help="The store daemon: samples system metrics of live runs and marks dead runs crashed. "
    "runstore.init() starts it; it exits by itself when no run has been live for a while.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@daemon_app.command("start")
def start(
    interval: float = typer.Option(None, "--interval", min=0.05, help="Seconds between samples (default 2)."),
    idle_exit: float = typer.Option(
        None,
        "--idle-exit",
        min=0,
        help="Exit after this many seconds without a live run (default 120; 0: never).",
    ),
    foreground: bool = typer.Option(False, "--foreground", help="Run in this terminal, logging to stderr."),
    dir: Path = DirOpt,
) -> None:
    """Start the daemon for this store (detached unless --foreground) and print its pid."""
    store = require_store(store_at(dir))
    if foreground:
        console.print(f"daemon running in the foreground for {store.root}; Ctrl-C stops it")
        control.run_foreground(store.root, interval=interval, idle_exit=idle_exit)
        return
    pid, started = control.start(store.root, interval=interval, idle_exit=idle_exit)
    if started:
        console.print(f"daemon started (pid {pid}) for {store.root}")
    else:
        console.print(f"daemon already running (pid {pid}) for {store.root}")


@daemon_app.command("stop")
def stop(
    dir: Path = DirOpt,
    timeout: float = typer.Option(5.0, "--timeout", min=0, help="Seconds to wait for it to exit."),
) -> None:
    """Stop the store's daemon (SIGTERM; runs keep training, unsampled until a daemon runs again)."""
    store = store_at(dir)
    pid = control.stop(store.root, timeout=timeout)
    if pid is None:
        console.print(f"no daemon running for {store.root}")
    else:
        console.print(f"daemon (pid {pid}) stopped")


@daemon_app.command("status")
def status(dir: Path = DirOpt, json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Is the daemon running? Its pid, interval, uptime and the live runs it watches."""
    store = store_at(dir)
    r = control.status(store.root)
    r["sync"] = read_status(store)
    if json:
        console.print_json(orjson.dumps(r, option=orjson.OPT_SORT_KEYS).decode())
        return
    if r["running"]:
        interval = "?" if r["interval"] is None else f"{r['interval']:g}s"
        up = "?" if r["uptime"] is None else fmt_duration(r["uptime"])
        console.print(f"daemon running (pid {r['pid']}), interval {interval}, up {up}; store {r['store']}")
    else:
        console.print(f"daemon not running; store {r['store']}")
    runs = r["live_runs"]
    console.print(f"{len(runs)} live run(s)" + (":" if runs else ""))
    for lr in runs:
        state = {True: "alive", False: "dead", None: f"on {lr['host']}"}[lr["alive"]]
        console.print(f"  {lr['project']}/{lr['id']}  pid {lr['pid']} ({state})")
    sync = r["sync"]
    for url, rs in sorted((sync.get("remotes") or {}).items()):
        if rs.get("error"):
            console.print(
                f"remote {url}: failing ({rs.get('failures')} tries): {rs['error']}", soft_wrap=True
            )
    streams = sync.get("runs") or {}
    if streams:
        console.print(f"{len(streams)} run(s) streaming:")
    for name, st in sorted(streams.items()):
        sent = st.get("last_sent")
        ago = "never" if sent is None else f"{fmt_duration(max(0.0, time.time() - sent))} ago"
        line = f"  {name} -> {st.get('remote')}: lag {st.get('lag_bytes', 0)} bytes, last sent {ago}"
        if st.get("error"):
            line += f"; error: {st['error']}"
        console.print(line, soft_wrap=True)
    console.print(f"log: {r['log']}")


def register(app: typer.Typer) -> None:
    app.add_typer(daemon_app, name="daemon")


__all__ = ["register", "daemon_app"]
