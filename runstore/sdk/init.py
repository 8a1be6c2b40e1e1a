"""`runstore.init()` and the process-wide run registry (globals, reinit, resume, exit hooks)."""

from __future__ import annotations

import atexit
import copy
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from .. import __version__
from ..errors import StoreError, UsageError
from ..store import jsonl
from ..store.layout import RUN_LOG, RunRef, Store, check_name, find_root
from ..store.liveness import hostname, start_token
from ..store.runs import fold_summary, last_step, load_run
from ..store.summary import SummaryState
from . import names, term
from .config import Config, as_mapping, load_yaml
from .settings import REINIT, Settings, norm_mode, norm_resume, read_wandb_ini, resolve

RESUME_FILE = "wandb-resume.json"

_active: list[Any] = []
_global: Any = None
_hooks = {"installed": False, "code": None}


# -- exit hooks -------------------------------------------------------------------------------
def _record_exit(code: Any) -> None:
    _hooks["code"] = 0 if code is None else code if isinstance(code, int) else 1


def _install_hooks() -> None:
    if _hooks["installed"]:
        return
    _hooks["installed"] = True
    real_exit = sys.exit

    def exit(code: Any = None) -> None:  # noqa: A001 - stands in for sys.exit
        _record_exit(code)
        real_exit(code)

    exit.__doc__ = real_exit.__doc__
    sys.exit = exit
    real_hook = sys.excepthook

    def excepthook(tp: type[BaseException], value: BaseException, tb: Any) -> None:
        _hooks["code"] = 255 if issubclass(tp, KeyboardInterrupt) else 1
        real_hook(tp, value, tb)

    sys.excepthook = excepthook
    atexit.register(_at_exit)


def _at_exit() -> None:
    code = _hooks["code"] if _hooks["code"] is not None else 0
    for run in list(_active):
        try:
            run.finish(exit_code=code, quiet=True)
        except Exception as e:  # nothing may stop the interpreter from exiting
            term.warn(f"could not finish run {getattr(run, 'id', '?')} at exit: {e}")


# -- globals ----------------------------------------------------------------------------------
_BOUND = ("log", "define_metric", "mark_preempting", "alert", "save")


def _set_globals(run: Any) -> None:
    global _global
    import runstore

    _global = run
    runstore.run = run
    runstore.config = run.config
    runstore.summary = run.summary
    for name in _BOUND:
        setattr(runstore, name, getattr(run, name))


def _unset_globals() -> None:
    global _global
    import runstore

    _global = None
    runstore.run = None
    runstore.config = runstore._preinit.config
    runstore.summary = runstore._preinit.summary
    for name in _BOUND:
        setattr(runstore, name, getattr(runstore._preinit, name))


def current_run() -> Any:
    return _global


def _on_finish(run: Any, code: int) -> None:
    if run in _active:
        _active.remove(run)
    if not _active:  # the next init() decides again; until then only the environment counts
        term.forced["silent"] = term.forced["quiet"] = False
    if run is _global:
        _unset_globals()
    if code == 0:
        store = getattr(run, "_store", None)
        if store is not None:
            path = store.root / RESUME_FILE
            try:
                if orjson.loads(path.read_bytes()).get("run_id") == run.id:
                    path.unlink()
            except (OSError, ValueError, AttributeError):
                pass


# -- helpers ----------------------------------------------------------------------------------
def _check_str(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"init({name}=...) must be a str, got {type(value).__name__}")


def _infer_project() -> str:
    """wandb's rule: the git repo's directory name (+ `-<subdir>` for scripts in a subdirectory)."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    start = Path(script).resolve().parent if script else Path.cwd()
    for d in (start, *start.parents):
        if (d / ".git").exists():
            rel = start.relative_to(d)
            name = d.name if str(rel) == "." else f"{d.name}-{str(rel).replace(os.sep, '_')}"
            return name[:128]
    return "uncategorized"


def _program() -> tuple[str, list[str]]:
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    return (os.path.abspath(script) if script else "<python with no main file>"), list(sys.argv[1:])


def _store_root(dir: Any) -> Path:
    if dir is None:
        return find_root()
    if not isinstance(dir, (str, os.PathLike)):
        raise TypeError(f"init(dir=...) must be a path, got {type(dir).__name__}")
    return Path(dir).expanduser().absolute() / ".wandb"


def _config_sources(s: Settings, config: Any, include: Any, exclude: Any) -> dict[str, Any]:
    """config-defaults.yaml, then config_paths, then init(config=...) (contract §3.5)."""
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


def _write_resume_file(store: Store, run_id: str) -> None:
    try:
        jsonl.write_atomic(store.root / RESUME_FILE, orjson.dumps({"run_id": run_id}))
    except OSError:
        pass


def _read_resume_file(store: Store) -> str | None:
    try:
        rid = orjson.loads((store.root / RESUME_FILE).read_bytes()).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None
    return rid if isinstance(rid, str) else None


# -- init -------------------------------------------------------------------------------------
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
) -> Any:
    """Start (or resume) a run and return it. Every wandb.init() parameter is accepted."""
    for k, v in (
        ("entity", entity),
        ("project", project),
        ("id", id),
        ("name", name),
        ("notes", notes),
        ("group", group),
        ("job_type", job_type),
    ):
        _check_str(k, v)
    if tags is not None and (isinstance(tags, str) or not all(isinstance(t, str) for t in tags)):
        raise TypeError("init(tags=...) must be a list of str, e.g. tags=['baseline']")
    if sync_tensorboard or tensorboard or monitor_gym:
        term.warn(
            "sync_tensorboard/monitor_gym are not supported by runstore; log values with run.log()",
            once_key="tensorboard",
        )
    if sum(x is not None and x is not False for x in (resume, resume_from, fork_from)) > 1:
        raise ValueError("init(): resume, resume_from and fork_from are mutually exclusive; pass only one")
    if reinit is not None and not isinstance(reinit, bool) and reinit not in REINIT:
        raise ValueError(f"init(reinit={reinit!r}): use one of {', '.join(sorted(REINIT))}, True or False")

    sweep_env = _sweep_env()
    if sweep_env is not None:
        # Under a sweep agent the run's identity comes from the agent (contract §1.3, §11.6).
        for label, value in (("project", project), ("entity", entity), ("id", id)):
            if value is not None:
                term.warn(f"Ignoring {label} '{value}' when running a sweep.")
        project = entity = id = None
    root = _store_root(dir)
    store = Store(root)
    try:
        file_settings = store.read_settings()
    except StoreError as e:
        term.warn(f"{e}; using defaults", once_key="settings-broken")
        file_settings = {}
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
    s = resolve(explicit, settings, file_settings, os.environ, read_wandb_ini(root))
    s.resume = s.resume or None
    s.root_dir = str(root.parent)
    term.forced["silent"], term.forced["quiet"] = bool(s.silent), bool(s.quiet)
    if kwargs:
        term.warn(
            f"init() ignores unknown or legacy arguments: {', '.join(sorted(kwargs))}",
            once_key=f"init-kwargs:{sorted(kwargs)}",
        )

    if s.mode == "disabled":
        from .disabled import DisabledRun

        run = DisabledRun(s, _config_sources(s, config, config_include_keys, config_exclude_keys))
        _set_globals(run)
        return run

    # A second init() in the same process (contract §1.5).
    policy = s.reinit
    if policy is None or policy == "default":
        policy = "finish_previous" if "ipykernel" in sys.modules else "return_previous"
    elif policy is True:
        policy = "finish_previous"
    elif policy is False:
        policy = "return_previous"
    if _global is not None and not getattr(_global, "_finished", True):
        if policy == "return_previous":
            term.info(
                f"init() returned the active run {_global.id}; pass reinit='finish_previous' "
                "or 'create_new' to start another"
            )
            return _global
        if policy == "finish_previous":
            for r in list(_active):
                r.finish()

    project_name = check_name("project", s.project or _infer_project())
    resume_mode = s.resume
    run_id = s.run_id
    if resume_mode == "auto":
        prev = _read_resume_file(store)
        if prev and run_id and prev != run_id:
            term.warn(
                f"resume='auto' found run {prev} to resume but id={run_id!r} was given; using the given id"
            )
        elif prev:
            run_id = prev
    run_id = check_name("run id", run_id) if run_id else names.new_id()
    if resume_from is not None:
        return _resume_from(
            store, s, project_name, run_id, resume_from, config, config_include_keys, config_exclude_keys
        )

    ref = RunRef(project_name, run_id, store.run_dir(project_name, run_id))
    exists = (ref.path / RUN_LOG).exists()
    if exists and resume_mode is None:
        raise UsageError(
            f"run {run_id!r} already exists in project {project_name!r}: pass resume='allow' "
            "to continue it, or choose another id"
        )
    if exists and resume_mode == "never":
        raise UsageError(
            f"run {run_id!r} already exists in project {project_name!r} and resume='never'; "
            "choose another id or pass resume='allow'"
        )
    if not exists and resume_mode == "must":
        raise UsageError(
            f"resume='must' but run {run_id!r} does not exist in project {project_name!r}; "
            "check the id, or pass resume='allow' to create it"
        )
    try:
        store.ensure()
        if exists:
            run = _resume(store, s, ref, config, config_include_keys, config_exclude_keys)
        else:
            run = _create(store, s, ref, config, config_include_keys, config_exclude_keys, fork_from)
    except OSError as e:
        raise StoreError(
            f"cannot write run {run_id} under {root}: {e.strerror or e}; "
            "pass init(dir=...) or set RUNSTORE_DIR to a writable directory"
        ) from None
    return _started(store, s, ref, run, resume_mode)


def _base_info(s: Settings, ref: RunRef, now: float) -> dict[str, Any]:
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
    }


def _create(
    store: Store, s: Settings, ref: RunRef, config: Any, include: Any, exclude: Any, fork_from: str | None
) -> Any:
    from .run import Run

    now = time.time()
    info = _base_info(s, ref, now)
    if not info["name"]:
        info["name"] = names.new_name(store.count_runs(ref.project) + 1)
    staged = Config()
    staged.update(_config_sources(s, config, include, exclude), allow_val_change=True)
    items = staged.as_dict()
    step = 0
    fork_rows: list[bytes] = []
    if fork_from is not None:
        parent, n = _parse_rewind("fork_from", fork_from)
        pref = store.find_run_by_id(parent, ref.project) or store.find_run_by_id(parent)
        if pref is None:
            raise UsageError(f"fork_from: run {parent!r} not found in the store")
        from ..store.history import iter_rows

        pst = load_run(pref)
        items = {
            **pst.config,
            **items,
            "_wandb": {**pst.config.get("_wandb", {}), "branch_point": {"run_id": parent, "step": n}},
        }
        for row in iter_rows(pref.path / "history.jsonl"):
            if row.get("_step", 0) <= n:
                fork_rows.append(jsonl.encode(row))
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
    )
    run._segment_start = now  # readers derive _runtime from the init record's `created`
    run._open({"t": "init", **info})
    for line in fork_rows:
        jsonl.write_all(run._hfd, line)
        run._sstate.apply_row(jsonl.decode(line))
    if items:
        run._config_event(items)
    _apply_sweep_values(run, s)
    _start_recorder(run, s, info)
    return run


def _sweep_env() -> tuple[str, str] | None:
    """(sweep id, per-run config path) when this process runs a sweep trial, else None."""
    env = os.environ
    sid = env.get("RUNSTORE_SWEEP_ID") or env.get("WANDB_SWEEP_ID")
    path = env.get("RUNSTORE_SWEEP_PARAM_PATH") or env.get("WANDB_SWEEP_PARAM_PATH")
    return (sid, path) if sid and path else None


def _apply_sweep_values(run: Any, s: Settings) -> None:
    """The trial's parameters, deep-merged over the user's config and locked: later changes to these
    keys are ignored with wandb's warning (contract §3.3)."""
    if not (s.sweep_id and s.sweep_param_path):
        return
    try:
        values = load_yaml(s.sweep_param_path)
    except ValueError as e:
        term.warn(f"sweep parameters could not be read ({e}); the run uses its own config")
        return
    run.config.update_locked(values, user="sweep")


def _start_recorder(run: Any, s: Settings, info: dict[str, Any]) -> None:
    """Git state, diff.patch, requirements and machine facts of a new run, on a background thread.

    diff.patch is kept by default (restore needs it), unlike wandb; `save_code=False` or
    `WANDB_DISABLE_CODE` turn it off, `save_code=True` also copies the main script into files/code/.
    """
    from ..capture.recorder import Recorder

    run._recorder = Recorder(
        run._ref.path / "files",
        run._event,
        program=info["program"],
        cwd=info["cwd"],
        capture_git=not s.disable_git,
        capture_diff=not s.disable_code and s.save_code is not False,
        save_code=bool(s.save_code) and not s.disable_code,
        ignore_globs=tuple(s.ignore_globs),
        cache_dir=run._store.root / "cache",
    )
    run._recorder.start()


def _resume(store: Store, s: Settings, ref: RunRef, config: Any, include: Any, exclude: Any) -> Any:
    from .run import Run

    st = load_run(ref)
    sstate = fold_summary(st)
    sstate.values = copy.deepcopy(sstate.values)
    last = last_step(ref.path / "history.jsonl")
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
    new = _config_sources(s, config, include, exclude)
    if new:
        run.config.update(new, allow_val_change=True)
    _apply_sweep_values(run, s)
    return run


def _parse_rewind(param: str, value: Any) -> tuple[str, int]:
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


def _resume_from(
    store: Store, s: Settings, project: str, run_id: str, spec: str, config: Any, include: Any, exclude: Any
) -> Any:
    """Rewind a run to step N: the rows after N move to a kept side file, then the run resumes."""
    rid, n = _parse_rewind("resume_from", spec)
    ref = store.find_run_by_id(rid, project) or store.find_run_by_id(rid)
    if ref is None:
        raise UsageError(f"resume_from: run {rid!r} not found in the store")
    from ..store.history import iter_rows

    hist = ref.path / "history.jsonl"
    kept = b"".join(jsonl.encode(r) for r in iter_rows(hist) if r.get("_step", 0) <= n)
    side = ref.path / f"history.rewound-{int(time.time() * 1000)}.jsonl"
    if hist.exists():
        os.link(hist, side)  # nothing logged is lost: the full old history stays beside the new one
    jsonl.write_atomic(hist, kept)
    jsonl.append(ref.path / RUN_LOG, {"t": "rewind", "step": n, "time": time.time(), "kept": side.name})
    run = _resume(store, s, ref, config, include, exclude)
    return _started(store, s, ref, run, "allow")


def _started(store: Store, s: Settings, ref: RunRef, run: Any, resume_mode: str | None) -> Any:
    from ..daemon import client

    pid = os.getpid()
    client.register_live(store.root, ref.project, ref.id, ref.path, pid, start_token(pid), hostname())
    interval = s.x_stats_sampling_interval
    if interval is not None and not (isinstance(interval, (int, float)) and interval > 0):
        term.warn(
            f"x_stats_sampling_interval must be a positive number of seconds, got {interval!r}; using 2"
        )
        interval = None
    # Before the tee: a daemon must not inherit the captured fds. The store's one daemon keeps the
    # interval of the run that started it.
    client.ensure_running(store.root, interval=interval)
    if str(s.console).lower() != "off":
        from ..capture import console

        run._console = console.start(ref.path / "files" / "output.log")
    store.set_latest(ref)
    if resume_mode == "auto":
        _write_resume_file(store, ref.id)
    _active.append(run)
    _install_hooks()
    if not (_global is not None and not getattr(_global, "_finished", True)):
        _set_globals(run)
    verb = "resumed" if run.resumed else "tracking"
    term.info(f"{verb} run {run.name} ({ref.id}) in {ref.path}")
    return run


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
    if _global is not None:
        _global.finish(exit_code=exit_code, quiet=quiet)


__all__ = ["init", "finish", "login", "setup", "current_run"]
