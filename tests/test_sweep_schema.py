"""Sweep config validation, distribution inference and sampling bounds (docs/COMPAT.md §11.1–11.2)."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstore.sweeps import SweepConfigError, parse_config, warnings
from runstore.sweeps import params as P


def problems(cfg: Any) -> list[str]:
    with pytest.raises(SweepConfigError) as e:
        parse_config(cfg)
    assert str(e.value) == "\n".join(e.value.problems)
    assert isinstance(e.value, ValueError)
    return e.value.problems


def one(cfg: Any) -> str:
    ps = problems(cfg)
    assert len(ps) == 1, ps
    return ps[0]


def base(**params: Any) -> dict[str, Any]:
    return {"method": "random", "parameters": params}


# --- inference order -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, dist",
    [
        ({"value": 3}, "constant"),
        ({"values": [1, "a", [2]]}, "categorical"),
        ({"values": [1, 2], "probabilities": [0.25, 0.75]}, "categorical_w_probabilities"),
        ({"min": 1, "max": 10}, "int_uniform"),
        ({"min": 0.0, "max": 1.0}, "uniform"),
        ({"min": 0, "max": 1.5}, "uniform"),
        ({"min": 0.5, "max": 2}, "uniform"),
        ({"distribution": "uniform", "min": 0, "max": 1}, "uniform"),
        ({"distribution": "normal"}, "normal"),
        ({"distribution": "q_beta", "q": 0.1}, "q_beta"),
        ({"parameters": {"a": {"value": 1}}}, "nested"),
    ],
)
def test_inference(spec: dict[str, Any], dist: str) -> None:
    assert P.infer_distribution(spec) == dist
    cfg = parse_config(base(p=spec))
    assert cfg.parameters["p"].distribution == dist


def test_inference_order_is_wandbs() -> None:
    assert P.INFERENCE_ORDER[:6] == (
        "q_beta",
        "beta",
        "categorical",
        "categorical_w_probabilities",
        "int_uniform",
        "uniform",
    )
    assert P.INFERENCE_ORDER[-1] == "nested" and len(P.INFERENCE_ORDER) == 19


def test_defaults_filled() -> None:
    cfg = parse_config(
        base(
            a={"distribution": "normal"},
            b={"distribution": "q_beta"},
            c={"distribution": "q_uniform", "min": 0, "max": 10},
        )
    )
    a, b, c = (cfg.parameters[k] for k in "abc")
    assert (a.mu, a.sigma) == (0.0, 1.0)
    assert (b.a, b.b, b.q) == (1.0, 1.0, 1)
    assert c.q == 1


def test_full_config_parses(tmp_path: Path) -> None:
    f = tmp_path / "sweep.yaml"
    f.write_text(
        "program: train.py\nmethod: bayes\nname: s\ndescription: d\nrun_cap: 20\n"
        "metric: {name: val_loss, goal: minimize, target: 0.1}\n"
        "early_terminate: {type: hyperband, min_iter: 3}\n"
        "command:\n  - ${env}\n  - ${interpreter}\n  - ${program}\n  - --epochs\n  - 5\n  - ${args}\n"
        "parameters:\n"
        "  lr: {distribution: log_uniform_values, min: 1e-5, max: 1e-1}\n"
        "  optimizer:\n"
        "    parameters:\n"
        "      name: {values: [adam, sgd]}\n"
        "      momentum: {min: 0.0, max: 0.99}\n"
        "  batch_size: {value: 64}\n"
    )
    cfg = parse_config(f)
    assert cfg.method == "bayes" and cfg.program == "train.py" and cfg.run_cap == 20
    assert cfg.metric is not None and (cfg.metric.name, cfg.metric.goal, cfg.metric.target) == (
        "val_loss",
        "minimize",
        0.1,
    )
    assert cfg.early_terminate == {"type": "hyperband", "min_iter": 3, "eta": 3, "strict": True}
    assert cfg.command is not None and cfg.command[3:5] == ["--epochs", "5"]
    assert cfg.parameters["lr"].min == 1e-5  # YAML 1.2 float, not the string "1e-5"
    assert cfg.parameters["optimizer"].parameters["name"].values == ("adam", "sgd")
    assert cfg.raw["parameters"]["batch_size"] == {"value": 64}
    assert warnings(cfg) == []


def test_max_iter_form_normalized() -> None:
    cfg = parse_config(
        {
            **base(a={"values": [1]}),
            "metric": {"name": "m"},
            "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3, "strict": False},
        }
    )
    assert cfg.early_terminate == {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3, "strict": False}


# --- every invalid config gives its clear error ----------------------------------------------------------
def test_method_sideways() -> None:
    msg = one({"method": "sideways", "parameters": {"a": {"values": [1]}}})
    assert msg.startswith("method:") and "sideways" in msg and "grid, random or bayes" in msg


def test_method_missing() -> None:
    assert one({"parameters": {"a": {"values": [1]}}}).startswith("method: missing")


def test_min_greater_than_max() -> None:
    msg = one(base(lr={"min": 0.1, "max": 0.001}))
    assert msg.startswith("parameters.lr:") and "greater than max" in msg and "swap" in msg


def test_min_equals_max() -> None:
    assert "value: 3" in one(base(n={"min": 3, "max": 3}))


def test_continuous_parameter_in_grid() -> None:
    msg = one({"method": "grid", "parameters": {"a": {"values": [1, 2]}, "lr": {"min": 0.0, "max": 1.0}}})
    assert msg.startswith("parameters.lr:") and "disallowed type with grid search" in msg and "values" in msg


@pytest.mark.parametrize(
    "spec",
    [
        {"values": [1, 2], "probabilities": [0.5, 0.5]},
        {"distribution": "normal"},
        {"distribution": "log_uniform_values", "min": 1e-3, "max": 1.0},
    ],
)
def test_grid_rejects_non_enumerable(spec: dict[str, Any]) -> None:
    assert "grid" in one({"method": "grid", "parameters": {"x": spec}})


def test_nested_grid_rejection_names_the_path() -> None:
    msg = one({"method": "grid", "parameters": {"opt": {"parameters": {"lr": {"min": 0.0, "max": 1.0}}}}})
    assert msg.startswith("parameters.opt.parameters.lr:")


def test_unknown_distribution() -> None:
    msg = one(base(lr={"distribution": "unifrom", "min": 0, "max": 1}))
    assert msg.startswith("parameters.lr.distribution:") and "did you mean 'uniform'" in msg


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("method: grid\nparameters:\n  lr: {values: [1, 2]\n  b: 3\n")
    msg = one(f)
    assert str(f) in msg and "line 4" in msg and "line 3" in msg and "YAML" in msg


def test_yaml_missing_and_empty_files(tmp_path: Path) -> None:
    assert "no such file" in one(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert "empty" in one(tmp_path / "empty.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n")
    assert "mapping" in one(tmp_path / "list.yaml")


def test_all_problems_at_once() -> None:
    ps = problems(
        {
            "method": "sideways",
            "colour": 1,
            "run_cap": 0,
            "parameters": {
                "a": {"min": 2, "max": 1},
                "b": {"distribution": "gaussian"},
                "c": {"values": [1, 2], "probabilities": [0.5]},
            },
        }
    )
    keys = [p.split(":")[0] for p in ps]
    assert keys == [
        "colour",
        "method",
        "parameters.a",
        "parameters.b.distribution",
        "parameters.c.probabilities",
        "run_cap",
    ]
    assert "did you mean" not in ps[0] or "colour" in ps[0]


@pytest.mark.parametrize(
    "cfg, key, words",
    [
        (base(a={"values": []}), "parameters.a.values", "non-empty"),
        (base(a={"values": [1, 2], "probabilities": [0.5, 0.6]}), "parameters.a.probabilities", "sum to 1.1"),
        (base(a={"values": [1, 2], "probabilities": [1.5, -0.5]}), "parameters.a.probabilities", ">= 0"),
        (base(a={"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}), "parameters.a.q", "> 0"),
        (base(a={"distribution": "normal", "sigma": -1}), "parameters.a.sigma", ">= 0"),
        (base(a={"distribution": "beta", "a": 0}), "parameters.a.a", "> 0"),
        (base(a={"distribution": "log_uniform_values", "min": 0, "max": 1}), "parameters.a.min", "min > 0"),
        (base(a={"distribution": "int_uniform", "min": 0.5, "max": 3}), "parameters.a.min", "integer"),
        (base(a={"distribution": "uniform", "min": "0", "max": 1}), "parameters.a.min", "number"),
        (base(a={"distribution": "uniform", "min": 0}), "parameters.a", "needs `max`"),
        (base(a={"distribution": "normal", "min": 0}), "parameters.a.min", "not a key of normal"),
        (base(a={"min": 1}), "parameters.a", "both `min` and `max`"),
        (base(a={"mu": 1}), "parameters.a", "explicit `distribution`"),
        (base(a={"value": 1, "values": [1]}), "parameters.a", "can't tell"),
        (base(a={"valeus": [1]}), "parameters.a.valeus", "did you mean 'values'"),
        (base(a=5), "parameters.a", "must be a mapping"),
        (base(**{"1a": {"value": 1}}), "parameters.1a", "invalid parameter name"),
        ({"method": "random", "parameters": {}}, "parameters", "non-empty"),
        ({"method": "random"}, "parameters", "missing"),
        ({"method": "custom", "parameters": {"a": {"value": 1}}}, "method", "not supported"),
        ({**base(a={"value": 1}), "scheduler": {"engine": "optuna"}}, "scheduler", "not supported"),
        (
            {"method": "bayes", "parameters": {"a": {"min": 0.0, "max": 1.0}}},
            "metric",
            "required by method: bayes",
        ),
        (
            {**base(a={"value": 1}), "metric": {"name": "m", "goal": "maximise"}},
            "metric.goal",
            "did you mean 'maximize'",
        ),
        ({**base(a={"value": 1}), "metric": {"goal": "minimize"}}, "metric.name", "missing"),
        ({**base(a={"value": 1}), "metric": {"name": "m", "target": "high"}}, "metric.target", "number"),
        ({**base(a={"value": 1}), "metric": {"name": "m", "impute": "zero"}}, "metric.impute", "worst"),
        (
            {**base(a={"value": 1}), "early_terminate": {"type": "hyperband", "min_iter": 3}},
            "metric",
            "early_terminate",
        ),
        (
            {**base(a={"value": 1}), "metric": {"name": "m"}, "early_terminate": {"min_iter": 3}},
            "early_terminate.type",
            "hyperband",
        ),
        (
            {
                **base(a={"value": 1}),
                "metric": {"name": "m"},
                "early_terminate": {"type": "median", "min_iter": 3},
            },
            "early_terminate.type",
            "only `hyperband`",
        ),
        (
            {**base(a={"value": 1}), "metric": {"name": "m"}, "early_terminate": {"type": "hyperband"}},
            "early_terminate",
            "min_iter",
        ),
        (
            {
                **base(a={"value": 1}),
                "metric": {"name": "m"},
                "early_terminate": {"type": "hyperband", "max_iter": 9},
            },
            "early_terminate.s",
            "needs `s`",
        ),
        (
            {
                **base(a={"value": 1}),
                "metric": {"name": "m"},
                "early_terminate": {"type": "hyperband", "min_iter": 0},
            },
            "early_terminate.min_iter",
            ">= 1",
        ),
        (
            {
                **base(a={"value": 1}),
                "metric": {"name": "m"},
                "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 1},
            },
            "early_terminate.eta",
            "> 1",
        ),
        (
            {
                **base(a={"value": 1}),
                "metric": {"name": "m"},
                "early_terminate": {"type": "hyperband", "min_iter": 2, "strict": "yes"},
            },
            "early_terminate.strict",
            "true or false",
        ),
        (
            {
                **base(a={"value": 1}),
                "metric": {"name": "m"},
                "early_terminate": {"type": "hyperband", "max_iter": 2, "s": 1, "eta": 3},
            },
            "early_terminate",
            "no bracket",
        ),
        ({**base(a={"value": 1}), "run_cap": -1}, "run_cap", "integer > 0"),
        ({**base(a={"value": 1}), "run_cap": True}, "run_cap", "integer > 0"),
        ({**base(a={"value": 1}), "command": "python train.py"}, "command", "list"),
        ({**base(a={"value": 1}), "command": ["python", {"x": 1}]}, "command", "string"),
        ({**base(a={"value": 1}), "program": 5}, "program", "string"),
        ({**base(a={"value": 1}), "nmae": "x"}, "nmae", "did you mean 'name'"),
    ],
)
def test_invalid(cfg: dict[str, Any], key: str, words: str) -> None:
    msg = one(cfg)
    assert msg.split(":")[0] == key, msg
    assert words in msg, msg
    assert "—" in msg or "must" in msg  # every message says how to fix it


def test_not_a_config() -> None:
    with pytest.raises(TypeError):
        parse_config(42)  # type: ignore[arg-type]


# --- warnings --------------------------------------------------------------------------------------------
def test_log_uniform_deprecation_warning() -> None:
    cfg = parse_config(base(lr={"distribution": "log_uniform", "min": -9.2, "max": -2.3}))
    (w,) = warnings(cfg)
    assert w.startswith("parameters.lr:") and "exponents" in w and "log_uniform_values" in w


def test_early_terminate_extra_keys_are_warnings() -> None:
    cfg = parse_config(
        {
            **base(a={"value": 1}),
            "metric": {"name": "m"},
            "early_terminate": {"type": "hyperband", "min_iter": 2, "max_iter": 9, "s": 2, "foo": 1},
        }
    )
    ws = warnings(cfg)
    assert any("foo" in w for w in ws) and any("max_iter + s is used" in w for w in ws)
    assert "max_iter" in cfg.early_terminate and "min_iter" not in cfg.early_terminate


# --- sampling: bounds and types (hypothesis) -------------------------------------------------------------
def spec(d: dict[str, Any]) -> P.ParamSpec:
    parsed, errs = P.parse_param("p", d)
    assert not errs and parsed is not None, errs
    return parsed


units = st.floats(0.0, 1.0)
bounds = st.tuples(st.floats(-1e3, 1e3), st.floats(1e-3, 1e3)).map(lambda t: (t[0], t[0] + t[1]))
pos_bounds = st.tuples(st.floats(1e-6, 1e3), st.floats(1.01, 1e3)).map(lambda t: (t[0], t[0] * t[1]))


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(-100, 100), width=st.integers(1, 100), u=units)
def test_int_uniform(lo: int, width: int, u: float) -> None:
    v = spec({"min": lo, "max": lo + width}).ppf(u)
    assert type(v) is int and lo <= v <= lo + width


@settings(max_examples=60, deadline=None)
@given(b=bounds, u=units)
def test_uniform(b: tuple[float, float], u: float) -> None:
    s = spec({"min": b[0], "max": b[1]})
    v = s.ppf(u)
    assert isinstance(v, float) and b[0] <= v <= b[1]
    assert s.cdf(v) == pytest.approx(u, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(b=bounds, q=st.sampled_from([1, 2, 0.25, 0.1]), u=units)
def test_q_uniform(b: tuple[float, float], q: float, u: float) -> None:
    v = spec({"distribution": "q_uniform", "min": b[0], "max": b[1], "q": q}).ppf(u)
    assert isinstance(v, int) if isinstance(q, int) else isinstance(v, float)
    assert b[0] - q / 2 - 1e-9 <= v <= b[1] + q / 2 + 1e-9
    assert abs(v / q - round(v / q)) < 1e-6


@settings(max_examples=60, deadline=None)
@given(b=pos_bounds, u=units, dist=st.sampled_from(["log_uniform_values", "inv_log_uniform_values"]))
def test_log_uniform_values(b: tuple[float, float], u: float, dist: str) -> None:
    s = spec({"distribution": dist, "min": b[0], "max": b[1]})
    v = s.ppf(u)
    assert isinstance(v, float) and b[0] * (1 - 1e-9) <= v <= b[1] * (1 + 1e-9)
    assert s.cdf(v) == pytest.approx(u, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(lo=st.floats(-20, 5), width=st.floats(0.01, 10), u=units)
def test_log_uniform_exponents(lo: float, width: float, u: float) -> None:
    hi = lo + width
    v = spec({"distribution": "log_uniform", "min": lo, "max": hi}).ppf(u)
    assert math.exp(lo) * (1 - 1e-9) <= v <= math.exp(hi) * (1 + 1e-9)
    w = spec({"distribution": "inv_log_uniform", "min": lo, "max": hi}).ppf(u)
    assert math.exp(-hi) * (1 - 1e-9) <= w <= math.exp(-lo) * (1 + 1e-9)


@settings(max_examples=60, deadline=None)
@given(b=pos_bounds, q=st.sampled_from([1, 0.5]), u=units)
def test_q_log_uniform_values(b: tuple[float, float], q: float, u: float) -> None:
    v = spec({"distribution": "q_log_uniform_values", "min": b[0], "max": b[1], "q": q}).ppf(u)
    assert isinstance(v, int) if isinstance(q, int) else isinstance(v, float)
    assert b[0] - q <= v <= b[1] + q


@settings(max_examples=60, deadline=None)
@given(mu=st.floats(-10, 10), sigma=st.floats(0.01, 5), u=units)
def test_normal_family(mu: float, sigma: float, u: float) -> None:
    n = spec({"distribution": "normal", "mu": mu, "sigma": sigma})
    assert math.isfinite(n.ppf(u))
    assert spec({"distribution": "log_normal", "mu": mu, "sigma": sigma}).ppf(u) > 0
    assert type(spec({"distribution": "q_normal", "mu": mu, "sigma": sigma}).ppf(u)) is int
    assert type(spec({"distribution": "q_log_normal", "mu": mu, "sigma": sigma, "q": 0.5}).ppf(u)) is float
    if 0.001 < u < 0.999:
        assert n.cdf(n.ppf(u)) == pytest.approx(u, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.2, 8), b=st.floats(0.2, 8), u=units)
def test_beta(a: float, b: float, u: float) -> None:
    s = spec({"distribution": "beta", "a": a, "b": b})
    v = s.ppf(u)
    assert 0.0 <= v <= 1.0
    assert s.cdf(v) == pytest.approx(u, abs=1e-6)
    assert spec({"distribution": "q_beta", "a": a, "b": b, "q": 0.1}).ppf(u) in {
        round(i * 0.1, 1) for i in range(11)
    }


def test_beta_cdf_known_values() -> None:
    assert P.beta_cdf(0.3, 1, 1) == pytest.approx(0.3)
    assert P.beta_cdf(0.3, 2, 1) == pytest.approx(0.09)
    assert P.beta_cdf(0.5, 3, 3) == pytest.approx(0.5)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.integers(), st.text(max_size=3), st.booleans()), min_size=1, max_size=6),
    u=units,
)
def test_categorical(values: list[Any], u: float) -> None:
    assert spec({"values": values}).ppf(u) in values


def test_weighted_categorical_respects_weights() -> None:
    s = spec({"values": ["a", "b", "c"], "probabilities": [0.0, 0.2, 0.8]})
    rng = random.Random(0)
    draws = [s.sample(rng) for _ in range(5000)]
    assert "a" not in draws and s.ppf(1.0) == "c" and s.ppf(0.0) == "b"
    assert draws.count("c") / len(draws) == pytest.approx(0.8, abs=0.03)


def test_support_of_q_uniform_sums_to_one() -> None:
    sup = spec({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}).support()
    assert sup is not None and [v for v, _ in sup] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert sum(p for _, p in sup) == pytest.approx(1.0)
    assert sup[0][1] == pytest.approx(0.125)  # the end points get half a bucket


def test_quantized_floats_are_clean() -> None:
    s = spec({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1})
    assert {repr(s.ppf(u / 100)) for u in range(101)} <= {repr(round(i * 0.1, 1)) for i in range(11)}


def test_integral_floats_equal_ints() -> None:
    assert P.canon(3e6) == P.canon(3000000)
    assert P.canon(True) != P.canon(1)
    assert P.canon({"b": 1, "a": 2.0}) == P.canon({"a": 2, "b": 1})
