"""The Gaussian process behind bayes search (docs/COMPAT.md §11.8): numpy, scipy and scikit-learn.

Imported only by `search._bayes` when a proposal is asked for, so `import runstore` and the rest of the
sweep library never load numpy. Works in the unit cube: every parameter is a coordinate in [0, 1] (its
CDF, as in wandb's engine); a parameter with a finite support (categorical, int_uniform, q_*) has a
sorted set of admissible coordinates ("levels") that candidates are snapped to, so the acquisition is
evaluated only at points that can actually be run, and an already-run combination has no expected
improvement left.

One proposal:
* fewer than N_INITIAL observations: a uniform random point (wandb's engine also starts from 2);
* the targets (to minimise) are standardised with the worst value at 0, the GP's prior mean
  (`standardise`);
* the GP: amplitude x anisotropic Matern-5/2 + a fitted noise term, hyperparameters by maximum a
  posteriori (scikit-learn's L-BFGS-B from 3 starts; log-normal priors on the length scales and the
  noise, which keep a fit on a handful of points sensible). Above MAX_FIT points the hyperparameters are
  fitted on the best half of MAX_FIT plus a random rest, and the posterior then conditions on all;
* in-flight trials are "kriging believers": added with the model's own prediction as their value, which
  removes the uncertainty there so parallel agents spread out;
* the acquisition is expected improvement over the best value seen, in log space (`log_h`) so that it
  still ranks candidates where it underflows, of the latent function (the fitted noise left out);
* maximised over N_RANDOM uniform candidates and N_LOCAL perturbations of the best observed points; the
  best N_STARTS distinct ones are then refined by rounds of smaller and smaller perturbations.
Every random draw comes from the `numpy.random.Generator` passed in, so a seeded call is reproducible.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel
from threadpoolctl import threadpool_limits

N_INITIAL = 2  # observations before the GP takes over
N_RESTARTS = 2  # hyperparameter fits from random starts, besides the default start
N_RANDOM = 1024  # uniform candidates per proposal
N_LOCAL = 256  # candidates perturbing the best observed points (sd LOCAL_SD)
LOCAL_SD = 0.1
N_STARTS = 4  # candidates refined
SCALES = (0.08, 0.03, 0.01, 0.003)  # refinement: one round of N_PER_START perturbations per scale
N_PER_START = 48
MAX_FIT = 100  # points the hyperparameters are fitted on, at most
MAX_POINTS = 2000  # points the posterior conditions on, at most (the best half and a random rest)
CLIP = 10.0  # outliers: see `standardise`
# MAP priors, normal on the log of each hyperparameter (log-normal on the hyperparameter itself)
LS_PRIOR = (math.log(0.5), 1.0)  # length scales in the unit cube: median 0.5, 68% within [0.18, 1.4]
NOISE_PRIOR = (math.log(1e-4), 2.5)  # noise variance of the standardised targets: small unless needed
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def snap(z: np.ndarray, levels: Sequence[np.ndarray | None]) -> np.ndarray:
    """`z` (n, d) clipped to the unit cube, each discrete column moved to its nearest admissible level."""
    z = np.clip(z, 0.0, 1.0)
    for j, lv in enumerate(levels):
        if lv is None:
            continue
        if len(lv) == 1:
            z[:, j] = lv[0]
            continue
        idx = np.clip(np.searchsorted(lv, z[:, j]), 1, len(lv) - 1)
        lo, hi = lv[idx - 1], lv[idx]
        z[:, j] = np.where(z[:, j] - lo <= hi - z[:, j], lo, hi)
    return z


def log_h(z: np.ndarray) -> np.ndarray:
    """log(z Φ(z) + φ(z)), accurate for very negative z: expected improvement is σ h((best - μ) / σ)."""
    out = np.empty_like(z)
    mid, far = z > -1.0, z < -25.0
    near = ~mid & ~far
    zm, zn, zf = z[mid], z[near], z[far]
    out[mid] = np.log(zm * np.exp(log_ndtr(zm)) + np.exp(-0.5 * zm * zm - _LOG_SQRT_2PI))
    # h = φ(z) (1 + z Φ(z)/φ(z)) with Φ/φ = sqrt(π/2) erfcx(-z/√2): no underflow
    out[near] = (
        -0.5 * zn * zn - _LOG_SQRT_2PI + np.log1p(zn * math.sqrt(math.pi / 2) * erfcx(-zn / math.sqrt(2)))
    )
    out[far] = -0.5 * zf * zf - _LOG_SQRT_2PI - 2.0 * np.log(-zf)  # h ~ φ(z) / z² as z -> -inf
    return out


def standardise(y: np.ndarray) -> np.ndarray:
    """Objective values (to minimise) as the GP's targets. Gross outliers are clipped first: a value
    worse than the 75th percentile q by more than CLIP times (q - best) is set to that bound, so one
    diverged run does not flatten the differences between the others (a bound from the bulk, such as
    median + k MAD, would also clip the ordinary values of a search that has converged). Then unit
    variance, with the worst value at 0: the GP's prior mean, so a region far from every run is expected
    to be no better than the worst run, and exploration comes from the model's uncertainty rather than
    from its mean reverting to the average (measured: closer proposals early on, bench/RESULTS.md)."""
    q, lo = float(np.quantile(y, 0.75)), float(np.min(y))
    if q > lo:
        y = np.minimum(y, q + CLIP * (q - lo))
    std = float(np.std(y))
    return (y - float(np.max(y))) / (std if std > 0 else 1.0)


def _kernel(d: int) -> Any:
    matern = Matern(length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5)
    return ConstantKernel(1.0, (1e-2, 1e3)) * matern + WhiteKernel(1e-4, (1e-6, 1.0))


def _neg_log_prior(theta: np.ndarray) -> tuple[float, np.ndarray]:
    """-log p(theta) up to a constant, and its gradient; theta = log(amplitude, length scales..., noise).
    The amplitude has no prior (the targets are standardised)."""
    mu, sd = np.zeros_like(theta), np.ones_like(theta)
    mu[1:-1], sd[1:-1] = LS_PRIOR
    mu[-1], sd[-1] = NOISE_PRIOR
    dev = np.where(np.arange(len(theta)) > 0, (theta - mu) / sd, 0.0)
    return 0.5 * float(np.sum(dev**2)), dev / sd


def _map_optimizer(obj: Any, theta0: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
    """scikit-learn's `optimizer` hook: L-BFGS-B on -(log marginal likelihood + log prior)."""

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = obj(theta, eval_gradient=True)
        pv, pg = _neg_log_prior(theta)
        return float(v) + pv, g + pg

    res = minimize(f, theta0, jac=True, method="L-BFGS-B", bounds=bounds)
    return res.x, float(res.fun)


def _subset(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the best size/2 values and a random sample of the others."""
    order = np.argsort(y, kind="stable")
    half = size // 2
    return np.concatenate([order[:half], rng.choice(order[half:], size - half, replace=False)])


def _fit(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> GaussianProcessRegressor:
    n, d = x.shape
    sub = _subset(y, MAX_FIT, rng) if n > MAX_FIT else np.arange(n)
    gp = GaussianProcessRegressor(
        _kernel(d),
        optimizer=_map_optimizer,
        n_restarts_optimizer=N_RESTARTS,
        random_state=int(rng.integers(2**31 - 1)),
    )
    gp.fit(x[sub], y[sub])
    if len(sub) < n:
        gp = GaussianProcessRegressor(gp.kernel_, optimizer=None).fit(x, y)
    return gp


def propose(
    x: Sequence[Sequence[float]],
    y: Sequence[float],
    pending: Sequence[Sequence[float]],
    levels: Sequence[np.ndarray | None],
    rng: np.random.Generator,
) -> list[float]:
    """The next point of the unit cube, given the observed points `x` with their values `y` (to
    minimise), the `pending` points in flight, and per dimension its sorted levels (None: continuous)."""
    d = len(levels)
    if len(y) < N_INITIAL:
        return [float(v) for v in snap(rng.random((1, d)), levels)[0]]
    with threadpool_limits(1), warnings.catch_warnings():  # tiny matrices: BLAS threads only contend
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning when a bound is reached
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        pa = np.asarray(pending, dtype=float).reshape(-1, d)
        return _propose(xa, ya, pa, levels, rng)


def _propose(
    x: np.ndarray,
    y: np.ndarray,
    pending: np.ndarray,
    levels: Sequence[np.ndarray | None],
    rng: np.random.Generator,
) -> list[float]:
    if len(y) > MAX_POINTS:
        sub = _subset(y, MAX_POINTS, rng)
        x, y = x[sub], y[sub]
    ys = standardise(y)
    gp = _fit(x, ys, rng)
    if len(pending):
        believed = gp.predict(pending)
        gp = GaussianProcessRegressor(gp.kernel_, optimizer=None).fit(
            np.vstack([x, pending]), np.concatenate([ys, believed])
        )
    gp.kernel_ = gp.kernel_.k1  # predict the latent function: the fitted noise is not uncertainty left
    best = float(np.min(ys))
    taken = {tuple(r) for r in np.round(np.vstack([x, pending]), 12)}

    def log_ei(z: np.ndarray) -> np.ndarray:
        mu, sd = gp.predict(z, return_std=True)
        sd = np.maximum(sd, 1e-9)
        out = np.log(sd) + log_h((best - mu) / sd)
        # never a point already run or in flight (possible when every parameter is discrete) while
        # anything else is left
        out[[tuple(r) in taken for r in np.round(z, 12)]] = -np.inf
        return out

    n, d = x.shape
    top = x[np.argsort(ys, kind="stable")[: min(5, n)]]
    local = top[rng.integers(len(top), size=N_LOCAL)] + rng.normal(0.0, LOCAL_SD, (N_LOCAL, d))
    cand = snap(np.vstack([rng.random((N_RANDOM, d)), local]), levels)
    score = log_ei(cand)
    starts: list[np.ndarray] = []
    for i in np.argsort(-score, kind="stable"):
        if all(np.max(np.abs(cand[i] - s)) > 1e-9 for s in starts):
            starts.append(cand[i])
            if len(starts) == N_STARTS:
                break
    pts = np.array(starts)
    vals = log_ei(pts)
    rows = np.arange(len(pts))
    for scale in SCALES:
        trial = snap(
            np.repeat(pts, N_PER_START, axis=0) + rng.normal(0.0, scale, (len(pts) * N_PER_START, d)), levels
        )
        tv = log_ei(trial).reshape(len(pts), N_PER_START)
        j = np.argmax(tv, axis=1)
        better = tv[rows, j] > vals
        pts[better] = trial.reshape(len(pts), N_PER_START, d)[rows, j][better]
        vals[better] = tv[rows, j][better]
    return [float(v) for v in pts[int(np.argmax(vals))]]
