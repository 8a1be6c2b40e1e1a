"""A full disk while training (issue 9 item 7): the file-size limit (RLIMIT_FSIZE) makes writes short and
then fail exactly as a full disk does, in a real subprocess; raising it again is the space coming back."""

from __future__ import annotations

from conftest import history, run_script, run_state

from runstore.store.runs import load_run
from runstore.store.store import Store

PRELUDE = """
import os, resource, signal, sys
import runstore
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write beyond the limit fails with EFBIG instead
_, HARD = resource.getrlimit(resource.RLIMIT_FSIZE)

def full(extra):
    # no file may reach past the history's size + `extra`: the next row is short, the ones after fail,
    # and so does every append to a file already past that offset (run.jsonl): a full disk
    limit = os.path.getsize(run._history) + extra
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, HARD))

def room():
    resource.setrlimit(resource.RLIMIT_FSIZE, (HARD, HARD))

run = runstore.init(project="p", id="full0001")
"""


def _rows(run_id: str):
    st = load_run(Store.discover().find_run_by_id(run_id, "p"))
    return st, list(history(st.path))


def test_the_first_row_after_space_returns_is_kept(tmp_path):
    r = run_script(
        PRELUDE
        + """
for i in range(3):
    run.log({"before": i, "pad": "x" * 50})
full(20)  # a row is ~100 bytes: this one is torn after 20 bytes, the next ones fail outright
for i in range(5):
    run.log({"during": i, "pad": "x" * 50})
room()
run.log({"after": 0})  # the first row after the disk has room again: glued to the fragment until now
run.log({"after": 1}, step=run.step)
run.log({"after2": 2}, commit=True)
run.log({"nested": {"after": 3}})
run.finish()
""",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "could not write a history row" in r.stderr and r.stderr.count("history row") == 1
    st, rows = _rows("full0001")
    assert [row.get("before") for row in rows[:3]] == [0, 1, 2]
    kept = [{k: v for k, v in row.items() if not k.startswith("_") and k != "pad"} for row in rows[3:]]
    assert kept == [{"after": 0}, {"after": 1, "after2": 2}, {"nested": {"after": 3}}]
    assert st.state == "finished"
    raw = st.history_path.read_bytes()
    assert raw.count(b"\n") == len(raw.splitlines())  # every line, the sealed fragment too, ends


def test_fast_paths_recover_too(tmp_path):
    r = run_script(
        PRELUDE
        + """
run.log({"a": 1.0})
full(5)
run.log({"a": 2.0})          # torn
run.log({"a": 3.0})          # fails
room()
for i in range(3):
    run.log({"a": 10.0 + i})  # the bare fast path is off until a write succeeds, then on again
print("fast", run._fast)
run.finish()
""",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "fast True" in r.stdout
    _, rows = _rows("full0001")
    assert [row["a"] for row in rows] == [1.0, 10.0, 11.0, 12.0]
    assert [row["_step"] for row in rows] == [0, 3, 4, 5]


def test_an_exit_record_refused_by_a_full_disk_is_written_at_exit(tmp_path):
    r = run_script(
        PRELUDE
        + """
run.log({"a": 1})
full(10)
run.finish(exit_code=0)
room()
print("after finish")
""",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "exit record could not be written" in r.stderr
    assert "finished after" not in r.stderr  # it does not claim what it could not record
    assert "exit record is written after all" in r.stderr
    st = run_state("full0001", "p", tmp_path / ".wandb")
    assert st.state == "finished" and st.exit_code == 0


def test_an_exit_record_that_cannot_be_written_at_all_warns_and_reads_crashed(tmp_path):
    r = run_script(
        PRELUDE
        + """
run.log({"a": 1})
full(10)
run.finish()
""",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "exit record could not be written" in r.stderr and "still could not write it" in r.stderr
    st = run_state("full0001", "p", tmp_path / ".wandb")
    assert st.state in ("crashed", "running") and st.exit_code is None
