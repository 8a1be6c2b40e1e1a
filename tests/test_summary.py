"""run.summary and define_metric: live values and what load_run() folds from disk (also for crashes)."""

from __future__ import annotations

import json
import math

import pytest
from conftest import history, run_script, run_state, user_keys

import runstore


@pytest.fixture
def run():
    return runstore.init(project="p")


def disk(run):
    return run_state(run).summary


def both(run):
    """The live summary and the summary read back from disk (while running and after finish)."""
    live = run.summary.as_dict()
    running = disk(run)
    return live, running


def test_last_value_by_default(run):
    for i in range(3):
        run.log({"loss": 1.0 / (i + 1), "i": i})
    assert run.summary["loss"] == pytest.approx(1 / 3)
    assert run.summary.i == 2
    assert run.summary["_step"] == 2
    assert disk(run)["i"] == 2  # folded from history while the run is live
    run.finish()
    s = disk(run)
    assert s["i"] == 2 and s["loss"] == pytest.approx(1 / 3) and s["_step"] == 2
    assert "_timestamp" in s and "_runtime" in s


def test_key_logged_once_stays(run):
    run.log({"a": 1})
    run.log({"b": 2})
    run.finish()
    s = disk(run)
    assert (s["a"], s["b"]) == (1, 2)


def test_manual_value(run):
    run.log({"acc": 0.5})
    run.summary["best"] = 0.9
    run.summary.other = "x"
    assert run.summary["best"] == 0.9 and run.summary["other"] == "x"
    assert disk(run)["best"] == 0.9
    run.finish()
    s = disk(run)
    assert s["best"] == 0.9 and s["other"] == "x" and s["acc"] == 0.5


def test_manual_value_overwritten_by_later_log(run):
    run.log({"acc": 0.5})
    run.summary["acc"] = 0.99
    assert run.summary["acc"] == 0.99
    assert disk(run)["acc"] == 0.99
    run.log({"acc": 0.6})
    assert run.summary["acc"] == 0.6
    assert disk(run)["acc"] == 0.6
    run.finish()
    assert disk(run)["acc"] == 0.6


def test_manual_value_after_last_log_persists(run):
    run.log({"acc": 0.5})
    run.log({"acc": 0.6})
    run.summary["acc"] = 0.99
    run.finish()
    assert run.summary["acc"] == 0.99
    assert disk(run)["acc"] == 0.99


def test_manual_value_with_pending_row(run):
    # the edit happens while a commit=False row is pending at step 0; that row is written after it
    run.log({"acc": 0.1}, commit=False)
    run.summary["acc"] = 0.99
    run.finish()
    assert run.summary["acc"] == disk(run)["acc"]


def test_update(run):
    run.summary.update({"a": 1, "b": {"c": 2}})
    run.summary.update(e=4)
    assert run.summary["a"] == 1 and run.summary["b"]["c"] == 2 and run.summary["e"] == 4
    run.finish()
    s = disk(run)
    assert s["a"] == 1 and s["b"] == {"c": 2} and s["e"] == 4


def test_nested_write_through(run):
    run.summary["a"] = {"x": 0}
    run.summary["a"]["b"] = 1
    run.summary["a"].c = 2
    assert run.summary["a"] == {"x": 0, "b": 1, "c": 2}
    run.log({"train": {"loss": 1.0}})
    run.summary["train"]["best"] = 0.5
    assert run.summary["train"]["loss"] == 1.0 and run.summary["train"]["best"] == 0.5
    run.finish()
    s = disk(run)
    assert s["a"] == {"x": 0, "b": 1, "c": 2}
    assert s["train"] == {"loss": 1.0, "best": 0.5}


def test_delete(run):
    run.log({"a": 1, "b": 2})
    del run.summary["a"]
    assert "a" not in run.summary
    run.summary["c"] = {"d": 1, "e": 2}
    del run.summary["c"]["d"]
    del run.summary.b
    with pytest.raises(KeyError):
        del run.summary["never"]
    assert "a" not in disk(run)
    run.finish()
    s = disk(run)
    assert "a" not in s and "b" not in s
    assert s["c"] == {"e": 2}


def test_missing_key_raises_key_error_also_as_attribute(run):
    with pytest.raises(KeyError):
        run.summary["missing"]
    with pytest.raises(KeyError):
        _ = run.summary.missing
    assert not hasattr(run.summary, "missing")
    assert run.summary.get("missing", 5) == 5


def test_keys_and_dict(run):
    run.log({"a": 1})
    run.summary["b"] = 2
    assert set(run.summary.keys()) == {"a", "b", "_step", "_timestamp"}
    d = dict(run.summary)
    assert d["a"] == 1 and d["b"] == 2


def test_summary_nan_round_trip(run):
    run.log({"v": math.nan, "w": math.inf})
    run.summary["m"] = -math.inf
    run.finish()
    s = disk(run)
    assert math.isnan(s["v"]) and s["w"] == math.inf and s["m"] == -math.inf


# -- define_metric ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "ops,expected",
    [
        ("min", {"min": 1.0}),
        ("max", {"max": 3.0}),
        ("mean", {"mean": 2.0}),
        ("last", {"last": 2.0}),
        ("first", {"first": 3.0}),
        ("min,max,mean,last,first", {"min": 1.0, "max": 3.0, "mean": 2.0, "last": 2.0, "first": 3.0}),
        ("MIN, max", {"min": 1.0, "max": 3.0}),
    ],
)
def test_define_metric_summary_ops(run, ops, expected):
    run.define_metric("loss", summary=ops)
    for v in (3.0, 1.0, 2.0):
        run.log({"loss": v, "other": v})
    assert run.summary["loss"] == expected
    assert run.summary["other"] == 2.0
    assert disk(run)["loss"] == expected
    run.finish()
    assert disk(run)["loss"] == expected
    assert disk(run)["other"] == 2.0


@pytest.mark.parametrize("goal,expected", [("maximize", 3.0), ("minimize", 1.0), ("max", 3.0), ("min", 1.0)])
def test_define_metric_best_with_goal(run, goal, expected):
    run.define_metric("acc", summary="best", goal=goal)
    for v in (1.0, 3.0, 2.0):
        run.log({"acc": v})
    assert run.summary["acc"] == {"best": expected}
    run.finish()
    assert disk(run)["acc"] == {"best": expected}


def test_define_metric_none_removes_key(run):
    run.define_metric("secret", summary="none")
    run.log({"secret": 1, "public": 2})
    assert "secret" not in run.summary
    run.finish()
    assert "secret" not in disk(run)
    assert disk(run)["public"] == 2
    assert [r["secret"] for r in history(run)] == [1]  # still in history


def test_define_metric_glob(run):
    run.define_metric("val/*", summary="max")
    run.log({"val/acc": 0.5, "val/loss": 2.0, "train/acc": 0.1, "_hidden": 3})
    run.log({"val/acc": 0.4, "val/loss": 3.0, "train/acc": 0.2})
    assert run.summary["val/acc"] == {"max": 0.5}
    assert run.summary["val/loss"] == {"max": 3.0}
    assert run.summary["train/acc"] == 0.2
    run.finish()
    s = disk(run)
    assert s["val/acc"] == {"max": 0.5} and s["val/loss"] == {"max": 3.0} and s["train/acc"] == 0.2


def test_define_metric_nested_leaf_by_dotted_name(run):
    run.define_metric("train.loss", summary="min")
    run.log({"train": {"loss": 2.0, "acc": 0.1}})
    run.log({"train": {"loss": 1.0, "acc": 0.2}})
    run.finish()
    s = disk(run)
    assert s["train"]["loss"] == {"min": 1.0}
    assert s["train"]["acc"] == 0.2


def test_aggregates_over_numbers_only(run):
    run.define_metric("m", summary="min,last")
    run.log({"m": 2})
    run.log({"m": "text"})
    run.log({"m": 1})
    run.log({"m": math.nan})
    assert run.summary["m"]["min"] == 1
    assert math.isnan(run.summary["m"]["last"])


def test_step_metric_with_step_sync(run):
    run.define_metric("epoch")
    m = run.define_metric("val/*", step_metric="epoch")
    assert m.step_metric == "epoch"
    run.log({"epoch": 1, "train": 0.1})
    run.log({"val/acc": 0.5})
    run.log({"epoch": 2})
    run.log({"val/acc": 0.6, "val/loss": 1.0})
    run.log({"other": 1})
    run.finish()
    hist = [user_keys(r) for r in history(run)]
    assert hist == [
        {"epoch": 1, "train": 0.1},
        {"val/acc": 0.5, "epoch": 1},
        {"epoch": 2},
        {"val/acc": 0.6, "val/loss": 1.0, "epoch": 2},
        {"other": 1},
    ]


def test_step_metric_given_value_not_overwritten(run):
    run.define_metric("val/acc", step_metric="epoch")
    run.log({"epoch": 1})
    run.log({"val/acc": 0.5, "epoch": 7})
    assert user_keys(history(run)[1]) == {"val/acc": 0.5, "epoch": 7}


def test_step_sync_false_does_not_insert(run):
    run.define_metric("val/acc", step_metric="epoch", step_sync=False)
    run.log({"epoch": 1})
    run.log({"val/acc": 0.5})
    assert user_keys(history(run)[1]) == {"val/acc": 0.5}


def test_step_metric_as_metric_object(run):
    ep = run.define_metric("epoch", hidden=True)
    run.define_metric("val/loss", step_metric=ep)
    run.log({"epoch": 3})
    run.log({"val/loss": 0.1})
    assert history(run)[1]["epoch"] == 3


def test_hidden_is_recorded_and_values_kept(run):
    m = run.define_metric("internal", hidden=True)
    assert m.hidden is True
    run.log({"internal": 5})
    run.finish()
    metric_events = [e for e in run_state(run).events if e.get("t") == "metric"]
    assert metric_events[0]["name"] == "internal" and metric_events[0]["hidden"] is True
    assert history(run)[0]["internal"] == 5
    assert disk(run)["internal"] == 5


@pytest.mark.parametrize("ops", ["median", "min,avg", "max;min"])
def test_invalid_summary_op_raises_value_error(run, ops):
    with pytest.raises(ValueError, match="summary op"):
        run.define_metric("loss", summary=ops)


def test_define_metric_bad_arguments(run):
    with pytest.raises(TypeError):
        run.define_metric(5)
    with pytest.raises(ValueError):
        run.define_metric("a*b")
    with pytest.raises(ValueError):
        run.define_metric("x", goal="sideways")


def test_define_metric_merges_unless_overwrite(run):
    run.define_metric("loss", summary="min")
    run.define_metric("loss", hidden=True)
    run.log({"loss": 1.0})
    run.log({"loss": 2.0})
    assert run.summary["loss"] == {"min": 1.0}
    run.define_metric("loss", summary="max", overwrite=True)
    run.log({"loss": 3.0})
    assert run.summary["loss"] == {"max": 3.0}
    run.finish()
    assert disk(run)["loss"] == {"max": 3.0}


def test_define_metric_after_rows_applies_to_later_rows(run):
    run.log({"loss": 5.0})
    run.define_metric("loss", summary="min")
    run.log({"loss": 7.0})
    run.log({"loss": 6.0})
    live = run.summary["loss"]
    assert disk(run)["loss"] == live
    run.finish()
    assert disk(run)["loss"] == live


def test_define_metric_accepts_unknown_kwargs_with_warning(run, capsys):
    capsys.readouterr()
    run.define_metric("x", summary="max", foo=1)
    assert "WARNING" in capsys.readouterr().err


# -- crashed runs: the summary comes from the fold over history -------------------------------------------
CRASH = """
import json, os, sys, runstore
run = runstore.init(project="p", id="crash001")
run.define_metric("loss", summary="min,max,mean")
run.define_metric("val/*", summary="last")
for i in range(20):
    run.log({"loss": float((i * 7) % 11), "val/acc": i / 20, "plain": i, "nest": {"a": i}})
    if i == 5:
        run.summary["manual"] = "set-early"
    if i == 10:
        run.summary["plain"] = -1   # overwritten by the next log
run.summary["late"] = {"x": 1}
run.summary["nest"]["b"] = 2
del run.summary["val/acc"]
live = {k: v for k, v in run.summary.as_dict().items() if k not in ("_runtime",)}
print(json.dumps(live))
sys.stdout.flush()
os.kill(os.getpid(), 9)
"""


def test_crashed_run_summary_matches_live_summary(tmp_path):
    r = run_script(CRASH, tmp_path)
    assert r.returncode == -9, r.stderr
    live = json.loads(r.stdout)
    st = run_state("crash001", "p")
    assert st.exit is None and st.exit_code is None
    assert st.state == "crashed"
    s = st.summary
    assert {k: v for k, v in s.items() if k != "_runtime"} == live
    assert s["loss"] == {"min": 0.0, "max": 10.0, "mean": sum((i * 7) % 11 for i in range(20)) / 20}
    assert s["plain"] == 19 and s["manual"] == "set-early" and s["late"] == {"x": 1}
    assert s["nest"] == {"a": 19, "b": 2}
    assert "val/acc" not in s
    assert s["_step"] == 19
    assert s["_runtime"] >= 0
    assert len(history(st.path)) == 20


def test_crashed_run_without_define_metric(tmp_path):
    r = run_script(
        """
        import os, runstore
        run = runstore.init(project="p", id="crash002")
        for i in range(10):
            run.log({"a": i, "b": {"c": i * 2}})
        run.summary["best"] = 3
        run.log({"a": 100})
        os.kill(os.getpid(), 9)
    """,
        tmp_path,
    )
    assert r.returncode == -9
    st = run_state("crash002", "p")
    assert st.state == "crashed"
    s = st.summary
    assert s["a"] == 100 and s["b"] == {"c": 18} and s["best"] == 3 and s["_step"] == 10
