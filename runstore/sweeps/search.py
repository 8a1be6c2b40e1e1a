"""Search: the next parameter set of a sweep from its config and the trials so far (docs/COMPAT.md §11.8).

Pure and stateless: every call sees the whole list of trials, so any process holding the sweep's lock
can propose (no controller state to lose). Never blocks.

* grid — wandb's order: parameters sorted by name (nested ones flattened in place), the last varying
  fastest; combinations already present in `trials` are skipped (integral floats equal ints, booleans
  stay distinct from 0/1); returns None once every combination has been proposed.
* random — each non-constant parameter sampled independently through its inverse CDF. runstore
  divergence (docs/COMPAT.md §15 #33): when every parameter has a finite support (categorical, int_uniform,
  q_uniform, ...), unseen combinations are preferred while any remain — random without replacement,
  with the configured weights; after that, independent samples as in wandb.
* bayes — rebuilt from the trials on each call. Observations as in wandb: finished runs scored by their
  best metric value over history and summary, failed/crashed/stopped ones imputed (`metric.impute`,
  default the worst value seen), running ones in flight unless `impute_while_running` says otherwise.
  The default sampler ("gp", runstore/sweeps/gp.py, numpy + scipy + scikit-learn) is a Gaussian process
  with expected improvement over the unit cube of the parameters (each one's CDF, as in wandb), in-flight
  trials as kriging believers; `RUNSTORE_BAYES_SAMPLER=tpe` (or no scikit-learn) uses Optuna's
  `TPESampler(multivariate=True, constant_liar=True)` through ask/tell on a throw-away in-memory study,
  running trials added as RUNNING. `bayes_sampler()` says which is in use.

`seed` makes proposals reproducible: the random stream is derived from (seed, number of trials), so the
same history always yields the same proposal while successive proposals still differ.
"""

from __future__ import annotations

import itertools
import math
import random
import warnings as _warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

from ..base import env as _env
from . import params as P
from .schema import SweepConfig

TERMINAL = frozenset({"finished", "failed", "crashed", "stopped"})
IN_FLIGHT = frozenset({"proposed", "running"})
OPTUNA_HINT = "bayes search with Optuna's TPE needs optuna: pip install 'runstore[sweeps]'"
GP_HINT = "bayes search needs numpy, scipy and scikit-learn: pip install 'runstore[sweeps]'"


@dataclass
class Trial:
    run_id: str
    params: dict[str, Any]  # the run's config values; nested parameters as nested dicts
    state: str = "proposed"  # proposed | running | finished | failed | crashed | stopped
    history: list[float] = field(default_factory=list)  # metric.name values in logging order
    summary: float | None = None  # the run's summary value of metric.name


def next_params(config: SweepConfig, trials: list[Trial], seed: int | None = None) -> dict[str, Any] | None:
    """The next parameter set (nested dict of values, constants included), or None when grid is exhausted."""
    if config.method == "grid":
        return _grid(config, trials)
    rng = random.Random(f"{seed}:{len(trials)}") if seed is not None else random.Random()
    if config.method == "random":
        return _random(config, trials, rng)
    if config.method == "bayes":
        return _bayes(config, trials, None if seed is None else (seed * 1_000_003 + len(trials)) % 2**31)
    raise ValueError(f"unknown search method {config.method!r}")


def _key(params: dict[str, Any], paths: Sequence[P.Path]) -> tuple[Any, ...] | None:
    out = []
    for path in paths:
        v = P.lookup(params, path)
        if v is P.MISSING:
            return None
        out.append(P.canon(v))
    return tuple(out)


# --- grid ------------------------------------------------------------------------------------------------
def _grid(config: SweepConfig, trials: list[Trial]) -> dict[str, Any] | None:
    flat = P.flatten(config.parameters)
    axes = [spec.grid_values() for _, spec in flat]
    varying = [i for i, (_, spec) in enumerate(flat) if spec.distribution != "constant"]
    paths = [flat[i][0] for i in varying]
    # constants are not part of a combination's identity (wandb hashes the categorical axes only)
    seen = {k for t in trials if (k := _key(t.params, paths)) is not None}
    # Axes are sequences computed on access (an int_uniform axis of 10**12 values is never a list) and
    # so is the product: a proposal visits the combinations already tried and one more.
    for combo in _odometer([len(axes[i]) for i in varying]):
        if tuple(P.canon(axes[varying[n]][j]) for n, j in enumerate(combo)) in seen:
            continue
        chosen = dict(zip(varying, combo, strict=True))
        return P.nest((path, axes[i][chosen.get(i, 0)]) for i, (path, _) in enumerate(flat))
    return None


def _odometer(lengths: list[int]) -> Iterator[tuple[int, ...]]:
    """itertools.product(*map(range, lengths)) in the same order, without product's copy of every input
    into a tuple (a range of 10**12 would not fit in memory)."""
    if any(n <= 0 for n in lengths):
        return
    idx = [0] * len(lengths)
    while True:
        yield tuple(idx)
        for p in reversed(range(len(lengths))):
            idx[p] += 1
            if idx[p] < lengths[p]:
                break
            idx[p] = 0
        else:
            return


# --- random ----------------------------------------------------------------------------------------------
_MAX_ENUMERATE = 200_000


def _random(config: SweepConfig, trials: list[Trial], rng: random.Random) -> dict[str, Any]:
    flat = P.flatten(config.parameters)
    search = [(path, spec) for path, spec in flat if spec.searchable]

    def draw() -> dict[P.Path, Any]:
        return {path: spec.sample(rng) for path, spec in search}

    chosen = draw()
    supports = [spec.support() for _, spec in search]
    if search and all(s is not None for s in supports):
        chosen = _unseen(search, supports, trials, rng, draw) or chosen  # type: ignore[arg-type]
    return P.nest((path, chosen[path] if spec.searchable else spec.value) for path, spec in flat)


def _unseen(
    search: list[tuple[P.Path, P.ParamSpec]],
    supports: list[list[tuple[Any, float]]],
    trials: list[Trial],
    rng: random.Random,
    draw: Any,
) -> dict[P.Path, Any] | None:
    """A draw whose combination no trial has used yet, or None once the finite space is exhausted."""
    paths = [path for path, _ in search]
    allowed = [{P.canon(v) for v, _ in sup} for sup in supports]
    seen = {
        k
        for t in trials
        if (k := _key(t.params, paths)) is not None and all(c in a for c, a in zip(k, allowed, strict=True))
    }
    total = math.prod(len(a) for a in allowed)  # distinct combinations: `values` may repeat one
    if len(seen) >= total:
        return None
    for _ in range(64):  # rejection sampling keeps the configured weights among the unseen combinations
        cand = draw()
        if tuple(P.canon(cand[p]) for p in paths) not in seen:
            return cand
    if total > _MAX_ENUMERATE:
        return None
    combos, weights = [], []
    for combo in itertools.product(*supports):
        if tuple(P.canon(v) for v, _ in combo) not in seen:
            combos.append(combo)
            weights.append(math.prod(p for _, p in combo))
    if not combos:
        return None
    pick = rng.choices(combos, weights=weights)[0]
    return {path: v for path, (v, _) in zip(paths, pick, strict=True)}


# --- bayes -----------------------------------------------------------------------------------------------
_sampler_failed: set[str] = set()


def _forced_sampler() -> str | None:
    forced = str(_env.get("bayes_sampler") or "").strip().lower()
    return forced if forced in ("gp", "tpe") else None


def bayes_sampler() -> str:
    """ "gp" (runstore's Gaussian process with expected improvement, on scikit-learn) or "tpe" (Optuna's
    TPESampler): which one bayes search uses here. `RUNSTORE_BAYES_SAMPLER=gp|tpe` forces one."""
    forced = _forced_sampler()
    if forced is not None:
        return forced
    if "gp" not in _sampler_failed and all(find_spec(m) is not None for m in ("numpy", "scipy", "sklearn")):
        return "gp"
    return "tpe"


def _bayes(config: SweepConfig, trials: list[Trial], seed: int | None) -> dict[str, Any]:
    kind = bayes_sampler()
    if kind == "tpe":
        return _bayes_tpe(config, trials, seed)
    try:
        from . import gp as _gp
    except ImportError:
        if _forced_sampler() == "gp":
            raise ImportError(GP_HINT) from None
        _sampler_failed.add("gp")  # found but not importable (a broken install): TPE from now on
        return _bayes_tpe(config, trials, seed)
    return _bayes_gp(_gp, config, trials, seed)


# --- bayes: runstore's Gaussian process (runstore/sweeps/gp.py) ------------------------------------------
_MAX_LEVELS = 1000  # a finite support larger than this is searched as a continuous coordinate


def _levels(spec: P.ParamSpec) -> tuple[list[float], list[Any]] | None:
    """A discrete parameter's admissible unit-cube coordinates (increasing) and their values, or None."""
    support = spec.support()
    if support is None or len(support) > _MAX_LEVELS:
        return None
    coords: list[float] = []
    values: list[Any] = []
    for value, _ in support:
        z = spec.cdf(value)
        if not coords or z > coords[-1]:
            coords.append(z)
            values.append(value)
    return coords, values


def _unit(spec: P.ParamSpec, value: Any) -> float | None:
    """A trial's value as a unit-cube coordinate, or None when it cannot be one (the trial is left out)."""
    if value is P.MISSING:
        return None
    if spec.distribution in ("categorical", "categorical_w_probabilities"):
        i = P.index_of(spec.values, value)
        return None if i is None else spec.cdf(spec.values[i])
    if not P.is_number(value) or not math.isfinite(value):
        return None
    return spec.cdf(value)


def _bayes_gp(gp: Any, config: SweepConfig, trials: list[Trial], seed: int | None) -> dict[str, Any]:
    import numpy as np

    flat = P.flatten(config.parameters)
    search = [(path, spec) for path, spec in flat if spec.searchable]
    if not search:
        return P.nest((path, spec.value) for path, spec in flat)
    levels = [_levels(spec) for _, spec in search]
    sign = -1.0 if config.metric is not None and config.metric.goal == "maximize" else 1.0
    x: list[list[float]] = []
    y: list[float] = []
    pending: list[list[float]] = []
    for t, obs in zip(trials, _observations(config, trials), strict=True):
        if obs is None:
            continue
        z = [c for path, spec in search if (c := _unit(spec, P.lookup(t.params, path))) is not None]
        if len(z) < len(search):
            continue
        if obs == "running":
            pending.append(z)
        else:
            x.append(z)
            y.append(sign * float(obs))
    arrays = [None if lv is None else np.asarray(lv[0], dtype=float) for lv in levels]
    point = gp.propose(x, y, pending, arrays, np.random.default_rng(seed))
    chosen: dict[P.Path, Any] = {}
    for (path, spec), lv, z in zip(search, levels, point, strict=True):
        if lv is None:
            chosen[path] = spec.ppf(z)
        else:
            coords, values = lv
            chosen[path] = values[min(range(len(coords)), key=lambda i: abs(coords[i] - z))]
    return P.nest((path, chosen[path] if spec.searchable else spec.value) for path, spec in flat)


# --- bayes: Optuna's TPE (RUNSTORE_BAYES_SAMPLER=tpe, or without scikit-learn) ----------------------------
def _import_optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise ImportError(OPTUNA_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # no per-trial INFO lines in the agent's output
    return optuna


def _make_sampler(optuna: Any, seed: int | None) -> Any:
    try:
        return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
    except TypeError:  # an Optuna without these (experimental) options
        return optuna.samplers.TPESampler(seed=seed)


def _dimension(optuna: Any, spec: P.ParamSpec) -> tuple[Any, str]:
    """An Optuna distribution for a parameter, and how values map to it: by index, as is, or via the
    unit cube (CDF) for shapes Optuna has no distribution for (normal, beta, quantized, ...)."""
    D = optuna.distributions
    d = spec.distribution
    if d in ("categorical", "categorical_w_probabilities"):
        return D.CategoricalDistribution(list(range(len(spec.values)))), "index"
    if d == "int_uniform":
        return D.IntDistribution(int(spec.min), int(spec.max)), "int"
    if d == "uniform":
        return D.FloatDistribution(float(spec.min), float(spec.max)), "float"
    try:
        bounds = {
            "log_uniform_values": (spec.min, spec.max),
            "inv_log_uniform_values": (spec.min, spec.max),
            "log_uniform": (math.exp(spec.min), math.exp(spec.max)),
            "inv_log_uniform": (math.exp(-spec.max), math.exp(-spec.min)),
        }.get(d)
    except OverflowError:
        bounds = None
    if bounds is not None and 0 < bounds[0] < bounds[1] < math.inf:
        return D.FloatDistribution(float(bounds[0]), float(bounds[1]), log=True), "float"
    return D.FloatDistribution(0.0, 1.0), "unit"


def _to_optuna(spec: P.ParamSpec, dist: Any, how: str, value: Any) -> Any:
    if how == "index":
        return P.index_of(spec.values, value)
    if not P.is_number(value) or not math.isfinite(value):
        return None
    if how == "unit":
        return spec.cdf(value)
    lo, hi = dist.low, dist.high
    return min(max(int(value) if how == "int" else float(value), lo), hi)


def _from_optuna(spec: P.ParamSpec, how: str, x: Any) -> Any:
    if how == "index":
        return spec.values[int(x)]
    if how == "unit":
        return spec.ppf(float(x))
    return int(x) if how == "int" else float(x)


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if P.is_number(v) and math.isfinite(v)]


def _observations(config: SweepConfig, trials: list[Trial]) -> list[float | None | str]:
    """Per trial: its objective value, "running" (in flight), or None (left out)."""
    assert config.metric is not None
    m = config.metric
    best = min if m.goal == "minimize" else max
    worst_of = max if m.goal == "minimize" else min
    terminal_values = [v for t in trials if t.state in TERMINAL for v in _finite([*t.history, t.summary])]
    worst = worst_of(terminal_values) if terminal_values else 0.0
    best_seen = best(terminal_values) if terminal_values else 0.0
    out: list[float | None | str] = []
    for t in trials:
        values = _finite([*t.history, t.summary])
        if t.state == "finished" and values:
            out.append(best(values))
        elif t.state in TERMINAL:  # failed, crashed, stopped, or finished without ever logging the metric
            latest = _finite(t.history)[-1:] or [worst]
            out.append({"worst": worst, "best": best_seen, "latest": latest[0]}[m.impute])
        elif t.state in IN_FLIGHT and m.impute_while_running and values:
            own = _finite(t.history)[-1:] or values[-1:]
            out.append({"worst": worst, "best": best(values), "latest": own[0]}[m.impute_while_running])
        elif t.state in IN_FLIGHT:
            out.append("running")
        else:
            out.append(None)
    return out


def _bayes_tpe(config: SweepConfig, trials: list[Trial], seed: int | None) -> dict[str, Any]:
    optuna = _import_optuna()
    flat = P.flatten(config.parameters)
    dims = {path: _dimension(optuna, spec) for path, spec in flat if spec.searchable}
    specs = dict(flat)
    names = {path: "/".join(path) for path in dims}  # "/" cannot occur in a parameter name
    distributions = {names[p]: dist for p, (dist, _) in dims.items()}
    State = optuna.trial.TrialState
    frozen = []
    for t, obs in zip(trials, _observations(config, trials), strict=True):
        if obs is None:
            continue
        values = {}
        for path, (dist, how) in dims.items():
            v = P.lookup(t.params, path)
            x = None if v is P.MISSING else _to_optuna(specs[path], dist, how, v)
            if x is None:
                break
            values[names[path]] = x
        else:
            state = State.RUNNING if obs == "running" else State.COMPLETE
            frozen.append(
                optuna.trial.create_trial(
                    state=state,
                    value=None if obs == "running" else obs,
                    params=values,
                    distributions=distributions,
                )
            )
    direction = "maximize" if config.metric and config.metric.goal == "maximize" else "minimize"
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning for constant_liar/multivariate
        study = optuna.create_study(direction=direction, sampler=_make_sampler(optuna, seed))
        if frozen:
            study.add_trials(frozen)
        asked = dict(study.ask(fixed_distributions=distributions).params)
    by_name = {name: path for path, name in names.items()}
    chosen = {by_name[n]: _from_optuna(specs[by_name[n]], dims[by_name[n]][1], x) for n, x in asked.items()}
    return P.nest((path, chosen.get(path, spec.value)) for path, spec in flat)
