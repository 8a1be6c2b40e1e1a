"""`runstore.init()`: validate the arguments, resolve the settings, apply the reinit policy, plan what
to do with the store (create, resume or rewind a run), do it. Each step is one function below.

The process-wide state (active runs, module globals, exit hooks) lives in registry.py.
"""

from __future__ import annotations

import copy
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .. import shim
from ..base import env as _env
from ..base import names, term
from ..base.urls import strip_credentials
from ..base.version import __version__
from ..capture import console
from ..capture.recorder import Recorder
from ..daemon import client
from ..errors import StoreError, UsageError
from ..store import format as fmt
from ..store import jsonl, live, writer
from ..store.history import iter_rows
from ..store.layout import RunRef, check_name
from ..store.liveness import hostname, start_token
from ..store.runs import fold_summary, last_step, load_run, rewind
from ..store.store import Store, find_root
from ..store.summary import SummaryState
from . import registry
from .config import Config, as_mapping, load_yaml
from .disabled import DisabledRun
from .run import Run
from .settings import REINIT, Settings, from_user, norm_mode, norm_resume, resolve


# -- step 1: validate ----------------------------------------------------------------------------
def _check_str(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"init({name}=...) must be a str, got {type(value).__name__}")


def _validate(
    strs: Mapping[str, Any], tags: Any, reinit: Any, resume: Any, resume_from: Any, fork_from: Any
) -> None:
    """Misuse of init() is a TypeError/ValueError naming the fix, before anything is touched."""
    for k, v in strs.items():
        _check_str(k, v)
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise TypeError("init(tags=...) must be a list of str, e.g. tags=['baseline']")
    if sum(x is not None and x is not False for x in (resume, resume_from, fork_from)) > 1:
        raise ValueError("init(): resume, resume_from and fork_from are mutually exclusive; pass only one")
    if reinit is not None and not isinstance(reinit, bool) and reinit not in REINIT:
        raise ValueError(f"init(reinit={reinit!r}): use one of {', '.join(sorted(REINIT))}, True or False")


# -- step 2: settings ------------------------------------------------------------------------------
def _store_of(dir: Any, user: Mapping[str, Any]) -> Store:
    """init(dir=D) > init(settings={"dir": D}) > RUNSTORE_DIR / WANDB_DIR > the nearest .wandb/."""
    chosen = dir if dir is not None else user.get("root_dir")
    if chosen is None:
        return Store(find_root())
    if not isinstance(chosen, (str, os.PathLike)):
        raise TypeError(f"init(dir=...) must be a path, got {type(chosen).__name__}")
    return Store.in_dir(chosen)


def _settings(explicit: dict[str, Any], settings: Any, dir: Any) -> tuple[Store, Settings]:
    user = from_user(settings)
    store = _store_of(dir, user)
    try:
        file_settings = store.read_settings()
    except StoreError as e:
        term.warn(f"{e}; using defaults", once_key="settings-broken")
        file_settings = {}
    s = resolve(explicit, user, file_settings, os.environ, store.read_wandb_ini())
    s.resume = s.resume or None
    s.root_dir = str(store.root.parent)
    return store, s


def _sweep_trial() -> bool:
    """This process runs a sweep trial (an agent set its sweep id and parameter file)."""
    return bool(_env.get("sweep_id") and _env.get("sweep_param_path"))


# -- step 3: a second init() in this process -----------------------------------------------------------
def _reinit_policy(s: Settings) -> str:
    policy = s.reinit
    if policy is None or policy == "default":
        return "finish_previous" if "ipykernel" in sys.modules else "return_previous"
    if policy is True:
        return "finish_previous"
    if policy is False:
        return "return_previous"
    return str(policy)


# -- step 4: plan ---------------------------------------------------------------------------------
@dataclass
class Plan:
    action: Literal["create", "resume", "rewind"]
    ref: RunRef
    resume_mode: str | None
    rewind_step: int = 0


def _parse_step_spec(param: str, value: Any) -> tuple[str, int]:
    if not isinstance(value, str) or "?_step=" not in value:
        raise ValueError(f"init({param}=...) takes '<run_id>?_step=<N>', got {value!r}")
    rid, _, n = value.partition("?_step=")
    try:
        step = int(n)
    except ValueError:
        raise ValueError(f"init({param}=...): _step must be an int in {value!r}") from None
    if step < 0:
        raise ValueError(f"init({param}=...): _step must be >= 0 in {value!r}")
    return check_name("run id", rid), step


def infer_project(start: Path | None = None) -> str:
    """wandb's rule: the git repo's directory name (+ `-<subdir>` for scripts in a subdirectory), from
    `start` (default: the main script's directory, else the working directory)."""
    if start is None:
        main = sys.modules.get("__main__")
        script = getattr(main, "__file__", None)
        start = Path(script).resolve().parent if script else Path.cwd()
    for d in (start, *start.parents):
        if (d / ".git").exists():
            rel = start.relative_to(d)
            name = d.name if str(rel) == "." else f"{d.name}-{str(rel).replace(os.sep, '_')}"
            return name[:128]
    return "uncategorized"


def _plan(store: Store, s: Settings, resume_from: str | None) -> Plan:
    project = check_name("project", s.project or infer_project())
    if resume_from is not None:
        rid, n = _parse_step_spec("resume_from", resume_from)
        ref = store.find_run_by_id(rid, project) or store.find_run_by_id(rid)
        if ref is None:
            raise UsageError(f"resume_from: run {rid!r} not found in the store")
        return Plan("rewind", ref, "allow", n)
    mode = s.resume
    run_id = s.run_id
    if mode == "auto":
        prev = store.resume_id()
        if prev and run_id and prev != run_id:
            term.warn(
                f"resume='auto' found run {prev} to resume but id={run_id!r} was given; using the given id"
            )
        elif prev:
            run_id = prev
    ref = store.run(project, check_name("run id", run_id) if run_id else names.new_id())
    exists = ref.exists()
    if run_id and not exists and mode == "allow":
        wrapped = _wrapper_run(store, run_id, project)
        if wrapped is not None:
            ref, exists = wrapped, True
    where = f"run {ref.id!r} {'already exists' if exists else 'does not exist'} in project {project!r}"
    if exists and mode is None:
        raise UsageError(f"{where}: pass resume='allow' to continue it, or choose another id")
    if exists and mode == "never":
        raise UsageError(f"{where} and resume='never'; choose another id or pass resume='allow'")
    if not exists and mode == "must":
        raise UsageError(f"resume='must' but {where}; check the id, or pass resume='allow' to create it")
    return Plan("resume" if exists else "create", ref, mode)


def _wrapper_run(store: Store, run_id: str, project: str) -> RunRef | None:
    """The run `runstore run` started for this process, when the program asks for another project.

    The wrapper passes its run as WANDB_RUN_ID + WANDB_PROJECT with resume "allow"; a script (or a
    library such as Lightning's WandbLogger) that names a project of its own would otherwise start a
    second run with the same id elsewhere: console and system metrics in one project, metrics in the
    other. A live run with this id in the environment's project is that wrapper's run: the program
    joins it, where it is.
    """
    env_project = _env.get("project")
    if not env_project or env_project == project:
        return None
    try:
        ref = store.run(env_project, run_id)
        if not ref.exists() or load_run(ref).state != "running":
            return None
    except (ValueError, OSError):
        return None
    term.warn(
        f"project {project!r} ignored: this process runs inside `runstore run`, whose run {run_id} is in "
        f"project {env_project!r}; give the project to the wrapper instead (runstore run -p {project} -- …)",
        once_key=f"wrapped-project:{run_id}",
    )
    return ref


# -- step 5: execute --------------------------------------------------------------------------------
def _config_sources(s: Settings, config: Any, include: Any, exclude: Any) -> dict[str, Any]:
    """config-defaults.yaml, then config_paths, then init(config=...) (docs/COMPAT.md §3.5)."""
    merged: dict[str, Any] = {}
    if os.path.isfile("config-defaults.yaml"):
        try:
            merged.update(load_yaml("config-defaults.yaml"))
        except ValueError as e:
            term.warn(f"{e}; ignoring config-defaults.yaml")
    for p in s.config_paths:
        merged.update(load_yaml(p))
    merged.update(as_mapping(config, include, exclude))
    return merged


def _program() -> tuple[str, list[str]]:
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    return (os.path.abspath(script) if script else "<python with no main file>"), list(sys.argv[1:])


def base_info(s: Settings, ref: RunRef, now: float) -> dict[str, Any]:
    """The identity a run's `init` record holds (docs/FORMAT.md, run.jsonl)."""
    program, args = _program()
    if s.program:
        program, args = s.program, list(s.program_args or ())
    pid = os.getpid()
    return {
        "id": ref.id,
        "project": ref.project,
        "entity": s.entity or "",
        "name": s.run_name,
        "notes": s.run_notes,
        "tags": list(s.run_tags or ()),
        "group": s.run_group,
        "job_type": s.run_job_type,
        "mode": s.mode,
        "created": now,
        "host": hostname(),
        "pid": pid,
        "pid_start": start_token(pid),
        "program": program,
        "args": args,
        "cwd": os.getcwd(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "sweep_id": s.sweep_id,
        "runstore": __version__,
        "format": fmt.VERSION,
        # kept here, not applied here: the files stay in the run, and every sync leaves them out
        "ignore_globs": list(s.ignore_globs or ()),
    }


def _create(store: Store, s: Settings, ref: RunRef, config: dict[str, Any], fork_from: str | None) -> Run:
    now = time.time()
    info = base_info(s, ref, now)
    if not info["name"]:
        # the run's own directory exists already (its writer lock is in it): it counts itself
        info["name"] = names.new_name(store.count_runs(ref.project) + (0 if ref.path.is_dir() else 1))
    staged = Config()
    staged.update(config, allow_val_change=True)
    items = staged.as_dict()
    step = 0
    fork_rows: list[bytes] = []
    if fork_from is not None:
        parent, n = _parse_step_spec("fork_from", fork_from)
        pref = store.find_run_by_id(parent, ref.project) or store.find_run_by_id(parent)
        if pref is None:
            raise UsageError(f"fork_from: run {parent!r} not found in the store")
        pst = load_run(pref)
        branch = {"run_id": parent, "step": n}
        items = {**pst.config, **items, "_wandb": {**pst.config.get("_wandb", {}), "branch_point": branch}}
        fork_rows = [jsonl.encode(row) for row in iter_rows(pst.history_path) if row["_step"] <= n]
        step = n + 1
    run = Run(
        store=store,
        ref=ref,
        settings=s,
        info=info,
        resumed=False,
        step=step,
        runtime_offset=0.0,
        config=items,
        summary=SummaryState(),
        allow_val_change=bool(s.allow_val_change),
        history=ref.history_file(),
        segment_start=now,
    )  # readers derive _runtime from `created`
    run._open({"t": "init", **info}, create=True)
    for line in fork_rows:
        run._append_history_line(line)
    if items:
        run._config_event(items)
    _apply_sweep_values(run, s)
    _start_recorder(run, s, info)
    return run


def _resume(store: Store, s: Settings, ref: RunRef, config: dict[str, Any]) -> Run:
    st = load_run(ref)
    sstate = fold_summary(st)
    sstate.values = copy.deepcopy(sstate.values)
    last = last_step(st.history_path)
    step = 0 if last is None else last + 1
    info = dict(st.info)
    run = Run(
        store=store,
        ref=ref,
        settings=s,
        info=info,
        resumed=True,
        step=step,
        runtime_offset=st.runtime,
        config=dict(st.config),
        summary=sstate,
        allow_val_change=bool(s.allow_val_change),
        history=st.history_path,
    )
    pid = os.getpid()
    run._open(
        {
            "t": "resume",
            "time": run._segment_start,
            "step": step,
            "runtime": st.runtime,
            "host": hostname(),
            "pid": pid,
            "pid_start": start_token(pid),
            "mode": s.mode,
        }
    )
    for key, val in (
        ("name", s.run_name),
        ("notes", s.run_notes),
        ("group", s.run_group),
        ("job_type", s.run_job_type),
    ):
        if val is not None and val != info.get(key):
            run._edit(key, val)
    if s.run_tags is not None and list(s.run_tags) != info.get("tags"):
        run._edit("tags", list(s.run_tags))  # passing tags on resume replaces them, as in wandb
    if config:
        run.config.update(config, allow_val_change=True)
    _apply_sweep_values(run, s)
    return run


def _apply_sweep_values(run: Run, s: Settings) -> None:
    """The trial's parameters, deep-merged over the user's config and locked: later changes to these
    keys are ignored with wandb's warning (docs/COMPAT.md §3.3)."""
    if not (s.sweep_id and s.sweep_param_path):
        return
    try:
        values = load_yaml(s.sweep_param_path)
    except ValueError as e:
        term.warn(f"sweep parameters could not be read ({e}); the run uses its own config")
        return
    run.config.update_locked(values, user="sweep")


def _start_recorder(run: Run, s: Settings, info: dict[str, Any]) -> None:
    """Git state, diff.patch, requirements and machine facts of a new run, on a background thread.

    diff.patch is kept by default (restore needs it), unlike wandb; `save_code=False` or
    `WANDB_DISABLE_CODE` turn it off, `save_code=True` also copies the main script into files/code/.
    """
    run._recorder = Recorder(
        run._ref,
        run._store,
        run._event,
        program=info["program"],
        cwd=info["cwd"],
        capture_git=not s.disable_git,
        capture_diff=not s.disable_code and s.save_code is not False,
        save_code=bool(s.save_code) and not s.disable_code,
    )
    run._recorder.start()


def _execute(plan: Plan, store: Store, s: Settings, config: dict[str, Any], fork_from: str | None) -> Run:
    wlock: int | None = None
    try:
        store.ensure()
        try:
            # Before anything is written: of two processes creating or resuming one id, one proceeds.
            wlock = writer.acquire(plan.ref)
        except writer.Busy as b:
            who = f"pid {b.pid} on {b.host}" if b.pid is not None else "another process"
            raise UsageError(
                f"run {plan.ref.id!r} in project {plan.ref.project!r} is being written by {who}; one "
                "process writes a run at a time: wait for it to finish, or choose another id"
            ) from None
        if plan.action == "rewind":
            # The rows after N stay in the old generation; the run goes on in a new one.
            rewind(plan.ref, plan.rewind_step)
        if plan.action == "create":
            try:
                run = _create(store, s, plan.ref, config, fork_from)
            except FileExistsError:
                # Created (and already finished) by another process since _plan looked.
                if plan.resume_mode not in ("allow", "auto", "must"):
                    raise UsageError(
                        f"run {plan.ref.id!r} already exists in project {plan.ref.project!r}: pass "
                        "resume='allow' to continue it, or choose another id"
                    ) from None
                run = _resume(store, s, plan.ref, config)
        else:
            run = _resume(store, s, plan.ref, config)
    except OSError as e:
        writer.release(wlock)
        raise StoreError(
            f"cannot write run {plan.ref.id} under {store.root}: {e.strerror or e}; "
            "pass init(dir=...) or set RUNSTORE_DIR to a writable directory"
        ) from None
    except BaseException:
        writer.release(wlock)
        raise
    run._wlock = wlock
    _started(store, s, run, plan.resume_mode)
    return run


def _started(store: Store, s: Settings, run: Run, resume_mode: str | None) -> None:
    ref = run._ref
    pid = os.getpid()
    # offline: no remote, so nothing of the run leaves the machine; the marker is in the store, so the
    # URL is written without credentials (the daemon takes the full one from the settings it reads)
    imported = shim.in_use()
    if imported is not None:
        # which `wandb` the program imported (runstore's shim never hides a real wandb silently); on a
        # resume too: under `runstore run` the child that imports wandb joins the wrapper's run
        run._event({"t": "meta", "set": {"wandb": {"imported": imported, "installed": shim.real_wandb()}}})
    remote = strip_credentials(s.remote) if s.mode == "online" and s.remote else None
    if remote and "://" not in remote:
        remote = os.path.abspath(os.path.expanduser(remote))  # a directory; the daemon runs in /
    live.register(store, ref.project, ref.id, ref.path, pid, start_token(pid), hostname(), remote)
    interval = s.x_stats_sampling_interval
    if interval is not None and not (isinstance(interval, (int, float)) and interval > 0):
        term.warn(
            f"x_stats_sampling_interval must be a positive number of seconds, got {interval!r}; using 2"
        )
        interval = None
    # Before the tee: a daemon must not inherit the captured fds. The store's one daemon keeps the
    # interval of the run that started it.
    client.ensure_running(store, interval=interval)
    if str(s.console).lower() != "off":
        run._console = console.start(ref.output_log)
    store.set_latest(ref)
    if resume_mode == "auto":
        store.set_resume_id(ref.id)
    registry.started(run, make_current=not registry.current_is_live())
    verb = "resumed" if run.resumed else "tracking"
    term.info(f"{verb} run {run.name} ({ref.id}) in {ref.path}")


# -- init --------------------------------------------------------------------------------------------
def init(
    entity: str | None = None,
    project: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    id: str | None = None,
    name: str | None = None,
    notes: str | None = None,
    tags: Sequence[str] | None = None,
    config: Any = None,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    allow_val_change: bool | None = None,
    group: str | None = None,
    job_type: str | None = None,
    mode: str | None = None,
    force: bool | None = None,
    reinit: bool | str | None = None,
    resume: bool | str | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
    save_code: bool | None = None,
    tensorboard: bool | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    settings: Any = None,
    anonymous: str | None = None,
    **kwargs: Any,
) -> Run | DisabledRun:
    """Start (or resume) a run and return it. Every wandb.init() parameter is accepted."""
    _validate(
        {
            "entity": entity,
            "project": project,
            "id": id,
            "name": name,
            "notes": notes,
            "group": group,
            "job_type": job_type,
        },
        tags,
        reinit,
        resume,
        resume_from,
        fork_from,
    )
    if sync_tensorboard or tensorboard:
        # wandb patches TensorBoard's writers here; what they write then lands in the run's history
        # (docs/COMPAT.md §18). Imported here, not at the top: `import runstore` does not pay for it.
        from ..capture import tensorboard as tb_capture
        from ..media import Histogram, Image

        tb_capture.enable_from_init(registry.publish, tb_capture.MediaTypes(Histogram, Image))
    if monitor_gym:
        term.warn(
            "monitor_gym is not supported by runstore; log values with run.log()",
            once_key="monitor_gym",
        )
    if _sweep_trial():
        # Under a sweep agent the run's identity comes from the agent (docs/COMPAT.md §1.3, §11.6).
        for label, value in (("project", project), ("entity", entity), ("id", id)):
            if value is not None:
                term.warn(f"Ignoring {label} '{value}' when running a sweep.")
        project = entity = id = None
    explicit: dict[str, Any] = {
        "mode": norm_mode(mode, "init(mode=...)") if mode is not None else None,
        "project": project,
        "entity": entity,
        "run_id": id,
        "run_name": name,
        "run_notes": notes,
        "run_tags": tuple(tags) if tags is not None else None,
        "run_group": group,
        "run_job_type": job_type,
        "resume": (norm_resume(resume, "init(resume=...)") or "") if resume is not None else None,
        "reinit": reinit,
        "save_code": save_code,
        "allow_val_change": allow_val_change,
    }
    store, s = _settings(explicit, settings, dir)
    t = term.current()
    t.forced_silent, t.forced_quiet = bool(s.silent), bool(s.quiet)
    if kwargs:
        term.warn(
            f"init() ignores unknown or legacy arguments: {', '.join(sorted(kwargs))}",
            once_key=f"init-kwargs:{sorted(kwargs)}",
        )
    if s.mode == "disabled":
        disabled = DisabledRun(s, _config_sources(s, config, config_include_keys, config_exclude_keys))
        registry.set_current(disabled)
        return disabled

    current = registry.current()
    if current is not None and not current._finished:
        policy = _reinit_policy(s)
        if policy == "return_previous":
            term.info(
                f"init() returned the active run {current.id}; pass reinit='finish_previous' "
                "or 'create_new' to start another"
            )
            return current  # type: ignore[return-value]
        if policy == "finish_previous":
            for r in registry.active():
                r.finish()

    try:
        store.check_format()
    except StoreError as e:
        raise StoreError(f"{e}; pass init(dir=...) or set RUNSTORE_DIR to use another store") from None
    plan = _plan(store, s, resume_from)
    values = _config_sources(s, config, config_include_keys, config_exclude_keys)
    return _execute(plan, store, s, values, fork_from if plan.action == "create" else None)


def login(
    key: str | None = None,
    relogin: bool | None = None,
    host: str | None = None,
    anonymous: str | None = None,
    timeout: int | None = None,
    verify: bool = False,
    **kwargs: Any,
) -> bool:
    """wandb.login(): runstore has no accounts, so there is nothing to log in to; always True.

    Kept so scripts that call it first run unchanged. Remotes are configured with `runstore init --remote`.
    """
    return True


def setup(settings: Any = None) -> None:
    """wandb.setup(): nothing to start (there is no service process); settings are read at init()."""
    return None


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if any (`wandb.finish`)."""
    run = registry.current()
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


__all__ = ["init", "finish", "login", "setup", "Plan"]
