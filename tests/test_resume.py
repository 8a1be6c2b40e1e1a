"""resume modes, reinit, the context manager, fork_from and resume_from."""

from __future__ import annotations

import json
import time

import pytest
from conftest import all_run_dirs, events, history, run_state, user_keys

import runstore
from runstore.store.history import iter_rows


def _first_run(run_id="r1", n=3, config=None, sleep=0.0, code=0):
    run = runstore.init(project="p", id=run_id, config=config or {"lr": 0.1, "bs": 32})
    for i in range(n):
        run.log({"loss": 1.0 / (i + 1), "i": i})
    run.summary["best"] = 42
    if sleep:
        time.sleep(sleep)
    run.finish(exit_code=code)
    return run


# -- resume modes ---------------------------------------------------------------------------------
def test_existing_id_without_resume_is_an_error():
    _first_run()
    with pytest.raises(runstore.UsageError) as ei:
        runstore.init(project="p", id="r1")
    assert "r1" in str(ei.value) and "resume" in str(ei.value)
    assert len(history(run_state("r1", "p").ref.path)) == 3  # nothing was touched


def test_resume_must_on_unknown_id_is_an_error(tmp_path):
    with pytest.raises(runstore.UsageError) as ei:
        runstore.init(project="p", id="ghost123", resume="must")
    assert "ghost123" in str(ei.value)
    assert isinstance(ei.value, ValueError)
    assert all_run_dirs(tmp_path / ".wandb") == []


def test_resume_never_on_existing_id_is_an_error():
    _first_run()
    with pytest.raises(runstore.UsageError) as ei:
        runstore.init(project="p", id="r1", resume="never")
    assert "never" in str(ei.value)


def test_resume_never_on_new_id_creates_run():
    run = runstore.init(project="p", id="fresh001", resume="never")
    assert run.resumed is False and run.id == "fresh001"


def test_resume_allow_on_new_id_creates_run():
    run = runstore.init(project="p", id="fresh002", resume="allow")
    assert run.resumed is False
    run.log({"a": 1})
    assert run.step == 1


@pytest.mark.parametrize("mode", ["allow", "must"])
def test_resume_continues_steps_and_keeps_config_and_summary(mode):
    _first_run(n=3)
    run = runstore.init(project="p", id="r1", resume=mode)
    assert run.resumed is True
    assert run.step == 3
    assert run.config.lr == 0.1 and run.config.bs == 32
    assert run.summary["best"] == 42
    assert run.summary["i"] == 2
    run.log({"loss": 0.1, "i": 3})
    run.log({"loss": 0.05, "i": 4})
    assert run.summary["i"] == 4
    run.finish()
    rows = history(run)
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["i"] for r in rows] == [0, 1, 2, 3, 4]
    st = run_state(run)
    assert st.state == "finished"
    assert st.config["lr"] == 0.1
    assert st.summary["best"] == 42
    assert st.summary["i"] == 4 and st.summary["_step"] == 4


def test_resume_after_explicit_step_continues_after_it():
    run = runstore.init(project="p", id="r2")
    run.log({"a": 1}, step=10)
    run.finish()
    run = runstore.init(project="p", id="r2", resume="allow")
    assert run.step == 11
    run.log({"a": 2}, step=5)  # lower than the restored step: dropped
    run.log({"a": 3})
    run.finish()
    assert [(r["_step"], r["a"]) for r in history(run)] == [(10, 1), (11, 3)]
    assert len([e for e in run_state(run).events if e.get("t") == "dropped"]) == 1


def test_resume_config_merges_new_values():
    _first_run(config={"lr": 0.1, "bs": 32})
    run = runstore.init(project="p", id="r1", resume="allow", config={"lr": 0.2, "extra": 1})
    assert run.config.lr == 0.2 and run.config.bs == 32 and run.config.extra == 1
    run.finish()
    assert run_state(run).config == {"lr": 0.2, "bs": 32, "extra": 1}


def test_resume_replaces_tags_and_keeps_name():
    run = runstore.init(project="p", id="r3", tags=["a"], name="orig")
    run.finish()
    run = runstore.init(project="p", id="r3", resume="allow", tags=["b"])
    assert run.tags == ("b",)
    assert run.name == "orig"
    run.finish()
    assert run_state(run).info["tags"] == ["b"]


def test_resume_live_summary_runtime_includes_offset():
    _first_run(n=1, sleep=0.3)
    r1 = run_state("r1", "p").runtime
    run = runstore.init(project="p", id="r1", resume="allow")
    run.log({"x": 1})
    assert run.summary["_runtime"] >= r1


def test_resume_keeps_runtime_offset():
    _first_run(n=1, sleep=0.3)
    r1 = run_state("r1", "p").runtime
    assert r1 >= 0.3
    run = runstore.init(project="p", id="r1", resume="allow")
    run.log({"x": 1})
    time.sleep(0.05)
    run.finish()
    st = run_state(run)
    assert st.runtime >= r1 + 0.05
    rows = list(iter_rows(st.path / "history.jsonl"))
    from runstore.store.runs import with_runtime

    last = with_runtime(rows[-1], st.segments)
    first = with_runtime(rows[0], st.segments)
    assert last["_runtime"] >= r1  # the resumed segment's rows start after the old runtime
    assert first["_runtime"] < r1
    assert st.summary["_runtime"] >= r1


def test_resume_a_failed_run_then_finish_ok():
    _first_run(code=2)
    assert run_state("r1", "p").state == "failed"
    assert run_state("r1", "p").exit_code == 2
    run = runstore.init(project="p", id="r1", resume="allow")
    assert run_state(run).state == "running"
    run.finish()
    st = run_state(run)
    assert st.state == "finished" and st.exit_code == 0


@pytest.mark.parametrize("auto", ["auto", True])
def test_resume_auto_uses_resume_file_and_deletes_it_on_success(store, auto):
    run = runstore.init(project="p", resume=auto)
    rid = run.id
    run.log({"a": 1})
    path = store.root / "wandb-resume.json"
    assert json.loads(path.read_text()) == {"run_id": rid}
    run.finish(exit_code=1)  # a failed attempt: the file stays for the requeued job
    assert path.exists()
    run2 = runstore.init(project="p", resume=auto)
    assert run2.id == rid and run2.resumed is True and run2.step == 1
    run2.log({"a": 2})
    run2.finish()  # exit code 0
    assert not path.exists()
    assert [r["a"] for r in history(run2)] == [1, 2]
    run3 = runstore.init(project="p", resume=auto)
    assert run3.id != rid and run3.resumed is False


def test_resume_auto_with_a_different_explicit_id_ignores_file(store, capsys):
    run = runstore.init(project="p", resume="auto")
    run.finish(exit_code=1)
    capsys.readouterr()
    run2 = runstore.init(project="p", id="other001", resume="auto")
    assert run2.id == "other001" and run2.resumed is False
    assert "WARNING" in capsys.readouterr().err


def test_resume_must_while_other_run_active_returns_previous_by_default():
    _first_run()
    active = runstore.init(project="p", id="act00001")
    again = runstore.init(project="p", id="r1", resume="must")
    assert again is active


# -- reinit ---------------------------------------------------------------------------------------------
def test_second_init_returns_same_object_and_creates_no_run_dir(tmp_path):
    r1 = runstore.init(project="p")
    dirs = all_run_dirs(tmp_path / ".wandb")
    r2 = runstore.init(project="p", config={"ignored": 1})
    assert r2 is r1
    assert all_run_dirs(tmp_path / ".wandb") == dirs and len(dirs) == 1
    r2 = runstore.init(project="other", reinit="return_previous")
    assert r2 is r1
    assert all_run_dirs(tmp_path / ".wandb") == dirs


@pytest.mark.parametrize("policy", ["finish_previous", True])
def test_reinit_finish_previous(policy, tmp_path):
    r1 = runstore.init(project="p")
    r1.log({"a": 1}, commit=False)  # pending: must be flushed by the implicit finish
    r2 = runstore.init(project="p", reinit=policy)
    assert r2 is not r1 and r2.id != r1.id
    assert runstore.run is r2
    st1 = run_state(r1)
    assert st1.state == "finished" and st1.exit_code == 0
    assert [r["a"] for r in history(r1)] == [1]
    assert len(all_run_dirs(tmp_path / ".wandb")) == 2
    runstore.log({"b": 2})
    r2.finish()
    assert [r["b"] for r in history(r2)] == [2]


def test_reinit_create_new_keeps_globals_on_first(tmp_path):
    r1 = runstore.init(project="p")
    r2 = runstore.init(project="p", reinit="create_new")
    assert r2 is not r1
    assert runstore.run is r1
    assert runstore.config is r1.config
    runstore.log({"who": 1})
    r2.log({"who": 2})
    r2.log({"who": 3})
    assert run_state(r2).state == "running"
    r2.finish()
    assert runstore.run is r1  # finishing the second run leaves the first as the global
    r1.finish()
    assert [r["who"] for r in history(r1)] == [1]
    assert [r["who"] for r in history(r2)] == [2, 3]
    assert runstore.run is None


def test_after_finish_a_new_init_starts_a_new_run():
    r1 = runstore.init(project="p")
    r1.finish()
    r2 = runstore.init(project="p")
    assert r2 is not r1 and r2.id != r1.id


# -- context manager --------------------------------------------------------------------------------------
def test_with_block_normal_exit_finishes():
    with runstore.init(project="p") as run:
        run.log({"a": 1})
        run.log({"b": 1}, commit=False)
    st = run_state(run)
    assert st.state == "finished" and st.exit_code == 0
    assert [user_keys(r) for r in history(run)] == [{"a": 1}, {"b": 1}]
    assert runstore.run is None


def test_with_block_exception_fails_and_reraises():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), runstore.init(project="p") as run:
        run.log({"a": 1})
        raise Boom("x")
    st = run_state(run)
    assert st.state == "failed"
    assert st.exit_code == 1
    assert [r["a"] for r in history(run)] == [1]
    assert runstore.run is None


# -- fork_from / resume_from ------------------------------------------------------------------------------
def _ten_steps(run_id="par00001"):
    run = runstore.init(project="p", id=run_id, config={"lr": 0.1})
    for i in range(10):
        run.log({"x": i})
    run.finish()
    return run


def test_fork_from():
    parent = _ten_steps()
    child = runstore.init(project="p", fork_from=f"{parent.id}?_step=4", config={"extra": True})
    assert child.id != parent.id
    assert child.step == 5
    assert child.config.lr == 0.1 and child.config.extra is True
    assert child.config["_wandb"]["branch_point"] == {"run_id": parent.id, "step": 4}
    assert child.summary["x"] == 4
    child.log({"x": 100})
    child.finish()
    rows = history(child)
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["x"] for r in rows] == [0, 1, 2, 3, 4, 100]
    assert [r["x"] for r in history(parent)] == list(range(10))  # the parent is untouched
    st = run_state(child)
    assert st.config["_wandb"]["branch_point"] == {"run_id": parent.id, "step": 4}
    assert st.summary["x"] == 100
    assert run_state(parent).summary["x"] == 9


def test_fork_from_unknown_run_and_bad_spec():
    with pytest.raises(runstore.UsageError):
        runstore.init(project="p", fork_from="nothere1?_step=3")
    _ten_steps()
    with pytest.raises(ValueError):
        runstore.init(project="p", fork_from="par00001")
    with pytest.raises(ValueError):
        runstore.init(project="p", fork_from="par00001?_step=abc")


def test_resume_from_starts_a_new_history_generation_and_rewrites_nothing():
    run = _ten_steps()
    rd = run._ref.path
    before = (rd / "history.jsonl").read_bytes()
    r = runstore.init(project="p", resume_from=f"{run.id}?_step=4")
    assert r.id == run.id and r.resumed is True
    assert r.step == 5
    assert r.summary["x"] == 4
    assert r.config.lr == 0.1
    r.log({"x": 50})
    r.finish()
    rows = history(r)
    assert [(row["_step"], row["x"]) for row in rows] == [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 50)]
    # The old generation is untouched, byte for byte (a replica that copied it by offset stays right);
    # the new one is named by the rewind record.
    assert (rd / "history.jsonl").read_bytes() == before
    assert [row["x"] for row in iter_rows(rd / "history.1.jsonl")] == [0, 1, 2, 3, 4, 50]
    assert [e["history"] for e in events(r, "rewind")] == ["history.1.jsonl"]
    assert not list(rd.glob("history.rewound-*"))
    st = run_state(r)
    assert st.history_path == rd / "history.1.jsonl"
    assert st.summary["x"] == 50 and st.summary["_step"] == 5
    assert st.state == "finished"


def test_second_rewind_starts_the_next_generation_and_resume_appends_to_it():
    run = _ten_steps()
    rd = run._ref.path
    runstore.init(project="p", resume_from=f"{run.id}?_step=6").finish()
    (rd / "history.2.jsonl").write_bytes(b"")  # an orphan (a crash between file and record): never reused
    r = runstore.init(project="p", resume_from=f"{run.id}?_step=2")
    r.log({"x": 30})
    r.finish()
    assert [row["x"] for row in history(r)] == [0, 1, 2, 30]
    assert [e["history"] for e in events(r, "rewind")] == ["history.1.jsonl", "history.3.jsonl"]
    assert [row["x"] for row in iter_rows(rd / "history.1.jsonl")] == list(range(7))
    r = runstore.init(project="p", id=run.id, resume="allow")
    assert r.step == 4
    r.log({"x": 40})
    r.finish()
    assert [row["x"] for row in iter_rows(rd / "history.3.jsonl")] == [0, 1, 2, 30, 40]
    assert runstore.Api().run(f"p/{run.id}").summary["x"] == 40


def test_resume_from_without_new_logs_summary_reflects_rewind():
    run = _ten_steps()
    r = runstore.init(project="p", resume_from=f"{run.id}?_step=2")
    r.finish()
    st = run_state(r)
    assert st.summary["x"] == 2
    assert [row["_step"] for row in history(r)] == [0, 1, 2]


def test_resume_from_unknown_run():
    with pytest.raises(runstore.UsageError):
        runstore.init(project="p", resume_from="nothere1?_step=0")
