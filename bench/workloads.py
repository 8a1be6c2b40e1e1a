"""Child-side workloads for bench/run.py.

Every measurement runs in a fresh interpreter (`python bench/workloads.py NAME JSON-ARGS`) so that one
library's imports, threads and helper processes (wandb starts `wandb-core`) cannot slow down the other,
and so that caches kept in memory by one read do not flatter the next. The child prints exactly one
`BENCH_RESULT {json}` line; everything else it prints is ignored by the parent.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARK = "BENCH_RESULT "

# Ten keys shaped like a real training loop's metrics; the names matter because both libraries treat
# '/' specially in their UIs, and the value widths (random doubles print as ~18 digits) drive bytes/step.
KEYS = (
    "train/loss",
    "train/acc",
    "val/loss",
    "val/acc",
    "train/lr",
    "train/grad_norm",
    "train/throughput",
    "val/f1",
    "val/precision",
    "val/recall",
)

Result = dict[str, Any]


def _emit(result: Result) -> None:
    sys.stdout.write(MARK + json.dumps(result) + "\n")
    sys.stdout.flush()


def _maxrss_mb() -> float:
    # ru_maxrss is KiB on Linux; the figure is a sanity check on memory, not a benchmark.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _init(lib: Any, project: str, **kw: Any) -> Any:
    return lib.init(project=project, **kw)


def _run_dir_files(lib_name: str, run: Any) -> dict[str, int]:
    """Sizes of the files that hold the logged data, after finish()."""
    if lib_name == "runstore":
        d = Path(run.sync_dir)
        return {name: (d / name).stat().st_size for name in ("history.jsonl", "run.jsonl")}
    # wandb keeps everything it would upload in one protobuf log, `run-<id>.wandb`, beside files/.
    d = Path(run.dir).parent
    return {p.name: p.stat().st_size for p in d.glob("*.wandb")}


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- log() hot path -------------------------------------------------------------------------------------
def log_cost(lib_name: str, n: int, rounds: int, warmup_s: float = 0.0, form: str = "bare") -> Result:
    """µs per log() call and µs per iteration of the same loop without the call.

    Rounds alternate between the empty loop and the log loop so that drift (CPU frequency, the page
    cache filling, wandb's background process waking up) hits both; the median round is reported.
    `form` is the kind of call (LOG_FORMS): both loops build the same values, only the call differs.
    """
    lib = importlib.import_module(lib_name)
    run = _init(lib, "bench-log")
    rnd = random.Random(0).random
    keys = KEYS
    log: Callable[..., Any] = run.log
    per = max(1, n // rounds)
    make, call = _log_form(form, rnd, keys, log)

    def empty_loop() -> float:
        t = time.perf_counter()
        for _ in range(per):
            d = make()  # noqa: F841 - building the values is the work being subtracted
        return time.perf_counter() - t

    counter = iter(range(10**12))

    def log_loop() -> float:
        t = time.perf_counter()
        for _ in range(per):
            call(make(), next(counter))
        return time.perf_counter() - t

    for _ in range(min(per, 1000)):  # first calls pay for lazy imports and file opens
        call(make(), next(counter))
    time.sleep(warmup_s)  # e.g. for the daemon to be streaming this run before the clock starts
    empties: list[float] = []
    logs: list[float] = []
    for _ in range(rounds):
        empties.append(empty_loop())
        logs.append(log_loop())
    t = time.perf_counter()
    run.finish()
    finish_s = time.perf_counter() - t
    empty_us = statistics.median(empties) / per * 1e6
    log_us = statistics.median(logs) / per * 1e6
    return {
        "calls": per * rounds,
        "empty_us": empty_us,
        "log_us": log_us,
        "overhead_us": log_us - empty_us,
        "finish_s": finish_s,
        "maxrss_mb": _maxrss_mb(),
        "rounds_log_us": [x / per * 1e6 for x in logs],
        "rounds_empty_us": [x / per * 1e6 for x in empties],
    }


# The forms of log() real scripts and integrations use (Lightning and accelerate pass step=, Keras
# commit=False, numpy/torch scalars everywhere): (values to build, how log() is called with them).
LOG_FORMS = ("bare", "step", "commit", "nested", "numpy")


def _log_form(
    form: str, rnd: Callable[[], float], keys: tuple[str, ...], log: Callable[..., Any]
) -> tuple[Any, Any]:
    half = len(keys) // 2
    if form == "bare":
        return (lambda: {k: rnd() for k in keys}), (lambda d, i: log(d))
    if form == "step":
        # the counter keeps growing across rounds: a step is never lower than the run's current one
        return (lambda: {k: rnd() for k in keys}), (lambda d, i: log(d, step=i + 1000))
    if form == "commit":
        # Keras' pattern: half the row with commit=False, the rest with the committing call
        def commit_call(d: tuple[dict[str, float], dict[str, float]], i: int) -> None:
            log(d[0], commit=False)
            log(d[1])

        return (lambda: ({k: rnd() for k in keys[:half]}, {k: rnd() for k in keys[half:]})), commit_call
    if form == "nested":
        return (lambda: {"train": {k: rnd() for k in keys[:half]}, "val": {k: rnd() for k in keys[half:]}}), (
            lambda d, i: log(d)
        )
    if form == "numpy":
        import numpy as np

        f32 = np.float32
        return (lambda: {k: f32(rnd()) for k in keys}), (lambda d, i: log(d))
    raise ValueError(f"unknown log form {form!r}; one of {', '.join(LOG_FORMS)}")


# -- bytes on disk per step ------------------------------------------------------------------------------
def disk_bytes(lib_name: str, n: int) -> Result:
    lib = importlib.import_module(lib_name)
    run = _init(lib, "bench-bytes")
    rnd = random.Random(1).random
    for _ in range(n):
        run.log({k: rnd() for k in KEYS})
    run.finish()
    files = _run_dir_files(lib_name, run)
    total = sum(files.values())
    run_dir = Path(run.sync_dir) if lib_name == "runstore" else Path(run.dir).parent
    return {"steps": n, "files": files, "bytes_per_step": total / n, "run_dir_bytes": _dir_size(run_dir)}


# -- reading a big history -------------------------------------------------------------------------------
def gen_history(store: str, project: str, run_id: str, n: int) -> Result:
    """Write the big run the read benchmark reads (once; bench/run.py caches it under bench/out/)."""
    import runstore

    os.environ["RUNSTORE_DIR"] = store
    t = time.perf_counter()
    run = runstore.init(project=project, id=run_id)
    rnd = random.Random(2).random
    log = run.log
    for _ in range(n):
        log({k: rnd() for k in KEYS})
    run.finish()
    return {"seconds": time.perf_counter() - t, "path": run.sync_dir}


def read_history(store: str, project: str, run_id: str, cold: bool) -> Result:
    """Seconds to get the whole history as a DataFrame; imports are paid before the clock starts."""
    import pandas as pd

    import runstore
    from runstore.store.history import read_columns
    from runstore.store.store import Store

    os.environ["RUNSTORE_DIR"] = store
    run_path = Store(store).run(project, run_id).path
    if cold:
        shutil.rmtree(run_path / "cache", ignore_errors=True)
    try:
        api_cls = runstore.Api  # lazily imports runstore.api, which may not exist yet
        method = "Api().run().history()"
        api_error = None
    except (ImportError, AttributeError) as e:
        api_cls = None
        method = "read_columns()+DataFrame (runstore.Api not available)"
        api_error = f"{type(e).__name__}: {e}"
    t = time.perf_counter()
    if api_cls is not None:
        df = api_cls().run(f"{project}/{run_id}").history(samples=None, pandas=True)
    else:
        cols, _ = read_columns(run_path / "history.jsonl")
        df = pd.DataFrame(cols)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "rows": int(len(df)),
        "columns": int(len(df.columns)),
        "method": method,
        "api_error": api_error,
        "cache_exists": (run_path / "cache").exists(),
        "maxrss_mb": _maxrss_mb(),
    }


# -- many runs -------------------------------------------------------------------------------------------
def gen_runs(store: str, project: str, n: int) -> Result:
    """n small finished runs in one process, the way a sweep driver or a notebook would make them."""
    import runstore

    os.environ["RUNSTORE_DIR"] = store
    rng = random.Random(3)
    t = time.perf_counter()
    lap = t
    laps: list[float] = []
    for i in range(n):
        run = runstore.init(
            project=project,
            config={"lr": 10 ** rng.uniform(-5, -1), "bs": rng.choice((32, 64, 128))},
            reinit="finish_previous",
        )
        for step in range(3):
            run.log({"loss": rng.random() / (step + 1), "acc": rng.random()})
        run.finish()
        if (i + 1) % 1000 == 0:  # per-thousand laps show whether creating a run slows as the project grows
            now = time.perf_counter()
            laps.append(now - lap)
            lap = now
    return {"seconds": time.perf_counter() - t, "runs": n, "laps_per_1000_s": laps}


def load_all_runs(store: str, project: str) -> Result:
    """Stand-in for `runstore ls` while the CLI is not built: fold run.jsonl of every run."""
    from runstore.store.runs import load_run
    from runstore.store.store import Store

    t = time.perf_counter()
    states = [load_run(ref) for ref in Store(store).iter_runs(project)]
    finished = sum(1 for s in states if s.state == "finished")
    return {"seconds": time.perf_counter() - t, "runs": len(states), "finished": finished}


# -- the store daemon ------------------------------------------------------------------------------------
SLEEPER = """\
import os, sys
import runstore
from runstore.store import live
from runstore.store.liveness import hostname, start_token

run = runstore.init(project="bench-daemon", config={"i": int(sys.argv[1])})
live.register(run._store, run._ref.project, run.id, run._ref.path, os.getpid(), start_token(os.getpid()),
              hostname())
print(run.id, flush=True)
sys.stdin.read()  # a training process that sleeps until the parent closes our stdin
run.finish()
"""


def daemon_cpu(seconds: float, runs: int, interval: float) -> Result:
    """CPU used by the store daemon while it samples `runs` live (sleeping) runs every `interval` s.

    The daemon's own start-up (imports, first ticks) is excluded: the clock starts after a warm-up of
    two intervals plus a second. Its CPU seconds come from the kernel's accounting of its pid.
    """
    import subprocess

    import psutil

    store = Path(os.environ["RUNSTORE_DIR"])
    env = {**os.environ, "RUNSTORE_DAEMON": "0"}  # the sleepers' init() must not start daemons of their own
    sleepers = [
        subprocess.Popen(
            [sys.executable, "-c", SLEEPER, str(i)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(runs)
    ]
    daemon = None
    try:
        ids = [p.stdout.readline().strip() for p in sleepers]  # type: ignore[union-attr]
        if not all(ids):
            raise RuntimeError("a sleeper run did not start")
        daemon = _start_daemon(store, interval, env)
        time.sleep(2 * interval + 1.0)
        if daemon.poll() is not None:
            raise RuntimeError(f"daemon exited: {daemon.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        proc = psutil.Process(daemon.pid)
        sys_files = [store / "projects" / "bench-daemon" / "runs" / rid / "system.jsonl" for rid in ids]

        def rows() -> int:
            return sum(f.read_bytes().count(b"\n") for f in sys_files if f.exists())

        c0, r0, t0 = proc.cpu_times(), rows(), time.monotonic()
        time.sleep(seconds)
        c1, r1, t1 = proc.cpu_times(), rows(), time.monotonic()
        cpu_s = (c1.user + c1.system) - (c0.user + c0.system)
        rss_mb = proc.memory_info().rss / 2**20
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.terminate()
            daemon.wait(timeout=10)
        for p in sleepers:
            try:
                p.stdin.close()  # type: ignore[union-attr]
                p.wait(timeout=10)
            except Exception:
                p.kill()
    wall = t1 - t0
    return {
        "cpu_percent": 100.0 * cpu_s / wall,
        "cpu_s": cpu_s,
        "wall_s": wall,
        "runs": runs,
        "interval_s": interval,
        "samples": r1 - r0,
        "expected_samples": runs * wall / interval,
        "daemon_rss_mb": rss_mb,
    }


def _start_daemon(store: Path, interval: float, env: dict[str, str]) -> Any:
    """`python -m runstore.daemon` on `store` (no idle exit), returned once it holds the store's lock."""
    import subprocess

    from runstore.daemon import lock
    from runstore.store.store import Store

    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runstore.daemon",
            "--store",
            str(store),
            "--interval",
            str(interval),
            "--idle-exit",
            "0",
        ],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while lock.holder(Store(store).daemon_pid, wait=0) != daemon.pid:
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            raise RuntimeError(f"daemon did not start: {daemon.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        time.sleep(0.01)
    return daemon


def daemon_client(calls: int) -> Result:
    """What init() pays for the daemon, in a fresh interpreter that has imported runstore as init()'s caller
    has: ensure_running() when no daemon runs (it spawns one and must not wait for it), then per call
    once that daemon holds the lock (a lock probe; init() of every later run pays this)."""
    import runstore  # noqa: F401 - imports a training script has paid before its init()
    from runstore.daemon import client, control, lock
    from runstore.store.store import Store

    store = Path(os.environ["RUNSTORE_DIR"])
    Store(store).ensure()
    env = {"RUNSTORE_DAEMON": "1"}
    pid = None
    try:
        t0 = time.perf_counter()
        client.ensure_running(store, env=env)
        returned = time.perf_counter()
        running_on_return = lock.is_locked(Store(store).daemon_pid)
        deadline = returned + 30
        while pid is None and time.perf_counter() < deadline:
            pid = lock.holder(Store(store).daemon_pid, wait=0)
            if pid is None:
                time.sleep(0.005)
        up = time.perf_counter()
        if pid is None:
            raise RuntimeError("ensure_running() started no daemon within 30 s")
        rounds: list[float] = []
        per = max(1, calls // 5)
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(per):
                client.ensure_running(store, env=env)
            rounds.append((time.perf_counter() - t) / per)
        if lock.holder(Store(store).daemon_pid) != pid:
            raise RuntimeError("the daemon changed while probing")
    finally:
        if client.is_running(store):
            control.stop(store)
    return {
        "spawn_ms": 1000 * (returned - t0),
        "daemon_up_ms": 1000 * (up - t0),
        "running_on_return": running_on_return,
        "probe_us": 1e6 * statistics.median(rounds),
        "rounds_probe_us": [1e6 * x for x in rounds],
        "calls": per * 5,
    }


CRASHER = """\
import os, time
import runstore
from runstore.store import live
from runstore.store.liveness import hostname, start_token

run = runstore.init(project="bench-crash")
live.register(run._store, run._ref.project, run.id, run._ref.path, os.getpid(), start_token(os.getpid()),
              hostname())
print(run.id, flush=True)
i = 0
while True:  # trains until SIGKILLed
    run.log({"loss": 1.0 / (i + 1), "i": i})
    i += 1
    time.sleep(0.01)
"""


def crash_detect(kills: int, interval: float) -> Result:
    """Seconds from SIGKILL of a training process to the daemon's `crashed` exit record in its run.jsonl,
    for `kills` runs in turn under one daemon sampling every `interval` s. Each run is killed once the
    daemon has sampled it twice (it is tracking it); the record is polled every 2 ms."""
    import signal
    import subprocess

    from runstore.store.runs import load_run
    from runstore.store.store import Store

    store = Path(os.environ["RUNSTORE_DIR"])
    Store(store).ensure()
    env = {**os.environ, "RUNSTORE_DAEMON": "0"}  # the runs' init() must not start daemons of their own
    daemon = _start_daemon(store, interval, env)
    times: list[float] = []
    try:
        for _ in range(kills):
            p = subprocess.Popen(
                [sys.executable, "-c", CRASHER],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                rid = p.stdout.readline().strip()  # type: ignore[union-attr]
                ref = Store(store).find_run_by_id(rid, "bench-crash") if rid else None
                if ref is None:
                    raise RuntimeError("a training run did not start")
                system = ref.path / "system.jsonl"
                deadline = time.monotonic() + 30
                while not (system.exists() and system.read_bytes().count(b"\n") >= 2):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the daemon did not sample the run")
                    time.sleep(0.01)
            except BaseException:
                p.kill()
                p.wait()
                raise
            t = time.monotonic()
            p.send_signal(signal.SIGKILL)
            p.wait()
            while (st := load_run(ref)).exit is None:
                if time.monotonic() - t > 30:
                    raise RuntimeError("the daemon did not mark a SIGKILLed run crashed within 30 s")
                time.sleep(0.002)
            times.append(time.monotonic() - t)
            if st.state != "crashed" or st.exit.get("by") != "daemon":
                raise RuntimeError(f"unexpected exit record: {st.exit}")
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    return {
        "median_s": statistics.median(times),
        "max_s": max(times),
        "min_s": min(times),
        "times_s": times,
        "interval_s": interval,
        "kills": kills,
    }


def gpu_probe(calls: int) -> Result:
    """ms of gpu_inventory(), which init() records in the run's metadata: its first call in a fresh
    interpreter, then the median of `calls` calls with its per-process cache cleared. Without an NVIDIA
    driver it must be a stat(), not an import of pynvml (~20 ms)."""
    import runstore  # noqa: F401
    from runstore.daemon import gpu

    imported_before = "pynvml" in sys.modules
    t = time.perf_counter()
    inventory = gpu.gpu_inventory()
    first = time.perf_counter() - t
    imported_after = "pynvml" in sys.modules
    times = []
    for _ in range(calls):
        gpu._inventory.cache_clear()
        t = time.perf_counter()
        gpu.gpu_inventory()
        times.append(time.perf_counter() - t)
    return {
        "first_ms": 1000 * first,
        "median_ms": 1000 * statistics.median(times),
        "calls": calls,
        "gpus": len(inventory),
        "driver_present": gpu.driver_present(),
        "pynvml_imported": imported_after and not imported_before,
    }


def image_log(lib_name: str, n: int, rounds: int) -> Result:
    """ms per `run.log({"img": lib.Image(px)})` of a 64x64 RGB uint8 array whose content changes every
    step (so no file is deduplicated); the first image (imports, directory creation) is not counted."""
    import numpy as np

    lib = importlib.import_module(lib_name)
    run = _init(lib, "bench-image")
    px = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    run.log({"img": lib.Image(px)})
    per = max(1, n // rounds)
    k = 0
    per_image: list[float] = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(per):
            k += 1
            px[0, 0, 0], px[0, 0, 1] = k % 256, k // 256  # distinct content each step
            run.log({"img": lib.Image(px)})
        per_image.append((time.perf_counter() - t) / per)
    t = time.perf_counter()
    run.finish()
    finish_s = time.perf_counter() - t
    run_dir = Path(run.sync_dir) if lib_name == "runstore" else Path(run.dir).parent
    return {
        "ms_per_image": 1000 * statistics.median(per_image),
        "rounds_ms": [1000 * x for x in per_image],
        "images": per * rounds,
        "png_files": sum(1 for _ in run_dir.rglob("*.png")),
        "finish_s": finish_s,
    }


def sweep_proposals(method: str, finished: int, calls: int) -> Result:
    """Median time of one `next_params` proposal with `finished` finished trials already recorded."""
    import math
    import statistics

    from runstore.sweeps.schema import parse_config
    from runstore.sweeps.search import Trial, next_params

    params: dict[str, Any] = {
        "x": {"min": -5.0, "max": 10.0},
        "y": {"values": list(range(30))},
        "z": {"min": 1, "max": 8},
        "o": {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0}}},
    }
    if method == "grid":  # grid takes discrete parameters only
        params["x"] = {"values": [float(i) for i in range(10)]}
        params["o"] = {"value": 1}
    config = parse_config({"method": method, "parameters": params, "metric": {"name": "m"}})
    seeder = config if method != "bayes" else parse_config({"method": "random", "parameters": params})
    trials: list[Any] = []
    for i in range(finished):
        p = next_params(seeder, trials, seed=0)
        trials.append(Trial(f"r{i}", p, "finished", [math.sin(i) + j for j in range(5)]))
    t0 = time.perf_counter()
    next_params(config, trials, seed=1)  # the first call pays for imports (optuna)
    first = time.perf_counter() - t0
    times = []
    for i in range(calls):
        t0 = time.perf_counter()
        next_params(config, trials, seed=i)
        times.append(time.perf_counter() - t0)
    from runstore.sweeps.search import bayes_sampler

    return {
        "median_ms": 1000 * statistics.median(times),
        "first_ms": 1000 * first,
        "calls": calls,
        "finished": finished,
        "sampler": bayes_sampler() if method == "bayes" else method,
    }


def agent_start(runs: int) -> Result:
    """Seconds from launching `python -m runstore agent ID` to the first line of its first trial."""
    import statistics
    import subprocess
    import tempfile

    from runstore.store.store import Store
    from runstore.sweeps.controller import create_sweep

    cmd = [
        "${env}",
        "${interpreter}",
        "-c",
        "import time; open('t0', 'w').write(repr(time.time()))",
        "${args}",
    ]
    samples = []
    for _ in range(runs):
        d = Path(tempfile.mkdtemp(prefix="agent-"))
        env = {**os.environ, "RUNSTORE_DIR": str(d / ".wandb"), "RUNSTORE_DAEMON": "0"}
        sweep = create_sweep(
            {"method": "grid", "command": cmd, "parameters": {"x": {"values": [1]}}},
            project="b",
            store=Store(d / ".wandb"),
        )
        t0 = time.time()
        subprocess.run(
            [sys.executable, "-m", "runstore", "agent", "--count", "1", sweep.id],
            cwd=d,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
        samples.append(float((d / "t0").read_text()) - t0)
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "runs": runs,
    }


# -- sync --------------------------------------------------------------------------------------------------
def gen_sync_store(store: str, project: str, runs: int, steps: int, media: int) -> Result:
    """The store the sync benchmark ships: `runs` finished runs of `steps` rows of the 10-float dict, each
    with `media` small PNG images, made in one process (bench/run.py caches it under bench/out/)."""
    import numpy as np

    import runstore

    os.environ["RUNSTORE_DIR"] = store
    os.environ["RUNSTORE_CONSOLE"] = "off"
    rng = random.Random(5)
    t = time.perf_counter()
    for i in range(runs):
        run = runstore.init(
            project=project, config={"lr": 10 ** rng.uniform(-5, -1), "i": i}, reinit="finish_previous"
        )
        every = max(1, steps // max(1, media))
        for step in range(steps):
            row = {k: rng.random() for k in KEYS}
            if media and step % every == 0:
                px = np.frombuffer(rng.randbytes(32 * 32 * 3), dtype=np.uint8).reshape(32, 32, 3)
                row["sample"] = runstore.Image(px)
            run.log(row)
        run.finish()
    return {"seconds": time.perf_counter() - t, "runs": runs, "steps": steps, "media": media}


STREAMER = """\
import json, sys, time
import runstore

rate, seconds = float(sys.argv[1]), float(sys.argv[2])
keys = [f"k{i}" for i in range(10)]
run = runstore.init(project="bench-stream")
print(run.id, flush=True)
sys.stdin.readline()  # go
batch = max(1, int(rate / 100))  # 10 ms of rows per wake-up
n = int(rate * seconds)
costs = []
t0 = time.perf_counter()
i = 0
while i < n:
    target = t0 + i / rate
    d = target - time.perf_counter()
    if d > 0:
        time.sleep(d)
    for _ in range(batch):
        row = {k: float(i) for k in keys}
        a = time.perf_counter_ns()
        run.log(row)
        costs.append(time.perf_counter_ns() - a)
        i += 1
costs.sort()
print(json.dumps({"n": n, "wall": time.perf_counter() - t0, "mean_us": sum(costs) / len(costs) / 1000,
                  "median_us": costs[len(costs) // 2] / 1000}), flush=True)
run.finish()
"""


def sync_stream(remote: str | None, runs: int, rate: float, seconds: float, watch: bool) -> Result:
    """`runs` processes log `rate` steps/s for `seconds` s into a store streamed by its daemon to `remote`
    (None: no remote, the baseline). Reports log() cost per call as the processes saw it, the daemon's
    CPU while they logged and, with `watch`, log->visible latency at a directory remote: a thread of
    this process tails the remote copy of the first run's history and compares each row's `_timestamp`
    with the moment its line became readable there."""
    import subprocess
    import threading

    import psutil

    from runstore.store.store import Store

    store = Path(os.environ["RUNSTORE_DIR"])
    st = Store(store)
    st.ensure()
    st.write_settings({"remote": remote} if remote else {})
    # online: bench children default to offline mode, and an offline run is never streamed
    env = {**os.environ, "RUNSTORE_DAEMON": "0", "RUNSTORE_CONSOLE": "off", "WANDB_MODE": "online"}
    daemon = _start_daemon(store, 2.0, env)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", STREAMER, str(rate), str(seconds)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(runs)
    ]
    latencies: list[float] = []
    stop = threading.Event()
    try:
        ids = [p.stdout.readline().strip() for p in procs]  # type: ignore[union-attr]
        if not all(ids):
            raise RuntimeError(f"a streamer did not start: {procs[0].stderr.read()[-800:]}")  # type: ignore[union-attr]
        watcher = None
        if watch and remote:
            target = Path(remote) / "projects" / "bench-stream" / "runs" / ids[0] / "history.jsonl"

            def tail() -> None:
                pos, buf = 0, b""
                while not stop.is_set():
                    try:
                        with open(target, "rb") as f:
                            f.seek(pos)
                            data = f.read()
                    except FileNotFoundError:
                        data = b""
                    now = time.time()
                    if data:
                        pos += len(data)
                        buf += data
                        *lines, buf = buf.split(b"\n")
                        for line in lines:
                            latencies.append(now - json.loads(line)["_timestamp"])
                    time.sleep(0.002)

            watcher = threading.Thread(target=tail, daemon=True)
            watcher.start()
        dproc = psutil.Process(daemon.pid)
        c0, w0 = dproc.cpu_times(), time.monotonic()
        for p in procs:
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        stats = [json.loads(p.stdout.readline()) for p in procs]  # type: ignore[union-attr]
        c1, w1 = dproc.cpu_times(), time.monotonic()
        for p in procs:
            p.wait(timeout=60)
        if watcher is not None:
            time.sleep(3.0)  # the final pass: the last rows arrive
            stop.set()
            watcher.join(timeout=5)
    finally:
        stop.set()
        for p in procs:
            if p.poll() is None:
                p.kill()
        daemon.terminate()
        daemon.wait(timeout=10)
    cpu_s = (c1.user + c1.system) - (c0.user + c0.system)
    lat = sorted(latencies)
    out: Result = {
        "runs": runs,
        "rate": rate,
        "seconds": seconds,
        "log_mean_us": statistics.mean(s["mean_us"] for s in stats),
        "log_median_us": statistics.median(s["median_us"] for s in stats),
        "achieved_rate": statistics.mean(s["n"] / s["wall"] for s in stats),
        "daemon_cpu_percent": 100.0 * cpu_s / (w1 - w0),
        "daemon_cpu_s": cpu_s,
        "wall_s": w1 - w0,
    }
    if lat:
        out.update(
            rows_seen=len(lat),
            rows_logged=stats[0]["n"],
            latency_median_s=statistics.median(lat),
            latency_p99_s=lat[min(len(lat) - 1, int(0.99 * len(lat)))],
            latency_max_s=lat[-1],
        )
    return out


def log_cost_streaming(n: int, rounds: int, remote: str) -> Result:
    """`log_cost` for runstore while the store's daemon streams that very run to a directory remote."""
    from runstore.store.store import Store

    store = Path(os.environ["RUNSTORE_DIR"])
    st = Store(store)
    st.ensure()
    st.write_settings({"remote": remote})
    os.environ["WANDB_MODE"] = "online"  # bench children default to offline, which never streams
    env = {**os.environ, "RUNSTORE_DAEMON": "0"}
    daemon = _start_daemon(store, 2.0, env)
    try:
        out = log_cost("runstore", n, rounds, warmup_s=1.5)  # the daemon finds new runs within 1 s
        run_dir = next((store / "projects" / "bench-log" / "runs").iterdir())
        local = (run_dir / "history.jsonl").stat().st_size
        there = Path(remote) / "projects" / "bench-log" / "runs" / run_dir.name / "history.jsonl"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not there.exists() or there.stat().st_size < local):
            time.sleep(0.05)
        out["streamed_bytes"] = there.stat().st_size if there.exists() else 0
        out["local_bytes"] = local
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    return out


def sync_s3(runs: int, steps: int) -> Result:
    """The sync workloads against moto's S3 server (slow Python; figures only): initial sync, second
    sync, and log->visible latency of one streamed run."""
    import socket
    import subprocess
    import urllib.request

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto did not start") from None
                time.sleep(0.1)
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=endpoint,
            FSSPEC_S3_ENDPOINT_URL=endpoint,
        )
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        url = "s3://bench/runs"
        src = Path(os.environ["RUNSTORE_DIR"])
        gen_sync_store(str(src), "bench-s3", runs, steps, 2)
        total = sum(f.stat().st_size for f in src.rglob("*") if f.is_file() and "cache" not in f.parts)
        cli = [str(Path(sys.executable).parent / "runstore"), "sync", "--all", "--remote", url, "--json"]
        t = time.perf_counter()
        first = subprocess.run(cli, capture_output=True, text=True, env=os.environ)
        first_s = time.perf_counter() - t
        if first.returncode != 0:
            raise RuntimeError(f"sync to S3 failed: {first.stderr[-800:]}")
        t = time.perf_counter()
        second = subprocess.run(cli, capture_output=True, text=True, env=os.environ)
        second_s = time.perf_counter() - t
        if json.loads(second.stdout)["bytes"] != 0:
            raise RuntimeError("the second sync to S3 sent bytes")
        # streaming latency: poll the remote through the same backend the daemon writes with
        from runstore.remotes import open_remote

        stream_store = src.parent / "stream-store"
        os.environ["RUNSTORE_DIR"] = str(stream_store)
        rem = open_remote(url)
        lat = _stream_latency_remote(stream_store, url, rem)
        return {
            "runs": runs,
            "steps": steps,
            "bytes": total,
            "first_s": first_s,
            "first_mb_s": total / first_s / 1e6,
            "second_s": second_s,
            **lat,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def _stream_latency_remote(
    store: Path, url: str, rem: Any, rate: float = 100.0, seconds: float = 5.0
) -> Result:
    """log->visible latency of one run streamed to `rem`, polled through the remote's own reads."""
    import subprocess

    from runstore.store.store import Store

    st = Store(store)
    st.ensure()
    st.write_settings({"remote": url})
    # online: bench children default to offline mode, and an offline run is never streamed
    env = {**os.environ, "RUNSTORE_DAEMON": "0", "RUNSTORE_CONSOLE": "off", "WANDB_MODE": "online"}
    daemon = _start_daemon(store, 2.0, env)
    proc = subprocess.Popen(
        [sys.executable, "-c", STREAMER, str(rate), str(seconds)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lat: list[float] = []
    try:
        rid = proc.stdout.readline().strip()  # type: ignore[union-attr]
        rel = f"projects/bench-stream/runs/{rid}/history.jsonl"
        proc.stdin.write("go\n")  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
        pos, buf = 0, b""
        deadline = time.monotonic() + seconds + 15
        while time.monotonic() < deadline and len(lat) < int(rate * seconds):
            try:
                size = rem.size(rel) or 0
            except Exception:
                size = 0
            if size > pos:
                data = rem.read(rel, pos, size)
                now = time.time()
                pos += len(data)
                buf += data
                *lines, buf = buf.split(b"\n")
                lat.extend(now - json.loads(x)["_timestamp"] for x in lines)
            time.sleep(0.01)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        daemon.terminate()
        daemon.wait(timeout=10)
    lat.sort()
    if not lat:
        return {"stream_rows_seen": 0}
    return {
        "stream_rows_seen": len(lat),
        "stream_latency_median_s": statistics.median(lat),
        "stream_latency_p99_s": lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


WORKLOADS: dict[str, Callable[..., Result]] = {
    "gen_sync_store": gen_sync_store,
    "sync_stream": sync_stream,
    "log_cost_streaming": log_cost_streaming,
    "sync_s3": sync_s3,
    "log_cost": log_cost,
    "disk_bytes": disk_bytes,
    "gen_history": gen_history,
    "read_history": read_history,
    "gen_runs": gen_runs,
    "load_all_runs": load_all_runs,
    "daemon_cpu": daemon_cpu,
    "sweep_proposals": sweep_proposals,
    "agent_start": agent_start,
    "daemon_client": daemon_client,
    "crash_detect": crash_detect,
    "gpu_probe": gpu_probe,
    "image_log": image_log,
}


def main(argv: list[str]) -> None:
    name, args = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    _emit(WORKLOADS[name](**args))


if __name__ == "__main__":
    main(sys.argv[1:])
