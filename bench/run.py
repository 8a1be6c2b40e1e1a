"""runstore vs wandb (offline) on the project's published performance targets.

    python bench/run.py            # full sizes, a few minutes
    python bench/run.py --quick    # small sizes, < 1 minute, for smoke-testing the suite
    python bench/run.py --write-results   # also rewrite bench/RESULTS.md

Each measurement runs in its own interpreter (see bench/workloads.py). Generated data that is slow to
make (the 1M-step run, the 10k-run project) is cached under bench/out/, which git ignores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bayes import bench_bayes  # bench/bayes.py: bayes search vs W&B's sweep engine
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from ui import bench_ui  # bench/ui.py: the dashboard in chromium, and TensorBoard on the same run
from workloads import KEYS  # the metric names every workload logs

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "out"
WORKLOADS = BENCH / "workloads.py"
RESULTS_MD = BENCH / "RESULTS.md"
PY = sys.executable
MARK = "BENCH_RESULT "
CHILD_TIMEOUT_S = 1800  # generous: generating the 1M-step run takes well under a minute on 2 cores

# A pipe or a log file would otherwise get rich's 80-column default, which wraps every row of the table.
console = Console(width=None if sys.stdout.isatty() else 170)
err = Console(stderr=True)


@dataclass(frozen=True)
class Sizes:
    log_calls_runstore: int
    log_calls_wandb: int
    log_rounds: int
    startup_runstore: int
    startup_wandb: int
    bytes_steps: int
    read_steps: int
    ls_runs: int
    ls_repeats: int
    daemon_s: float = 30.0
    daemon_client_runs: int = 5  # fresh processes, each spawning and then probing a daemon
    daemon_probe_calls: int = 10_000
    crash_kills: int = 10
    gpu_probe_calls: int = 1_000
    image_runstore: int = 1_000
    image_wandb: int = 300
    sync_runs: int = 1_000
    sync_steps: int = 10_000
    stream_s: float = 10.0
    s3_runs: int = 50
    # `runstore server` (issue 11): clients streaming at a fixed rate, then appending back-to-back
    ingest_clients: int = 20
    ingest_s: float = 60.0
    ingest_saturate_s: float = 20.0


FULL = Sizes(200_000, 10_000, 10, 10, 3, 20_000, 1_000_000, 10_000, 5, 30.0)
QUICK = Sizes(
    20_000,
    1_000,
    5,
    3,
    1,
    2_000,
    100_000,
    500,
    3,
    10.0,
    daemon_client_runs=3,
    daemon_probe_calls=2_000,
    crash_kills=3,
    gpu_probe_calls=200,
    image_runstore=200,
    image_wandb=50,
    sync_runs=50,
    sync_steps=2_000,
    stream_s=4.0,
    s3_runs=5,
    ingest_s=5.0,
    ingest_saturate_s=3.0,
)


@dataclass
class Row:
    """One workload: a figure per library, and the targets that apply to runstore's figure."""

    name: str
    unit: str
    runstore: float | None
    wandb: float | None
    max_value: float | None = None  # target: runstore's figure must not exceed this
    min_value: float | None = None  # target: runstore's figure must reach this (a throughput)
    min_ratio: float | None = None  # target: wandb/runstore must reach this
    fmt: str = "{:.2f}"
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    # What the second column holds for this row: wandb's figure, or another tool's (dvc) where wandb
    # cannot do the workload offline; the ratio and the "faster than" target are then against that tool.
    vs: str = "wandb"
    # target: runstore's output is identical to the other's (True/False once compared, None: not compared)
    identical: bool | None = None
    identical_target: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.runstore is None or self.wandb is None or self.runstore <= 0:
            return None
        return self.wandb / self.runstore

    def target_text(self) -> str:
        parts = []
        if self.max_value is not None:
            parts.append(f"≤ {self.fmt.format(self.max_value)} {self.unit}")
        if self.min_value is not None:
            parts.append(f"≥ {self.fmt.format(self.min_value)} {self.unit}")
        if self.min_ratio is not None:
            parts.append(f"≥ {self.min_ratio:g}x {self.vs}")
        if self.identical_target is not None:
            parts.append(self.identical_target)
        return ", ".join(parts) or "—"

    def checks(self) -> list[tuple[str, bool | None]]:
        """(target, met) pairs; met is None when the figure needed to judge it is missing."""
        out: list[tuple[str, bool | None]] = []
        if self.max_value is not None:
            ok = None if self.runstore is None else self.runstore <= self.max_value
            out.append((f"{self.name}: ≤ {self.fmt.format(self.max_value)} {self.unit}", ok))
        if self.min_value is not None:
            ok = None if self.runstore is None else self.runstore >= self.min_value
            out.append((f"{self.name}: ≥ {self.fmt.format(self.min_value)} {self.unit}", ok))
        if self.min_ratio is not None:
            r = self.ratio
            out.append(
                (
                    f"{self.name}: ≥ {self.min_ratio:g}x faster than {self.vs}",
                    None if r is None else r >= self.min_ratio,
                )
            )
        if self.identical_target is not None:
            out.append((f"{self.name}: {self.identical_target}", self.identical))
        return out

    def verdict(self) -> str:
        checks = self.checks()
        if not checks:
            return "—"
        if any(ok is False for _, ok in checks):
            return "FAIL"
        if any(ok is None for _, ok in checks):
            return "n/a"
        return "pass"

    def cell(self, v: float | None) -> str:
        return "n/a" if v is None else f"{self.fmt.format(v)} {self.unit}"

    def other_cell(self) -> str:
        """The second column: tagged when it is not wandb's figure, so the table cannot be misread."""
        # parentheses, not brackets: rich would take "[dvc]" for a style tag and print nothing
        return self.cell(self.wandb) + ("" if self.vs == "wandb" else f" ({self.vs})")


# -- running children -----------------------------------------------------------------------------------
def base_env(tmp: Path, lib: str) -> dict[str, str]:
    # Bytecode caches on, as in any installed environment: with PYTHONDONTWRITEBYTECODE (set in some
    # shells and containers) every process would compile both libraries from source, a cost users do not
    # pay and one that grows with the number of modules rather than with what they do.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WANDB_", "RUNSTORE_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["WANDB_MODE"] = "offline"
    env["WANDB_SILENT"] = "true"
    if lib == "wandb":
        # Keep wandb's run dirs, caches and settings inside the temp dir, not under $HOME.
        for var, sub in (
            ("WANDB_DIR", ""),
            ("WANDB_CACHE_DIR", "cache"),
            ("WANDB_CONFIG_DIR", "config"),
            ("WANDB_DATA_DIR", "data"),
            ("WANDB_ARTIFACT_DIR", "artifacts"),
        ):
            env[var] = str(tmp / sub)
    else:
        env["RUNSTORE_DIR"] = str(tmp / ".wandb")
    return env


def child(workload: str, args: dict[str, Any], lib: str, tmp: Path) -> dict[str, Any]:
    """Run one workload in a fresh interpreter (cwd = tmp) and return its result dict."""
    tmp.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [PY, str(WORKLOADS), workload, json.dumps(args)],
        cwd=tmp,
        env=base_env(tmp, lib),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    raise RuntimeError(f"{workload}({lib}) exited {proc.returncode} without a result:\n{tail}")


def wandb_version() -> str | None:
    proc = subprocess.run(
        [PY, "-c", "import wandb; print(wandb.__version__)"], capture_output=True, text=True, timeout=120
    )
    return proc.stdout.strip() if proc.returncode == 0 else None


def step(msg: str) -> None:
    err.print(f"[dim]· {msg}[/dim]")


# -- workloads ------------------------------------------------------------------------------------------
def bench_log(sz: Sizes, tmp: Path, have_wandb: bool, details: dict[str, Any]) -> Row:
    row = Row("log() 10 floats, cost above empty loop", "µs/call", None, None, max_value=5.0, min_ratio=40.0)
    step(f"log(): runstore, {sz.log_calls_runstore:,} calls")
    rs = child(
        "log_cost",
        {"lib_name": "runstore", "n": sz.log_calls_runstore, "rounds": sz.log_rounds},
        "runstore",
        tmp / "log-runstore",
    )
    row.runstore = rs["overhead_us"]
    details["log_runstore"] = rs
    row.notes.append(
        f"runstore: {rs['log_us']:.2f} µs/call incl. dict building, empty loop {rs['empty_us']:.2f} µs, "
        f"{rs['calls']:,} calls"
    )
    if have_wandb:
        step(f"log(): wandb, {sz.log_calls_wandb:,} calls")
        wb = child(
            "log_cost",
            {"lib_name": "wandb", "n": sz.log_calls_wandb, "rounds": sz.log_rounds},
            "wandb",
            tmp / "log-wandb",
        )
        row.wandb = wb["overhead_us"]
        details["log_wandb"] = wb
        row.notes.append(
            f"wandb: {wb['log_us']:.2f} µs/call incl. dict building, empty loop {wb['empty_us']:.2f} µs, "
            f"{wb['calls']:,} calls in {len(wb['rounds_log_us'])} rounds (µs/call per round: "
            f"{', '.join(f'{x:.0f}' for x in wb['rounds_log_us'])}); its finish() then took "
            f"{wb['finish_s']:.2f} s (not counted)"
        )
    return row


LOG_FORM_NAMES = {
    "step": ("log(d, step=i)", 5.0),
    "commit": ("log(a, commit=False) + log(b), per step", 5.0),
    "nested": ("log() nested dict, 2×5 floats", 5.0),
    "numpy": ("log() 10 numpy float32", 10.0),
}


def bench_log_forms(sz: Sizes, tmp: Path, have_wandb: bool, details: dict[str, Any]) -> list[Row]:
    """The other common forms of log() (issue 13 item 11): each ≤ 5 µs above the empty loop (numpy
    scalars ≤ 10 µs), as the bare form is."""
    rows = []
    n_rs, n_wb = sz.log_calls_runstore // 2, sz.log_calls_wandb // 2
    for form, (title, limit) in LOG_FORM_NAMES.items():
        row = Row(f"{title}, cost above empty loop", "µs/call", None, None, max_value=limit)
        step(f"log() form {form}: runstore, {n_rs:,} calls")
        args = {"n": n_rs, "rounds": sz.log_rounds, "form": form}
        rs = child("log_cost", {"lib_name": "runstore", **args}, "runstore", tmp / f"log-{form}-runstore")
        row.runstore = rs["overhead_us"]
        details[f"log_{form}_runstore"] = rs
        if have_wandb:
            step(f"log() form {form}: wandb, {n_wb:,} calls")
            args = {"n": n_wb, "rounds": sz.log_rounds, "form": form}
            wb = child("log_cost", {"lib_name": "wandb", **args}, "wandb", tmp / f"log-{form}-wandb")
            row.wandb = wb["overhead_us"]
            details[f"log_{form}_wandb"] = wb
        rows.append(row)
    return rows


STARTUP_SCRIPT = """\
import {lib} as wandb
wandb.init(project="bench-startup")
wandb.finish()
"""


def time_startup(lib: str, n: int, tmp: Path) -> list[float]:
    tmp.mkdir(parents=True, exist_ok=True)
    script = tmp / "startup.py"
    script.write_text(STARTUP_SCRIPT.format(lib=lib))
    env = base_env(tmp, lib)
    # One untimed run first: it writes the bytecode caches an installed package would already have.
    subprocess.run([PY, str(script)], cwd=tmp, env=env, check=True, capture_output=True, timeout=300)
    times: list[float] = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([PY, str(script)], cwd=tmp, env=env, check=True, capture_output=True, timeout=300)
        times.append(time.perf_counter() - t)
    return times


def bench_startup(sz: Sizes, tmp: Path, have_wandb: bool, details: dict[str, Any]) -> Row:
    row = Row("process: import + init + finish (median wall)", "s", None, None, max_value=0.25, fmt="{:.3f}")
    step(f"startup: runstore x{sz.startup_runstore}")
    rs = time_startup("runstore", sz.startup_runstore, tmp / "startup-runstore")
    row.runstore = statistics.median(rs)
    details["startup_runstore_s"] = rs
    row.notes.append(f"runstore: {len(rs)} runs, min {min(rs):.3f} s, max {max(rs):.3f} s")
    if have_wandb:
        step(f"startup: wandb x{sz.startup_wandb}")
        wb = time_startup("wandb", sz.startup_wandb, tmp / "startup-wandb")
        row.wandb = statistics.median(wb)
        details["startup_wandb_s"] = wb
        row.notes.append(f"wandb: {len(wb)} runs, min {min(wb):.3f} s, max {max(wb):.3f} s")
    return row


def bench_bytes(sz: Sizes, tmp: Path, have_wandb: bool, details: dict[str, Any]) -> Row:
    row = Row(
        f"bytes on disk per step ({sz.bytes_steps:,} steps)",
        "B/step",
        None,
        None,
        max_value=400.0,
        fmt="{:.0f}",
    )
    step(f"bytes/step: runstore, {sz.bytes_steps:,} steps")
    rs = child(
        "disk_bytes", {"lib_name": "runstore", "n": sz.bytes_steps}, "runstore", tmp / "bytes-runstore"
    )
    row.runstore = rs["bytes_per_step"]
    details["bytes_runstore"] = rs
    row.notes.append(f"runstore: {rs['files']} (whole run dir {rs['run_dir_bytes']:,} B)")
    if have_wandb:
        step(f"bytes/step: wandb, {sz.bytes_steps:,} steps")
        wb = child("disk_bytes", {"lib_name": "wandb", "n": sz.bytes_steps}, "wandb", tmp / "bytes-wandb")
        row.wandb = wb["bytes_per_step"]
        details["bytes_wandb"] = wb
        row.notes.append(f"wandb: {wb['files']} (whole run dir incl. logs {wb['run_dir_bytes']:,} B)")
    return row


def cached_dataset(name: str, meta_expected: dict[str, Any], make: Any) -> tuple[Path, dict[str, Any]]:
    """bench/out/<name>/ built once by `make(store)`; rebuilt when its meta.json does not match."""
    base = OUT / name
    meta_path = base / "meta.json"
    store = base / "store"
    try:
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in meta_expected.items()) and store.is_dir():
            return store, meta
    except (OSError, ValueError):
        pass
    shutil.rmtree(base, ignore_errors=True)
    store.mkdir(parents=True)
    info = make(store)
    meta = {**meta_expected, **info, "created": dt.datetime.now().isoformat(timespec="seconds")}
    meta_path.write_text(json.dumps(meta, indent=1))  # written last: a killed build is not reused
    return store, meta


def history_dataset(sz: Sizes, tmp: Path) -> tuple[Path, dict[str, Any], str, str]:
    """The store of one run of `read_steps` steps of the 10-float dict (cached): (store, meta, project, id).
    The read and server_read workloads share it."""
    project, run_id = "bench-read", f"h{sz.read_steps}"

    def make(store: Path) -> dict[str, Any]:
        step(f"read: generating a {sz.read_steps:,}-step run (cached in {store.parent})")
        return child(
            "gen_history",
            {"store": str(store), "project": project, "run_id": run_id, "n": sz.read_steps},
            "runstore",
            tmp / "gen-history",
        )

    store, meta = cached_dataset(f"read-{sz.read_steps}", {"steps": sz.read_steps, "keys": 10, "v": 1}, make)
    return store, meta, project, run_id


def bench_read(sz: Sizes, tmp: Path, details: dict[str, Any]) -> list[Row]:
    store, meta, project, run_id = history_dataset(sz, tmp)
    details["read_dataset"] = meta
    args = {"store": str(store), "project": project, "run_id": run_id}
    step("read: cold (derived cache deleted)")
    cold = child("read_history", {**args, "cold": True}, "runstore", tmp / "read")
    # Warm reads in fresh processes: the figure must come from the on-disk cache, not a memo in memory.
    warm_runs = []
    for _ in range(3):
        step("read: warm")
        warm_runs.append(child("read_history", {**args, "cold": False}, "runstore", tmp / "read"))
    warm_s = statistics.median(r["seconds"] for r in warm_runs)
    details["read_cold"] = cold
    details["read_warm"] = warm_runs
    label = f"{sz.read_steps:,}-step history -> DataFrame"
    mark = "" if cold["method"].startswith("Api") else " [fallback: read_columns]"
    rows = [
        Row(f"{label}, cold{mark}", "s", cold["seconds"], None, fmt="{:.3f}"),
        Row(f"{label}, warm{mark}", "s", warm_s, None, max_value=1.5, fmt="{:.3f}"),
    ]
    note = (
        f"read via {cold['method']}; {cold['rows']:,} rows x {cold['columns']} columns; peak RSS cold "
        f"{cold['maxrss_mb']:.0f} MB, warm {warm_runs[0]['maxrss_mb']:.0f} MB; warm = median of "
        f"{len(warm_runs)} fresh processes; wandb: n/a (its read Api needs a server, offline runs cannot be read)"
    )
    if cold["rows"] != sz.read_steps:
        note += f"; WARNING: expected {sz.read_steps:,} rows"
    if cold.get("api_error"):
        note += f"; Api unavailable: {cold['api_error']}"
    rows[0].notes.append(note)
    return rows


def runstore_cli() -> Path:
    return Path(PY).parent / "runstore"


def runs_dataset(sz: Sizes, tmp: Path) -> tuple[Path, dict[str, Any], str]:
    """The store of a project of `ls_runs` small finished runs (cached): (store, meta, project). The ls
    and server_read workloads share it."""
    project = "bench-ls"

    def make(store: Path) -> dict[str, Any]:
        step(f"ls: creating {sz.ls_runs:,} runs (cached in {store.parent})")
        return child(
            "gen_runs",
            {"store": str(store), "project": project, "n": sz.ls_runs},
            "runstore",
            tmp / "gen-runs",
        )

    store, meta = cached_dataset(f"ls-{sz.ls_runs}", {"runs": sz.ls_runs, "v": 1}, make)
    return store, meta, project


def bench_ls(sz: Sizes, tmp: Path, details: dict[str, Any]) -> list[Row]:
    store, meta, project = runs_dataset(sz, tmp)
    details["ls_dataset"] = meta
    env = base_env(tmp, "runstore")
    env["RUNSTORE_DIR"] = str(store)
    cli = [str(runstore_cli()), "ls", "--project", project]
    # The first call doubles as a probe for the CLI and warms the page cache for the timed calls.
    probe = subprocess.run(cli, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    if probe.returncode == 0:
        cmd, label = cli, f"`runstore ls` over {sz.ls_runs:,} runs"
        method = "runstore ls --project bench-ls"
    else:
        cmd = [PY, str(WORKLOADS), "load_all_runs", json.dumps({"store": str(store), "project": project})]
        label = f"ls over {sz.ls_runs:,} runs [fallback: load_run]"
        method = (
            "python bench/workloads.py load_all_runs (load_run + state per run; `runstore ls` not available)"
        )
        subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, timeout=300)
    rows: list[Row] = []
    details["ls"] = {
        "method": method,
        "probe_rc": probe.returncode,
        "probe_stderr": probe.stderr.strip()[-300:],
    }
    if probe.returncode == 0:
        # Derived data under <store>/cache/ (e.g. a per-project index of folded runs) may be deleted at any
        # time; without it `ls` must fold every run.jsonl, which is the first listing after a fresh clone.
        cache = store / "cache"

        def drop_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        cold, _ = time_cmd(cmd, env, tmp, 3, f"{method} (cold: {cache} deleted)", before=drop_cache)
        subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, timeout=300)  # leaves the cache built
        details["ls"]["cold_times_s"] = cold
        rows.append(
            Row(f"{label}, cold (no <store>/cache/)", "s", statistics.median(cold), None, fmt="{:.3f}")
        )
        label += ", warm"
    times, last = time_cmd(cmd, env, tmp, sz.ls_repeats, method)
    details["ls"]["times_s"] = times
    row = Row(label, "s", statistics.median(times), None, max_value=1.0, fmt="{:.3f}")
    rows.append(row)
    cold_note = (
        f"cold = median of {len(details['ls']['cold_times_s'])} calls each after deleting <store>/cache/, "
        if "cold_times_s" in details["ls"]
        else ""
    )
    rows[0].notes.append(
        f"ls: {method}; {cold_note}warm = median wall of {len(times)} processes (min {min(times):.3f} s), "
        f"{len(last.stdout.splitlines())} lines of output; creating the runs took {meta.get('seconds', 0):.1f} s "
        f"(s per 1000 runs as the project grew: "
        f"{', '.join(f'{x:.2f}' for x in meta.get('laps_per_1000_s', [])) or 'n/a'}); "
        f"wandb: n/a (no local listing of offline runs)"
    )
    if probe.returncode == 0:
        # The default prints only the newest 50; printing every run shows the cost of rendering them all.
        all_times, all_out = time_cmd(
            [*cli, "--limit", "0"], env, tmp, sz.ls_repeats, "runstore ls --limit 0"
        )
        details["ls_all"] = {"times_s": all_times}
        rows.append(
            Row(
                f"`runstore ls --limit 0` (prints all {sz.ls_runs:,}), warm",
                "s",
                statistics.median(all_times),
                None,
                fmt="{:.3f}",
            )
        )
        rows[-1].notes.append(
            f"ls --limit 0: median of {len(all_times)}, {len(all_out.stdout.splitlines())} "
            f"lines of output; no target (the target is for the default listing)"
        )
    return rows


def time_cmd(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path,
    repeats: int,
    what: str,
    before: Callable[[], None] | None = None,
) -> tuple[list[float], subprocess.CompletedProcess[str]]:
    """Wall seconds of `repeats` runs of cmd (each after `before()`, untimed), and the last run's output."""
    times: list[float] = []
    last: subprocess.CompletedProcess[str] | None = None
    for _ in range(repeats):
        step(what)
        if before is not None:
            before()
        t = time.perf_counter()
        last = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        times.append(time.perf_counter() - t)
        if last.returncode != 0:
            raise RuntimeError(f"{what} exited {last.returncode}: {last.stderr[-2000:]}")
    assert last is not None
    return times, last


def bench_daemon(sz: Sizes, tmp: Path, details: dict[str, Any]) -> Row:
    runs, interval = 3, 2.0
    row = Row(
        f"daemon CPU, sampling {runs} live runs every {interval:g} s",
        "% of a core",
        None,
        None,
        max_value=1.0,
        fmt="{:.2f}",
    )
    step(f"daemon: {runs} live runs, measuring the daemon's CPU over {sz.daemon_s:g} s")
    rs = child(
        "daemon_cpu", {"seconds": sz.daemon_s, "runs": runs, "interval": interval}, "runstore", tmp / "daemon"
    )
    row.runstore = rs["cpu_percent"]
    details["daemon"] = rs
    row.notes.append(
        f"daemon: {rs['cpu_s']:.2f} CPU s over {rs['wall_s']:.1f} s (start-up excluded), "
        f"{rs['samples']} system rows written (expected ~{rs['expected_samples']:.0f}), RSS "
        f"{rs['daemon_rss_mb']:.0f} MB; wandb: n/a (its system monitor runs inside wandb-core, "
        "not measured separately)"
    )
    return row


def bench_daemon_client(sz: Sizes, tmp: Path, details: dict[str, Any]) -> list[Row]:
    spawn = Row(
        "ensure_running() when no daemon runs: returns in", "ms", None, None, max_value=100.0, fmt="{:.1f}"
    )
    probe = Row(
        "daemon probe at init (ensure_running() when a daemon runs)",
        "µs/call",
        None,
        None,
        max_value=1000.0,
        fmt="{:.1f}",
    )
    results = []
    for i in range(sz.daemon_client_runs):
        step(f"daemon client: spawn, then {sz.daemon_probe_calls:,} probes ({i + 1}/{sz.daemon_client_runs})")
        results.append(
            child("daemon_client", {"calls": sz.daemon_probe_calls}, "runstore", tmp / f"daemon-client-{i}")
        )
    details["daemon_client"] = results
    spawn.runstore = statistics.median(r["spawn_ms"] for r in results)
    probe.runstore = statistics.median(r["probe_us"] for r in results)
    spawned = [r["spawn_ms"] for r in results]
    up = [r["daemon_up_ms"] for r in results]
    spawn.notes.append(
        f"ensure_running(): median of {len(results)} fresh processes (first call, runstore imported), "
        f"min {min(spawned):.1f} ms, max {max(spawned):.1f} ms; the daemon then held its lock "
        f"{statistics.median(up):.0f} ms after the call began (not waited for: it was running on return in "
        f"{sum(r['running_on_return'] for r in results)} of {len(results)}); wandb: n/a (no daemon)"
    )
    probe.notes.append(
        f"daemon probe: median over {len(results)} processes of the median of 5 rounds, "
        f"{results[0]['calls']:,} calls each; wandb: n/a"
    )
    return [spawn, probe]


def bench_crash(sz: Sizes, tmp: Path, details: dict[str, Any]) -> Row:
    interval = 0.2
    row = Row(
        f"crash marked after SIGKILL, worst of {sz.crash_kills} (interval {interval:g} s)",
        "s",
        None,
        None,
        max_value=2 * interval + 0.05,
        fmt="{:.3f}",
    )
    step(f"crash: SIGKILL {sz.crash_kills} training processes in turn, daemon interval {interval:g} s")
    rs = child("crash_detect", {"kills": sz.crash_kills, "interval": interval}, "runstore", tmp / "crash")
    row.runstore = rs["max_s"]
    details["crash"] = rs
    row.notes.append(
        f"crash: SIGKILL to the daemon's `crashed` exit record in run.jsonl, {rs['kills']} kills, median "
        f"{rs['median_s']:.3f} s, min {rs['min_s']:.3f} s; target two sampling intervals + 0.05 s; "
        "wandb: n/a (offline, a killed run is simply left unfinished)"
    )
    return row


def bench_gpu(sz: Sizes, tmp: Path, details: dict[str, Any]) -> Row:
    step("gpu: gpu_inventory() in a fresh process")
    rs = child("gpu_probe", {"calls": sz.gpu_probe_calls}, "runstore", tmp / "gpu")
    details["gpu"] = rs
    if rs["driver_present"]:  # then it is NVML's inventory, not the probe the target is about
        row = Row("GPU inventory at init [NVIDIA driver present]", "ms", rs["first_ms"], None, fmt="{:.3f}")
    else:
        row = Row(
            "GPU probe without NVML driver (gpu_inventory())", "ms", None, None, max_value=5.0, fmt="{:.3f}"
        )
        row.runstore = rs["first_ms"]
    row.notes.append(
        f"gpu: first call in a fresh process; median of {rs['calls']:,} more with its cache cleared "
        f"{rs['median_ms']:.4f} ms; {rs['gpus']} GPUs; pynvml imported: {rs['pynvml_imported']}; "
        "wandb: n/a (its GPU probe runs in wandb-core)"
    )
    return row


def bench_image(sz: Sizes, tmp: Path, have_wandb: bool, details: dict[str, Any]) -> Row:
    row = Row("log() of a 64x64 RGB Image (distinct each step)", "ms/image", None, None, max_value=5.0)
    rounds = 5
    libs = [("runstore", sz.image_runstore)] + ([("wandb", sz.image_wandb)] if have_wandb else [])
    for lib, n in libs:
        step(f"image: {lib}, {n:,} images")
        r = child("image_log", {"lib_name": lib, "n": n, "rounds": rounds}, lib, tmp / f"image-{lib}")
        setattr(row, lib, r["ms_per_image"])
        details[f"image_{lib}"] = r
        note = (
            f"image {lib}: median of {rounds} rounds, {r['images']:,} images, {r['png_files']:,} PNG files "
            f"(ms/image per round: {', '.join(f'{x:.2f}' for x in r['rounds_ms'])})"
        )
        if lib == "wandb":
            note += f"; its finish() then took {r['finish_s']:.2f} s (not counted)"
        row.notes.append(note)
    return row


def bench_sweeps(sz: Sizes, tmp: Path, details: dict[str, Any]) -> list[Row]:
    rows = []
    for method, budget in (("grid", 20.0), ("random", 20.0), ("bayes", 1000.0)):
        step(f"sweeps: one {method} proposal with 100 finished runs")
        rs = child(
            "sweep_proposals",
            {"method": method, "finished": 100, "calls": 10 if sz is QUICK else 30},
            "runstore",
            tmp / f"sweep-{method}",
        )
        row = Row(
            f"sweep proposal, {method}, 100 finished runs", "ms", None, None, max_value=budget, fmt="{:.1f}"
        )
        row.runstore = rs["median_ms"]
        row.notes.append(
            f"sweep {method}: median of {rs['calls']} proposals; first call {rs['first_ms']:.0f} ms "
            f"(imports); sampler {rs['sampler']}; wandb: n/a (its controller runs on the server)"
        )
        details[f"sweep_{method}"] = rs
        rows.append(row)
    step("sweeps: agent start to first trial")
    rs = child("agent_start", {"runs": 3 if sz is QUICK else 7}, "runstore", tmp / "agent")
    row = Row("sweep agent: start to first trial (median)", "s", None, None, max_value=0.5, fmt="{:.3f}")
    row.runstore = rs["median_s"]
    row.notes.append(
        f"agent start: `python -m runstore agent --count 1 ID` to the trial's first line, "
        f"{rs['runs']} runs, min {rs['min_s']:.3f} s, max {rs['max_s']:.3f} s; wandb: n/a (its "
        "agent needs the server)"
    )
    details["agent_start"] = rs
    rows.append(row)
    return rows


# The digest check's child: one library per interpreter, as for every other workload. It builds one
# artifact per directory with add_dir(policy="immutable") -- hashing only, no copy, in both libraries, so
# their timings measure the same work -- and prints each manifest document and digest.
_DIGEST_CHILD = """
import json, sys, time
lib, mark, dirs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
mod = __import__(lib)
out = {"version": mod.__version__, "artifacts": []}
for d in dirs:
    t = time.perf_counter()
    art = mod.Artifact("bench-tree", "dataset")
    art.add_dir(d, policy="immutable")
    digest = art.digest
    out["artifacts"].append(
        {"digest": digest, "manifest": art.manifest.to_manifest_json(), "seconds": time.perf_counter() - t}
    )
sys.stdout.write(mark + json.dumps(out) + "\\n")
"""


def digest_child(lib: str, dirs: list[Path], tmp: Path) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    env = base_env(tmp, lib)
    proc = subprocess.run(
        [PY, "-c", _DIGEST_CHILD, lib, MARK, json.dumps([str(d) for d in dirs])],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    raise RuntimeError(f"artifact digests ({lib}) exited {proc.returncode} without a result:\n{tail}")


def manifest_difference(ours: dict[str, Any], theirs: dict[str, Any], what: str) -> str | None:
    """The first difference between runstore's and wandb's artifact over the same directory, or None.
    Entries first (the most useful message), then the rest of wandb_manifest.json, then the digest."""
    mo, mt = ours["manifest"], theirs["manifest"]
    co, ct = mo.get("contents", {}), mt.get("contents", {})
    for path in sorted(set(co) | set(ct)):
        if path not in co:
            return f"{what}: {path!r} is in wandb's manifest, not in runstore's"
        if path not in ct:
            return f"{what}: {path!r} is in runstore's manifest, not in wandb's"
        if co[path] != ct[path]:
            return f"{what}: entry {path!r}: runstore {co[path]}, wandb {ct[path]}"
    for key in sorted((set(mo) | set(mt)) - {"contents"}):
        if mo.get(key) != mt.get(key):
            return f"{what}: manifest field {key!r}: runstore {mo.get(key)!r}, wandb {mt.get(key)!r}"
    if ours["digest"] != theirs["digest"]:
        return f"{what}: artifact digest: runstore {ours['digest']}, wandb {theirs['digest']}"
    return None


def write_edge_tree(root: Path) -> None:
    """Names and sizes the generated tree lacks: an empty file, a dotfile, spaces and non-ASCII in
    names, deep nesting, a size one byte past the hashing loops' chunks (runstore's 1 MiB, wandb's
    128 KiB)."""
    for rel, data in (
        ("empty", b""),
        (".hidden", b"x"),
        ("a b/ünï cödé.txt", "héllo wörld\n".encode()),
        ("d1/d2/d3/d4/deep.bin", os.urandom(100)),
        ("chunk.bin", os.urandom((1 << 20) + 1)),
    ):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def bench_artifact_digests(
    tree: Path, files: int, put_digest: str | None, tmp: Path, have_wandb: bool, details: dict[str, Any]
) -> Row:
    """add_dir of the benchmark's tree (and of a small tree of odd names) in runstore and in wandb: the
    artifact digest and every entry's digest and size must be identical -- runstore writes wandb's
    manifests, so a difference is a compatibility bug and fails the run (Row.error)."""
    edge = tmp / "art-edge"
    write_edge_tree(edge)
    row = Row("artifact add_dir(policy='immutable') of the tree: hash only", "s", None, None, fmt="{:.2f}")
    row.identical_target = "digests identical to wandb's"
    if not have_wandb:
        row.notes.append("artifact digests: not compared (wandb not importable)")
        return row
    step("artifacts: add_dir of the same tree in runstore and in wandb, digests compared")
    try:
        ours = digest_child("runstore", [tree, edge], tmp / "art-digest-runstore")
        theirs = digest_child("wandb", [tree, edge], tmp / "art-digest-wandb")
    except (RuntimeError, subprocess.TimeoutExpired) as e:  # fails the run: nothing was compared
        err.print(f"[red]{escape(str(e))}[/red]")
        row.error = str(e).splitlines()[0]
        return row
    version = theirs["version"]
    row.identical_target = f"digests identical to wandb {version}'s"
    row.runstore = ours["artifacts"][0]["seconds"]
    row.wandb = theirs["artifacts"][0]["seconds"]
    entries = sum(len(a["manifest"]["contents"]) for a in ours["artifacts"])
    diff = manifest_difference(ours["artifacts"][0], theirs["artifacts"][0], "the benchmark's tree")
    diff = diff or manifest_difference(ours["artifacts"][1], theirs["artifacts"][1], "the odd-names tree")
    if diff is None and len(ours["artifacts"][0]["manifest"]["contents"]) != files:
        diff = f"runstore's manifest has {len(ours['artifacts'][0]['manifest']['contents'])} entries, the tree {files} files"
    if diff is None and put_digest is not None and put_digest != theirs["artifacts"][0]["digest"]:
        # the CLI's put takes the other path (policy "mutable": copied into the store and hashed on the way)
        diff = f"`runstore artifact put`: digest {put_digest}, wandb's {theirs['artifacts'][0]['digest']}"
    row.identical = diff is None
    if diff is not None:
        row.error = f"artifact digests differ from wandb {version}'s: {diff}"
        err.print(f"[red]{escape(row.error)}[/red]")
    else:
        msg = f"artifact digests: identical to wandb {version} ({entries:,} entries)"
        step(msg)
        row.notes.append(
            f"{msg}: add_dir of the tree and of {entries - files} odd names (empty, dotfile, spaces, "
            "non-ASCII, deep, 1 MiB + 1 B); every entry's digest and size, the rest of wandb_manifest.json "
            "and the artifact digest, and `runstore artifact put`'s digest (policy mutable); timings: "
            "Artifact() + add_dir + digest in a fresh interpreter, imports excluded (wandb hashes on 8 threads)"
        )
    details["artifact_digests"] = {
        "wandb_version": version,
        "entries": entries,
        "identical": row.identical,
        "runstore_s": row.runstore,
        "wandb_s": row.wandb,
        "difference": diff,
    }
    return row


def dvc_binary() -> str | None:
    """The bench venv's dvc (the `bench` extra installs it next to this interpreter), else one on PATH."""
    here = Path(PY).parent / "dvc"
    return str(here) if here.exists() else shutil.which("dvc")


def bench_dvc(tree: Path, files: int, tmp: Path, details: dict[str, Any]) -> dict[str, Any]:
    """`dvc add` of the tree (a fresh `git init` + `dvc init` repo each time, DVC's default cache in
    .dvc/cache), `dvc add` again unchanged, and `dvc checkout` in a fresh clone sharing that cache: the
    counterparts of put, put again and get. Returns the timings and how checkout placed the files."""
    dvc = dvc_binary()
    if dvc is None:
        return {"why": "dvc not installed (pip install -e '.[bench]')"}
    version = subprocess.run([dvc, "--version"], capture_output=True, text=True, timeout=120).stdout.strip()
    site = tmp / "dvc-site"
    env = {k: v for k, v in base_env(tmp, "dvc").items() if not k.startswith("DVC_")}
    env.update(
        # else every command starts a detached process that sends a usage report over the network,
        # competing with the timed one for the 2 cores
        DVC_NO_ANALYTICS="1",
        # DVC keeps its state database (the stat cache) and index outside the repo, keyed by the repo's
        # path: the fresh repos of each repetition share a path, so the directory is wiped with the repo
        DVC_SITE_CACHE_DIR=str(site),
        # DVC's defaults, not this machine's or user's config
        DVC_GLOBAL_CONFIG_DIR=str(tmp / "dvc-config" / "global"),
        DVC_SYSTEM_CONFIG_DIR=str(tmp / "dvc-config" / "system"),
    )
    repo, clone = tmp / "dvc-repo", tmp / "dvc-clone"

    def run(cmd: list[str], cwd: Path) -> str:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:3])} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc.stdout

    def fresh_repo() -> None:
        shutil.rmtree(repo, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)
        # dvc add takes data inside its repo: the copy is set-up, not timed (it also leaves the data in
        # the page cache, as writing art-tree did for runstore's put)
        shutil.copytree(tree, repo / "tree")
        run(["git", "init", "-q"], repo)
        run([dvc, "init", "-q"], repo)

    add, _ = time_cmd([dvc, "add", "tree"], env, repo, 3, "artifacts: dvc add, fresh repo", before=fresh_repo)
    again, _ = time_cmd([dvc, "add", "tree"], env, repo, 3, "artifacts: dvc add again, unchanged")
    run(["git", "add", "-A"], repo)  # tree.dvc and .gitignore: what a user commits (the data is ignored)
    run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "tree"],
        repo,
    )

    def fresh_clone() -> None:
        # a user's clone of the repo whose cache is already there (as the store is for `artifact get`)
        shutil.rmtree(clone, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)
        run(["git", "clone", "-q", str(repo), str(clone)], tmp)
        run([dvc, "config", "--local", "cache.dir", str(repo / ".dvc" / "cache")], clone)

    checkout, _ = time_cmd(
        [dvc, "checkout"], env, clone, 3, "artifacts: dvc checkout, fresh clone", before=fresh_clone
    )
    placed = [p for p in (clone / "tree").rglob("*") if p.is_file()]
    if len(placed) != files:
        raise RuntimeError(f"dvc checkout placed {len(placed)} files, the tree has {files}")
    # DVC's default cache.type is "reflink,copy": the first one this filesystem supports. `dvc doctor`
    # lists what it supports; a checked-out file that is neither a link nor has a second name confirms.
    supported = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in run([dvc, "doctor"], clone).splitlines()
            if ln.startswith("Cache types:")
        ),
        "?",
    )
    big = clone / "tree" / "big0.bin"
    linked = big.is_symlink() or big.stat().st_nlink > 1
    link = "hardlink/symlink (unexpected)" if linked else ("reflink" if "reflink" in supported else "copy")
    out = {
        "version": version,
        "add_s": add,
        "again_s": again,
        "checkout_s": checkout,
        "link": link,
        "cache_types_supported": supported,
    }
    details["dvc"] = out
    return out


def bench_artifacts(sz: Sizes, tmp: Path, have_wandb: bool, details: dict[str, Any]) -> list[Row]:
    """`runstore artifact put` of a tree of 10,000 small files and 3 large ones against `cp -r` and
    `dvc add`, putting it again unchanged (against `dvc add` again), and `artifact get` into a fresh
    directory (against `dvc checkout` in a fresh clone): issue 12's targets. Then the artifact's
    digests against wandb's own for the same tree."""
    small, big_mb = (2_000, 20) if sz is QUICK else (10_000, 300)
    files = small + 3
    tree = tmp / "art-tree"
    step(f"artifacts: writing {small:,} small files and 3 of {big_mb} MB")
    for i in range(small):
        d = tree / f"d{i % 100}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.bin").write_bytes(os.urandom(2000 + (i * 37) % 8000))
    for j in range(3):
        with open(tree / f"big{j}.bin", "wb") as f:
            for _ in range(big_mb):
                f.write(os.urandom(1 << 20))
    payload = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    env = base_env(tmp, "runstore")
    store = tmp / "art-store" / ".wandb"
    env["RUNSTORE_DIR"] = str(store)
    cli = [str(runstore_cli()), "artifact"]

    def fresh_store() -> None:
        shutil.rmtree(store.parent, ignore_errors=True)
        shutil.rmtree(tmp / "art-copy", ignore_errors=True)

    cp_times, _ = time_cmd(
        ["cp", "-r", str(tree), str(tmp / "art-copy")], env, tmp, 3, "artifacts: cp -r", before=fresh_store
    )
    put_times, put_out = time_cmd(
        [*cli, "put", str(tree), "--name", "p/tree", "--json"],
        env,
        tmp,
        3,
        "artifacts: runstore artifact put",
        before=fresh_store,
    )
    again_times, _ = time_cmd(
        [*cli, "put", str(tree), "--name", "p/tree"], env, tmp, 3, "artifacts: put again, unchanged"
    )

    def fresh_out() -> None:
        shutil.rmtree(tmp / "art-out", ignore_errors=True)

    # Links are what make a get cheap; `auto` gives root (who ignores the objects' 0444) copies, so
    # the target row asks for links explicitly and the default's figure is reported next to it.
    link_env = {**env, "RUNSTORE_ARTIFACT_LINK": "hardlink"}
    get_times, get_out = time_cmd(
        [*cli, "get", "p/tree", "--root", str(tmp / "art-out"), "--json"],
        link_env,
        tmp,
        3,
        "artifacts: runstore artifact get (hard links)",
        before=fresh_out,
    )
    copy_times, copy_out = time_cmd(
        [*cli, "get", "p/tree", "--root", str(tmp / "art-out"), "--json"],
        env,
        tmp,
        3,
        "artifacts: runstore artifact get (default mode, this user)",
        before=fresh_out,
    )
    put_digest = json.loads(put_out.stdout)["digest"]
    placed = json.loads(get_out.stdout).get("placed")
    copy_placed = json.loads(copy_out.stdout).get("placed")
    # cp -r's copy is not needed any more: its pages would only compete with DVC's for memory
    shutil.rmtree(tmp / "art-copy", ignore_errors=True)
    try:
        dvc = bench_dvc(tree, files, tmp, details)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:  # a broken dvc: its figures read n/a
        err.print(f"[red]artifacts: dvc: {escape(str(e))}[/red]")
        dvc = {"why": f"dvc failed: {str(e).splitlines()[0]}"}
    shutil.rmtree(tmp / "dvc-clone", ignore_errors=True)
    shutil.rmtree(tmp / "dvc-repo", ignore_errors=True)

    def med(key: str) -> float | None:
        return statistics.median(dvc[key]) if key in dvc else None

    cp_s, put_s = statistics.median(cp_times), statistics.median(put_times)
    again_s, get_s = statistics.median(again_times), statistics.median(get_times)
    details["artifacts"] = {
        "files": files,
        "bytes": payload,
        "cp_s": cp_times,
        "put_s": put_times,
        "again_s": again_times,
        "get_s": get_times,
        "get_placed": placed,
        "get_default_s": copy_times,
        "get_default_placed": copy_placed,
    }
    mb = payload / 1e6
    rows = [
        Row(
            f"artifact put, {files:,} files / {mb:,.0f} MB (cp -r {cp_s:.2f} s) vs dvc add",
            "s",
            put_s,
            med("add_s"),
            max_value=1.5 * cp_s,
            min_ratio=1.0,  # issue 12: faster than `dvc add` of the same tree
            vs="dvc",
        ),
        Row(
            "artifact put again, unchanged vs dvc add again",
            "s",
            again_s,
            med("again_s"),
            max_value=0.1 * put_s,
            vs="dvc",
        ),
        Row(
            "artifact get into a fresh directory (hard links) vs dvc checkout (fresh clone)",
            "s",
            get_s,
            med("checkout_s"),
            max_value=0.5,
            vs="dvc",
        ),
        Row(
            "artifact get, default mode (root: checked copies) vs dvc checkout",
            "s",
            statistics.median(copy_times),
            med("checkout_s"),
            vs="dvc",
        ),
    ]
    rows[0].notes.append(
        f"artifacts: cp -r {cp_s:.2f} s; medians of 3; runstore get placed {placed} with "
        f"RUNSTORE_ARTIFACT_LINK=hardlink and {copy_placed} by default as this user; wandb: n/a (its "
        "artifact put needs a server)"
    )
    if "why" in dvc:
        rows[0].notes.append(f"artifacts: dvc figures n/a: {dvc['why']}")
    else:
        rows[0].notes.append(
            f"artifacts: (dvc) is DVC {dvc['version']} with its default cache (.dvc/cache, cache.type "
            f"reflink,copy): `dvc add tree` in a fresh `git init` + `dvc init` repo each time (the copy of "
            f"the tree into it not timed), then again unchanged (its stat cache), then `dvc checkout` in a "
            f"fresh `git clone` of that repo sharing the cache; checkout placed the files as "
            f"{dvc['link']} (this filesystem supports: {dvc['cache_types_supported']}); medians of 3"
        )
    rows.append(bench_artifact_digests(tree, files, put_digest, tmp, have_wandb, details))
    return rows


def bench_sync(sz: Sizes, tmp: Path, details: dict[str, Any]) -> list[Row]:
    project = "bench-sync"

    def make(store: Path) -> dict[str, Any]:
        step(f"sync: creating {sz.sync_runs:,} runs of {sz.sync_steps:,} steps (cached in {store.parent})")
        args = {
            "store": str(store),
            "project": project,
            "runs": sz.sync_runs,
            "steps": sz.sync_steps,
            "media": 3,
        }
        return child("gen_sync_store", args, "runstore", tmp / "gen-sync")

    store, meta = cached_dataset(
        f"sync-{sz.sync_runs}-{sz.sync_steps}", {"runs": sz.sync_runs, "steps": sz.sync_steps, "v": 1}, make
    )
    details["sync_dataset"] = meta
    env = base_env(tmp, "runstore")
    env["RUNSTORE_DIR"] = str(store)
    dest = tmp / "sync-remote"
    cli = [str(runstore_cli()), "sync", "--all", "--remote", str(dest), "--json"]

    def fresh() -> None:
        shutil.rmtree(dest, ignore_errors=True)
        for f in store.glob("projects/*/runs/*/cache/sync-*.json"):  # what was sent: derived state
            f.unlink()

    from runstore.store.store import Store

    st = Store(store)
    payload = sum(
        f.path.stat().st_size for ref in st.iter_runs() for f in st.files(ref) if f.kind != "derived"
    )
    rsync = shutil.which("rsync")
    rsync_times: list[float] = []
    if rsync:
        rdest = tmp / "rsync-remote"

        def rfresh() -> None:
            shutil.rmtree(rdest, ignore_errors=True)

        rsync_times, _ = time_cmd(
            [rsync, "-a", f"{store}/", f"{rdest}/"], env, tmp, 3, "sync: rsync -a", before=rfresh
        )
        rfresh()
    first, out = time_cmd(
        cli, env, tmp, 3, f"sync: runstore sync --all of {sz.sync_runs:,} runs", before=fresh
    )
    res = json.loads(out.stdout)
    if res["bytes"] != payload:
        raise RuntimeError(f"the first sync sent {res['bytes']} bytes, the store holds {payload}")
    second, out2 = time_cmd(cli, env, tmp, 5, "sync: second sync, nothing new")
    if json.loads(out2.stdout)["bytes"] != 0:
        raise RuntimeError("the second sync sent bytes")
    t_first = statistics.median(first)
    rows = []
    row = Row(
        f"`runstore sync --all` of {sz.sync_runs:,} runs to a directory, first",
        "s",
        t_first,
        None,
        fmt="{:.2f}",
    )
    if rsync_times:
        t_rsync = min(rsync_times)
        row.max_value = 2 * t_rsync
        row.notes.append(
            f"sync first: median of {len(first)} ({', '.join(f'{t:.2f}' for t in first)} s), "
            f"{payload / 1e6:.1f} MB of run files at {payload / t_first / 1e6:.0f} MB/s incl. sha256 "
            f"verification of every finished run; `rsync -a` of the same store: best of {len(rsync_times)} "
            f"{t_rsync:.2f} s ({', '.join(f'{t:.2f}' for t in rsync_times)} s), target ≤ 2x rsync; "
            f"wandb: n/a (`wandb sync` needs its server)"
        )
    else:
        row.notes.append("sync first: rsync not installed (apt-get install rsync): no target to compare with")
    rows.append(row)
    rows.append(
        Row(
            f"`runstore sync --all` again, nothing new ({sz.sync_runs:,} runs)",
            "s",
            statistics.median(second),
            None,
            max_value=1.0,
            fmt="{:.3f}",
        )
    )
    rows[-1].notes.append(
        f"sync second: median of {len(second)} CLI processes (min {min(second):.3f} s), 0 bytes sent, "
        "no file read (stat + one remote listing per project)"
    )
    details["sync"] = {"first_s": first, "second_s": second, "rsync_s": rsync_times, "payload_bytes": payload}

    step(f"sync: streaming 1 run at 1,000 steps/s for {sz.stream_s:g} s, then without a remote")
    remote = tmp / "stream-remote"
    live = child(
        "sync_stream",
        {"remote": str(remote), "runs": 1, "rate": 1000.0, "seconds": sz.stream_s, "watch": True},
        "runstore",
        tmp / "stream-1",
    )
    base = child(
        "sync_stream",
        {"remote": None, "runs": 1, "rate": 1000.0, "seconds": sz.stream_s, "watch": False},
        "runstore",
        tmp / "stream-0",
    )
    step(f"sync: streaming 10 runs at 1,000 steps/s each for {sz.stream_s:g} s")
    ten = child(
        "sync_stream",
        {
            "remote": str(tmp / "stream-remote-10"),
            "runs": 10,
            "rate": 1000.0,
            "seconds": sz.stream_s,
            "watch": False,
        },
        "runstore",
        tmp / "stream-10",
    )
    details["stream"] = {"one": live, "baseline": base, "ten": ten}
    if "latency_median_s" not in live:
        raise RuntimeError("streaming: no row became visible at the remote")
    rows.append(
        Row(
            "streaming: log() -> visible at a directory remote, median",
            "s",
            live["latency_median_s"],
            None,
            max_value=1.0,
            fmt="{:.3f}",
        )
    )
    rows.append(
        Row(
            "streaming: log() -> visible at a directory remote, p99",
            "s",
            live["latency_p99_s"],
            None,
            max_value=2.0,
            fmt="{:.3f}",
        )
    )
    rows[-2].notes.append(
        f"streaming: 1 run logging {live['achieved_rate']:.0f} steps/s for {live['seconds']:g} s; "
        f"{live['rows_seen']:,} of {live['rows_logged']:,} rows seen at the remote, max {live['latency_max_s']:.3f} s; "
        "the daemon polls every 0.25 s; wandb: n/a (offline mode never syncs live)"
    )
    step(f"sync: log() cost while the daemon streams the run, {sz.log_calls_runstore:,} calls")
    lc = child(
        "log_cost_streaming",
        {"n": sz.log_calls_runstore, "rounds": sz.log_rounds, "remote": str(tmp / "log-remote")},
        "runstore",
        tmp / "log-streaming",
    )
    details["log_streaming"] = lc
    if lc["streamed_bytes"] != lc["local_bytes"]:
        raise RuntimeError(
            f"log() while streaming: {lc['streamed_bytes']} of {lc['local_bytes']} bytes arrived"
        )
    rows.append(
        Row(
            "log() 10 floats while the daemon streams the run",
            "µs/call",
            lc["overhead_us"],
            None,
            max_value=5.0,
        )
    )
    rows[-1].notes.append(
        f"log() while streaming: the `log()` workload ({lc['calls']:,} calls, as fast as possible) in a run "
        f"the daemon streams to a directory remote ({lc['local_bytes'] / 1e6:.1f} MB arrived); "
        f"{lc['log_us']:.2f} µs/call incl. dict building, empty loop {lc['empty_us']:.2f} µs. In a loop paced "
        f"at 1,000 steps/s, timed per call: mean {live['log_mean_us']:.2f} µs, median "
        f"{live['log_median_us']:.2f} µs streaming; mean {base['log_mean_us']:.2f} µs, median "
        f"{base['log_median_us']:.2f} µs without a remote"
    )
    rows.append(
        Row(
            "daemon CPU streaming 10 runs at 1,000 steps/s each",
            "% of a core",
            ten["daemon_cpu_percent"],
            None,
            max_value=5.0,
            fmt="{:.1f}",
        )
    )
    rows[-1].notes.append(
        f"daemon streaming: {ten['daemon_cpu_s']:.2f} CPU s over {ten['wall_s']:.1f} s, 10 runs at "
        f"{ten['achieved_rate']:.0f} steps/s each (also sampling their system metrics every 2 s); "
        f"1 run: {live['daemon_cpu_percent']:.1f} %"
    )

    step(f"sync: the same against moto's S3 server ({sz.s3_runs} runs)")
    s3 = child("sync_s3", {"runs": sz.s3_runs, "steps": sz.sync_steps}, "runstore", tmp / "s3")
    details["s3"] = s3
    rows.append(Row(f"S3 (moto): first sync of {sz.s3_runs} runs", "s", s3["first_s"], None, fmt="{:.2f}"))
    rows[-1].notes.append(
        f"S3 (moto server on 127.0.0.1, slow Python; no target): first sync {s3['bytes'] / 1e6:.1f} MB at "
        f"{s3['first_mb_s']:.1f} MB/s; second sync {s3['second_s']:.2f} s; streaming 100 steps/s: "
        f"median {s3.get('stream_latency_median_s', float('nan')):.3f} s, "
        f"p99 {s3.get('stream_latency_p99_s', float('nan')):.3f} s ({s3.get('stream_rows_seen', 0)} rows seen)"
    )
    rows.append(
        Row(
            f"S3 (moto): second sync, nothing new ({sz.s3_runs} runs)",
            "s",
            s3["second_s"],
            None,
            fmt="{:.2f}",
        )
    )
    if "stream_latency_median_s" in s3:
        rows.append(
            Row("S3 (moto): log() -> visible, median", "s", s3["stream_latency_median_s"], None, fmt="{:.3f}")
        )
    return rows


# -- runstore server (issue 11) --------------------------------------------------------------------------
# Worker processes of every server the benchmark starts: one per core of this 2-core machine, what an
# operator would start here (and the workers' own CPU is what the ingest rows report).
SERVER_WORKERS = 2
INGEST_INTERVAL_S = 0.1  # the paced clients send what accumulated every 100 ms (the daemon polls at 250 ms)
READ_REPEATS = 5  # warm requests per read figure, after one cold one
RUNS_FILTER: dict[str, Any] = {"state": "finished", "config.bs": 64, "config.lr": {"$gt": 1e-4}}
RUNS_ORDER = "-summary_metrics.acc"
# the rows the clients stream and the metrics charted: bench/workloads.py's 10-float dict
METRIC_KEYS = KEYS


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_cli(args: list[str], env: dict[str, str], cwd: Path) -> str:
    proc = subprocess.run(
        [PY, "-m", "runstore", "server", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"runstore server {' '.join(args[:2])} exited {proc.returncode}: {proc.stderr[-800:]}"
        )
    return proc.stdout


def server_token(store_dir: Path, env: dict[str, str], cwd: Path, keep: Path | None = None) -> str:
    """A write token of the server of `store_dir`. With `keep` (a file beside a cached store), the token
    made the first time is reused, so the cached store's token list does not grow by one every run."""
    if keep is not None:
        try:
            saved = json.loads(keep.read_text())
            listed = json.loads(server_cli(["token", "ls", "--json", "--dir", str(store_dir)], env, cwd))
            if any(t.get("id") == saved["id"] and not t.get("revoked") for t in listed):
                return str(saved["token"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    doc = json.loads(
        server_cli(["token", "create", "--name", "bench", "--json", "--dir", str(store_dir)], env, cwd)
    )
    if keep is not None:
        keep.write_text(json.dumps({"id": doc["id"], "token": doc["token"]}))
        keep.chmod(0o600)
    return str(doc["token"])


class Server:
    """`runstore server --workers 2` in a subprocess, in a process group of its own so that its uvicorn
    workers are ended with it even if the supervisor does not end them. Its access log (a line per
    request) goes to a file: a pipe nobody reads would fill and stall the server."""

    def __init__(self, store_dir: Path, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [PY, "-m", "runstore", "server", "--dir", str(store_dir), "--port", str(self.port)]
            + ["--workers", str(SERVER_WORKERS)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every worker has started its app (not only the first to answer /healthz): a request the
        benchmark times must not meet a worker still importing."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"runstore server exited {self.proc.returncode}: {self.log_tail()}")
            started = self.log.read_bytes().count(b"Application startup complete")
            try:
                ok = httpx.get(self.url + "/healthz", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok and started >= SERVER_WORKERS:
                return
            time.sleep(0.1)
        raise RuntimeError(f"runstore server not ready after {timeout:g} s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").strip().splitlines()[-10:])
        except OSError:
            return ""

    def cpu_s(self) -> float:
        """User + system CPU seconds so far of the supervisor and its workers (psutil reads /proc)."""
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0.0
        total = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total

    def stop(self) -> None:
        import signal

        try:
            if self.proc.poll() is None:
                self.proc.terminate()  # uvicorn's supervisor ends its workers on SIGTERM
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            try:
                # the group is this server's alone (start_new_session): a worker left behind dies here
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.proc.wait(timeout=15)
        finally:
            self._log.close()


# One streaming client: a stand-in for a training process whose daemon streams its history.jsonl to the
# server. It writes rows to its own local file and sends what accumulated since the last append, at the
# offset the server acknowledged, through HttpRemote.append (the daemon's call); a Conflict resumes from
# the size the server reports. rate 0: back-to-back appends of `batch` rows, for the capacity.
_INGEST_CLIENT = r"""
import json, random, resource, sys, time
from runstore.remotes.base import Conflict
from runstore.remotes.http import HttpRemote

url, rel, local_path, mark = sys.argv[1:5]
cfg = json.loads(sys.argv[5])
rate, seconds, interval, batch = cfg["rate"], cfg["seconds"], cfg["interval"], cfg["batch"]
remote = HttpRemote(url)  # its token from RUNSTORE_API_KEY, as a daemon would find it
rnd = random.Random(rel).random
# The metrics of 1,000 distinct rows, encoded before the clock: 20 processes encoding JSON would take
# the cores the server is measured on, and that cost is the SDK's, benchmarked elsewhere.
bodies = [
    json.dumps({k: rnd() for k in cfg["keys"]}, separators=(",", ":"))[1:].encode() for _ in range(1000)
]
if remote.size(rel) is not None:  # also opens the connection and checks /healthz before the clock
    sys.exit(rel + ": on the server already")
local = open(local_path, "wb", buffering=0)
buf = bytearray()  # the local file's bytes, as sent
sent = step = conflicts = 0
lat = []
print("READY", flush=True)
sys.stdin.readline()


def produce(n):
    global step
    ts, start = time.time(), len(buf)
    for _ in range(n):
        buf.extend(b'{"_step":%d,"_timestamp":%.6f,%s\n' % (step, ts, bodies[step % 1000]))
        step += 1
    local.write(buf[start:])


def push():
    global sent, conflicts
    while sent < len(buf):
        t = time.perf_counter()
        try:
            sent = remote.append(rel, sent, bytes(buf[sent:]))
        except Conflict as c:  # the protocol's answer to a lost or raced append: resume from its size
            conflicts += 1
            sent = c.size
        lat.append(time.perf_counter() - t)


r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
end = t0 + seconds
if rate > 0:
    nxt = t0
    while True:
        nxt += interval
        now = time.perf_counter()
        if nxt > now:
            time.sleep(nxt - now)
        else:
            nxt = now  # an append outlasted the interval: send what accumulated now, as the daemon does
        now = time.perf_counter()
        due = int((min(now, end) - t0) * rate) - step
        if due > 0:
            produce(due)
        push()
        if now >= end:
            break
else:
    while time.perf_counter() < end:
        produce(batch)
        push()
elapsed = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
local.close()
out = {
    "rel": rel,
    "local": local_path,
    "rows": step,
    "bytes": len(buf),
    "appends": len(lat),
    "conflicts": conflicts,
    "elapsed_s": elapsed,
    "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
    "lat_ms": [round(x * 1000, 3) for x in lat],
}
sys.stdout.write(mark + json.dumps(out) + "\n")
sys.stdout.flush()
"""


def percentile(sorted_xs: list[float], q: float) -> float:
    return sorted_xs[min(len(sorted_xs) - 1, int(q * len(sorted_xs)))]


def compare_files(local: Path, remote: Path) -> tuple[int, int]:
    """(bytes of `local` missing from `remote`, bytes of `remote` that are not `local`'s) past their
    common prefix: (0, 0) when the server's copy is byte-identical."""
    a = local.read_bytes()
    b = remote.read_bytes() if remote.exists() else b""
    common = 0
    if a[: len(b)] == b[: len(a)]:
        common = min(len(a), len(b))
    else:
        while common < min(len(a), len(b)) and a[common] == b[common]:
            common += 1
    return len(a) - common, len(b) - common


def ingest_pass(
    server: Server,
    root: Path,
    env: dict[str, str],
    tmp: Path,
    label: str,
    clients: int,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """`clients` client processes stream one run each to `server` for `seconds` s; their figures, the
    server's CPU over the same window, and every client's file compared with the server's."""
    work = tmp / f"ingest-{label}"
    work.mkdir(parents=True, exist_ok=True)
    keys = list(METRIC_KEYS)
    # the saturating clients send the batches the paced ones do (what 100 ms of 1,000 steps/s make),
    # back to back: the server's capacity for the requests it gets in practice
    cfg = {"rate": rate, "seconds": seconds, "interval": INGEST_INTERVAL_S, "batch": 100, "keys": keys}
    procs: list[subprocess.Popen[str]] = []
    errs: list[Path] = []
    try:
        for i in range(clients):
            rel = f"projects/bench/runs/{label}{i:02d}/history.jsonl"
            errs.append(work / f"client{i:02d}.err")
            with open(errs[-1], "wb") as ef:
                procs.append(
                    subprocess.Popen(
                        [PY, "-c", _INGEST_CLIENT, server.url, rel, str(work / f"client{i:02d}.jsonl"), MARK]
                        + [json.dumps(cfg)],
                        cwd=work,
                        env=env,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=ef,
                        text=True,
                    )
                )

        def failed(i: int) -> RuntimeError:
            tail = "\n".join(errs[i].read_text(errors="replace").strip().splitlines()[-8:])
            return RuntimeError(f"ingest client {i} exited {procs[i].poll()}: {tail}")

        for i, p in enumerate(procs):  # imported, connected, waiting: the start-up is not timed
            if p.stdout.readline().strip() != "READY":  # type: ignore[union-attr]
                raise failed(i)
        cpu0, t0 = server.cpu_s(), time.monotonic()
        for p in procs:
            p.stdin.write("go\n")  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
        results: list[dict[str, Any]] = []
        for i, p in enumerate(procs):
            line = next((ln for ln in p.stdout if ln.startswith(MARK)), None)  # type: ignore[union-attr]
            if line is None:
                raise failed(i)
            results.append(json.loads(line[len(MARK) :]))
        wall = time.monotonic() - t0
        cpu1 = server.cpu_s()
        for p in procs:
            p.wait(timeout=30)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    lost = extra = 0
    for r in results:
        missing, wrong = compare_files(Path(r["local"]), root / r["rel"])
        lost, extra = lost + missing, extra + wrong
    lat = sorted(x for r in results for x in r["lat_ms"])
    rows = sum(r["rows"] for r in results)
    cores = os.cpu_count() or SERVER_WORKERS
    return {
        "clients": clients,
        "rate_per_client": rate,
        "seconds": seconds,
        "wall_s": wall,
        "rows": rows,
        "bytes": sum(r["bytes"] for r in results),
        "rows_per_s": rows / wall,
        "appends": len(lat),
        "appends_per_s": len(lat) / wall,
        "rows_per_append": rows / max(1, len(lat)),
        "conflicts": sum(r["conflicts"] for r in results),
        "lat_p50_ms": percentile(lat, 0.50),
        "lat_p99_ms": percentile(lat, 0.99),
        "lat_max_ms": lat[-1],
        "server_cpu_s": cpu1 - cpu0,
        "server_cpu_percent": 100.0 * (cpu1 - cpu0) / (wall * cores),
        "clients_cpu_percent": 100.0 * sum(r["cpu_s"] for r in results) / (wall * cores),
        "cores": cores,
        "bytes_lost": lost,
        "bytes_extra": extra,
    }


def bench_server_ingest(sz: Sizes, tmp: Path, details: dict[str, Any]) -> list[Row]:
    from runstore.store.store import Store

    n = sz.ingest_clients
    work = tmp / "server-ingest"
    work.mkdir(parents=True, exist_ok=True)
    env = base_env(work, "runstore")
    store_dir = work / "store"
    token = server_token(store_dir, env, work)
    root = Store.at(store_dir).root  # where the server keeps the files: the clients' copies are compared
    client_env = {**env, "RUNSTORE_API_KEY": token}
    server = Server(store_dir, env, work, work / "server.log")
    try:
        server.wait_ready()
        step(f"server ingest: {n} clients x 1,000 steps/s for {sz.ingest_s:g} s")
        paced = ingest_pass(server, root, client_env, work, "paced", n, 1000.0, sz.ingest_s)
        step(f"server ingest: {n} clients appending back-to-back for {sz.ingest_saturate_s:g} s")
        sat = ingest_pass(server, root, client_env, work, "saturate", n, 0.0, sz.ingest_saturate_s)
    finally:
        server.stop()
    details["server_ingest"] = {"paced": paced, "saturating": sat, "workers": SERVER_WORKERS}
    cores = paced["cores"]
    paced_name = f"server ingest: {n} clients x 1,000 steps/s, {sz.ingest_s:g} s"
    sat_name = f"server ingest, saturating: {n} clients back-to-back, {sz.ingest_saturate_s:g} s"
    rows = [
        Row(f"{paced_name}: rows acknowledged", "rows/s", paced["rows_per_s"], None, fmt="{:,.0f}"),
        Row(f"{paced_name}: append latency p50", "ms", paced["lat_p50_ms"], None, fmt="{:.1f}"),
        Row(f"{paced_name}: append latency p99", "ms", paced["lat_p99_ms"], None, fmt="{:.1f}"),
        Row(
            f"{paced_name}: server CPU",
            f"% of {cores} cores",
            paced["server_cpu_percent"],
            None,
            fmt="{:.0f}",
        ),
        Row(
            f"{sat_name}: rows acknowledged",
            "rows/s",
            sat["rows_per_s"],
            None,
            min_value=50_000,
            fmt="{:,.0f}",
        ),
        Row(f"{sat_name}: append latency p99", "ms", sat["lat_p99_ms"], None, fmt="{:.1f}"),
        Row(f"{sat_name}: server CPU", f"% of {cores} cores", sat["server_cpu_percent"], None, fmt="{:.0f}"),
        Row(
            "server ingest: bytes lost or wrong (client files vs server files)",
            "B",
            float(paced["bytes_lost"] + paced["bytes_extra"] + sat["bytes_lost"] + sat["bytes_extra"]),
            None,
            max_value=0.0,
            fmt="{:,.0f}",
        ),
    ]

    def describe(what: str, r: dict[str, Any]) -> str:
        return (
            f"{what}: {r['rows']:,} rows ({r['bytes'] / 1e6:.1f} MB) in {r['wall_s']:.1f} s; "
            f"{r['appends']:,} appends ({r['appends_per_s']:.0f}/s, {r['rows_per_append']:.0f} rows each), "
            f"latency p50 {r['lat_p50_ms']:.1f} ms, p99 {r['lat_p99_ms']:.1f} ms, max {r['lat_max_ms']:.0f} ms; "
            f"{r['conflicts']} conflicts; server CPU {r['server_cpu_s']:.1f} s "
            f"({r['server_cpu_percent']:.0f} % of {r['cores']} cores), the {r['clients']} clients "
            f"{r['clients_cpu_percent']:.0f} %; bytes missing {r['bytes_lost']}, wrong {r['bytes_extra']}"
        )

    rows[0].notes.append(
        f"server ingest: `runstore server --workers {SERVER_WORKERS}` (token auth, access log to a file) on "
        f"127.0.0.1; each client a process streaming one run through HttpRemote.append, every "
        f"{INGEST_INTERVAL_S * 1000:.0f} ms what accumulated (offered load {n * 1000:,} rows/s); the "
        "saturating clients append batches of 100 rows back-to-back; server CPU = user+sys of the server's "
        "processes over the window; wandb: n/a (its ingest is its licensed server)"
    )
    rows[0].notes.append(describe("server ingest paced", paced))
    rows[4].notes.append(describe("server ingest saturating", sat))
    return rows


# The read child: raw HTTP requests (httpx, one keep-alive connection) and the same reads through
# runstore.Api(base_url=...), which adds its own request for the run and the decoding into its objects.
_READ_CHILD = r"""
import itertools, json, sys, time
import httpx
import runstore

url, token, mark = sys.argv[1:4]
cfg = json.loads(sys.argv[4])
repeats = cfg["repeats"]


def timed(fn):
    # the first call: the cold figure (raw HTTP) or the untimed warm-up of this connection's worker (Api)
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    warm = []
    for _ in range(repeats):
        t = time.perf_counter()
        got = fn()
        warm.append(time.perf_counter() - t)
    return first, warm, got


out = {}
with httpx.Client(base_url=url, headers={"Authorization": "Bearer " + token}, timeout=600) as http:
    if cfg["mode"] == "history":
        path = "/api/v1/projects/%s/runs/%s/history/downsample" % (cfg["project"], cfg["run_id"])
        params = {"keys": cfg["keys"], "buckets": cfg["buckets"]}
    else:
        path = "/api/v1/projects/%s/runs" % cfg["project"]
        params = {"filters": json.dumps(cfg["filters"]), "order": cfg["order"], "per_page": 50}

    def get():
        r = http.get(path, params=params)
        r.raise_for_status()
        return r

    cold, warm, r = timed(get)
    doc = r.json()
    out.update(http_cold_s=cold, http_warm_s=warm, response_bytes=len(r.content))
    if cfg["mode"] == "history":
        m = doc["metrics"]
        out.update(metrics=len(m), points=len(next(iter(m.values()))["min"]))
    else:
        out.update(total=doc["total"], page=len(doc["runs"]))

api = runstore.Api(base_url=url, api_key=token)
if cfg["mode"] == "history":

    def call():
        return api.run(cfg["project"] + "/" + cfg["run_id"]).downsample(cfg["keys"], cfg["buckets"])
else:

    def call():
        runs = api.runs(cfg["project"], filters=cfg["filters"], order=cfg["order"], per_page=50)
        return len(runs), [r.id for r in itertools.islice(runs, 50)]

first, warm, got = timed(call)
out.update(api_first_s=first, api_warm_s=warm)
sys.stdout.write(mark + json.dumps(out) + "\n")
"""


def read_child(url: str, token: str, cfg: dict[str, Any], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [PY, "-c", _READ_CHILD, url, token, MARK, json.dumps(cfg)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return dict(json.loads(line[len(MARK) :]))
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    raise RuntimeError(f"server read ({cfg['mode']}) exited {proc.returncode} without a result:\n{tail}")


def serve_and_read(store: Path, cfg: dict[str, Any], drop: Path, tmp: Path, name: str) -> dict[str, Any]:
    """Serve `store` (its derived cache `drop` deleted first: the first request is cold) and run the read
    child against it."""
    work = tmp / f"server-read-{name}"
    work.mkdir(parents=True, exist_ok=True)
    env = base_env(work, "runstore")
    token = server_token(store, env, work, keep=store.parent / "server-token.json")
    shutil.rmtree(drop, ignore_errors=True)
    server = Server(store, env, work, work / "server.log")
    try:
        server.wait_ready()
        return read_child(server.url, token, cfg, env, work)
    finally:
        server.stop()


def bench_server_read(sz: Sizes, tmp: Path, details: dict[str, Any]) -> list[Row]:
    from runstore.store.store import Store

    hstore, hmeta, project, run_id = history_dataset(sz, tmp)
    rstore, rmeta, rproject = runs_dataset(sz, tmp)
    keys = list(METRIC_KEYS)
    step(f"server read: {sz.read_steps:,}-step history downsampled to 2,000 points per metric")
    hist = serve_and_read(
        hstore,
        {
            "mode": "history",
            "project": project,
            "run_id": run_id,
            "keys": keys,
            "buckets": 2000,
            "repeats": READ_REPEATS,
        },
        Store(hstore).run(project, run_id).path / "cache",
        tmp,
        "history",
    )
    step(f"server read: filtered runs list of {sz.ls_runs:,} runs")
    runs = serve_and_read(
        rstore,
        {
            "mode": "runs",
            "project": rproject,
            "filters": RUNS_FILTER,
            "order": RUNS_ORDER,
            "repeats": READ_REPEATS,
        },
        rstore / "cache",
        tmp,
        "runs",
    )
    details["server_read"] = {"history": hist, "runs": runs, "history_dataset": hmeta, "runs_dataset": rmeta}
    ms = 1000.0
    hname = f"server: {sz.read_steps:,}-step history downsampled, 10 x 2,000 points"
    rname = f"server: runs list of {sz.ls_runs:,} runs, filtered + ordered, first page"
    rows = [
        Row(
            f"{hname}, warm (httpx)",
            "ms",
            ms * statistics.median(hist["http_warm_s"]),
            None,
            max_value=200.0,
            fmt="{:.0f}",
        ),
        Row(f"{hname}, cold (httpx)", "ms", ms * hist["http_cold_s"], None, fmt="{:.0f}"),
        Row(
            f"{hname}, Api(base_url=).run().downsample()",
            "ms",
            ms * statistics.median(hist["api_warm_s"]),
            None,
            fmt="{:.0f}",
        ),
        Row(
            f"{rname}, warm (httpx)",
            "ms",
            ms * statistics.median(runs["http_warm_s"]),
            None,
            max_value=300.0,
            fmt="{:.0f}",
        ),
        Row(f"{rname}, cold (httpx)", "ms", ms * runs["http_cold_s"], None, fmt="{:.0f}"),
        Row(
            f"{rname}, Api(base_url=).runs()",
            "ms",
            ms * statistics.median(runs["api_warm_s"]),
            None,
            fmt="{:.0f}",
        ),
    ]

    def spread(xs: list[float]) -> str:
        return ", ".join(f"{x * ms:.0f}" for x in xs)

    rows[0].notes.append(
        f"server read: `runstore server --workers {SERVER_WORKERS}` over the cached stores of the read and ls "
        f"workloads; cold = the first request after the server started with the derived caches deleted "
        f"(<run>/cache/, <store>/cache/); warm = median of {READ_REPEATS} requests after it on the same "
        "keep-alive connection, so the same worker, whose in-memory column memo (and the on-disk column "
        "cache the cold request wrote) is built; the Api rows: median of "
        f"{READ_REPEATS} after one untimed call (warming its own connection's worker), in a process "
        "with runstore imported; wandb: n/a (its read API needs its server)"
    )
    rows[0].notes.append(
        f"server history: {hist['metrics']} metrics x {hist['points']:,} points (x, x_end, first, min, max, "
        f"last, count each), {hist['response_bytes'] / 1e6:.1f} MB of JSON; httpx warm ms {spread(hist['http_warm_s'])}; "
        f"Api first call {hist['api_first_s'] * ms:.0f} ms, then {spread(hist['api_warm_s'])}"
    )
    rows[3].notes.append(
        f"server runs: filters {json.dumps(RUNS_FILTER)}, order {RUNS_ORDER}, 50 per page: {runs['total']:,} "
        f"of {sz.ls_runs:,} runs match, {runs['response_bytes'] / 1e3:.0f} kB; httpx warm ms "
        f"{spread(runs['http_warm_s'])}; Api first call {runs['api_first_s'] * ms:.0f} ms, then "
        f"{spread(runs['api_warm_s'])}"
    )
    return rows


# -- reporting ------------------------------------------------------------------------------------------
def render(rows: list[Row]) -> Table:
    table = Table(title="runstore vs wandb (offline)")
    for col, justify in (
        ("workload", "left"),
        ("runstore", "right"),
        ("wandb", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("pass/fail", "center"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        ratio = "n/a" if r.ratio is None else f"{r.ratio:.1f}x"
        v = r.verdict()
        style = {"pass": "green", "FAIL": "bold red"}.get(v, "")
        table.add_row(
            r.name,
            r.cell(r.runstore),
            r.other_cell(),
            ratio,
            r.target_text(),
            f"[{style}]{v}[/{style}]" if style else v,
        )
    return table


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- machine: {meta['machine']}",
        f"- Python: {meta['python']}",
        f"- runstore: {meta['runstore']}; wandb: {meta['wandb'] or 'not installed'} (offline mode, `WANDB_SILENT=true`)",
        f"- command: `{meta['command']}` (full sizes; total {meta['total_s']:.0f} s)",
        "",
        "| workload | runstore | wandb | ratio (wandb/runstore) | target | pass/fail |",
        "| --- | ---: | ---: | ---: | --- | :---: |",
    ]
    for r in rows:
        ratio = "n/a" if r.ratio is None else f"{r.ratio:.1f}x"
        lines.append(
            f"| {r.name} | {r.cell(r.runstore)} | {r.other_cell()} | {ratio} | {r.target_text()} | "
            f"{r.verdict()} |"
        )
    lines += ["", "## Targets", ""]
    for r in rows:
        for text, ok in r.checks():
            # a ratio target names the other side ("faster than dvc", "W&B's engine (wandb/runstore ...)")
            against = "wandb" in text or text.endswith(f"faster than {r.vs}")
            if r.identical_target is not None and text.endswith(r.identical_target):
                fig = "identical" if r.identical else "not compared" if r.identical is None else "different"
            elif against:
                fig = "n/a" if r.ratio is None else f"{r.ratio:.1f}x"
            else:
                fig = r.cell(r.runstore)
            state = "met" if ok else "not met" if ok is False else "not measured"
            lines.append(f"- {text}: **{state}** ({fig})")
    lines += [
        "",
        "## Notes",
        "",
        "- Measured against the working tree at the date above; bench/README.md says what each row measures.",
        "- wandb's log() cost is noisy on 2 cores (its wandb-core and system monitor share them with the "
        "training loop): see its per-round figures below; the ratio moves between runs accordingly.",
        "- Cold rows have no target; they are the cost when the derived caches are missing.",
        "- A figure tagged (dvc) in the wandb column is DVC's, where wandb needs its server; that row's ratio "
        "is dvc/runstore.",
        "- Child processes run with bytecode caches (PYTHONDONTWRITEBYTECODE removed from their environment; "
        "one untimed start-up run writes them), as in an installed package. Without them every process "
        "compiles both libraries from source and the start-up rows grow by tens of milliseconds.",
        "",
        "## Details",
        "",
    ]
    for r in rows:
        lines += [f"- {n}" for n in r.notes]
        if r.error:
            lines.append(f"- {r.name}: ERROR {r.error}")
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (< 1 minute), for smoke-testing")
    ap.add_argument(
        "--write-results", action="store_true", help=f"rewrite {RESULTS_MD.relative_to(BENCH.parent)}"
    )
    ap.add_argument("--no-wandb", action="store_true", help="skip wandb even if it is installed")
    ap.add_argument(
        "--only", action="append", default=[], help="run only this workload (repeatable), e.g. sync"
    )
    a = ap.parse_args()
    sz = QUICK if a.quick else FULL
    t0 = time.perf_counter()
    wb_version = None if a.no_wandb else wandb_version()
    if wb_version is None and not a.no_wandb:
        err.print(
            "[yellow]wandb is not importable: its column will read n/a "
            "(pip install -e .[bench] installs the pinned version)[/yellow]"
        )
    import runstore

    OUT.mkdir(exist_ok=True)
    details: dict[str, Any] = {}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="runstore-bench-") as td:
        tmp = Path(td)
        have_wb = wb_version is not None
        for name, fn in (
            ("log", lambda: [bench_log(sz, tmp, have_wb, details)]),
            ("log forms", lambda: bench_log_forms(sz, tmp, have_wb, details)),
            ("startup", lambda: [bench_startup(sz, tmp, have_wb, details)]),
            ("bytes", lambda: [bench_bytes(sz, tmp, have_wb, details)]),
            ("image", lambda: [bench_image(sz, tmp, have_wb, details)]),
            ("read", lambda: bench_read(sz, tmp, details)),
            ("ls", lambda: bench_ls(sz, tmp, details)),
            ("daemon", lambda: [bench_daemon(sz, tmp, details)]),
            ("daemon client", lambda: bench_daemon_client(sz, tmp, details)),
            ("crash", lambda: [bench_crash(sz, tmp, details)]),
            ("gpu", lambda: [bench_gpu(sz, tmp, details)]),
            ("sweeps", lambda: bench_sweeps(sz, tmp, details)),
            ("bayes", lambda: bench_bayes(sz is QUICK, details, Row, step)),
            ("sync", lambda: bench_sync(sz, tmp, details)),
            ("artifacts", lambda: bench_artifacts(sz, tmp, have_wb, details)),
            ("server_ingest", lambda: bench_server_ingest(sz, tmp, details)),
            ("server_read", lambda: bench_server_read(sz, tmp, details)),
            ("ui", lambda: bench_ui(sz is QUICK, tmp, details, Row, step, cached_dataset, base_env)),
        ):
            if a.only and name not in a.only:
                continue
            try:
                rows.extend(fn())
            except Exception as e:  # one broken workload should not hide the others' figures
                err.print(f"[red]{name}: {e}[/red]")
                rows.append(Row(name, "", None, None, error=str(e).splitlines()[0]))
    total = time.perf_counter() - t0
    meta = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "runstore": runstore.__version__,
        "wandb": wb_version,
        "command": "python bench/run.py" + (" --quick" if a.quick else ""),
        "total_s": total,
        "mode": "quick" if a.quick else "full",
    }
    console.print(render(rows))
    for r in rows:
        for n in r.notes:
            console.print(f"  [dim]{n}[/dim]", highlight=False)
        if r.error:
            console.print(f"  [red]{r.name}: {r.error}[/red]")
    console.print(
        f"[dim]{meta['machine']}; {meta['python']}; wandb {wb_version or 'n/a'}; {total:.0f} s[/dim]"
    )
    (OUT / f"results-{meta['mode']}.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "rows": [{**r.__dict__, "ratio": r.ratio, "verdict": r.verdict()} for r in rows],
                "details": details,
            },
            indent=1,
            default=str,
        )
    )
    if a.write_results:
        if a.quick or a.only:
            err.print(
                "[yellow]--write-results ignored with --quick: RESULTS.md holds full-size figures[/yellow]"
            )
        else:
            RESULTS_MD.write_text(markdown(rows, meta))
            err.print(f"wrote {RESULTS_MD}")
    return 1 if any(r.error for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
