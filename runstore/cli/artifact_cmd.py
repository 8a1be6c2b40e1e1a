"""`runstore artifact put|get|ls|show|alias|verify|gc`: artifacts from the shell, for CI pipelines (the
library: runstore.sdk.artifact over runstore.store.artifacts). wandb's `wandb artifact put/get/ls`
spellings work."""

from __future__ import annotations

import contextlib
import json as jsonlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import typer

from ..base.urls import configured_remote
from ..errors import UsageError
from ._common import console, err_console, json_text, require_store, safe_text, store_at

artifact_app = typer.Typer(
    help="Versioned files and directories (datasets, models): put, get, ls, show, alias, verify, gc, cache.",
    no_args_is_help=True,
)
alias_app = typer.Typer(help="Add or remove an alias of an artifact version.", no_args_is_help=True)
artifact_app.add_typer(alias_app, name="alias")

DirOpt = typer.Option(None, "--dir", help="Store directory (or its parent).")
JsonOpt = typer.Option(False, "--json", help="Print JSON.")


def _configured(store: Any, given: str | None) -> str | None:
    """The project named on the command line, in the environment or in the store's settings."""
    from ..base import env as _env

    if given:
        return given
    value = _env.get("project") or (store.read_settings().get("project") if store.exists() else None)
    return str(value) if value else None


def _project(store: Any, given: str | None) -> str:
    """The project a bare artifact name is in: as init() picks a run's (configured, else the git
    repository's or directory's name), so `put` and `get` in one place agree, as a run and its script do."""
    from ..sdk.init import infer_project

    return _configured(store, given) or infer_project(Path.cwd())


def _load(store: Any, name: str, project: str | None, type_: str | None = None) -> Any:
    from ..sdk.artifact import load_artifact

    try:
        return load_artifact(store, name, _project(store, project), type_)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None


def _doc(art: Any) -> dict[str, Any]:
    return {
        "name": art.qualified_name,
        "collection": art.collection_name,
        "version": art.version,
        "type": art.type,
        "aliases": art.aliases,
        "digest": art.digest,
        "size": art.size,
        "files": len(art.manifest),
        "description": art.description,
        "metadata": art.metadata,
        "created_at": art.created_at,
    }


# a bar only when there is something to wait for, on a terminal (stderr: stdout stays the result)
_BAR_BYTES = 64 << 20
_BAR_FILES = 2000


@contextlib.contextmanager
def _progress(verb: str, total: int, files: int, json: bool) -> Iterator[Callable[[int], None]]:
    if json or not err_console.is_terminal or (total < _BAR_BYTES and files < _BAR_FILES):
        yield lambda n: None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(
        TextColumn(f"{verb} {files:,} files"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task(verb, total=max(total, 1))
    with bar:
        yield lambda n: bar.advance(task, n)


@artifact_app.command("put")
def put(
    path: Path = typer.Argument(..., help="A file or directory to version."),
    name: str = typer.Option(None, "--name", "-n", help="[project/]name; default: the file's name."),
    type_: str = typer.Option("dataset", "--type", "-t", help="The artifact's type (dataset, model, ...)."),
    alias: list[str] = typer.Option(None, "--alias", "-a", help="An alias for this version (repeatable)."),
    description: str = typer.Option(None, "--description", "-d", help="A description."),
    metadata: str = typer.Option(None, "--metadata", "-m", help="Metadata as a JSON object."),
    project: str = typer.Option(None, "--project", "-p", help="Project (default: the store's)."),
    dir: Path = DirOpt,
    json: bool = JsonOpt,
) -> None:
    """Log PATH as the next version of an artifact, without a run. Content already logged is not
    stored twice, and logging identical content again returns that version with the new aliases."""
    from ..sdk.artifact import Artifact, commit, parse_name

    store = store_at(dir)
    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    meta = None
    if metadata is not None:
        try:
            meta = jsonlib.loads(metadata)
        except ValueError as e:
            raise UsageError(
                f"--metadata is not JSON ({e}); pass an object like '{{\"rows\": 100}}'"
            ) from None
    raw_name = name or path.resolve().name
    try:
        proj, collection, version_alias = parse_name(raw_name, _project(store, project))
        if version_alias != "latest":
            raise UsageError(f"--name {raw_name!r}: give the artifact's name without ':{version_alias}'")
        art = Artifact(collection, type_, description=description, metadata=meta)
        if path.is_dir():
            from ..sdk.artifact import _tree

            files = _tree(str(path), "")
            with _progress("put", sum(f[2] for f in files), len(files), json) as tick:
                art._on_bytes = tick
                art.add_dir(str(path))
        else:
            art.add_file(str(path))
        from ..sdk.artifact import _check_aliases

        commit(store, proj, art, _check_aliases(list(alias or []), "--alias"), [], None)
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    if json:
        console.print_json(json_text(_doc(art)))
    else:
        console.print(
            f"{safe_text(art.qualified_name)}  {art.type}  {len(art.manifest)} file(s), {art.size:,} bytes"
            f"  digest {art.digest}" + (f"  aliases {', '.join(art.aliases)}" if art.aliases else "")
        )


@artifact_app.command("get")
def get(
    name: str = typer.Argument(..., help="[project/]name[:alias|:vN] (default alias: latest)."),
    root: Path = typer.Option(None, "--root", help="Where to put the files (default ./artifacts/name:vN)."),
    type_: str = typer.Option(None, "--type", "-t", help="Refuse a version of another type."),
    project: str = typer.Option(None, "--project", "-p", help="Project for a bare name."),
    dir: Path = DirOpt,
    json: bool = JsonOpt,
) -> None:
    """Download an artifact version: reflinks or read-only hard links to the store's objects where
    safe, else copies checked against their digests (RUNSTORE_ARTIFACT_LINK). Prints the directory."""
    store = require_store(store_at(dir))
    art = _load(store, name, project, type_)
    try:
        with _progress("get", art.size, len(art.manifest), json) as tick:
            art._on_bytes = tick
            dest = art.download(str(root) if root is not None else None)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if json:
        console.print_json(json_text({**_doc(art), "root": dest, "placed": art._placed}))
    else:
        console.print(safe_text(dest))


@artifact_app.command("ls")
def ls(
    project: str = typer.Argument(None, help="Project (default: the store's, else every project)."),
    type_: str = typer.Option(None, "--type", "-t", help="Only this type."),
    dir: Path = DirOpt,
    json: bool = JsonOpt,
) -> None:
    """List artifact collections: type, versions, aliases, newest version's size and date."""
    from ..store import artifacts as A

    store = require_store(store_at(dir))
    wanted = _configured(store, project)  # else every project
    rows: list[dict[str, Any]] = []
    for proj in [wanted] if wanted else A.projects(store):
        for col in A.load(store, proj).collections.values():
            if not col.live or (type_ and col.type != type_):
                continue
            latest = col.latest
            assert latest is not None
            rows.append(
                {
                    "project": proj,
                    "name": col.name,
                    "type": col.type,
                    "versions": len(col.live),
                    "latest": f"v{latest.version}",
                    "aliases": {a: f"v{n}" for a, n in sorted(col.aliases.items())},
                    "size": latest.size,
                    "created_at": latest.time,
                }
            )
    if json:
        console.print_json(json_text(rows))
        return
    if not rows:
        console.print("no artifacts" + (f" of type {type_}" if type_ else ""))
        return
    for r in rows:
        aliases = ", ".join(f"{a}={v}" for a, v in r["aliases"].items())
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"])) if r["created_at"] else "-"
        console.print(
            f"{safe_text(r['project'])}/{safe_text(r['name'])}  {safe_text(r['type'])}  {r['versions']} version(s),"
            f" latest {r['latest']} ({r['size']:,} bytes, {when})"
            + (f"  {safe_text(aliases)}" if aliases else "")
        )


@artifact_app.command("show")
def show(
    name: str = typer.Argument(..., help="[project/]name[:alias|:vN]."),
    project: str = typer.Option(None, "--project", "-p", help="Project for a bare name."),
    dir: Path = DirOpt,
    json: bool = JsonOpt,
) -> None:
    """One version: identity, aliases, digest, its files (manifest), and lineage (logged by, used by)."""
    store = require_store(store_at(dir))
    art = _load(store, name, project)
    by = art.logged_by()
    users = art.used_by()
    files = [{"path": e.path, "digest": e.digest, "size": e.size} for e in art.files()]
    doc = {
        **_doc(art),
        "logged_by": by.id if by else None,
        "used_by": [r.id for r in users],
        "manifest": files,
    }
    if json:
        console.print_json(json_text(doc))
        return
    console.print(f"{safe_text(art.qualified_name)}  {safe_text(art.type)}  digest {art.digest}")
    console.print(f"aliases: {safe_text(', '.join(art.aliases)) or '-'}")
    if art.description:
        console.print(f"description: {safe_text(art.description)}")
    if art.metadata:
        console.print(f"metadata: {safe_text(json_text(art.metadata))}")
    console.print(f"logged by: {by.id if by else '-'}   used by: {', '.join(r.id for r in users) or '-'}")
    console.print(f"files ({len(files)}, {art.size:,} bytes):")
    for f in files[:200]:
        console.print(f"  {safe_text(f['path'])}  {f['size']:,}  {f['digest']}")
    if len(files) > 200:
        console.print(f"  … and {len(files) - 200} more (--json lists them all)")


def _alias(name: str, alias: str, project: str | None, dir: Path | None, add: bool) -> None:
    store = require_store(store_at(dir))
    art = _load(store, name, project)
    have = [a for a in art.aliases if a != "latest"]
    want = sorted(set(have) | {alias}) if add else [a for a in have if a != alias]
    if not add and alias not in have:
        raise UsageError(f"{art.qualified_name} has no alias {alias!r} (it has {have or 'none'})")
    try:
        art.aliases = want
        art.save()
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    console.print(f"{safe_text(art.qualified_name)}  aliases: {safe_text(', '.join(art.aliases)) or '-'}")


@alias_app.command("add")
def alias_add(
    name: str = typer.Argument(..., help="[project/]name:vN (or any alias of the version)."),
    alias: str = typer.Argument(..., help="The alias to add (moved here from another version)."),
    project: str = typer.Option(None, "--project", "-p", help="Project for a bare name."),
    dir: Path = DirOpt,
) -> None:
    """Point ALIAS at this version (an alias names one version of a collection at a time)."""
    _alias(name, alias, project, dir, add=True)


@alias_app.command("rm")
def alias_rm(
    name: str = typer.Argument(..., help="[project/]name:vN (or any alias of the version)."),
    alias: str = typer.Argument(..., help="The alias to remove."),
    project: str = typer.Option(None, "--project", "-p", help="Project for a bare name."),
    dir: Path = DirOpt,
) -> None:
    """Remove ALIAS from this version."""
    _alias(name, alias, project, dir, add=False)


@artifact_app.command("verify")
def verify(
    name: str = typer.Argument(..., help="[project/]name[:alias|:vN]."),
    root: Path = typer.Argument(..., help="The directory to check."),
    project: str = typer.Option(None, "--project", "-p", help="Project for a bare name."),
    dir: Path = DirOpt,
) -> None:
    """Check that ROOT holds exactly this version's files, byte for byte (exit 1 naming what differs)."""
    store = require_store(store_at(dir))
    art = _load(store, name, project)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    try:
        art.verify(str(root))
    except ValueError as e:
        raise UsageError(str(e)) from None
    console.print(
        f"{safe_text(str(root))}: matches {safe_text(art.qualified_name)} ({len(art.manifest)} file(s))"
    )


@artifact_app.command("gc")
def gc(
    force: bool = typer.Option(False, "--force", help="Delete (default: only list what would go)."),
    min_age: float = typer.Option(
        1.0, "--min-age-hours", min=0, help="Keep objects younger than this (a put may be in progress)."
    ),
    dir: Path = DirOpt,
    json: bool = JsonOpt,
) -> None:
    """Remove stored objects that no version of any artifact references (deleted versions included
    in the count of referencing versions only while they are not deleted)."""
    from ..store import artifacts as A

    store = require_store(store_at(dir))
    doomed, kept = A.unreferenced_objects(store, min_age_s=min_age * 3600)
    freed = sum(size for _, size in doomed)
    if force:
        for path, _ in doomed:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
    if json:
        console.print_json(
            json_text({"deleted" if force else "would_delete": len(doomed), "bytes": freed, "kept": kept})
        )
        return
    verb = "deleted" if force else "would delete (pass --force)"
    console.print(f"{verb}: {len(doomed)} object(s), {freed:,} bytes; {kept} object(s) referenced or recent")


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """`10GB`, `1.5g`, `500MiB`, `2048`: bytes. Units are powers of 1024, as in wandb's
    `artifact cache cleanup`."""
    import re

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*", str(text), re.IGNORECASE)
    if m is None:
        raise UsageError(f"size {text!r}: give a number with an optional unit, like 10GB, 500MB or 0")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


cache_app = typer.Typer(help="The store's artifact objects as a cache of its remote.", no_args_is_help=True)
artifact_app.add_typer(cache_app, name="cache")


@cache_app.command("cleanup")
def cache_cleanup(
    target_size: str = typer.Argument(..., help="Shrink the objects to at most this size: 10GB, 500MB, 0."),
    remove_temp: bool = typer.Option(
        False, "--remove-temp", help="Also delete temporary files killed puts and downloads left (> 1 h old)."
    ),
    remote: str = typer.Option(None, "--remote", help="Remote URL (default: the store's remote)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
    dir: Path = DirOpt,
    json: bool = JsonOpt,
) -> None:
    """Remove the least recently used objects that the store's remote holds, until the objects take at
    most TARGET_SIZE (wandb's `artifact cache cleanup`). Only objects the remote has (same name, same
    size) are removed: a download fetches them back from it. Objects that exist only here are never
    removed; objects no version references are `artifact gc`'s."""
    from ..remotes.registry import open_remote
    from ..store import artifacts as A
    from ..store import layout as L

    target = parse_size(target_size)
    store = require_store(store_at(dir))
    objects, temps = A.stored_objects(store)
    total = sum(o[2] for o in objects)
    removed: list[tuple[str, int]] = []
    temp_removed = 0
    if remove_temp:
        cutoff = time.time() - 3600
        for path, mtime in temps:
            if mtime < cutoff:
                temp_removed += 1
                if not dry_run:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
    url = remote or configured_remote(store.read_settings().get("remote"))
    local_only = 0
    if total > target:
        if not url:
            raise UsageError(
                f"the objects take {total:,} bytes and no remote holds copies of them: set one "
                "(`runstore init --remote URL`) and `runstore sync --all` first; `runstore artifact gc` "
                "removes the objects no version references"
            )
        rem = open_remote(url)
        try:
            there = rem.listing(L.artifact_objects_rel() + "/")
        finally:
            rem.close()
        for path, hexd, size, _used in sorted(objects, key=lambda o: o[3]):
            if total <= target:
                break
            if there.get(L.artifact_object_rel(hexd)) != size:
                local_only += size
                continue
            if not dry_run:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
            removed.append((hexd, size))
            total -= size
    freed = sum(size for _, size in removed)
    doc = {
        "removed" if not dry_run else "would_remove": len(removed),
        "bytes": freed,
        "size": total,
        "target": target,
        "temp_files": temp_removed,
        "kept_not_at_remote_bytes": local_only,
    }
    if json:
        console.print_json(json_text(doc))
        return
    verb = "would remove" if dry_run else "removed"
    line = f"{verb} {len(removed)} object(s), {freed:,} bytes; the objects now take {total:,} bytes"
    if temp_removed:
        line += f"; {temp_removed} temporary file(s)"
    if total > target:
        line += f" (over the target: {local_only:,} bytes exist only here, sync them to free more)"
    console.print(line)


def register(app: typer.Typer) -> None:
    app.add_typer(artifact_app, name="artifact")
