"""Library first: what the CLI shows comes from library calls a user can make too (runs named the way
people name them, `Run.to_dict()`, `compare`, the `Sweep` view); the clock and the environment are
injected, not patched."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest import FakeClock, clocked_run, run_cli
from test_sweep_agent_helpers import in_process_sweep

import runstore
from runstore.api import Api, compare
from runstore.base import term
from runstore.errors import RunNotFound, UsageError


def _runs(*names: str, project: str = "p") -> list[runstore.sdk.run.Run]:
    out = []
    for i, name in enumerate(names):
        run = runstore.init(project=project, name=name, config={"lr": 0.1 * (i + 1), "bs": 32})
        run.log({"acc": 0.5 + i / 10})
        run.finish(quiet=True)
        out.append(run)
    return out


# -- naming runs --------------------------------------------------------------------------------------
def test_api_run_takes_latest_prefixes_names_paths_and_directories() -> None:
    a, b = _runs("alpha", "beta")
    api = Api()
    assert api.run("latest").id == b.id
    assert api.run(a.id[:5] if not b.id.startswith(a.id[:5]) else a.id).id == a.id
    assert api.run("alpha").id == a.id
    assert api.run(f"p/{a.id}").id == a.id and api.run(f"ent/p/{a.id}").id == a.id
    assert api.run(f"ent/p/runs/{a.id}").id == a.id
    assert api.run(a.sync_dir).id == a.id and api.run(a.dir).id == a.id  # the run's directory, its files/
    assert api.run("alpha", project="p").id == a.id
    with pytest.raises(RunNotFound):
        api.run("alpha", project="other")
    with pytest.raises(RunNotFound, match="no run matches 'nothing'"):
        api.run("nothing")


def test_an_ambiguous_prefix_names_the_candidates() -> None:
    for i in range(2):
        runstore.init(project="p", id=f"abc{i}xxxx").finish(quiet=True)
    with pytest.raises(UsageError, match="ambiguous: it matches p/abc0xxxx, p/abc1xxxx"):
        Api().run("abc")
    assert Api().run("abc1").id == "abc1xxxx"


def test_latest_without_runs_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / ".wandb").mkdir()
    with pytest.raises(RunNotFound, match="no latest run"):
        Api().run("latest")


# -- one dict per run, one comparison -------------------------------------------------------------------
def test_to_dict_is_what_ls_json_prints(capsys) -> None:
    a, b = _runs("alpha", "beta")
    code, out, _ = run_cli(capsys, "ls", "--json", "--sort", "+created_at")
    assert code == 0
    assert json.loads(out) == [json.loads(json.dumps(Api().run(r.id).to_dict())) for r in (a, b)]
    d = Api().run(a.id).to_dict()
    assert {k: d[k] for k in ("id", "name", "project", "state", "exit_code", "config")} == {
        "id": a.id,
        "name": "alpha",
        "project": "p",
        "state": "finished",
        "exit_code": 0,
        "config": {"lr": 0.1, "bs": 32},
    }
    assert d["summary"]["acc"] == 0.5


def test_to_dict_does_not_show_unsaved_edits() -> None:
    (a,) = _runs("alpha")
    r = Api().run(a.id)
    r.config["lr"] = 9
    r.name = "edited"
    assert r.to_dict()["config"]["lr"] == 0.1 and r.to_dict()["name"] == "alpha"
    r.update()
    assert Api().run(a.id).to_dict()["config"]["lr"] == 9


def test_compare_is_what_diff_json_prints(capsys) -> None:
    a, b = _runs("alpha", "beta")
    result = compare(Api().run(a.id), Api().run(b.id))
    assert result["config"] == {"lr": [0.1, 0.2]}
    assert "bs" not in result["config"] and result["summary"]["acc"] == [0.5, 0.6]
    code, out, _ = run_cli(capsys, "diff", a.id, b.id, "--json")
    doc = json.loads(out)
    assert code == 0 and {k: doc[k] for k in result} == json.loads(json.dumps(result))
    assert doc["a"]["name"] == "alpha" and doc["b"]["state"] == "finished" and "config" not in doc["a"]
    assert compare(Api().run(a.id), Api().run(b.id), show_all=True)["config"]["bs"] == [32, 32]


# -- sweeps ---------------------------------------------------------------------------------------------
def _sweep_with_two_trials(monkeypatch: pytest.MonkeyPatch) -> str:
    return in_process_sweep(monkeypatch, 2, lambda c: {"acc": c.x / 10})


def test_the_sweep_view_and_sweep_show_json(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    sid = _sweep_with_two_trials(monkeypatch)
    sw = Api().sweep(sid)
    assert [t["params"]["x"] for t in sw.trials()] == [1, 2] and {t["state"] for t in sw.trials()} == {
        "finished"
    }
    assert sw.order == "-summary_metrics.acc" and sw.expected_run_count == 3
    assert [r.config["x"] for r in sw.ranked_runs()] == [2, 1]
    assert sw.best_run().config["x"] == 2
    d = sw.to_dict()
    assert (d["id"], d["state"], d["method"], d["runs"], d["expected_run_count"]) == (
        sid,
        "RUNNING",
        "grid",
        2,
        3,
    )
    assert [s.id for s in Api().sweeps()] == [sid]
    code, out, _ = run_cli(capsys, "sweep", "show", sid, "--json")
    shown = json.loads(out)
    assert code == 0 and shown["trials"] == json.loads(json.dumps(d["trials"]))
    assert [r["config"]["x"] for r in shown["runs"]] == [2, 1]
    code, out, _ = run_cli(capsys, "sweep", "ls", "--json")
    assert code == 0 and [s["id"] for s in json.loads(out)] == [sid]


# -- injected clock and environment ------------------------------------------------------------------------
def test_a_run_takes_its_clock(tmp_path: Path) -> None:
    clock = FakeClock(500.0)
    run = clocked_run(tmp_path, clock)
    for t in (501.0, 502.5):
        clock.now = t
        run.log({"x": t})
    clock.now = 510.0
    run.alert("a", "b")
    run.finish(quiet=True)
    r = Api().run("p/clocked1")
    assert [(row["_timestamp"], row["_runtime"]) for row in r.scan_history()] == [(501.0, 1.0), (502.5, 2.5)]
    assert r.runtime == 10.0 and r.summary["_runtime"] == 2.5
    alert = next(e for e in r._st.events if e["t"] == "alert")
    assert alert["time"] == 510.0


def test_a_run_and_the_terminal_take_their_environment_and_stream(tmp_path: Path) -> None:
    out = io.StringIO()
    t = term.Terminal(environ={}, stream=out)
    run = clocked_run(tmp_path, FakeClock(1.0), terminal=t)
    run.finish()
    run.log({"x": 1})  # after finish: a warning, through the run's terminal
    assert "WARNING run clocked1 is finished" in out.getvalue() and "finished after 0 steps" in out.getvalue()
    silent = term.Terminal(environ={"WANDB_SILENT": "true"}, stream=io.StringIO())
    silent.warn("x")
    assert silent._stream is not None and silent._stream.getvalue() == ""  # type: ignore[attr-defined]
    quiet = term.Terminal(environ={"RUNSTORE_QUIET": "yes"}, stream=io.StringIO())
    quiet.info("not shown")
    quiet.warn("shown")
    assert quiet._stream.getvalue() == "runstore: WARNING shown\n"  # type: ignore[union-attr]


def test_use_swaps_the_terminal_of_the_module_functions() -> None:
    out = io.StringIO()
    old = term.use(term.Terminal(environ={}, stream=out))
    try:
        runstore.termwarn("careful")
        term.info("hello")
    finally:
        term.use(old)
    assert out.getvalue() == "runstore: WARNING careful\nrunstore: hello\n"


# -- init(settings={"dir": ...}) ---------------------------------------------------------------------------
def test_settings_dir_chooses_the_store_like_dir(tmp_path: Path) -> None:
    there = tmp_path / "elsewhere"
    run = runstore.init(project="p", settings={"dir": str(there)})
    run.finish(quiet=True)
    assert Path(run.dir).is_relative_to(there / ".wandb")
    assert run.settings.root_dir == str(there)
    first = tmp_path / "first"
    run = runstore.init(project="p", dir=first, settings=runstore.Settings(root_dir=str(there)))
    run.finish(quiet=True)
    assert Path(run.dir).is_relative_to(first / ".wandb")  # the argument wins over settings
    with pytest.raises(TypeError, match="must be a path"):
        runstore.init(project="p", settings={"dir": 3})
