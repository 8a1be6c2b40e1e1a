"""Pushing runs, sweeps and artifacts to a remote, pulling them back, and checking both sides agree.

What moves is decided by file kind (store/layout.py): an `append` file sends `[remote size, local
size)`; an `immutable` file is sent once; a `replaced` file is sent when its content changed since the
last send; `derived` files never move. The remote's sizes are the truth: every push starts from a
listing of the remote, so a push killed halfway (or a remote truncated behind our back) resumes from
what is really there, and nothing is sent twice.

What was sent is remembered per run in a derived file (`RunRef.sync_state`): the size, mtime and
sha256 of each `replaced` file sent (a changed mtime alone costs a hash, not a send), and whether the
finished run was verified. Verification happens once, when the run has finished: sha256 of every file on
both sides; a remote copy that differs is repaired from the local bytes (and reported), an `append`
file that is longer at the remote than here is reported as diverged and left alone.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import StoreError
from ..store import artifacts as A
from ..store import jsonl
from ..store import layout as L
from ..store.layout import RunRef, StoreFile, make_dirs
from ..store.runs import load_run
from ..store.store import Store
from ..store.sweeps import CANCELED, FINISHED, SweepDir
from .base import CHUNK, Conflict, Remote, RemoteError, Unauthorized, iter_chunks, local_sha256, remote_sha256
from .base import strip_credentials as _strip

PROBE = 4096  # bytes compared at the head of a run's log to tell a different run with the same id
TAIL = 65536  # bytes compared before a pull appends to a file it already has part of


def describe(e: BaseException) -> str:
    """One line about an error, with anything that looks like a credential stripped."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    if isinstance(e, RemoteError):
        return _strip(text)
    return _strip(f"{type(e).__name__}: {text}" if text else type(e).__name__)


@dataclass
class Result:
    """What one push or pull of a run, a sweep or a project's artifacts did."""

    name: str  # `project/id` for a run, `sweep:<id>` for a sweep, `artifacts:<project>` for artifacts
    kind: str = "run"  # "run", "sweep" or "artifacts"
    bytes: int = 0
    files: int = 0
    finished: bool = False
    verified: bool = False
    repaired: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    remote_failed: bool = False  # an error came from reaching the remote (vs. one about this run's data)
    # after a push: the files that are sent (ignored ones left out) with the remote's size of each
    sent: dict[str, tuple[StoreFile, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def up_to_date(self) -> bool:
        return self.ok and self.bytes == 0 and self.files == 0 and not self.repaired

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "ok": self.ok,
            "bytes": self.bytes,
            "files": self.files,
            "finished": self.finished,
            "verified": self.verified,
            "up_to_date": self.up_to_date,
            "repaired": self.repaired,
            "ignored": self.ignored,
            "errors": self.errors,
        }


def ignored(relpath: str, globs: Iterable[str]) -> bool:
    """`ignore_globs` (WANDB_IGNORE_GLOBS): a glob matches a run file's path under files/ or its name."""
    base = relpath.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(relpath, g) or fnmatch.fnmatch(base, g) for g in globs)


class _State:
    """The derived record of what was sent of one run or sweep to one remote."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[str, list[Any]] = {}  # rel -> [size, mtime_ns, sha256 | None]
        self.verified = False
        self.claimed = False  # the remote's copy is known to be this run's (not another with the id)
        self.ignore: list[str] | None = None  # the run's own ignore_globs, from its init record
        self.finished = False
        self.dirty = False
        try:
            d = orjson.loads(path.read_bytes())
        except (OSError, ValueError):
            return
        if isinstance(d, dict):
            files = d.get("files")
            self.files = files if isinstance(files, dict) else {}
            self.verified = d.get("verified") is True
            self.claimed = d.get("claimed") is True
            self.finished = d.get("finished") is True
            ig = d.get("ignore")
            self.ignore = [str(g) for g in ig] if isinstance(ig, list) else None

    def save(self) -> None:
        if not self.dirty:
            return
        data = orjson.dumps(
            {
                "files": self.files,
                "verified": self.verified,
                "claimed": self.claimed,
                "finished": self.finished,
                "ignore": self.ignore,
            }
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            jsonl.write_atomic(self.path, data)
        except OSError:
            pass  # derived: losing it costs a re-check next time, never data
        self.dirty = False

    def set(self, rel: str, value: list[Any]) -> None:
        if self.files.get(rel) != value:
            self.files[rel] = value
            self.dirty = True


class _Scratch(_State):
    """A _State that remembers nothing: artifact objects and manifests are named by their content, so
    the remote's listing alone says whether they are there (and a project may have 100,000 of them)."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull))

    def save(self) -> None:
        pass


class Pusher:
    """Sends runs, sweeps and artifacts of `store` to `remote`.

    `ignore` are globs of run files never sent (the store's or the environment's `ignore_globs`; each
    run's own, recorded in its init record, are added). `skip_console` keeps output.log local.
    `on_bytes` is called with the size of each piece sent (progress bars); `dry_run` sends nothing and
    reports what would be sent.
    """

    def __init__(
        self,
        store: Store,
        remote: Remote,
        *,
        ignore: Iterable[str] = (),
        skip_console: bool = False,
        dry_run: bool = False,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.remote = remote
        self.ignore = tuple(ignore)
        self.skip_console = skip_console
        self.dry_run = dry_run
        self.on_bytes = on_bytes
        self.key = remote.key

    # -- runs ------------------------------------------------------------------------------------
    def run_is_synced(self, ref: RunRef) -> bool:
        """Whether the run was verified at this remote and nothing changed locally since (no reads)."""
        state = _State(ref.sync_state(self.key))
        return state.verified and self._unchanged(ref.files(), state)

    def push_run(
        self,
        ref: RunRef,
        *,
        listing: dict[str, int] | None = None,
        verify: bool = False,
        finished: bool | None = None,
    ) -> Result:
        """Bring the remote copy of run `ref` up to date. `listing` is the remote's listing of the run
        (listed here when None); `verify` checks a verified run again in full; `finished` overrides
        the run's state (the daemon knows it). A finished run is sealed and verified once."""
        res = Result(f"{ref.project}/{ref.id}")
        state = _State(ref.sync_state(self.key))
        files = ref.files()
        if state.verified and not verify and state.ignore is not None:
            kept = self._kept(files, state, res)
            if self._unchanged(kept, state):
                try:
                    if listing is None:
                        listing = self.remote.listing(ref.rel + "/")
                except Unauthorized:
                    raise  # every run and file would be refused alike: one error, not one per run
                except (RemoteError, OSError) as e:
                    res.errors.append(describe(e))
                    return res
                if all(listing.get(f.rel) == state.files[f.rel][0] for f in kept):
                    res.finished = res.verified = True
                    return res  # verified before, nothing changed on either side: no file is read
            res.ignored.clear()  # the full pass lists them again
        if finished is None or state.ignore is None:
            try:
                st = load_run(ref)
            except Exception as e:
                res.errors.append(f"cannot read the run: {describe(e)}")
                return res
            if state.ignore is None:
                ig = st.info.get("ignore_globs")
                state.ignore = [str(g) for g in ig] if isinstance(ig, list) else []
                state.dirty = True
            if finished is None:
                finished = st.state != "running"
        res.finished = bool(finished)
        self._push(ref.rel, files, state, res, listing, first=ref.run_log, verify=verify)
        if not self.dry_run:
            state.save()
        return res

    # -- sweeps ----------------------------------------------------------------------------------
    def push_sweep(self, sweep: SweepDir, *, verify: bool = False) -> Result:
        res = Result(f"sweep:{sweep.id}", kind="sweep")
        state = _State(self.store.sync_dir(self.key) / f"sweep-{sweep.id}.json")
        state.ignore = state.ignore or []
        try:
            sst = sweep.load()
            finished = sst.state in (FINISHED, CANCELED)
        except Exception:
            finished = False
        res.finished = finished
        self._push(sweep.rel, sweep.files(), state, res, None, first=sweep.journal, verify=verify)
        if not self.dry_run:
            state.save()
        return res

    # -- artifacts ---------------------------------------------------------------------------------
    def artifacts_state(self, project: str) -> Path:
        """What was sent of a project's artifact log to this remote (derived)."""
        return self.store.sync_dir(self.key) / f"artifacts-{project}.json"

    def artifacts_sent(self, project: str) -> int | None:
        """The size of the project's artifact log this store last left at the remote (no remote call:
        the daemon compares it with a stat of the log to know that nothing changed)."""
        rec = _State(self.artifacts_state(project)).files.get(L.artifact_log_rel(project))
        return int(rec[0]) if rec else None

    def push_artifacts(self, project: str, *, verify: bool = False) -> Result:
        """Bring the remote's copy of a project's artifacts up to date: first the objects of every live
        version that the remote lacks (one listing of its objects; present with the right size is never
        sent again), then the manifests, then the new bytes of the log, so the remote never has a version
        record whose files are missing. A remote log whose bytes are not our log's prefix belongs to
        another store: an error, and nothing is sent. `verify` checks every version's files at the remote
        even when the log has nothing new."""
        res = Result(f"artifacts:{project}", kind="artifacts")
        if not L.valid_name(project):
            res.errors.append(f"invalid project name {project!r}")
            return res
        log = A.log_path(self.store, project)
        log_rel = L.artifact_log_rel(project)
        state = _State(self.artifacts_state(project))
        try:
            with jsonl.open_read(log) as fh:
                mtime = os.fstat(fh.fileno()).st_mtime_ns
                data = fh.read()
        except FileNotFoundError:
            return res  # nothing logged in this project
        except OSError as e:
            res.errors.append(f"cannot read {log}: {describe(e)}")
            return res
        # only whole records travel: a version becomes visible at the remote with its last byte
        end = data.rfind(b"\n") + 1
        data = data[:end]
        try:
            have = self.remote.size(log_rel) or 0
            ours = state.files.get(log_rel)
            trusted = ours is not None and ours[0] == have  # the remote's log is as we left it
            if have and not trusted and not _same_prefix(self.remote, log_rel, data, min(have, end)):
                res.errors.append(
                    f"{log_rel}: the remote's artifact log of project {project!r} is not this store's "
                    "(diverged; nothing sent): another store pushed artifacts of this project there, and "
                    "only one store per project's artifacts should push to a remote"
                )
                return res
            if have < end or verify:
                # the project's manifests are listed only when something may have to be sent
                listing = self.remote.listing(L.artifact_project_rel(project) + "/")
                if not self._artifact_files(project, data, listing, res):
                    return res
            if have < end:
                f = StoreFile(log_rel, log, L.APPEND)
                if self.dry_run:
                    res.bytes += end - have
                    res.files += 1
                else:
                    self._append(f, have, end, res)
            if have <= end and not self.dry_run:
                state.set(log_rel, [end, mtime, None])
                state.save()
        except Unauthorized:
            raise
        except (RemoteError, OSError) as e:
            res.errors.append(describe(e))
            res.remote_failed = True
        res.errors[:] = list(dict.fromkeys(res.errors))
        return res

    def _artifact_files(self, project: str, data: bytes, listing: dict[str, int], res: Result) -> bool:
        """Send the objects, then the manifests, of every live version the log `data` records. False
        (with errors) when one cannot be sent: the log must then not be sent either."""
        st = _fold(project, data)
        objects: dict[str, tuple[str, int]] = {}  # rel -> (base64 MD5, size)
        manifests: list[tuple[str, Path]] = []
        for col in st.collections.values():
            for v in col.live:
                rel = L.artifact_manifest_rel(project, col.name, v.digest)
                if L.kind_of(rel) != L.IMMUTABLE:
                    res.errors.append(f"{project}/{col.name}:v{v.version} has an invalid digest {v.digest!r}")
                    continue
                path = A.manifest_path(self.store, project, col.name, v.digest)
                try:
                    entries = A.read_manifest(self.store, project, col.name, v.digest)
                except (StoreError, OSError) as e:
                    if listing.get(rel):
                        continue  # the remote has it (pulled from there): its objects are its business
                    res.errors.append(f"{project}/{col.name}:v{v.version}: {describe(e)}")
                    continue
                manifests.append((rel, path))
                for b64, size in entries.values():
                    objects[L.artifact_object_rel(A.b64_to_hex(b64))] = (b64, size)
        if res.errors:
            res.errors.append(
                f"{L.artifact_log_rel(project)}: not sent, it would name files the remote lacks"
            )
            return False
        there = self.remote.listing(L.artifact_objects_rel() + "/") if objects else {}
        scratch = _Scratch()
        for rel, (b64, size) in sorted(objects.items()):
            if there.get(rel) == size:
                continue
            path = A.object_path(self.store, A.b64_to_hex(b64))
            # a corrupt object sent once would stay: present with the right size is never sent again
            if not A.has_object(self.store, b64, size):
                problem = A.check_object(self.store, b64, size) or "object is not whole"
                res.errors.append(f"{rel}: {problem} here; not sent")
                continue
            self._push_file(StoreFile(rel, path, L.IMMUTABLE), os.stat(path), there.get(rel), scratch, res)
        if res.errors:
            res.errors.append(
                f"{L.artifact_log_rel(project)}: not sent, it would name files the remote lacks"
            )
            return False
        for rel, path in manifests:
            self._push_file(StoreFile(rel, path, L.IMMUTABLE), os.stat(path), listing.get(rel), scratch, res)
        return not res.errors

    # -- the pass itself ---------------------------------------------------------------------------
    def _kept(self, files: list[StoreFile], state: _State, res: Result) -> list[StoreFile]:
        out = []
        globs = self.ignore + tuple(state.ignore or ())
        for f in files:
            if f.kind == L.DERIVED:
                continue
            inner = _files_rel(f.rel)
            if inner is not None:
                if self.skip_console and inner == L.OUTPUT_LOG:
                    res.ignored.append(f.rel)
                    continue
                if globs and ignored(inner, globs):
                    res.ignored.append(f.rel)
                    continue
            out.append(f)
        return out

    def _unchanged(self, files: list[StoreFile], state: _State) -> bool:
        for f in files:
            if f.kind == L.DERIVED:
                continue
            try:
                s = os.stat(f.fspath)
            except OSError:
                return False
            rec = state.files.get(f.rel)
            if rec is None or rec[0] != s.st_size or rec[1] != s.st_mtime_ns:
                return False
        return True

    def _push(
        self,
        owner: str,
        files: list[StoreFile],
        state: _State,
        res: Result,
        listing: dict[str, int] | None,
        *,
        first: Path,
        verify: bool,
    ) -> None:
        remote = self.remote
        kept = self._kept(files, state, res)
        try:
            if listing is None:
                listing = remote.listing(owner + "/")
            log_rel = f"{owner}/{first.name}"
            ours = state.files.get(log_rel)
            if (
                not state.claimed or ours is None or listing.get(log_rel) != ours[0]
            ) and not self._same_origin(owner, first, listing, res):
                return  # the remote's run log is not the one we left there: never write over another run
            sent_any = False
            whole: set[str] = set()  # files this pass sent from their first byte
            for f in kept:
                try:
                    s = os.stat(f.fspath)
                except FileNotFoundError:
                    continue
                have = listing.get(f.rel)
                n = self._push_file(f, s, have, state, res)
                sent_any = sent_any or n
                if n and (have is None or f.kind != L.APPEND):
                    whole.add(f.rel)
                res.sent[f.rel] = (f, state.files.get(f.rel, [s.st_size])[0])
            if self.dry_run:
                return
            if not state.claimed:
                state.claimed = state.dirty = True
            if sent_any:
                state.verified = False
            if res.finished:
                if sent_any or not state.finished:
                    for f in kept:
                        if f.kind == L.APPEND:
                            remote.seal(f.rel)  # compact an object store's segments, once per finish
                    state.finished = state.dirty = True
                if verify or not state.verified:
                    self._verify(owner, kept, state, res, whole)
            elif not res.finished and state.finished:
                state.finished, state.dirty = False, True  # resumed: seal again when it ends
        except Unauthorized:
            raise
        except (RemoteError, OSError) as e:
            res.errors.append(describe(e))
            res.remote_failed = True
        res.errors[:] = list(dict.fromkeys(res.errors))

    def _same_origin(self, owner: str, first: Path, listing: dict[str, int], res: Result) -> bool:
        """False (and an error) when the remote holds a different run or sweep under the same id."""
        rel = f"{owner}/{first.name}"
        have = listing.get(rel)
        if not have:
            return True
        try:
            with open(first, "rb") as f:
                mine = f.read(PROBE)
        except OSError:
            return True
        n = min(len(mine), have)
        theirs = self.remote.read(rel, 0, n)
        if theirs != mine[:n]:
            res.errors.append(
                f"{owner}: the remote already has a different {'run' if res.kind == 'run' else 'sweep'} "
                "with this id (not merged; rename one of them)"
            )
            return False
        return True

    def _push_file(
        self, f: StoreFile, s: os.stat_result, have: int | None, state: _State, res: Result
    ) -> bool:
        size = s.st_size
        if f.kind == L.APPEND:
            have = have or 0
            if have > size:
                res.errors.append(
                    f"{f.rel}: the remote has {have} bytes, more than the {size} here (diverged; left as is)"
                )
                return False
            if have < size and not self.dry_run:
                self._append(f, have, size, res)
            elif have < size:
                res.bytes += size - have
                res.files += 1
            state.set(f.rel, [size, s.st_mtime_ns, None])
            return have < size
        if f.kind == L.IMMUTABLE:
            if have is not None and have == size:
                state.set(f.rel, [size, s.st_mtime_ns, state.files.get(f.rel, [0, 0, None])[2]])
                return False
            if not self.dry_run:
                if have is not None:
                    res.repaired.append(f.rel)  # a different size under a name that never changes
                self.remote.put(f.rel, f.path, replace=have is not None)
                self._sent(res, size)
            else:
                res.bytes += size
                res.files += 1
            state.set(f.rel, [size, s.st_mtime_ns, None])
            return True
        # replaced
        rec = state.files.get(f.rel)
        if rec is not None and rec[0] == size and rec[1] == s.st_mtime_ns and have == size:
            return False
        sha = local_sha256(f.fspath)
        if have == size and (
            (rec is not None and rec[2] == sha)
            or (rec is None and not self.dry_run and remote_sha256(self.remote, f.rel, size) == sha)
        ):
            state.set(
                f.rel, [size, s.st_mtime_ns, sha]
            )  # no record (deleted, or a pulled run): a hash, no send
            return False
        if self.dry_run:
            res.bytes += size
            res.files += 1
            return True
        self.remote.put(f.rel, f.path, replace=True)
        self._sent(res, size)
        state.set(f.rel, [size, s.st_mtime_ns, sha])
        return True

    def push_tail(self, f: StoreFile, have: int, res: Result) -> int:
        """Send the bytes an `append` file gained since the remote had `have` of them (the daemon's
        fast path between full passes: one stat, no listing). Returns the remote's size now."""
        size = os.stat(f.fspath).st_size
        if size > have:
            self._append(f, have, size, res)
        return max(size, have)

    def _append(self, f: StoreFile, start: int, end: int, res: Result) -> None:
        pos = start
        retried = False
        while pos < end:
            chunks = iter_chunks(f.path, pos, end, CHUNK)
            try:
                for data in chunks:
                    self.remote.append(f.rel, pos, data)
                    pos += len(data)
                    self._sent(res, len(data), count=False)
            except Conflict as c:
                # Someone (an earlier, killed sync; the daemon) got further or the remote lost bytes:
                # continue from the remote's size, once; a second surprise is an error for this file.
                if retried or c.size > end:
                    raise
                retried = True
                pos = c.size
        res.files += 1

    def _sent(self, res: Result, n: int, count: bool = True) -> None:
        res.bytes += n
        if count:
            res.files += 1
        if self.on_bytes is not None:
            self.on_bytes(n)

    def _verify(self, owner: str, kept: list[StoreFile], state: _State, res: Result, whole: set[str]) -> None:
        """Check the finished run's files at the remote against the local ones and repair what differs.

        A file this very pass sent whole is checked by size (its bytes were just read from the local
        file and written); every other file by sha256 of both copies. `--include-synced` (`verify`)
        checks everything again by sha256 on a later pass.
        """
        sizes = self.remote.listing(owner + "/")
        for f in kept:
            try:
                size = os.stat(f.fspath).st_size
            except FileNotFoundError:
                continue
            have = sizes.get(f.rel)
            if have == size and f.rel in whole:
                continue
            if have == size and remote_sha256(self.remote, f.rel, size) == local_sha256(f.fspath, size):
                continue
            if f.kind == L.APPEND and have is not None and have > size:
                res.errors.append(f"{f.rel}: the remote has more bytes than here (diverged; left as is)")
                continue
            self.remote.put(f.rel, f.path, replace=True)
            res.repaired.append(f.rel)
            self._sent(res, size)
        if not res.errors:
            state.verified = state.dirty = True
            res.verified = True
        # record the stats seen now, so the next pass is a pure stat comparison
        for f in kept:
            try:
                st = os.stat(f.fspath)
            except FileNotFoundError:
                continue
            rec = state.files.get(f.rel)
            state.set(f.rel, [st.st_size, st.st_mtime_ns, rec[2] if rec else None])


def _same_prefix(remote: Remote, rel: str, ours: bytes | Path, n: int) -> bool:
    """Whether the first `n` bytes of `ours` (bytes, or a local file) and of the remote's `rel` agree: all
    of them up to 2 x TAIL, else the first and the last TAIL bytes (comparing every byte would fetch what
    a sync exists to avoid)."""
    windows = [(0, n)] if n <= 2 * TAIL else [(0, TAIL), (n - TAIL, n)]
    if isinstance(ours, bytes):
        return all(ours[lo:hi] == remote.read(rel, lo, hi) for lo, hi in windows)
    with open(ours, "rb") as f:
        for lo, hi in windows:
            f.seek(lo)
            if f.read(hi - lo) != remote.read(rel, lo, hi):
                return False
    return True


def _fold(project: str, data: bytes) -> A.ProjectArtifacts:
    """The artifact log `data` (bytes, not a file) folded as store/artifacts.load folds one on disk."""
    return A.fold(project, jsonl.iter_lines(data))


def _files_rel(rel: str) -> str | None:
    """A run file's path under files/ (what ignore globs match), None for the run's own records."""
    parts = rel.split("/")
    if len(parts) > 5 and parts[0] == L.PROJECTS_DIR and parts[4] == L.FILES_DIR:
        return "/".join(parts[5:])
    return None


# -- pulling ------------------------------------------------------------------------------------------
class Puller:
    """Copies runs, sweeps and artifacts from `remote` into `store`: only the bytes it does not have; a file whose
    bytes differ from the remote's is an error naming it, never overwritten (except `replaced` files,
    whose remote version wins, as it would in a sync)."""

    def __init__(
        self,
        store: Store,
        remote: Remote,
        *,
        only: Callable[[str], bool] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.remote = remote
        self.only = only
        self.on_bytes = on_bytes

    def pull_run(self, project: str, run_id: str, *, allow_live: bool = False) -> Result:
        res = Result(f"{project}/{run_id}")
        ref = self.store.run(project, run_id)
        if not allow_live and ref.exists():
            try:
                if load_run(ref).state == "running":
                    res.errors.append(f"{res.name} is running in this store; pull it once it has finished")
                    return res
            except Exception:
                pass
        self._pull(ref.rel, res)
        return res

    def pull_sweep(self, sweep_id: str) -> Result:
        res = Result(f"sweep:{sweep_id}", kind="sweep")
        self._pull(SweepDir(self.store, sweep_id).rel, res)
        return res

    def pull_artifacts(self, project: str, version: str | None = None, *, objects: bool = True) -> Result:
        """Copy a project's artifacts from the remote: the manifests and objects of every live version,
        or of the one `version` ("name", "name:alias", "name:vN") names, then the new bytes of its log
        (so a version is recorded here only once its files are). Objects are hashed as they are stored
        and refused when the bytes do not match their name; then the log is not appended either."""
        res = Result(f"artifacts:{project}" + (f"/{version}" if version else ""), kind="artifacts")
        if not L.valid_name(project):
            res.errors.append(f"invalid project name {project!r}")
            return res
        log_rel = L.artifact_log_rel(project)
        try:
            listing = self.remote.listing(L.artifact_project_rel(project) + "/")
            size = listing.get(log_rel)
            if not size:
                res.errors.append(f"no artifacts of project {project!r} at {self.remote.url}")
                return res
            self.store.ensure()
            path = A.log_path(self.store, project)
            here = _regular_size(path)
            overlap = min(here, size)
            if overlap and not self._same_bytes(log_rel, path, overlap):
                raise _Diverged(
                    f"{log_rel}: the artifact log here is not a prefix of the remote's (diverged; not "
                    "pulled): this store logged artifacts of the project itself"
                )
            prefix = b""
            if overlap:
                with jsonl.open_read(path) as f:
                    prefix = f.read(overlap)
            new = self._fetch(log_rel, size, start=here) if here < size else b""
            # only whole records: a torn tail here would be sealed by the next local write, and this log
            # would no longer be a prefix of the remote's
            new = new[: new.rfind(b"\n") + 1]
            st = _fold(project, prefix + new)
            versions = _pick(st, version, self.remote.url)
            if not self._pull_artifact_files(project, versions, listing, res, objects) or not new:
                return res
            with A.locked(self.store, project):
                if _regular_size(path) != here:
                    raise _Diverged(f"{log_rel}: changed here while pulling; not pulled (pull again)")
                fd = jsonl.open_write(path, os.O_APPEND | os.O_CREAT)
                try:
                    jsonl.write_all(fd, new)
                finally:
                    os.close(fd)
            self._got(res, len(new))
        except (_Diverged, _NoVersion) as e:
            res.errors.append(str(e))
        except Unauthorized:
            raise
        except (RemoteError, OSError) as e:
            res.errors.append(describe(e))
        res.errors[:] = list(dict.fromkeys(res.errors))
        return res

    def _pull_artifact_files(
        self,
        project: str,
        versions: list[A.VersionRec],
        listing: dict[str, int],
        res: Result,
        objects: bool = True,
    ) -> bool:
        """Fetch the manifests and objects of `versions` this store lacks; False (with errors) when one
        could not be had whole."""
        for v in versions:
            name = f"{project}/{v.collection}:v{v.version}"
            rel = L.artifact_manifest_rel(project, v.collection, v.digest)
            if not L.valid_name(v.collection) or L.kind_of(rel) != L.IMMUTABLE:
                res.errors.append(
                    f"{name}: the remote's log names no valid manifest ({v.digest!r}); not pulled"
                )
                continue
            manifest: bytes | None = None
            try:
                entries = A.read_manifest(self.store, project, v.collection, v.digest)
            except StoreError:
                if rel not in listing:
                    res.errors.append(f"{rel}: missing at the remote; {name} not pulled")
                    continue
                manifest = self._fetch(rel, listing[rel])
                got = _manifest_entries(manifest, v.digest)
                if got is None:
                    res.errors.append(f"{rel}: the remote's manifest does not match its digest; not pulled")
                    continue
                entries = got
            whole = True
            # objects=False: versions and manifests only; a download fetches each object it needs then
            for b64, n in entries.values() if objects else ():
                try:
                    ok = A.has_object(self.store, b64, n) or self._pull_object(b64, n, res)
                except ValueError:
                    res.errors.append(f"{rel}: an entry has an invalid digest {b64!r}; {name} not pulled")
                    ok = False
                whole = whole and ok
            if whole and manifest is not None:
                path = A.manifest_path(self.store, project, v.collection, v.digest)
                make_dirs(path.parent)
                try:
                    jsonl.write_atomic(path, manifest, replace=False)
                    self._got(res, len(manifest))
                except FileExistsError:
                    pass  # written meanwhile: named by its content, so the same
        return not res.errors

    def pull_object(self, b64: str, size: int) -> Result:
        """Fetch one object the store lacks (or holds corrupted): what a download of a version whose
        objects were evicted (`artifact cache cleanup`) or never pulled does."""
        res = Result(f"object:{b64}", kind="artifacts")
        try:
            if not self._pull_object(b64, size, res) and not res.errors:
                res.errors.append(f"object {A.b64_to_hex(b64)} is not at {self.remote.url}")
        except ValueError:
            res.errors.append(f"invalid object digest {b64!r}")
        except Unauthorized:
            raise
        except (RemoteError, OSError) as e:
            res.errors.append(describe(e))
        return res

    def _pull_object(self, b64: str, size: int, res: Result) -> bool:
        """Fetch one object and store it as the store stores objects (hashed as written, create-only,
        0444); bytes that do not match the digest are refused and nothing is stored."""
        hexd = A.b64_to_hex(b64)
        rel = L.artifact_object_rel(hexd)
        if L.kind_of(rel) != L.IMMUTABLE:
            raise ValueError(hexd)
        dest = A.object_path(self.store, hexd)
        make_dirs(dest.parent)
        tmp = L.tmp_path(dest)  # hidden: no reader, listing or clean-up takes it for an object
        try:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            fd = jsonl.open_write(tmp, os.O_CREAT | os.O_EXCL, 0o600)
            try:
                pos = 0
                while pos < size:
                    data = self.remote.read(rel, pos, min(size, pos + CHUNK))
                    if not data:
                        break
                    jsonl.write_all(fd, data)
                    pos += len(data)
            finally:
                os.close(fd)
            try:
                got, n = A.put_object(self.store, tmp, expect=b64)
            except ValueError:
                got, n = "", -1
            if got != b64 or n != size:
                res.errors.append(
                    f"{rel}: the remote's bytes do not match their digest (corrupt; not stored)"
                )
                return False
        except FileNotFoundError:
            res.errors.append(f"{rel}: missing at the remote")
            return False
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        self._got(res, n)
        return True

    def _pull(self, owner: str, res: Result) -> None:
        try:
            listing = self.remote.listing(owner + "/")
            if not listing:
                res.errors.append(f"{res.name} is not at {self.remote.url}")
                return
            self.store.ensure()
            for rel, size in sorted(listing.items()):
                kind = L.kind_of(rel)
                if kind is None or kind == L.DERIVED or (self.only is not None and not self.only(rel)):
                    continue
                try:
                    self._pull_file(rel, kind, size, res)
                except _Diverged as d:
                    res.errors.append(str(d))
        except Unauthorized:
            raise
        except (RemoteError, OSError) as e:
            res.errors.append(describe(e))

    def _pull_file(self, rel: str, kind: str, size: int, res: Result) -> None:
        path = self.store.root / rel
        try:
            s = os.stat(path, follow_symlinks=False)
            have: int | None = s.st_size
        except FileNotFoundError:
            have = None
        if have is not None and not os.path.isfile(path) or os.path.islink(path):
            raise _Diverged(f"{rel}: not a regular file here; not touched")
        if kind == L.APPEND:
            have = have or 0
            overlap = min(have, size)
            if overlap and not self._same_bytes(rel, path, overlap):
                raise _Diverged(f"{rel}: the bytes here differ from the remote's (diverged; not pulled)")
            if have >= size:
                return
            make_dirs(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
            try:
                pos = have
                while pos < size:
                    data = self.remote.read(rel, pos, min(size, pos + CHUNK))
                    if not data:
                        break
                    jsonl.write_all(fd, data)
                    pos += len(data)
                    self._got(res, len(data), count=False)
            finally:
                os.close(fd)
            res.files += 1
            return
        if kind == L.IMMUTABLE and have is not None:
            if have != size or not self._same_bytes(rel, path, size):
                raise _Diverged(f"{rel}: the bytes here differ from the remote's (diverged; not pulled)")
            return
        data = self._fetch(rel, size)
        if kind == L.REPLACED and have is not None:
            with open(path, "rb") as f:
                if f.read() == data:
                    return
        make_dirs(path.parent)
        try:
            jsonl.write_atomic(path, data, replace=kind != L.IMMUTABLE)
        except FileExistsError:
            return  # written meanwhile by another pull: immutable, so the same bytes
        self._got(res, len(data))

    def _same_bytes(self, rel: str, path: Path, n: int) -> bool:
        return _same_prefix(self.remote, rel, path, n)

    def _fetch(self, rel: str, size: int, start: int = 0) -> bytes:
        out = bytearray()
        while start + len(out) < size:
            pos = start + len(out)
            data = self.remote.read(rel, pos, min(size, pos + CHUNK))
            if not data:
                break
            out += data
        return bytes(out)

    def _got(self, res: Result, n: int, count: bool = True) -> None:
        res.bytes += n
        if count:
            res.files += 1
        if self.on_bytes is not None:
            self.on_bytes(n)


class _Diverged(Exception):
    pass


class _NoVersion(Exception):
    pass


def _regular_size(path: Path) -> int:
    """The size of a local file a pull appends to (0 when absent); never through a symlink or into
    anything but a regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0
    if not stat.S_ISREG(st.st_mode):
        raise _Diverged(f"{path}: not a regular file here; not touched")
    return st.st_size


def _manifest_entries(raw: bytes, digest: str) -> dict[str, tuple[str, int]] | None:
    """path -> (base64 MD5, size) of the object entries of a manifest fetched from a remote (references
    name bytes that live elsewhere); None when it is not the manifest of artifact digest `digest`."""
    try:
        contents = orjson.loads(raw)["contents"]
        every = {str(p): str(e["digest"]) for p, e in contents.items()}
        if A.artifact_digest(every) != digest:
            return None
        return {
            str(p): (str(e["digest"]), int(e.get("size") or 0))
            for p, e in contents.items()
            if e.get("ref") is None
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


_VERSION = re.compile(r"^v(\d+)$")


def _pick(st: A.ProjectArtifacts, version: str | None, where: str) -> list[A.VersionRec]:
    """The live versions to pull: all, or the one `version` ("name[:alias]", alias `latest`, `vN` or a
    custom alias) names (_NoVersion naming what there is)."""
    if version is None:
        return [v for col in st.collections.values() for v in col.live]
    name, _, alias = version.partition(":")
    alias = alias or "latest"
    col = st.collections.get(name)
    if col is None or not col.live:
        raise _NoVersion(
            f"no artifact {name!r} in project {st.project!r} at {where} (it has {sorted(st.collections)})"
        )
    rec: A.VersionRec | None = None
    if alias == "latest":
        rec = col.latest
    elif m := _VERSION.match(alias):
        n = int(m.group(1))
        rec = col.versions[n] if n < len(col.versions) and not col.versions[n].deleted else None
    elif alias in col.aliases:
        rec = col.versions[col.aliases[alias]]
    if rec is None:
        raise _NoVersion(
            f"no version {alias!r} of artifact {st.project}/{name} at {where}: versions "
            f"{[f'v{v.version}' for v in col.live]}, aliases {sorted(col.aliases) + ['latest']}"
        )
    return [rec]


def wait_visible(remote: Remote, rel: str, size: int, timeout: float = 10.0) -> bool:
    """Poll until the remote has at least `size` bytes of `rel` (tests and the benchmark)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = remote.size(rel)
        if got is not None and got >= size:
            return True
        time.sleep(0.005)
    return False


__all__ = ["Pusher", "Puller", "Result", "ignored", "describe", "wait_visible"]
