"""Every setting runstore reads from the environment, declared once, with the one parser of their values.

`VARS` is the table: a setting's name, the environment variables that set it (`RUNSTORE_*` first, it
wins over its `WANDB_*` twin), its default and a line of help. It drives the code (`get()` and
`run_settings()` are the only readers of these variables; `child_env()` the only writer) and the
README's settings reference (`scripts/gen_settings_docs.py`; a test fails when they drift, and another
when the code names a `RUNSTORE_*`/`WANDB_*` variable this table does not declare).

Two scopes: `run` settings are resolved per run (`init()` arguments > `init(settings=...)` > env >
`.wandb/settings.yaml` > defaults, see sdk/settings.py); `process` settings steer one runstore process
(the CLI, the daemon, a sweep agent) and are read where they are used.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["str", "bool", "list", "float", "int", "path"]

# The spellings of true and false that every boolean variable accepts (those of distutils' strtobool,
# which wandb's own parser follows). Anything else is an error the caller reports.
TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
FALSE = frozenset({"0", "false", "f", "no", "n", "off", ""})


@dataclass(frozen=True)
class Var:
    name: str
    env: tuple[str, ...]
    default: Any
    kind: Kind
    help: str
    scope: Literal["run", "process"] = "run"
    file: bool = False  # may also be set in .wandb/settings.yaml


def _both(suffix: str) -> tuple[str, str]:
    return (f"RUNSTORE_{suffix}", f"WANDB_{suffix}")


VARS: tuple[Var, ...] = (
    # -- run settings ------------------------------------------------------------------------------
    Var(
        "mode",
        _both("MODE"),
        "online",
        "str",
        "`online`, `offline` or `disabled` (`dryrun` = offline). Online only matters once a remote is set.",
        file=True,
    ),
    Var(
        "project",
        _both("PROJECT"),
        None,
        "str",
        "Project of new runs (default: the git repository's directory name, else `uncategorized`).",
        file=True,
    ),
    Var("entity", _both("ENTITY"), None, "str", "Entity (user or team) recorded with the run.", file=True),
    Var(
        "remote",
        ("RUNSTORE_REMOTE",),
        None,
        "str",
        "Where runs are synced to (set by `runstore init --remote`).",
        file=True,
    ),
    Var(
        "run_id",
        _both("RUN_ID"),
        None,
        "str",
        "Id of the run to create or resume (8 characters of a-z0-9 by default).",
    ),
    Var(
        "resume",
        _both("RESUME"),
        None,
        "str",
        "`allow`, `must`, `never`, `auto` (or true): resume an existing run.",
    ),
    Var(
        "run_name",
        _both("NAME"),
        None,
        "str",
        "Display name of the run (default: a generated adjective-noun-N).",
    ),
    Var("run_notes", _both("NOTES"), None, "str", "Notes of the run."),
    Var("run_tags", _both("TAGS"), None, "list", "Tags of the run, comma-separated."),
    Var("run_group", _both("RUN_GROUP"), None, "str", "Group of the run."),
    Var("run_job_type", _both("JOB_TYPE"), None, "str", "Job type of the run."),
    Var(
        "config_paths",
        _both("CONFIG_PATHS"),
        (),
        "list",
        "YAML files merged into the config at init, comma-separated.",
    ),
    Var("sweep_id", _both("SWEEP_ID"), None, "str", "Set by a sweep agent for its trial runs."),
    Var(
        "sweep_param_path",
        _both("SWEEP_PARAM_PATH"),
        None,
        "path",
        "Set by a sweep agent: the YAML file with the trial's parameters.",
    ),
    Var(
        "console",
        _both("CONSOLE"),
        "auto",
        "str",
        "`off` disables console capture into files/output.log; any other value captures at the fd level.",
    ),
    Var("save_code", _both("SAVE_CODE"), None, "bool", "Also copy the main script into files/code/."),
    Var(
        "disable_code",
        _both("DISABLE_CODE"),
        False,
        "bool",
        "Keep no source at all (no diff.patch, no code).",
    ),
    Var("disable_git", _both("DISABLE_GIT"), False, "bool", "Do not capture git state."),
    Var(
        "ignore_globs",
        _both("IGNORE_GLOBS"),
        (),
        "list",
        "Comma-separated globs of run files never written (e.g. `requirements.txt`).",
    ),
    Var("silent", _both("SILENT"), False, "bool", "Print nothing, not even warnings."),
    Var("quiet", _both("QUIET"), False, "bool", "Print warnings only."),
    Var(
        "x_stats_sampling_interval",
        ("RUNSTORE__STATS_SAMPLING_INTERVAL", "WANDB__STATS_SAMPLING_INTERVAL"),
        None,
        "float",
        "Seconds between system-metric samples by the daemon (default 2).",
    ),
    Var("disabled", _both("DISABLED"), False, "bool", "True is the same as mode `disabled`."),
    Var(
        "dir",
        ("RUNSTORE_DIR", "WANDB_DIR"),
        None,
        "path",
        "`RUNSTORE_DIR` names the store directory itself; `WANDB_DIR` names its parent (`$WANDB_DIR/.wandb`). "
        "Default: the nearest `.wandb/` of the current directory or its ancestors, else `./.wandb`.",
    ),
    # -- process settings --------------------------------------------------------------------------
    Var(
        "daemon",
        ("RUNSTORE_DAEMON",),
        True,
        "bool",
        "False: `init()` does not start the store daemon (no system metrics, crash marking on next read).",
        scope="process",
    ),
    Var(
        "debug",
        ("RUNSTORE_DEBUG",),
        False,
        "bool",
        "The CLI prints tracebacks instead of one-line errors.",
        scope="process",
    ),
    Var(
        "agent_poll",
        ("RUNSTORE_AGENT_POLL",),
        1.0,
        "float",
        "Seconds between a sweep agent's looks at the sweep (new proposals, stop requests).",
        scope="process",
    ),
    Var(
        "agent_kill_delay",
        _both("AGENT_KILL_DELAY"),
        30.0,
        "float",
        "Seconds between SIGTERM and SIGKILL when a sweep agent stops a trial.",
        scope="process",
    ),
    Var(
        "agent_disable_flapping",
        _both("AGENT_DISABLE_FLAPPING"),
        False,
        "bool",
        "Keep an agent going when its first runs fail quickly.",
        scope="process",
    ),
    Var(
        "agent_max_initial_failures",
        _both("AGENT_MAX_INITIAL_FAILURES"),
        5,
        "int",
        "An agent stops after this many failed runs if they are at least half of its runs.",
        scope="process",
    ),
    Var(
        "sweep_agent_timeout",
        ("RUNSTORE_SWEEP_AGENT_TIMEOUT",),
        300.0,
        "float",
        "Seconds without a heartbeat after which an agent on another host is presumed dead.",
        scope="process",
    ),
    Var(
        "bayes_sampler",
        ("RUNSTORE_BAYES_SAMPLER",),
        None,
        "str",
        "`gp` or `tpe`: force the sampler of bayes sweeps, runstore's Gaussian process or Optuna's TPE "
        "(default: gp when scikit-learn is installed, else tpe).",
        scope="process",
    ),
    Var(
        "artifact_dir",
        _both("ARTIFACT_DIR"),
        "./artifacts",
        "path",
        "Where `artifact.download()` puts an artifact by default: `<dir>/<name>:<version>`.",
        scope="process",
    ),
    Var(
        "artifact_link",
        ("RUNSTORE_ARTIFACT_LINK",),
        "auto",
        "str",
        "How `artifact.download()` places files: `auto` (a reflink where the filesystem has them, else a "
        "read-only hard link to the store's object unless this process can write read-only files, i.e. "
        "root; else a copy), `hardlink` (also as root), `copy`.",
        scope="process",
    ),
    Var(
        "server_config",
        ("RUNSTORE_SERVER_CONFIG",),
        None,
        "str",
        "Set by `runstore server` for its worker processes (JSON: the store, auth, body limit); not a "
        "setting to set by hand.",
        scope="process",
    ),
    Var(
        "api_key",
        ("RUNSTORE_API_KEY", "WANDB_API_KEY"),
        None,
        "str",
        "The token sent to a runstore server (`rs_...`; see `runstore login`). `WANDB_API_KEY` counts only "
        "when it holds a runstore token: a wandb key is never sent to a runstore server.",
        scope="process",
    ),
    Var(
        "base_url",
        ("RUNSTORE_BASE_URL", "WANDB_BASE_URL"),
        None,
        "str",
        "A runstore server (http(s) URL) to sync to when no remote is configured (RUNSTORE_REMOTE, "
        "settings.yaml); wandb.ai URLs are ignored.",
        scope="process",
    ),
    Var(
        "http_timeout",
        ("RUNSTORE_HTTP_TIMEOUT", "WANDB_HTTP_TIMEOUT"),
        60.0,
        "float",
        "Seconds a request to a runstore server may take before it is retried (connect: at most 10).",
        scope="process",
    ),
    Var(
        "git_commit",
        _both("GIT_COMMIT"),
        None,
        "str",
        "Recorded as the run's git commit instead of git's.",
        scope="process",
    ),
    Var(
        "git_remote_url",
        _both("GIT_REMOTE_URL"),
        None,
        "str",
        "Recorded as the run's git remote.",
        scope="process",
    ),
    Var(
        "git_root",
        _both("GIT_ROOT"),
        None,
        "path",
        "The git work tree to capture, instead of the script's.",
        scope="process",
    ),
    Var(
        "docker",
        _both("DOCKER"),
        None,
        "str",
        "Recorded in the run's metadata as its docker image.",
        scope="process",
    ),
)

BY_NAME: dict[str, Var] = {v.name: v for v in VARS}
# wandb's own variables that runstore never reads, but clears for the processes it starts (a trial must
# not try to reach the wandb service of the process that launched the agent).
WANDB_PRIVATE = frozenset({"WANDB_SERVICE"})
ALL_ENV: frozenset[str] = frozenset(e for v in VARS for e in v.env)


def raw(name: str, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(variable, value) of the first variable of setting `name` that is set and non-empty, else None."""
    environ = os.environ if environ is None else environ
    for var in BY_NAME[name].env:
        value = environ.get(var)
        if value:
            return var, value
    return None


def parse(kind: Kind, value: str, var: str = "value") -> Any:
    """A variable's text as its kind; ValueError naming the variable and what it accepts."""
    if kind == "bool":
        v = value.strip().lower()
        if v in TRUE:
            return True
        if v in FALSE:
            return False
        raise ValueError(f"{var}={value!r} is not a boolean: use true/false, 1/0, yes/no or on/off")
    if kind == "list":
        return tuple(t.strip() for t in value.split(",") if t.strip())
    if kind in ("float", "int"):
        try:
            return float(value) if kind == "float" else int(value)
        except ValueError:
            raise ValueError(
                f"{var}={value!r} is not a{'n integer' if kind == 'int' else ' number'}"
            ) from None
    return value


def get(
    name: str, environ: Mapping[str, str] | None = None, warn: Callable[[str], None] | None = None
) -> Any:
    """The value of setting `name` from the environment, or its default. A malformed value is the
    default too, reported through `warn` (e.g. `term.warn`) when given."""
    try:
        return lookup(name, environ)
    except ValueError as e:
        default = BY_NAME[name].default
        if warn is not None:
            warn(f"{e}; using {default!r}")
        return default


def lookup(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """Like `get()`, but a malformed value raises ValueError naming the variable."""
    found = raw(name, environ)
    if found is None:
        return BY_NAME[name].default
    var, value = found
    return parse(BY_NAME[name].kind, value, var)


def flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    return bool(get(name, environ))


def assignments(values: Mapping[str, str]) -> dict[str, str | None]:
    """The variables that pass run settings to a child process: for each setting its `WANDB_*` variable
    (the name wandb programs know, and clear when they start fresh runs in their own children) is set,
    and every other variable of the setting is removed (None), so a `RUNSTORE_*` twin inherited from the
    parent can neither win over it nor outlive it in a grandchild (docs/COMPAT.md §2.2). A setting with
    no `WANDB_*` variable sets its first one. `dir` is the exception: RUNSTORE_DIR names the store itself,
    WANDB_DIR its parent, so RUNSTORE_DIR is set and WANDB_DIR left as it is."""
    out: dict[str, str | None] = {}
    for name, value in values.items():
        names = BY_NAME[name].env
        if name == "dir":
            out[names[0]] = value
            continue
        chosen = next((v for v in names if v.startswith("WANDB_")), names[0])
        for var in names:
            out[var] = value if var == chosen else None
    return out


def child_env(values: Mapping[str, str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: os.environ) with `assignments(values)` applied."""
    env = dict(os.environ if environ is None else environ)
    for var, value in assignments(values).items():
        if value is None:
            env.pop(var, None)
        else:
            env[var] = value
    return env


__all__ = [
    "VARS",
    "BY_NAME",
    "ALL_ENV",
    "WANDB_PRIVATE",
    "Var",
    "TRUE",
    "FALSE",
    "raw",
    "parse",
    "get",
    "lookup",
    "flag",
    "child_env",
    "assignments",
]
