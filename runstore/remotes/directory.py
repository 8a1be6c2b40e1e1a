"""A directory remote (`/mnt/team/runs`, `file:///mnt/team/runs`): a shared disk or NFS mount that is
itself a runstore store, so `runstore ls --dir` and `Api` read it as they read any store.

Appends are real appends at the remote's current size; whole files are written to a hidden temporary
sibling and renamed (or hard-linked, create-only, for immutable files), like every writer of a store.
An immutable file's upload stages into a temporary name without a pid, so an upload killed halfway is
continued by the next one instead of sent again.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..store import layout as L
from ..store.store import Store
from .base import CHUNK, BadPath, Conflict, RemoteError, check_rel, url_key

_PARTIAL = ".tmp-runstore-0"  # matches layout.is_tmp: readers and listings ignore it


class DirRemote:
    def __init__(self, path: str | os.PathLike[str], url: str | None = None) -> None:
        self.root = Path(path).expanduser().absolute()
        self.url = url or os.fspath(self.root)
        self._ready = False

    @property
    def key(self) -> str:
        return url_key(os.fspath(self.root))

    def __repr__(self) -> str:
        return f"DirRemote({os.fspath(self.root)!r})"

    def _path(self, rel: str) -> Path:
        return self.root / check_rel(rel)

    def _ensure_store(self) -> None:
        """The remote is a store: it gets a format.json (and projects/) before the first file arrives."""
        if self._ready:
            return
        try:
            Store(self.root).ensure()
        except Exception as e:
            raise RemoteError(f"cannot use {self.url} as a remote: {e}") from None
        self._ready = True

    def listing(self, prefix: str = "") -> dict[str, int]:
        base = self.root / check_rel(prefix.rstrip("/")) if prefix else self.root
        out: dict[str, int] = {}
        for rel, path in L.walk(base, sort=False):
            if L.is_tmp(rel.rsplit("/", 1)[-1]):
                continue
            try:
                out[prefix + rel] = os.stat(path).st_size
            except FileNotFoundError:
                continue
        return out

    def size(self, rel: str) -> int | None:
        try:
            st = os.stat(self._path(rel), follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size

    def append(self, rel: str, offset: int, data: bytes) -> int:
        self._ensure_store()
        path = self._path(rel)
        L.make_dirs(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size != offset:
                raise Conflict(rel, offset, size)
            pos = offset
            view = memoryview(data)
            while view:
                n = os.pwrite(fd, view[:CHUNK], pos)
                pos += n
                view = view[n:]
            return pos
        finally:
            os.close(fd)

    def put(self, rel: str, source: bytes | Path, *, replace: bool) -> bool:
        self._ensure_store()
        path = self._path(rel)
        if not replace and os.path.lexists(path):
            return False
        L.make_dirs(path.parent)
        if replace:
            tmp = Path(L.tmp_path(path))
            start = 0
        else:
            tmp = path.with_name(f".{path.name}{_PARTIAL}")
            start = _partial_size(tmp, source)
        # O_NOFOLLOW: a symlink planted at the staging name (a shared directory) is never written through
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | (0 if start else os.O_TRUNC)
        try:
            fd = os.open(tmp, flags, 0o644)
        except OSError:
            _unlink(tmp)  # not a regular file we can write: start over under the same name
            start = 0
            fd = os.open(tmp, flags | os.O_EXCL | os.O_TRUNC, 0o644)
        try:
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise RemoteError(f"{rel}: the staging file at the remote is not a regular file")
                os.ftruncate(fd, start)
                _write_from(fd, source, start)
            finally:
                os.close(fd)
            if replace:
                os.replace(tmp, path)
            else:
                try:
                    os.link(tmp, path)  # create-only: a concurrent uploader's copy is kept
                except FileExistsError:
                    return False
        finally:
            _unlink(tmp)
        return True

    def read(self, rel: str, start: int = 0, end: int | None = None) -> bytes:
        path = self._path(rel)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as e:
            if e.errno in (2, 20):  # ENOENT, ENOTDIR
                raise FileNotFoundError(rel) from None
            raise
        try:
            size = os.fstat(fd).st_size
            stop = size if end is None else min(end, size)
            if stop <= start:
                return b""
            return os.pread(fd, stop - start, start)
        finally:
            os.close(fd)

    def seal(self, rel: str) -> None:
        pass  # a directory appends in place: nothing to compact

    def delete(self, rel: str) -> None:
        try:
            os.unlink(self._path(rel))
        except FileNotFoundError:
            pass

    def projects_runs(self) -> list[tuple[str, str]]:
        st = Store(self.root)
        return [(r.project, r.id) for r in st.iter_runs() if L.valid_name(r.id)]

    def sweep_ids(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(Store(self.root).sweeps_dir) if e.is_dir())
        except FileNotFoundError:
            return []

    def close(self) -> None:
        self._ready = False  # after a failure the directory may have been recreated: check it again


def _partial_size(tmp: Path, source: bytes | Path) -> int:
    """How much of an earlier, interrupted upload of the same immutable file can be kept."""
    try:
        st = os.stat(tmp, follow_symlinks=False)
    except FileNotFoundError:
        return 0
    if not stat.S_ISREG(st.st_mode):
        return 0
    total = len(source) if isinstance(source, bytes) else os.stat(source).st_size
    return st.st_size if st.st_size <= total else 0


def _write_from(fd: int, source: bytes | Path, start: int) -> None:
    if isinstance(source, bytes):
        view = memoryview(source)[start:]
        pos = start
        while view:
            n = os.pwrite(fd, view[:CHUNK], pos)
            pos += n
            view = view[n:]
        return
    with open(source, "rb") as src:
        src.seek(start)
        pos = start
        while True:
            data = src.read(CHUNK)
            if not data:
                return
            view = memoryview(data)
            while view:
                n = os.pwrite(fd, view, pos)
                pos += n
                view = view[n:]


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


__all__ = ["DirRemote", "BadPath"]
