"""bayes search: runstore's proposals vs W&B's sweep engine (the `sweeps` package) at equal budgets.

    python bench/run.py --only bayes          # the rows of the results table
    python bench/bayes.py LIB FUNCTION SEEDS BUDGET   # one child: prints `BENCH_RESULT {json}`

Both engines get the same sweep config (uniform parameters over each test function's box, metric `f`
to minimise) and propose BUDGET runs one after the other, each run finishing with f(x) before the next
proposal; SEEDS independent sweeps per function. runstore's side runs in the bench interpreter
(`next_params(config, trials, seed=s)`); W&B's runs in its own venv (`sweeps` pins numpy<2, which
runstore's environment does not), found at $BENCH_SWEEPS_PYTHON or .venv-sweeps/bin/python
(`make bench` creates it), seeded with `numpy.random.seed(s)` (its engine draws from numpy's global
generator). Without that venv W&B's column reads n/a.

Figures, averaged over the seeds (lower is better for all; the ratio is wandb/runstore, so > 1 means
runstore does better): the mean distance from a proposal to the nearest global optimum, in the unit
cube of the box (each side scaled to [0, 1]), over proposals 1-8 and 9-BUDGET; and the simple regret
(best f seen minus the optimum) after 8 and after BUDGET proposals.

This file is also the child: it needs only numpy plus the engine under test, so it runs in either venv.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = "BENCH_RESULT "
ROOT = Path(__file__).resolve().parent.parent
SWEEPS_PY = Path(os.environ.get("BENCH_SWEEPS_PYTHON") or ROOT / ".venv-sweeps" / "bin" / "python")
SEEDS = 20
BUDGET = 20
EARLY = 8  # proposals 1..EARLY are the "early" window, EARLY+1..BUDGET the "late" one


# -- test functions (to minimise) -----------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    name: str
    bounds: tuple[tuple[float, float], ...]
    optima: tuple[tuple[float, ...], ...]  # every global minimiser
    f_min: float
    f: Callable[[list[float]], float]


def _quadratic(x: list[float]) -> float:
    return (x[0] - 1.0) ** 2 + (x[1] + 2.0) ** 2


def _branin(x: list[float]) -> float:
    a, b, c, r, s, t = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi, 6.0, 10.0, 1 / (8 * math.pi)
    return a * (x[1] - b * x[0] ** 2 + c * x[0] - r) ** 2 + s * (1 - t) * math.cos(x[0]) + s


_H3_A = ((3.0, 10.0, 30.0), (0.1, 10.0, 35.0), (3.0, 10.0, 30.0), (0.1, 10.0, 35.0))
_H3_P = (
    (0.3689, 0.1170, 0.2673),
    (0.4699, 0.4387, 0.7470),
    (0.1091, 0.8732, 0.5547),
    (0.0381, 0.5743, 0.8828),
)
_H3_ALPHA = (1.0, 1.2, 3.0, 3.2)


def _hartmann3(x: list[float]) -> float:
    return -sum(
        alpha * math.exp(-sum(a * (xi - p) ** 2 for a, xi, p in zip(row, x, prow, strict=True)))
        for alpha, row, prow in zip(_H3_ALPHA, _H3_A, _H3_P, strict=True)
    )


def _rosenbrock(x: list[float]) -> float:
    return 100.0 * (x[1] - x[0] ** 2) ** 2 + (1.0 - x[0]) ** 2


PROBLEMS = {
    p.name: p
    for p in (
        # the optimum off the box's centre, so that no engine is flattered by a central first guess
        Problem("quadratic-2d", ((-5.0, 5.0), (-5.0, 5.0)), ((1.0, -2.0),), 0.0, _quadratic),
        Problem(
            "branin",
            ((-5.0, 10.0), (0.0, 15.0)),
            ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)),
            0.397887,
            _branin,
        ),
        Problem("hartmann-3", ((0.0, 1.0),) * 3, ((0.114614, 0.555649, 0.852547),), -3.86278, _hartmann3),
        Problem("rosenbrock-2d", ((-2.0, 2.0), (-2.0, 2.0)), ((1.0, 1.0),), 0.0, _rosenbrock),
    )
}


def _names(p: Problem) -> list[str]:
    return [f"x{i}" for i in range(len(p.bounds))]


def sweep_config(p: Problem) -> dict[str, Any]:
    return {
        "method": "bayes",
        "metric": {"name": "f", "goal": "minimize"},
        "parameters": {n: {"min": lo, "max": hi} for n, (lo, hi) in zip(_names(p), p.bounds, strict=True)},
    }


# -- children -------------------------------------------------------------------------------------------
def _runstore_sweep(p: Problem, seed: int, budget: int) -> tuple[list[list[float]], float]:
    from runstore.sweeps.schema import parse_config
    from runstore.sweeps.search import Trial, next_params

    config = parse_config(sweep_config(p))
    trials: list[Trial] = []
    xs: list[list[float]] = []
    spent = 0.0
    for i in range(budget):
        t0 = time.perf_counter()
        params = next_params(config, trials, seed=seed)
        spent += time.perf_counter() - t0
        assert params is not None
        x = [float(params[n]) for n in _names(p)]
        xs.append(x)
        trials.append(Trial(f"r{i}", params, "finished", [p.f(x)], p.f(x)))
    return xs, spent


def _wandb_sweep(p: Problem, seed: int, budget: int) -> tuple[list[list[float]], float]:
    import numpy as np
    import sweeps

    np.random.seed(seed)
    config = sweep_config(p)
    runs: list[Any] = []
    xs: list[list[float]] = []
    spent = 0.0
    for i in range(budget):
        t0 = time.perf_counter()
        suggestion = sweeps.next_run(config, runs)
        spent += time.perf_counter() - t0
        x = [float(suggestion.config[n]["value"]) for n in _names(p)]
        xs.append(x)
        y = p.f(x)
        runs.append(
            sweeps.SweepRun(
                name=f"r{i}",
                state=sweeps.RunState.finished,
                config={n: {"value": v} for n, v in zip(_names(p), x, strict=True)},
                history=[{"f": y}],
                summary_metrics={"f": y},
            )
        )
    return xs, spent


def run_child(lib: str, problem: str, seeds: int, budget: int) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning on tiny GPs, pydantic's on import
    p = PROBLEMS[problem]
    one = _wandb_sweep if lib == "wandb" else _runstore_sweep
    out: dict[str, Any] = {"lib": lib, "problem": problem, "budget": budget, "sweeps": [], "seconds": 0.0}
    for seed in range(seeds):
        xs, spent = one(p, seed, budget)
        out["sweeps"].append(xs)
        out["seconds"] += spent
    if lib == "runstore":
        from runstore.sweeps.search import bayes_sampler

        out["sampler"] = bayes_sampler()
    return out


# -- figures --------------------------------------------------------------------------------------------
def _distance(p: Problem, x: list[float]) -> float:
    def unit(v: list[float] | tuple[float, ...]) -> list[float]:
        return [(a - lo) / (hi - lo) for a, (lo, hi) in zip(v, p.bounds, strict=True)]

    u = unit(x)
    return min(math.dist(u, unit(opt)) for opt in p.optima)


def figures(p: Problem, sweeps: list[list[list[float]]], early: int = EARLY) -> dict[str, float]:
    """Means over the sweeps (seeds) of: distance over proposals 1..early and early+1..end, simple regret
    after `early` proposals and at the end; and the median of the last."""
    d_early, d_late, r_early, r_late = [], [], [], []
    for xs in sweeps:
        dist = [_distance(p, x) for x in xs]
        best = [min(p.f(x) for x in xs[: i + 1]) - p.f_min for i in range(len(xs))]
        d_early.append(sum(dist[:early]) / early)
        d_late.append(sum(dist[early:]) / max(len(dist) - early, 1))
        r_early.append(max(best[early - 1], 0.0))
        r_late.append(max(best[-1], 0.0))
    n = len(sweeps)
    return {
        "dist_early": sum(d_early) / n,
        "dist_late": sum(d_late) / n,
        "regret_early": sum(r_early) / n,
        "regret_late": sum(r_late) / n,
        "regret_late_median": statistics.median(r_late),
    }


def _child(python: str | Path, lib: str, problem: str, seeds: int, budget: int, env: dict[str, str]) -> Any:
    proc = subprocess.run(
        [str(python), str(Path(__file__).resolve()), lib, problem, str(seeds), str(budget)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARK):
            return json.loads(line[len(MARK) :])
    tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
    raise RuntimeError(f"bayes {problem} ({lib}) exited {proc.returncode} without a result:\n{tail}")


def bench_bayes(
    quick: bool, details: dict[str, Any], row_cls: type, step: Callable[[str], None]
) -> list[Any]:
    """The rows for bench/run.py (`row_cls` is its Row): per function, distance and regret, both engines."""

    class BayesRow(row_cls):  # type: ignore[valid-type,misc]
        def checks(self) -> list[tuple[str, bool | None]]:
            r = self.ratio
            text = f"{self.name}: no worse than W&B's engine (wandb/runstore ≥ {self.min_ratio:g})"
            return [(text, None if r is None else r >= self.min_ratio)]

    seeds, budget = (3, 12) if quick else (SEEDS, BUDGET)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNSTORE_", "WANDB_"))}
    have_wandb = SWEEPS_PY.exists()
    rows: list[Any] = []
    for name, p in PROBLEMS.items():
        step(f"bayes: {name}, {seeds} seeds x {budget} proposals: runstore gp, tpe; W&B")
        ours = _child(sys.executable, "runstore", name, seeds, budget, env)
        tpe = _child(
            sys.executable, "runstore", name, seeds, budget, {**env, "RUNSTORE_BAYES_SAMPLER": "tpe"}
        )
        theirs, why = None, f"not found at {SWEEPS_PY} (`make bench` creates .venv-sweeps)"
        if have_wandb:
            try:
                theirs = _child(SWEEPS_PY, "wandb", name, seeds, budget, env)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:  # a broken venv: n/a
                why = str(e).splitlines()[0]
        f_ours, f_tpe = figures(p, ours["sweeps"]), figures(p, tpe["sweeps"])
        f_theirs = figures(p, theirs["sweeps"]) if theirs else None
        late = f"{EARLY + 1}-{budget}"
        for key, label, fmt in (
            ("dist_early", f"mean distance to optimum, proposals 1-{EARLY}", "{:.3f}"),
            ("dist_late", f"mean distance to optimum, proposals {late}", "{:.3f}"),
            ("regret_early", f"simple regret after {EARLY} proposals", "{:.3g}"),
            ("regret_late", f"simple regret after {budget} proposals", "{:.3g}"),
        ):
            row = BayesRow(f"bayes {name}: {label}", "", f_ours[key], None, min_ratio=1.0, fmt=fmt)
            row.wandb = None if f_theirs is None else f_theirs[key]
            rows.append(row)
        rows[-4].notes.append(
            f"bayes {name}: {seeds} seeds x {budget} proposals; runstore sampler {ours['sampler']} "
            f"({1000 * ours['seconds'] / (seeds * budget):.0f} ms/proposal), W&B sweeps "
            + (
                f"({1000 * theirs['seconds'] / (seeds * budget):.0f} ms/proposal)"
                if theirs
                else f"n/a: {why}"
            )
            + "; runstore with RUNSTORE_BAYES_SAMPLER=tpe: "
            + ", ".join(f"{k} {v:.3g}" for k, v in f_tpe.items())
            + "; gp: "
            + ", ".join(f"{k} {v:.3g}" for k, v in f_ours.items())
            + ("; W&B: " + ", ".join(f"{k} {v:.3g}" for k, v in f_theirs.items()) if f_theirs else "")
        )
        details[f"bayes_{name}"] = {"runstore": f_ours, "runstore_tpe": f_tpe, "wandb": f_theirs}
    return rows


if __name__ == "__main__":
    lib, problem, n_seeds, n_budget = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sys.stdout.write(MARK + json.dumps(run_child(lib, problem, n_seeds, n_budget)) + "\n")
