"""Broken, hostile and huge input: clear errors, nothing lost, training never stopped by tracking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import run_cli

import runstore
from runstore.errors import RunNotFound, StoreError, UsageError
from runstore.store.history import iter_rows
from runstore.store.runs import load_run
from runstore.store.store import Store

cli = run_cli


def test_unwritable_store_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="afile"):
        runstore.init(project="p", dir=blocker)
    assert runstore.run is None


def test_full_disk_during_training_warns_and_training_continues(capfd) -> None:
    run = runstore.init(project="p")
    runstore.log({"before": 1})
    full = os.open("/dev/full", os.O_WRONLY)  # every write fails with ENOSPC, as on a full disk
    os.dup2(full, run._hfd)
    os.close(full)
    for i in range(5):
        runstore.log({"during": i})  # no exception reaches the training loop
    runstore.log({"nested": {"a": 1}})  # the slow path too
    assert run.step == 7
    run.finish(quiet=True)
    err = capfd.readouterr().err
    assert err.count("No space left on device") == 1  # one warning, not one per step
    st = load_run(run._ref)
    assert st.state == "finished" and [r["before"] for r in iter_rows(run._ref.path / "history.jsonl")] == [1]


def test_garbage_in_run_log_is_skipped(tmp_path: Path, capsys) -> None:
    run = runstore.init(project="p", config={"lr": 0.1})
    runstore.log({"acc": 0.5})
    run.finish(quiet=True)
    log = run._ref.path / "run.jsonl"
    with log.open("ab") as f:
        f.write(b'\x00\xff\xfe garbage\n[1, 2, 3]\n"a string"\nnull\n')
        f.write(
            b'{"t": "config", "set": [1, 2]}\n{"t": "edit", "set": "x"}\n{"t": "resume", "time": "soon"}\n'
        )
        f.write(b'{"t": "summary", "step": "x", "set": 5}\n{"t": "summary", "step": 9, "set": [[5, 1]]}\n')
        f.write(b'{"t": "metric", "name": 7}\n{"t": "metric", "name": "acc", "summary": 3}\n')
        f.write(b'{"t": "exit", "code": "boom", "runtime": "long", "summary": [1]}\n')
    r = runstore.Api().run(f"p/{run.id}")
    assert r.config == {"lr": 0.1}
    assert r.summary["acc"] == 0.5
    assert r.state == "failed"  # a non-integer exit code reads as a failure, not a crash of the reader
    code, out, _ = cli(capsys, "ls", "--json")
    assert code == 0 and run.id in out


def test_garbage_in_history_is_skipped() -> None:
    run = runstore.init(project="p")
    runstore.log({"acc": 0.1})
    run.finish(quiet=True)
    hist = run._ref.path / "history.jsonl"
    with hist.open("ab") as f:
        f.write(b'not json\n[1]\n{"_step": "7", "acc": 9}\n{"_step": 1, "_timestamp": "late", "acc": 0.2}\n')
    r = runstore.Api().run(f"p/{run.id}")
    rows = list(r.scan_history(keys=["acc"]))
    assert [x["acc"] for x in rows] == [0.1, 0.2]  # a row needs an integer _step
    assert len(r.history(samples=None)) == 2
    # resuming appends after the junk without losing the next row
    run2 = runstore.init(project="p", id=run.id, resume="allow")
    runstore.log({"acc": 0.3})
    run2.finish(quiet=True)
    assert [x["acc"] for x in iter_rows(hist)][-1] == 0.3
    assert runstore.Api().run(f"p/{run.id}").summary["acc"] == 0.3


def test_broken_settings_file(tmp_path: Path, capfd) -> None:
    store = tmp_path / ".wandb"
    store.mkdir()
    (store / "settings.yaml").write_text("project: [unclosed\n")
    run = runstore.init(project="p")  # training still starts, with one warning
    run.finish(quiet=True)
    assert "settings.yaml line 2, column 1: the settings file is not valid YAML" in capfd.readouterr().err
    code, _, err = cli(capfd, "status")
    assert code == 1 and "settings.yaml" in err and "Traceback" not in err
    (store / "settings.yaml").write_text("!!python/object/apply:os.system ['echo pwned > /tmp/rs-pwned']\n")
    code, _, err = cli(capfd, "status")
    assert code == 1 and not Path("/tmp/rs-pwned").exists()
    (store / "settings.yaml").write_text("- just\n- a list\n")
    code, _, err = cli(capfd, "status")
    assert code == 1 and "mapping" in err


def test_paths_cannot_escape_the_store(tmp_path: Path, capsys) -> None:
    rid = runstore.init(project="p").id
    runstore.finish()
    outside = tmp_path / "outside" / "runs" / "x"
    outside.mkdir(parents=True)
    (outside / "run.jsonl").write_text('{"t":"init","id":"x","created":0}\n')
    api = runstore.Api()
    for bad in ("../../outside/x", "p/../../outside/x", "../x", "p/.."):
        with pytest.raises((RunNotFound, UsageError)):
            api.run(bad)
    assert Store(tmp_path / ".wandb").find_run_by_id("..", "p") is None
    code, _, err = cli(capsys, "diff", "..", rid)
    assert code == 1 and "Traceback" not in err


def test_huge_values_round_trip() -> None:
    big = "x" * 1_000_000
    run = runstore.init(project="p", config={"blob": big})
    wide = {f"m{i}": i * 0.5 for i in range(10_000)}
    runstore.log(wide)
    runstore.log({"text": big})
    run.finish(quiet=True)
    r = runstore.Api().run(f"p/{run.id}")
    assert r.config["blob"] == big
    rows = list(r.scan_history())
    assert rows[0]["m9999"] == 4999.5 and rows[1]["text"] == big
    assert r.summary["m1234"] == 617.0


def test_config_yaml_errors_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "cfg.yaml"
    bad.write_text("lr: 0.1\nbs: [1, 2\n")
    with pytest.raises(ValueError, match=r"cfg\.yaml.*line"):
        runstore.init(project="p", config=str(bad))
    with pytest.raises(ValueError, match="does not exist"):
        runstore.init(project="p", config=str(tmp_path / "missing.yaml"))
