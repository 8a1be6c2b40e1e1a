"""Reliability: SIGKILL mid-run, concurrent writers in one store, and a round-trip property test."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
from conftest import history, nan_eq, run_script, run_state, user_keys
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runstore
from runstore.store import jsonl
from runstore.store.history import iter_rows
from runstore.store.store import Store

# -- (a) SIGKILL --------------------------------------------------------------------------------------
N = 500


def test_sigkill_after_n_rows_keeps_every_row_and_reads_as_crashed(tmp_path):
    r = run_script(
        f"""
        import os, runstore
        run = runstore.init(project="p", id="kill0001", config={{"lr": 0.1}})
        for i in range({N}):
            run.log({{"i": i, "loss": 1.0 / (i + 1), "nested": {{"x": i}} if i % 50 == 0 else {{}}}})
        os.kill(os.getpid(), 9)
    """,
        tmp_path,
    )
    assert r.returncode == -9, r.stderr
    st = run_state("kill0001", "p")
    rows = list(iter_rows(st.path / "history.jsonl"))
    assert len(rows) == N
    assert [row["_step"] for row in rows] == list(range(N))
    assert [row["i"] for row in rows] == list(range(N))
    assert all(row["loss"] == 1.0 / (row["i"] + 1) for row in rows)
    assert st.state == "crashed"
    assert st.exit_code is None
    assert st.config == {"lr": 0.1}
    assert st.summary["i"] == N - 1


def test_sigkill_fast_path_only_scalars(tmp_path):
    r = run_script(
        f"""
        import os, runstore
        run = runstore.init(project="p", id="kill0002")
        for i in range({N}):
            run.log({{"i": i}})
        os.kill(os.getpid(), 9)
    """,
        tmp_path,
    )
    assert r.returncode == -9
    st = run_state("kill0002", "p")
    assert [row["i"] for row in history(st.path)] == list(range(N))
    assert st.state == "crashed"


def test_state_running_while_alive_then_crashed_after_kill(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["RUNSTORE_DIR"] = str(tmp_path / ".wandb")
    env["RUNSTORE_DAEMON"] = "0"  # no daemon outliving the test
    code = textwrap.dedent("""
        import sys, runstore
        run = runstore.init(project="p", id="live0001")
        run.log({"a": 1})
        print("ready", flush=True)
        sys.stdin.read()
    """)
    p = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert p.stdout.readline().strip() == "ready"
        assert run_state("live0001", "p").state == "running"
        p.kill()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    st = run_state("live0001", "p")
    assert st.state == "crashed"
    assert [row["a"] for row in history(st.path)] == [1]


def test_resume_after_sigkill_continues_numbering(tmp_path):
    r = run_script(
        """
        import os, runstore
        run = runstore.init(project="p", id="kill0003")
        for i in range(50):
            run.log({"i": i})
        os.kill(os.getpid(), 9)
    """,
        tmp_path,
    )
    assert r.returncode == -9
    run = runstore.init(project="p", id="kill0003", resume="allow")
    assert run.step == 50
    assert run.summary["i"] == 49
    run.log({"i": 50})
    run.finish()
    st = run_state(run)
    assert st.state == "finished"
    assert [row["_step"] for row in history(run)] == list(range(51))


def test_torn_history_tail_after_crash_is_sealed_on_resume(tmp_path):
    run = runstore.init(project="p", id="torn0001")
    for i in range(3):
        run.log({"i": i})
    rd = run._ref.path
    run.finish(exit_code=1)
    with open(rd / "history.jsonl", "ab") as f:
        f.write(b'{"i":3,"_st')  # what a crash mid-write leaves behind
    assert [row["i"] for row in history(rd)] == [0, 1, 2]
    run = runstore.init(project="p", id="torn0001", resume="allow")
    assert run.step == 3
    run.log({"i": 3})
    run.log({"i": 4})
    run.finish()
    assert [(row["_step"], row["i"]) for row in history(rd)] == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)]


# -- (b) six concurrent writers -----------------------------------------------------------------------------
STEPS = 3000
WRITERS = 6

WRITER = """
import os, sys, time, runstore
k = int(sys.argv[1]); go = sys.argv[2]
run = runstore.init(project="shared", id=f"proc{k:04d}", config={"k": k})
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(STEPS):
    if k % 3 == 0:
        run.log({"k": k, "i": i, "x": i * 0.5})
    elif k % 3 == 1:
        run.log({"k": k}, commit=False)
        run.log({"i": i, "x": i * 0.5, "nest": {"i": i}})
    else:
        run.log({"k": k, "i": i, "x": i * 0.5}, step=i)
run.finish()
""".replace("STEPS", str(STEPS))


def test_six_processes_write_one_store_at_once(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    go = tmp_path / "go"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["RUNSTORE_DIR"] = str(tmp_path / ".wandb")
    env["RUNSTORE_DAEMON"] = "0"  # no daemon outliving the test
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(k), str(go)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(WRITERS)
    ]
    try:
        deadline = time.time() + 30
        runs_dir = tmp_path / ".wandb" / "projects" / "shared" / "runs"
        while time.time() < deadline:
            if runs_dir.is_dir() and len(list(runs_dir.glob("*/run.jsonl"))) == WRITERS:
                break
            time.sleep(0.01)
        go.touch()
        errs = [p.communicate(timeout=60)[1] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, err in zip(procs, errs, strict=True):
        assert p.returncode == 0, err
    store = Store(tmp_path / ".wandb")
    refs = sorted(store.iter_runs("shared"), key=lambda r: r.id)
    assert [r.id for r in refs] == [f"proc{k:04d}" for k in range(WRITERS)]
    for k, ref in enumerate(refs):
        rows = list(iter_rows(ref.path / "history.jsonl"))
        assert len(rows) == STEPS, ref.id
        assert [r["_step"] for r in rows] == list(range(STEPS))
        assert all(r["k"] == k and r["i"] == r["_step"] and r["x"] == r["_step"] * 0.5 for r in rows)
        if k % 3 == 1:
            assert all(r["nest"] == {"i": r["_step"]} for r in rows)
        st = run_state(ref.id, "shared", root=tmp_path / ".wandb")
        assert st.state == "finished" and st.config == {"k": k}
        assert st.summary["i"] == STEPS - 1 and st.summary["_step"] == STEPS - 1


# -- (c) property: anything loggable round-trips --------------------------------------------------------------
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
NP_SCALARS = st.one_of(
    st.floats(width=32, allow_nan=True, allow_infinity=True).map(np.float32),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    INT64.map(np.int64),
    st.booleans().map(np.bool_),
)
SCALARS = st.one_of(
    st.text(max_size=20),
    INT64,
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    NP_SCALARS,
)
RESERVED = {"_step", "_timestamp", "_runtime"}
KEYS = st.text(min_size=1, max_size=12).filter(lambda k: k not in RESERVED)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
ROWS = st.dictionaries(KEYS, VALUES, max_size=6)


def expected(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: expected(x) for k, x in v.items()}
    if isinstance(v, list):
        return [expected(x) for x in v]
    return v


def test_property_rows_round_trip_through_log_and_history(tmp_path):
    run = runstore.init(project="prop")
    path = run._ref.path / "history.jsonl"
    seen = {"n": 0}

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(row=ROWS)
    def check(row):
        snapshot = repr(row)
        offset = path.stat().st_size
        step = run.step
        run.log(row)
        assert repr(row) == snapshot  # the caller's dict is not mutated
        got = list(iter_rows(path, offset))
        assert len(got) == 1
        (back,) = got
        assert back["_step"] == step
        assert isinstance(back["_timestamp"], float)
        want = expected(row)
        assert nan_eq(user_keys_all(back), want), (back, want)
        seen["n"] += 1

    check()
    run.finish()
    rows = list(iter_rows(path))
    assert len(rows) == seen["n"] >= 50
    assert [r["_step"] for r in rows] == list(range(len(rows)))


def user_keys_all(row):
    return {k: v for k, v in row.items() if k not in ("_step", "_timestamp")}


PY_VALUES = st.recursive(
    st.one_of(
        st.text(max_size=20), INT64, st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none()
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(row=st.dictionaries(st.text(max_size=12), PY_VALUES, max_size=6))
def test_property_jsonl_encode_decode(row):
    line = jsonl.encode(row)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert nan_eq(jsonl.decode(line), row)


@settings(max_examples=100, deadline=None)
@given(v=NP_SCALARS)
def test_property_jsonl_numpy_scalars_keep_their_value(v):
    (back,) = jsonl.decode(jsonl.encode([v]))
    if isinstance(v, np.floating) and math.isnan(v):
        assert isinstance(back, float) and math.isnan(back)
    else:
        assert type(v)(back) == v  # the same value at the scalar's own precision
        assert type(back) is type(v.item())


def test_property_commit_false_merge_is_union(tmp_path):
    run = runstore.init(project="prop2")
    path = run._ref.path / "history.jsonl"

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        parts=st.lists(st.dictionaries(st.sampled_from("abcdef"), INT64, max_size=3), min_size=1, max_size=4)
    )
    def check(parts):
        offset = path.stat().st_size
        for p in parts[:-1]:
            run.log(p, commit=False)
        run.log(parts[-1])
        merged = {}
        for p in parts:
            merged.update(p)
        (back,) = list(iter_rows(path, offset))
        assert user_keys(back) == merged

    check()
