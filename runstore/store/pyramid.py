"""Multi-resolution min/max pyramids of history metrics, for charts that zoom (a derived cache).

`api/_downsample.py` cuts a metric's points into N equal-count buckets in one O(n) pass per request; a
dashboard zooming over a million-point metric would pay that pass on every request. A pyramid pays it
once: per metric, over its points (rows where the metric and `_step` are finite numbers, in row order),
level k holds buckets of BASE*FAN**k consecutive points with the step of their first and last point and
their first, min, max and last value (a level's last bucket may be partial), up to the first level of at
most TOP buckets. A query over a step range takes the finest level whose buckets inside the range, plus
the two partial buckets at its edges, number at most the buckets asked for; the edges are computed from
the raw points, so a query costs O(buckets + one bucket's size), and every bucket's values are exactly
those of its points: a spike of one row shows at every zoom.

Points arrive only at the end (histories are append-only), so `extend` recomputes just the tail of each
level (the last, partial bucket onwards; level k+1 from level k) and equals a fresh build. The pyramids
of a history generation are kept in `RunRef.history_pyramid(name)` (see docs/FORMAT.md), which records,
like the column cache (store/history.py), the history bytes and rows it covers and the file's head and
inode; readers extend it as the history grows. A corrupt or foreign file is ignored and rebuilt.

The file holds the levels, not the points (those are the history's columns, cached by store/history.py:
twice on disk would double a run's disk use): per metric only the points of its last level-0 bucket,
which is what extending reads, or all of them for a metric of at most KEEP points in at most 1/SPARSE of
the rows (an eval metric: its full range is cut from its points, and it costs at most 1/SPARSE of its
column). A pyramid loaded from it answers a query over the whole range (the dashboard's first paint), and
any range whose edges fall in the points it holds, from the file alone; for other ranges `query` raises
`MissingPoints`, and `HistoryPyramids.query` reads the history's columns (once) and gives the pyramid
its points back from them (`Pyramid.attach`), which it then keeps.

This lives in the store layer, not next to `api/_downsample.py`, because the daemon builds the file and
the daemon may not import the api layer (the import-linter layers in pyproject.toml).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from . import jsonl
from .history import save_npz

BASE = 16  # points per bucket of level 0: a query's edge buckets are computed from at most this * FAN**k
FAN = 4  # buckets of level k per bucket of level k+1: a query returns between 1/FAN of what it asked and all
TOP = 256  # the last level has at most this many buckets
VERSION = 2  # 2: no points but the last level-0 bucket's (1 held every metric's points)
KEEP = 1 << 16  # a metric of at most this many points (server/read.py Charts.EXACT: its full range is
SPARSE = 16  # cut from its points) in at most 1/SPARSE of the rows keeps its points in the file
MIN_ROWS = 20_000  # below this a history's pyramids are built in memory faster than a file loads
_HEAD = 256  # bytes of the history's start kept in the file to notice a replaced history (as history.py)
STEP = "_step"
KEYS = ("x", "x_end", "first", "min", "max", "last", "count")


def numeric(arr: Any) -> Any:
    """A history column as float64, NaN where a cell is missing or not a number (bools included); what
    api/_downsample charts too."""
    import numpy as np

    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "O":
        return np.fromiter(
            (v if type(v) in (int, float) else np.nan for v in arr), dtype=np.float64, count=len(arr)
        )
    return np.full(len(arr), np.nan)


def _typed(arr: Any, num: Any) -> Any:
    """What a bucket reports for a column: its int64 values for an integer column (integer steps and
    integer metrics stay ints, as api/_downsample gives them), else the float reading `num`."""
    import numpy as np

    return arr.astype(np.int64, copy=False) if arr.dtype.kind == "i" else num


class MissingPoints(LookupError):
    """A query needs points that a pyramid loaded from its file does not hold (see `Pyramid.attach`)."""


def tail_start(points: int) -> int:
    """Index of the first point of the last level-0 bucket (0 when there are none)."""
    return max(0, (points - 1) // BASE * BASE)


def keeps(points: int, rows: int) -> bool:
    """Whether the file holds every point of a metric with `points` points in `rows` rows."""
    return points <= KEEP and points * SPARSE <= rows


def _points(steps: Any, values: Any | None) -> tuple[Any, Any]:
    """A metric's points (step, value) in history rows: their `_step` cells and its cells (None: none)."""
    import numpy as np

    k = len(steps)
    if values is None:
        v = vs = np.full(k, np.nan)
    else:
        v = numeric(values)
        vs = _typed(values, v)
    ok = np.isfinite(v)
    if steps.dtype.kind == "i":  # every step a finite integer (always, from read_columns): no copy
        xs = steps.astype(np.int64, copy=False)
    else:
        x = numeric(steps)
        xs = x
        ok &= np.isfinite(x)
    if not ok.all():
        idx = np.flatnonzero(ok)
        xs, vs = xs[idx], vs[idx]
    return xs, vs


def empty() -> dict[str, list[Any]]:
    return {k: [] for k in KEYS}


def _out(xf: Any, xl: Any, first: Any, mn: Any, mx: Any, last: Any, count: Any) -> dict[str, list[Any]]:
    return {
        "x": xf.tolist(),
        "x_end": xl.tolist(),
        "first": first.tolist(),
        "min": mn.tolist(),
        "max": mx.tolist(),
        "last": last.tolist(),
        "count": count.tolist(),
    }


def equal_count(x: Any, v: Any, buckets: int) -> dict[str, list[Any]]:
    """Points (x, v) cut into min(buckets, len) runs of equal count (±1): what api/_downsample gives."""
    import numpy as np

    m = len(v)
    if not m:
        return empty()
    n = min(buckets, m)
    starts = (np.arange(n, dtype=np.int64) * m) // n
    ends = np.append(starts[1:], m)
    return _out(
        x[starts],
        x[ends - 1],
        v[starts],
        np.minimum.reduceat(v, starts),
        np.maximum.reduceat(v, starts),
        v[ends - 1],
        ends - starts,
    )


class _Grow:
    """A numpy array growing at its end in amortized O(added) (the capacity doubles), rewritable from any
    index on (a level's partial last bucket is recomputed as points arrive). The first buffer may be the
    caller's array (a column, no copy); it has no spare capacity, so it is never written into."""

    __slots__ = ("buf", "n")

    def __init__(self, arr: Any) -> None:
        self.buf = arr
        self.n = len(arr)

    def get(self) -> Any:
        return self.buf[: self.n]

    def put(self, start: int, new: Any) -> None:
        """Everything from index `start` on becomes `new`."""
        import numpy as np

        end = start + len(new)
        if end > len(self.buf) or not self.buf.flags.writeable:
            buf = np.empty(max(end, 2 * len(self.buf), 64), dtype=self.buf.dtype)
            buf[:start] = self.buf[:start]
            self.buf = buf
        self.buf[start:end] = new
        self.n = end

    def as_float(self) -> None:
        import numpy as np

        if self.buf.dtype != np.float64:
            self.buf = self.get().astype(np.float64)


class Pyramid:
    """One metric's pyramid (see the module's docstring), fed the history's rows in order by `extend`.
    It holds its points from `off` on: all of them (`off` 0: built from the columns, or given them back
    by `attach`), or, loaded from its file, those of its last level-0 bucket, which extending reads."""

    def __init__(self) -> None:
        import numpy as np

        self.rows = 0  # history rows consumed; the points are those with a finite step and value
        self.size = -1  # history bytes these rows are known to cover (kept by HistoryPyramids)
        self.sorted = True  # steps never decrease (always, from the SDK): ranges are runs of points
        self.off = 0  # index of the first point held: 0 or tail_start(points)
        i64 = np.empty(0, dtype=np.int64)
        self.x = _Grow(i64)  # the points held: their steps and values
        self.v = _Grow(i64)
        # per level: x of first point, x of last point, first, min, max, last
        self.levels: list[list[_Grow]] = [[_Grow(i64) for _ in range(6)]]

    @property
    def points(self) -> int:
        return self.off + self.x.n

    @property
    def whole(self) -> bool:
        """Whether it holds every point (any query is answered from it alone)."""
        return self.off == 0

    def held(self) -> int:
        """What it holds in memory, counted in points: its points held (often the history's columns
        themselves, not a copy) and its buckets."""
        return self.x.n + sum(lev[0].n for lev in self.levels)

    def extend(self, steps: Any, values: Any | None) -> None:
        """Take the history's next rows: their `_step` cells and this metric's (None: it has none)."""
        if not len(steps):
            return
        xs, vs = _points(steps, values)
        self.rows += len(steps)
        self._append(xs, vs)

    def attach(self, steps: Any, values: Any | None) -> bool:
        """Hold every point again, from the history's columns of at least its rows (`_step` and this
        metric's, None: none), as the columns that extended it to them give them; False (nothing done)
        when they are not its points (another history: build it afresh from them)."""
        import numpy as np

        if steps is None:
            steps = np.empty(0, dtype=np.int64)
        if len(steps) < self.rows or (values is not None and len(values) < self.rows):
            return False
        xs, vs = _points(steps[: self.rows], None if values is None else values[: self.rows])
        if len(xs) != self.points:
            return False
        for name, got in (("x", xs), ("v", vs)):
            want = getattr(self, name).buf.dtype
            if got.dtype != want:
                if want != np.float64:
                    return False  # not this pyramid's points: float values where it holds ints
                got = got.astype(np.float64)  # as `_append` makes them float
            if not np.array_equal(got[self.off :], getattr(self, name).get()):
                return False
            setattr(self, name, _Grow(got))
        self.off = 0
        return True

    def _append(self, xs: Any, vs: Any) -> None:
        import numpy as np

        # A metric stays int64 while every value is an integer; one float makes all of it float64, as a
        # fresh read of the whole column would (its int64 values convert exactly as read_columns does).
        if xs.dtype.kind != "i" and self.x.buf.dtype.kind == "i":
            self.x.as_float()
            for lev in self.levels:
                lev[0].as_float()
                lev[1].as_float()
        elif xs.dtype.kind == "i" and self.x.buf.dtype.kind != "i":
            xs = xs.astype(np.float64)
        if vs.dtype.kind != "i" and self.v.buf.dtype.kind == "i":
            self.v.as_float()
            for lev in self.levels:
                for g in lev[2:]:
                    g.as_float()
        elif vs.dtype.kind == "i" and self.v.buf.dtype.kind != "i":
            vs = vs.astype(np.float64)
        if not len(xs):
            return
        old, held = self.points, self.x.n
        if self.sorted and ((held and xs[0] < self.x.buf[held - 1]) or bool((xs[1:] < xs[:-1]).any())):
            self.sorted = False
        if old == 0:
            self.x, self.v = _Grow(xs), _Grow(vs)  # borrowed: no copy of a dense column
        else:
            self.x.put(held, xs)
            self.v.put(held, vs)
        self._levels(old)
        start = tail_start(self.points)
        if self.off and start > self.off:  # it held the last bucket's points only: it still does
            cut = start - self.off
            self.x, self.v = _Grow(self.x.get()[cut:].copy()), _Grow(self.v.get()[cut:].copy())
            self.off = start

    def _levels(self, old: int) -> None:
        """Recompute every level from the bucket holding point `old` (the first new one) on."""
        import numpy as np

        m = self.x.n  # points held, from `off` on (the bucket of point `old` starts at or after it)
        x, v = self.x.get(), self.v.get()
        size, k = BASE, 0
        while True:
            if k == len(self.levels):  # the data outgrew the top level: a new one, all of it computed
                self.levels.append([_Grow(g.get()[:0].copy()) for g in self.levels[-1]])
                j0 = 0
            else:
                j0 = old // size
            lev = self.levels[k]
            if k == 0:
                lo, total = j0 * size - self.off, m
                starts = np.arange(lo, m, size)
                ends = np.minimum(starts + size, m)
                xf, xl, first, last = x[starts], x[ends - 1], v[starts], v[ends - 1]
                mins, maxs = v[lo:m], v[lo:m]
            else:
                prev = [g.get() for g in self.levels[k - 1]]
                lo, total = j0 * FAN, len(prev[0])
                starts = np.arange(lo, total, FAN)
                ends = np.minimum(starts + FAN, total)
                xf, xl, first, last = prev[0][starts], prev[1][ends - 1], prev[2][starts], prev[5][ends - 1]
                mins, maxs = prev[3][lo:total], prev[4][lo:total]
            if len(starts):
                rel = starts - lo
                new = (xf, xl, first, np.minimum.reduceat(mins, rel), np.maximum.reduceat(maxs, rel), last)
                for g, arr in zip(lev, new, strict=True):
                    g.put(j0, arr)
            if lev[0].n <= TOP:
                break
            k += 1
            size *= FAN
        del self.levels[k + 1 :]

    def _index(self, step: int | None, default: int) -> int:
        """Index of the first point at or after `step` (of the sorted points; None: `default`)."""
        import numpy as np

        if step is None:
            return default
        x = self.x.get()
        if self.whole:
            return int(np.searchsorted(x, step, "left"))
        if step <= self.levels[0][0].buf[0]:  # at or before the first point
            return 0
        if step > x[-1]:  # after the last
            return self.points
        if step > self.levels[0][1].buf[self.off // BASE - 1]:  # after the last point not held
            return self.off + int(np.searchsorted(x, step, "left"))
        raise MissingPoints(step)

    def query(
        self,
        min_step: int | None = None,
        max_step: int | None = None,
        buckets: int = 2000,
        exact: int = 0,
    ) -> dict[str, list[Any]]:
        """The points with `min_step <= x < max_step` in at most `buckets` buckets of consecutive points,
        as api/_downsample.downsample gives one metric. When there are at most max(buckets, `exact`) of
        them, they are cut into equal-count buckets from the raw points (each its own bucket when they
        fit): an O(points) pass that small is cheap, and short series keep as many buckets as asked.
        Raises MissingPoints when it needs points it does not hold (see the class): never for the whole
        range of more than max(buckets, `exact`) points in step order."""
        import numpy as np

        if buckets < 1:
            raise ValueError(f"buckets must be at least 1, got {buckets}")
        x, v, off, n = self.x.get(), self.v.get(), self.off, self.points
        if not self.sorted:  # steps that go back: the points in range are not one run of points
            if off:
                raise MissingPoints()
            keep = np.ones(len(x), dtype=bool)
            if min_step is not None:
                keep &= x >= min_step
            if max_step is not None:
                keep &= x < max_step
            idx = np.flatnonzero(keep)
            return equal_count(x[idx], v[idx], buckets)
        lo = self._index(min_step, 0)
        hi = max(lo, self._index(max_step, n))

        def held(i: int, j: int) -> tuple[Any, Any]:  # points i..j-1
            if i < off:
                raise MissingPoints(i)
            return x[i - off : j - off], v[i - off : j - off]

        if hi - lo <= max(buckets, exact):
            return equal_count(*held(lo, hi), buckets)
        # the finest level where the whole buckets inside [lo, hi) and the partial ones at its edges fit
        size = BASE
        for k in range(len(self.levels)):
            a, b = -(-lo // size), hi // size  # whole buckets a..b-1
            pieces = 1 if a >= b else (lo < a * size) + (b - a) + (b * size < hi)
            if pieces <= buckets or k == len(self.levels) - 1:
                break
            size *= FAN
        lev = [g.get() for g in self.levels[k]]
        parts: list[tuple[Any, ...]] = []

        def edge(i: int, j: int) -> None:  # one partial bucket: O(size)
            if j == n and i % size == 0 and j - i <= size:  # the level's last bucket: it is this one
                c = i // size
                parts.append(tuple(g[c : c + 1] for g in lev) + (np.array([j - i]),))
                return
            xs, seg = held(i, j)
            parts.append(
                (xs[:1], xs[-1:], seg[:1], seg.min(keepdims=True), seg.max(keepdims=True), seg[-1:])
                + (np.array([j - i]),)
            )

        if a >= b:
            edge(lo, hi)
        else:
            if lo < a * size:
                edge(lo, a * size)
            parts.append(tuple(g[a:b] for g in lev) + (np.full(b - a, size),))
            if b * size < hi:
                edge(b * size, hi)
        cols = [np.concatenate([p[i] for p in parts]) for i in range(7)]
        if len(cols[0]) > buckets:
            # fewer buckets asked than even the top level has here: join neighbouring ones (≤ TOP + 2)
            n = len(cols[0])
            starts = (np.arange(buckets, dtype=np.int64) * n) // buckets
            ends = np.append(starts[1:], n)
            cols = [
                cols[0][starts],
                cols[1][ends - 1],
                cols[2][starts],
                np.minimum.reduceat(cols[3], starts),
                np.maximum.reduceat(cols[4], starts),
                cols[5][ends - 1],
                np.add.reduceat(cols[6], starts),
            ]
        return _out(*cols)

    def arrays(self) -> dict[str, Any]:
        """Every array that makes the pyramid by name, to compare two: its levels, and the points of its
        last level-0 bucket (what extending reads; the others are the history's)."""
        cut = tail_start(self.points) - self.off
        out = {"x": self.x.get()[cut:], "v": self.v.get()[cut:]}
        for k, lev in enumerate(self.levels):
            for name, g in zip(("xf", "xl", "first", "min", "max", "last"), lev, strict=True):
                out[f"{k}.{name}"] = g.get()
        return out


def level_lengths(points: int) -> list[int]:
    """Buckets per level of a pyramid of `points` points (a pyramid's shape depends on nothing else)."""
    out, size = [], BASE
    while True:
        out.append(-(-points // size))
        if out[-1] <= TOP:
            return out
        size *= FAN


def build(steps: Any, values: Any | None) -> Pyramid:
    p = Pyramid()
    p.extend(steps, values)
    return p


# -- the file --------------------------------------------------------------------------------------------
def save(path: Path, pyramids: dict[str, Pyramid], rows: int, nbytes: int, head: bytes, ino: int) -> None:
    """Write the pyramids (all of `rows` rows, read from the first `nbytes` bytes or more of a history
    whose start is `head` and inode `ino`) to `path`, atomically; a read-only store just has no file.
    Each with the points of its last level-0 bucket, or all of them if it holds them and `keeps` says
    so (`prepare` gives them back to those that do not hold them)."""
    import numpy as np

    arrays: dict[str, Any] = {}
    metrics = []
    for i, (name, p) in enumerate(pyramids.items()):
        start = 0 if p.whole and keeps(p.points, rows) else tail_start(p.points)
        arrays[f"x{i}"] = p.x.get()[start - p.off :]
        arrays[f"v{i}"] = p.v.get()[start - p.off :]
        arrays[f"lx{i}"] = np.stack([np.concatenate([lev[j].get() for lev in p.levels]) for j in (0, 1)])
        arrays[f"lv{i}"] = np.stack(
            [np.concatenate([lev[j].get() for lev in p.levels]) for j in (2, 3, 4, 5)]
        )
        metrics.append([name, p.points, start, p.sorted])
    meta = {
        "version": VERSION,
        "base": BASE,
        "fan": FAN,
        "top": TOP,
        "rows": rows,
        "bytes": nbytes,
        "head": head.hex(),
        "ino": ino,
        "metrics": metrics,
    }
    arrays["__meta__"] = np.frombuffer(orjson.dumps(meta), dtype=np.uint8)
    save_npz(path, arrays)


class Loaded:
    """What a pyramid file held: its metrics' names, rows and bytes covered, and the pyramids read."""

    def __init__(self, names: list[str], rows: int, nbytes: int, pyramids: dict[str, Pyramid]) -> None:
        self.names, self.rows, self.nbytes, self.pyramids = names, rows, nbytes, pyramids


def load(path: Path, head: bytes, size: int, ino: int, names: Iterable[str] | None = None) -> Loaded | None:
    """The pyramids of `names` (None: all) in the file at `path`, if it is one for this history (its
    head and inode, no more bytes than it has); None for a missing, corrupt or foreign file."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as z:
            meta = orjson.loads(bytes(z["__meta__"]))
            if (
                meta.get("version") != VERSION
                or (meta.get("base"), meta.get("fan"), meta.get("top")) != (BASE, FAN, TOP)
                or meta.get("head") != head.hex()
                or meta.get("ino") != ino
                or not 0 <= meta["bytes"] <= size
            ):
                return None
            rows = int(meta["rows"])
            wanted = None if names is None else set(names)
            out: dict[str, Pyramid] = {}
            all_names = []
            for i, (name, points, start, ordered) in enumerate(meta["metrics"]):
                all_names.append(name)
                if wanted is not None and name not in wanted:
                    continue
                arrays = (z[f"x{i}"], z[f"v{i}"], z[f"lx{i}"], z[f"lv{i}"])
                p = _from_arrays(*arrays, int(points), int(start), rows, bool(ordered))
                if p is None:
                    return None
                p.size = int(meta["bytes"])
                out[str(name)] = p
            return Loaded(all_names, rows, int(meta["bytes"]), out)
    except Exception:
        return None  # unreadable or foreign: rebuilt from the source of truth


def _from_arrays(
    x: Any, v: Any, lx: Any, lv: Any, points: int, start: int, rows: int, ordered: bool
) -> Pyramid | None:
    """A pyramid from a file's arrays, or None when their shapes or types are not a pyramid's."""
    import numpy as np

    lengths = level_lengths(points)
    total = sum(lengths)
    ok = (
        x.dtype in (np.int64, np.float64)
        and v.dtype in (np.int64, np.float64)
        and 0 <= points <= rows
        and start in (0, tail_start(points))
        and x.shape == v.shape == (points - start,)
        and lx.dtype == x.dtype
        and lv.dtype == v.dtype
        and lx.shape == (2, total)
        and lv.shape == (4, total)
    )
    if not ok:
        return None
    p = Pyramid()
    p.rows, p.sorted, p.off = rows, ordered, start
    p.x, p.v = _Grow(x), _Grow(v)
    p.levels = []
    off = 0
    for n in lengths:
        p.levels.append(
            [_Grow(lx[j, off : off + n]) for j in (0, 1)] + [_Grow(lv[j, off : off + n]) for j in range(4)]
        )
        off += n
    return p


# -- one history's pyramids, kept current ---------------------------------------------------------------
def history_sig(path: Path) -> tuple[int, int, bytes] | None:
    """(size, inode, first bytes) of a history file, None if there is none."""
    try:
        with jsonl.open_read(path) as f:
            st = os.fstat(f.fileno())
            return st.st_size, st.st_ino, f.read(_HEAD)
    except FileNotFoundError:
        return None


Columns = Callable[[], tuple[dict[str, Any], int]]


def current(key: str, p: Pyramid, cols: dict[str, Any], n: int, size: int) -> Pyramid:
    """`p` (the pyramid of column `key`) extended to the `n` rows of the history columns `cols`, read
    from `size` bytes or more of it; a new one when `p` has more rows than that (not of this history)."""
    if p.rows > n:
        p = Pyramid()
    steps = cols.get(STEP)
    if steps is not None and p.rows < n:
        col = cols.get(key)
        p.extend(steps[p.rows : n], None if col is None else col[p.rows : n])
    p.rows = max(p.rows, n)  # no step column (no rows): no points, still every row read
    p.size = size
    return p


def whole(key: str, p: Pyramid, cols: dict[str, Any], n: int) -> Pyramid:
    """`p` current with the history columns `cols` of `n` rows, holding every point (given back from
    them: `Pyramid.attach`); built afresh from them when they are not its history's."""
    p = current(key, p, cols, n, p.size)
    if not p.whole and not p.attach(cols.get(STEP), cols.get(key)):
        p = current(key, Pyramid(), cols, n, p.size)
    return p


def prepare(pyramids: dict[str, Pyramid], cols: dict[str, Any], n: int) -> None:
    """Give their points back to the pyramids (current with the `n` rows of `cols`) whose file holds
    them all (`keeps`), before `save`."""
    for k, p in pyramids.items():
        if not p.whole and keeps(p.points, n):
            pyramids[k] = whole(k, p, cols, n)


def _once(columns: Columns) -> Columns:
    got: list[tuple[dict[str, Any], int]] = []

    def read() -> tuple[dict[str, Any], int]:
        if not got:
            got.append(columns())
        return got[0]

    return read


class HistoryPyramids:
    """The pyramids of one history generation's metrics that were asked for, kept current with the file:
    loaded from `cache` (the derived file) when it has them, extended from the history's columns when it
    grew, and written back when they cover enough more than the file does."""

    def __init__(self, history: Path, cache: Path | None) -> None:
        self.history, self.cache = history, cache
        self.ino, self.head = -1, b""
        self.held: dict[str, Pyramid] = {}
        self.absent: dict[str, int] = {}  # keys with no column, as of a history size
        self.file: tuple[int, frozenset[str]] | None = None  # rows and metrics of the file, as last seen

    def points(self) -> int:
        """What the pyramids held take in memory, in points (`Pyramid.held`)."""
        return sum(p.held() for p in self.held.values())

    def query(
        self,
        keys: list[str],
        columns: Columns,
        min_step: int | None = None,
        max_step: int | None = None,
        buckets: int = 2000,
        exact: int = 0,
    ) -> dict[str, dict[str, list[Any]]]:
        """`Pyramid.query` of the pyramid of every key of `keys` that has a column (see `get`). The
        columns are read, once, only if a pyramid must be built or extended, or needs its points."""
        read = _once(columns)
        got = self.get(keys, read)
        out = {}
        for k, p in got.items():
            try:
                out[k] = p.query(min_step, max_step, buckets, exact)
            except MissingPoints:
                cols, n = read()
                p = self.held[k] = whole(k, p, cols, n)
                out[k] = p.query(min_step, max_step, buckets, exact)
        return out

    def get(self, keys: list[str], columns: Columns) -> dict[str, Pyramid]:
        """The pyramids of `keys` (those with a column), current with the history file. `columns` gives
        the history's columns and rows (store/history.read_columns), read after this call looked at the
        file; it is called only when a pyramid must be built or extended."""
        sig = history_sig(self.history)
        if sig is None:
            self.held.clear()
            self.absent.clear()
            return {}
        size, ino, head = sig
        if (ino, head) != (self.ino, self.head):  # a new or replaced history: nothing held is of it
            self.held.clear()
            self.absent.clear()
            self.file = None
            self.ino, self.head = ino, head
        want = [k for k in dict.fromkeys(keys) if k not in self.held and self.absent.get(k) != size]
        if want and self.cache is not None:
            got = load(self.cache, head, size, ino, want)
            if got is not None:
                self.file = (got.rows, frozenset(got.names))
                self.held.update(got.pyramids)
        stale = [k for k in dict.fromkeys(keys) if k in self.held and self.held[k].size < size]
        missing = [k for k in want if k not in self.held]
        if stale or missing:
            cols, n = columns()
            for k in stale:
                self.held[k] = current(k, self.held[k], cols, n, size)
            for k in missing:
                if k in cols:
                    self.held[k] = current(k, Pyramid(), cols, n, size)
                else:
                    self.absent[k] = size
            self._maybe_save(cols, n, size)
        return {k: self.held[k] for k in keys if k in self.held}

    def _maybe_save(self, cols: dict[str, Any], n: int, size: int) -> None:
        """Write the file when it would cover 1% more rows (and 1000) than it does, or metrics it lacks,
        as store/history.py does for the column cache; the metrics already in it are kept."""
        if self.cache is None or n < MIN_ROWS:
            return
        if self.file is None:
            got = load(self.cache, self.head, size, self.ino, ())
            self.file = (got.rows, frozenset(got.names)) if got is not None else (0, frozenset())
        rows, names = self.file
        if rows + max(1000, n // 100) > n and names >= self.held.keys():
            return
        out = {k: current(k, p, cols, n, size) for k, p in self.held.items()}
        prepare(out, cols, n)
        self.held.update(out)
        others = [k for k in names if k not in out]
        got = load(self.cache, self.head, size, self.ino, others) if others else None
        if got is not None:
            rest = {k: current(k, p, cols, n, size) for k, p in got.pyramids.items()}
            prepare(rest, cols, n)
            out.update(rest)  # written current, then let go (no one asked for them)
        save(self.cache, out, n, size, self.head, self.ino)
        self.file = (n, frozenset(out))


def build_file(history: Path, cache: Path, columns: Columns, keys: list[str] | None = None) -> bool:
    """Build or extend the pyramid file of a history for `keys` (None: every numeric column but the
    underscored ones, which charts seldom draw); whether there was a history. For the daemon."""
    sig = history_sig(history)
    if sig is None:
        return False
    size, ino, head = sig
    got = load(cache, head, size, ino)
    if got is not None and got.nbytes == size and (keys is None or set(keys) <= set(got.names)):
        return True  # the file is current
    cols, n = columns()
    held = got.pyramids if got is not None else {}
    if keys is None:
        keys = [k for k in cols if not k.startswith("_") and _has_numbers(cols[k])]
    names = [k for k in dict.fromkeys([*held, *keys]) if k in cols]
    out = {k: current(k, held.get(k) or Pyramid(), cols, n, size) for k in names}
    prepare(out, cols, n)
    save(cache, out, n, size, head, ino)
    return True


def _has_numbers(col: Any) -> bool:
    import numpy as np

    if col.dtype.kind in "iu":
        return len(col) > 0
    if col.dtype.kind in "fO":
        return bool(np.isfinite(numeric(col)).any())
    return False


__all__ = [
    "Pyramid",
    "HistoryPyramids",
    "MissingPoints",
    "build",
    "build_file",
    "save",
    "load",
    "keeps",
    "level_lengths",
    "equal_count",
]
