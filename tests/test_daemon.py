"""The store daemon with real processes and real files: lock, CLI, sampling, crash marking, SIGKILL of
the daemon or of a training process, idle exit, broken markers and run directories.

Every daemon and training process a test starts is killed at teardown (see the `procs` fixture)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import runstore
from runstore.daemon import client, control, lock, monitor
from runstore.daemon.log import DaemonLog
from runstore.daemon.loop import Daemon
from runstore.errors import StoreError
from runstore.store import live
from runstore.store.live import Marker
from runstore.store.liveness import hostname, start_token
from runstore.store.runs import load_run
from runstore.store.store import Store

PY = sys.executable
INTERVAL = 0.25

TRAIN = """\
import os, sys, time
import runstore
from runstore.store import live
from runstore.store.liveness import hostname, start_token

run = runstore.init(project="p", config={"lr": 0.1})
# until init() registers runs itself
live.register(run._store, run._ref.project, run.id, run._ref.path, os.getpid(),
              start_token(os.getpid()), hostname())
print(run.id, flush=True)
steps, pause = int(sys.argv[1]), float(sys.argv[2])
for i in range(steps):
    run.log({"loss": 1.0 / (i + 1), "i": i})
    time.sleep(pause)
run.finish()
print("done", flush=True)
"""


def wait_for(cond: Callable[[], Any], timeout: float, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(every)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / ".wandb"
    Store(root).ensure()
    return root


@pytest.fixture
def procs(store: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; all of them, and any daemon of this test's store, are gone afterwards."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in started:
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    # Daemons started detached (CLI, ensure_running, an idle daemon's successor) are not in `started`.
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "runstore.daemon" in cmd and str(store) in cmd:
            try:
                proc.kill()
                proc.wait(timeout=3)
            except psutil.Error:
                pass


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["RUNSTORE_DIR"] = os.environ["RUNSTORE_DIR"]
    env["RUNSTORE_DAEMON"] = "0"  # each test decides which daemons run
    env.update(extra)
    return env


def start_daemon(
    procs: list[subprocess.Popen[str]], store: Path, interval: float = INTERVAL, idle_exit: float = 60.0
) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        [
            PY,
            "-m",
            "runstore.daemon",
            "--store",
            str(store),
            "--interval",
            str(interval),
            "--idle-exit",
            str(idle_exit),
        ],
        env=child_env(),
        text=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    procs.append(p)
    assert wait_for(lambda: lock.holder(Store(store).daemon_pid, wait=0) == p.pid, 10), p.stderr
    return p


def start_training(
    procs: list[subprocess.Popen[str]], tmp_path: Path, steps: int, pause: float
) -> tuple[subprocess.Popen[str], str]:
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    p = subprocess.Popen(
        [PY, str(script), str(steps), str(pause)],
        cwd=tmp_path,
        env=child_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    procs.append(p)
    assert p.stdout is not None
    run_id = p.stdout.readline().strip()
    assert run_id, p.stderr.read() if p.stderr else ""
    return p, run_id


def system_rows(run_id: str) -> list[dict[str, Any]]:
    return runstore.Api().run(f"p/{run_id}").history(stream="events", pandas=False, samples=None)


def marker(store: Path, run_id: str) -> Path:
    return live.marker_path(Store(store), "p", run_id)


# -- lock, client, CLI ----------------------------------------------------------------------------------
def test_one_daemon_per_store(store: Path, procs: list[subprocess.Popen[str]]) -> None:
    first = start_daemon(procs, store)
    second = subprocess.Popen([PY, "-m", "runstore.daemon", "--store", str(store)], env=child_env())
    assert second.wait(timeout=10) == 0  # quietly, because the first one holds the lock
    assert first.poll() is None and lock.holder(Store(store).daemon_pid) == first.pid
    assert Store(store).daemon_pid.read_text().strip() == str(first.pid)
    first.send_signal(signal.SIGTERM)  # clean exit: lock released, pid file removed
    assert first.wait(timeout=5) == 0
    assert not Store(store).daemon_pid.exists() and not client.is_running(store)
    log = Store(store).daemon_log.read_text()
    assert "start:" in log and "stop: stopped" in log


# Put first on a child's PYTHONPATH, this holds the interpreter at start-up until the file named by
# DAEMON_TEST_GATE exists: a daemon spawned while the gate is closed cannot get as far as taking its lock.
# Only the child's start-up is delayed (as on a very slow machine); runstore itself is untouched.
GATE_SITECUSTOMIZE = """\
import os, time
_gate = os.environ.get("DAEMON_TEST_GATE")
while _gate and not os.path.exists(_gate):
    time.sleep(0.01)
"""


def daemon_children(store: Path) -> list[int]:
    """Pids of this process's children that are daemons of `store` (ensure_running's spawns)."""
    pids = []
    for child in psutil.Process().children():
        try:
            cmd = child.cmdline()
        except psutil.Error:  # exited meanwhile (or a zombie about to be reaped)
            continue
        if "runstore.daemon" in cmd and str(store) in cmd:
            pids.append(child.pid)
    return pids


def test_ensure_running_spawns_once_without_waiting(
    tmp_path: Path, store: Path, procs: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client.ensure_running(store, env={"RUNSTORE_DAEMON": "off"})
    assert not client.is_running(store) and daemon_children(store) == []  # disabled: nothing started
    hook = tmp_path / "gate-hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(GATE_SITECUSTOMIZE)
    gate = tmp_path / "gate"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("DAEMON_TEST_GATE", str(gate))
    client.ensure_running(store, interval=INTERVAL, env={"RUNSTORE_DAEMON": "1"})
    # Spawned, not waited for: it returned while its daemon is still held at the gate, before the lock.
    (spawned,) = daemon_children(store)
    assert not client.is_running(store)
    gate.touch()
    pid = wait_for(lambda: lock.holder(Store(store).daemon_pid, wait=0), 10)
    assert pid == spawned
    # The check init() pays when a daemon runs: the lock probe, nothing else. With the gate closed again,
    # any second daemon spawned here would still be our child, stuck at the gate, when we look.
    gate.unlink()
    for _ in range(100):
        client.ensure_running(store, env={"RUNSTORE_DAEMON": "1"})
    assert daemon_children(store) == [pid]
    assert lock.holder(Store(store).daemon_pid) == pid
    assert control.status(store)["interval"] == INTERVAL
    assert control.stop(store) == pid


def test_ensure_running_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    client.ensure_running(blocker / ".wandb", env={"RUNSTORE_DAEMON": "1"})  # cannot create: no error
    live.register(Store(blocker / ".wandb"), "p", "r", tmp_path, 1, None, "h")
    live.unregister(Store(blocker / ".wandb"), "p", "r")


def test_register_and_unregister_live(store: Path) -> None:
    live.register(Store(store), "p", "abc", store / "projects/p/runs/abc", 123, "tok", "host1")
    path = marker(store, "abc")
    assert json.loads(path.read_text()) == {
        "project": "p",
        "id": "abc",
        "dir": str(store / "projects/p/runs/abc"),
        "pid": 123,
        "pid_start": "tok",
        "host": "host1",
    }
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    live.unregister(Store(store), "p", "abc")
    assert not path.exists()
    live.unregister(Store(store), "p", "abc")  # twice is fine


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """`runstore ...` in-process through the CLI's main(); the daemon group is added for the test only
    if runstore/cli/__init__.py does not list it yet (so other tests see the real table of contents)."""
    from runstore.cli import app, daemon_cmd, main

    before = list(app.registered_groups)
    if not any(g.name == "daemon" for g in before):
        daemon_cmd.register(app)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            main(list(argv))
        out, err = capsys.readouterr()
        return int(e.value.code or 0), out, err

    yield run
    app.registered_groups[:] = before


def test_cli_start_status_stop(store: Path, procs: list[subprocess.Popen[str]], cli, monkeypatch) -> None:
    monkeypatch.setenv("RUNSTORE_DAEMON", "0")  # the CLI starts the daemon even so: it was asked to
    code, out, _ = cli("daemon", "status", "--json")
    assert code == 0 and json.loads(out)["running"] is False
    code, out, err = cli("daemon", "start", "--interval", "0.5", "--idle-exit", "30")
    assert code == 0, err
    pid = lock.holder(Store(store).daemon_pid)
    assert pid and f"daemon started (pid {pid})" in out
    code, out, _ = cli("daemon", "start")
    assert code == 0 and f"already running (pid {pid})" in out
    code, out, _ = cli("daemon", "status", "--json")
    report = json.loads(out)
    assert report["running"] and report["pid"] == pid and report["interval"] == 0.5
    assert report["idle_exit"] == 30 and report["uptime"] >= 0 and report["live_runs"] == []
    code, out, _ = cli("daemon", "status")
    assert f"daemon running (pid {pid}), interval 0.5s" in out
    code, out, _ = cli("daemon", "stop")
    assert code == 0 and f"daemon (pid {pid}) stopped" in out
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    code, out, _ = cli("daemon", "stop")
    assert code == 0 and "no daemon running" in out


def test_cli_start_needs_a_store(tmp_path: Path, cli) -> None:
    code, _, err = cli("daemon", "start", "--dir", str(tmp_path / "nowhere"))
    assert code == 1 and err.startswith("error: no runstore store at")


# -- sampling, crash marking, SIGKILL ------------------------------------------------------------------
def test_samples_live_run_and_marks_sigkilled_run_crashed(
    tmp_path: Path, store: Path, procs: list[subprocess.Popen[str]]
) -> None:
    interval = 0.4  # long enough that a loaded machine's scheduling delays do not bunch the samples up
    daemon = start_daemon(procs, store, interval=interval)
    train, rid = start_training(procs, tmp_path, steps=10_000, pause=0.01)
    rows = wait_for(lambda: len(system_rows(rid)) >= 3 and system_rows(rid), 10)
    assert rows, "no system rows"
    r = rows[-1]
    # Api().history(stream="events") serves the stored names with wandb's `system.` prefix.
    for key in (
        "_timestamp",
        "_runtime",
        "system.cpu",
        "system.cpu_percent",
        "system.proc.cpu.threads",
        "system.memory_percent",
        "system.proc.memory.rssMB",
        "system.proc.memory.percent",
        "system.proc.memory.availableMB",
        "system.disk./.usagePercent",
        "system.disk./.usageGB",
    ):
        assert key in r, key
    assert not any(k.startswith("system.gpu.") for k in r)  # no GPU here: no GPU metrics
    assert [x["_step"] for x in rows] == list(range(len(rows)))
    assert (
        0 <= r["system.cpu"] <= 100
        and r["system.proc.memory.rssMB"] > 10
        and r["system.proc.cpu.threads"] >= 1
    )
    gaps = [b["_timestamp"] - a["_timestamp"] for a, b in zip(rows, rows[1:], strict=False)]
    assert all(g >= interval / 2 - 0.01 for g in gaps), gaps  # a steady cadence, no bursts
    assert load_run(Store(store).find_run_by_id(rid, "p")).state == "running"
    assert runstore.Api().run(f"p/{rid}").system_metrics["_step"] >= 2

    train.kill()
    ref = Store(store).find_run_by_id(rid, "p")
    # How fast (within two sampling intervals) is measured by `make bench`; here: that it happens at all.
    exit_rec = wait_for(lambda: load_run(ref).exit, 30)
    assert exit_rec, "the daemon did not write an exit record"
    st = load_run(ref)
    exit_rec = [e for e in st.events if e.get("t") == "exit"][-1]  # as written (readers fold code None -> 1)
    assert exit_rec["state"] == "crashed" and exit_rec["by"] == "daemon" and exit_rec["code"] is None
    assert st.state == "crashed"
    # The snapshot is what a full fold of the history gives, and covers the history up to its last line.
    assert exit_rec["summary"]["i"] == exit_rec["step"] - 1
    assert exit_rec["history_bytes"] == (ref.path / "history.jsonl").stat().st_size
    api_run = runstore.Api().run(f"p/{rid}")
    assert api_run.state == "crashed" and api_run.summary["i"] == exit_rec["step"] - 1
    assert wait_for(lambda: not marker(store, rid).exists(), 2)  # removed just after the exit record
    n = len(system_rows(rid))
    time.sleep(2 * interval)
    assert len(system_rows(rid)) == n  # nothing sampled for a dead run
    assert daemon.poll() is None
    assert "marked crashed" in Store(store).daemon_log.read_text()


def test_sigkilled_run_reads_crashed_without_daemon(
    tmp_path: Path, store: Path, procs: list[subprocess.Popen[str]]
) -> None:
    train, rid = start_training(procs, tmp_path, steps=10_000, pause=0.01)
    ref = Store(store).find_run_by_id(rid, "p")
    assert load_run(ref).state == "running"
    train.kill()
    train.wait()
    st = load_run(ref)
    assert st.state == "crashed" and st.exit is None  # the reader decides; nothing was written


def test_training_survives_daemon_sigkill_and_new_daemon_picks_it_up(
    tmp_path: Path, store: Path, procs: list[subprocess.Popen[str]]
) -> None:
    daemon = start_daemon(procs, store)
    train, rid = start_training(procs, tmp_path, steps=250, pause=0.02)  # ~5 s
    assert wait_for(lambda: len(system_rows(rid)) >= 2, 10)
    daemon.kill()
    daemon.wait()
    assert train.poll() is None  # training does not notice
    n = len(system_rows(rid))
    time.sleep(2 * INTERVAL)
    assert len(system_rows(rid)) == n
    start_daemon(procs, store)  # the lock died with the old daemon: a new one takes over at once
    assert wait_for(lambda: len(system_rows(rid)) >= n + 2, 10)
    rows = system_rows(rid)
    assert [x["_step"] for x in rows] == list(range(len(rows)))  # the sample index continues
    assert train.wait(timeout=30) == 0
    assert train.stdout is not None and "done" in train.stdout.read()
    ref = Store(store).find_run_by_id(rid, "p")
    st = load_run(ref)
    assert st.state == "finished" and st.summary["i"] == 249
    # finish() does not remove the marker yet (init/finish wiring); the daemon drops it once it sees the exit
    assert wait_for(lambda: not marker(store, rid).exists(), 5)


def test_idle_exit(store: Path, procs: list[subprocess.Popen[str]]) -> None:
    p = start_daemon(procs, store, idle_exit=0.5)
    assert p.wait(timeout=10) == 0
    assert not Store(store).daemon_pid.exists()
    assert "stop: idle" in Store(store).daemon_log.read_text()


def test_broken_markers_and_run_dirs_do_not_stop_the_daemon(
    tmp_path: Path, store: Path, procs: list[subprocess.Popen[str]]
) -> None:
    live_dir = Store(store).live_dir
    live_dir.mkdir(parents=True, exist_ok=True)
    (live_dir / "p~garbage.json").write_bytes(b"{not json")
    (live_dir / "p~list.json").write_bytes(b"[1, 2]")
    sleeper = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    procs.append(sleeper)
    # alive writer, directory gone: retried with backoff, logged once
    live.register(
        Store(store),
        "p",
        "nodir",
        store / "projects/p/runs/nodir",
        sleeper.pid,
        start_token(sleeper.pid),
        hostname(),
    )
    # dead writer, directory gone: the marker is simply dropped
    live.register(
        Store(store), "p", "deadnodir", store / "projects/p/runs/deadnodir", 999_999_999, None, hostname()
    )
    # a run dir whose run.jsonl is a directory: reading it fails every time
    bad = store / "projects/p/runs/bad"
    (bad / "run.jsonl").mkdir(parents=True)
    live.register(Store(store), "p", "bad", bad, sleeper.pid, start_token(sleeper.pid), hostname())
    daemon = start_daemon(procs, store, interval=0.05)
    train, rid = start_training(procs, tmp_path, steps=10_000, pause=0.01)
    assert wait_for(lambda: len(system_rows(rid)) >= 3, 10)  # a good run next to broken ones is sampled
    time.sleep(1.0)  # 20 ticks
    assert daemon.poll() is None
    assert not marker(store, "deadnodir").exists()
    assert marker(store, "nodir").exists()  # its writer still runs; the daemon keeps trying, slowly
    log = Store(store).daemon_log.read_text().splitlines()
    for key in ("run p/nodir", "marker p~garbage.json", "marker p~list.json"):
        hits = [line for line in log if f"error: {key}:" in line]
        assert len(hits) == 1, (key, log)  # rate-limited: one line, not one per tick
    # a run.jsonl that is not a regular file reads as a run with no records yet (every reader opens
    # regular files only): nothing to report each tick, and the daemon goes on
    assert not [line for line in log if "run p/bad" in line], log
    assert len(log) < 15
    print("\n".join(log))


def test_daemon_log_rate_limits_and_reports_recovery(tmp_path: Path) -> None:
    path = tmp_path / "daemon.log"
    log = DaemonLog(path, quiet_s=10)
    for i in range(100):
        log.error("k", "boom", now=float(i) / 100)
    log.error("k", "boom", now=11.0)
    log.ok("k", now=12.0)
    log.ok("k", now=13.0)
    lines = path.read_text().splitlines()
    assert len(lines) == 3
    assert "error: k: boom" in lines[0] and "99 repeats not logged" in lines[1] and "recovered: k" in lines[2]


# -- the loop's extension points ------------------------------------------------------------------------
class Recorder:
    """A task that wants file-system events (the shape a remote-streaming task will have)."""

    name = "recorder"

    def __init__(self, wants_events: bool) -> None:
        self.wants_events = wants_events
        self.paths: list[str] = []
        self.ticks = 0
        self._due = 0.0

    def due(self) -> float:
        return self._due

    def tick(self, now: float) -> None:
        self.ticks += 1
        self._due = now + 0.05
        if self.ticks == 2:
            raise RuntimeError("flaky")  # the loop backs off and keeps going

    def on_event(self, path: str, now: float) -> None:
        self.paths.append(path)

    def busy(self) -> bool:
        return True

    def close(self) -> None:
        pass


def run_in_thread(d: Daemon) -> threading.Thread:
    t = threading.Thread(target=d.run, daemon=True)
    t.start()
    return t


def test_tasks_get_file_events_only_when_they_want_them(store: Path) -> None:
    rec = Recorder(wants_events=True)
    d = Daemon(store, [rec], DaemonLog(store / "test.log"))
    t = run_in_thread(d)
    try:
        assert wait_for(lambda: d.events is not None, 5)
        target = store / "projects" / "p" / "runs" / "x"
        target.mkdir(parents=True)
        (target / "history.jsonl").write_text("{}\n")
        assert wait_for(lambda: any(p.endswith("history.jsonl") for p in rec.paths), 5)
        assert wait_for(lambda: rec.ticks >= 4, 5)  # ticked again after its failure
    finally:
        d.stop()
        t.join(5)
    assert not t.is_alive()
    text = (store / "test.log").read_text()
    assert (
        "error: task recorder: tick failed: RuntimeError: flaky" in text
        and "recovered: task recorder" in text
    )

    quiet = Recorder(wants_events=False)
    d = Daemon(store, [quiet], DaemonLog(None))
    t = run_in_thread(d)
    try:
        assert wait_for(lambda: quiet.ticks >= 3, 5)
        assert d.events is None  # no observer thread for nothing
    finally:
        d.stop()
        t.join(5)


def test_idle_exit_successor_for_a_run_registered_while_exiting(store: Path, procs) -> None:
    """A daemon that exits for idleness while a run has just registered starts a successor."""
    from runstore.daemon import loop

    sleeper = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"])
    procs.append(sleeper)

    class RegistersLate:
        name, wants_events = "late", False

        def due(self) -> float:
            return time.monotonic() + 60

        def tick(self, now: float) -> None:
            pass

        def on_event(self, path: str, now: float) -> None:
            pass

        def busy(self) -> bool:
            return False

        def close(self) -> None:  # runs after the decision to exit, before the lock is released
            live.register(
                Store(store),
                "p",
                "late",
                store / "projects/p/runs/late",
                sleeper.pid,
                start_token(sleeper.pid),
                hostname(),
            )

    assert loop.serve(store, interval=INTERVAL, idle_exit=0.1, tasks=[RegistersLate()]) == 0
    successor = wait_for(lambda: lock.holder(Store(store).daemon_pid, wait=0), 10)
    assert successor and successor != os.getpid()
    assert control.stop(store) == successor


def test_stop_reports_a_daemon_that_will_not_exit(store: Path, procs) -> None:
    # A process holding the lock that ignores SIGTERM stands in for a wedged daemon.
    code = textwrap.dedent(f"""
        import signal, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        from runstore.daemon import lock
        from pathlib import Path
        fd = lock.acquire(Path({str(Store(store).daemon_pid)!r}))
        print("locked", flush=True)
        time.sleep(60)
    """)
    Store(store).daemon_dir.mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
    procs.append(p)
    assert p.stdout is not None and p.stdout.readline().strip() == "locked"
    with pytest.raises(StoreError, match=f"kill -9 {p.pid}"):
        control.stop(store, timeout=0.3)
    p.kill()  # as the message says


def test_marker_fields_parse() -> None:
    from runstore.store.live import BadMarker, parse

    m = parse("a~b~c.json", b'{"pid": 5, "dir": "/x", "project": "a~b", "id": "c"}', (1, 2))
    assert isinstance(m, Marker) and (m.project, m.id, m.pid, m.pid_start, m.host) == (
        "a~b",
        "c",
        5,
        None,
        None,
    )
    with pytest.raises(BadMarker):
        parse("x.json", b'{"pid": "5", "dir": "/x"}', (1, 2))


def test_a_finished_runs_column_cache_is_built_before_anyone_reads_it(
    tmp_path: Path, store: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """The daemon builds the history column cache of a run that ended (issue 14's "derived caches are
    built before anyone waits for them"): the first read of a big finished run loads columns."""
    pytest.importorskip("numpy")
    start_daemon(procs, store, interval=0.2)
    train, rid = start_training(procs, tmp_path, steps=40_000, pause=0.00002)
    assert train.wait(timeout=60) == 0
    ref = Store(store).find_run_by_id(rid, "p")
    assert ref is not None and ref.history_file("history.jsonl").stat().st_size >= monitor.CACHE_MIN_BYTES
    cache = ref.history_cache("history.jsonl")
    assert wait_for(cache.exists, 30), "the daemon built no column cache"
    rows = runstore.Api().run(f"p/{rid}").history(samples=None, keys=["loss"])
    assert len(rows) == 40_000 and rows["loss"].iloc[-1] == 1.0 / 40_000


def test_small_histories_get_no_column_cache(tmp_path: Path) -> None:
    run = runstore.init(project="p", dir=str(tmp_path))
    run.log({"a": 1})
    run.finish()
    assert monitor.CacheBuilder.build(run._ref) is False
    assert not run._ref.history_cache("history.jsonl").exists()


def test_a_failed_column_cache_build_is_logged_and_the_next_run_still_gets_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Derived data: a build that fails (a history too wide, a full disk) is one log line, never the
    daemon's end, and the builder goes on with the next run."""
    built: list[str] = []

    def build(ref: Any) -> bool:
        if ref.id == "bad":
            raise OSError(28, "No space left on device")
        built.append(ref.id)
        return True

    monkeypatch.setattr(monitor.CacheBuilder, "build", staticmethod(build))
    (tmp_path / "logs").mkdir()
    log = DaemonLog(tmp_path / "logs" / "daemon.log")
    builder = monitor.CacheBuilder(log)
    builder.ended(Store(tmp_path / ".wandb").run("p", "bad"))
    builder.ended(Store(tmp_path / ".wandb").run("p", "good"))
    assert wait_for(lambda: built == ["good"], 10)
    builder.close()
    text = (tmp_path / "logs" / "daemon.log").read_text()
    assert "run p/bad: no column cache (OSError" in text and "No space left" in text


def test_a_finished_runs_chart_pyramid_is_built_before_anyone_reads_it(
    tmp_path: Path, store: Path, procs: list[subprocess.Popen[str]]
) -> None:
    """With the column cache, the daemon builds the chart pyramid of a run that ended: the server's
    first chart of a big finished run reads buckets, built from no columns."""
    pytest.importorskip("numpy")
    from runstore.store import pyramid

    start_daemon(procs, store, interval=0.2)
    train, rid = start_training(procs, tmp_path, steps=40_000, pause=0.00002)
    assert train.wait(timeout=60) == 0
    ref = Store(store).find_run_by_id(rid, "p")
    assert ref is not None
    path = ref.history_pyramid("history.jsonl")
    assert wait_for(path.exists, 30), "the daemon built no chart pyramid"

    def no_columns() -> Any:
        raise AssertionError("the pyramid file is current: no columns needed")

    got = pyramid.HistoryPyramids(ref.history_file("history.jsonl"), path).get(["loss", "i"], no_columns)
    assert got["i"].points == 40_000 and got["i"].query(None, None, 1)["max"] == [39_999]
    assert got["loss"].query(39_990, None, 100)["last"][-1] == 1.0 / 40_000


def test_a_live_runs_caches_are_extended_as_it_grows_off_the_tick(tmp_path: Path) -> None:
    """A live run's history is looked at once a LIVE_BUILD_S on the tick (a stat), and queued for the
    builder's thread only when it grew LIVE_BUILD_BYTES since; the builder extends the pyramid."""
    from types import SimpleNamespace

    run = runstore.init(project="p", dir=str(tmp_path))
    run.log({"a": 1.0})
    hist = Path(run._ref.history_file("history.jsonl"))
    queued: list[Any] = []
    task = SimpleNamespace(caches=SimpleNamespace(grew=queued.append))
    tr = SimpleNamespace(
        grown_at=-monitor.LIVE_BUILD_S,
        grown_size=0,
        ref=run._ref,
        follower=SimpleNamespace(state=load_run(run._ref)),
    )
    grow = monitor.LiveRunsTask._maybe_grew
    grow(task, tr, 1000.0)  # a fake task and run: only what _maybe_grew reads
    assert queued == []  # a small history: nothing to build
    with open(hist, "ab") as f:
        f.write(b"".join(b'{"_step":%d,"a":%d.5}\n' % (s, s) for s in range(1, 150_000)))
    grow(task, tr, 1030.0)
    assert queued == []  # looked at less than a minute ago
    grow(task, tr, 1060.0)
    assert queued == [run._ref]
    grow(task, tr, 1200.0)
    assert queued == [run._ref]  # not grown since
    (tmp_path / "logs").mkdir()
    builder = monitor.CacheBuilder(DaemonLog(tmp_path / "logs" / "daemon.log"))
    builder.grew(run._ref)
    path = run._ref.history_pyramid("history.jsonl")
    assert wait_for(path.exists, 30), (tmp_path / "logs" / "daemon.log").read_text()
    builder.close()
    run.finish()
    assert monitor.CacheBuilder.build_pyramid(run._ref) is True  # the file is current: nothing to do


def test_small_histories_get_no_chart_pyramid(tmp_path: Path) -> None:
    run = runstore.init(project="p", dir=str(tmp_path))
    run.log({"a": 1})
    run.finish()
    (tmp_path / "logs").mkdir()
    builder = monitor.CacheBuilder(DaemonLog(tmp_path / "logs" / "daemon.log"))
    builder.ended(run._ref)
    builder.close()
    builder._thread.join(10)
    assert not run._ref.history_pyramid("history.jsonl").exists()
