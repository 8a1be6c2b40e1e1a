"""A run's settings, resolved in one declared precedence order:

    explicit init() arguments > init(settings=...) > RUNSTORE_* > WANDB_* > .wandb/settings.yaml > defaults

Which environment variables set which setting, and how their values parse, is the table in base/env.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .. import shim
from ..base import env as _env
from ..base import term
from ..base.urls import server_from_env, strip_credentials
from ..store.store import Store

MODES = {
    "online": "online",
    "offline": "offline",
    "disabled": "disabled",
    "dryrun": "offline",
    "run": "online",
    "shared": "online",
}
RESUME = {"allow", "must", "never", "auto"}
REINIT = {"default", "return_previous", "finish_previous", "create_new"}

# Run settings of the table (base/env.py) that are not fields of Settings: `dir` chooses the store before
# any setting is read, `disabled` is another spelling of mode="disabled".
_NOT_FIELDS = ("dir", "disabled")
RUN_VARS = tuple(v for v in _env.VARS if v.scope == "run" and v.name not in _NOT_FIELDS)
# Settings that only init() arguments (or runstore itself) set: no environment variable.
INIT_ONLY = ("root_dir", "reinit", "allow_val_change", "program", "program_args")
# wandb.Settings field names users pass to init(settings=...) that we map onto ours.
ALIASES = {
    "id": "run_id",
    "name": "run_name",
    "notes": "run_notes",
    "tags": "run_tags",
    "group": "run_group",
    "job_type": "run_job_type",
    "dir": "root_dir",
}


@dataclass
class Settings:
    mode: str = "online"
    project: str | None = None
    entity: str | None = None
    run_id: str | None = None
    resume: str | None = None
    run_name: str | None = None
    run_notes: str | None = None
    run_tags: tuple[str, ...] | None = None
    run_group: str | None = None
    run_job_type: str | None = None
    config_paths: tuple[str, ...] = ()
    sweep_id: str | None = None
    sweep_param_path: str | None = None
    console: str = "auto"
    save_code: bool | None = None
    disable_code: bool = False
    disable_git: bool = False
    ignore_globs: tuple[str, ...] = ()
    silent: bool = False
    quiet: bool = False
    root_dir: str | None = None
    reinit: str | bool | None = None
    allow_val_change: bool | None = None
    remote: str | None = None
    program: str | None = None  # what ran, when it is not this interpreter's __main__ (runstore run)
    program_args: tuple[str, ...] | None = None
    x_stats_sampling_interval: float | None = None  # seconds between system-metric samples (daemon)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def norm_mode(value: str, source: str) -> str:
    m = MODES.get(str(value).strip().lower())
    if m is None:
        raise ValueError(f"{source}: mode must be one of online, offline, disabled (got {value!r})")
    return m


def norm_resume(value: Any, source: str) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return "auto"
    v = str(value).strip().lower()
    if v in ("", "false", "0", "none"):
        return None
    if v in ("true", "1"):
        return "auto"
    if v not in RESUME:
        raise ValueError(
            f"{source}: resume must be one of allow, must, never, auto, True, False (got {value!r})"
        )
    return v


def _coerce(name: str, raw: Any) -> Any:
    """A value from init(settings=...) or settings.yaml as the setting's kind (lists from "a,b")."""
    kind = _env.BY_NAME[name].kind if name in _env.BY_NAME else "str"
    if kind == "list":
        if isinstance(raw, str):
            return _env.parse("list", raw)
        return tuple(str(t) for t in raw)
    if kind == "bool" and not isinstance(raw, bool):
        return _env.parse("bool", str(raw), name)
    return raw


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The run settings the environment sets (RUNSTORE_* over WANDB_*); bad values warn and are ignored."""
    out: dict[str, Any] = {}
    for var in RUN_VARS:
        found = _env.raw(var.name, environ)
        if found is None:
            continue
        name, value = found
        try:
            if var.name == "mode":
                out["mode"] = norm_mode(value, name)
            elif var.name == "resume":
                out["resume"] = norm_resume(value, name)
            else:
                out[var.name] = _env.parse(var.kind, value, name)
        except ValueError as e:
            term.warn(f"{e}; ignoring it", once_key=f"env:{var.name}")
    try:
        if _env.lookup("disabled", environ):
            out["mode"] = "disabled"
    except ValueError as e:
        term.warn(f"{e}; ignoring it", once_key="env:disabled")
    return out


def from_file(store_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings in .wandb/settings.yaml (or wandb's INI file) that runs use."""
    out: dict[str, Any] = {}
    for var in _env.VARS:
        if var.file and var.name != "mode" and store_settings.get(var.name):
            out[var.name] = str(store_settings[var.name])
    if store_settings.get("mode"):
        try:
            out["mode"] = norm_mode(store_settings["mode"], "the store's settings file")
        except ValueError as e:
            term.warn(f"{e}; ignoring it", once_key="file:mode")
    if str(store_settings.get("disabled", "")).lower() in _env.TRUE:  # wandb's legacy `wandb off` wrote this
        out.setdefault("mode", "offline")
    return out


class UserSettings(dict[str, Any]):
    """`runstore.Settings(...)` (wandb.Settings): any keyword is accepted here; init() uses the ones it
    knows and warns once about the rest, so scripts written for any wandb version keep running."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)


def from_user(settings: Any) -> dict[str, Any]:
    """`init(settings=...)`: a dict, a `Settings`, or any object with such attributes."""
    if settings is None:
        return {}
    if isinstance(settings, Settings):
        d = {k: v for k, v in settings.to_dict().items() if v is not None}
    elif isinstance(settings, Mapping):
        d = dict(settings)
    elif hasattr(settings, "model_dump"):
        d = {k: v for k, v in settings.model_dump().items() if v is not None}
    elif hasattr(settings, "__dict__"):
        d = {k: v for k, v in vars(settings).items() if v is not None and not k.startswith("_")}
    else:
        raise TypeError(f"settings must be a dict or runstore.Settings, got {type(settings).__name__}")
    known = {f.name for f in fields(Settings)}
    out: dict[str, Any] = {}
    unknown = []
    for k, v in d.items():
        k = ALIASES.get(k, k)
        if k in known:
            out[k] = v
        else:
            unknown.append(k)
    if unknown:
        term.warn(
            f"ignoring settings runstore does not use: {', '.join(sorted(unknown))}",
            once_key=f"settings:{sorted(unknown)}",
        )
    if "mode" in out:
        out["mode"] = norm_mode(out["mode"], "settings")
    if "resume" in out:
        out["resume"] = norm_resume(out["resume"], "settings")
    for k in list(out):
        if k in _env.BY_NAME:
            out[k] = _coerce(k, out[k])
    return out


def resolve(
    explicit: Mapping[str, Any],
    user: Mapping[str, Any],
    store_file: Mapping[str, Any],
    environ: Mapping[str, str],
    wandb_ini: Mapping[str, Any] | None = None,
) -> Settings:
    """The precedence table: init() arguments > init(settings=...) (already through `from_user`) > env
    (RUNSTORE_* > WANDB_*) > .wandb/settings.yaml > wandb's INI file > defaults; the remote last of all
    from WANDB_BASE_URL when it names a runstore server."""
    layers = [
        from_file(wandb_ini or {}),
        from_file(store_file),
        from_env(environ),
        dict(user),
        {k: v for k, v in explicit.items() if v is not None},
    ]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    if not merged.get("remote"):
        merged["remote"] = server_from_env(environ)  # WANDB_BASE_URL: only when nothing else names one
    return Settings(**merged)


def status_report(store: Store, environ: Mapping[str, str]) -> dict[str, Any]:
    """What `runstore status` shows (its `--json` form): the store, its settings file, what the
    environment sets, the effective settings of a run started here, and what the store holds."""
    file_settings = store.read_settings()
    eff = resolve({}, {}, file_settings, environ, store.read_wandb_ini())
    projects = store.projects()
    latest = store.latest()

    def shown(d: Mapping[str, Any]) -> dict[str, Any]:  # a remote URL may carry credentials
        return {k: strip_credentials(v) if k == "remote" and isinstance(v, str) else v for k, v in d.items()}

    return {
        "store": str(store.root),
        "exists": store.exists(),
        "settings_file": shown(file_settings),
        "environment": shown(from_env(environ)),
        "effective": shown(
            {"mode": eff.mode, "project": eff.project, "entity": eff.entity, "remote": eff.remote}
        ),
        "projects": projects,
        "runs": sum(store.count_runs(p) for p in projects),
        "latest_run": f"{latest.project}/{latest.id}" if latest else None,
        "wandb": {
            "real": shim.real_wandb(),
            "shim_installed": shim.installed(),
            "shim_path": str(shim.site_dir()),
        },
    }
