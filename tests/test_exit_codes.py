"""Exit codes recorded by the exit hooks, in real interpreter processes."""

from __future__ import annotations

import pytest
from conftest import history, run_script, run_state, user_keys

HEAD = """
import sys, runstore
run = runstore.init(project="p", id="exit0001")
run.log({"a": 1})
run.log({"pending": 2}, commit=False)
"""


@pytest.mark.parametrize(
    "tail,state,code,rc",
    [
        ("", "finished", 0, 0),
        ("sys.exit(0)", "finished", 0, 0),
        ("sys.exit()", "finished", 0, 0),
        ("sys.exit(3)", "failed", 3, 3),
        ("sys.exit('bad config')", "failed", 1, 1),
        ("raise RuntimeError('boom')", "failed", 1, 1),
        ("raise KeyboardInterrupt", "failed", 255, None),
    ],
)
def test_exit_hook_records_exit_code(tmp_path, tail, state, code, rc):
    r = run_script(HEAD + tail + "\n", tmp_path)
    if rc is not None:
        assert r.returncode == rc, r.stderr
    else:
        assert r.returncode != 0
    st = run_state("exit0001", "p")
    assert st.exit_code == code, r.stderr
    assert st.state == state
    # the commit=False row is flushed by the hook's finish
    assert [user_keys(row) for row in history(st.path)] == [{"a": 1}, {"pending": 2}]
    if "Error" in tail:
        assert "RuntimeError: boom" in r.stderr  # the user's traceback is still printed
    # the run finished by the hook says so, as one finished by hand does
    last = r.stderr.strip().splitlines()[-1]
    assert "(exit0001)" in last and (
        ("finished after" in last) if code == 0 else (f"exit code {code}" in last)
    )


def test_explicit_finish_then_exit_code_is_not_overwritten(tmp_path):
    r = run_script(
        """
        import sys, runstore
        run = runstore.init(project="p", id="exit0002")
        run.log({"a": 1})
        run.finish()
        sys.exit(4)
    """,
        tmp_path,
    )
    assert r.returncode == 4
    st = run_state("exit0002", "p")
    assert st.exit_code == 0 and st.state == "finished"
    assert sum(1 for e in st.events if e.get("t") == "exit") == 1


def test_atexit_finishes_every_active_run(tmp_path):
    r = run_script(
        """
        import sys, runstore
        a = runstore.init(project="p", id="multi001")
        b = runstore.init(project="p", id="multi002", reinit="create_new")
        a.log({"x": 1}); b.log({"x": 2})
        sys.exit(7)
    """,
        tmp_path,
    )
    assert r.returncode == 7
    for rid, x in (("multi001", 1), ("multi002", 2)):
        st = run_state(rid, "p")
        assert st.exit_code == 7 and st.state == "failed"
        assert [row["x"] for row in history(st.path)] == [x]


def test_explicit_finish_exit_code_argument(tmp_path):
    import runstore

    run = runstore.init(project="p")
    runstore.finish(exit_code=5)
    st = run_state(run)
    assert st.state == "failed" and st.exit_code == 5
    run.finish(exit_code=0)  # idempotent: the first exit stays
    st = run_state(run)
    assert st.exit_code == 5
    assert sum(1 for e in st.events if e.get("t") == "exit") == 1
