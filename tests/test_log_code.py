"""run.log_code(): source files as a `code` artifact and into the run's files under code/ (docs/COMPAT.md §8),
and run.status()."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import runstore


def tree(root: Path) -> None:
    for rel, text in {
        "train.py": "x = 1\n",
        "pkg/sub/model.py": "y = 2\n",
        "pkg/notes.txt": "not code\n",
        ".git/hooks/pre.py": "skip\n",
        ".venv/lib/site.py": "skip\n",
        "__pycache__/c.py": "skip\n",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def code_of(run) -> dict[str, str]:
    base = Path(run.dir) / "code"
    return {str(p.relative_to(base)): p.read_text() for p in base.rglob("*") if p.is_file()}


def test_python_files_by_default_skipping_vcs_venvs_and_caches(tmp_path):
    tree(tmp_path / "src")
    (tmp_path / "src" / "link.py").symlink_to("/etc/hostname")
    run = runstore.init(project="p")
    art = run.log_code("src")
    assert code_of(run) == {"train.py": "x = 1\n", os.path.join("pkg", "sub", "model.py"): "y = 2\n"}
    run.finish()
    names = {f.name for f in runstore.Api().run(f"p/{run.id}").files()}
    assert {"code/train.py", "code/pkg/sub/model.py"} <= names
    # wandb's `code` artifact, named after the project and the program
    assert art is not None and art.type == "code" and art.name.startswith("source-p-")
    got = runstore.Api().artifact(f"p/{art.name}")
    assert [e.path for e in got.files()] == ["pkg/sub/model.py", "train.py"]
    root = Path(got.download(tmp_path / "dl"))
    assert (root / "pkg" / "sub" / "model.py").read_text() == "y = 2\n"
    assert [a.name for a in runstore.Api().run(f"p/{run.id}").logged_artifacts()] == [art.name]


def test_include_and_exclude_predicates_take_path_and_root(tmp_path):
    tree(tmp_path / "src")
    run = runstore.init(project="p")
    seen = []

    def include(path, root):
        seen.append(root)
        return path.endswith((".py", ".txt"))

    art = run.log_code("src", name="my-code", include_fn=include, exclude_fn=lambda path: "sub" in path)
    assert art is not None and art.name == "my-code:v0"
    assert set(code_of(run)) == {"train.py", os.path.join("pkg", "notes.txt")}
    assert set(seen) == {str(tmp_path / "src")}
    run.finish()


def test_bad_roots_are_errors_and_an_empty_tree_warns(tmp_path, capsys):
    run = runstore.init(project="p")
    with pytest.raises(ValueError, match="not a directory"):
        run.log_code("missing")
    with pytest.raises(TypeError, match="directory path"):
        run.log_code(3)
    (tmp_path / "empty").mkdir()
    assert run.log_code("empty") is None
    assert "no files matched" in capsys.readouterr().err
    run.finish()


def test_status_without_a_remote_has_nothing_pending():
    run = runstore.init(project="p")
    run.log({"a": 1})
    st = run.status()
    assert st.sync_items_pending == 0 and st.sync_time is None
    assert st.sync_items_total >= 1
    run.finish()
