"""`runstore sync`, `runstore pull`, `runstore clean`: runs to and from a remote (library: runstore.remotes)."""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import typer

from ..base import env as _env
from ..base.urls import configured_remote
from ..errors import RunNotFound, UsageError
from ..remotes import Remote, open_remote, strip_credentials
from ..remotes.sync import Puller, Pusher, Result
from ..store import artifacts as A
from ..store import layout as L
from ..store.index import load_states
from ..store.layout import RunRef
from ..store.runs import RunState
from ..store.store import Store
from ..store.sweeps import SweepDir, list_sweeps
from ._common import console, err_console, fmt_duration, require_store, store_at

DirOpt = typer.Option(None, "--dir", help="Directory of the store (or its parent); default: found like .git.")
SWEEP_PREFIX = "sweep:"
ARTIFACTS_PREFIX = "artifacts:"


def remote_url(store: Store, given: str | None) -> str:
    """`--remote URL`, else the store's remote (RUNSTORE_REMOTE, settings.yaml, else a runstore server
    in WANDB_BASE_URL)."""
    url = given or configured_remote(store.read_settings().get("remote") if store.exists() else None)
    if not url:
        raise UsageError("no remote: pass --remote URL, or set one with `runstore init --remote URL`")
    return str(url)


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _globs(text: str | None) -> list[str]:
    return [g.strip() for g in (text or "").split(",") if g.strip()]


def _matches(ref: RunRef, globs: list[str]) -> bool:
    names = (ref.id, f"{ref.project}/{ref.id}", ref.dir)
    return any(fnmatch.fnmatch(n, g) for g in globs for n in names)


# -- sync ------------------------------------------------------------------------------------------------
def _selected(
    store: Store,
    specs: list[str],
    all_: bool,
    project: str | None,
    run_id: str | None,
    include_offline: bool,
    include_online: bool,
    include_globs: list[str],
    exclude_globs: list[str],
) -> tuple[list[RunState], list[SweepDir]]:
    states = {(s.ref.project, s.ref.id): s for s in load_states(store, project)} if store.exists() else {}
    runs: dict[tuple[str, str], RunState] = {}
    sweeps: dict[str, SweepDir] = {}
    for spec in specs:
        if spec.startswith(SWEEP_PREFIX):
            sw = SweepDir(store, spec[len(SWEEP_PREFIX) :])
            if not L.valid_name(sw.id) or not sw.exists():
                raise RunNotFound(f"no sweep {sw.id!r} in {store.root}")
            sweeps[sw.id] = sw
            continue
        ref = L.run_ref_of_dir(spec) if os.path.isdir(spec) else None
        if ref is None and os.path.isdir(spec):
            from ..integration.tensorboard import is_logdir

            if is_logdir(spec):  # `wandb sync` takes a TensorBoard log directory: imported, then synced
                from ..store.runs import load_run
                from .import_cmd import import_for_sync

                ref = import_for_sync(store, spec, project)
                states[(ref.project, ref.id)] = load_run(ref)
        if ref is None:
            sw = SweepDir(store, spec)
            if L.valid_name(spec) and "/" not in spec and sw.exists():
                sweeps[sw.id] = sw
                continue
            ref = store.resolve(spec, project)
        st = states.get((ref.project, ref.id))
        if st is None:
            st = RunState(ref=ref)
        runs[(ref.project, ref.id)] = st
    if run_id:
        found = [s for (p, i), s in states.items() if i == run_id]
        if not found:
            raise RunNotFound(f"no run with id {run_id!r} in {store.root}")
        for s in found:
            runs[(s.ref.project, s.ref.id)] = s
    if all_:
        for key, s in states.items():
            mode = s.info.get("mode", "online")
            if (mode == "offline" and not include_offline) or (mode != "offline" and not include_online):
                continue
            runs.setdefault(key, s)
        for sw in list_sweeps(store):
            if project is None or sw.load().project == project:
                sweeps.setdefault(sw.id, sw)
    out = [
        s
        for s in runs.values()
        if (not include_globs or _matches(s.ref, include_globs)) and not _matches(s.ref, exclude_globs)
    ]
    out.sort(key=lambda s: (s.ref.project, s.created, s.ref.id))
    return out, sorted(sweeps.values(), key=lambda s: s.id)


def _artifact_projects(
    store: Store, specs: list[str], all_: bool, project: str | None, runs: list[RunState], follow: bool
) -> list[str]:
    """Projects whose artifacts a sync pushes: each `artifacts:PROJECT` named; with `follow`, those of
    the selected runs (a job that logs a model and syncs its run expects the model to travel) and,
    with --all, every project that has artifacts."""
    have = set(A.projects(store)) if store.exists() else set()
    out: set[str] = set()
    for spec in specs:
        name = spec[len(ARTIFACTS_PREFIX) :]
        if name not in have:
            raise RunNotFound(f"no artifacts of project {name!r} in {store.root}")
        out.add(name)
    if follow:
        if all_:
            out |= {p for p in have if project is None or p == project}
        out |= {s.ref.project for s in runs} & have
    return sorted(out)


class _Report:
    """Progress on a terminal (a rich bar: runs, files, bytes, rate), plain lines otherwise, nothing
    until the end with --json."""

    def __init__(self, total: int, json: bool, dry_run: bool) -> None:
        self.json = json
        self.dry_run = dry_run
        self.bar: Any = None
        self.task: Any = None
        self.bytes = 0
        self.t0 = time.monotonic()
        self.files = 0
        if not json and console.is_terminal and total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs · {task.fields[files]} files · {task.fields[bytes]} · {task.fields[rate]}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self.task = self.bar.add_task("syncing", total=total, files=0, bytes="0 B", rate="-")
            self.bar.start()

    def on_bytes(self, n: int) -> None:
        self.bytes += n
        if self.bar is not None:
            rate = self.bytes / max(1e-6, time.monotonic() - self.t0)
            self.bar.update(self.task, bytes=_size(self.bytes), rate=f"{_size(rate)}/s")

    def done(self, res: Result) -> None:
        self.files += res.files
        if self.bar is not None:
            self.bar.update(self.task, advance=1, files=self.files)
        if self.json:
            return
        line = _describe(res, self.dry_run)
        if self.bar is not None:
            if not res.up_to_date:
                self.bar.console.print(line)
        elif res.errors:
            err_console.print(line, soft_wrap=True)
        else:
            console.print(line, soft_wrap=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _describe(res: Result, dry_run: bool = False) -> str:
    if res.errors:
        return f"{res.name}: failed: {'; '.join(res.errors)}"
    if res.up_to_date:
        return f"{res.name}: up to date" + (" (verified)" if res.verified else "")
    verb = "would send" if dry_run else "sent"
    parts = [f"{res.name}: {verb} {res.files} file(s), {_size(res.bytes)}"]
    if res.repaired:
        parts.append(f"repaired {', '.join(r.rsplit('/', 1)[-1] for r in res.repaired)}")
    if res.verified:
        parts.append("verified")
    return "; ".join(parts)


def _run_listings(remote: Remote, runs: list[RunState]) -> dict[tuple[str, str], dict[str, int]]:
    """One listing per project instead of one per run (object stores: a page holds 1,000 names)."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for project in sorted({s.ref.project for s in runs}):
        prefix = f"{L.PROJECTS_DIR}/{project}/{L.RUNS_DIR}/"
        for rel, size in remote.listing(prefix).items():
            run_id = rel[len(prefix) :].split("/", 1)[0]
            out.setdefault((project, run_id), {})[rel] = size
    return out


def _pass(
    store: Store,
    remote: Remote,
    runs: list[RunState],
    sweeps: list[SweepDir],
    artifacts: list[str],
    *,
    include_synced: bool,
    skip_console: bool,
    dry_run: bool,
    json: bool,
) -> list[Result]:
    report = _Report(len(runs) + len(sweeps) + len(artifacts), json, dry_run)
    pusher = Pusher(
        store,
        remote,
        ignore=_env.get("ignore_globs") or (),
        skip_console=skip_console,
        dry_run=dry_run,
        on_bytes=report.on_bytes,
    )
    results: list[Result] = []
    try:
        listings = _run_listings(remote, runs) if runs else {}
        for s in runs:
            finished = None if not s.info else s.state != "running"
            res = pusher.push_run(
                s.ref,
                listing=listings.get((s.ref.project, s.ref.id), {}),
                verify=include_synced,
                finished=finished,
            )
            results.append(res)
            report.done(res)
        for sw in sweeps:
            res = pusher.push_sweep(sw, verify=include_synced)
            results.append(res)
            report.done(res)
        for name in artifacts:  # after the runs: a reader who sees a version can then find its run
            res = pusher.push_artifacts(name, verify=include_synced)
            results.append(res)
            report.done(res)
    finally:
        report.close()
    return results


def sync(
    runs: list[str] = typer.Argument(
        None,
        help="Runs to sync: ids, PROJECT/ID, run directories, `latest`; sweeps as sweep:ID; a project's "
        "artifacts as artifacts:PROJECT.",
    ),
    all: bool = typer.Option(
        False, "--all", "--sync-all", help="Every run and sweep of the store, and every project's artifacts."
    ),
    artifacts: bool = typer.Option(
        True,
        "--artifacts/--no-artifacts",
        help="Also push the artifacts of the synced runs' projects (with --all: of every project).",
    ),
    remote: str = typer.Option(None, "--remote", help="Remote URL (default: the store's remote)."),
    include_offline: bool = typer.Option(
        True, "--include-offline/--no-include-offline", help="With --all: runs logged offline."
    ),
    include_online: bool = typer.Option(
        True,
        "--include-online/--no-include-online",
        help="With --all: runs logged online (the daemon streamed them; sync finishes what it missed).",
    ),
    include_synced: bool = typer.Option(
        False, "--include-synced", help="Check runs verified earlier again in full (sha256 on both sides)."
    ),
    exclude_globs: str = typer.Option(
        None,
        "--exclude-globs",
        help="Comma-separated globs of runs (id, PROJECT/ID or directory) to leave out.",
    ),
    include_globs: str = typer.Option(
        None, "--include-globs", help="Comma-separated globs of runs (id, PROJECT/ID or directory) to keep."
    ),
    skip_console: bool = typer.Option(False, "--skip-console", help="Keep output.log local."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be sent; send nothing."),
    watch: bool = typer.Option(False, "--watch", help="Keep syncing every second until interrupted."),
    json: bool = typer.Option(False, "--json", help="Print one JSON object with the result (for CI)."),
    project: str = typer.Option(None, "--project", "-p", help="Only runs of this project."),
    id: str = typer.Option(None, "--id", help="The run with this id."),
    dir: Path = DirOpt,
) -> None:
    """Send runs to a remote: only the bytes it does not have, verified once finished.

    Idempotent and resumable: a second sync sends nothing, a sync killed halfway continues where the
    remote's copy ends. The artifacts of the synced runs' projects travel too: objects once by hash,
    then manifests, then the project's artifact log. Exits 1 when any run failed, with one line per
    failure.
    """
    if watch and json:
        raise UsageError("--watch and --json cannot be combined (--json prints one result at the end)")
    store = require_store(store_at(dir))
    if not (runs or all or id):
        raise UsageError("name the runs to sync (ids, PROJECT/ID, directories), or pass --all")
    url = remote_url(store, remote)
    specs = runs or []
    art_specs = [s for s in specs if s.startswith(ARTIFACTS_PREFIX)]
    specs = [s for s in specs if not s.startswith(ARTIFACTS_PREFIX)]
    rem = open_remote(url)
    try:
        while True:
            t0 = time.monotonic()
            sel_runs, sel_sweeps = _selected(
                store,
                specs,
                all,
                project,
                id,
                include_offline,
                include_online,
                _globs(include_globs),
                _globs(exclude_globs),
            )
            sel_artifacts = _artifact_projects(store, art_specs, all, project, sel_runs, artifacts)
            results = _pass(
                store,
                rem,
                sel_runs,
                sel_sweeps,
                sel_artifacts,
                include_synced=include_synced,
                skip_console=skip_console,
                dry_run=dry_run,
                json=json,
            )
            failed = [r for r in results if not r.ok]
            if not watch:
                break
            if failed:
                for r in failed:
                    err_console.print(_describe(r), soft_wrap=True)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    except KeyboardInterrupt:
        if watch:
            console.print("stopped watching")
            raise typer.Exit(0) from None
        raise
    finally:
        rem.close()
    elapsed = time.monotonic() - t0
    total = sum(r.bytes for r in results)
    if json:
        out = {
            "remote": rem.url,
            "ok": not failed,
            "dry_run": dry_run,
            "bytes": total,
            "seconds": round(elapsed, 3),
            "results": [r.to_dict() for r in results],
        }
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
        sys.stdout.flush()
    else:
        fresh = sum(1 for r in results if r.up_to_date)
        rate = f" ({_size(total / elapsed)}/s)" if total and elapsed > 0 else ""
        if not results:
            console.print("nothing to sync")
        elif total == 0 and not failed and not dry_run and fresh == len(results):
            console.print(f"everything is up to date at {rem.url} ({len(results)} checked, 0 bytes sent)")
        else:
            verb = "would send" if dry_run else "sent"
            console.print(
                f"{len(results)} checked at {rem.url}: {verb} {_size(total)} in "
                f"{fmt_duration(elapsed)}{rate}; {fresh} up to date; {len(failed)} failed",
                soft_wrap=True,
            )
    if failed:
        raise typer.Exit(1)


# -- pull ----------------------------------------------------------------------------------------------
def _resolve_remote(
    remote: Remote, specs: list[str], project: str | None
) -> tuple[list[tuple[str, str]], list[str]]:
    runs = remote.projects_runs()
    sweeps = set(remote.sweep_ids())
    want_runs: list[tuple[str, str]] = []
    want_sweeps: list[str] = []
    for spec in specs:
        if spec.startswith(SWEEP_PREFIX) or (spec in sweeps and not any(i == spec for _, i in runs)):
            sid = spec.removeprefix(SWEEP_PREFIX)
            if sid not in sweeps:
                raise RunNotFound(f"no sweep {sid!r} at {remote.url}")
            want_sweeps.append(sid)
            continue
        if "/" in spec:
            p, _, i = spec.rpartition("/")
            p = p.rsplit("/", 1)[-1]  # entity/project/id
            cands = [(pp, ii) for pp, ii in runs if pp == p and ii == i]
        else:
            cands = [(pp, ii) for pp, ii in runs if ii == spec and (project is None or pp == project)]
            if not cands:
                cands = [
                    (pp, ii) for pp, ii in runs if ii.startswith(spec) and (project is None or pp == project)
                ]
        if not cands:
            raise RunNotFound(f"no run {spec!r} at {remote.url}")
        if len(cands) > 1:
            names = ", ".join(f"{p}/{i}" for p, i in cands[:5])
            raise UsageError(
                f"{spec!r} matches several runs at {remote.url} ({names}); name one as PROJECT/ID"
            )
        want_runs.append(cands[0])
    return want_runs, want_sweeps


def _artifact_spec(spec: str) -> tuple[str, str | None]:
    """(project, version or None) of `artifacts:PROJECT[/NAME[:ALIAS]]` (a project name has no `/`)."""
    project, _, version = spec[len(ARTIFACTS_PREFIX) :].partition("/")
    if not L.valid_name(project) or (version and not version.partition(":")[0]):
        raise UsageError(f"{spec!r}: name artifacts as artifacts:PROJECT or artifacts:PROJECT/NAME[:ALIAS]")
    return project, version or None


def pull(
    runs: list[str] = typer.Argument(
        ...,
        help="Runs at the remote: ids, id prefixes, PROJECT/ID; sweeps as sweep:ID; a project's "
        "artifacts as artifacts:PROJECT, one version as artifacts:PROJECT/NAME[:ALIAS].",
    ),
    remote: str = typer.Option(None, "--remote", help="Remote URL (default: the store's remote)."),
    project: str = typer.Option(None, "--project", "-p", help="Look for ids in this project only."),
    json: bool = typer.Option(False, "--json", help="Print one JSON object with the result."),
    dir: Path = DirOpt,
) -> None:
    """Copy runs (history, files, diff.patch), sweeps or artifacts from a remote into this store.

    Only missing bytes are fetched; a file whose bytes differ from the remote's is an error naming it,
    never overwritten. Then `runstore restore RUN` or `runstore diff` work on the pulled run.
    Artifacts come with their log (versions, aliases, lineage) and the objects of every version, or
    only of the one version named; each object is checked against its digest before it is stored.
    """
    store = store_at(dir)
    url = remote_url(store, remote)
    want_artifacts = [_artifact_spec(s) for s in runs if s.startswith(ARTIFACTS_PREFIX)]
    specs = [s for s in runs if not s.startswith(ARTIFACTS_PREFIX)]
    rem = open_remote(url)
    try:
        want_runs, want_sweeps = _resolve_remote(rem, specs, project) if specs else ([], [])
        puller = Puller(store, rem)
        results: list[Result] = []
        for sid in want_sweeps:
            results.append(puller.pull_sweep(sid))
            sst = SweepDir(store, sid).load() if SweepDir(store, sid).exists() else None
            if sst is not None:  # its trials' runs, where the remote has them
                there = set(rem.projects_runs())
                for rid in sst.trials:
                    if (sst.project, rid) in there and (sst.project, rid) not in want_runs:
                        want_runs.append((sst.project, rid))
        for p, i in want_runs:
            results.append(puller.pull_run(p, i))
        for p, version in want_artifacts:
            results.append(puller.pull_artifacts(p, version))
    finally:
        rem.close()
    failed = [r for r in results if not r.ok]
    if json:
        out = {"remote": rem.url, "ok": not failed, "results": [r.to_dict() for r in results]}
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for r in results:
            if r.errors:
                err_console.print(_describe(r), soft_wrap=True)
            elif r.up_to_date:
                console.print(f"{r.name}: already here, nothing to fetch")
            else:
                console.print(f"{r.name}: fetched {r.files} file(s), {_size(r.bytes)} into {store.root}")
    if failed:
        raise typer.Exit(1)


# -- clean ---------------------------------------------------------------------------------------------
def _cleanable(store: Store, pusher: Pusher, remote: Remote, min_hours: float) -> Iterator[RunState]:
    cutoff = time.time() - min_hours * 3600
    states = [s for s in load_states(store) if s.exit is not None]
    listings = _run_listings(remote, states) if states else {}
    for s in states:
        ended = s.created + s.runtime
        if ended > cutoff or not pusher.run_is_synced(s.ref):
            continue
        # the remote must still have every byte: verified once is not enough if it lost files since
        check = pusher.push_run(s.ref, listing=listings.get((s.ref.project, s.ref.id), {}), finished=True)
        if check.ok and check.up_to_date and check.verified:
            yield s


def clean(
    min_hours: float = typer.Option(
        24.0, "--min-hours", min=0, help="Only runs that ended at least this long ago."
    ),
    force: bool = typer.Option(False, "--force", help="Delete without asking."),
    remote: str = typer.Option(None, "--remote", help="Remote URL (default: the store's remote)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be deleted."),
    dir: Path = DirOpt,
) -> None:
    """Delete local runs that have finished and are fully synced (sent and verified) to the remote."""
    store = require_store(store_at(dir))
    rem = open_remote(remote_url(store, remote))
    try:
        pusher = Pusher(store, rem, ignore=_env.get("ignore_globs") or (), dry_run=True)
        doomed = list(_cleanable(store, pusher, rem, min_hours))
    finally:
        rem.close()
    if not doomed:
        console.print(
            f"nothing to clean: no finished run older than {min_hours:g}h is fully synced to {rem.url}"
        )
        return
    for s in doomed:
        console.print(f"  {s.ref.project}/{s.ref.id}  {s.info.get('name') or ''}")
    if dry_run:
        console.print(f"would delete {len(doomed)} run(s)")
        return
    if not force and not typer.confirm(
        f"Delete these {len(doomed)} local run(s)? Their copy stays at {rem.url}"
    ):
        raise typer.Abort()
    for s in doomed:
        shutil.rmtree(s.ref.path)
    console.print(f"deleted {len(doomed)} run(s); `runstore pull ID` brings one back")


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.command("pull")(pull)
    app.command("clean")(clean)


__all__ = ["register", "remote_url", "strip_credentials"]
