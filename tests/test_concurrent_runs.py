"""Several processes and one run id at once (issue 9 items 6 and 10): creating a new id is atomic, and
one process writes a run at a time (docs/FORMAT.md "Writer lock"). Real processes, started together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import history, run_state

PY = sys.executable

WORKER = """
import os, sys, time
import runstore
go = sys.argv[1]
while not os.path.exists(go):
    time.sleep(0.001)
try:
    run = runstore.init(project="p", id="same0001", resume=(sys.argv[2] or None))
except Exception as e:
    print("ERR", type(e).__name__, e, flush=True)
    sys.exit(3)
for i in range(20):
    run.log({"who": os.getpid(), "i": i})
time.sleep(float(sys.argv[3]))
run.finish(quiet=True)
print("OK", os.getpid(), flush=True)
"""


def _race(tmp_path: Path, n: int, resume: str, hold: float = 0.3) -> list[subprocess.CompletedProcess]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    go = tmp_path / f"go-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(RUNSTORE_DIR=str(tmp_path / ".wandb"), RUNSTORE_DAEMON="0", RUNSTORE_CONSOLE="off")
    procs = [
        subprocess.Popen(
            [PY, str(script), str(go), resume, str(hold)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    time.sleep(0.5)  # every interpreter is up and polling
    go.touch()
    out = []
    for p in procs:
        so, se = p.communicate(timeout=60)
        out.append(subprocess.CompletedProcess(p.args, p.returncode, so, se))
    return out


def test_two_processes_creating_one_new_id_one_wins(tmp_path):
    for attempt in range(5):
        store = tmp_path / f"t{attempt}"
        store.mkdir()
        results = _race(store, 2, "", hold=0.0)
        ok = [r for r in results if r.returncode == 0]
        errs = [r for r in results if r.returncode != 0]
        assert len(ok) == 1 and len(errs) == 1, [(r.returncode, r.stdout, r.stderr) for r in results]
        msg = errs[0].stdout
        assert msg.startswith("ERR UsageError") and "same0001" in msg
        assert "already exists" in msg or "being written by" in msg
        winner = int(ok[0].stdout.split()[1])
        rows = history(store / ".wandb" / "projects" / "p" / "runs" / "same0001")
        assert [r["who"] for r in rows] == [winner] * 20 and [r["_step"] for r in rows] == list(range(20))


def test_eight_processes_resuming_one_id_one_writes_the_others_get_a_clear_error(tmp_path):
    results = _race(tmp_path, 8, "allow", hold=0.5)
    ok = [r for r in results if r.returncode == 0]
    errs = [r for r in results if r.returncode != 0]
    assert len(ok) >= 1, [(r.stdout, r.stderr) for r in results]
    for r in errs:
        assert r.returncode == 3 and "is being written by pid" in r.stdout, r.stdout + r.stderr
    # whoever got it wrote 20 rows each, one process after another, never interleaved
    rows = history(tmp_path / ".wandb" / "projects" / "p" / "runs" / "same0001")
    assert [r["_step"] for r in rows] == list(range(20 * len(ok)))
    who = [r["who"] for r in rows]
    blocks = [who[i : i + 20] for i in range(0, len(who), 20)]
    assert all(len(set(b)) == 1 for b in blocks) and len({b[0] for b in blocks}) == len(ok)
    assert run_state("same0001", "p", tmp_path / ".wandb").state == "finished"


def test_a_killed_writer_releases_the_run(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(RUNSTORE_DIR=str(tmp_path / ".wandb"), RUNSTORE_DAEMON="0", RUNSTORE_CONSOLE="off")
    holder = subprocess.Popen(
        [
            PY,
            "-c",
            "import runstore, time; r = runstore.init(project='p', id='held0001'); r.log({'a': 1}); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "ready"
    code = "import runstore; r = runstore.init(project='p', id='held0001', resume='allow'); r.log({'b': 2}); r.finish()"
    busy = subprocess.run([PY, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert busy.returncode == 1 and f"being written by pid {holder.pid}" in busy.stderr
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    after = subprocess.run([PY, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert after.returncode == 0, after.stderr
    rows = history(tmp_path / ".wandb" / "projects" / "p" / "runs" / "held0001")
    assert [(r.get("a"), r.get("b")) for r in rows] == [(1, None), (None, 2)]
