"""Sweep config validation (docs/COMPAT.md §11.1): every problem found at once, before anything is created.

`parse_config` returns a `SweepConfig` or raises `SweepConfigError` whose message has one line per
problem, each naming the key and the fix. `warnings(config)` lists what is allowed but suspicious.

Divergences from wandb (documented): an invalid `metric.goal`/`impute` is an error rather than silently
replaced by the default (a silently minimized accuracy wastes a whole sweep); `parameters` is required
for every method; `method: custom` and the Launch/custom-scheduler keys (`job`, `image_uri`, `scheduler`,
`metrics`) are rejected as unsupported; YAML files accept `1e-5` as a float (YAML 1.2), where PyYAML's
YAML 1.1 resolver would read the string "1e-5".
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from ..base import yamlsafe
from ..errors import Error
from . import params as P

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
IMPUTES = ("worst", "best", "latest")
# Keys wandb accepts that runstore takes but does not act on (the store has no entity/cloud controller).
_TOLERATED = ("project", "entity", "controller", "apiVersion", "kind")
_UNSUPPORTED = {
    "job": "W&B Launch jobs",
    "image_uri": "W&B Launch images",
    "scheduler": "custom sweep schedulers",
    "metrics": "multi-objective (method: custom) sweeps",
}
_STRING_KEYS = ("program", "name", "description", "project", "entity", "apiVersion")
_KNOWN = (
    "method",
    "parameters",
    "metric",
    "early_terminate",
    "command",
    "run_cap",
    *_STRING_KEYS,
    "controller",
    "kind",
)
_HYPERBAND_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")


class SweepConfigError(Error, ValueError):
    """An invalid sweep config; `problems` holds one message per mistake (str(e) joins them by lines)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass
class Metric:
    name: str
    goal: str = "minimize"
    target: float | None = None
    impute: str = "worst"  # value bayes gives failed/crashed/stopped runs
    impute_while_running: str | None = None  # None: running runs are "in flight", not observations


@dataclass
class SweepConfig:
    raw: dict[str, Any]
    method: str
    metric: Metric | None
    parameters: dict[str, P.ParamSpec]
    early_terminate: dict[str, Any] | None
    program: str | None = None
    command: list[str] | None = None
    run_cap: int | None = None
    name: str | None = None
    description: str | None = None


@functools.cache
def _loader() -> Any:
    """SafeLoader that also reads `1e-5`/`3E6` as floats (YAML 1.2), as users of sweep configs expect.
    Built on first use: importing yaml costs ~15 ms, which the CLI and the read API (this module gives
    them the grid size of a sweep) should not pay for reading runs."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
        list("-+0123456789"),
    )
    return Loader


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A sweep YAML file as a dict; syntax errors name the line and column."""
    import yaml

    where = os.fspath(path)
    try:
        text = yamlsafe.read_text(where, "sweep config")
        data = yaml.load(text, Loader=yamlsafe.bounded_loader(_loader(), where, "sweep config"))  # noqa: S506
    except FileNotFoundError:
        raise SweepConfigError([f"{where}: no such file — check the path of the sweep config"]) from None
    except OSError as e:
        raise SweepConfigError([f"{where}: cannot read the sweep config ({e.strerror})"]) from None
    except ValueError as e:
        raise SweepConfigError([str(e)]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(e, "problem", None) or str(e)
        ctx = getattr(e, "context_mark", None)
        if getattr(e, "problem_mark", None) is not None and ctx is not None and getattr(e, "context", None):
            what += (
                f" ({getattr(e, 'context', '')} at line {ctx.line + 1})"  # where the broken construct started
            )
        raise SweepConfigError([f"{where}{at}: YAML syntax error: {what} — fix the YAML there"]) from None
    if data is None:
        raise SweepConfigError(
            [f"{where}: the file is empty — a sweep config needs at least `method` and `parameters`"]
        )
    if not isinstance(data, dict):
        raise SweepConfigError(
            [f"{where}: must hold a mapping (method:, parameters:, ...), not a {type(data).__name__}"]
        )
    return data


def parse_config(source: Mapping[str, Any] | str | os.PathLike[str]) -> SweepConfig:
    """Validate a sweep config (a dict, or the path of a YAML file) and parse it; raise every problem."""
    if isinstance(source, (str, os.PathLike)):
        raw = load_yaml(source)
    elif isinstance(source, Mapping):
        raw = deepcopy(dict(source))
    else:
        raise TypeError(f"a sweep config is a dict or a YAML path, not {type(source).__name__}")
    problems: list[str] = []
    for key in raw:
        if key in _UNSUPPORTED:
            problems.append(f"{key}: {_UNSUPPORTED[key]} are not supported by runstore — remove `{key}`")
        elif key not in _KNOWN:
            problems.append(
                f"{key}: unknown key{P._suggest(str(key), _KNOWN)} — remove it "
                f"(a sweep config takes: {', '.join(_KNOWN)})"
            )
    method = raw.get("method")
    if "method" not in raw:
        problems.append("method: missing — add `method: grid`, `method: random` or `method: bayes`")
    elif method == "custom":
        problems.append(
            "method: custom (external schedulers) is not supported by runstore — use grid, random or bayes"
        )
    elif method not in METHODS:
        problems.append(
            f"method: {method!r} is not a search method{P._suggest(str(method), METHODS)} — "
            "use grid, random or bayes"
        )
    for key in _STRING_KEYS:
        if key in raw and not isinstance(raw[key], str):
            problems.append(f"{key}: must be a string, got {raw[key]!r}")
    if "controller" in raw and not (
        isinstance(raw["controller"], Mapping)
        and raw["controller"].get("type", "local") in ("local", "cloud")
    ):
        problems.append("controller: must be {type: local} or {type: cloud} — runstore always runs locally")
    if "kind" in raw and raw["kind"] != "sweep":
        problems.append(f"kind: must be 'sweep', got {raw['kind']!r}")

    parameters: dict[str, P.ParamSpec] = {}
    if "parameters" in raw:
        parameters, errs = P.parse_parameters("parameters", raw["parameters"])
        problems += errs
    else:
        problems.append(
            "parameters: missing — add at least one, e.g. `parameters: {lr: {min: 0.0001, max: 0.1}}`"
        )
    if method == "grid":
        problems += _grid_problems(parameters)

    metric = _parse_metric(raw, problems) if "metric" in raw else None
    if metric is None and "metric" not in raw:
        if method == "bayes":
            problems.append(
                "metric: required by method: bayes — add `metric: {name: val_loss, goal: minimize}`"
            )
        if "early_terminate" in raw:
            problems.append(
                "metric: required by early_terminate — add `metric: {name: val_loss, goal: minimize}`"
            )
    early = _parse_early_terminate(raw["early_terminate"], problems) if "early_terminate" in raw else None
    command = _parse_command(raw, problems)
    run_cap = raw.get("run_cap")
    if "run_cap" in raw and not (P.is_int(run_cap) and run_cap is not None and run_cap > 0):
        problems.append(f"run_cap: must be an integer > 0, got {run_cap!r}")
    if problems:
        raise SweepConfigError(problems)
    return SweepConfig(
        raw=raw,
        method=str(method),
        metric=metric,
        parameters=parameters,
        early_terminate=early,
        program=raw.get("program"),
        command=command,
        run_cap=run_cap,
        name=raw.get("name"),
        description=raw.get("description"),
    )


def _grid_problems(parameters: dict[str, P.ParamSpec]) -> list[str]:
    out = []
    for path, spec in P.flatten(parameters):
        if spec.distribution not in P.GRID_DISTRIBUTIONS:
            where = "parameters." + ".parameters.".join(path)
            out.append(
                f"{where}: {spec.distribution} is a disallowed type with grid search (it can't be "
                "enumerated) — give a list of `values`, use int_uniform or q_uniform, or use "
                "method: random or bayes"
            )
    return out


def _parse_metric(raw: dict[str, Any], problems: list[str]) -> Metric | None:
    m = raw["metric"]
    if not isinstance(m, Mapping):
        problems.append(f"metric: must be a mapping like {{name: val_loss, goal: minimize}}, got {m!r}")
        return None
    n0 = len(problems)
    for key in m:
        if key not in ("name", "goal", "target", "impute", "impute_while_running"):
            problems.append(
                f"metric.{key}: unknown key — a metric takes name, goal, target, impute, impute_while_running"
            )
    name = m.get("name")
    if not isinstance(name, str) or not name:
        problems.append(
            f"metric.name: {'missing' if 'name' not in m else f'must be a non-empty string, got {name!r}'}"
            " — name the logged metric to optimize, e.g. `name: val_loss`"
        )
    goal = m.get("goal", "minimize")
    if goal not in GOALS:
        problems.append(
            f"metric.goal: {goal!r} is not a goal{P._suggest(str(goal), GOALS)} — use minimize or maximize"
        )
    target = m.get("target")
    if "target" in m and not P.is_number(target):
        problems.append(f"metric.target: must be a number, got {target!r}")
    impute = m.get("impute", "worst")
    if impute not in IMPUTES:
        problems.append(f"metric.impute: {impute!r} is not valid — use worst, best or latest")
    iwr = m.get("impute_while_running", False)
    if iwr in (False, "false"):
        iwr = None
    elif iwr not in IMPUTES:
        problems.append(
            f"metric.impute_while_running: {iwr!r} is not valid — use false, worst, best or latest"
        )
    if len(problems) > n0:
        return None
    return Metric(name=str(name), goal=goal, target=target, impute=impute, impute_while_running=iwr)


def hyperband_bands(early: Mapping[str, Any]) -> list[int]:
    """Bracket boundaries, in number of metric logs (docs/COMPAT.md §11.9)."""
    eta = early["eta"]
    if "max_iter" in early:
        bands, band = [], float(early["max_iter"])
        for _ in range(int(early["s"])):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    bands, band = [], float(early["min_iter"])
    for _ in range(100):  # wandb: 100 bands; past 1e18 logs no run reaches them (and eta**i overflows)
        if band > 1e18:
            break
        bands.append(int(band))
        band *= eta
    return bands


def _parse_early_terminate(et: Any, problems: list[str]) -> dict[str, Any] | None:
    if not isinstance(et, Mapping):
        problems.append(
            f"early_terminate: must be a mapping like {{type: hyperband, min_iter: 3}}, got {et!r}"
        )
        return None
    n0 = len(problems)
    if "type" not in et:
        problems.append("early_terminate.type: missing — add `type: hyperband`")
    elif et["type"] != "hyperband":
        problems.append(f"early_terminate.type: {et['type']!r} is not supported — only `hyperband` exists")
    eta = et.get("eta", 3)
    if not P.is_number(eta) or eta <= 1:
        problems.append(f"early_terminate.eta: must be a number > 1, got {eta!r}")
    strict = et.get("strict", True)
    if not isinstance(strict, bool):
        problems.append(f"early_terminate.strict: must be true or false, got {strict!r}")
    out: dict[str, Any] = {"type": "hyperband"}
    if "max_iter" in et:  # wandb checks max_iter first when both forms are given
        for key in ("max_iter", "s"):
            if key not in et:
                problems.append(
                    "early_terminate.s: missing — max_iter needs `s` (the number of brackets), "
                    "or use `min_iter` instead"
                )
            elif not (P.is_int(et[key]) and et[key] >= 1):
                problems.append(f"early_terminate.{key}: must be an integer >= 1, got {et[key]!r}")
        out.update(max_iter=et.get("max_iter"), s=et.get("s"))
    elif "min_iter" in et:
        if not (P.is_int(et["min_iter"]) and et["min_iter"] >= 1):
            problems.append(f"early_terminate.min_iter: must be an integer >= 1, got {et['min_iter']!r}")
        out["min_iter"] = et["min_iter"]
    else:
        problems.append(
            "early_terminate: needs `min_iter` (first bracket), or `max_iter` and `s` — add one form"
        )
    if len(problems) > n0:
        return None
    out.update(eta=eta, strict=strict)
    if not hyperband_bands(out):
        problems.append(
            f"early_terminate: max_iter={out['max_iter']} with eta={eta} and s={out['s']} gives no "
            "bracket (max_iter/eta < 1) — increase max_iter or s, or decrease eta"
        )
        return None
    return out


def _parse_command(raw: dict[str, Any], problems: list[str]) -> list[str] | None:
    if "command" not in raw:
        return None
    cmd = raw["command"]
    if not isinstance(cmd, list) or not cmd:
        problems.append(
            f"command: must be a non-empty list of tokens, e.g. [${{env}}, ${{interpreter}}, "
            f"${{program}}, ${{args}}], got {cmd!r}"
        )
        return None
    bad = [t for t in cmd if isinstance(t, (dict, list)) or t is None]
    if bad:
        problems.append(f"command: every token must be a string, got {bad[0]!r}")
        return None
    # YAML turns `- 5` into an int; a token is argv text, so scalars are taken as their str()
    return [t if isinstance(t, str) else str(t) for t in cmd]


def warnings(config: SweepConfig) -> list[str]:
    """Allowed but suspicious: deprecated exponent-based log distributions, ignored early_terminate keys."""
    out: list[str] = []
    for path, spec in P.flatten(config.parameters):
        if spec.distribution in P.LOG_EXPONENT_DISTRIBUTIONS:
            where = "parameters." + ".parameters.".join(path)
            lo, hi = math.exp(spec.min), math.exp(spec.max)
            new = spec.distribution.replace("log_uniform", "log_uniform_values")
            out.append(
                f"{where}: {spec.distribution} takes min/max as natural-log exponents (deprecated) — "
                f"values range over e^{spec.min}..e^{spec.max} = {lo:.6g}..{hi:.6g}; use "
                f"`distribution: {new}` with min: {lo:.6g}, max: {hi:.6g} to give actual values"
            )
    et = config.raw.get("early_terminate")
    if isinstance(et, Mapping):
        extra = [k for k in et if k not in _HYPERBAND_KEYS]
        if extra:
            out.append(f"early_terminate: keys {', '.join(map(str, extra))} are ignored")
        if "max_iter" in et and "min_iter" in et:
            out.append(
                "early_terminate: both max_iter and min_iter given — max_iter + s is used, min_iter ignored"
            )
    return out
