"""The dashboard (`runstore ui`) timed in a real browser, and TensorBoard on the same 1M-step run.

    python bench/run.py --only ui            # the rows of the results table (--quick: small sizes)
    python bench/ui.py FUNCTION JSON         # one child (data generation, cache warm-up, TensorBoard's
                                             # Python loader): prints `BENCH_RESULT {json}`

Pages are loaded in Debian's chromium through Playwright (a fresh browser context, so a fresh page and
HTTP cache, per load; the browser itself starts once, with a fresh user-data dir). A page's first paint is
the time from `page.goto` until every chart in the viewport has `data-loaded="1"` (its data drawn), read
by `page.wait_for_function` polling at each animation frame. The server is `runstore ui --dir STORE
--port 0`, the derived caches (column cache and chart pyramid) built before timing as the daemon's
`CacheBuilder` builds them for a finished run, and one untimed load of each page first (the server's
in-memory memo of the run's columns, the OS page cache, chromium's compiled scripts).

TensorBoard reads an event file holding the same values (one `Event` per scalar, as
`SummaryWriter.add_scalar` writes it; built here with numpy rather than 10 million Python calls):
`tensorboard --logdir` with its default loader (`--load_fast=auto`: the Rust data server of the
`tensorboard-data-server` package when it runs here) until its scalars route serves every tag up to the
last step, and its Python loader, `EventAccumulator.Reload()` (what `--load_fast=false` runs), which
takes tens of µs per event (pure-Python CRC32C and proto parsing): 10 million events would take minutes,
so it gets a time budget (BENCH_UI_TB_BUDGET_S, 120 s; 0: none) and its time is extrapolated past it
(linear: it reads the file front to back; the row says so).

This file is also the child process (its functions run in a fresh interpreter, cwd = a temp dir).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = "BENCH_RESULT "
BENCH = Path(__file__).resolve().parent
PY = sys.executable
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
PAGE_TIMEOUT_MS = 60_000
RUN_PROJECT, PROJECT_PROJECT, OVERLAY_PROJECT = "bench-ui", "bench-ui-project", "bench-ui-overlay"
SPIKE_KEY, SPIKE_VALUE = "train/loss", 1000.0  # one row of train/loss far above the others (all < 1)
RUN_BUCKETS = 1500  # what the run page asks for (static/run.js BUCKETS)
OVERLAY_BUCKETS = 1000  # what the project page asks for (static/project.js BUCKETS)


@dataclass(frozen=True)
class UiSizes:
    steps: int  # the big run: steps of the 10-float rows
    spike_step: int
    project_runs: int  # the project page's project
    project_steps: int
    overlay_runs: int  # the overlay's project: every run selected
    overlay_steps: int
    page_loads: int  # timed browser loads per page (median), each in a fresh context
    api_repeats: int  # timed API requests (median), after one untimed
    tb_python_budget_s: float  # EventAccumulator: stop and extrapolate past this (0: no limit)


FULL_UI = UiSizes(1_000_000, 777_777, 1000, 200, 100, 10_000, 5, 5, 120.0)
QUICK_UI = UiSizes(50_000, 38_888, 100, 200, 20, 5_000, 3, 3, 8.0)


# -- children (fresh interpreters) ----------------------------------------------------------------------
def gen_run(store: str, project: str, run_id: str, n: int, spike_step: int) -> dict[str, Any]:
    """The big run: n rows of the ten random floats (as workloads.gen_history), `train/loss` = 1000 at
    one step."""
    from workloads import KEYS

    import runstore

    os.environ["RUNSTORE_DIR"] = store
    t = time.perf_counter()
    run = runstore.init(project=project, id=run_id)
    rnd = random.Random(2).random
    log = run.log
    for i in range(n):
        row = {k: rnd() for k in KEYS}
        if i == spike_step:
            row[SPIKE_KEY] = SPIKE_VALUE
        log(row)
    run.finish()
    return {"seconds": time.perf_counter() - t, "path": run.sync_dir}


def gen_project(store: str, project: str, n: int, steps: int) -> dict[str, Any]:
    """n finished runs of `steps` rows of `loss` (a noisy decay) and `acc`, a config of three keys."""
    import math

    import runstore

    os.environ["RUNSTORE_DIR"] = store
    rng = random.Random(5)
    t = time.perf_counter()
    for i in range(n):
        lr = 10 ** rng.uniform(-5, -1)
        run = runstore.init(
            project=project,
            config={"lr": lr, "bs": rng.choice((32, 64, 128)), "seed": i},
            reinit="finish_previous",
        )
        rate, noise = rng.uniform(1, 5), rng.uniform(0.01, 0.1)
        gauss, log = rng.gauss, run.log
        for s in range(steps):
            f = s / steps
            log({"loss": math.exp(-rate * f) + noise * gauss(0, 1), "acc": 1 - 0.9 * math.exp(-rate * f)})
        run.finish()
    return {"seconds": time.perf_counter() - t, "runs": n, "steps": steps}


def warm(store: str, project: str) -> dict[str, Any]:
    """What the daemon's CacheBuilder builds for every finished run of the project: the column cache and
    the chart pyramid (when this tree has one)."""
    from runstore.daemon.monitor import CacheBuilder
    from runstore.store.store import Store

    t = time.perf_counter()
    built: dict[str, int] = {}
    for ref in Store(store).iter_runs(project):
        for what in ("build", "build_pyramid"):  # as CacheBuilder._work: the pyramid reads the columns
            fn: Callable[[Any], bool] | None = getattr(CacheBuilder, what, None)
            if fn is None or not fn(ref):
                break  # no pyramid in this tree, or a history too short to be worth caching
            built[what] = built.get(what, 0) + 1
    return {"seconds": time.perf_counter() - t, "built": built}


def _tb_records(tag: str, steps: Any, walls: Any, values: Any) -> Any:
    """(n, L) uint8: each row the TFRecord framing (length, its masked CRC32C, data, the data's masked
    CRC32C) of `Event(wall_time, step, summary{value{tag, simple_value}})`, the bytes
    `SummaryWriter.add_scalar` writes; every step must take as many varint bytes as the others."""
    import numpy as np
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import CRC_TABLE, masked_crc32c

    n = len(steps)
    vlen = max(1, (int(steps.max()).bit_length() + 6) // 7)
    assert vlen == max(1, (int(steps.min()).bit_length() + 6) // 7)
    t = tag.encode()
    value = bytes([0x0A, len(t)]) + t  # tag; then 0x15 + float32 simple_value
    vsz = len(value) + 5
    summ_sz = 2 + vsz
    data_len = 9 + 1 + vlen + 2 + summ_sz
    s = steps.astype(np.uint64)
    varint = []
    for i in range(vlen):
        b = (s & np.uint64(0x7F)).astype(np.uint8)
        s = s >> np.uint64(7)
        varint.append(b | np.uint8(0x80) if i < vlen - 1 else b)
    data = np.concatenate(
        [
            np.full((n, 1), 0x09, np.uint8),  # field 1 wall_time, double
            walls.astype("<f8").view(np.uint8).reshape(n, 8),
            np.full((n, 1), 0x10, np.uint8),  # field 2 step, varint
            np.stack(varint, axis=1),
            np.tile(np.frombuffer(bytes([0x2A, summ_sz, 0x0A, vsz]) + value + b"\x15", np.uint8), (n, 1)),
            values.astype("<f4").view(np.uint8).reshape(n, 4),
        ],
        axis=1,
    )
    assert data.shape[1] == data_len
    table = np.array(CRC_TABLE, dtype=np.uint32)
    crc = np.full(n, 0xFFFFFFFF, dtype=np.uint32)
    for j in range(data_len):  # CRC32C of every row at once, a byte column at a time
        crc = table[(crc ^ data[:, j]) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    crc ^= np.uint32(0xFFFFFFFF)
    masked = ((crc >> np.uint32(15)) | (crc << np.uint32(17))) + np.uint32(0xA282EAD8)
    header = struct.pack("<Q", data_len)
    head = np.tile(np.frombuffer(header + struct.pack("<I", masked_crc32c(header)), np.uint8), (n, 1))
    return np.concatenate([head, data, masked.astype("<u4").view(np.uint8).reshape(n, 4)], axis=1)


def tb_events(store: str, project: str, run_id: str, out: str) -> dict[str, Any]:
    """An event file of the run's history: for each step, one Event per key in KEYS order (a training
    loop calling add_scalar for each metric), wall_time from `_timestamp`; checked against the protos."""
    import numpy as np
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    from workloads import KEYS

    from runstore.store.history import read_columns
    from runstore.store.runs import load_run
    from runstore.store.store import Store

    def frame(data: bytes) -> bytes:
        header = struct.pack("<Q", len(data))
        return (
            header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))
        )

    t = time.perf_counter()
    ref = Store(store).run(project, run_id)
    st = load_run(ref)
    cols, n = read_columns(st.history_path, ref.history_cache(st.history_name))
    steps = np.asarray(cols["_step"], dtype=np.int64)
    walls = np.asarray(cols["_timestamp"], dtype=np.float64)
    values = {k: np.asarray(cols[k], dtype=np.float64) for k in KEYS}
    # the framing above must be what the protos serialize (step 0 aside: proto3 leaves a zero out)
    for i in (1, n // 2, n - 1):
        ev = Event(
            wall_time=float(walls[i]),
            step=int(steps[i]),
            summary=Summary(value=[Summary.Value(tag=KEYS[0], simple_value=float(values[KEYS[0]][i]))]),
        )
        mine = _tb_records(KEYS[0], steps[i : i + 1], walls[i : i + 1], values[KEYS[0]][i : i + 1])
        assert mine[0].tobytes() == frame(ev.SerializeToString()), f"event bytes differ at row {i}"
    Path(out).mkdir(parents=True, exist_ok=True)
    path = Path(out) / f"events.out.tfevents.{int(walls[0])}.runstore-bench"
    events = 1
    with open(path, "wb") as f:
        f.write(frame(Event(wall_time=float(walls[0]), file_version="brain.Event:2").SerializeToString()))
        start = 0
        while start < n:  # chunks of steps whose varints have the same length, at most 100k rows
            end = min(n, start + 100_000)
            width = (int(steps[start]).bit_length() + 6) // 7 or 1
            limit = 1 << (7 * width)
            end = start + int(np.searchsorted(steps[start:end], limit))
            recs = [_tb_records(k, steps[start:end], walls[start:end], values[k][start:end]) for k in KEYS]
            f.write(np.concatenate(recs, axis=1).tobytes())
            events += len(KEYS) * (end - start)
            start = end
    return {
        "seconds": time.perf_counter() - t,
        "events": events,
        "bytes": path.stat().st_size,
        "file": str(path),
    }


def tb_python(logdir: str, budget_s: float, total_events: int, spike_step: int) -> dict[str, Any]:
    """TensorBoard's Python loader: `EventAccumulator(logdir).Reload()` with its default size guidance
    (the loop of Reload, so that it can stop at the budget; 0: none)."""
    from tensorboard.backend.event_processing import event_accumulator as ea_mod

    t = time.perf_counter()
    acc = ea_mod.EventAccumulator(logdir)
    n, complete = 0, True
    for event in acc._generator.Load():  # Reload(): `for event in self._generator.Load(): ...`
        acc._ProcessEvent(event)
        n += 1
        if budget_s and n % 10_000 == 0 and time.perf_counter() - t > budget_s:
            complete = False
            break
    seconds = time.perf_counter() - t
    out: dict[str, Any] = {
        "seconds": seconds,
        "events": n,
        "complete": complete,
        "guidance_scalars": ea_mod.DEFAULT_SIZE_GUIDANCE[ea_mod.SCALARS],
        "extrapolated_s": seconds * total_events / max(n, 1),
    }
    if SPIKE_KEY in acc.Tags()["scalars"]:
        items = acc.Scalars(SPIKE_KEY)
        out.update(
            points=len(items),
            last_step=items[-1].step,
            spike_kept=any(e.step == spike_step for e in items),
            max_value=max(e.value for e in items),
        )
    return out


# -- the parent: servers, browser -----------------------------------------------------------------------
def _child(
    fn: str, args: dict[str, Any], env: dict[str, str], cwd: Path, timeout: float = 1800
) -> dict[str, Any]:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {
        **env,
        "RUNSTORE_DAEMON": "0",
        "PYTHONPATH": str(BENCH),
    }  # the benchmark builds what the daemon would
    proc = subprocess.run(
        [PY, str(Path(__file__).resolve()), fn, json.dumps(args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    raise RuntimeError(f"ui child {fn} exited {proc.returncode} without a result:\n{tail}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class UiServer:
    """`runstore ui --dir STORE --port 0`: started at construction, ready when it printed its URL."""

    def __init__(self, store: Path, env: dict[str, str], cwd: Path, log: Path) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        self.t0 = time.perf_counter()
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(Path(PY).parent / "runstore"), "ui", "--dir", str(store), "--port", "0"],
            cwd=cwd,
            env={**env, "RUNSTORE_DAEMON": "0"},
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()  # the first line is the URL
        if not line.startswith("http"):
            self.stop()
            raise RuntimeError(f"runstore ui did not print its URL (got {line!r}); see {log}")
        self.url = line.rstrip("/")
        self.ready_s = time.perf_counter() - self.t0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _api_times(url: str, path: str, params: Any, repeats: int) -> tuple[float, list[float], Any]:
    """(first request, the timed ones after it, the last response's JSON) on one keep-alive connection;
    each time is until the whole body arrived."""
    import httpx

    with httpx.Client(base_url=url, timeout=120) as http:

        def get() -> tuple[float, Any]:
            t = time.perf_counter()
            r = http.get(path, params=params)  # returns once the whole body is read
            s = time.perf_counter() - t
            r.raise_for_status()
            return s, r.json()  # the client's parse is not the server's time

        first, doc = get()
        times = []
        for _ in range(repeats):
            s, doc = get()
            times.append(s)
    return first, times, doc


# True (the time in the page, ms since navigation) once the page shows what it should: at least `charts`
# chart panels, every one of them inside the viewport with its data drawn, and a table of `rows` runs.
DONE_JS = """(want) => {
  const cs = [...document.querySelectorAll('.chart')];
  if (cs.length < want.charts) return false;
  // the table holds `rows` runs (its DOM only the ones in view: project.js draws a window of them)
  const table = document.querySelector('.runs-table');
  if (want.rows && !(table && Number(table.dataset.runs) >= want.rows && table.querySelector('tr[data-id]'))) return false;
  const vis = cs.filter((c) => { const r = c.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; });
  if (!vis.length || !vis.every((c) => c.dataset.loaded === '1')) return false;
  if (want.series && !vis.every((c) => Number(c.dataset.series) >= want.series)) return false;
  return performance.now();
}"""
# What was on screen: the charts in the viewport (title, series, points) and the table's rows.
INFO_JS = """() => {
  const cs = [...document.querySelectorAll('.chart')];
  const vis = cs.filter((c) => { const r = c.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth; });
  return { charts: cs.length, visible: vis.map((c) => [c.dataset.title, Number(c.dataset.series),
    Number(c.dataset.points)]), rows: Number((document.querySelector('.runs-table') || {dataset: {}}).dataset.runs || 0),
    errors: [...document.querySelectorAll('.error')].map((e) => e.textContent).slice(0, 3) };
}"""
# The largest value the chart of `key` holds (its min/max band, else its line): the spike, if it arrived.
SPIKE_JS = """(key) => {
  const c = [...document.querySelectorAll('.chart')].find((e) => e.dataset.title === key);
  if (!c || !c.chart || !c.chart.series.length) return null;
  const s = c.chart.series[0];
  let m = -Infinity;
  for (const v of (s.max || s.y)) if (v !== null && v > m) m = v;
  return m;
}"""


class Browser:
    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        # launch() gives the browser a fresh temporary user-data dir
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        self.version = self.browser.version

    def load(
        self, url: str, want: dict[str, Any], then: Callable[[Any], Any] | None = None
    ) -> tuple[float, float, dict[str, Any], Any]:
        """(seconds from goto to done, the page's own ms at done, what was on screen, then(page))."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        ctx = self.browser.new_context(viewport=VIEWPORT)
        try:
            page = ctx.new_page()
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text))
            page.on("pageerror", lambda e: console.append(str(e)))
            t = time.perf_counter()
            page.goto(url)
            try:
                handle = page.wait_for_function(DONE_JS, arg=want, polling="raf", timeout=PAGE_TIMEOUT_MS)
            except PlaywrightTimeout:
                raise RuntimeError(
                    f"{url} not done in {PAGE_TIMEOUT_MS / 1000:g} s (waiting for {want}): on screen "
                    f"{page.evaluate(INFO_JS)}, console {console[-5:]}"
                ) from None
            s = time.perf_counter() - t
            in_page = float(handle.json_value())
            info = page.evaluate(INFO_JS)
            extra = then(page) if then else None
            return s, in_page, info, extra
        finally:
            ctx.close()

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


def _tb_serve(logdir: Path, total_steps: int, cwd: Path, tags: tuple[str, ...]) -> dict[str, Any]:
    """`tensorboard --logdir` (default loader): seconds from start until its scalars route serves every
    tag up to the last step; what it serves of SPIKE_KEY."""
    import httpx
    import psutil

    port = _free_port()
    log = open(cwd / "tensorboard.log", "wb")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [str(Path(PY).parent / "tensorboard"), "--logdir", str(logdir), "--port", str(port)]
        + ["--host", "127.0.0.1", "--load_fast=auto"],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/data/plugin/scalars/scalars"
    data_server = False
    try:
        with httpx.Client(timeout=60) as http:
            pending = list(tags)
            served: dict[str, Any] = {}
            first_answer = None
            while pending:
                if proc.poll() is not None:
                    raise RuntimeError(f"tensorboard exited {proc.returncode}: see {cwd / 'tensorboard.log'}")
                if time.perf_counter() - t0 > 1800:
                    raise RuntimeError("tensorboard did not serve all data in 30 minutes")
                try:
                    r = http.get(base, params={"run": ".", "tag": pending[0]})
                except httpx.HTTPError:
                    r = None
                if r is not None and r.status_code == 200:
                    first_answer = first_answer or time.perf_counter() - t0
                    d = r.json()
                    if d and d[-1][1] == total_steps - 1:
                        served[pending.pop(0)] = d
                        continue
                if not data_server:
                    kids = [" ".join(c.cmdline()) for c in psutil.Process(proc.pid).children(recursive=True)]
                    data_server = any("tensorboard_data_server" in k for k in kids)
                time.sleep(0.1)
            seconds = time.perf_counter() - t0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    spike = served[SPIKE_KEY]
    return {
        "seconds": seconds,
        "first_answer_s": first_answer,
        "points": {k: len(v) for k, v in served.items()},
        "max_value": max(v for _, _, v in spike),
        "spike_kept": any(v >= SPIKE_VALUE * 0.999 for _, _, v in spike),
        "data_server": data_server,
    }


def _ms(xs: list[float]) -> str:
    return ", ".join(f"{x * 1000:.0f}" for x in xs)


def bench_ui(
    quick: bool,
    tmp: Path,
    details: dict[str, Any],
    Row: Any,  # noqa: N803 - run.py's Row class, passed in (run.py is __main__)
    step: Callable[[str], None],
    cached_dataset: Callable[..., tuple[Path, dict[str, Any]]],
    base_env: Callable[[Path, str], dict[str, str]],
) -> list[Any]:
    from workloads import KEYS

    sz = QUICK_UI if quick else FULL_UI
    budget = float(os.environ.get("BENCH_UI_TB_BUDGET_S", sz.tb_python_budget_s))
    work = tmp / "ui"
    env = base_env(work, "runstore")
    d: dict[str, Any] = {"sizes": sz.__dict__, "viewport": VIEWPORT, "chromium_args": CHROMIUM_ARGS}
    d["loadavg_before"] = os.getloadavg()  # the browser rows are sensitive to other work on the machine
    details["ui"] = d

    class Plain(Row):  # type: ignore[misc, valid-type]
        """A row whose two figures are side by side without a ratio (different things, same question)."""

        @property
        def ratio(self) -> float | None:
            return None

    # -- data (cached under bench/out/) --
    run_id = f"u{sz.steps}"

    def make_run(store: Path) -> dict[str, Any]:
        step(f"ui: generating a {sz.steps:,}-step run with a spike (cached in {store.parent})")
        args = {"store": str(store), "project": RUN_PROJECT, "run_id": run_id, "n": sz.steps}
        return _child("gen_run", {**args, "spike_step": sz.spike_step}, env, work / "gen")

    rstore, rmeta = cached_dataset(
        f"ui-run-{sz.steps}", {"steps": sz.steps, "spike_step": sz.spike_step, "v": 1}, make_run
    )
    tb_dir = rstore.parent / "tb"
    tb_meta_path = rstore.parent / "tb.json"
    if not tb_meta_path.exists():
        step(f"ui: writing the TensorBoard event file of the {sz.steps:,}-step run")
        tb_meta = _child(
            "tb_events",
            {"store": str(rstore), "project": RUN_PROJECT, "run_id": run_id, "out": str(tb_dir)},
            env,
            work / "gen",
        )
        tb_meta_path.write_text(json.dumps(tb_meta))
    tb_meta = json.loads(tb_meta_path.read_text())

    def make_project(name: str, n: int, steps: int) -> tuple[Path, dict[str, Any]]:
        def make(store: Path) -> dict[str, Any]:
            step(f"ui: creating {n:,} runs of {steps:,} steps (cached in {store.parent})")
            return _child(
                "gen_project",
                {"store": str(store), "project": name, "n": n, "steps": steps},
                env,
                work / "gen",
            )

        return cached_dataset(
            f"ui-{name.split('-')[-1]}-{n}x{steps}", {"runs": n, "steps": steps, "v": 1}, make
        )

    pstore, pmeta = make_project(PROJECT_PROJECT, sz.project_runs, sz.project_steps)
    ostore, ometa = make_project(OVERLAY_PROJECT, sz.overlay_runs, sz.overlay_steps)
    d["datasets"] = {"run": rmeta, "tb": tb_meta, "project": pmeta, "overlay": ometa}

    rows: list[Any] = []
    ms = 1000.0
    keys = list(KEYS)
    ds_path = f"/api/v1/projects/{RUN_PROJECT}/runs/{run_id}/history/downsample"
    ds_params = {"keys": keys, "buckets": RUN_BUCKETS}

    # -- server start -> the run's 10 metrics served, cold (no derived caches) and warm; TensorBoard --
    from runstore.store.store import Store

    run_cache = Store(rstore).run(RUN_PROJECT, run_id).path / "cache"

    def start_to_served(label: str) -> dict[str, Any]:
        step(f"ui: runstore ui start -> {len(keys)} metrics of the {sz.steps:,}-step run served ({label})")
        srv = UiServer(rstore, env, work, work / f"ui-{label}.log")
        try:
            first, _, doc = _api_times(srv.url, ds_path, ds_params, 0)
            total = time.perf_counter() - srv.t0
        finally:
            srv.stop()
        return {"seconds": total, "url_printed_s": srv.ready_s, "first_request_s": first}

    import shutil

    shutil.rmtree(run_cache, ignore_errors=True)
    cold = start_to_served("cold")
    step("ui: building the derived caches from scratch as the daemon does (CacheBuilder)")
    shutil.rmtree(run_cache, ignore_errors=True)  # the cold server wrote some of them
    warmed = {
        "run": _child("warm", {"store": str(rstore), "project": RUN_PROJECT}, env, work),
        "project": _child("warm", {"store": str(pstore), "project": PROJECT_PROJECT}, env, work),
        "overlay": _child("warm", {"store": str(ostore), "project": OVERLAY_PROJECT}, env, work),
    }
    d["warm"] = warmed
    warm_start = start_to_served("warm")
    d["start_to_served"] = {"cold": cold, "warm": warm_start}

    step(f"ui: tensorboard --logdir over {tb_meta['events']:,} events, until every tag is served")
    tb = _tb_serve(tb_dir, sz.steps, work, tuple(keys))
    d["tensorboard_serve"] = tb
    step(f"ui: TensorBoard's Python loader (EventAccumulator), budget {budget:g} s")
    tbp = _child(
        "tb_python",
        {
            "logdir": str(tb_dir),
            "budget_s": budget,
            "total_events": tb_meta["events"],
            "spike_step": sz.spike_step,
        },
        env,
        work,
    )
    d["tensorboard_python"] = tbp

    browser = Browser()
    d["chromium"] = browser.version
    try:
        # -- the run page --
        srv = UiServer(rstore, env, work, work / "ui-run.log")
        try:
            step(f"ui: run page of the {sz.steps:,}-step run, {sz.page_loads} loads in chromium")
            first_api, api_times, doc = _api_times(srv.url, ds_path, ds_params, sz.api_repeats)
            api_max = max(v for v in doc["metrics"][SPIKE_KEY]["max"] if v is not None)
            api_points = len(doc["metrics"][SPIKE_KEY]["max"])
            url = f"{srv.url}/#/p/{RUN_PROJECT}/r/{run_id}"
            want = {"charts": len(keys)}
            spike_of = lambda page: page.evaluate(SPIKE_JS, SPIKE_KEY)  # noqa: E731
            browser.load(url, want)  # untimed
            loads = [browser.load(url, want, spike_of) for _ in range(sz.page_loads)]
        finally:
            srv.stop()
        run_page = {
            "seconds": [x[0] for x in loads],
            "in_page_ms": [x[1] for x in loads],
            "info": loads[-1][2],
            "browser_max": loads[-1][3],
            "api_first_s": first_api,
            "api_s": api_times,
            "api_max": api_max,
            "api_points": api_points,
        }
        d["run_page"] = run_page

        # -- the project page --
        srv = UiServer(pstore, env, work, work / "ui-project.log")
        try:
            step(f"ui: project page of {sz.project_runs:,} runs, {sz.page_loads} loads in chromium")
            t_first, t_times, tdoc = _api_times(
                srv.url, f"/api/v1/projects/{PROJECT_PROJECT}/table", {}, sz.api_repeats
            )
            url = f"{srv.url}/#/p/{PROJECT_PROJECT}"
            want = {"charts": 1, "rows": sz.project_runs}
            browser.load(url, want)
            ploads = [browser.load(url, want) for _ in range(sz.page_loads)]
        finally:
            srv.stop()
        project_page = {
            "seconds": [x[0] for x in ploads],
            "in_page_ms": [x[1] for x in ploads],
            "info": ploads[-1][2],
            "table_first_s": t_first,
            "table_s": t_times,
            "table_rows": len(tdoc["runs"]),
        }
        d["project_page"] = project_page

        # -- 100 runs' loss overlaid --
        srv = UiServer(ostore, env, work, work / "ui-overlay.log")
        try:
            step(f"ui: overlay of {sz.overlay_runs} runs' loss ({sz.overlay_steps:,} steps each)")
            ids = [
                r["id"]
                for r in _api_times(srv.url, f"/api/v1/projects/{OVERLAY_PROJECT}/table", {}, 0)[2]["runs"]
            ]
            o_first, o_times, odoc = _api_times(
                srv.url,
                f"/api/v1/projects/{OVERLAY_PROJECT}/overlay",
                {"key": "loss", "runs": ids, "buckets": OVERLAY_BUCKETS},
                sz.api_repeats,
            )
            url = f"{srv.url}/#/p/{OVERLAY_PROJECT}"
            n = len(ids)

            def select_all(page: Any) -> tuple[float, float, dict[str, Any]]:
                """Tick the table's "select all": seconds until the loss chart (and every visible one)
                is drawn again with all n runs."""
                box = ".runs-table thead input[type=checkbox]"
                if page.is_checked(box):  # every run is selected already (n <= 10): start from none
                    page.uncheck(box)
                    page.wait_for_selector(".chart", state="detached")
                t = time.perf_counter()
                page.check(box)
                page.wait_for_function(
                    "(n) => [...document.querySelectorAll('.chart')].some((c) => c.dataset.title === 'loss' "
                    "&& c.dataset.loaded === '1' && Number(c.dataset.series) === n)",
                    arg=n,
                    polling="raf",
                    timeout=PAGE_TIMEOUT_MS,
                )
                loss_s = time.perf_counter() - t
                page.wait_for_function(
                    DONE_JS, arg={"charts": 1, "series": n}, polling="raf", timeout=PAGE_TIMEOUT_MS
                )
                return loss_s, time.perf_counter() - t, page.evaluate(INFO_JS)

            want = {"charts": 1, "rows": n}
            browser.load(url, want, select_all)
            oloads = [browser.load(url, want, select_all) for _ in range(sz.page_loads)]
        finally:
            srv.stop()
        overlay = {
            "api_first_s": o_first,
            "api_s": o_times,
            "api_runs": len(odoc["runs"]),
            "api_points": sum(len(b["x"]) for b in odoc["runs"].values()),
            "page_s": [x[0] for x in oloads],
            "select_loss_s": [x[3][0] for x in oloads],
            "select_all_s": [x[3][1] for x in oloads],
            "info": oloads[-1][3][2],
        }
        d["overlay"] = overlay
    finally:
        browser.close()

    d["loadavg_after"] = os.getloadavg()

    # -- rows --
    med = statistics.median
    label = f"ui: run page, {sz.steps:,} steps x {len(keys)} metrics"
    r = Row(
        f"{label}, first paint (chromium, warm caches)",
        "ms",
        ms * med(run_page["seconds"]),
        None,
        max_value=1000.0,
        fmt="{:.0f}",
    )
    r.notes.append(
        f"ui run page: goto -> every chart in the {VIEWPORT['width']}x{VIEWPORT['height']} viewport drawn "
        f"(data-loaded=1), median of {sz.page_loads} loads each in a fresh browser context (ms: "
        f"{_ms(run_page['seconds'])}; in the page, ms since navigation start: "
        f"{', '.join(f'{x:.0f}' for x in run_page['in_page_ms'])}); {run_page['info']['charts']} charts, "
        f"{len(run_page['info']['visible'])} in the viewport ({run_page['info']['visible']}); chromium "
        f"{browser.version}; load average before/after the ui rows "
        f"{'/'.join(f'{x:.1f}' for x in d['loadavg_before'][:1] + d['loadavg_after'][:1])}; "
        "wandb: n/a (wandb offline has no local dashboard)"
    )
    rows.append(r)
    rows.append(
        Row(
            f"{label}: its downsample request ({RUN_BUCKETS} buckets, httpx)",
            "ms",
            ms * med(run_page["api_s"]),
            None,
            fmt="{:.0f}",
        )
    )
    rows[-1].notes.append(
        f"ui downsample API: GET {ds_path}?keys=<{len(keys)}>&buckets={RUN_BUCKETS}, median of "
        f"{sz.api_repeats} after one untimed ({run_page['api_first_s'] * ms:.0f} ms) on a keep-alive connection "
        f"(ms: {_ms(run_page['api_s'])}); {run_page['api_points']} buckets per metric"
    )
    sname = f"ui: `runstore ui` start -> {len(keys)} metrics of the {sz.steps:,}-step run served"
    tb_note = (
        "TensorBoard: default loader (--load_fast=auto; Rust data server "
        f"{'running' if tb['data_server'] else 'NOT found: the Python loader'}), until /data/plugin/scalars/"
        f"scalars?run=.&tag=T served every tag up to step {sz.steps - 1:,} (polled every 0.1 s; first answer "
        f"after {tb['first_answer_s'] or 0:.1f} s); it keeps {sorted(set(tb['points'].values()))} points per "
        "tag (reservoir sampling); TensorBoard has no on-disk cache, each start reads the event file again"
    )
    rows.append(
        Row(
            f"{sname}, warm caches vs tensorboard --logdir",
            "s",
            warm_start["seconds"],
            tb["seconds"],
            fmt="{:.2f}",
            vs="tensorboard",
        )
    )
    rows[-1].notes.append(
        f"ui start->served: from spawning `runstore ui --dir STORE --port 0` (URL printed after "
        f"{warm_start['url_printed_s']:.2f} s warm, {cold['url_printed_s']:.2f} s cold) until the run page's "
        f"downsample request ({RUN_BUCKETS} buckets x {len(keys)} metrics) answered; warm = the derived caches "
        f"the daemon builds when the run ends exist (CacheBuilder.build + build_pyramid from scratch: "
        f"{warmed['run']['seconds']:.1f} s, paid once), cold = <run>/cache/ deleted (the server parses "
        "history.jsonl). "
        + tb_note
        + f"; event file {tb_meta['events']:,} events, {tb_meta['bytes'] / 1e6:.0f} MB"
    )
    rows.append(
        Row(
            f"{sname}, no derived caches vs tensorboard --logdir",
            "s",
            cold["seconds"],
            tb["seconds"],
            fmt="{:.2f}",
            vs="tensorboard",
        )
    )
    py_label = (
        "measured"
        if tbp["complete"]
        else (f"extrapolated: {tbp['events']:,} of {tb_meta['events']:,} events in {tbp['seconds']:.0f} s")
    )
    rows.append(
        Row(
            f"{sname}, no derived caches vs TensorBoard's Python loader ({py_label})",
            "s",
            cold["seconds"],
            tbp["seconds"] if tbp["complete"] else tbp["extrapolated_s"],
            fmt="{:.2f}",
            vs="tensorboard",
        )
    )
    rows[-1].notes.append(
        f"TensorBoard Python loader: EventAccumulator(logdir) with its default size_guidance (scalars: "
        f"{tbp['guidance_scalars']:,}), the Reload() loop, in a fresh process (imports not timed); what "
        f"--load_fast=false runs; {tbp['events'] / tbp['seconds']:,.0f} events/s"
        + (
            ""
            if tbp["complete"]
            else f", stopped at the {budget:g} s budget (BENCH_UI_TB_BUDGET_S=0: no limit)"
        )
    )
    spike_row = Plain(
        f"ui: spike ({SPIKE_KEY} = {SPIKE_VALUE:g} at step {sz.spike_step:,}): largest value charted "
        "(runstore run page vs tensorboard)",
        "",
        run_page["browser_max"],
        tb["max_value"],
        fmt="{:g}",
        vs="tensorboard",
        identical=run_page["browser_max"] is not None and run_page["browser_max"] >= SPIKE_VALUE,
        identical_target="spike kept",
    )
    spike_row.notes.append(
        f"spike: runstore's downsample ({run_page['api_points']} buckets of first/min/max/last) max "
        f"{run_page['api_max']:g}, the run page's chart band max {run_page['browser_max']}; tensorboard serves "
        f"{tb['points'][SPIKE_KEY]:,} of {sz.steps:,} points (kept the spike: {tb['spike_kept']}); its Python "
        f"loader keeps {tbp.get('points', 'n/a')} points"
        + (f" (kept the spike: {tbp.get('spike_kept')})" if tbp["complete"] else " (load not finished)")
        + f": a reservoir sample, which keeps one given row with probability ~{1000 / sz.steps:.2%} (1,000 points)"
    )
    rows.append(spike_row)

    plabel = f"ui: project page, {sz.project_runs:,} runs"
    rows.append(
        Row(
            f"{plabel}, table + visible charts (chromium)",
            "ms",
            ms * med(project_page["seconds"]),
            None,
            max_value=1000.0,
            fmt="{:.0f}",
        )
    )
    rows[-1].notes.append(
        f"ui project page: goto -> {sz.project_runs:,} table rows and every chart in the viewport drawn (the "
        f"first 10 runs selected, {sz.project_steps} steps of loss and acc each), median of {sz.page_loads} "
        f"(ms: {_ms(project_page['seconds'])}; in the page: {', '.join(f'{x:.0f}' for x in project_page['in_page_ms'])}); "
        f"on screen: {project_page['info']['rows']} rows, charts {project_page['info']['visible']}; wandb: n/a"
    )
    rows.append(
        Row(
            f"{plabel}: its /table request (httpx)",
            "ms",
            ms * med(project_page["table_s"]),
            None,
            fmt="{:.0f}",
        )
    )
    rows[-1].notes.append(
        f"ui table API: GET /api/v1/projects/P/table ({project_page['table_rows']:,} rows), median of "
        f"{sz.api_repeats} after one untimed ({project_page['table_first_s'] * ms:.0f} ms; ms: "
        f"{_ms(project_page['table_s'])})"
    )
    olabel = f"ui: overlay of {sz.overlay_runs} runs' loss ({sz.overlay_steps:,} steps each)"
    rows.append(
        Row(
            f"{olabel}: the overlay request ({OVERLAY_BUCKETS} buckets, httpx)",
            "ms",
            ms * med(overlay["api_s"]),
            None,
            max_value=1500.0,
            fmt="{:.0f}",
        )
    )
    rows[-1].notes.append(
        f"ui overlay API: GET /api/v1/projects/P/overlay?key=loss&runs=<{sz.overlay_runs} ids>&buckets="
        f"{OVERLAY_BUCKETS}, median of {sz.api_repeats} after one untimed ({overlay['api_first_s'] * ms:.0f} ms; "
        f"ms: {_ms(overlay['api_s'])}); {overlay['api_runs']} runs, {overlay['api_points']:,} buckets in all"
    )
    hist = [
        p.stat().st_size for p in Store(ostore).root.glob(f"projects/{OVERLAY_PROJECT}/runs/*/history.jsonl")
    ]
    hist_mb = statistics.mean(hist) / 1e6 if hist else 0.0
    rows.append(
        Row(
            f"{olabel}: the overlay request, the first after `runstore ui` started",
            "ms",
            ms * overlay["api_first_s"],
            None,
            fmt="{:.0f}",
        )
    )
    rows[-1].notes.append(
        "ui overlay, first request after start: the server's column memo is empty, and histories below the "
        "daemon's cache threshold (CacheBuilder skips those under CACHE_MIN_BYTES; these are "
        f"{hist_mb:.1f} MB each) have no column cache, so it parses all {sz.overlay_runs} "
        f"(warm-up built: {json.dumps(warmed['overlay']['built'])})"
    )
    rows.append(
        Row(
            f"{olabel}: project page, select all -> loss chart redrawn (chromium)",
            "ms",
            ms * med(overlay["select_loss_s"]),
            None,
            max_value=1500.0,
            fmt="{:.0f}",
        )
    )
    rows[-1].notes.append(
        f"ui overlay page: the project page of {sz.overlay_runs} runs loaded (10 selected), then a click on the "
        f"table's select-all box until the loss chart holds all {sz.overlay_runs} series (ms: "
        f"{_ms(overlay['select_loss_s'])}); every visible chart: {_ms(overlay['select_all_s'])} ms; the page load "
        f"before it: {_ms(overlay['page_s'])} ms; on screen: {overlay['info']['visible']}; the compare page is "
        "not used: its /diff takes at most 20 runs"
    )
    return rows


def main(argv: list[str]) -> None:
    fn = {f.__name__: f for f in (gen_run, gen_project, warm, tb_events, tb_python)}[argv[1]]
    out = fn(**json.loads(argv[2]))
    sys.stdout.write(MARK + json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv)
