"""Where the store lives: RUNSTORE_DIR, WANDB_DIR, nearest .wandb/ above cwd, cwd/.wandb, init(dir=)."""

from __future__ import annotations

import os

from conftest import all_run_dirs

import runstore
from runstore.store.store import find_root


def test_runstore_dir_is_the_store_itself(tmp_path, monkeypatch):
    target = tmp_path / "elsewhere" / "mystore"
    monkeypatch.setenv("RUNSTORE_DIR", str(target))
    assert find_root() == target
    run = runstore.init(project="p")
    run.log({"a": 1})
    run.finish()
    assert (target / "projects" / "p" / "runs" / run.id / "run.jsonl").is_file()
    assert not (target / ".wandb").exists()
    assert not (tmp_path / ".wandb").exists()


def test_wandb_dir_is_the_parent(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNSTORE_DIR")
    parent = tmp_path / "wd"
    monkeypatch.setenv("WANDB_DIR", str(parent))
    assert find_root() == parent / ".wandb"
    run = runstore.init(project="p")
    run.finish()
    assert (parent / ".wandb" / "projects" / "p" / "runs" / run.id / "run.jsonl").is_file()
    assert not (tmp_path / ".wandb").exists()


def test_runstore_dir_wins_over_wandb_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "w"))
    monkeypatch.setenv("RUNSTORE_DIR", str(tmp_path / "r"))
    assert find_root() == tmp_path / "r"


def test_nearest_ancestor_dot_wandb(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNSTORE_DIR")
    (tmp_path / "repo" / ".wandb").mkdir(parents=True)
    (tmp_path / ".wandb").mkdir()  # farther away: must not be chosen
    deep = tmp_path / "repo" / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_root() == tmp_path / "repo" / ".wandb"
    run = runstore.init(project="p")
    run.finish()
    assert all_run_dirs(tmp_path / "repo" / ".wandb") == [
        tmp_path / "repo" / ".wandb" / "projects" / "p" / "runs" / run.id
    ]
    assert all_run_dirs(tmp_path / ".wandb") == []
    assert not (deep / ".wandb").exists()


def test_a_dot_wandb_file_is_not_a_store(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNSTORE_DIR")
    (tmp_path / ".wandb").mkdir()
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / ".wandb").write_text("not a dir")
    assert find_root(sub) == tmp_path / ".wandb"


def test_fallback_is_cwd_dot_wandb(tmp_path, monkeypatch):
    monkeypatch.delenv("RUNSTORE_DIR")
    work = tmp_path / "fresh"
    work.mkdir()
    monkeypatch.chdir(work)
    # tmp_path has no .wandb and (normally) nothing above it has one either
    expected = next((d / ".wandb" for d in (work, *work.parents) if (d / ".wandb").is_dir()), work / ".wandb")
    assert find_root() == expected
    assert find_root(start=work, environ={}) == expected


def test_find_root_explicit_env_mapping(tmp_path):
    assert find_root(start=tmp_path, environ={"RUNSTORE_DIR": str(tmp_path / "x")}) == tmp_path / "x"
    assert find_root(start=tmp_path, environ={"WANDB_DIR": str(tmp_path / "y")}) == tmp_path / "y" / ".wandb"


def test_init_dir_puts_store_under_dir(tmp_path):
    d = tmp_path / "not" / "yet" / "there"
    run = runstore.init(project="p", dir=str(d))
    run.log({"x": 1})
    run.finish()
    rd = d / ".wandb" / "projects" / "p" / "runs" / run.id
    assert (rd / "history.jsonl").is_file()
    assert run.sync_dir == str(rd)
    assert run.dir == str(rd / "files")
    assert os.path.isdir(run.dir)
    # the env store was not touched
    assert not (tmp_path / ".wandb").exists()


def test_init_dir_accepts_pathlike(tmp_path):
    run = runstore.init(project="p", dir=tmp_path / "pl")
    run.finish()
    assert (tmp_path / "pl" / ".wandb" / "projects" / "p" / "runs" / run.id).is_dir()
