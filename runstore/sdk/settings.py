"""Resolving a run's settings from one declared precedence table.

    explicit init() arguments > init(settings=...) > RUNSTORE_* > WANDB_* > .wandb/settings.yaml > defaults

Only this module (and the CLI) read the environment and the settings file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from . import term

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
TRUE = ("1", "true", "yes", "on")

# setting name -> environment suffix (read as RUNSTORE_<suffix>, then WANDB_<suffix>)
ENV = {
    "mode": "MODE",
    "project": "PROJECT",
    "entity": "ENTITY",
    "run_id": "RUN_ID",
    "resume": "RESUME",
    "run_name": "NAME",
    "run_notes": "NOTES",
    "run_tags": "TAGS",
    "run_group": "RUN_GROUP",
    "run_job_type": "JOB_TYPE",
    "config_paths": "CONFIG_PATHS",
    "sweep_id": "SWEEP_ID",
    "sweep_param_path": "SWEEP_PARAM_PATH",
    "console": "CONSOLE",
    "save_code": "SAVE_CODE",
    "disable_code": "DISABLE_CODE",
    "disable_git": "DISABLE_GIT",
    "ignore_globs": "IGNORE_GLOBS",
    "silent": "SILENT",
    "quiet": "QUIET",
    # wandb's private setting x_stats_sampling_interval (WANDB__STATS_SAMPLING_INTERVAL)
    "x_stats_sampling_interval": "_STATS_SAMPLING_INTERVAL",
}
LIST_SETTINGS = ("run_tags", "config_paths", "ignore_globs")
BOOL_SETTINGS = ("save_code", "disable_code", "disable_git", "silent", "quiet")
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
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}


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
    if name in LIST_SETTINGS:
        if isinstance(raw, str):
            return tuple(t.strip() for t in raw.split(",") if t.strip())
        return tuple(str(t) for t in raw)
    if name in BOOL_SETTINGS:
        return raw if isinstance(raw, bool) else str(raw).strip().lower() in TRUE
    return raw


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, suffix in ENV.items():
        raw = env.get(f"RUNSTORE_{suffix}")
        if raw is None or raw == "":
            raw = env.get(f"WANDB_{suffix}")
        if raw is None or raw == "":
            continue
        try:
            if name == "mode":
                out[name] = norm_mode(raw, "WANDB_MODE")
            elif name == "resume":
                out[name] = norm_resume(raw, "WANDB_RESUME")
            elif name == "x_stats_sampling_interval":
                out[name] = float(raw)
            else:
                out[name] = _coerce(name, raw)
        except ValueError as e:
            term.warn(f"{e}; ignoring it", once_key=f"env:{name}")
    disabled = env.get("RUNSTORE_DISABLED") or env.get("WANDB_DISABLED") or ""
    if disabled.strip().lower() in TRUE:
        out["mode"] = "disabled"
    return out


def from_file(store_settings: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("project", "entity", "remote"):
        if store_settings.get(k):
            out[k] = str(store_settings[k])
    if store_settings.get("mode"):
        try:
            out["mode"] = norm_mode(store_settings["mode"], "settings.yaml")
        except ValueError as e:
            term.warn(f"{e}; ignoring it", once_key="file:mode")
    if str(store_settings.get("disabled", "")).lower() in TRUE:  # wandb's legacy `wandb off` wrote this
        out.setdefault("mode", "offline")
    return out


def read_wandb_ini(root: Path) -> dict[str, Any]:
    """wandb's own workspace settings file (`[default]` INI) next to ours, lowest precedence."""
    path = root / "settings"
    if not path.is_file():
        return {}
    import configparser

    cp = configparser.ConfigParser()
    try:
        cp.read(path)
    except configparser.Error:
        return {}
    return dict(cp["default"]) if cp.has_section("default") else {}


class UserSettings(dict):  # type: ignore[type-arg]
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

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
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
        if k in known and k != "extra":
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
        if k in LIST_SETTINGS or k in BOOL_SETTINGS:
            out[k] = _coerce(k, out[k])
    return out


def resolve(
    explicit: Mapping[str, Any],
    user: Any,
    store_file: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    wandb_ini: Mapping[str, Any] | None = None,
) -> Settings:
    env = os.environ if env is None else env
    layers = [
        from_file(wandb_ini or {}),
        from_file(store_file),
        from_env(env),
        from_user(user),
        {k: v for k, v in explicit.items() if v is not None},
    ]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return Settings(**merged)
