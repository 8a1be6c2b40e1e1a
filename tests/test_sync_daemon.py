"""The daemon streaming runs to a directory remote, with real processes: a training script that imports
runstore, the store daemon (spawned by init() with RUNSTORE_DAEMON=1, or started by hand), the CLI.

Streaming while training (prefix property, rows arriving while the run trains, identical bytes at the
end; latency and cost figures are bench/RESULTS.md's, never asserted here), offline runs sending
nothing, a daemon SIGKILLed mid-stream and restarted (or started only after the run ended), a SIGKILLed
training process, a remote that breaks and comes back, two stores streaming to one remote (and clashing
on a run id), runs started while the daemon idles or shorter than its scan, and SyncTask in-process with
a hand-driven clock (backoff, status).

Every process a test starts, and every daemon of a store it used, is stopped at teardown (SIGTERM, then
SIGKILL after a timeout), whether the test passed or not (the `reaper` fixture).
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import runstore
from runstore.daemon import lock, syncing
from runstore.daemon.log import DaemonLog
from runstore.daemon.syncing import SyncTask
from runstore.store import layout as L
from runstore.store import live
from runstore.store.store import Store

PY = sys.executable

# A training script. argv: STEPS PAUSE. It logs a row (with the wall time it was logged at) every PAUSE
# seconds, at least STEPS rows and, when T_GATE is set, until that file exists (at most 60 s). It also
# writes a file into run.dir (a `replaced` file) and rewrites it halfway, and prints to its console
# (output.log, an `append` file). T_MODE is passed as init(mode=...).
TRAIN = """\
import os, sys, time
import runstore

t0 = time.time()
kw = {"mode": os.environ["T_MODE"]} if os.environ.get("T_MODE") else {}
run = runstore.init(project="p", config={"lr": 0.1}, **kw)
print(run.id, flush=True)
steps, pause = int(sys.argv[1]), float(sys.argv[2])
gate = os.environ.get("T_GATE")
notes = os.path.join(run.dir, "notes.txt")
with open(notes, "w") as f:
    f.write("first\\n")
i = 0
while i < steps or (gate and not os.path.exists(gate) and time.time() - t0 < 60):
    run.log({"wall": time.time(), "i": i})
    if i % 25 == 0:
        print(f"step {i}", flush=True)
    if i == steps // 2:
        with open(notes, "w") as f:
            f.write("second version\\n")
    i += 1
    time.sleep(pause)
run.summary["best"] = 0.5
run.finish()
print("done", i, flush=True)
"""


# -- processes ------------------------------------------------------------------------------------------
class Reaper:
    """What a test started: its processes, and the stores whose daemons must be gone afterwards."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[Any]] = []
        self.stores: list[Path] = []

    def add(self, p: subprocess.Popen[Any]) -> subprocess.Popen[Any]:
        self.procs.append(p)
        return p

    def store(self, root: Path) -> Path:
        self.stores.append(root)
        return root

    def daemons(self) -> list[psutil.Process]:
        """Daemons of our stores, wherever they came from (init(), `runstore daemon start`, by hand)."""
        found: dict[int, psutil.Process] = {}
        names = {os.fspath(s) for s in self.stores}
        for root in self.stores:
            pid = lock.holder(Store(root).daemon_pid, wait=0) if Store(root).daemon_pid.exists() else None
            if pid:
                try:
                    found[pid] = psutil.Process(pid)
                except psutil.Error:
                    pass
        for proc in psutil.process_iter(["cmdline"]):
            cmd = proc.info.get("cmdline") or []
            if "runstore.daemon" in cmd and names.intersection(cmd):
                found[proc.pid] = proc
        return list(found.values())

    def cleanup(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        victims = self.daemons()
        for proc in victims:
            try:
                proc.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        # a detached daemon is not our child: once it exits it is a zombie until its parent (or init)
        # reaps it, which may take a while; exited is what counts here
        wait_for(lambda: all(_exited(v) for v in victims), 3)
        for proc in victims:
            if not _exited(proc):
                try:
                    proc.kill()
                except psutil.Error:
                    pass
        wait_for(lambda: all(_exited(v) for v in victims), 3)


def _exited(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


@pytest.fixture
def reaper() -> Iterator[Reaper]:
    r = Reaper()
    try:
        yield r
    finally:
        r.cleanup()


def wait_for(cond: Callable[[], Any], timeout: float, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(every)


def env_for(store: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["RUNSTORE_DIR"] = os.fspath(store)
    env["RUNSTORE_DAEMON"] = "0"  # each test says which daemons run
    env["RUNSTORE_DISABLE_GIT"] = "true"
    env.update(extra)
    return env


def cli(store: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`runstore ...` in its own process."""
    return subprocess.run(
        [PY, "-m", "runstore", *argv],
        env=env or env_for(store),
        cwd=store.parent,
        capture_output=True,
        text=True,
        timeout=30,
    )


def new_store(reaper: Reaper, where: Path, remote: Path | None = None, offline: bool = False) -> Path:
    """A store created by `runstore init [--remote DIR]` (and `runstore off`)."""
    where.mkdir(parents=True, exist_ok=True)
    root = reaper.store(where / ".wandb")
    args = ["init", "--dir", os.fspath(root)] + (["--remote", os.fspath(remote)] if remote else [])
    r = cli(root, *args)
    assert r.returncode == 0, r.stderr
    if offline:
        r = cli(root, "off", "--dir", os.fspath(root))
        assert r.returncode == 0 and "offline" in r.stdout, r.stderr
    return root


def start_training(
    reaper: Reaper, store: Path, steps: int, pause: float, **env: str
) -> tuple[subprocess.Popen[str], str]:
    script = store.parent / "train.py"
    script.write_text(TRAIN)
    p = reaper.add(
        subprocess.Popen(
            [PY, os.fspath(script), str(steps), str(pause)],
            cwd=store.parent,
            env=env_for(store, **env),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    )
    assert p.stdout is not None
    run_id = p.stdout.readline().strip()
    if not run_id:
        p.wait(timeout=10)
        raise AssertionError(p.stderr.read() if p.stderr else "no run id")
    return p, run_id


def finish_training(p: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err
    assert out.rstrip().splitlines()[-1].startswith("done"), out
    return out, err


def start_daemon(reaper: Reaper, store: Path, interval: float = 0.25, **env: str) -> subprocess.Popen[bytes]:
    """`python -m runstore.daemon --store STORE` by hand (its stderr in a file next to the store)."""
    with open(store.parent / "daemon.stderr", "ab") as err:
        p = reaper.add(
            subprocess.Popen(
                [PY, "-m", "runstore.daemon", "--store", os.fspath(store), "--interval", str(interval)]
                + ["--idle-exit", "60"],
                env=env_for(store, **env),
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd="/",
            )
        )
    assert wait_for(lambda: lock.holder(Store(store).daemon_pid, wait=0) == p.pid, 10)
    return p


def daemon_pid(store: Path, timeout: float = 10) -> int:
    pid = wait_for(lambda: lock.holder(Store(store).daemon_pid, wait=0), timeout)
    assert pid, "no daemon holds the store's lock"
    return int(pid)


def kill9(pid: int) -> None:
    proc = psutil.Process(pid)
    proc.kill()
    assert wait_for(lambda: _exited(proc), 5)


# -- the run's files, here and at the remote ---------------------------------------------------------------
def local_files(store: Path, rid: str) -> dict[str, Path]:
    """Every file of the run that sync sends: rel path -> local path (derived files never move)."""
    st = Store(store)
    ref = st.find_run_by_id(rid, "p")
    assert ref is not None
    return {f.rel: Path(f.path) for f in st.files(ref) if f.kind != L.DERIVED}


def remote_files(remote: Path, rid: str) -> dict[str, Path]:
    """The run's files at the remote (staging files of writes in progress left out)."""
    base = remote / "projects" / "p" / "runs" / rid
    out = {}
    for d, _, names in os.walk(base):
        for name in names:
            if not L.is_tmp(name):
                path = Path(d, name)
                out[path.relative_to(remote).as_posix()] = path
    return out


def differences(store: Path, remote: Path, rid: str) -> list[str]:
    """What differs between the run here and its copy at the remote ([] when byte-identical)."""
    mine, theirs = local_files(store, rid), remote_files(remote, rid)
    out = [f"missing at the remote: {rel}" for rel in sorted(mine.keys() - theirs.keys())]
    out += [f"extra at the remote: {rel}" for rel in sorted(theirs.keys() - mine.keys())]
    for rel in sorted(mine.keys() & theirs.keys()):
        a, b = mine[rel].read_bytes(), theirs[rel].read_bytes()
        if a != b:
            out.append(f"{rel}: {len(a)} bytes here, {len(b)} at the remote")
    return out


def wait_identical(store: Path, remote: Path, rid: str, timeout: float = 10) -> float:
    """Seconds it took until the remote copy is byte-identical; fails with the differences if never."""
    t0 = time.monotonic()
    diff = wait_for(lambda: not differences(store, remote, rid), timeout, every=0.05)
    assert diff, differences(store, remote, rid)
    return time.monotonic() - t0


def check_prefixes(store: Path, remote: Path, rid: str) -> int:
    """Every append file at the remote is a prefix of the local one (read remote first: local only
    grows). Returns the remote history's size."""
    hist = 0
    for rel, path in remote_files(remote, rid).items():
        if L.run_file_kind(rel.split("/", 4)[4]) != L.APPEND:
            continue
        theirs = path.read_bytes()
        mine = (store / rel).read_bytes()
        assert mine.startswith(theirs), f"{rel}: the remote's {len(theirs)} bytes are not a prefix of ours"
        if rel.endswith("/history.jsonl"):
            hist = len(theirs)
    return hist


def sync_status(store: Path) -> dict[str, Any]:
    return syncing.read_status(Store(store))


def daemon_log(store: Path) -> str:
    try:
        return Store(store).daemon_log.read_text()
    except FileNotFoundError:
        return ""


def exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (renameat2 RENAME_EXCHANGE): the daemon never sees neither of them."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        pytest.skip("no renameat2 in this libc")
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), os.fspath(a))


def no_warnings(tmp_path: Path, *texts: str) -> None:
    """The training process said nothing about warnings, errors, remotes or syncing (its own paths,
    which contain the test's name, left out)."""
    for text in texts:
        text = text.replace(os.fspath(tmp_path), "<tmp>")
        words = ("warning", "error", "traceback", "remote", "sync", "stream")
        bad = [line for line in text.splitlines() if any(w in line.lower() for w in words)]
        assert not bad, bad


# -- 1. streaming while training --------------------------------------------------------------------------
def test_streams_while_training(tmp_path: Path, reaper: Reaper) -> None:
    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote)
    # init() starts the daemon (the marker names the remote before it does): nothing started by hand
    p, rid = start_training(reaper, store, steps=150, pause=0.02, RUNSTORE_DAEMON="1")
    marker = json.loads(live.marker_path(Store(store), "p", rid).read_bytes())
    assert marker["remote"] == os.fspath(remote)
    rhist = remote / "projects" / "p" / "runs" / rid / "history.jsonl"
    latencies: list[float] = []
    sizes: set[int] = set()
    buf, offset, polls = b"", 0, 0
    while p.poll() is None:
        polls += 1
        if polls % 5 == 0:
            sizes.add(check_prefixes(store, remote, rid))
        try:
            with open(rhist, "rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        seen_at = time.time()
        offset += len(data)
        buf += data
        *lines, buf = buf.split(b"\n")
        for line in lines:
            latencies.append(seen_at - json.loads(line)["wall"])
        time.sleep(0.01)
    _, err = finish_training(p)
    took = wait_identical(store, remote, rid, timeout=10)
    # it grew while the run trained, in many steps, not in one copy at the end
    assert len({s for s in sizes if s}) >= 5, sorted(sizes)
    assert len(latencies) >= 100, len(latencies)
    latencies.sort()
    p50, p90 = statistics.median(latencies), latencies[int(0.9 * len(latencies))]
    print(
        f"\nlog->visible over {len(latencies)} rows: p50 {p50 * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms; identical {took:.2f} s after the run exited"
    )
    # the daemon's status: no error, and the run was verified
    assert wait_for(lambda: not sync_status(store).get("runs"), 5), sync_status(store)
    status = sync_status(store)
    assert status["remotes"][os.fspath(remote)]["error"] is None, status
    assert status["remotes"][os.fspath(remote)]["failures"] == 0, status
    r = cli(store, "daemon", "status", "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["running"] and report["sync"]["remotes"][os.fspath(remote)]["error"] is None
    text = cli(store, "daemon", "status").stdout
    assert "failing" not in text and "error" not in text, text
    assert wait_for(lambda: f"synced p/{rid} to {remote} (verified)" in daemon_log(store), 5), daemon_log(
        store
    )
    assert "error" not in daemon_log(store)
    no_warnings(tmp_path, err)


# -- 2. offline runs send nothing --------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["runstore off", "WANDB_MODE=offline", "init(mode='offline')", "online"])
def test_offline_run_sends_nothing(tmp_path: Path, reaper: Reaper, how: str) -> None:
    """With a remote configured and a daemon streaming, an offline run leaves nothing at the remote
    ("online" is the control: the same set-up does send the run)."""
    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote, offline=how == "runstore off")
    env = {"RUNSTORE_DAEMON": "1", "T_GATE": os.fspath(tmp_path / "gate")}
    if how == "WANDB_MODE=offline":
        env["WANDB_MODE"] = "offline"
    if how == "init(mode='offline')":
        env["T_MODE"] = "offline"
    p, rid = start_training(reaper, store, steps=10, pause=0.02, **env)
    marker = json.loads(live.marker_path(Store(store), "p", rid).read_bytes())  # while it runs
    assert marker["id"] == rid
    daemon_pid(store)
    # the daemon's sync task has looked at the markers while the run is live, and again a few times
    assert wait_for(lambda: Store(store).sync_status.exists(), 10)
    time.sleep(1.0)
    (tmp_path / "gate").touch()
    finish_training(p)
    if how == "online":
        assert marker["remote"] == os.fspath(remote)
        wait_identical(store, remote, rid)
        return
    assert "remote" not in marker, marker
    time.sleep(3.0)
    assert daemon_pid(store, timeout=0)  # it was there all along
    leaked = [os.fspath(x.relative_to(remote)) for x in remote.rglob("*")] if remote.exists() else []
    assert not [x for x in leaked if rid in x], leaked
    projects = remote / "projects"
    assert not projects.exists() or not any(projects.iterdir()), leaked
    assert not sync_status(store).get("runs"), sync_status(store)


# -- 3. the daemon SIGKILLed mid-stream ----------------------------------------------------------------------
def test_daemon_sigkilled_mid_stream_then_restarted_while_run_trains(tmp_path: Path, reaper: Reaper) -> None:
    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote)
    gate = tmp_path / "gate"
    p, rid = start_training(reaper, store, steps=20, pause=0.02, RUNSTORE_DAEMON="1", T_GATE=os.fspath(gate))
    first = daemon_pid(store)
    assert wait_for(lambda: check_prefixes(store, remote, rid) > 2000, 10)
    kill9(first)
    assert p.poll() is None  # training does not notice
    stalled = check_prefixes(store, remote, rid)
    time.sleep(0.6)
    assert check_prefixes(store, remote, rid) == stalled  # nobody streams
    r = cli(store, "daemon", "start", "--dir", os.fspath(store), "--idle-exit", "60")
    assert r.returncode == 0 and "daemon started" in r.stdout, (r.stdout, r.stderr)
    second = daemon_pid(store)
    assert second != first
    # streaming resumes from what the remote has, while the run trains
    assert wait_for(lambda: check_prefixes(store, remote, rid) > stalled + 500, 5)
    assert p.poll() is None
    gate.touch()
    _, err = finish_training(p)
    wait_identical(store, remote, rid)
    assert wait_for(lambda: f"synced p/{rid} to {remote} (verified)" in daemon_log(store), 5), daemon_log(
        store
    )
    no_warnings(tmp_path, err)


def test_run_finished_while_no_daemon_ran_is_finished_by_the_next_daemon(
    tmp_path: Path, reaper: Reaper
) -> None:
    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote)
    gate = tmp_path / "gate"
    p, rid = start_training(reaper, store, steps=20, pause=0.02, RUNSTORE_DAEMON="1", T_GATE=os.fspath(gate))
    first = daemon_pid(store)
    assert wait_for(lambda: check_prefixes(store, remote, rid) > 1000, 10)
    kill9(first)
    time.sleep(0.3)
    gate.touch()
    finish_training(p)
    assert not live.marker_path(Store(store), "p", rid).exists()  # finish() removed the marker
    time.sleep(0.5)
    assert differences(store, remote, rid)  # the end of the run never left
    assert not lock.holder(Store(store).daemon_pid, wait=0)
    r = cli(store, "daemon", "start", "--dir", os.fspath(store), "--idle-exit", "60")
    assert r.returncode == 0, r.stderr
    wait_identical(store, remote, rid)
    assert wait_for(lambda: f"synced p/{rid} to {remote} (verified)" in daemon_log(store), 5), daemon_log(
        store
    )


def test_sigkilled_run_is_completed_at_the_remote(tmp_path: Path, reaper: Reaper) -> None:
    """A training process SIGKILLed mid-stream: the monitor writes its exit record (crashed) and the
    stream ends with that record at the remote too, verified."""
    from runstore.store.runs import load_run

    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote)
    p, rid = start_training(reaper, store, steps=20, pause=0.02, T_GATE=os.fspath(tmp_path / "never"))
    start_daemon(reaper, store)
    assert wait_for(lambda: check_prefixes(store, remote, rid) > 1000, 10)
    p.kill()
    p.wait()
    ref = Store(store).find_run_by_id(rid, "p")
    assert wait_for(lambda: load_run(ref).exit, 10), "the daemon did not mark the run crashed"
    wait_identical(store, remote, rid)
    assert load_run(Store(remote).find_run_by_id(rid, "p")).state == "crashed"
    assert wait_for(lambda: f"synced p/{rid} to {remote} (verified)" in daemon_log(store), 5), daemon_log(
        store
    )


# -- 4. the remote breaks, then comes back --------------------------------------------------------------------
def test_remote_unavailable_then_back(tmp_path: Path, reaper: Reaper) -> None:
    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote)
    gate = tmp_path / "gate"
    p, rid = start_training(reaper, store, steps=20, pause=0.02, RUNSTORE_DAEMON="1", T_GATE=os.fspath(gate))
    daemon_pid(store)
    assert wait_for(lambda: check_prefixes(store, remote, rid) > 1000, 10)
    # break it: the remote directory goes away and a regular file takes its place (atomically: root
    # ignores permissions, and a moment with no remote at all would let the daemon create a new one)
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    exchange(remote, blocker)
    broken_at = time.monotonic()
    key = os.fspath(remote)
    failing = wait_for(lambda: (sync_status(store).get("remotes") or {}).get(key, {}).get("error"), 5)
    assert failing, sync_status(store)
    status = sync_status(store)
    assert [v["error"] for v in status["runs"].values() if v["error"]], status
    text = cli(store, "daemon", "status").stdout
    assert f"remote {remote}: failing" in text, text
    time.sleep(max(0.0, 4.0 - (time.monotonic() - broken_at)))
    assert p.poll() is None  # training goes on meanwhile
    exchange(blocker, remote)  # back
    (tmp_path / "gate").touch()
    out, err = finish_training(p)
    took = wait_identical(store, remote, rid, timeout=12)
    print(
        f"\nidentical {took:.2f} s after the run exited ({time.monotonic() - broken_at:.1f} s after the break)"
    )
    assert wait_for(lambda: not (sync_status(store).get("remotes") or {}).get(key, {}).get("error"), 5)
    log = daemon_log(store)
    assert f"error: remote {remote}:" in log and f"recovered: remote {remote}" in log, log
    assert log.index(f"error: remote {remote}:") < log.index(f"recovered: remote {remote}")
    assert len([x for x in log.splitlines() if f"error: remote {remote}" in x]) == 1, log  # rate-limited
    no_warnings(tmp_path, out, err)


# -- 6. two stores, one remote ------------------------------------------------------------------------------------
def test_two_stores_stream_to_one_remote(tmp_path: Path, reaper: Reaper) -> None:
    remote = tmp_path / "remote"
    stores = [new_store(reaper, tmp_path / name) for name in ("a", "b")]
    runs = [
        start_training(
            reaper, s, steps=100, pause=0.02, RUNSTORE_DAEMON="1", RUNSTORE_REMOTE=os.fspath(remote)
        )
        for s in stores
    ]
    for p, _ in runs:
        finish_training(p)
    for s, (_, rid) in zip(stores, runs, strict=True):
        wait_identical(s, remote, rid)
    r = cli(stores[0], "ls", "--dir", os.fspath(remote), "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    ids = {x["id"] for x in (listed if isinstance(listed, list) else listed.get("runs", []))}
    assert ids == {rid for _, rid in runs}, r.stdout
    for _, rid in runs:
        assert Store(remote).find_run_by_id(rid, "p") is not None


def test_same_run_id_from_two_stores_is_reported_not_merged(tmp_path: Path, reaper: Reaper) -> None:
    """Two machines create a run with the same id: the remote keeps the first one's bytes, the second
    store's daemon reports the clash (sync.json, `runstore daemon status`) and sends nothing of it."""
    remote = tmp_path / "remote"
    a, b = (new_store(reaper, tmp_path / name) for name in ("a", "b"))
    env = {"RUNSTORE_DAEMON": "1", "RUNSTORE_REMOTE": os.fspath(remote), "WANDB_RUN_ID": "dup00001"}
    p, rid = start_training(reaper, a, steps=20, pause=0.01, **env)
    finish_training(p)
    wait_identical(a, remote, rid)
    first = {rel: path.read_bytes() for rel, path in remote_files(remote, rid).items()}
    gate = tmp_path / "gate"
    p, rid_b = start_training(reaper, b, steps=20, pause=0.01, T_GATE=os.fspath(gate), **env)
    assert rid_b == rid

    def clash() -> list[str]:
        runs = sync_status(b).get("runs") or {}
        return [v["error"] for v in runs.values() if v.get("error") and "different run" in v["error"]]

    try:
        assert wait_for(clash, 10), sync_status(b)
    finally:
        gate.touch()
    finish_training(p)
    text = cli(b, "daemon", "status").stdout
    assert "different run with this id" in text, text
    time.sleep(1.0)
    assert {rel: path.read_bytes() for rel, path in remote_files(remote, rid).items()} == first
    assert not differences(a, remote, rid) and differences(b, remote, rid)


# -- 7. SyncTask in-process, with a hand-driven clock -------------------------------------------------------------
@pytest.fixture
def online_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    """A live run of this process, online, whose marker names tmp_path/remote."""
    remote = tmp_path / "remote"
    monkeypatch.setenv("RUNSTORE_REMOTE", os.fspath(remote))
    monkeypatch.setattr(syncing, "STATUS_EVERY_S", 0.0)  # status written at every tick
    run = runstore.init(project="p")
    assert json.loads(live.marker_path(run._store, "p", run.id).read_bytes())["remote"] == os.fspath(remote)
    yield run, remote
    run.finish(quiet=True)


def stream_of(task: SyncTask, rid: str) -> Any:
    """The task's stream of run `rid` (None when it has none)."""
    found = [s for s in task.streams.values() if s.ref.id == rid]
    assert len(found) <= 1, found
    return found[0] if found else None


def run_status(store: Store) -> dict[str, Any]:
    """The one run entry of the daemon's sync.json (whatever it is keyed by)."""
    runs = json.loads(store.sync_status.read_bytes())["runs"]
    assert len(runs) == 1, runs
    return next(iter(runs.values()))


def test_synctask_backoff_doubles_up_to_60s_then_recovers(tmp_path: Path, online_run) -> None:
    run, remote = online_run
    remote.write_text("a file, not a directory\n")
    log_path = tmp_path / "d.log"
    task = SyncTask(run._store, DaemonLog(log_path))
    key = os.fspath(remote)
    delays, now = [], 1000.0
    for _ in range(9):
        task.tick(now)
        slot = task.slots[key]
        assert slot.error and slot.retry_at > now
        delays.append(slot.retry_at - now)
        task.tick(slot.retry_at - 0.01)  # not yet: skipped, no new failure
        assert task.slots[key].backoff.failures == len(delays)
        now = slot.retry_at
        run.log({"x": 1.0})
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    status = json.loads(run._store.sync_status.read_bytes())
    assert status["remotes"][key]["failures"] == 9 and status["remotes"][key]["error"], status
    st = run_status(run._store)
    assert st["error"] and st["live"] and st["remote"] == key, status
    # one error line however many failures; then back: one recovered line, backoff reset, bytes sent
    assert len(log_path.read_text().splitlines()) == 1
    remote.unlink()
    task.tick(now)
    slot = task.slots[key]
    assert (slot.backoff.failures, slot.retry_at, slot.error) == (0, 0.0, None)
    assert "recovered: remote" in log_path.read_text().splitlines()[-1]
    status = json.loads(run._store.sync_status.read_bytes())
    assert status["remotes"][key]["error"] is None and run_status(run._store)["error"] is None
    hist = run._ref.path / "history.jsonl"
    assert (remote / run._ref.rel / "history.jsonl").read_bytes() == hist.read_bytes()


def test_synctask_status_while_healthy_and_after_the_run_ends(online_run) -> None:
    run, remote = online_run
    task = SyncTask(run._store, DaemonLog(None))
    for i in range(3):
        run.log({"x": float(i)})
    task.tick(10.0)  # full pass
    run.log({"x": 9.0})
    task.tick(10.3)  # tail pass
    st = run_status(run._store)
    assert st == {
        "remote": os.fspath(remote),
        "live": True,
        "lag_bytes": 0,
        "last_sent": st["last_sent"],
        "error": None,
    }
    assert time.time() - 5 < st["last_sent"] <= time.time()
    hist = run._ref.path / "history.jsonl"
    assert (remote / run._ref.rel / "history.jsonl").read_bytes() == hist.read_bytes()
    # the run ends: its marker goes, a tick seals and verifies it, then the stream is dropped
    run.finish(quiet=True)
    for t in (10.6, 10.9, 11.2):
        task.tick(t)
    assert stream_of(task, run.id) is None and not task.busy()
    assert json.loads(run._store.sync_status.read_bytes())["runs"] == {}
    assert not differences(run._store.root, remote, run.id)


def test_status_names_runs_project_slash_id(online_run) -> None:
    """sync.json and `runstore daemon status` name a streaming run `project/id` (docs/FORMAT.md)."""
    run, remote = online_run
    task = SyncTask(run._store, DaemonLog(None))
    run.log({"x": 1.0})
    task.tick(10.0)
    runs = json.loads(run._store.sync_status.read_bytes())["runs"]
    assert list(runs) == [f"p/{run.id}"], runs
    r = cli(run._store.root, "daemon", "status")
    assert f"  p/{run.id} -> {remote}: lag 0 bytes" in r.stdout, r.stdout


def test_synctask_lag_grows_while_remote_is_broken(tmp_path: Path, online_run) -> None:
    run, remote = online_run
    task = SyncTask(run._store, DaemonLog(None))
    run.log({"x": 0.0})
    task.tick(10.0)
    assert stream_of(task, run.id).tails  # streaming: the append files and their remote sizes
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    exchange(remote, blocker)
    before = (run._ref.path / "history.jsonl").stat().st_size
    for i in range(50):
        run.log({"x": float(i)})
    grown = (run._ref.path / "history.jsonl").stat().st_size - before
    task.tick(10.3)
    st = run_status(run._store)
    assert st["error"], st
    assert st["lag_bytes"] >= grown, st


def test_one_clashing_run_does_not_hold_up_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runstore.remotes import open_remote
    from runstore.remotes.sync import Pusher

    remote = tmp_path / "remote"
    monkeypatch.setenv("RUNSTORE_REMOTE", os.fspath(remote))
    monkeypatch.setattr(syncing, "STATUS_EVERY_S", 0.0)
    # another machine's run with the id dup00001 is at the remote already
    other = Store(tmp_path / "other" / ".wandb")
    monkeypatch.setenv("RUNSTORE_DIR", os.fspath(other.root))
    r0 = runstore.init(project="p", id="dup00001")
    r0.log({"a": 1.0})
    r0.finish(quiet=True)
    assert Pusher(other, open_remote(os.fspath(remote))).push_run(other.find_run_by_id("dup00001", "p")).ok
    monkeypatch.setenv("RUNSTORE_DIR", os.fspath(tmp_path / ".wandb"))
    dup = runstore.init(project="p", id="dup00001", reinit="create_new")
    good = runstore.init(project="p", id="good0001", reinit="create_new")
    task = SyncTask(good._store, DaemonLog(None))
    ghist = good._ref.path / "history.jsonl"
    rhist = remote / good._ref.rel / "history.jsonl"
    lagging = []
    for k in range(40):  # 10 s of the task's clock, a tick every 0.25 s, a row before each
        good.log({"y": float(k)})
        dup.log({"x": float(k)})
        task.tick(100.0 + k * 0.25)
        if not rhist.exists() or rhist.stat().st_size != ghist.stat().st_size:
            lagging.append(k)
    clash = stream_of(task, "dup00001").error
    assert clash and "different run" in clash, clash
    assert not lagging, f"run good0001 was behind at the remote after {len(lagging)} of 40 ticks"


# -- a run started while the daemon has nothing to stream --------------------------------------------------
def first_row_latency(remote: Path, rid: str, timeout: float) -> float | None:
    """Seconds from the wall time written in the run's first row to its appearance at the remote."""
    rhist = remote / "projects" / "p" / "runs" / rid / "history.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = rhist.read_bytes().split(b"\n", 1)
        except FileNotFoundError:
            line = []
        if len(line) == 2:
            return time.time() - json.loads(line[0])["wall"]
        time.sleep(0.01)
    return None


def test_run_started_while_daemon_idles_is_streamed_soon(tmp_path: Path, reaper: Reaper) -> None:
    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote)
    start_daemon(reaper, store)  # already running, as after an earlier run (it idles for 120 s)
    assert wait_for(lambda: Store(store).sync_status.exists(), 10)  # its sync task has ticked
    time.sleep(0.3)
    gate = tmp_path / "gate"
    p, rid = start_training(reaper, store, steps=10, pause=0.02, T_GATE=os.fspath(gate))
    try:
        took = first_row_latency(remote, rid, timeout=4)
        print(f"\nfirst row visible {took} s after log() (daemon idle before the run)")
        assert took is not None and took <= 2.0, took
    finally:
        gate.touch()
    finish_training(p)
    wait_identical(store, remote, rid)


SHORT_RUNS = """\
import runstore
for k in range(10):
    run = runstore.init(project="p")
    for i in range(3):
        run.log({"i": i})
    run.finish(quiet=True)
    print(run.id, flush=True)
"""


def test_short_online_runs_reach_the_remote(tmp_path: Path, reaper: Reaper) -> None:
    """Ten online runs of a few rows each, one after the other, while a daemon idles: each reaches the
    remote, though a run lives far less than the daemon's idle scan interval (1 s)."""
    remote = tmp_path / "remote"
    store = new_store(reaper, tmp_path / "m", remote=remote)
    start_daemon(reaper, store)
    assert wait_for(lambda: Store(store).sync_status.exists(), 10)
    script = tmp_path / "short.py"
    script.write_text(SHORT_RUNS)
    t0 = time.monotonic()
    r = subprocess.run(
        [PY, os.fspath(script)], env=env_for(store), capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    ids = r.stdout.split()
    # ten runs one after the other in a few seconds: each scan of the markers can see one of them at most
    assert len(ids) == 10 and time.monotonic() - t0 < 6
    missing = [i for i in ids if differences(store, remote, i)]
    deadline = time.monotonic() + 5
    while missing and time.monotonic() < deadline:
        time.sleep(0.1)
        missing = [i for i in ids if differences(store, remote, i)]
    assert not missing, f"{len(missing)} of 10 finished online runs never reached the remote"
