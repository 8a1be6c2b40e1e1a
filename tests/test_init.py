"""runstore.init(): parameters, ids and names, type checks, modes, env vars, settings files, globals."""

from __future__ import annotations

import inspect
import re
import string
from pathlib import Path

import pytest
from conftest import all_run_dirs, history, run_script, run_state, warnings_in

import runstore
from runstore.sdk.settings import Settings

WANDB_PARAMS = [
    "entity",
    "project",
    "dir",
    "id",
    "name",
    "notes",
    "tags",
    "config",
    "config_exclude_keys",
    "config_include_keys",
    "allow_val_change",
    "group",
    "job_type",
    "mode",
    "force",
    "reinit",
    "resume",
    "resume_from",
    "fork_from",
    "save_code",
    "tensorboard",
    "sync_tensorboard",
    "monitor_gym",
    "settings",
    "anonymous",
]


def test_signature_has_every_wandb_parameter():
    params = inspect.signature(runstore.init).parameters
    for p in WANDB_PARAMS:
        assert p in params, p
        assert params[p].default is None, p


def test_every_wandb_parameter_is_accepted(tmp_path):
    run = runstore.init(
        entity="me",
        project="proj",
        dir=str(tmp_path / "d"),
        id="abc12345",
        name="my-run",
        notes="some notes",
        tags=["t1", "t2"],
        config={"a": 1, "b": 2, "c": 3},
        config_exclude_keys=["c"],
        config_include_keys=None,
        allow_val_change=False,
        group="grp",
        job_type="train",
        mode="offline",
        force=False,
        reinit="default",
        resume="allow",
        resume_from=None,
        fork_from=None,
        save_code=False,
        tensorboard=False,
        sync_tensorboard=False,
        monitor_gym=False,
        settings={},
        anonymous="allow",
    )
    assert run.id == "abc12345"
    assert run.project == "proj"
    assert run.entity == "me"
    assert run.path == "me/proj/abc12345"
    assert run.name == "my-run"
    assert run.notes == "some notes"
    assert run.tags == ("t1", "t2")
    assert run.group == "grp"
    assert run.job_type == "train"
    assert run.offline is True and run.disabled is False and run.resumed is False
    assert dict(run.config) == {"a": 1, "b": 2}
    assert run.url == run.get_url() == Path(run.dir).parent.as_uri()  # a file:// URL, never None
    run.finish()
    st = run_state("abc12345", root=tmp_path / "d" / ".wandb")
    assert st.info["name"] == "my-run"
    assert st.info["notes"] == "some notes"
    assert st.info["tags"] == ["t1", "t2"]
    assert st.info["group"] == "grp"
    assert st.info["job_type"] == "train"
    assert st.info["entity"] == "me"
    assert st.config == {"a": 1, "b": 2}
    assert st.state == "finished"


def test_config_include_keys_as_init_parameter():
    run = runstore.init(project="p", config={"a": 1, "b": 2, "c": 3}, config_include_keys=["a", "c"])
    assert dict(run.config) == {"a": 1, "c": 3}


def test_legacy_bool_reinit_and_resume_accepted():
    run = runstore.init(project="p", reinit=True, resume=False)
    assert run.resumed is False
    run2 = runstore.init(project="p", reinit=False)
    assert run2 is run


def test_unknown_kwarg_warns_exactly_once_and_does_not_raise(capsys):
    run = runstore.init(project="p", magic=True)
    err = capsys.readouterr().err
    w = warnings_in(err)
    assert len(w) == 1, err
    assert "magic" in w[0]
    run.log({"a": 1})
    run.finish()
    assert len(history(run)) == 1


def test_tensorboard_flags_warn_not_raise(capsys):
    run = runstore.init(project="p", sync_tensorboard=True, monitor_gym=True)
    w = warnings_in(capsys.readouterr().err)
    assert len(w) == 1
    assert run.id


def test_id_is_8_chars_of_lowercase_alnum():
    ids = set()
    for _ in range(5):
        run = runstore.init(project="p", reinit="finish_previous")
        assert re.fullmatch(r"[a-z0-9]{8}", run.id), run.id
        ids.add(run.id)
    assert len(ids) == 5


def test_generated_name_is_adjective_noun_n():
    r1 = runstore.init(project="p")
    r1.finish()
    r2 = runstore.init(project="p")
    r2.finish()
    m1 = re.fullmatch(r"([a-z]+)-([a-z]+)-(\d+)", r1.name)
    m2 = re.fullmatch(r"([a-z]+)-([a-z]+)-(\d+)", r2.name)
    assert m1 and m2, (r1.name, r2.name)
    assert (int(m1.group(3)), int(m2.group(3))) == (1, 2)
    from runstore.base import names

    assert m1.group(1) in names.ADJECTIVES and m1.group(2) in names.NOUNS
    assert run_state(r1).info["name"] == r1.name


def test_explicit_name_is_kept():
    run = runstore.init(project="p", name="exact name")
    assert run.name == "exact name"


def test_name_notes_tags_settable_later_and_persisted():
    run = runstore.init(project="p", tags=["a"])
    run.name = "renamed"
    run.notes = "n2"
    run.tags += ("b",)
    run.group = "g2"
    assert run.tags == ("a", "b")
    with pytest.raises(TypeError):
        run.name = 5
    with pytest.raises(TypeError):
        run.tags = "abc"
    run.finish()
    info = run_state(run).info
    assert (info["name"], info["notes"], info["tags"], info["group"]) == ("renamed", "n2", ["a", "b"], "g2")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"project": 5},
        {"name": 3.0},
        {"notes": ["x"]},
        {"id": 12345678},
        {"entity": b"me"},
        {"group": 1},
        {"job_type": object()},
        {"tags": "single-string"},
        {"tags": ["ok", 3]},
        {"dir": 5},
        {"config": 5},
        {"config": [("a", 1)]},
    ],
)
def test_bad_types_raise_type_error(kwargs, tmp_path):
    with pytest.raises(TypeError):
        runstore.init(**{"project": "p", **kwargs})
    assert runstore.run is None
    assert all_run_dirs(tmp_path / ".wandb") == []


@pytest.mark.parametrize("project", ["a/b", "a\\b", "a#b", "a?b", "a%b", "a:b", "a\nb", "x" * 129, "..", "."])
def test_invalid_project_names_raise_value_error(project, tmp_path):
    with pytest.raises(ValueError):
        runstore.init(project=project)
    assert runstore.run is None
    assert all_run_dirs(tmp_path / ".wandb") == []


@pytest.mark.parametrize("run_id", ["a/b", "a:b", "a?b", "x" * 200])
def test_invalid_run_ids_raise_value_error(run_id):
    with pytest.raises(ValueError):
        runstore.init(project="p", id=run_id)


def test_project_name_of_128_chars_is_fine():
    run = runstore.init(project="x" * 128)
    assert run.project == "x" * 128


def test_mutually_exclusive_resume_options():
    with pytest.raises(ValueError):
        runstore.init(project="p", resume="allow", fork_from="abc?_step=1")
    with pytest.raises(ValueError):
        runstore.init(project="p", resume_from="abc?_step=1", fork_from="abc?_step=1")


def test_bad_reinit_and_mode_values():
    with pytest.raises(ValueError):
        runstore.init(project="p", reinit="sometimes")
    with pytest.raises(ValueError):
        runstore.init(project="p", mode="turbo")
    with pytest.raises(ValueError):
        runstore.init(project="p", resume="maybe")


# -- modes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "mode,expected", [("online", "online"), ("offline", "offline"), ("dryrun", "offline"), ("run", "online")]
)
def test_writing_modes(mode, expected):
    run = runstore.init(project="p", mode=mode)
    assert run.mode == expected
    assert run.offline is (expected == "offline")
    run.log({"a": 1})
    run.finish()
    assert [r["a"] for r in history(run)] == [1]
    assert run_state(run).info["mode"] == expected


def _exercise(run):
    run.config.lr = 0.1
    run.config.update({"b": 2})
    run.config["c"] = 3
    run.summary["best"] = 1
    run.summary.update({"x": 2})
    run.define_metric("loss", summary="min")
    run.log({"loss": 1.0})
    run.log({"loss": 0.5}, step=5, commit=False)
    runstore.log({"y": 1})
    run.mark_preempting()
    run.alert("t", "x")
    run.name = "renamed"
    run.finish()
    run.finish()
    runstore.finish()


def test_disabled_mode_writes_nothing_and_every_call_is_a_noop(tmp_path):
    before = sorted(tmp_path.rglob("*"))
    run = runstore.init(project="p", mode="disabled", config={"a": 1})
    assert run.disabled is True
    assert runstore.run is run
    assert run.config.a == 1
    assert re.fullmatch(r"[a-z0-9]{8}", run.id)
    assert run.name == f"dummy-{run.id}"
    _exercise(run)
    assert runstore.run is None
    assert sorted(tmp_path.rglob("*")) == before == []
    assert not Path(run.dir).exists()


def test_disabled_with_dir_writes_nothing(tmp_path):
    run = runstore.init(project="p", mode="disabled", dir=str(tmp_path / "d"))
    _exercise(run)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "env",
    [
        {"WANDB_MODE": "disabled"},
        {"WANDB_DISABLED": "true"},
        {"RUNSTORE_MODE": "disabled"},
        {"WANDB_DISABLED": "1"},
    ],
)
def test_disabled_via_env_writes_nothing(tmp_path, monkeypatch, env):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    run = runstore.init(project="p")
    assert run.disabled is True
    _exercise(run)
    assert list(tmp_path.iterdir()) == []


def test_wandb_disabled_false_does_not_disable(monkeypatch):
    monkeypatch.setenv("WANDB_DISABLED", "false")
    run = runstore.init(project="p")
    assert run.disabled is False


def test_mode_disabled_second_init_then_real_run(tmp_path):
    d = runstore.init(project="p", mode="disabled")
    d.finish()
    run = runstore.init(project="p")
    run.log({"a": 1})
    run.finish()
    assert len(all_run_dirs(tmp_path / ".wandb")) == 1


# -- env vars --------------------------------------------------------------------------------------
def test_env_vars_fill_init_fields(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    monkeypatch.setenv("WANDB_PROJECT", "envproj")
    monkeypatch.setenv("WANDB_RUN_ID", "envid123")
    monkeypatch.setenv("WANDB_NAME", "env-name")
    monkeypatch.setenv("WANDB_NOTES", "env notes")
    monkeypatch.setenv("WANDB_TAGS", "a, b,c")
    monkeypatch.setenv("WANDB_RUN_GROUP", "envgroup")
    monkeypatch.setenv("WANDB_JOB_TYPE", "eval")
    run = runstore.init()
    assert run.mode == "offline"
    assert run.project == "envproj"
    assert run.id == "envid123"
    assert run.name == "env-name"
    assert run.notes == "env notes"
    assert run.tags == ("a", "b", "c")
    assert run.group == "envgroup"
    assert run.job_type == "eval"
    run.finish()
    info = run_state("envid123", "envproj").info
    assert info["tags"] == ["a", "b", "c"] and info["group"] == "envgroup" and info["job_type"] == "eval"


def test_explicit_arguments_win_over_env(monkeypatch):
    monkeypatch.setenv("WANDB_PROJECT", "envproj")
    monkeypatch.setenv("WANDB_NAME", "env-name")
    monkeypatch.setenv("WANDB_TAGS", "x")
    run = runstore.init(project="argproj", name="arg-name", tags=["y"])
    assert (run.project, run.name, run.tags) == ("argproj", "arg-name", ("y",))


def test_wandb_resume_and_run_id_env(monkeypatch):
    monkeypatch.setenv("WANDB_RUN_ID", "requeue1")
    r1 = runstore.init(project="p")
    r1.log({"a": 1})
    r1.finish(exit_code=1)
    monkeypatch.setenv("WANDB_RESUME", "allow")
    r2 = runstore.init(project="p")
    assert r2.id == "requeue1" and r2.resumed is True
    assert r2.step == 1


def test_wandb_resume_must_env_on_unknown_id(monkeypatch):
    monkeypatch.setenv("WANDB_RUN_ID", "nothere1")
    monkeypatch.setenv("WANDB_RESUME", "must")
    with pytest.raises(runstore.UsageError):
        runstore.init(project="p")


@pytest.mark.parametrize(
    "suffix,rs,wb,attr,expected",
    [
        ("PROJECT", "rsproj", "wbproj", "project", "rsproj"),
        ("NAME", "rsname", "wbname", "name", "rsname"),
        ("NOTES", "rsnotes", "wbnotes", "notes", "rsnotes"),
        ("TAGS", "r1,r2", "w1", "tags", ("r1", "r2")),
        ("RUN_GROUP", "rsg", "wbg", "group", "rsg"),
        ("JOB_TYPE", "rsj", "wbj", "job_type", "rsj"),
        ("RUN_ID", "rsid0001", "wbid0001", "id", "rsid0001"),
        ("MODE", "offline", "disabled", "mode", "offline"),
    ],
)
def test_runstore_env_wins_over_wandb_env(monkeypatch, suffix, rs, wb, attr, expected):
    monkeypatch.setenv(f"WANDB_{suffix}", wb)
    monkeypatch.setenv(f"RUNSTORE_{suffix}", rs)
    run = runstore.init(project=None if suffix == "PROJECT" else "p")
    assert getattr(run, attr) == expected


def test_wandb_silent_suppresses_all_runstore_output(monkeypatch, capfd):
    monkeypatch.setenv("WANDB_SILENT", "true")
    run = runstore.init(project="p", magic=True)
    run.log({"a": 1})
    run.log({"b": 1}, step=0)  # would warn (dropped)
    run.finish()
    run.log({"c": 1})  # would warn (after finish)
    out = capfd.readouterr()
    assert out.err == "" and out.out == ""


def test_without_silent_there_is_output(capfd):
    # the counterpart of the test above: the same calls do print something
    run = runstore.init(project="p", magic=True)
    run.log({"a": 1})
    run.log({"b": 1}, step=0)
    run.finish()
    run.log({"c": 1})
    out = capfd.readouterr()
    assert len(warnings_in(out.err)) == 3


def test_silent_subprocess_prints_nothing(tmp_path):
    code = """
        import runstore
        run = runstore.init(project="p", magic=1)
        run.log({"a": 1})
        run.log({"a": 1}, step=0)
    """
    loud = run_script(code, tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "runstore" in loud.stderr
    quiet = run_script(code, tmp_path, env={"WANDB_SILENT": "true"})
    assert quiet.returncode == 0
    assert quiet.stderr == "" and quiet.stdout == ""


# -- settings files --------------------------------------------------------------------------------
def test_settings_yaml_project_and_mode_used_when_nothing_else_set(store):
    store.write_settings({"project": "fileproj", "mode": "offline"})
    run = runstore.init()
    assert run.project == "fileproj"
    assert run.mode == "offline"


def test_settings_yaml_loses_to_env_and_args(store, monkeypatch):
    store.write_settings({"project": "fileproj", "mode": "offline"})
    monkeypatch.setenv("WANDB_PROJECT", "envproj")
    run = runstore.init()
    assert run.project == "envproj" and run.mode == "offline"
    run.finish()
    run = runstore.init(project="argproj", mode="online")
    assert run.project == "argproj" and run.mode == "online"


def test_settings_yaml_mode_disabled_writes_no_run(store, tmp_path):
    store.write_settings({"mode": "disabled"})
    before = sorted(tmp_path.rglob("*"))
    run = runstore.init(project="p")
    assert run.disabled is True
    run.log({"a": 1})
    run.finish()
    assert sorted(tmp_path.rglob("*")) == before


def test_broken_settings_yaml_warns_and_uses_defaults(store, capsys):
    store.ensure()
    store.settings_path.write_text("project: [unclosed\n")
    run = runstore.init(project="p")
    assert run.project == "p"
    assert len(warnings_in(capsys.readouterr().err)) == 1


def test_init_settings_argument_dict_and_object():
    run = runstore.init(settings={"project": "sp", "run_name": "sn", "mode": "offline"})
    assert (run.project, run.name, run.mode) == ("sp", "sn", "offline")
    run.finish()
    run = runstore.init(settings=Settings(project="sp2", run_tags=("q",)))
    assert run.project == "sp2" and run.tags == ("q",)
    run.finish()
    run = runstore.init(project="argwins", settings={"project": "sp3"})
    assert run.project == "argwins"


def test_unknown_setting_warns_not_raises(capsys):
    run = runstore.init(project="p", settings={"x_no_such_setting": 1})
    assert run.project == "p"
    assert len(warnings_in(capsys.readouterr().err)) == 1


# -- project inference (needs a real __main__ script) ------------------------------------------------
def test_project_inferred_uncategorized_outside_git(tmp_path):
    code = """
        import runstore
        run = runstore.init()
        print(run.project)
    """
    if any((d / ".git").exists() for d in (tmp_path, *tmp_path.parents)):
        pytest.skip("tmp dir is inside a git repo")
    r = run_script(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "uncategorized"


def test_project_inferred_from_git_repo_and_subdir(tmp_path):
    repo = tmp_path / "myrepo"
    (repo / ".git").mkdir(parents=True)
    (repo / "exp" / "a").mkdir(parents=True)
    code = "import runstore\nprint(runstore.init().project)\n"
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["RUNSTORE_DIR"] = str(tmp_path / ".wandb")
    env["RUNSTORE_DAEMON"] = "0"  # no daemon outliving the test
    for where, expected in ((repo, "myrepo"), (repo / "exp" / "a", "myrepo-exp_a")):
        (where / "train.py").write_text(code)
        r = subprocess.run(
            [sys.executable, str(where / "train.py")],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == expected


# -- module globals ------------------------------------------------------------------------------------
def test_globals_before_during_after():
    assert runstore.run is None
    with pytest.raises(runstore.Error):
        runstore.log({"a": 1})
    with pytest.raises(runstore.Error):
        _ = runstore.config.lr
    with pytest.raises(runstore.Error):
        runstore.config.lr = 1
    with pytest.raises(runstore.Error):
        runstore.summary["x"]
    run = runstore.init(project="p")
    assert runstore.run is run
    assert runstore.config is run.config
    assert runstore.summary is run.summary
    runstore.log({"a": 1})
    runstore.config.lr = 0.5
    runstore.finish()
    assert runstore.run is None
    with pytest.raises(runstore.Error):
        runstore.log({"a": 2})
    assert run.config.lr == 0.5
    assert [r["a"] for r in history(run)] == [1]
    assert run_state(run).state == "finished"


def test_log_reference_taken_before_init_dispatches_to_run():
    from runstore import log as early_log

    run = runstore.init(project="p")
    early_log({"a": 7})
    run.finish()
    assert [r["a"] for r in history(run)] == [7]


def test_run_attributes():
    run = runstore.init(project="p")
    assert run.entity == ""
    assert run.path == f"p/{run.id}"
    assert run.step == 0
    assert isinstance(run.start_time, float)
    assert Path(run.dir).is_dir() and Path(run.dir).name == "files"
    assert set(string.ascii_lowercase + string.digits) >= set(run.id)
