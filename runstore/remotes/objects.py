"""Object-store remotes (`s3://`, `gs://`, `az://`, `memory://`, any fsspec URL) through fsspec.

An object store cannot append, and rewriting a whole object per tick would cost O(file) each time. So
an `append` file is kept as (docs/FORMAT.md, "Remotes"):

* the object at its own path, holding bytes [0, B) (absent: B = 0), plus
* segment objects `<owner>/segments/<path in owner>/<offset:020d>`, each holding the bytes sent at
  that offset.

A reader starts at B and chains segments: a segment starting at the current end extends the file; one
that ends at or before it is stale (already compacted) and ignored; a gap ends the file. Streaming costs
one PUT of the new bytes. `seal` (the run finished) and a long tail of segments compact the file: the
whole file is written as the object at its own path, then its segments are deleted; a crash between the
two leaves only stale segments, which readers ignore.

Sizes are cached per file after a listing: a run has one writer (its store), and any surprise (an
append that finds another size) clears the cache through `Conflict`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from ..store import format as fmt
from ..store import layout as L
from .base import CHUNK, Conflict, MissingBackend, RemoteError, check_rel, strip_credentials, url_key

MAX_SEGMENTS = 4096  # compact whatever the sizes beyond this many segments of one file
MIN_SEGMENTS = 256  # compact once this many segments hold 1/8 of the compacted size or more

EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "adl": "azure"}


def open_fs(url: str) -> tuple[Any, str]:
    """(filesystem, root path) for an fsspec URL; a missing package is one line naming the extra."""
    scheme = url.split("://", 1)[0].lower()
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise MissingBackend(
            f"{scheme}:// remotes need fsspec: pip install 'runstore[{EXTRAS.get(scheme, 'remote')}]'"
        ) from None
    try:
        fs, root = url_to_fs(url)
    except ImportError:
        extra = EXTRAS.get(scheme)
        hint = f"pip install 'runstore[{extra}]'" if extra else "install the fsspec backend for it"
        raise MissingBackend(f"{scheme}:// remotes need a package that is not installed: {hint}") from None
    except ValueError as e:
        raise RemoteError(f"cannot use {strip_credentials(url)}: {e}") from None
    return fs, root.rstrip("/")


class ObjectRemote:
    def __init__(self, url: str, fs: Any = None, root: str | None = None) -> None:
        self.url = strip_credentials(url)
        if fs is None or root is None:
            fs, root = open_fs(url)
        self.fs = fs
        self.root = root
        # per append file: (compacted size B, {segment offset: size}); filled by list()/size()
        self._seen: dict[str, tuple[int, dict[int, int]]] = {}
        self._format_checked = False

    @property
    def key(self) -> str:
        return url_key(self.url)

    def __repr__(self) -> str:
        return f"ObjectRemote({self.url!r})"

    def _p(self, rel: str) -> str:
        return f"{self.root}/{check_rel(rel)}"

    # -- reading ---------------------------------------------------------------------------------
    def _find(self, prefix: str) -> dict[str, int]:
        base = f"{self.root}/{prefix}".rstrip("/")
        try:
            self.fs.invalidate_cache(base)
        except Exception:
            pass
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        out: dict[str, int] = {}
        root = self.root.lstrip("/") + "/"
        for path, info in found.items():
            p = path.lstrip("/")
            if info.get("type") == "directory" or not p.startswith(root):
                continue
            out[p[len(root) :]] = int(info.get("size") or 0)
        return out

    def listing(self, prefix: str = "") -> dict[str, int]:
        if prefix:
            check_rel(prefix.rstrip("/"))
        raw = self._find(prefix)
        parts = prefix.split("/")
        n = L.owner_len(parts)
        if n and len(parts) > n + 1 and parts[n] != L.SEGMENTS_DIR:
            # below a run or sweep directory: its files' segments live under <owner>/segments/
            inner = "/".join([*parts[:n], L.SEGMENTS_DIR, *parts[n:]])
            raw.update(self._find(inner))
        for rel in [r for r in self._seen if r.startswith(prefix)]:
            del self._seen[rel]  # what the listing does not find is gone
        plain: dict[str, int] = {}
        segs: dict[str, dict[int, int]] = {}
        for rel, size in raw.items():
            name = rel.rsplit("/", 1)[-1]
            if L.is_tmp(name):
                continue
            seg = L.parse_segment(rel)
            if seg is not None:
                segs.setdefault(seg[0], {})[seg[1]] = size
            else:
                plain[rel] = size
        out = dict(plain)
        for rel in set(plain) | set(segs):
            if rel in segs or L.kind_of(rel) == L.APPEND:
                entry = (plain.get(rel, 0), segs.get(rel, {}))
                self._seen[rel] = entry
                out[rel] = _chain(*entry)[0]
        return out

    def _entry(self, rel: str) -> tuple[int, dict[int, int]]:
        hit = self._seen.get(rel)
        if hit is not None:
            return hit
        try:
            base = int(self.fs.info(self._p(rel)).get("size") or 0)
        except FileNotFoundError:
            base = -1
        segs = {}
        if L.owner_len(rel.split("/")):  # store-level files are never appended to
            for srel, size in self._find(L.segments_prefix(rel)).items():
                seg = L.parse_segment(srel)
                if seg is not None and seg[0] == rel:
                    segs[seg[1]] = size
        if base < 0 and not segs:
            raise FileNotFoundError(rel)
        entry = (max(base, 0), segs)
        self._seen[rel] = entry
        return entry

    def size(self, rel: str) -> int | None:
        self._seen.pop(rel, None)  # asked explicitly: the truth, not the cache
        try:
            return _chain(*self._entry(rel))[0]
        except FileNotFoundError:
            return None

    def read(self, rel: str, start: int = 0, end: int | None = None) -> bytes:
        if L.kind_of(rel) != L.APPEND:
            return self._read_object(rel, start, end)
        base, segs = self._entry(rel)
        size, pieces = _chain(base, segs)
        stop = size if end is None else min(end, size)
        paths, starts, ends = [], [], []
        for obj_start, obj_end, seg_off in pieces:  # (first byte, end, object's offset or None)
            lo, hi = max(start, obj_start), min(stop, obj_end)
            if lo >= hi:
                continue
            paths.append(self._p(rel) if seg_off is None else self._p(L.segment_path(rel, seg_off)))
            origin = 0 if seg_off is None else seg_off
            starts.append(lo - origin)
            ends.append(hi - origin)
        if not paths:
            return b""
        if len(paths) == 1:
            return bytes(self.fs.cat_file(paths[0], start=starts[0], end=ends[0]))
        # many segments: one call, which async backends (s3fs, gcsfs) fetch concurrently
        return b"".join(bytes(b) for b in self.fs.cat_ranges(paths, starts, ends))

    def _read_object(self, rel: str, start: int, end: int | None) -> bytes:
        """A byte range of a whole object. S3 answers an empty or out-of-range Range with the whole
        object or a 416 error, so those ranges never reach it."""
        if end is not None and end <= start:
            return b""
        path = self._p(rel)
        try:
            if start == 0 and end is None:
                return bytes(self.fs.cat_file(path))
            size = int(self.fs.info(path).get("size") or 0)
            stop = size if end is None else min(end, size)
            if stop <= start:
                return b""
            return bytes(self.fs.cat_file(path, start=start, end=stop))
        except FileNotFoundError:
            raise FileNotFoundError(rel) from None

    # -- writing ---------------------------------------------------------------------------------
    def _check_format(self) -> None:
        """The remote is a store: it gets a format.json before the first file (a newer major version
        there is refused, as a local store would refuse it)."""
        if self._format_checked:
            return
        path = self._p(L.FORMAT_FILE)
        try:
            data = orjson.loads(self.fs.cat_file(path))
            version = fmt.parse(data.get("format")) if isinstance(data, dict) else None
        except (FileNotFoundError, ValueError):
            version = None
        if version is not None:
            fmt.check(version, f"the remote {self.url}")
        if version is None or version < (fmt.MAJOR, fmt.MINOR):
            self.fs.pipe_file(path, fmt.record())
        self._format_checked = True

    def append(self, rel: str, offset: int, data: bytes) -> int:
        self._check_format()
        try:
            base, segs = self._entry(rel)
        except FileNotFoundError:
            base, segs = 0, {}
        size = _chain(base, segs)[0]
        if size != offset:
            self._seen.pop(rel, None)
            raise Conflict(rel, offset, size)
        segs = dict(segs)
        pos = offset
        for i in range(0, len(data), CHUNK):
            part = data[i : i + CHUNK]
            self.fs.pipe_file(self._p(L.segment_path(rel, pos)), part)
            segs[pos] = len(part)
            pos += len(part)
        self._seen[rel] = (base, segs)
        seg_bytes = pos - base
        if len(segs) >= MAX_SEGMENTS or (len(segs) >= MIN_SEGMENTS and seg_bytes * 8 >= base):
            self._compact(rel)
        return pos

    def put(self, rel: str, source: bytes | Path, *, replace: bool) -> bool:
        self._check_format()
        path = self._p(rel)
        if not replace and self.fs.exists(path):
            return False
        if isinstance(source, bytes):
            self.fs.pipe_file(path, source)
        else:
            self.fs.put_file(os.fspath(source), path)
        if L.kind_of(rel) == L.APPEND:  # a repaired append file: its old segments must not extend it
            entry = self._seen.pop(rel, None)
            self._drop_segments(rel, entry[1] if entry else None)
            size = len(source) if isinstance(source, bytes) else os.stat(source).st_size
            self._seen[rel] = (size, {})
        return True

    def seal(self, rel: str) -> None:
        try:
            _, segs = self._entry(rel)
        except FileNotFoundError:
            return
        if segs:
            self._compact(rel)

    def _compact(self, rel: str) -> None:
        base, segs = self._entry(rel)
        size = _chain(base, segs)[0]
        data = self.read(rel, 0, size)
        self.fs.pipe_file(self._p(rel), data)
        self._seen[rel] = (size, {})
        self._drop_segments(rel, segs)

    def _drop_segments(self, rel: str, segs: dict[int, int] | None) -> None:
        if segs is None:
            segs = {}
            for srel in self._find(L.segments_prefix(rel)):
                seg = L.parse_segment(srel)
                if seg is not None and seg[0] == rel:
                    segs[seg[1]] = 0
        paths = [self._p(L.segment_path(rel, off)) for off in segs]
        if paths:
            try:
                self.fs.rm(paths)
            except FileNotFoundError:
                pass

    def delete(self, rel: str) -> None:
        try:
            self.fs.rm_file(self._p(rel))
        except FileNotFoundError:
            pass
        if L.kind_of(rel) == L.APPEND:
            entry = self._seen.pop(rel, None)
            self._drop_segments(rel, entry[1] if entry else None)

    # -- what is there ---------------------------------------------------------------------------
    def _dirs(self, rel: str) -> list[str]:
        path = f"{self.root}/{rel}".rstrip("/")
        try:
            self.fs.invalidate_cache(path)
        except Exception:
            pass
        try:
            entries = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            e["name"].rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"
        )

    def projects_runs(self) -> list[tuple[str, str]]:
        out = []
        for project in self._dirs(L.PROJECTS_DIR):
            if not L.valid_name(project):
                continue
            for run_id in self._dirs(f"{L.PROJECTS_DIR}/{project}/{L.RUNS_DIR}"):
                if L.valid_name(run_id):
                    out.append((project, run_id))
        return out

    def sweep_ids(self) -> list[str]:
        return [s for s in self._dirs(L.SWEEPS_DIR) if L.valid_name(s)]

    def close(self) -> None:
        self._seen.clear()


def _chain(base: int, segs: dict[int, int]) -> tuple[int, list[tuple[int, int, int | None]]]:
    """(size, pieces) of an append file: pieces are (start, end, segment offset or None for the
    compacted object), in order, without overlaps."""
    pieces: list[tuple[int, int, int | None]] = [(0, base, None)] if base else []
    pos = base
    for off in sorted(segs):
        end = off + segs[off]
        if end <= pos:
            continue  # stale: compacted already (or a shorter retry of the same bytes)
        if off > pos:
            break  # a gap: what follows cannot be read yet
        pieces.append((pos, end, off))
        pos = end
    return pos, pieces


__all__ = ["ObjectRemote", "open_fs", "MAX_SEGMENTS", "MIN_SEGMENTS"]
