"""What every remote can do, and the errors it raises.

A remote holds a copy of a store: the same paths (relative to the store root, posix) with the same
bytes. The operations are the ones the file kinds need (store/layout.py): append bytes at an offset
(`append` files), put a whole file once (`immutable`) or again (`replaced`), read a byte range, and list
what is there with sizes. Backends are picked by URL scheme in `registry.py`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from ..base.urls import strip_credentials
from ..errors import CommError

CHUNK = 8 << 20  # bytes per append or read: bounded memory whatever the file size


class RemoteError(CommError):
    """A remote could not do what was asked (unreachable, refused, broken). The message is one line
    and never holds credentials."""


class MissingBackend(RemoteError):
    """The URL needs a package that is not installed (the message names the extra to install)."""


class Unauthorized(RemoteError):
    """The remote refused our credentials (none, wrong, or not enough scope). Every further request
    would be refused too: a sync stops at the first one instead of failing each run the same way.
    `reason` is the server's own word (`unknown or revoked token`)."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class Conflict(RemoteError):
    """An append at an offset that is not the remote file's current size; `size` is that size."""

    def __init__(self, rel: str, offset: int, size: int) -> None:
        super().__init__(f"{rel}: append at {offset} but the remote has {size} bytes")
        self.rel = rel
        self.offset = offset
        self.size = size


class BadPath(RemoteError):
    pass


def check_rel(rel: str) -> str:
    """A store path from a remote or a caller: relative, posix, no empty, `.` or `..` components. A
    hostile remote listing must not make a pull write outside the store."""
    if not isinstance(rel, str) or not rel or rel.startswith("/") or "\\" in rel or "\x00" in rel:
        raise BadPath(f"not a store path: {rel!r}")
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            raise BadPath(f"not a store path: {rel!r}")
    return rel


class Remote(Protocol):
    """A copy of a store somewhere else. Paths are store paths (`projects/p/runs/id/run.jsonl`)."""

    url: str  # for messages: credentials stripped

    @property
    def key(self) -> str:
        """A short stable name of this remote (file names of the sync state)."""
        ...

    def listing(self, prefix: str = "") -> dict[str, int]:
        """Every file under `prefix` (a directory path ending in `/`, or "" for all) with its size.
        An `append` file's size is the number of bytes a reader can reconstruct."""
        ...

    def size(self, rel: str) -> int | None:
        """The file's size, None when absent."""
        ...

    def append(self, rel: str, offset: int, data: bytes) -> int:
        """Write `data` at `offset`, which must be the file's current size (else `Conflict` with the
        remote's size, so the caller resumes from there). Returns the new size."""
        ...

    def put(self, rel: str, source: bytes | Path, *, replace: bool) -> bool:
        """Store a whole file so readers see the old or the new one. With `replace=False` an existing
        file is left as it is and False is returned (immutable files: copied once)."""
        ...

    def read(self, rel: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes [start, end) of the file (end: its size). FileNotFoundError when absent."""
        ...

    def seal(self, rel: str) -> None:
        """The `append` file will not grow again (its run finished): a backend may compact it."""
        ...

    def delete(self, rel: str) -> None:
        """Remove the file (nothing when absent)."""
        ...

    def projects_runs(self) -> list[tuple[str, str]]:
        """(project, run id) of every run at the remote."""
        ...

    def sweep_ids(self) -> list[str]: ...

    def close(self) -> None: ...


def iter_chunks(path: str | os.PathLike[str], start: int, end: int, chunk: int = CHUNK) -> Iterator[bytes]:
    """Bytes [start, end) of a local file in chunks (a file that shrank ends early)."""
    with open(path, "rb") as f:
        f.seek(start)
        pos = start
        while pos < end:
            data = f.read(min(chunk, end - pos))
            if not data:
                return
            pos += len(data)
            yield data


def local_sha256(path: str | os.PathLike[str], end: int | None = None) -> str:
    h = hashlib.sha256()
    size = os.stat(path).st_size if end is None else end
    for data in iter_chunks(path, 0, size):
        h.update(data)
    return h.hexdigest()


def remote_sha256(remote: Remote, rel: str, size: int) -> str:
    h = hashlib.sha256()
    pos = 0
    while pos < size:
        data = remote.read(rel, pos, min(size, pos + CHUNK))
        if not data:
            break
        h.update(data)
        pos += len(data)
    return h.hexdigest()


def url_key(url: str) -> str:
    """A short file-name-safe key for a remote URL (credentials never enter it: they are stripped first)."""
    return hashlib.sha256(strip_credentials(url).rstrip("/").encode()).hexdigest()[:16]
