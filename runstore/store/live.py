"""Live markers: one small JSON file per running run (`Store.live_dir`), written by `init()`, removed by
`finish()` or by the daemon once the run has ended. The daemon samples the runs they name.

Outbox entries (`Store.outbox_dir`): the same content, written by `init()` for an online run with a
remote, removed by the daemon once it has sent and verified the whole finished run. A run shorter than
the daemon's scan, or one that ended while no daemon ran, is still streamed to the end: the entry
outlives the process.

Writing and removing a marker is on `init()`'s and `finish()`'s path: cheap (one small atomic write) and
never raising, since tracking must not break training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from . import jsonl
from . import layout as L

if TYPE_CHECKING:
    from .store import Store


def marker_path(store: Store, project: str, run_id: str) -> Path:
    # `~` may appear in a project name, so the name alone is not a unique key for a reader: the marker's
    # content carries `project` and `id` and the daemon trusts those, not the file name.
    return store.live_dir / f"{project}~{run_id}{L.MARKER_SUFFIX}"


def outbox_path(store: Store, project: str, run_id: str) -> Path:
    return store.outbox_dir / f"{project}~{run_id}{L.MARKER_SUFFIX}"


def register(
    store: Store,
    project: str,
    run_id: str,
    run_dir: Path,
    pid: int,
    pid_start: str | None,
    host: str,
    remote: str | None = None,
) -> None:
    """Write the run's marker so the daemon samples it (and streams it to `remote`, the URL of an
    online run's remote; None for offline runs: then nothing of the run leaves the machine). Never
    raises."""
    path = marker_path(store, project, run_id)
    fields: dict[str, Any] = {
        "project": project,
        "id": run_id,
        "dir": os.fspath(run_dir),
        "pid": pid,
        "pid_start": pid_start,
        "host": host,
    }
    if remote:
        fields["remote"] = remote
    data = orjson.dumps(fields)
    if remote:
        _write_quietly(outbox_path(store, project, run_id), data)
    _write_quietly(path, data)  # a read-only or full store: the run still trains, it just goes unsampled


def _write_quietly(path: Path, data: bytes) -> None:
    try:
        _write_atomic(path, data)
    except FileNotFoundError:
        try:
            L.make_dirs(path.parent)
            _write_atomic(path, data)
        except OSError:
            pass
    except OSError:
        pass


def unregister(store: Store, project: str, run_id: str) -> None:
    try:
        os.unlink(marker_path(store, project, run_id))
    except OSError:
        pass


def _write_atomic(path: Path, data: bytes) -> None:
    # Not jsonl.write_atomic: that module's encoder is not needed for a 150-byte file. The temporary
    # name does not end in `.json`, so the daemon never reads a half-written marker.
    tmp = L.tmp_path(path)
    fd = jsonl.open_write(tmp, os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@dataclass(frozen=True)
class Marker:
    name: str  # file name: the key the daemon tracks the run by
    project: str
    id: str
    dir: Path
    pid: int
    pid_start: str | None
    host: str | None
    sig: tuple[int, int]
    remote: str | None = (
        None  # where the daemon streams the run (online runs with a remote only)  # (inode, mtime_ns): a re-registered run has a new file, hence a new sig
    )


class BadMarker(ValueError):
    """A marker file that cannot be read as one (hand-edited, foreign writer, truncated by a full disk)."""

    sig: tuple[int, int] = (0, 0)
    mtime: float = 0.0


def parse(name: str, data: bytes, sig: tuple[int, int]) -> Marker:
    try:
        d: Any = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise BadMarker(f"not JSON ({e})") from None
    if not isinstance(d, dict):
        raise BadMarker("not a JSON object")
    pid, run_dir = d.get("pid"), d.get("dir")
    if type(pid) is not int or pid <= 0 or not isinstance(run_dir, str) or not run_dir:
        raise BadMarker("needs an integer `pid` and a `dir`")
    stem = name[: -len(L.MARKER_SUFFIX)]
    project, _, run_id = stem.rpartition("~")
    ps = d.get("pid_start")
    host = d.get("host")
    remote = d.get("remote")
    return Marker(
        name=name,
        project=str(d.get("project") or project),
        id=str(d.get("id") or run_id),
        dir=Path(run_dir),
        pid=pid,
        pid_start=ps if isinstance(ps, str) else None,
        host=host if isinstance(host, str) else None,
        sig=sig,
        remote=remote if isinstance(remote, str) and remote else None,
    )


class MarkerScanner:
    """Lists the markers (or, with `outbox=True`, the outbox entries) each tick; a file is parsed again
    only when its (inode, mtime) changed."""

    def __init__(self, store: Store, outbox: bool = False) -> None:
        self.dir = store.outbox_dir if outbox else store.live_dir
        self._cache: dict[str, tuple[tuple[int, int], Marker | BadMarker]] = {}

    def scan(self) -> dict[str, Marker | BadMarker]:
        out: dict[str, Marker | BadMarker] = {}
        try:
            entries = list(os.scandir(self.dir))
        except FileNotFoundError:
            entries = []
        for e in entries:
            if not e.name.endswith(L.MARKER_SUFFIX):
                continue  # `.tmp<pid>` files of a write in progress
            try:
                st = e.stat()
            except OSError:
                continue
            sig = (st.st_ino, st.st_mtime_ns)
            hit = self._cache.get(e.name)
            if hit is not None and hit[0] == sig:
                out[e.name] = hit[1]
                continue
            try:
                with jsonl.open_read(e.path) as f:
                    data = f.read(65536)
                m: Marker | BadMarker = parse(e.name, data, sig)
            except BadMarker as err:
                err.sig, err.mtime = sig, st.st_mtime
                m = err
            except OSError:
                continue  # removed between listing and reading
            self._cache[e.name] = (sig, m)
            out[e.name] = m
        for k in list(self._cache):
            if k not in out:
                del self._cache[k]
        return out

    def remove(self, name: str, sig: tuple[int, int]) -> None:
        """Delete a marker unless it was rewritten since we read it (a resume re-registering the run)."""
        path = self.dir / name
        try:
            st = os.stat(path)
            if (st.st_ino, st.st_mtime_ns) == sig:
                os.unlink(path)
        except OSError:
            pass
        self._cache.pop(name, None)


def read_all(store: Store) -> list[Marker]:
    """Every valid marker (for `runstore daemon status`)."""
    return [m for m in MarkerScanner(store).scan().values() if isinstance(m, Marker)]
