"""Sweep agents: the CLI agent (`runstore agent ID`, one child process per trial) and the in-process
`runstore.agent(sweep_id, function=...)` (docs/COMPAT.md §11.5, §11.7).

Both loop on `Controller.tick`: take an assignment under the sweep's lock, run the trial, record its
result. The CLI agent polls the controller while its child runs, so an early-terminated run (hyperband,
`runstore sweep --cancel`) is stopped with SIGTERM, then SIGKILL after `WANDB_AGENT_KILL_DELAY` seconds,
and the agent writes a `stopped` exit record into the run so it does not read as crashed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..base import env as _env
from ..base import term
from ..errors import UsageError
from ..sdk import registry
from ..store import jsonl
from ..store import sweeps as S
from ..store.layout import make_dirs
from ..store.runs import load_run, mark_if_crashed, mark_stopped
from ..store.store import Store
from ..store.sweeps import SweepDir
from .controller import Controller, Tick
from .macros import build_command, run_config_yaml
from .schema import SweepConfig

FLAPPING_MAX_SECONDS = 60.0
FLAPPING_MAX_FAILURES = 3


class RunStopped(Exception):  # noqa: N818 - wandb injects a plain Exception; this is a subclass of it
    """Raised inside an in-process trial's thread when the sweep stops the run (early termination,
    `--cancel`, Ctrl-C). An Exception like wandb's, so code that catches Exception behaves the same."""


def poll_interval() -> float:
    return float(_env.get("agent_poll", warn=term.warn))


def _say(msg: str) -> None:
    term.info(msg)


def find_sweep(sweep_id: str, store: Store | None = None) -> SweepDir:
    return S.open_sweep(store or Store.discover(), sweep_id)


# -- the trial's environment ----------------------------------------------------------------------
def trial_env(sd: SweepDir, st: S.SweepState, run_id: str, param_path: str) -> dict[str, str | None]:
    """What a trial's process must see (docs/COMPAT.md §11.5): the WANDB_* variables, with any RUNSTORE_*
    twin removed (a stray RUNSTORE_PROJECT must not send the run elsewhere, nor survive in a process
    the trial starts with WANDB_* cleared); and the store, by RUNSTORE_DIR, which wins over WANDB_DIR:
    one store for every trial. None means: removed."""
    values = {
        "sweep_id": sd.id,
        "run_id": run_id,
        "sweep_param_path": param_path,
        "project": st.project,
        "dir": str(sd.store.root),
    }
    if st.entity:
        values["entity"] = st.entity
    return _env.assignments(values)


def write_param_files(
    sd: SweepDir, run_id: str, params: dict[str, Any], config: SweepConfig
) -> tuple[str, str | None]:
    """The per-run config YAML (and the JSON for `${args_json_file}` when the command uses it)."""
    yaml_path = sd.run_config_path(run_id)
    make_dirs(yaml_path.parent)  # a sweep on a server has no directory in this store until now
    jsonl.write_atomic(yaml_path, run_config_yaml(params).encode())
    json_path = None
    if any("args_json_file" in str(tok) for tok in (config.command or ())):
        json_path = str(sd.run_config_path(run_id, "json"))
        jsonl.write_atomic(json_path, json.dumps(params).encode())
    return str(yaml_path), json_path


def _announce(run_id: str, params: dict[str, Any]) -> None:
    lines = "".join(f"\n\t{k}: {v!r}" if isinstance(v, str) else f"\n\t{k}: {v}" for k, v in params.items())
    _say(f"Agent Starting Run: {run_id} with config:{lines}")


def settle(sd: SweepDir, st: S.SweepState, run_id: str, code: int, stopped: str | None) -> str:
    """The trial's result, from the run in the store when there is one, else from the exit code."""
    ref = S.trial_run(sd.store, st, run_id)
    if stopped is not None:
        if ref is not None:
            mark_stopped(ref, code, stopped)
        return "stopped"
    fallback = "finished" if code == 0 else "failed"
    if ref is None:
        return fallback  # the program never called init(): only its exit code tells
    rs = load_run(ref)
    if rs.exit is None and mark_if_crashed(ref):  # killed by a signal, os._exit(): it never finished
        return "crashed"
    s = load_run(ref).state if rs.exit is None else rs.state
    if s == "running":
        return fallback  # a process the program left behind still writes the run
    return s if s in S.RESULTS else "failed"


# -- failure accounting (docs/COMPAT.md §11.5) ------------------------------------------------------------
@dataclass
class Counts:
    started: float
    runs: int = 0
    failures: int = 0
    successes: int = 0
    consecutive: int = 0

    def add(self, ok: bool) -> None:
        self.runs += 1
        if ok:
            self.successes += 1
            self.consecutive = 0
        else:
            self.failures += 1
            self.consecutive += 1

    def give_up(self, max_consecutive: int | None) -> str | None:
        """Why the agent should stop after this run, or None."""
        if max_consecutive is not None and self.consecutive >= max_consecutive:
            return f"{self.consecutive} consecutive runs failed (--max-consecutive-failed-runs {max_consecutive})"
        flapping_off = _env.get("agent_disable_flapping", warn=term.warn)
        if (
            not flapping_off
            and time.time() - self.started < FLAPPING_MAX_SECONDS
            and self.failures >= FLAPPING_MAX_FAILURES
        ):
            return (
                f"{self.failures} runs failed within {FLAPPING_MAX_SECONDS:.0f}s of the agent starting "
                "(set WANDB_AGENT_DISABLE_FLAPPING=true to keep going)"
            )
        max_initial = _env.get("agent_max_initial_failures", warn=term.warn)
        if self.failures >= max_initial and self.failures >= self.successes:
            return (
                f"{self.failures} of {self.runs} runs failed (WANDB_AGENT_MAX_INITIAL_FAILURES={max_initial})"
            )
        return None


def _check_args(count: int | None, max_consecutive: int | None) -> None:
    if count is not None and (not isinstance(count, int) or count < 1):
        raise UsageError(f"count must be a positive integer, got {count!r}")
    if max_consecutive is not None and (not isinstance(max_consecutive, int) or max_consecutive < 1):
        raise UsageError(f"max_consecutive_failed_runs must be an integer >= 1, got {max_consecutive!r}")


def _next(ctl: Controller, agent_id: str, said: set[str]) -> Tick | None:
    """Poll until there is an assignment (the Tick) or nothing more to do (None)."""
    while True:
        tick = ctl.tick(agent_id, want_run=True)
        if tick.done:
            _say(f"Agent stopping: {tick.done}.")
            return None
        if tick.assignment is not None:
            return tick
        if tick.wait and tick.wait not in said:
            said.add(tick.wait)
            _say(f"Agent waiting: {tick.wait}.")
        time.sleep(poll_interval())


# -- the CLI agent ----------------------------------------------------------------------------------
class CliAgent:
    """Runs the sweep's `command` for one trial at a time until the sweep, `count` or failures end it."""

    def __init__(
        self,
        sd: SweepDir,
        count: int | None = None,
        max_consecutive_failed_runs: int | None = None,
        term_timeout: float | None = None,
        controller: Any = None,
        progress: Callable[[str, bool], None] | None = None,
    ) -> None:
        """`controller`: where assignments come from (default: the sweep's own, in `sd`'s store; a
        `runstore.sweeps.remote.RemoteController` for a sweep on a server). `progress(run_id, final)` is
        called while a trial runs and once when it has ended, before its result is recorded (a remote
        agent pushes the trial's run to the server there)."""
        _check_args(count, max_consecutive_failed_runs)
        self.sd = sd
        self.ctl = controller if controller is not None else Controller(sd)
        self.progress = progress
        self.count = count
        self.max_consecutive = max_consecutive_failed_runs
        self.kill_delay = (
            term_timeout if term_timeout is not None else float(_env.get("agent_kill_delay", warn=term.warn))
        )
        self.child: subprocess.Popen[bytes] | None = None
        self.interrupted = 0
        self.kill_at: float | None = None

    # Signals: the agent's own SIGTERM/SIGHUP go on to the child (a scheduler usually signals only the
    # agent); SIGINT from a terminal already reached the child, which shares our process group, so it is
    # not sent twice. The agent then takes no new run; a second signal kills the child.
    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.interrupted += 1
        child = self.child
        if child is None or child.poll() is not None:
            raise KeyboardInterrupt
        if self.interrupted > 1:
            _kill_tree(child, signal.SIGKILL)
        elif signum != signal.SIGINT or not sys.stdin or not sys.stdin.isatty():
            _kill_tree(child, signum, children=False)
        if self.kill_at is None:
            self.kill_at = time.time() + self.kill_delay
        _say("Agent interrupted: waiting for the current run to end (signal again to kill it).")

    def run(self) -> int:
        agent_id = self.ctl.register_agent("cli")
        counts = Counts(started=time.time())
        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                old[sig] = signal.signal(sig, self._on_signal)
        reason, code = "done", 0
        said: set[str] = set()
        try:
            while self.count is None or counts.runs < self.count:
                if self.interrupted:
                    reason, code = "interrupted", 130
                    break
                tick = _next(self.ctl, agent_id, said)
                if tick is None:
                    break
                ok = self._run_one(agent_id, tick)
                counts.add(ok)
                why = counts.give_up(self.max_consecutive)
                if why:
                    term.warn(f"Agent stopping: {why}.")
                    reason, code = "failures", 1
                    break
        except KeyboardInterrupt:
            reason, code = "interrupted", 130
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)
            with contextlib.suppress(Exception):
                self.ctl.agent_exit(agent_id, reason)
        _say(f"Agent {agent_id} ran {counts.runs} run(s), {counts.failures} failed.")
        return code

    def _run_one(self, agent_id: str, tick: Tick) -> bool:
        a = tick.assignment
        assert a is not None
        st, cfg = tick.state, tick.config
        yaml_path, json_path = write_param_files(self.sd, a.run_id, a.params, cfg)
        env = {k: v for k, v in os.environ.items() if k not in _env.WANDB_PRIVATE}
        for k, v in trial_env(self.sd, st, a.run_id, yaml_path).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        cmd = build_command(cfg, a.params, env=env, json_file=json_path)
        self._report(a.run_id, False)
        _announce(a.run_id, a.params)
        _say(f"About to run command: {' '.join(cmd)}")
        stopped: str | None = None
        self.kill_at = None
        try:
            self.child = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        except OSError as e:
            term.warn(f"cannot start {cmd[0] if cmd else 'the command'}: {e.strerror or e}")
            self.ctl.record_result(agent_id, a.run_id, "failed", 127)
            return False
        child = self.child
        poll = poll_interval()
        while True:
            try:
                rc = child.wait(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.time()
            if self.kill_at is not None and now >= self.kill_at:
                _kill_tree(child, signal.SIGKILL)
                self.kill_at = now + 3600
            if self.interrupted and stopped is None:
                stopped = "the agent was interrupted"
            try:
                t = self.ctl.tick(agent_id, want_run=False)
            except Exception as e:  # a broken sweep must not orphan the child: it keeps running
                term.warn(f"sweep controller failed ({e}); the current run continues", once_key=f"ctl:{e}")
                continue
            self._report(a.run_id, False)
            why = t.stop.get(a.run_id)
            if why and stopped is None:
                stopped = why
                _say(f"Stopping run {a.run_id} ({why}): SIGTERM now, SIGKILL in {self.kill_delay:g}s.")
                _kill_tree(child, signal.SIGTERM)
                self.kill_at = now + self.kill_delay
        self.child = None
        code = 128 - rc if rc < 0 else rc
        if stopped is None and self.interrupted:
            stopped = "the agent was interrupted"
        result = settle(self.sd, st, a.run_id, code, stopped)
        self._report(a.run_id, True)
        self.ctl.record_result(agent_id, a.run_id, result, code)
        if result != "finished":
            _say(f"Run {a.run_id} {result} (exit code {code}).")
        return result in ("finished", "stopped")

    def _report(self, run_id: str, final: bool) -> None:
        if self.progress is None:
            return
        try:
            self.progress(run_id, final)
        except Exception as e:  # reporting must never orphan or kill the trial
            term.warn(f"could not report run {run_id} ({e}); the run goes on", once_key=f"progress:{e}")


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM it when the agent dies (Linux), so a SIGKILLed agent leaves no
    unsupervised trial behind; its run reads crashed and the controller hands the slot to another agent."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except Exception:
            pass


def _kill_tree(child: subprocess.Popen[bytes], sig: int, children: bool = True) -> None:
    """Signal the child and (for stops) every process it started, e.g. data-loader workers."""
    procs: list[Any] = []
    if children:
        try:
            import psutil

            procs = psutil.Process(child.pid).children(recursive=True)
        except Exception:
            procs = []
    with contextlib.suppress(OSError):
        child.send_signal(sig)
    for p in procs:
        with contextlib.suppress(Exception):
            p.send_signal(sig)


def run_cli_agent(
    sweep_id: str,
    count: int | None = None,
    store: Store | None = None,
    max_consecutive_failed_runs: int | None = None,
    term_timeout: float | None = None,
) -> int:
    sd = find_sweep(sweep_id, store)
    return CliAgent(sd, count, max_consecutive_failed_runs, term_timeout).run()


# -- the in-process agent ---------------------------------------------------------------------------
@contextlib.contextmanager
def _patched_env(values: dict[str, str | None]) -> Iterator[None]:
    """The one sanctioned change to os.environ: the user's function calls init() with no arguments, and
    init() learns the trial from the environment, as in wandb. Restored afterwards, so a later init()
    outside the agent is an ordinary run. None removes a variable."""
    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _inject(thread: threading.Thread) -> None:
    """wandb's way to stop a function run: an asynchronous exception in its thread. It is raised at the
    next Python bytecode the thread executes (a long C call, e.g. time.sleep, finishes first)."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(RunStopped))


def _active_run(run_id: str) -> registry.ActiveRun | None:
    for r in registry.active():
        if getattr(r, "id", None) == run_id:
            return r
    return None


def _teardown() -> None:
    """Like wandb's teardown before each job: a run left active would be returned by the function's
    init() instead of a new trial run."""
    for r in registry.active():
        term.warn(f"finishing run {r.id}, still active when the sweep agent starts a trial")
        with contextlib.suppress(Exception):
            r.finish(quiet=True)


def function_agent(
    sd: SweepDir,
    function: Callable[[], Any],
    count: int | None = None,
    max_consecutive_failed_runs: int | None = None,
) -> None:
    _check_args(count, max_consecutive_failed_runs)
    if not callable(function):
        raise TypeError(f"agent(function=...) must be callable, got {type(function).__name__}")
    ctl = Controller(sd)
    agent_id = ctl.register_agent("function")
    counts = Counts(started=time.time())
    said: set[str] = set()
    reason = "done"
    try:
        while count is None or counts.runs < count:
            tick = _next(ctl, agent_id, said)
            if tick is None:
                break
            ok, interrupted = _run_function_trial(sd, ctl, agent_id, tick, function)
            counts.add(ok)
            if interrupted:
                reason = "interrupted"
                _say("Agent interrupted (Ctrl-C).")
                break
            why = counts.give_up(max_consecutive_failed_runs)
            if why:
                term.warn(f"Agent stopping: {why}.")
                reason = "failures"
                break
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        with contextlib.suppress(Exception):
            ctl.agent_exit(agent_id, reason)


def _run_function_trial(
    sd: SweepDir, ctl: Controller, agent_id: str, tick: Tick, function: Callable[[], Any]
) -> tuple[bool, bool]:
    a = tick.assignment
    assert a is not None
    st = tick.state
    yaml_path, _ = write_param_files(sd, a.run_id, a.params, tick.config)
    _teardown()
    outcome: dict[str, Any] = {"code": 0, "stopped": None}

    def work() -> None:
        try:
            function()
        except RunStopped:
            outcome["code"] = 1
        except SystemExit as e:
            c = e.code
            outcome["code"] = 0 if c is None else c if isinstance(c, int) else 1
        except BaseException:
            outcome["code"] = 1
            traceback.print_exc()  # printed, not propagated (docs/COMPAT.md §11.7)

    interrupted = False
    with _patched_env(trial_env(sd, st, a.run_id, yaml_path)):
        _announce(a.run_id, a.params)
        worker = threading.Thread(target=work, name=f"runstore-sweep-{a.run_id}", daemon=True)
        worker.start()
        poll = poll_interval()
        while worker.is_alive():
            try:
                worker.join(poll)
                if not worker.is_alive():
                    break
                why = ctl.tick(agent_id, want_run=False).stop.get(a.run_id)
                if why and outcome["stopped"] is None:
                    outcome["stopped"] = why
                    _say(f"Stopping run {a.run_id} ({why}).")
                    _inject(worker)
            except KeyboardInterrupt:
                interrupted = True
                outcome["stopped"] = "the agent was interrupted"
                _inject(worker)
                worker.join(10.0)
                break
        run = _active_run(a.run_id)
        if run is not None:  # finish the run for the user (exit code 1 if the function raised)
            run.finish(exit_code=outcome["code"], quiet=True)
    result = settle(sd, st, a.run_id, outcome["code"], outcome["stopped"])
    ctl.record_result(agent_id, a.run_id, result, outcome["code"])
    return result in ("finished", "stopped"), interrupted


def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
    forward_signals: bool = False,
    term_timeout: float | None = None,
    max_consecutive_failed_runs: int | None = None,
) -> None:
    """`wandb.agent`: run trials of a sweep. With `function`, each trial calls it in this process,
    sequentially, and the agent finishes the run it started; without, the sweep's `program` runs as a
    child process per trial, like `runstore agent`. `entity`/`project` are accepted for wandb
    compatibility: the sweep id alone names the sweep in the store."""
    sd = find_sweep(sweep_id)
    if function is None:
        CliAgent(sd, count, max_consecutive_failed_runs, term_timeout).run()
        return None
    function_agent(sd, function, count, max_consecutive_failed_runs)
    return None
