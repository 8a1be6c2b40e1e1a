"""`runstore init`, `off`/`offline`, `on`/`online`, `status`: the store and its settings."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import typer

from ..base import env as _env
from ..base.urls import strip_credentials
from ..errors import UsageError
from ..sdk.settings import norm_mode, status_report
from ..store.layout import check_name
from ..store.store import Store
from ._common import console, safe_text, store_at

DirOpt = typer.Option(None, "--dir", help="Directory of the store (or its parent); default: found like .git.")


def init(
    project: str = typer.Option(None, "--project", "-p", help="Default project for runs in this store."),
    entity: str = typer.Option(None, "--entity", "-e", help="Default entity (user or team)."),
    mode: str = typer.Option(None, "--mode", "-m", help="online or offline."),
    remote: str = typer.Option(
        None,
        "--remote",
        help="Where `runstore sync` and the daemon push runs: a directory or a URL (s3://…).",
    ),
    reset: bool = typer.Option(False, "--reset", help="Clear existing settings first."),
    dir: Path = typer.Option(None, "--dir", help="Create the store in this directory (default: cwd)."),
) -> None:
    """Create a .wandb/ store here (like `git init`) and write its settings."""
    store = Store.for_init(dir)
    if project is not None:
        check_name("project", project)
    current = {} if reset else store.read_settings()
    if mode is not None:
        m = norm_mode(mode, "--mode")
        current["mode"] = m
    if remote is not None:
        from ..remotes import open_remote

        if strip_credentials(remote) != remote:
            raise UsageError(
                "--remote: leave credentials out of the URL (settings.yaml is readable by anyone who can "
                "read the store); use the backend's own mechanisms (AWS_* variables, profiles) or "
                "RUNSTORE_REMOTE in the environment"
            )
        open_remote(remote).close()  # a bad URL or a missing backend is said now, not at the first sync
        if "://" not in remote:
            remote = os.path.abspath(os.path.expanduser(remote))  # the daemon runs in /
    for key, val in (("project", project), ("entity", entity), ("remote", remote)):
        if val is not None:
            current[key] = val
    existed = store.root.is_dir()
    store.ensure()
    store.write_settings(current)
    verb = "Reinitialized" if existed else "Initialized"
    console.print(f"{verb} runstore store in {store.root}")
    for k in sorted(current):
        console.print(f"  {k}: {current[k]}")


def _env_note() -> None:
    found = _env.raw("mode")
    if found is not None:
        console.print(f"note: {found[0]}={found[1]} in your environment overrides this setting")


def _set_mode(mode: str | None, dir: Path | None) -> Store:
    store = store_at(dir)
    settings = store.read_settings()
    if mode is None:
        settings.pop("mode", None)
    else:
        settings["mode"] = mode
    settings.pop("disabled", None)
    store.ensure()
    store.write_settings(settings)
    return store


def off(dir: Path = DirOpt) -> None:
    """Switch this store to offline mode: runs are kept locally and never synced."""
    store = _set_mode("offline", dir)
    console.print(f"runstore is now offline for {store.root}; runs stay local. `runstore on` to sync again.")
    _env_note()


def on(dir: Path = DirOpt) -> None:
    """Switch this store back to online mode (the default): runs sync to the configured remote."""
    store = _set_mode(None, dir)
    console.print(f"runstore is now online for {store.root}.")
    _env_note()


def disabled(dir: Path = DirOpt) -> None:
    """Disable runstore for this store: init() returns a run that records nothing (wandb's `disabled`)."""
    store = _set_mode("disabled", dir)
    console.print(f"runstore is now disabled for {store.root}; `runstore enabled` turns it back on.")
    _env_note()


def enabled(dir: Path = DirOpt) -> None:
    """Enable runstore again for this store (online, the default)."""
    store = _set_mode(None, dir)
    console.print(f"runstore is now enabled (online) for {store.root}.")
    _env_note()


def status(dir: Path = DirOpt, json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the store in use, its settings, the effective settings and what it holds."""
    store = store_at(dir)
    report = status_report(store, os.environ)
    env = report["environment"]
    if json:
        console.print_json(orjson.dumps(report, option=orjson.OPT_SORT_KEYS).decode())
        return
    if not report["exists"]:
        console.print(f"store: {store.root} (not created yet; `runstore init` or runstore.init() creates it)")
    else:
        console.print(f"store: {store.root}")
    e = report["effective"]
    console.print(
        f"mode: {safe_text(str(e['mode']))}    project: {safe_text(str(e['project'] or '-'))}"
        f"    entity: {safe_text(str(e['entity'] or '-'))}    remote: {safe_text(str(e['remote'] or '-'))}"
    )
    if env:
        console.print("from environment: " + ", ".join(safe_text(f"{k}={v}") for k, v in sorted(env.items())))
    console.print(
        f"{len(report['projects'])} project(s), {report['runs']} run(s); "
        f"latest: {safe_text(str(report['latest_run'] or '-'))}"
    )
    w = report["wandb"]
    if w["shim_installed"]:
        which = "runstore's shim (installed here: `runstore shim uninstall` removes it)"
        if w["real"]:
            which += f", in front of the real wandb {w['real']}"
    elif w["real"]:
        which = f"the real wandb {w['real']} (`runstore run` puts runstore's shim in front for its command)"
    else:
        which = (
            "not installed (`runstore run` provides runstore's shim; `runstore shim install` adds it here)"
        )
    console.print(f"import wandb: {which}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("off")(off)
    app.command("offline", hidden=True)(off)
    app.command("on")(on)
    app.command("online", hidden=True)(on)
    app.command("disabled")(disabled)
    app.command("enabled")(enabled)
    app.command("status")(status)


__all__ = ["register"]
