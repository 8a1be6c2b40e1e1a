"""JSON-lines encoding shared by every writer and reader of the store.

Encoding: orjson, except that non-finite floats are written as the JSON extensions `NaN`, `Infinity`
and `-Infinity` (what Python's `json` and wandb write), because orjson would silently turn them into
`null`. Decoding tries orjson first and falls back to the standard library only for lines that carry
those tokens.

Reading: a line counts only once its terminating newline is on disk. Anything after the last newline is
a torn write (a crash mid-`write`, or a writer still writing) and is skipped, never fatal.
"""

from __future__ import annotations

import errno
import json
import math
import numbers
import os
import re
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from .layout import tmp_path

OPTS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_dumps = orjson.dumps
_loads = orjson.loads
_JSONDecodeError = orjson.JSONDecodeError


def _has_nonfinite(obj: Any) -> bool:
    if obj.__class__ is float:
        return obj != obj or obj in (math.inf, -math.inf)
    if isinstance(obj, dict):
        return any(_has_nonfinite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_has_nonfinite(v) for v in obj)
    if isinstance(obj, numbers.Real) and not isinstance(obj, numbers.Integral):  # numpy floats
        return not math.isfinite(float(obj))
    return False


def _plain(obj: Any) -> Any:
    """Make `obj` acceptable to the stdlib encoder (numpy scalars -> Python, keys -> str)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, bool) or obj is None or obj.__class__ in (int, str, float):
        return obj
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, int):
        return int(obj)
    item = getattr(obj, "item", None)
    if item is not None:
        return _plain(item())
    tolist = getattr(obj, "tolist", None)
    if tolist is not None:
        return _plain(tolist())
    return json.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS))


def _stdlib(obj: Any) -> bytes:
    return (json.dumps(_plain(obj), separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def encode(obj: Any) -> bytes:
    """One JSON line (with its newline) for `obj`, keeping NaN/Infinity and big ints exact."""
    try:
        line = _dumps(obj, option=OPTS)
    except orjson.JSONEncodeError:
        return _stdlib(obj)  # e.g. an int beyond 64 bits, which Python's json writes exactly
    if b"null" in line and _has_nonfinite(obj):
        return _stdlib(obj)
    return line


# Deeper than this, a record is not one runstore or wandb writes but a hostile one: every reader skips it
# (ValueError, like any undecodable line), rather than let Python's recursion limit fail a whole project.
MAX_DEPTH = 100
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_BRACKETS = re.compile(rb"[\[\]{}]")


def too_deep(line: bytes | str) -> bool:
    """Whether `line` nests objects/arrays more than MAX_DEPTH levels (checked by counting brackets, and
    only when there are that many: the common line costs two byte counts)."""
    b = line.encode() if isinstance(line, str) else line
    if len(b) <= 2 * MAX_DEPTH or b.count(b"{") + b.count(b"[") <= MAX_DEPTH:
        return False
    depth = 0
    for m in _BRACKETS.finditer(_STRING.sub(b"", b)):
        if m.group() in (b"{", b"["):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        else:
            depth -= 1
    return False


def decode(line: bytes | str) -> Any:
    if too_deep(line):
        raise ValueError(f"a record nested more than {MAX_DEPTH} levels deep")
    try:
        return _loads(line)
    except _JSONDecodeError:
        # NaN/Infinity tokens (and nothing else) are what orjson refuses but json accepts.
        return json.loads(line)


def iter_lines(data: bytes) -> Iterator[Any]:
    """Decoded records of `data`, skipping the torn tail and any undecodable line."""
    end = data.rfind(b"\n")
    if end < 0:
        return
    for line in data[: end + 1].split(b"\n"):
        if not line:
            continue
        try:
            yield decode(line)
        except ValueError:
            continue


class NotRegularFile(FileNotFoundError):
    """A store file that is a FIFO, a device, a directory or a symlink: readers treat it as missing
    (a FIFO or /dev/zero would hang a reader forever; a symlink could point anywhere)."""


def open_read(path: str | os.PathLike[str]) -> BinaryIO:
    """`path` opened for reading if it is a regular file (symlinks not followed), else NotRegularFile
    (FileNotFoundError when it does not exist)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as e:  # ELOOP: a symlink; ENXIO: a socket
        raise NotRegularFile(e.errno, f"not a regular file: {e.strerror}", os.fspath(path)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(errno.ENOENT, "not a regular file", os.fspath(path))
    return os.fdopen(fd, "rb")


def read(path: str | os.PathLike[str], offset: int = 0) -> tuple[list[Any], int]:
    """All complete records of `path` from byte `offset`, and the offset just past the last one."""
    try:
        with open_read(path) as f:
            if offset:
                f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return list(iter_lines(data[:end])), offset + end


def last_row(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The last complete line of a history-like file that is an object with an integer `_step`.

    Read from the end in growing blocks, so the cost does not depend on the file's length.
    """
    try:
        with open_read(path) as f:
            size = f.seek(0, os.SEEK_END)
            block = 4096
            while True:
                start = max(0, size - block)
                f.seek(start)
                data = f.read(size - start)
                lines = data[: data.rfind(b"\n") + 1].split(b"\n")
                if start > 0:
                    lines = lines[1:]  # the first piece may begin mid-line
                for line in reversed(lines):
                    if line:
                        try:
                            row = decode(line)
                        except ValueError:
                            continue
                        if isinstance(row, dict) and type(row.get("_step")) is int:
                            return row
                if start == 0:
                    return None
                block *= 4
    except OSError:
        return None


def create_append(path: str | os.PathLike[str]) -> int:
    """An O_APPEND descriptor on a new file `path`; FileExistsError if it exists (creation is atomic)."""
    return open_write(path, os.O_APPEND | os.O_CREAT | os.O_EXCL)


def open_append(path: str | os.PathLike[str]) -> int:
    """An O_APPEND descriptor on `path`; a torn tail left by a crashed writer is sealed first.

    Sealing matters: without it the next record would be glued to the fragment and both lost.
    """
    fd = open_write(path, os.O_APPEND | os.O_CREAT)
    try:
        seal_fd(fd, path)
    except OSError:
        os.close(fd)
        raise
    return fd


# Every descriptor runstore writes a store file through: symlinks are never followed (a user of a
# shared store could point one at a file only the daemon's user may write), and nothing but a
# regular file is written (a FIFO would block the writer forever).
_SAFE = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def open_write(path: str | os.PathLike[str], flags: int, mode: int = 0o644) -> int:
    """os.open(path, O_WRONLY | flags) for a store file: not through a symlink, regular files only
    (NotRegularFile otherwise)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | _SAFE | flags, mode)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENXIO):
            raise NotRegularFile(e.errno, f"not a regular file: {e.strerror}", os.fspath(path)) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotRegularFile(errno.ENOENT, "not a regular file", os.fspath(path))
    return fd


def seal_fd(fd: int, path: str | os.PathLike[str]) -> None:
    """End the fragment a failed or short write may have left at the end of `path` (open for append as
    `fd`) with a newline, so the next record is a line of its own; nothing when it ends with one."""
    rfd = os.open(path, os.O_RDONLY | _SAFE)
    try:
        size = os.fstat(rfd).st_size
        last = os.pread(rfd, 1, size - 1) if size else b"\n"
    finally:
        os.close(rfd)
    if last != b"\n":
        write_all(fd, b"\n")


def write_all(fd: int, data: bytes) -> None:
    n = os.write(fd, data)
    while n < len(data):  # short writes only happen on a full disk or a signal
        data = data[n:]
        n = os.write(fd, data)


def append(path: str | os.PathLike[str], obj: Any) -> None:
    """Append one record to `path` with a single write (for infrequent records)."""
    fd = open_append(path)
    try:
        write_all(fd, encode(obj))
    finally:
        os.close(fd)


def file_sig(path: str | os.PathLike[str]) -> list[int] | None:
    """[size, mtime_ns] of a file, None if it cannot be stat'ed: a cheap "has it changed?" token."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def copy_atomic(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    """Copy a file so that readers see the old or the new copy, never half of one (tmp + rename)."""
    import shutil

    dest = os.fspath(dest)
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    tmp = tmp_path(dest)
    try:
        with open(src, "rb") as f, os.fdopen(_open_tmp(tmp), "wb") as g:
            shutil.copyfileobj(f, g, 1 << 20)
        os.replace(tmp, dest)
    except BaseException:
        _discard(tmp)
        raise


class NotOwner(PermissionError):
    """A file the run's owner could not have copied themselves: the daemon refuses it."""


def copy_for_owner(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], owner_dir: str | os.PathLike[str]
) -> None:
    """copy_atomic for a process that may run as another user (the store's daemon, possibly root): only
    a regular file (symlinks not followed) owned by the owner of `owner_dir` (the run directory) is
    copied, and the copy's mode is the source's masked by that directory's, never wider. Otherwise
    NotOwner / NotRegularFile, and nothing is written."""
    dir_st = os.stat(owner_dir, follow_symlinks=False)
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as e:
        raise NotRegularFile(e.errno, f"not a regular file: {e.strerror}", os.fspath(src)) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.ENOENT, "not a regular file", os.fspath(src))
        if st.st_uid != dir_st.st_uid:
            raise NotOwner(
                errno.EACCES,
                f"owned by uid {st.st_uid}, not by the run's owner (uid {dir_st.st_uid})",
                os.fspath(src),
            )
        mode = st.st_mode & dir_st.st_mode & 0o666
        dest = os.fspath(dest)
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        tmp = tmp_path(dest)
        try:
            with os.fdopen(_open_tmp(tmp, mode), "wb") as g:
                os.fchmod(g.fileno(), mode)
                if os.geteuid() == 0 and dir_st.st_uid != 0:
                    os.fchown(g.fileno(), dir_st.st_uid, dir_st.st_gid)  # the run's owner keeps owning it
                while chunk := f.read(1 << 20):
                    g.write(chunk)
            os.replace(tmp, dest)
        except BaseException:
            _discard(tmp)
            raise


def write_atomic(path: str | os.PathLike[str], data: bytes, *, replace: bool = True) -> None:
    """Write a whole file so that readers see either the old or the new content, never a mix. With
    `replace=False` the file must not exist yet: FileExistsError, and the existing one stays as it is."""
    tmp = tmp_path(path)
    try:
        with os.fdopen(_open_tmp(tmp), "wb") as f:
            f.write(data)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # unlike rename, link refuses to replace an existing file
    finally:
        _discard(tmp)  # gone already after a replace


def _open_tmp(tmp: str, mode: int = 0o644) -> int:
    """A fresh staging file: whatever sits at its name (a leftover, or a planted symlink) is removed
    first, and O_EXCL | O_NOFOLLOW create it anew."""
    _discard(tmp)
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _SAFE, mode)


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
