"""log()'s fast paths store exactly what the general path stores, whatever sequence of calls a script
makes (bare, step=, commit=, nested dicts, numpy scalars, values only the general path converts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import history, run_state
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runstore

NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.booleans(),
)
NUMPY = st.one_of(
    st.floats(width=32, allow_nan=False).map(np.float32),
    st.floats(width=16, allow_nan=False, allow_infinity=False).map(np.float16),
    st.floats(allow_nan=False, allow_infinity=False).map(np.float64),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(np.int64),
    st.integers(min_value=0, max_value=255).map(np.uint8),
    st.booleans().map(np.bool_),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: np.array([x])),
)
# values that must leave the fast paths: non-finite floats, beyond 64 bits, strings, None, lists,
# complex numpy scalars, several-element arrays
OTHER = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 2**70, "text", None, [1, 2], np.complex64(1 + 2j)]),
    st.floats(width=32).map(np.float32),
    st.just(np.arange(3.0)),
)
LEAF = st.one_of(NUMBERS, NUMBERS, NUMPY, OTHER)
KEYS = st.sampled_from(["a", "b", "c", "loss", "acc"])
VALUE = st.recursive(LEAF, lambda kids: st.dictionaries(KEYS, kids, max_size=3), max_leaves=6)
CALL = st.tuples(
    st.dictionaries(KEYS, VALUE, max_size=4),
    # step: none, or an offset from the current step (negative ones are dropped with a warning)
    st.one_of(st.none(), st.integers(min_value=-2, max_value=3)),
    st.sampled_from([None, True, False]),
)


def _replay(calls, project: str, fast: bool):
    run = runstore.init(project=project, reinit="create_new")
    if not fast:
        run._fast = False  # every call takes the general path
    for data, offset, commit in calls:
        step = None if offset is None else run.step + offset
        run.log(data, step=step, commit=commit)
    run.finish(quiet=True)
    rows = [{k: v for k, v in r.items() if k != "_timestamp"} for r in history(run)]
    summary = {k: v for k, v in run_state(run).summary.items() if k not in ("_timestamp", "_runtime")}
    return rows, summary, run.step


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


# No numpy arithmetic on the user's values: a float16 sum beyond 65504 would print numpy's overflow warning
@pytest.mark.filterwarnings("error::RuntimeWarning", "error::DeprecationWarning")
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(calls=st.lists(CALL, max_size=8))
def test_fast_and_general_paths_store_the_same(calls):
    fast = _replay(calls, "fast", fast=True)
    slow = _replay(calls, "slow", fast=False)
    assert _same(list(fast[0]), list(slow[0])), (fast[0], slow[0])
    assert _same(fast[1], slow[1]), (fast[1], slow[1])
    assert fast[2] == slow[2]


def test_the_common_forms_take_a_fast_path(monkeypatch):
    """Guards the speed work: none of these calls reaches the general path."""
    from runstore.sdk import run as run_mod

    run = runstore.init(project="p")

    def refuse(*a, **k):
        raise AssertionError("general path taken")

    monkeypatch.setattr(run_mod.Run, "_log_slow", refuse)
    d = {"loss": 0.5, "acc": 1}
    run.log(d)
    run.log(d, step=run.step)
    run.log(d, step=run.step + 1)
    run.log(d, commit=False)
    run.log(d, commit=True)
    run.log({"train": {"loss": 0.1, "acc": {"top1": 0.5}}})
    run.log({"f32": np.float32(0.25), "i64": np.int64(3), "b": np.bool_(True), "one": np.array([2.0])})
    monkeypatch.undo()
    run.finish(quiet=True)
    rows = history(run)
    # step=1 waits for step=2; commit=False merges into step 2, which commit=True writes
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[-1]["f32"] == 0.25 and rows[-1]["i64"] == 3 and rows[-1]["one"] == 2.0
    assert rows[-2]["train"] == {"loss": 0.1, "acc": {"top1": 0.5}}
    assert run_state(run).summary["train"]["acc"] == {"top1": 0.5}


def test_the_caller_may_reuse_its_dict(tmp_path):
    run = runstore.init(project="p")
    d = {"x": 1.0, "n": {"y": 2}}
    run.log(d, commit=False)
    d["x"] = 9.0
    d["n"]["y"] = 9
    run.log({}, commit=True)
    run.finish(quiet=True)
    (row,) = history(run)
    assert row["x"] == 1.0 and row["n"] == {"y": 2}
