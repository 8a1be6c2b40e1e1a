"""The JSON-lines layer: torn tails, sealing, non-finite floats, undecodable lines."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from runstore.store import jsonl
from runstore.store.history import iter_rows
from runstore.store.runs import last_step


def test_torn_last_line_is_skipped(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":2}\n{"a":3')
    records, end = jsonl.read(p)
    assert records == [{"a": 1}, {"a": 2}]
    assert end == len(b'{"a":1}\n{"a":2}\n')
    h = tmp_path / "history.jsonl"
    h.write_bytes(b'{"_step":0}\n{"_step":1}\n{"_step":2')
    assert list(iter_rows(h)) == [{"_step": 0}, {"_step": 1}]


def test_torn_line_that_happens_to_parse_is_still_skipped(tmp_path):
    # `{"a":3}` without its newline is valid JSON, but a line only counts once its newline is on disk
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":3}')
    assert jsonl.read(p)[0] == [{"a": 1}]
    h = tmp_path / "history.jsonl"
    h.write_bytes(b'{"_step":0}\n{"_step":1}')
    assert list(iter_rows(h)) == [{"_step": 0}]


def test_read_from_offset_resumes_after_torn_tail(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":')
    recs, off = jsonl.read(p)
    assert recs == [{"a": 1}]
    with open(p, "ab") as f:
        f.write(b'2}\n{"a":3}\n')
    recs2, off2 = jsonl.read(p, off)
    assert recs2 == [{"a": 2}, {"a": 3}]
    assert off2 == p.stat().st_size


def test_open_append_seals_torn_tail_so_next_record_survives(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"a":1}\n{"a":2')  # a writer died mid-record
    fd = jsonl.open_append(p)
    try:
        jsonl.write_all(fd, jsonl.encode({"a": 3}))
    finally:
        os.close(fd)
    assert jsonl.read(p)[0] == [{"a": 1}, {"a": 3}]
    h = tmp_path / "history.jsonl"
    h.write_bytes(b'{"_step":0}\n{"_step":1')
    fd = jsonl.open_append(h)
    try:
        jsonl.write_all(fd, jsonl.encode({"_step": 2}))
    finally:
        os.close(fd)
    assert list(iter_rows(h)) == [{"_step": 0}, {"_step": 2}]


def test_open_append_does_not_add_blank_lines_to_a_clean_file(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"a":1}\n')
    fd = jsonl.open_append(p)
    os.close(fd)
    assert p.read_bytes() == b'{"a":1}\n'
    jsonl.append(p, {"a": 2})
    assert p.read_bytes() == b'{"a":1}\n{"a":2}\n'


def test_append_helper_seals_too(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_bytes(b'{"t":"init"}\n{"t":"conf')
    jsonl.append(p, {"t": "exit", "code": 0})
    assert jsonl.read(p)[0] == [{"t": "init"}, {"t": "exit", "code": 0}]


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf])
def test_nonfinite_floats_round_trip_exactly(tmp_path, x):
    obj = {"v": x, "nested": {"w": x}, "lst": [1.5, x], "ok": 2.0}
    line = jsonl.encode(obj)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert b"null" not in line
    back = jsonl.decode(line)
    for got in (back["v"], back["nested"]["w"], back["lst"][1]):
        assert isinstance(got, float)
        if math.isnan(x):
            assert math.isnan(got)
        else:
            assert got == x
    assert back["ok"] == 2.0 and back["lst"][0] == 1.5
    p = tmp_path / "h.jsonl"
    p.write_bytes(jsonl.encode({**obj, "_step": 0}))
    (row,) = list(iter_rows(p))
    assert math.isnan(row["v"]) if math.isnan(x) else row["v"] == x


def test_nonfinite_numpy_float_is_not_written_as_null():
    line = jsonl.encode({"v": np.float32("nan"), "w": np.float64("-inf")})
    back = jsonl.decode(line)
    assert math.isnan(back["v"])
    assert back["w"] == -math.inf


def test_none_stays_null():
    assert jsonl.decode(jsonl.encode({"v": None, "s": "null"})) == {"v": None, "s": "null"}


def test_undecodable_middle_line_is_skipped(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"_step":0}\nthis is not json\n{"_step":1,\n{"_step":2}\n')
    assert jsonl.read(p)[0] == [{"_step": 0}, {"_step": 2}]
    assert [r["_step"] for r in iter_rows(p)] == [0, 2]


def test_iter_rows_skips_non_dict_lines(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_bytes(b'{"_step":0}\n[1,2]\n3\n{"_step":1}\n')
    assert [r["_step"] for r in iter_rows(p)] == [0, 1]


def test_iter_rows_across_chunk_boundaries(tmp_path, monkeypatch):
    from runstore.store import history as h

    monkeypatch.setattr(h, "CHUNK", 7)  # forces lines to straddle reads
    p = tmp_path / "h.jsonl"
    p.write_bytes(b"".join(jsonl.encode({"_step": i, "x": "y" * (i % 5)}) for i in range(50)) + b'{"_st')
    assert [r["_step"] for r in h.iter_rows(p)] == list(range(50))


def test_missing_file_reads_as_empty(tmp_path):
    assert jsonl.read(tmp_path / "nope.jsonl") == ([], 0)
    assert list(iter_rows(tmp_path / "nope.jsonl")) == []


def test_last_step_ignores_torn_tail(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_bytes(b"".join(jsonl.encode({"_step": i}) for i in range(3000)) + b'{"_step":3000')
    assert last_step(p) == 2999
    assert last_step(tmp_path / "none.jsonl") is None


def test_write_atomic_replaces_whole_file(tmp_path):
    p = tmp_path / "f.json"
    p.write_bytes(b"old content that is long")
    jsonl.write_atomic(p, b"new")
    assert p.read_bytes() == b"new"
    assert [x.name for x in tmp_path.iterdir()] == ["f.json"]


def test_write_atomic_create_only_never_replaces_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "history.1.jsonl"
    jsonl.write_atomic(p, b"kept\n", replace=False)
    assert p.read_bytes() == b"kept\n"
    with pytest.raises(FileExistsError):
        jsonl.write_atomic(p, b"other\n", replace=False)
    assert p.read_bytes() == b"kept\n"  # the existing file is untouched
    assert sorted(x.name for x in tmp_path.iterdir()) == ["history.1.jsonl"]


def test_a_failed_atomic_write_leaves_what_was_there_and_no_temporary(tmp_path):
    target = tmp_path / "settings.yaml"
    target.mkdir()  # the rename into place fails after the temporary was written
    (target / "inside").write_text("x")
    with pytest.raises(OSError):
        jsonl.write_atomic(target, b"new")
    assert (target / "inside").read_text() == "x"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["settings.yaml"]
