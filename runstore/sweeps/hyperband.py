"""Hyperband early termination with wandb's semantics (docs/COMPAT.md §11.9).

Bands count metric *logs* (the n-th value of `metric.name` a run logged), not `_step`:
`min_iter, min_iter*eta, ...` or `max_iter/eta, max_iter/eta^2, ...` (s of them, ≥ 1), truncated to ints.
The threshold of band b is the value at index int(n/eta) of the sorted b-th values of every run (any state)
that logged at least b values (negated when maximizing) — roughly the top-1/eta quantile. A running run
that reached a band is stopped when its value at its latest reached band (strict, the default) — or its
best value so far (strict: false) — is worse than that band's threshold. Non-finite values are dropped,
as wandb's `filter_invalid` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .schema import SweepConfig, hyperband_bands
from .search import Trial

__all__ = ["bands", "runs_to_stop", "thresholds"]


def bands(config: SweepConfig) -> list[int]:
    return hyperband_bands(config.early_terminate) if config.early_terminate else []


def _history(config: SweepConfig, trial: Trial) -> list[float]:
    """The run's metric values as "lower is better" (negated when maximizing), invalid ones dropped."""
    sign = -1.0 if config.metric and config.metric.goal == "maximize" else 1.0
    return [
        sign * float(v)
        for v in trial.history
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ]


def thresholds(config: SweepConfig, trials: Sequence[Trial]) -> list[tuple[int, float]]:
    """(band, threshold) pairs; +inf for a band no run has reached yet."""
    eta = config.early_terminate["eta"] if config.early_terminate else 3
    histories = [h for t in trials if (h := _history(config, t))]
    out = []
    for band in bands(config):
        at_band = sorted(h[band - 1] for h in histories if len(h) >= band)
        out.append((band, at_band[int(len(at_band) / eta)] if at_band else math.inf))
    return out


def runs_to_stop(config: SweepConfig, trials: list[Trial]) -> list[str]:
    """run_ids of the RUNNING trials that Hyperband condemns now (empty without early_terminate)."""
    if not config.early_terminate or config.metric is None:
        return []
    strict = config.early_terminate.get("strict", True)
    table = thresholds(config, trials)
    stop = []
    for t in trials:
        if t.state != "running":
            continue
        h = _history(config, t)
        reached = [(b, th) for b, th in table if b <= len(h)]
        if not reached:  # below the first band: never stopped
            continue
        band, threshold = reached[-1]
        value = h[band - 1] if strict else min(h)
        if value > threshold:
            stop.append(t.run_id)
    return stop
