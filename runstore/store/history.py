"""Reading history rows: streaming for `scan_history`, columnar (and cached) for DataFrames.

A history file (one generation, see store/runs.py) is the source of truth. For large runs a derived
column cache (`RunRef.history_cache`) makes repeated DataFrame reads fast; it records how many bytes of
the history it covers, so rows appended later are parsed from that offset and the cache is extended.
Deleting the cache is always safe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..base.gcpause import paused
from ..errors import Error
from . import jsonl
from .layout import make_dirs, tmp_path
from .summary import is_leaf_dict

CHUNK = 1 << 22
PARSE_CHUNK = 1 << 25
# A table of columns holds rows x columns cells, missing ones included: a sparse, wide history (each
# row its own keys) would need gigabytes for a few megabytes of file. Beyond this many cells
# read_columns refuses, naming the way out (keys=, scan_history).
MAX_CELLS = 25_000_000


class WideHistory(Error):
    """A history too sparse and wide to load as one table."""


CACHE_MIN_ROWS = 20_000  # below this, parsing is fast enough that a cache only costs disk
_HEAD = 256  # bytes of the file's start kept in the cache to notice a replaced history


def iter_rows(path: str | os.PathLike[str], offset: int = 0) -> Iterator[dict[str, Any]]:
    """Rows of a history file from byte `offset`, read in chunks, skipping a torn tail."""
    try:
        f = jsonl.open_read(path)
    except FileNotFoundError:  # NotRegularFile too: a FIFO or device would never end
        return
    with f:
        if offset:
            f.seek(offset)
        rest = b""
        while True:
            chunk = f.read(CHUNK)
            if not chunk:
                return  # whatever is left in `rest` has no newline: a torn tail
            data = rest + chunk
            end = data.rfind(b"\n")
            if end < 0:
                rest = data
                continue
            rest = data[end + 1 :]
            for row in jsonl.iter_lines(data[: end + 1]):
                if isinstance(row, dict) and type(row.get("_step")) is int:
                    yield row


def flatten(row: dict[str, Any], prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nested dicts -> dotted column names (media references stay whole)."""
    out = {} if out is None else out
    for k, v in row.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and v and not is_leaf_dict(v):
            flatten(v, name + ".", out)
        else:
            out[name] = v
    return out


def _parse_block(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """Parse complete lines of `data` into flat rows; returns rows and the byte length consumed."""
    end = data.rfind(b"\n") + 1
    rows: list[dict[str, Any]] = []
    loads = orjson.loads
    with paused():  # a million small dicts otherwise trigger a collection every few hundred rows
        for line in data[:end].split(b"\n"):
            if not line:
                continue
            try:
                row = loads(line)
            except orjson.JSONDecodeError:
                try:
                    row = jsonl.decode(line)
                except ValueError:
                    continue
            if len(line) > 2 * jsonl.MAX_DEPTH and jsonl.too_deep(line):
                continue  # hostile nesting (each level costs at least 2 bytes): skipped like junk
            if not isinstance(row, dict) or type(row.get("_step")) is not int:
                continue  # a history row is an object with an integer _step; anything else is junk
            if line.find(b"{", 1) >= 0:
                row = flatten(row)
            rows.append(row)
    return rows, end


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {}
    n = 0
    for row in rows:
        for k, v in row.items():
            col = cols.get(k)
            if col is None:
                if len(cols) * len(rows) > MAX_CELLS:
                    raise WideHistory(_wide(len(cols), len(rows), more=True))
                col = cols[k] = [None] * n
            col.append(v)
        n += 1
        if len(row) != len(cols):
            for col in cols.values():
                if len(col) < n:
                    col.append(None)
    return cols


def _to_array(values: list[Any]) -> Any:
    import numpy as np

    types = set(map(type, values))
    if types <= {int}:
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:
            pass
    elif types <= {int, float, type(None)} and types & {int, float}:
        return np.array(values, dtype=np.float64)
    elif types == {bool}:
        return np.array(values, dtype=bool)
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _pad(like: Any, n: int) -> Any:
    """n missing cells in the representation of `like` (None for object columns, else NaN)."""
    import numpy as np

    return np.empty(n, dtype=object) if like.dtype == object else np.full(n, np.nan)


def _concat(parts: list[tuple[dict[str, Any], int]]) -> dict[str, Any]:
    """Join column chunks end to end; a column missing from a chunk is NaN/None there."""
    import numpy as np

    if len(parts) == 1:
        return parts[0][0]
    names: dict[str, Any] = {}
    for cols, _ in parts:
        for name, arr in cols.items():
            names.setdefault(name, arr)
    out: dict[str, Any] = {}
    for name, like in names.items():
        pieces = [cols.get(name) for cols, _ in parts]
        obj = any(p is not None and p.dtype == object for p in pieces)
        filled = [(_pad(like, n) if p is None else p) for p, (_, n) in zip(pieces, parts, strict=True)]
        out[name] = np.concatenate([p.astype(object) if obj else p for p in filled])
    return out


def _load_cache(path: Path, head: bytes, size: int, ino: int) -> tuple[dict[str, Any], int, int]:
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = orjson.loads(bytes(z["__meta__"]))
            if (
                meta.get("head") != head.hex()
                or meta["bytes"] > size
                or meta.get("version") != 1
                or meta.get("ino") != ino
            ):
                return {}, 0, 0
            cols: dict[str, Any] = {}
            for i, (name, kind) in enumerate(meta["columns"]):
                arr = z[f"c{i}"]
                if kind == "json":
                    vals = jsonl.decode(bytes(arr)) if len(arr) else []
                    arr = np.empty(len(vals), dtype=object)
                    arr[:] = vals
                cols[name] = arr
            return cols, int(meta["rows"]), int(meta["bytes"])
    except Exception:
        return {}, 0, 0  # unreadable or foreign cache: rebuild from the source of truth


def _save_cache(path: Path, cols: dict[str, Any], rows: int, nbytes: int, head: bytes, ino: int) -> None:
    import numpy as np

    arrays: dict[str, Any] = {}
    columns = []
    for i, (name, arr) in enumerate(cols.items()):
        if arr.dtype == object:
            columns.append((name, "json"))
            arrays[f"c{i}"] = np.frombuffer(jsonl.encode(arr.tolist()), dtype=np.uint8)
        else:
            columns.append((name, "array"))
            arrays[f"c{i}"] = arr
    # `ino` notices a history file replaced under the same name (format 1's rewind did that).
    meta = {"version": 1, "bytes": nbytes, "rows": rows, "head": head.hex(), "ino": ino, "columns": columns}
    arrays["__meta__"] = np.frombuffer(orjson.dumps(meta), dtype=np.uint8)
    save_npz(path, arrays)


def save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """A derived cache file of numpy arrays, replaced atomically. A failure leaves no file (a read-only
    store still reads, just without a cache)."""
    import numpy as np

    tmp = tmp_path(path)
    try:
        make_dirs(path.parent)
        with os.fdopen(jsonl.open_write(tmp, os.O_CREAT | os.O_TRUNC), "wb") as f:  # savez adds .npz to names
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def column_samples(path: str | os.PathLike[str], cache: str | os.PathLike[str]) -> dict[str, Any] | None:
    """A history's columns as `{name: a numpy dtype, or the first non-null value of a column of JSON
    values}`, read from its column cache without loading the numeric columns (a 1M-row cache holds
    ~100 MB of them; what a dashboard lists first is only which columns there are). None when the cache
    does not cover the whole file: then only `read_columns` knows."""
    import numpy as np
    from numpy.lib import format as npy

    try:
        with jsonl.open_read(path) as f:
            st = os.fstat(f.fileno())
            head = f.read(_HEAD)
        with np.load(cache, allow_pickle=False) as z:  # members are read only when asked for
            meta = orjson.loads(bytes(z["__meta__"]))
            if (
                meta.get("version") != 1
                or meta.get("head") != head.hex()
                or meta.get("bytes") != st.st_size
                or meta.get("ino") != st.st_ino
            ):
                return None
            out: dict[str, Any] = {}
            for i, (name, kind) in enumerate(meta["columns"]):
                if kind == "json":
                    vals = jsonl.decode(bytes(z[f"c{i}"]))
                    out[name] = next((v for v in vals if v is not None), None)
                    continue
                with z.zip.open(f"c{i}.npy") as m:  # the header says the dtype; the data stays on disk
                    version = npy.read_magic(m)
                    header = (
                        npy.read_array_header_1_0(m) if version == (1, 0) else npy.read_array_header_2_0(m)
                    )
                out[name] = header[2]
            return out
    except Exception:
        return None  # no cache, an unreadable or foreign one: read_columns decides


def samples_of(cols: dict[str, Any]) -> dict[str, Any]:
    """What `column_samples` gives, from columns in memory."""
    return {
        k: next((v for v in c if v is not None), None) if c.dtype == object else c.dtype
        for k, c in cols.items()
    }


def read_columns(
    path: str | os.PathLike[str], cache: str | os.PathLike[str] | None = None
) -> tuple[dict[str, Any], int]:
    """All rows of a history file as flat numpy columns (missing cells NaN/None) and the row count,
    using and refreshing the column cache at `cache` (None: no cache)."""
    path = Path(path)
    try:
        with jsonl.open_read(path) as f:
            st = os.fstat(f.fileno())
            size, ino = st.st_size, st.st_ino
            head = f.read(_HEAD)
    except FileNotFoundError:
        return {}, 0
    cache_path = Path(cache) if cache is not None else None
    cols, nrows, offset = _load_cache(cache_path, head, size, ino) if cache_path is not None else ({}, 0, 0)
    # Parse in chunks so that only one chunk's row dicts are alive at a time (a 1M-row history would
    # otherwise hold a million dicts, ~2 GB, before the first column is built).
    parts: list[tuple[dict[str, Any], int]] = [(cols, nrows)] if nrows else []
    used_total, new_rows = 0, 0
    with jsonl.open_read(path) as f:
        f.seek(offset)
        rest = b""
        while True:
            chunk = f.read(PARSE_CHUNK)
            data = rest + chunk
            rows, used = _parse_block(data)
            rest = data[used:]
            used_total += used
            if rows:
                parts.append(({k: _to_array(v) for k, v in _columns(rows).items()}, len(rows)))
                new_rows += len(rows)
            del rows
            if not chunk:
                break
    if not parts:
        return {}, 0
    width = len({k for c, _ in parts for k in c})
    if width * (nrows + new_rows) > MAX_CELLS:
        raise WideHistory(_wide(width, nrows + new_rows, path))
    cols = _concat(parts)
    nrows += new_rows
    if cache_path is not None and nrows >= CACHE_MIN_ROWS and new_rows >= max(1000, nrows // 100):
        _save_cache(cache_path, cols, nrows, offset + used_total, head, ino)
    return cols, nrows


def _wide(columns: int, rows: int, path: str | os.PathLike[str] | None = None, more: bool = False) -> str:
    where = f"the history {os.fspath(path)}" if path is not None else "the history"
    return (
        f"{where} has {'more than ' if more else ''}{columns:,} columns over {rows:,} rows: too sparse "
        "and wide to load as one table "
        f"(limit {MAX_CELLS:,} cells); read the columns you need with history(keys=[...]), "
        "or every row with scan_history()"
    )
