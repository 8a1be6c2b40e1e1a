"""run.log(): the step state machine (docs/COMPAT.md §4.2), reserved keys, value conversion, argument checks."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from conftest import FakeClock, clocked_run, events, history, run_state, user_keys, warnings_in

import runstore


@pytest.fixture
def run():
    return runstore.init(project="p")


def rows(run):
    return [user_keys(r) for r in history(run)]


def steps(run):
    return [r["_step"] for r in history(run)]


def test_implicit_steps_count_from_zero(run):
    for i in range(5):
        run.log({"i": i})
    assert steps(run) == [0, 1, 2, 3, 4]
    assert [r["i"] for r in history(run)] == [0, 1, 2, 3, 4]
    assert run.step == 5


def test_commit_false_merges_into_one_row(run):
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    assert history(run) == []
    assert run.step == 0
    run.log({"c": 3})
    assert rows(run) == [{"a": 1, "b": 2, "c": 3}]
    assert steps(run) == [0]
    assert run.step == 1


def test_commit_false_later_value_wins(run):
    run.log({"a": 1, "b": 1}, commit=False)
    run.log({"a": 2}, commit=False)
    run.log({}, commit=True)
    assert rows(run) == [{"a": 2, "b": 1}]


def test_explicit_step_accumulates_until_a_higher_step(run):
    run.log({"a": 1}, step=5)
    run.log({"b": 2}, step=5)
    assert history(run) == []  # an explicit step does not write by itself
    assert run.step == 5
    run.log({"c": 3}, step=6)
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(5, {"a": 1, "b": 2})]
    assert run.step == 6
    run.finish()  # the pending row is flushed at finish
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(5, {"a": 1, "b": 2}), (6, {"c": 3})]


def test_explicit_step_with_commit_true_writes_now(run):
    run.log({"a": 1}, step=3, commit=True)
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(3, {"a": 1})]
    assert run.step == 4
    run.log({"b": 1})
    assert steps(run) == [3, 4]


def test_explicit_step_commit_false_then_same_step_commit(run):
    run.log({"a": 1}, step=2, commit=False)
    run.log({"b": 1}, step=2, commit=True)
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(2, {"a": 1, "b": 1})]


def test_observed_example_from_the_contract(run, capsys):
    capsys.readouterr()
    run.log({"explicit": 1}, step=10)
    run.log({"lower": 1}, step=3)
    err = capsys.readouterr().err
    w = warnings_in(err)
    assert len(w) == 1
    assert "3" in w[0] and "10" in w[0] and "less than the current step" in w[0]
    run.log({"val/acc": 0.5, "epoch": 1})
    hist = history(run)
    assert [(r["_step"], user_keys(r)) for r in hist] == [(10, {"explicit": 1, "val/acc": 0.5, "epoch": 1})]
    assert run.step == 11
    run.finish()
    assert len(history(run)) == 1  # nothing pending, nothing extra written
    dropped = events(run, "dropped")
    assert len(dropped) == 1
    assert dropped[0]["step"] == 3 and dropped[0]["current"] == 10
    assert dropped[0]["row"] == {"lower": 1}
    assert run_state(run).dropped == 1
    assert "lower" not in run_state(run).summary


def test_lower_step_after_implicit_steps_is_dropped(run):
    for i in range(3):
        run.log({"i": i})
    run.log({"i": 99}, step=1)
    run.log({"i": 98}, step=2)
    run.log({"i": 3})
    assert [(r["_step"], r["i"]) for r in history(run)] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert len(events(run, "dropped")) == 2


def test_dropped_call_does_not_disturb_pending_row(run):
    run.log({"a": 1}, step=5)
    run.log({"b": 1}, step=4)
    run.log({"c": 1}, step=5)
    run.finish()
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(5, {"a": 1, "c": 1})]


def test_step_equal_to_current_after_implicit_commit_merges(run):
    run.log({"a": 1})  # step 0 written, current is 1
    run.log({"b": 1}, step=1)
    run.log({"c": 1})
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"a": 1}), (1, {"b": 1, "c": 1})]


def test_higher_step_flushes_pending_commit_false_row(run):
    run.log({"a": 1}, commit=False)  # pending at 0
    run.log({"b": 1}, step=7)
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"a": 1})]
    run.log({"c": 1}, step=8)
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"a": 1}), (7, {"b": 1})]


def test_pending_row_flushed_at_finish(run):
    run.log({"a": 1})
    run.log({"b": 2}, commit=False)
    assert len(history(run)) == 1
    run.finish()
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"a": 1}), (1, {"b": 2})]


def test_reserved_keys_on_every_row_and_runtime_not_stored(run):
    t0 = time.time()
    run.log({"a": 1})
    run.log({"b": 1}, step=4)
    run.log({"c": 1}, commit=False)
    run.log({"d": 1})
    run.log({"e": [1, 2], "f": {"g": 1}})
    run.finish()
    t1 = time.time()
    hist = history(run)
    # c (commit=False, no step) joins the pending explicit-step row 4, d commits it
    assert [r["_step"] for r in hist] == [0, 4, 5]
    assert [user_keys(r) for r in hist] == [{"a": 1}, {"b": 1, "c": 1, "d": 1}, {"e": [1, 2], "f": {"g": 1}}]
    for r in hist:
        assert isinstance(r["_step"], int)
        assert isinstance(r["_timestamp"], float)
        assert t0 <= r["_timestamp"] <= t1
        assert "_runtime" not in r
    assert b"_runtime" not in (run._ref.path / "history.jsonl").read_bytes()
    ts = [r["_timestamp"] for r in hist]
    assert ts == sorted(ts)
    st = run_state(run)
    assert st.summary["_runtime"] == pytest.approx(hist[-1]["_timestamp"] - st.created)  # derived, not stored
    assert st.summary["_step"] == 5
    assert st.summary["_timestamp"] == hist[-1]["_timestamp"]


def test_runtime_derived_on_read_is_time_since_start(tmp_path) -> None:
    clock = FakeClock(1000.0)
    run = clocked_run(tmp_path, clock)
    clock.now = 1000.25
    run.log({"a": 1})
    clock.now = 1003.0
    run.finish(quiet=True)
    st = run_state(run)
    from runstore.store.runs import with_runtime

    (r,) = history(run)
    assert r["_timestamp"] == 1000.25
    assert with_runtime(r, st.segments)["_runtime"] == 0.25
    assert st.summary["_runtime"] == 0.25 and run.summary["_runtime"] == 0.25
    assert st.exit["runtime"] == 3.0 and st.runtime == 3.0


@pytest.mark.parametrize(
    "value,expected",
    [
        (np.float32(0.5), 0.5),
        (np.float64(1.25), 1.25),
        (np.int64(7), 7),
        (np.int32(-3), -3),
        (np.bool_(True), True),
        (np.bool_(False), False),
        (np.array([3.5]), 3.5),
        (np.array([[2]]), 2),
        (np.uint8(255), 255),
        (np.float16(0.5), 0.5),
    ],
)
def test_numpy_scalars_and_one_element_arrays(run, value, expected):
    run.log({"v": value})
    run.log({"w": {"nested": value}})  # the slow path (nested dict)
    run.finish()
    hist = history(run)
    for got in (hist[0]["v"], hist[1]["w"]["nested"], run_state(run).summary["v"]):
        assert got == expected
        assert type(got) is type(expected)


def test_numpy_scalar_live_summary_is_plain_python(run):
    run.log({"v": np.float64(1.5), "i": np.int64(3)})
    assert type(run.summary["v"]) is float
    assert type(run.summary["i"]) is int


def test_numpy_float32_same_value_on_fast_and_slow_path(run):
    x = np.float32(0.1)
    run.log({"v": x})
    run.log({"v": x, "nested": {}})
    hist = history(run)
    assert hist[0]["v"] == hist[1]["v"] == x.item()


def test_small_array_is_list(run):
    run.log({"arr": np.array([1.0, 2.0, 3.0]), "lst": [1, 2], "tup": (3, 4)})
    (r,) = history(run)
    assert r["arr"] == [1.0, 2.0, 3.0] and r["lst"] == [1, 2] and r["tup"] == [3, 4]


def test_nested_dicts_are_stored_nested(run):
    run.log({"train": {"x": 1, "y": {"z": 2}}, "train/loss": 0.5})
    run.finish()
    (r,) = history(run)
    assert r["train"] == {"x": 1, "y": {"z": 2}}
    assert r["train/loss"] == 0.5
    assert "train.x" not in r and "train/x" not in r
    raw = (run._ref.path / "history.jsonl").read_text()
    assert '"train":{"x":1,"y":{"z":2}}' in raw
    assert run_state(run).summary["train"] == {"x": 1, "y": {"z": 2}}


@pytest.mark.parametrize("x", [math.nan, math.inf, -math.inf])
def test_nonfinite_values_round_trip(run, x):
    run.log({"v": x, "n": {"w": x}, "l": [x, 1.0]})
    run.log({"v32": np.float32(x)})
    run.finish()
    h = history(run)
    got = [h[0]["v"], h[0]["n"]["w"], h[0]["l"][0], h[1]["v32"], run_state(run).summary["v"]]
    for g in got:
        assert isinstance(g, float)
        assert math.isnan(g) if math.isnan(x) else g == x


def test_none_and_strings_and_bools(run):
    run.log({"none": None, "s": "null", "b": True, "i": 0})
    (r,) = history(run)
    assert user_keys(r) == {"none": None, "s": "null", "b": True, "i": 0}
    assert type(r["b"]) is bool


@pytest.mark.parametrize("bad", [[("a", 1)], "loss=1", 3, None, {"a", "b"}])
def test_non_dict_raises_type_error_and_run_keeps_working(run, bad):
    run.log({"a": 0})
    with pytest.raises(TypeError):
        run.log(bad)
    assert run.step == 1
    run.log({"a": 1})
    run.finish()
    assert [(r["_step"], r["a"]) for r in history(run)] == [(0, 0), (1, 1)]
    assert run_state(run).state == "finished"


@pytest.mark.parametrize("data", [{1: 0.5}, {("a",): 1}, {"ok": 1, 2: 3}, {None: {"x": 1}}])
def test_non_str_keys_raise_type_error(run, data):
    with pytest.raises(TypeError):
        run.log(data)
    with pytest.raises(TypeError):
        run.log(data, commit=False)
    assert run.step == 0
    run.log({"a": 1})
    run.finish()
    assert rows(run) == [{"a": 1}]


@pytest.mark.parametrize("step", ["3", 2.5, True, [1]])
def test_bad_step_type(run, step):
    with pytest.raises(TypeError):
        run.log({"a": 1}, step=step)
    run.log({"a": 2})
    assert rows(run) == [{"a": 2}]


def test_numpy_int_step_accepted(run):
    run.log({"a": 1}, step=np.int64(4))
    run.finish()
    assert steps(run) == [4]


def test_log_after_finish_warns_and_ignores(run, capsys):
    run.log({"a": 1})
    run.finish()
    capsys.readouterr()
    run.log({"a": 2})
    run.log({"a": 3}, step=100)
    w = warnings_in(capsys.readouterr().err)
    assert len(w) == 1 and "finish" in w[0]
    assert rows(run) == [{"a": 1}]
    assert sum(1 for e in events(run) if e["t"] == "exit") == 1


def test_caller_dict_not_mutated(run):
    d = {"a": 1, "n": {"b": 2}}
    run.log(d)
    run.log(d, step=3)
    assert d == {"a": 1, "n": {"b": 2}}


def test_global_log_goes_to_run(run):
    runstore.log({"a": 1})
    runstore.log({"b": 1}, commit=False)
    runstore.log({"c": 1}, step=5)
    run.finish()
    assert [(r["_step"], user_keys(r)) for r in history(run)] == [(0, {"a": 1}), (1, {"b": 1}), (5, {"c": 1})]


def test_unserializable_log_value_stored_as_str(run, capsys):
    class Opaque:
        def __str__(self):
            return "opaque!"

    capsys.readouterr()
    run.log({"o": Opaque()})
    run.log({"o": Opaque()})
    assert len(warnings_in(capsys.readouterr().err)) == 1
    assert [r["o"] for r in history(run)] == ["opaque!", "opaque!"]


def test_many_rows_in_order(run):
    for i in range(2000):
        run.log({"i": i, "x": i * 0.5})
    run.finish()
    h = history(run)
    assert [r["_step"] for r in h] == list(range(2000))
    assert all(r["i"] == r["_step"] and r["x"] == r["_step"] * 0.5 for r in h)


def test_edge_values_take_either_path_and_are_stored_exactly(run):
    import enum

    class Level(enum.IntEnum):
        HIGH = 3

    big = 2**70
    run.log({"big": big, "b": True, "lvl": Level.HIGH, "neg0": -0.0, "i": 7})  # passes sum(): numbers
    run.log({"big": -big, "s": "text", "none": None})  # does not
    run.log({"x": 1.5, "y": float("inf")})  # non-finite
    run.finish()
    rows = history(run)
    assert rows[0]["big"] == big and rows[0]["b"] is True and rows[0]["lvl"] == 3 and rows[0]["i"] == 7
    assert str(rows[0]["neg0"]) == "-0.0"
    assert rows[1]["big"] == -big and rows[1]["s"] == "text" and rows[1]["none"] is None
    assert rows[2]["y"] == math.inf
    st = run_state(run)
    assert st.summary["big"] == -big and st.summary["b"] is True and st.summary["y"] == math.inf
