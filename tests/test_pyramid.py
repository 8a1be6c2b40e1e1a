"""Chart pyramids (runstore/store/pyramid.py): every bucket a query returns is exactly its points' first,
min, max and last, the buckets partition the points in range, a one-row spike shows at every zoom,
extending equals building afresh, and the derived file round-trips, is rebuilt when corrupt or foreign,
and is never mixed with another history. Also the server's `Charts`, which answers from them."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runstore
from runstore.api import Api
from runstore.api._downsample import downsample as downsample_columns
from runstore.server.read import Charts, Columns
from runstore.store import history as H
from runstore.store import jsonl
from runstore.store import pyramid as P
from runstore.store.history import read_columns
from runstore.store.store import Store


@contextmanager
def shape(base: int, fan: int, top: int) -> Iterator[None]:
    """Small levels, so that a few hundred points already make a pyramid of many levels."""
    old = P.BASE, P.FAN, P.TOP
    P.BASE, P.FAN, P.TOP = base, fan, top
    try:
        yield
    finally:
        P.BASE, P.FAN, P.TOP = old


def column(cells: list[Any]) -> Any:
    """A column as store/history.read_columns makes one (None: a missing cell)."""
    types = set(map(type, cells))
    if types <= {int}:
        return np.array(cells, dtype=np.int64)
    if types <= {int, float, type(None)} and types & {int, float}:
        return np.array([np.nan if c is None else c for c in cells], dtype=np.float64)
    arr = np.empty(len(cells), dtype=object)
    arr[:] = cells
    return arr


def points(steps: list[int], cells: list[Any], lo: int | None, hi: int | None) -> list[tuple[int, Any]]:
    """The metric's points in range, straight from the cells: (step, value) in row order."""
    out = []
    for s, c in zip(steps, cells, strict=True):
        if (
            type(c) in (int, float)
            and math.isfinite(c)
            and (lo is None or s >= lo)
            and (hi is None or s < hi)
        ):
            out.append((s, c))
    return out


def check(got: dict[str, list[Any]], pts: list[tuple[int, Any]], buckets: int, ints: bool) -> None:
    assert set(got) == set(P.KEYS) and len({len(v) for v in got.values()}) == 1
    assert len(got["x"]) <= buckets
    if len(pts) <= buckets:
        assert got["count"] == [1] * len(pts)  # every point its own bucket
    pos = 0
    for i, c in enumerate(got["count"]):
        assert c >= 1
        seg = pts[pos : pos + c]
        pos += c
        vals = [v for _, v in seg]
        assert got["x"][i] == seg[0][0] and got["x_end"][i] == seg[-1][0]
        assert got["first"][i] == vals[0] and got["last"][i] == vals[-1]
        assert got["min"][i] == min(vals) and got["max"][i] == max(vals)
        assert type(got["x"][i]) is int and type(got["x_end"][i]) is int  # integer steps stay ints
        if ints:
            assert all(type(got[k][i]) is int for k in ("first", "min", "max", "last"))
    assert pos == len(pts)  # the buckets are exactly the points in range, in order


CELLS = st.one_of(
    st.integers(-1000, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.sampled_from([1e300, -1e300, float("nan"), float("inf"), -float("inf"), "text", True]),
)


@st.composite
def series(draw: Any) -> tuple[list[int], list[Any]]:
    n = draw(st.integers(0, 400))
    kind = draw(st.sampled_from(["int", "float", "mixed"]))
    if kind == "int":
        cells: list[Any] = draw(st.lists(st.integers(-(10**9), 10**9), min_size=n, max_size=n))
    elif kind == "float":
        cells = draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.none()), min_size=n, max_size=n))
    else:
        cells = draw(st.lists(CELLS, min_size=n, max_size=n))
    if cells and draw(st.booleans()):
        cells[draw(st.integers(0, n - 1))] = 1e12  # a one-row spike
    gaps = draw(st.lists(st.sampled_from([0, 1, 1, 1, 2, 1000]), min_size=n, max_size=n))
    steps = list(np.cumsum(gaps).tolist()) if n else []
    if n > 2 and draw(st.integers(0, 9)) == 0:  # steps that go back (never from the SDK; still right)
        steps[draw(st.integers(0, n - 1))] = -5
    return steps, cells


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=series(),
    levels=st.tuples(st.integers(1, 4), st.integers(2, 4), st.integers(1, 6)),
    buckets=st.integers(1, 40),
    lo=st.one_of(st.none(), st.integers(-10, 3000)),
    width=st.one_of(st.none(), st.integers(0, 3000)),
    exact=st.sampled_from([0, 0, 50]),
)
def test_every_bucket_is_exactly_its_points(
    data: tuple[list[int], list[Any]],
    levels: tuple[int, int, int],
    buckets: int,
    lo: int | None,
    width: int | None,
    exact: int,
) -> None:
    steps, cells = data
    hi = None if width is None else (lo or 0) + width
    col = column(cells)
    with shape(*levels):
        p = P.build(np.array(steps, dtype=np.int64), col)
        got = p.query(lo, hi, buckets, exact)
    check(got, points(steps, cells, lo, hi), buckets, col.dtype.kind == "i")


def test_a_one_row_spike_survives_every_zoom() -> None:
    n = 300_000
    rng = np.random.default_rng(7)
    steps = np.arange(n, dtype=np.int64) * 2
    v = rng.normal(size=n)
    v[rng.random(n) < 0.05] = np.nan  # rows without the metric
    spike = 123_457
    v[spike] = 1e6
    p = P.build(steps, v)
    assert len(p.levels) > 3
    for width in (n * 2, n, n // 10, n // 100, 5000, 300, 40, 3):
        for buckets in (1, 2, 7, 100, 2000):
            lo = int(steps[spike]) - width // 3
            got = p.query(lo, lo + width, buckets)
            assert 1 <= len(got["max"]) <= buckets
            i = int(np.argmax(got["max"]))
            assert got["max"][i] == 1e6 and got["x"][i] <= steps[spike] <= got["x_end"][i], (width, buckets)
    full = p.query(None, None, 2000)
    assert len(full["x"]) <= 2000 and sum(full["count"]) == int(np.isfinite(v).sum())


def same(a: P.Pyramid, b: P.Pyramid) -> None:
    assert (a.rows, a.points, a.sorted, len(a.levels)) == (b.rows, b.points, b.sorted, len(b.levels))
    x, y = a.arrays(), b.arrays()
    assert x.keys() == y.keys()
    for k in x:
        assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), k
    if a.whole and b.whole:  # and every point, when both hold them (arrays() has the last bucket's)
        for g, h in ((a.x, b.x), (a.v, b.v)):
            assert g.get().dtype == h.get().dtype and np.array_equal(g.get(), h.get())


def reloaded(p: P.Pyramid, keep: bool = False) -> P.Pyramid:
    """`p` written to a pyramid file and read back, its points kept in the file or not (`P.keeps`)."""
    old = P.KEEP, P.SPARSE
    P.KEEP, P.SPARSE = (10**9, 1) if keep else (-1, 1)
    try:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "p.npz"
            P.save(path, {"m": p}, p.rows, 10, b"head", 1)
            got = P.load(path, b"head", 10, 1)
    finally:
        P.KEEP, P.SPARSE = old
    assert got is not None
    return got.pyramids["m"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=series(),
    levels=st.tuples(st.integers(1, 4), st.integers(2, 4), st.integers(1, 6)),
    cuts=st.lists(st.integers(0, 400), max_size=12),
)
def test_extending_in_random_pieces_equals_a_fresh_build(
    data: tuple[list[int], list[Any]], levels: tuple[int, int, int], cuts: list[int]
) -> None:
    """As a growing history is read again and again: each read's columns (their types may change as
    later rows arrive, int to float to object), the pyramid extended by the rows after the last read."""
    steps, cells = data
    n = len(steps)
    x = np.array(steps, dtype=np.int64)
    with shape(*levels):
        fresh = P.build(x, column(cells))
        grown = P.Pyramid()
        for c in [*sorted(min(c, n) for c in cuts), n]:
            read = column(cells[:c])
            grown.extend(x[grown.rows : c], read[grown.rows : c])
        same(grown, fresh)
        for lo, hi, b in [(None, None, 5), (3, 200, 2), (10, None, 17)]:
            assert grown.query(lo, hi, b) == fresh.query(lo, hi, b)
        # the same from the file between reads: extended from the points of its last bucket only
        grown = P.Pyramid()
        for c in [*sorted(min(c, n) for c in cuts), n]:
            read = column(cells[:c])
            grown = reloaded(grown)  # no points kept in the file: those of the last bucket
            assert grown.points <= P.BASE or not grown.whole
            grown.extend(x[grown.rows : c], read[grown.rows : c])
        same(grown, fresh)
        assert grown.attach(x, column(cells)) and grown.whole
        same(grown, fresh)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=series(),
    levels=st.tuples(st.integers(1, 4), st.integers(2, 4), st.integers(1, 6)),
    buckets=st.integers(1, 40),
    lo=st.one_of(st.none(), st.integers(-10, 3000)),
    width=st.one_of(st.none(), st.integers(0, 3000)),
    exact=st.sampled_from([0, 0, 50]),
    kept=st.booleans(),
)
def test_a_pyramid_read_from_its_file_answers_as_built_or_asks_for_its_points(
    data: tuple[list[int], list[Any]],
    levels: tuple[int, int, int],
    buckets: int,
    lo: int | None,
    width: int | None,
    exact: int,
    kept: bool,
) -> None:
    """The file holds levels (and the last bucket's points, or all of a small sparse metric's): a query
    is the built pyramid's answer, or MissingPoints; never for the whole range of more than max(buckets,
    exact) points in step order; once given its points back, every answer is the built one's."""
    steps, cells = data
    hi = None if width is None else (lo or 0) + width
    col = column(cells)
    x = np.array(steps, dtype=np.int64)
    with shape(*levels):
        built = P.build(x, col)
        loaded = reloaded(built, kept)
        assert loaded.whole == (built.points <= P.BASE or kept)
        same(loaded, built)
        want = built.query(lo, hi, buckets, exact)
        try:
            assert loaded.query(lo, hi, buckets, exact) == want
        except P.MissingPoints:
            assert not loaded.whole
        if built.sorted and built.points > max(buckets, exact):
            assert loaded.query(None, None, buckets, exact) == built.query(None, None, buckets, exact)
        assert loaded.attach(x, col) and loaded.whole
        same(loaded, built)
        assert loaded.query(lo, hi, buckets, exact) == want
        if built.points:  # not its points: another history's (left as it was)
            other = reloaded(built)
            assert not other.attach(x[:-1], col[:-1]) and other.whole == (built.points <= P.BASE)


# -- the file --------------------------------------------------------------------------------------------
def rows(start: int, n: int) -> list[dict[str, Any]]:
    out = []
    for s in range(start, start + n):
        row: dict[str, Any] = {"_step": s, "loss": 1.0 / (s + 1) if s % 7 else float("nan"), "acc": s % 13}
        if s % 100 == 0:
            row["rare"] = -s
        out.append(row)
    return out


def append(path: Path, new: list[dict[str, Any]]) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(jsonl.encode(r) + b"\n" for r in new))


class Reader:
    """A history's columns, counted (a pyramid that is current must not read them)."""

    def __init__(self, path: Path, cache: Path) -> None:
        self.path, self.cache, self.calls = path, cache, 0

    def __call__(self) -> tuple[dict[str, Any], int]:
        self.calls += 1
        return read_columns(self.path, self.cache)


def boom() -> tuple[dict[str, Any], int]:
    raise AssertionError("the pyramid file was current: no columns should be read")


@pytest.fixture
def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Reader]:
    monkeypatch.setattr(P, "MIN_ROWS", 100)  # a file for small histories too
    ref = Store(tmp_path / ".wandb").run("p", "r")
    ref.path.mkdir(parents=True)
    hist = ref.history_file()
    append(hist, rows(0, 3000))
    return hist, ref.history_pyramid(), Reader(hist, ref.history_cache())


def fresh(read: Reader, key: str) -> P.Pyramid:
    cols, n = read_columns(read.path)
    return P.build(cols["_step"], cols[key])


KEYS = ["loss", "acc", "rare"]


def test_the_file_round_trips_and_is_extended_as_the_history_grows(
    history: tuple[Path, Path, Reader],
) -> None:
    hist, cache, read = history
    got = P.HistoryPyramids(hist, cache).get([*KEYS, "nope"], read)
    assert set(got) == set(KEYS) and read.calls == 1 and cache.exists()
    assert got["acc"].v.get().dtype == np.int64 and got["rare"].points == 30
    # another reader (a server restarted, another worker) loads the file: no columns read for the
    # whole range; a zoom reads them (once) for the points at its edges, which the file does not hold
    hp = P.HistoryPyramids(hist, cache)
    again = hp.get(KEYS, boom)
    for k in KEYS:
        same(again[k], got[k])
        assert again[k].whole == (k == "rare")  # 30 points in 3000 rows: kept in the file
    assert hp.query(KEYS, boom, buckets=50) == {k: got[k].query(None, None, 50) for k in KEYS}
    assert hp.query(KEYS, read, 100, 2500, 50) == {k: got[k].query(100, 2500, 50) for k in KEYS}
    assert read.calls == 2 and all(p.whole for p in hp.get(KEYS, boom).values())
    assert hp.query(KEYS, boom, 7, 2900, 50) == {k: got[k].query(7, 2900, 50) for k in KEYS}
    read.calls = 1
    # the history grows: the pyramids are extended from the new rows, as if built afresh
    append(hist, rows(3000, 1500))
    hp = P.HistoryPyramids(hist, cache)
    grown = hp.get(["loss"], read)
    same(grown["loss"], fresh(read, "loss"))
    assert read.calls == 2
    # written back (1500 rows more than the file had), with the metrics no one asked for extended too
    for k in KEYS:
        same(P.HistoryPyramids(hist, cache).get([k], boom)[k], fresh(read, k))
    # a reader that holds them extends them in memory as the file grows, and answers from them
    append(hist, rows(4500, 10))
    assert hp.get(["loss"], read)["loss"].rows == 4510 and read.calls == 3
    assert hp.get(["loss"], boom)["loss"].rows == 4510  # unchanged file: nothing read


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign", "empty", "other-version", "version-1"])
def test_a_corrupt_or_foreign_file_is_ignored_and_rebuilt(
    history: tuple[Path, Path, Reader], damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    hist, cache, read = history
    P.HistoryPyramids(hist, cache).get(KEYS, read)
    data = cache.read_bytes()
    if damage == "garbage":
        cache.write_bytes(os.urandom(len(data)))
    elif damage == "truncated":
        cache.write_bytes(data[: len(data) // 2])
    elif damage == "foreign":  # a valid .npz, but not a pyramid: the column cache
        monkeypatch.setattr(H, "CACHE_MIN_ROWS", 100)
        read_columns(hist, read.cache)
        shutil.copy(read.cache, cache)
    elif damage == "empty":
        cache.write_bytes(b"")
    elif damage == "version-1":  # every point in the file: its arrays are not read as the levels
        with np.load(cache) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(bytes(arrays["__meta__"]))
        meta["version"] = 1
        arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        np.savez(cache.open("wb"), **arrays)
    else:
        np.savez(cache.open("wb"), __meta__=np.frombuffer(b'{"version": 99}', dtype=np.uint8))
    got = P.HistoryPyramids(hist, cache).get(KEYS, read)
    assert read.calls == 2  # rebuilt from the history
    for k in KEYS:
        same(got[k], fresh(read, k))
    assert P.HistoryPyramids(hist, cache).get(KEYS, boom).keys() == set(KEYS)  # and written again


def test_a_history_replaced_under_its_name_is_not_mixed(history: tuple[Path, Path, Reader]) -> None:
    """Format 1's rewind replaced history.jsonl: same start, same size, new inode, other values."""
    hist, cache, read = history
    hp = P.HistoryPyramids(hist, cache)
    assert hp.get(["acc"], read)["acc"].query(None, None, 1)["max"] == [12]
    text = hist.read_bytes()
    tmp = hist.with_name("replacement")
    tmp.write_bytes(text[:1000] + text[1000:].replace(b'"acc":12', b'"acc":99'))
    os.replace(tmp, hist)
    for reader in (hp, P.HistoryPyramids(hist, cache)):
        assert reader.get(["acc"], read)["acc"].query(None, None, 1)["max"] == [99]


def test_a_rewound_run_charts_its_new_generation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(P, "MIN_ROWS", 10)
    run = runstore.init(project="p")
    for s in range(300):
        run.log({"loss": 1.0 + s})
    run.finish(quiet=True)
    charts = Charts()
    first = charts.downsample(Api().run(f"p/{run.id}"), ["loss"], 1000)["loss"]
    assert sum(first["count"]) == 300 and run._ref.history_pyramid().exists()
    again = runstore.init(project="p", resume_from=f"{run.id}?_step=99")
    for _ in range(50):
        again.log({"loss": -1.0})
    again.finish(quiet=True)
    r = Api().run(f"p/{run.id}")
    assert r._st.history_name != "history.jsonl"
    for c in (charts, Charts()):
        got = c.downsample(r, ["loss"], 1000)["loss"]
        assert got["x"] == list(range(150)) and got["min"] == [1.0 + s for s in range(100)] + [-1.0] * 50
    assert r._st.ref.history_pyramid(r._st.history_name).exists()


# -- the server's charts -----------------------------------------------------------------------------------
def test_charts_answer_small_histories_as_the_columns_did() -> None:
    run = runstore.init(project="p")
    for s in range(400):
        row: dict[str, Any] = {"loss": 1.0 / (s + 1), "acc": s % 17, "nested": {"x": s * 0.5}}
        if s % 9 == 0:
            row["rare"] = float("nan") if s % 27 == 0 else s
        if s == 233:
            row["loss"] = 1e9
        run.log(row, step=s * 3 + (s % 2))
    run.finish(quiet=True)
    r = Api().run(f"p/{run.id}")
    cols, n = read_columns(r._st.history_path)
    charts = Charts()
    keys = ["loss", "acc", "rare", "nested.x", "missing"]
    for buckets in (1, 3, 50, 400, 2000):
        for lo, hi in [(None, None), (30, 900), (None, 10), (5000, None), (7, 8)]:
            got = charts.downsample(r, keys, buckets, "_step", lo, hi)
            assert got == downsample_columns(cols, n, keys, buckets, "_step", lo, hi), (buckets, lo, hi)
    assert charts.downsample(r, ["loss"], 10, "acc") == downsample_columns(cols, n, ["loss"], 10, "acc")
    both = charts.downsample(r, ["_runtime", "loss"], 10)
    assert (
        list(both) == ["_runtime", "loss"] and both["_runtime"] == r.downsample(["_runtime"], 10)["_runtime"]
    )
    with pytest.raises(ValueError):
        charts.downsample(r, ["loss"], 0)


def test_charts_of_a_long_history_read_at_most_the_buckets_asked_for(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    run.log({"loss": 0.0})
    run.finish(quiet=True)
    hist = run._ref.history_file()
    n = 200_000
    vals = np.sin(np.arange(n) / 1000.0)
    vals[150_001] = 50.0
    with open(hist, "ab") as f:
        f.write(b"".join(b'{"_step":%d,"loss":%r}\n' % (s, float(vals[s - 1])) for s in range(1, n + 1)))
    r = Api().run(f"p/{run.id}")
    charts = Charts()
    allv = np.concatenate([[0.0], vals])
    for lo, hi, buckets in [(None, None, 2000), (150_000, 150_100, 10), (100_000, 190_000, 500), (0, n, 3)]:
        got = charts.downsample(r, ["loss"], buckets, "_step", lo, hi)["loss"]
        steps = list(range(lo or 0, min(hi or n + 1, n + 1)))
        check(got, [(s, float(allv[s])) for s in steps], buckets, False)
        assert max(got["max"]) == 50.0
    assert run._ref.history_pyramid().exists()


def test_charts_keep_at_most_their_budget_of_points() -> None:
    ids = []
    for _ in range(3):
        run = runstore.init(project="p")
        for s in range(400):
            run.log({"loss": float(s)})
        run.finish(quiet=True)
        ids.append(run.id)
    charts = Charts(budget=1000)
    for rid in ids:
        assert sum(charts.downsample(Api().run(f"p/{rid}"), ["loss"], 10)["loss"]["count"]) == 400
    assert len(charts._items) == 2  # the least recently charted history was let go
    small = Charts(budget=100)
    assert sum(small.downsample(Api().run(f"p/{ids[0]}"), ["loss"], 10)["loss"]["count"]) == 400
    assert not small._items  # one history alone over the budget is answered, not kept


def test_charts_read_a_finished_runs_whole_range_from_the_file_and_zooms_from_the_columns() -> None:
    """The dashboard's first paint of a long finished run reads no columns (the daemon built the file);
    a zoom reads them once, for every metric; the answers are those of pyramids built from the columns."""
    run = runstore.init(project="p")
    run.log({"loss": 0.0, "acc": 0})
    run.finish(quiet=True)
    hist = run._ref.history_file()
    n = Charts.EXACT + 5000  # more points than the exact path cuts from the points
    with open(hist, "ab") as f:
        f.write(
            b"".join(
                b'{"_step":%d,"loss":%r,"acc":%d%s}\n'
                % (s, math.sin(s / 100), s % 11, b',"eval":%d' % -s if s % 1000 == 0 else b"")
                for s in range(1, n)
            )
        )
    assert P.build_file(hist, run._ref.history_pyramid(), lambda: read_columns(hist))
    loaded = P.load(run._ref.history_pyramid(), *_sig(hist))
    assert loaded is not None and sorted(loaded.names) == ["acc", "eval", "loss"]
    assert [p.whole for p in (loaded.pyramids[k] for k in ("acc", "eval", "loss"))] == [False, True, False]
    r = Api().run(f"p/{run.id}")
    cols, _ = read_columns(hist)
    keys = ["loss", "acc", "eval"]

    class Counted(Columns):
        calls = 0

        def get(self, st: Any) -> tuple[dict[str, Any], int]:
            self.calls += 1
            return super().get(st)

    built = {k: P.build(cols["_step"], cols[k]) for k in keys}  # as charts built them before the file

    def want(lo: int | None, hi: int | None, buckets: int) -> dict[str, Any]:
        return {k: built[k].query(lo, hi, buckets, Charts.EXACT) for k in keys}

    charts = Charts(Counted())
    for buckets in (1, 999, 2000):
        assert charts.downsample(r, keys, buckets) == want(None, None, buckets)
    assert charts.columns.calls == 0  # eval: 70 points, kept in the file (exact: from its points)
    for lo, hi in [(1000, 60_000), (7, 9), (n - 10, None), (None, 20_000)]:
        assert charts.downsample(r, keys, 500, "_step", lo, hi) == want(lo, hi, 500), (lo, hi)
    assert charts.columns.calls == 1  # the first zoom gave the pyramids their points; they keep them


def _sig(hist: Path) -> tuple[bytes, int, int]:
    sig = P.history_sig(hist)
    assert sig is not None
    return sig[2], sig[0], sig[1]
