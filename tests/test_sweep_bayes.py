"""bayes search with runstore's Gaussian process (runstore/sweeps/gp.py; docs/COMPAT.md §11.8): the default
sampler, reproducible proposals, every parameter kind, goals, failed and in-flight trials, validity on
random spaces, and a sample efficiency random search reaches only by a very unlikely chance."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import runstore.sweeps
from runstore.sweeps import Trial, next_params, parse_config
from runstore.sweeps import params as P
from runstore.sweeps import search as S

pytestmark = pytest.mark.skipif(
    any(S.find_spec(m) is None for m in ("numpy", "scipy", "sklearn")), reason="needs runstore[sweeps]"
)


@pytest.fixture(autouse=True)
def _gp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNSTORE_BAYES_SAMPLER", raising=False)
    monkeypatch.setattr(S, "_sampler_failed", set())


def cfg(parameters: dict[str, Any], goal: str = "minimize", **metric: Any) -> Any:
    return parse_config(
        {"method": "bayes", "parameters": parameters, "metric": {"name": "m", "goal": goal, **metric}}
    )


BOX = {"a": {"min": -5.0, "max": 5.0}, "b": {"min": -5.0, "max": 5.0}}


def quadratic(p: dict[str, Any]) -> float:
    return (p["a"] - 1.0) ** 2 + (p["b"] + 2.0) ** 2


def run(config: Any, f: Any, budget: int, seed: int | None) -> list[dict[str, Any]]:
    """`budget` sequential proposals, each finished with metric f(params) before the next."""
    trials: list[Trial] = []
    for i in range(budget):
        p = next_params(config, trials, seed=seed)
        assert p is not None
        trials.append(Trial(f"r{i}", p, "finished", [f(p)]))
    return [t.params for t in trials]


def test_the_gp_is_the_default_and_tpe_stays_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert S.bayes_sampler() == "gp"
    calls: list[str] = []
    monkeypatch.setattr(S, "_bayes_gp", lambda *a: calls.append("gp") or {"x": 0.5})
    next_params(cfg({"x": {"min": 0.0, "max": 1.0}}), [], seed=0)
    assert calls == ["gp"]
    monkeypatch.setenv("RUNSTORE_BAYES_SAMPLER", "tpe")
    assert S.bayes_sampler() == "tpe"
    p = run(cfg({"x": {"min": 0.0, "max": 1.0}}), lambda p: p["x"], 4, seed=0)
    assert calls == ["gp"] and all(0.0 <= q["x"] <= 1.0 for q in p)  # Optuna's TPE proposed these
    monkeypatch.setenv("RUNSTORE_BAYES_SAMPLER", "GP")
    assert S.bayes_sampler() == "gp"


def _hide_sklearn(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")] + ["sklearn"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "runstore.sweeps.gp", raising=False)
    monkeypatch.delattr(runstore.sweeps, "gp", raising=False)


def test_without_scikit_learn_a_forced_gp_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_sklearn(monkeypatch)
    monkeypatch.setenv("RUNSTORE_BAYES_SAMPLER", "gp")
    with pytest.raises(ImportError, match=r"scikit-learn: pip install 'runstore\[sweeps\]'"):
        next_params(cfg({"x": {"min": 0.0, "max": 1.0}}), [], seed=0)


def test_an_unimportable_scikit_learn_falls_back_to_tpe(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_sklearn(monkeypatch)  # found by find_spec, but its import fails: a broken install
    p = next_params(cfg({"x": {"min": 0.0, "max": 1.0}}), [], seed=0)
    assert p is not None and 0.0 <= p["x"] <= 1.0
    assert S.bayes_sampler() == "tpe"


# --- reproducibility --------------------------------------------------------------------------------------
def test_proposals_are_reproducible_under_a_seed() -> None:
    c = cfg({**BOX, "k": {"values": ["x", "y", "z"]}})
    first = run(c, quadratic, 8, seed=11)
    assert run(c, quadratic, 8, seed=11) == first
    assert run(c, quadratic, 8, seed=12) != first
    assert len({(p["a"], p["b"]) for p in first}) == 8  # successive proposals differ
    history = [Trial(f"r{i}", p, "finished", [quadratic(p)]) for i, p in enumerate(first)]
    assert next_params(c, history, seed=3) == next_params(c, history, seed=3)  # a call is pure


def test_without_a_seed_proposals_still_work() -> None:
    ps = run(cfg(BOX), quadratic, 4, seed=None)
    assert all(-5.0 <= p["a"] <= 5.0 and -5.0 <= p["b"] <= 5.0 for p in ps)


# --- parameter kinds -------------------------------------------------------------------------------------
EVERY_KIND = {
    "cat": {"values": ["a", [1, 2], {"k": 1}]},
    "w": {"values": [1, 2, 3], "probabilities": [0.3, 0.0, 0.7]},
    "i": {"min": 1, "max": 5},
    "u": {"min": 0.0, "max": 2.0},
    "k": {"value": "const"},
    "lv": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0},
    "le": {"distribution": "log_uniform", "min": -5, "max": 0},
    "il": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10},
    "ie": {"distribution": "inv_log_uniform", "min": 0, "max": 3},
    "qu": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
    "qlv": {"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 1},
    "n": {"distribution": "normal", "mu": 3, "sigma": 0.5},
    "qn": {"distribution": "q_normal", "mu": 0, "sigma": 2, "q": 0.5},
    "ln": {"distribution": "log_normal"},
    "b": {"distribution": "beta", "a": 2, "b": 3},
    "qb": {"distribution": "q_beta", "q": 0.25},
    "nest": {"parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"values": [True, False]}}},
}


def check_valid(config: Any, p: dict[str, Any]) -> None:
    """`p` is a value set random search could have produced: in the support, bounds and types."""
    for path, spec in P.flatten(config.parameters):
        v = P.lookup(p, path)
        assert v is not P.MISSING, path
        where = f"{'.'.join(path)}={v!r} ({spec.distribution})"
        if spec.distribution == "constant":
            assert v == spec.value, where
            continue
        support = spec.support()
        if support is not None:
            match = [s for s, _ in support if P.canon(s) == P.canon(v)]
            assert match and type(v) is type(match[0]), where
            continue
        lo, hi = spec.ppf(0.0), spec.ppf(1.0)
        assert P.is_number(v) and math.isfinite(v) and lo <= v <= hi, where
        if spec.distribution == "int_uniform":
            assert type(v) is int, where


def test_every_parameter_kind_is_proposed_within_its_bounds_and_choices() -> None:
    c = cfg(EVERY_KIND)
    trials: list[Trial] = []
    seen_w: set[int] = set()
    for i in range(16):
        p = next_params(c, trials, seed=0)
        assert p is not None
        check_valid(c, p)
        assert type(p["i"]) is int and type(p["qu"]) is int and p["qu"] % 2 == 0 and p["w"] != 2
        seen_w.add(p["w"])
        state = ("finished", "finished", "running", "failed")[i % 4]
        trials.append(Trial(f"r{i}", p, state, [float((i * 7) % 5)] if state != "failed" else []))
    assert seen_w <= {1, 3}


def test_discrete_spaces_do_not_repeat_a_combination_while_others_remain() -> None:
    # 12 combinations; the acquisition is evaluated at runnable points only, where a tried one has no
    # expected improvement left
    c = cfg({"c": {"values": ["a", "b", "c"]}, "i": {"min": 0, "max": 3}})
    ps = run(c, lambda p: (p["i"] - 2) ** 2 + (p["c"] != "b"), 10, seed=4)
    assert len({(p["c"], p["i"]) for p in ps}) == 10


# --- goal ------------------------------------------------------------------------------------------------
def test_maximize_is_minimize_of_the_negated_metric() -> None:
    lo = run(cfg(BOX), quadratic, 10, seed=5)
    hi = run(cfg(BOX, goal="maximize"), lambda p: -quadratic(p), 10, seed=5)
    assert hi == lo
    # and the goal matters: maximising the quadratic itself heads for the corners
    up = run(cfg(BOX, goal="maximize"), quadratic, 14, seed=5)
    assert max(quadratic(p) for p in up[4:]) > 0.9 * quadratic({"a": -5.0, "b": 5.0})
    assert max(quadratic(p) for p in lo[4:]) < max(quadratic(p) for p in up[4:])


# --- failed and in-flight trials --------------------------------------------------------------------------
def test_what_the_gp_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from runstore.sweeps import gp

    seen: dict[str, Any] = {}

    def fake(x: Any, y: Any, pending: Any, levels: Any, rng: Any) -> list[float]:
        seen.update(x=x, y=y, pending=pending, levels=levels)
        return [0.5] * len(levels)

    monkeypatch.setattr(gp, "propose", fake)
    c = cfg({"x": {"min": 0.0, "max": 10.0}, "c": {"values": ["p", "q"]}}, goal="maximize")
    trials = [
        Trial("a", {"x": 1.0, "c": "p"}, "finished", [0.5, 2.0]),  # best of history: 2.0
        Trial("b", {"x": 2.0, "c": "q"}, "finished", [], 1.0),
        Trial("c", {"x": 3.0, "c": "p"}, "failed", []),  # imputed: the worst seen, 0.5
        Trial("d", {"x": 4.0, "c": "q"}, "running", [9.0]),  # in flight
        Trial("e", {"x": 5.0, "c": "p"}, "proposed"),  # in flight
        Trial("f", {"x": 6.0}, "finished", [3.0]),  # no value for c: left out
        Trial("g", {"x": 7.0, "c": "zz"}, "finished", [3.0]),  # not one of the values: left out
        Trial("h", {"x": "big", "c": "p"}, "finished", [3.0]),  # not a number: left out
    ]
    p = next_params(c, trials, seed=0)
    assert seen["y"] == [-2.0, -1.0, -0.5]  # maximize: negated for the minimiser
    assert seen["x"] == [[0.25, 0.1], [0.75, 0.2], [0.25, 0.3]]  # parameters in name order: c, x
    assert seen["pending"] == [[0.75, 0.4], [0.25, 0.5]]
    assert seen["levels"][1] is None and list(seen["levels"][0]) == [0.25, 0.75]
    assert p == {"c": "p", "x": 5.0}


def test_an_in_flight_trial_steers_the_next_proposal_elsewhere() -> None:
    c = cfg({"x": {"min": 0.0, "max": 1.0}})
    trials = [
        Trial(f"r{i}", {"x": x}, "finished", [(x - 0.62) ** 2]) for i, x in enumerate((0.1, 0.3, 0.9, 0.5))
    ]
    alone = next_params(c, [*trials, Trial("z", {}, "finished", [1.0])], seed=2)  # left out: no x
    assert alone is not None and abs(alone["x"] - 0.62) < 0.05
    busy = next_params(c, [*trials, Trial("z", {"x": alone["x"]}, "running")], seed=2)
    assert busy is not None and abs(busy["x"] - alone["x"]) > 0.02


def test_failed_trials_are_imputed_worst_and_avoided() -> None:
    c = cfg({"x": {"min": 0.0, "max": 1.0}})
    around = [
        Trial(f"r{i}", {"x": x}, "finished", [(x - 0.5) ** 2]) for i, x in enumerate((0.1, 0.3, 0.7, 0.9))
    ]
    alone = next_params(c, [*around, Trial("f", {}, "failed", [])], seed=1)  # left out: no x
    failed = next_params(c, [*around, Trial("f", {"x": 0.5}, "failed", [])], seed=1)
    assert alone is not None and failed is not None
    assert abs(alone["x"] - 0.5) < 0.05  # the bowl's bottom
    assert abs(failed["x"] - 0.5) > 0.05  # failed there (imputed the worst value, 0.16): elsewhere


def test_one_diverged_run_does_not_flatten_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from runstore.sweeps import gp

    c = cfg({"x": {"min": 0.0, "max": 1.0}})

    def best_after_10() -> float:
        trials = [Trial("boom", {"x": 0.7}, "finished", [1e9])]  # a diverged run
        for i in range(10):
            p = next_params(c, trials, seed=0)
            assert p is not None
            trials.append(Trial(f"r{i}", p, "finished", [(p["x"] - 0.3) ** 2]))
        return min((t.params["x"] - 0.3) ** 2 for t in trials[1:])

    # clipped (to q75 + 10 (q75 - best)), the outlier leaves the others' differences visible to the GP
    assert best_after_10() <= 1e-6
    monkeypatch.setattr(gp, "CLIP", math.inf)
    assert best_after_10() > 1e-4  # unclipped, 1e9 flattens them: the search wanders


def test_all_equal_values_and_duplicates_are_fine() -> None:
    c = cfg({"x": {"min": 0.0, "max": 1.0}, "c": {"values": [1, 2]}})
    trials = [Trial(f"r{i}", {"x": 0.5, "c": 1}, "finished", [1.0]) for i in range(6)]
    p = next_params(c, trials, seed=0)
    assert p is not None and 0.0 <= p["x"] <= 1.0 and p["c"] in (1, 2)


# --- validity on random spaces (property) ----------------------------------------------------------------
def _bounds(lo: float, hi: float, ints: bool = False) -> Any:
    num = st.integers(int(lo), int(hi)) if ints else st.floats(lo, hi, allow_nan=False)
    return st.tuples(num, num).filter(lambda t: t[0] < t[1] and (ints or t[1] - t[0] > 1e-6))


_SPEC = st.one_of(
    st.lists(
        st.one_of(st.integers(-3, 3), st.text(max_size=3), st.booleans(), st.none()), min_size=1, max_size=5
    ).map(lambda v: {"values": v}),
    _bounds(-100, 100, ints=True).map(lambda t: {"min": t[0], "max": t[1]}),
    _bounds(-1e3, 1e3).map(lambda t: {"distribution": "uniform", "min": t[0], "max": t[1]}),
    _bounds(1e-6, 1e3).map(lambda t: {"distribution": "log_uniform_values", "min": t[0], "max": t[1]}),
    _bounds(1e-3, 1e2).map(lambda t: {"distribution": "inv_log_uniform_values", "min": t[0], "max": t[1]}),
    _bounds(-10, 5).map(lambda t: {"distribution": "log_uniform", "min": t[0], "max": t[1]}),
    st.tuples(_bounds(0, 50, ints=True), st.sampled_from([1, 2, 0.5, 0.1])).map(
        lambda t: {"distribution": "q_uniform", "min": t[0][0], "max": t[0][1], "q": t[1]}
    ),
    st.tuples(st.floats(-5, 5), st.floats(0.0, 3.0)).map(
        lambda t: {"distribution": "normal", "mu": t[0], "sigma": t[1]}
    ),
    st.tuples(st.floats(0.5, 5), st.floats(0.5, 5)).map(
        lambda t: {"distribution": "beta", "a": t[0], "b": t[1]}
    ),
    st.integers(0, 9).map(lambda v: {"value": v}),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    space=st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), _SPEC, min_size=1, max_size=4),
    history=st.lists(
        st.tuples(st.sampled_from(["finished", "failed", "running", "crashed"]), st.floats(-1e6, 1e6)),
        max_size=7,
    ),
    seed=st.integers(0, 2**31),
    goal=st.sampled_from(["minimize", "maximize"]),
)
def test_proposals_are_always_valid(
    space: dict[str, Any], history: list[tuple[str, float]], seed: int, goal: str
) -> None:
    c = cfg(space, goal=goal)
    rnd = parse_config({"method": "random", "parameters": space})
    trials: list[Trial] = []
    for i, (state, value) in enumerate(history):  # earlier runs proposed by random search
        p = next_params(rnd, trials, seed=seed)
        assert p is not None
        trials.append(Trial(f"r{i}", p, state, [value] if state != "crashed" else []))
    for _ in range(2):
        p = next_params(c, trials, seed=seed)
        assert p is not None
        check_valid(c, p)
        trials.append(Trial(f"b{len(trials)}", p, "finished", [float(len(trials))]))


# --- sample efficiency -----------------------------------------------------------------------------------
def test_sample_efficiency_beats_what_random_search_reaches_by_chance() -> None:
    # 2-D quadratic on [-5, 5]², minimum 0 at (1, -2). After 15 proposals the GP's best is within 0.03 of
    # the minimiser (f <= 1e-3). A uniform random proposal lands there with probability
    # pi * 0.0316² / 100 = 3.1e-5, so random search at this budget does with 1 - (1 - 3.1e-5)^15 = 4.7e-4.
    ps = run(cfg(BOX), quadratic, 15, seed=0)
    assert min(quadratic(p) for p in ps) <= 1e-3
    # and it is not one lucky seed: 3 of 3 seeds; random search: (4.7e-4)^3 ~ 1e-10
    for seed in (1, 2):
        assert min(quadratic(p) for p in run(cfg(BOX), quadratic, 15, seed=seed)) <= 1e-3
