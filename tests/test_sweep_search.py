"""Search: grid order and exhaustion, seeded random with dedup, bayes via Optuna (docs/COMPAT.md §11.8)."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest

from runstore.sweeps import SweepConfigError, Trial, next_params, parse_config
from runstore.sweeps import search as S


def cfg(method: str, parameters: dict[str, Any], **kw: Any) -> Any:
    return parse_config({"method": method, "parameters": parameters, **kw})


def drain(config: Any, limit: int = 1000, seed: int | None = None) -> list[dict[str, Any]]:
    trials: list[Trial] = []
    while len(trials) < limit and (p := next_params(config, trials, seed=seed)) is not None:
        trials.append(Trial(f"r{len(trials)}", p, "finished"))
    return [t.params for t in trials]


# --- grid ------------------------------------------------------------------------------------------------
def test_grid_verified_example() -> None:
    c = cfg(
        "grid",
        {
            "b": {"values": [1, 2]},
            "a": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25},
            "c": {"value": 7},
        },
    )
    runs = drain(c)
    assert runs == [{"a": a, "b": b, "c": 7} for a in (0, 0.25, 0.5, 0.75) for b in (1, 2)]
    assert next_params(c, [Trial(str(i), p) for i, p in enumerate(runs)]) is None


def test_grid_rejects_continuous_with_value_error() -> None:
    with pytest.raises(ValueError, match="disallowed type with grid search"):
        cfg("grid", {"a": {"min": 0.0, "max": 1.0}})


def test_grid_int_uniform_inclusive_and_order() -> None:
    runs = drain(cfg("grid", {"z": {"values": ["x", "y"]}, "m": {"min": 1, "max": 3}}))
    assert [(r["m"], r["z"]) for r in runs] == [(m, z) for m in (1, 2, 3) for z in ("x", "y")]
    assert list(runs[0]) == ["m", "z"]  # sorted names, as wandb's run config


def test_grid_is_exhaustive_without_duplicates() -> None:
    c = cfg(
        "grid",
        {
            "a": {"values": [1, 2, 3]},
            "b": {"values": [True, False]},
            "c": {"min": 0, "max": 4},
            "d": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 5},
        },
    )
    runs = drain(c)
    assert len(runs) == 3 * 2 * 5 * 2
    assert len({(r["a"], r["b"], r["c"], r["d"]) for r in runs}) == len(runs)


def test_grid_skips_existing_runs_in_any_state() -> None:
    c = cfg("grid", {"a": {"values": [1, 2, 3]}})
    trials = [Trial("x", {"a": 1}, "failed"), Trial("y", {"a": 3}, "running")]
    assert next_params(c, trials) == {"a": 2}
    trials.append(Trial("z", {"a": 2}, "crashed"))
    assert next_params(c, trials) is None


def test_grid_integral_floats_equal_ints_but_bools_do_not() -> None:
    c = cfg("grid", {"n": {"values": [3e6, 1, 2]}})
    assert next_params(c, [Trial("x", {"n": 3000000})]) == {"n": 1}
    assert next_params(c, [Trial("x", {"n": 3000000}), Trial("y", {"n": True})]) == {"n": 1}


def test_grid_ignores_trials_missing_a_parameter() -> None:
    c = cfg("grid", {"a": {"values": [1, 2]}, "b": {"values": [1]}})
    assert next_params(c, [Trial("x", {"a": 1})]) == {"a": 1, "b": 1}


def test_grid_nested_parameters() -> None:
    c = cfg(
        "grid",
        {
            "opt": {"parameters": {"name": {"values": ["adam", "sgd"]}, "lr": {"values": [0.1, 0.01]}}},
            "bs": {"value": 32},
        },
    )
    runs = drain(c)
    assert runs[0] == {"bs": 32, "opt": {"lr": 0.1, "name": "adam"}}
    assert [(r["opt"]["lr"], r["opt"]["name"]) for r in runs] == [
        (0.1, "adam"),
        (0.1, "sgd"),
        (0.01, "adam"),
        (0.01, "sgd"),
    ]
    # a run whose nested dict has extra keys still counts: compared on the sweep's keys
    trials = [Trial("x", {"bs": 32, "opt": {"lr": 0.1, "name": "adam", "extra": 1}})]
    assert next_params(c, trials) == runs[1]


def test_grid_dict_valued_categorical_compared_on_keys() -> None:
    c = cfg("grid", {"o": {"values": [{"a": 1, "b": 2}, {"a": 2, "b": 2}]}})
    assert next_params(c, [Trial("x", {"o": {"b": 2, "a": 1.0}})]) == {"o": {"a": 2, "b": 2}}


# --- random ----------------------------------------------------------------------------------------------
def test_random_is_seeded_and_varies() -> None:
    c = cfg(
        "random",
        {
            "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
            "bs": {"value": 64},
            "opt": {"parameters": {"m": {"min": 0.0, "max": 1.0}}},
        },
    )
    a, b = drain(c, 20, seed=7), drain(c, 20, seed=7)
    assert a == b and len({r["lr"] for r in a}) == 20
    assert drain(c, 20, seed=8) != a
    for r in a:
        assert 1e-5 <= r["lr"] <= 1e-1 and r["bs"] == 64 and 0.0 <= r["opt"]["m"] <= 1.0


def test_random_prefers_unseen_in_small_discrete_spaces() -> None:
    c = cfg("random", {"a": {"values": ["x", "y", "z"]}, "n": {"min": 1, "max": 3}, "k": {"value": 0}})
    runs = drain(c, 12, seed=3)
    first = [(r["a"], r["n"]) for r in runs[:9]]
    assert len(set(first)) == 9  # every combination once before any repeat
    assert len(runs) == 12  # random never ends by itself; after exhaustion, independent samples


def test_random_dedup_covers_q_uniform_and_weights() -> None:
    c = cfg(
        "random",
        {
            "q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.5},
            "w": {"values": ["a", "b"], "probabilities": [0.9, 0.1]},
        },
    )
    runs = drain(c, 6, seed=1)
    assert {(r["q"], r["w"]) for r in runs} == {(q, w) for q in (0.0, 0.5, 1.0) for w in "ab"}


def test_random_zero_weight_value_never_proposed() -> None:
    c = cfg("random", {"w": {"values": ["a", "b", "c"], "probabilities": [0.5, 0.5, 0.0]}})
    assert {r["w"] for r in drain(c, 20, seed=2)} == {"a", "b"}


def test_random_continuous_params_are_independent() -> None:
    c = cfg("random", {"a": {"values": [1, 2]}, "x": {"min": 0.0, "max": 1.0}})
    runs = drain(c, 10, seed=0)
    assert len({r["x"] for r in runs}) == 10


# --- bayes -----------------------------------------------------------------------------------------------
needs_optuna = pytest.mark.skipif(S.find_spec("optuna") is None, reason="optuna is not installed")

SHIFT = {"a": 1.0, "b": -2.0, "c": 0.5, "d": 3.0}


def quadratic(p: dict[str, Any]) -> float:
    return sum((p[k] - v) ** 2 for k, v in SHIFT.items())


def optimize(method: str, seed: int, budget: int = 30, goal: str = "minimize") -> float:
    c = cfg(method, {k: {"min": -5.0, "max": 5.0} for k in SHIFT}, metric={"name": "loss", "goal": goal})
    sign = 1 if goal == "minimize" else -1
    trials: list[Trial] = []
    for i in range(budget):
        p = next_params(c, trials, seed=seed)
        assert p is not None
        trials.append(Trial(f"r{i}", p, "finished", [sign * quadratic(p)]))
    return min(quadratic(t.params) for t in trials)


@needs_optuna
def test_bayes_improves_over_random() -> None:
    # same function, same budget (30), fixed seeds: the model-based search finds a better minimum
    assert optimize("bayes", 0) < optimize("random", 0)
    bayes = [optimize("bayes", s) for s in range(2)]
    rand = [optimize("random", s) for s in range(2)]
    assert sum(bayes) < sum(rand) / 2


@needs_optuna
def test_bayes_is_reproducible_with_a_seed() -> None:
    assert optimize("bayes", 5, budget=14) == optimize("bayes", 5, budget=14)


@needs_optuna
def test_bayes_maximize() -> None:
    assert optimize("bayes", 0, goal="maximize") < optimize("random", 0, goal="maximize")


@needs_optuna
def test_bayes_objective_is_best_of_history_and_imputes_failures() -> None:
    c = cfg("bayes", {"x": {"min": 0.0, "max": 1.0}}, metric={"name": "loss"})
    trials = [
        Trial("a", {"x": 0.1}, "finished", [5.0, 1.0, 3.0], 4.0),
        Trial("b", {"x": 0.2}, "finished", [], 2.0),
        Trial("c", {"x": 0.3}, "failed", [0.5]),
        Trial("d", {"x": 0.4}, "crashed", []),
        Trial("e", {"x": 0.5}, "running", [9.0]),
        Trial("f", {"x": 0.6}, "finished", [math.nan, math.inf]),
        Trial("g", {"y": 1}, "finished", [1.0]),
    ]
    assert S._observations(c, trials) == [1.0, 2.0, 5.0, 5.0, "running", 5.0, 1.0]
    c2 = cfg(
        "bayes",
        {"x": {"min": 0.0, "max": 1.0}},
        metric={"name": "acc", "goal": "maximize", "impute": "latest", "impute_while_running": "best"},
    )
    assert S._observations(c2, trials)[:5] == [5.0, 2.0, 0.5, 0.5, 9.0]
    p = next_params(c, trials, seed=1)
    assert p is not None and 0.0 <= p["x"] <= 1.0


@needs_optuna
def test_bayes_handles_every_distribution() -> None:
    params = {
        "cat": {"values": ["a", [1, 2], {"k": 1}]},
        "w": {"values": [1, 2], "probabilities": [0.3, 0.7]},
        "i": {"min": 1, "max": 5},
        "u": {"min": 0.0, "max": 2.0},
        "k": {"value": "const"},
        "lv": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1.0},
        "le": {"distribution": "log_uniform", "min": -5, "max": 0},
        "il": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10},
        "ie": {"distribution": "inv_log_uniform", "min": 0, "max": 3},
        "qu": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
        "n": {"distribution": "normal", "mu": 3, "sigma": 0.5},
        "ln": {"distribution": "log_normal"},
        "b": {"distribution": "beta", "a": 2, "b": 3},
        "qb": {"distribution": "q_beta", "q": 0.25},
        "nest": {"parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"values": [True, False]}}},
    }
    c = cfg("bayes", params, metric={"name": "m"})
    trials: list[Trial] = []
    for i in range(14):
        p = next_params(c, trials, seed=0)
        assert p is not None
        assert p["cat"] in ("a", [1, 2], {"k": 1}) and p["w"] in (1, 2) and p["k"] == "const"
        assert type(p["i"]) is int and 1 <= p["i"] <= 5 and 0.0 <= p["u"] <= 2.0
        assert 1e-4 <= p["lv"] <= 1.0 and math.exp(-5) <= p["le"] <= 1.0 and 0.1 <= p["il"] <= 10
        assert math.exp(-3) <= p["ie"] <= 1.0 and type(p["qu"]) is int and p["qu"] % 2 == 0
        assert p["ln"] > 0 and 0 <= p["b"] <= 1 and p["qb"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert set(p["nest"]) == {"x", "y"} and p["nest"]["y"] in (True, False)
        trials.append(Trial(f"r{i}", p, "finished" if i % 3 else "running", [float(i % 5)]))


def test_bayes_without_optuna(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delenv("RUNSTORE_BAYES_SAMPLER", raising=False)
    c = cfg("bayes", {"x": {"min": 0.0, "max": 1.0}}, metric={"name": "m"})
    if S.bayes_sampler() == "gp":  # the default needs scikit-learn, not optuna
        p = next_params(c, [])
        assert p is not None and 0.0 <= p["x"] <= 1.0
    monkeypatch.setenv("RUNSTORE_BAYES_SAMPLER", "tpe")
    with pytest.raises(ImportError, match=r"pip install 'runstore\[sweeps\]'"):
        next_params(c, [])


def test_bayes_sampler_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNSTORE_BAYES_SAMPLER", "tpe")
    assert S.bayes_sampler() == "tpe"
    monkeypatch.delenv("RUNSTORE_BAYES_SAMPLER")
    has_gp = all(S.find_spec(m) is not None for m in ("numpy", "scipy", "sklearn"))
    assert S.bayes_sampler() == ("gp" if has_gp else "tpe")


# --- speed (issue: grid/random ≤ 20 ms, bayes ≤ 1 s with 100 finished runs) -----------------------------
def test_unknown_method_config_never_reaches_search() -> None:
    with pytest.raises(SweepConfigError):
        cfg("sideways", {"a": {"value": 1}})
