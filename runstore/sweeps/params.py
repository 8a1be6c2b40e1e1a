"""Parameter specs of a sweep: parsing with wandb's distribution inference, sampling, the unit cube.

Every distribution is sampled through its inverse CDF (`ParamSpec.ppf(u)` with `u ~ U(0, 1)`), and
`ParamSpec.cdf(value)` maps a value back to `[0, 1]`; random search and the bayes search space both
rest on that pair (docs/COMPAT.md §11.2, §11.8). Pure Python on purpose (no numpy/scipy): the sweep library
must work with the core dependencies only.

Semantics kept from wandb, quirks included:
* `log_uniform`, `q_log_uniform`, `inv_log_uniform` take natural-log *exponents* as min/max
  (deprecated forms; `schema.warnings()` says so); the `*_values` forms take actual values.
* quantized distributions return `round(x / q) * q`, an int when `q` is an int.
Divergences (documented):
* `q` defaults to the int `1` (wandb's `q=1`), so e.g. `q_uniform` without `q` yields ints.
* float results of a quantization are cleaned to 12 significant digits (`0.3`, not
  `0.30000000000000004`), so argv and config values read the way the user wrote the grid.
"""

from __future__ import annotations

import difflib
import math
import random
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

# wandb's schema `parameter.anyOf` order: when `distribution` is omitted the first variant whose keys
# and types fit wins (most variants require an explicit `distribution`, so in practice the keys decide).
INFERENCE_ORDER: tuple[str, ...] = (
    "q_beta",
    "beta",
    "categorical",
    "categorical_w_probabilities",
    "int_uniform",
    "uniform",
    "log_normal",
    "log_uniform",
    "inv_log_uniform",
    "normal",
    "q_log_normal",
    "q_log_uniform",
    "q_normal",
    "q_uniform",
    "constant",
    "inv_log_uniform_values",
    "log_uniform_values",
    "q_log_uniform_values",
    "nested",
)
DISTRIBUTIONS: tuple[str, ...] = tuple(d for d in INFERENCE_ORDER if d != "nested")

# Keys each distribution takes (besides `distribution`), required ones first, with defaults.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "categorical": ("values",),
    "categorical_w_probabilities": ("values", "probabilities"),
    "int_uniform": ("min", "max"),
    "uniform": ("min", "max"),
    "q_uniform": ("min", "max"),
    "log_uniform": ("min", "max"),
    "log_uniform_values": ("min", "max"),
    "q_log_uniform": ("min", "max"),
    "q_log_uniform_values": ("min", "max"),
    "inv_log_uniform": ("min", "max"),
    "inv_log_uniform_values": ("min", "max"),
    "normal": (),
    "q_normal": (),
    "log_normal": (),
    "q_log_normal": (),
    "beta": (),
    "q_beta": (),
    "nested": ("parameters",),
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "q_uniform": {"q": 1},
    "q_log_uniform": {"q": 1},
    "q_log_uniform_values": {"q": 1},
    "normal": {"mu": 0.0, "sigma": 1.0},
    "log_normal": {"mu": 0.0, "sigma": 1.0},
    "q_normal": {"mu": 0.0, "sigma": 1.0, "q": 1},
    "q_log_normal": {"mu": 0.0, "sigma": 1.0, "q": 1},
    "beta": {"a": 1.0, "b": 1.0},
    "q_beta": {"a": 1.0, "b": 1.0, "q": 1},
}
# Only these may be inferred without an explicit `distribution` key (schema: the others require it).
_INFERABLE = frozenset(
    {"categorical", "categorical_w_probabilities", "int_uniform", "uniform", "constant", "nested"}
)
GRID_DISTRIBUTIONS = frozenset({"constant", "categorical", "int_uniform", "q_uniform"})
LOG_EXPONENT_DISTRIBUTIONS = frozenset({"log_uniform", "q_log_uniform", "inv_log_uniform"})
# A finite support is enumerated for random search's dedup only up to this many values per parameter.
_MAX_SUPPORT = 10_000
_EPS = 1e-12


def allowed_keys(distribution: str) -> tuple[str, ...]:
    return _REQUIRED[distribution] + tuple(_DEFAULTS.get(distribution, {}))


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fits(dist: str, spec: Mapping[str, Any]) -> bool:
    """Whether `spec` (without `distribution`) matches wandb's schema variant for `dist` structurally."""
    keys = set(spec) - {"distribution"}
    if not set(_REQUIRED[dist]) <= keys or not keys <= set(allowed_keys(dist)):
        return False
    if "distribution" in spec:
        return spec["distribution"] == dist and dist != "nested"
    if dist not in _INFERABLE:
        return False
    if dist == "int_uniform":
        return is_int(spec["min"]) and is_int(spec["max"])
    if dist == "uniform":  # the schema's inferred variants need a float on at least one side
        lo, hi = spec["min"], spec["max"]
        return is_number(lo) and is_number(hi) and (isinstance(lo, float) or isinstance(hi, float))
    return True


def infer_distribution(spec: Mapping[str, Any]) -> str | None:
    """The distribution wandb would pick for `spec`: the first schema variant (in order) that fits."""
    for dist in INFERENCE_ORDER:
        if _fits(dist, spec):
            return dist
    return None


def _clean(x: float) -> float:
    """Drop binary noise from a computed grid/quantized value (0.30000000000000004 -> 0.3)."""
    return float(f"{x:.12g}")


def _quantize(x: float, q: float) -> int | float:
    k = round(x / q)
    return int(k * q) if is_int(q) else _clean(k * q)


# --- regularized incomplete beta (continued fraction, Lentz) for Beta's CDF; its PPF is bisection ---
def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def beta_cdf(x: float, a: float, b: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_ppf(u: float, a: float, b: float) -> float:
    if u <= 0.0 or u >= 1.0:
        return min(max(u, 0.0), 1.0)
    lo, hi = 0.0, 1.0
    for _ in range(1100):  # until lo and hi are adjacent floats: full relative precision even near 0
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if beta_cdf(mid, a, b) < u:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@dataclass(frozen=True)
class ParamSpec:
    """One parsed parameter. `parameters` is set (and everything else unused) for a nested parameter."""

    distribution: str
    value: Any = None
    values: tuple[Any, ...] = ()
    probabilities: tuple[float, ...] = ()
    min: float = 0.0
    max: float = 1.0
    q: float = 1
    mu: float = 0.0
    sigma: float = 1.0
    a: float = 1.0
    b: float = 1.0
    parameters: dict[str, ParamSpec] = field(default_factory=dict)

    @property
    def searchable(self) -> bool:
        return self.distribution not in ("constant", "nested")

    def _lo_hi(self) -> tuple[float, float]:
        """The underlying uniform range: exponents for the log forms, natural logs for the *_values forms."""
        if self.distribution in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
            return math.log(self.min), math.log(self.max)
        return float(self.min), float(self.max)

    def _continuous_ppf(self, u: float) -> float:
        """Inverse CDF before quantization, for every non-categorical, non-int distribution."""
        d = self.distribution
        if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
            x = (
                self.mu
                if self.sigma == 0
                else NormalDist(self.mu, self.sigma).inv_cdf(min(max(u, _EPS), 1 - _EPS))
            )
            return math.exp(x) if "log" in d else x
        if d in ("beta", "q_beta"):
            return beta_ppf(u, self.a, self.b)
        lo, hi = self._lo_hi()
        if d == "inv_log_uniform":  # wandb: exp(-U(min, max)); increasing in u
            return math.exp(-(lo + (1.0 - u) * (hi - lo)))
        x = lo + u * (hi - lo)
        return x if d in ("uniform", "q_uniform") else math.exp(x)

    def _continuous_cdf(self, x: float) -> float:
        d = self.distribution
        if d in ("normal", "q_normal"):
            return NormalDist(self.mu, self.sigma).cdf(x) if self.sigma > 0 else float(x >= self.mu)
        if d in ("log_normal", "q_log_normal"):
            if x <= 0:
                return 0.0
            return (
                NormalDist(self.mu, self.sigma).cdf(math.log(x))
                if self.sigma > 0
                else float(math.log(x) >= self.mu)
            )
        if d in ("beta", "q_beta"):
            return beta_cdf(x, self.a, self.b)
        lo, hi = self._lo_hi()
        if d in ("uniform", "q_uniform"):
            u = (x - lo) / (hi - lo)
        elif x <= 0:
            u = 0.0
        elif d == "inv_log_uniform":
            u = 1.0 - (-math.log(x) - lo) / (hi - lo)
        else:
            u = (math.log(x) - lo) / (hi - lo)
        return min(max(u, 0.0), 1.0)

    def ppf(self, u: float) -> Any:
        """The value at quantile `u` in [0, 1] (inverse CDF); categoricals by index, ints inclusive."""
        u = min(max(float(u), 0.0), 1.0)
        d = self.distribution
        if d == "constant":
            return self.value
        if d == "categorical":
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        if d == "categorical_w_probabilities":
            cum = list(_cumsum(self.probabilities))
            i = min(bisect_right(cum, u * cum[-1]), len(cum) - 1)
            while i > 0 and self.probabilities[i] == 0:  # u == 1 must not land on a trailing zero weight
                i -= 1
            return self.values[i]
        if d == "int_uniform":
            n = int(self.max) - int(self.min) + 1
            return int(self.min) + min(int(u * n), n - 1)
        x = self._continuous_ppf(u)
        return _quantize(x, self.q) if d.startswith("q_") else x

    def cdf(self, value: Any) -> float:
        """The quantile of `value` in [0, 1] (the unit-cube coordinate); categoricals by index midpoint."""
        d = self.distribution
        if d == "constant":
            return 0.0
        if d in ("categorical", "categorical_w_probabilities"):
            i = index_of(self.values, value)
            if i is None:
                raise ValueError(f"{value!r} is not one of the values {list(self.values)!r}")
            return (i + 0.5) / len(self.values)
        if d == "int_uniform":
            n = int(self.max) - int(self.min) + 1
            return min(max((int(value) - int(self.min) + 0.5) / n, 0.0), 1.0)
        return min(max(self._continuous_cdf(float(value)), 0.0), 1.0)

    def sample(self, rng: random.Random) -> Any:
        return self.ppf(rng.random())

    def grid_values(self) -> Sequence[Any]:
        """The values grid search enumerates (wandb: int_uniform inclusive, q_uniform `arange`, max
        excluded), as a sequence computed on access: `int_uniform` from 0 to 10**12 is a valid axis and
        must not become a list of a trillion ints."""
        d = self.distribution
        if d == "constant":
            return [self.value]
        if d == "categorical":
            return list(self.values)
        if d == "int_uniform":
            return range(int(self.min), int(self.max) + 1)
        if d == "q_uniform":
            # numpy.arange(min, max, q) semantics: ceil((max-min)/q) points from min; ints iff all ints
            n = max(math.ceil((self.max - self.min) / self.q), 0)
            ints = is_int(self.min) and is_int(self.max) and is_int(self.q)
            return _Arange(self.min, self.q, n, ints)
        raise ValueError(f"distribution {d} cannot be enumerated by grid search")

    def support(self) -> list[tuple[Any, float]] | None:
        """Every value random sampling can produce, with its probability — None when not finite/small."""
        d = self.distribution
        if d == "categorical":
            return [(v, 1.0 / len(self.values)) for v in self.values]
        if d == "categorical_w_probabilities":
            total = sum(self.probabilities)
            return [(v, p / total) for v, p in zip(self.values, self.probabilities, strict=True) if p > 0]
        if d == "int_uniform":
            n = int(self.max) - int(self.min) + 1
            return [(int(self.min) + i, 1.0 / n) for i in range(n)] if n <= _MAX_SUPPORT else None
        if d in ("q_uniform", "q_log_uniform", "q_log_uniform_values", "q_beta"):
            lo, hi = self._continuous_ppf(0.0), self._continuous_ppf(1.0)
            k0, k1 = round(lo / self.q), round(hi / self.q)
            if k1 - k0 + 1 > _MAX_SUPPORT:
                return None
            out = []
            for k in range(k0, k1 + 1):  # mass of the pre-image [(k-.5)q, (k+.5)q] under the continuous law
                p = self._continuous_cdf((k + 0.5) * self.q) - self._continuous_cdf((k - 0.5) * self.q)
                if p > 0:
                    out.append((_quantize(k * self.q, self.q), min(p, 1.0)))
            return out
        return None


def _cumsum(xs: Iterable[float]) -> Iterable[float]:
    total = 0.0
    for x in xs:
        total += x
        yield total


def canon(v: Any) -> Any:
    """A hashable identity for a config value: integral floats equal ints (3e6 == 3000000, as wandb's
    grid dedup), but booleans stay distinct from 1/0; dicts compare on their keys and values."""
    if isinstance(v, bool) or v is None:
        return ("b", v)
    if isinstance(v, float):
        return ("n", int(v)) if v.is_integer() else ("n", v)
    if isinstance(v, int):
        return ("n", v)
    if isinstance(v, str):
        return ("s", v)
    if isinstance(v, (list, tuple)):
        return ("l", tuple(canon(x) for x in v))
    if isinstance(v, Mapping):
        return ("d", tuple(sorted((str(k), canon(x)) for k, x in v.items())))
    return ("r", repr(v))


def index_of(values: Iterable[Any], value: Any) -> int | None:
    key = canon(value)
    for i, v in enumerate(values):
        if canon(v) == key:
            return i
    return None


Path = tuple[str, ...]


def flatten(parameters: Mapping[str, ParamSpec], prefix: Path = ()) -> list[tuple[Path, ParamSpec]]:
    """Leaf parameters with their paths, in wandb's order: sorted by name, nested ones expanded in place."""
    out: list[tuple[Path, ParamSpec]] = []
    for name in sorted(parameters):
        spec = parameters[name]
        if spec.distribution == "nested":
            out.extend(flatten(spec.parameters, (*prefix, name)))
        else:
            out.append(((*prefix, name), spec))
    return out


def nest(flat: Iterable[tuple[Path, Any]]) -> dict[str, Any]:
    """Re-nest path -> value pairs into the run config's nested dicts."""
    out: dict[str, Any] = {}
    for path, value in flat:
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


_MISSING = object()


def lookup(params: Mapping[str, Any], path: Path) -> Any:
    """The value at `path` in a (nested) run config, or `MISSING`."""
    node: Any = params
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


MISSING = _MISSING


# --- parsing: one problem string per mistake, naming the key and the fix -------------------------------
NAME_RE = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
_ALL_KEYS = frozenset(k for d in INFERENCE_ORDER for k in allowed_keys(d)) | {"distribution"}


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_parameters(where: str, raw: Any) -> tuple[dict[str, ParamSpec], list[str]]:
    """Parse a `parameters:` mapping; `where` is the YAML path used in messages (e.g. "parameters")."""
    if not isinstance(raw, Mapping) or not raw:
        return {}, [
            f"{where}: must be a non-empty mapping of parameter names to specs, "
            f"e.g. {{lr: {{min: 0.0001, max: 0.1}}}}"
        ]
    out: dict[str, ParamSpec] = {}
    problems: list[str] = []
    for name, spec in raw.items():
        if not isinstance(name, str) or not re.match(NAME_RE, name):
            problems.append(
                f"{where}.{name}: invalid parameter name — use letters, digits, '_', '.', '-' "
                "and start with a letter or '_'"
            )
            continue
        parsed, errs = parse_param(f"{where}.{name}", spec)
        problems += errs
        if parsed is not None:
            out[name] = parsed
    return out, problems


def parse_param(where: str, raw: Any) -> tuple[ParamSpec | None, list[str]]:
    if not isinstance(raw, Mapping):
        return None, [
            f"{where}: must be a mapping such as {{value: 1}}, {{values: [1, 2]}} or "
            f"{{min: 0.0, max: 1.0}}, got {raw!r}"
        ]
    dist = infer_distribution(raw)
    if dist is None:
        return None, _diagnose(where, raw)
    if dist == "nested":
        children, problems = parse_parameters(f"{where}.parameters", raw["parameters"])
        return (ParamSpec("nested", parameters=children) if not problems else None), problems
    problems = _check(where, dist, raw)
    if problems:
        return None, problems
    fields: dict[str, Any] = {
        **_DEFAULTS.get(dist, {}),
        **{k: v for k, v in raw.items() if k != "distribution"},
    }
    if dist == "int_uniform":  # an explicit int_uniform may be written with integral floats (1.0)
        fields["min"], fields["max"] = int(fields["min"]), int(fields["max"])
    for key in ("values", "probabilities"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return ParamSpec(dist, **fields), []


def _diagnose(where: str, raw: Mapping[str, Any]) -> list[str]:
    """Why no schema variant fits: the likeliest intended distribution's missing/extra keys."""
    keys = set(raw)
    dist = raw.get("distribution")
    if "distribution" in raw:
        if not isinstance(dist, str) or dist not in DISTRIBUTIONS:
            return [
                f"{where}.distribution: unknown distribution {dist!r}{_suggest(str(dist), DISTRIBUTIONS)} "
                f"— use one of: {', '.join(sorted(DISTRIBUTIONS))}"
            ]
        problems = [f"{where}: {dist} needs `{k}` — add it" for k in _REQUIRED[dist] if k not in keys]
        allowed = allowed_keys(dist)
        problems += [
            f"{where}.{k}: not a key of {dist}{_suggest(k, allowed)} — remove it "
            f"({dist} takes: {', '.join(allowed) or 'no other keys'})"
            for k in sorted(keys - set(allowed) - {"distribution"}, key=str)
        ]
        return problems or [f"{where}: invalid {dist} parameter"]
    unknown = sorted((k for k in keys if k not in _ALL_KEYS), key=str)
    if unknown:
        return [
            f"{where}.{k}: unknown key{_suggest(str(k), _ALL_KEYS)} — a parameter takes value, values, "
            "probabilities, min, max, q, mu, sigma, a, b, distribution or parameters"
            for k in unknown
        ]
    if {"min", "max"} <= keys and keys <= {"min", "max"}:
        return [f"{where}: min and max must be numbers, got min={raw['min']!r}, max={raw['max']!r}"]
    if len(keys & {"min", "max"}) == 1 and keys <= {"min", "max"}:
        return [f"{where}: needs both `min` and `max` — add the missing one"]
    if keys & {"q", "mu", "sigma", "a", "b"}:
        return [
            f"{where}: keys {', '.join(sorted(keys))} need an explicit `distribution` "
            "(e.g. q_uniform, normal, beta) — add it"
        ]
    return [
        f"{where}: can't tell which distribution keys {sorted(keys)} describe — give `value` (constant), "
        "`values` (categorical), `values` + `probabilities`, `min` + `max` (int_uniform/uniform), "
        "`parameters` (nested) or an explicit `distribution`"
    ]


def _check(where: str, dist: str, raw: Mapping[str, Any]) -> list[str]:
    """Types and value constraints of a spec whose keys fit `dist`."""
    p: list[str] = []
    for key in ("min", "max", "q", "mu", "sigma", "a", "b"):
        if key in raw and not is_number(raw[key]):
            p.append(f"{where}.{key}: must be a number, got {raw[key]!r}")
        elif key in raw and not math.isfinite(raw[key]):  # every trial would get NaN
            p.append(f"{where}.{key}: must be a finite number, got {raw[key]!r}")
    if p:
        return p
    if dist == "int_uniform":
        p += [
            f"{where}.{k}: int_uniform needs an integer, got {raw[k]!r} — use an integer or "
            "`distribution: uniform`"
            for k in ("min", "max")
            if not float(raw[k]).is_integer()
        ]
    if "values" in raw and (not isinstance(raw["values"], list) or not raw["values"]):
        p.append(f"{where}.values: must be a non-empty list, got {raw['values']!r}")
    if dist == "categorical_w_probabilities" and not p:
        probs = raw["probabilities"]
        if not isinstance(probs, list) or not all(is_number(x) for x in probs):
            p.append(f"{where}.probabilities: must be a list of numbers, got {probs!r}")
        elif len(probs) != len(raw["values"]):
            p.append(
                f"{where}.probabilities: has {len(probs)} entries for {len(raw['values'])} values — "
                "give one probability per value"
            )
        elif any(x < 0 for x in probs):
            p.append(f"{where}.probabilities: must all be >= 0, got {probs!r}")
        elif not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
            p.append(f"{where}.probabilities: sum to {sum(probs):g}, not 1 — rescale them")
    if "min" in _REQUIRED[dist]:
        lo, hi = raw["min"], raw["max"]
        if lo > hi:
            p.append(f"{where}: min ({lo}) is greater than max ({hi}) — swap them so that min < max")
        elif lo == hi:
            p.append(f"{where}: min equals max ({lo}) — use `value: {lo}` for a constant, or widen the range")
        if dist.endswith("_values") and lo <= 0:
            p.append(
                f"{where}.min: {dist} takes actual values and needs min > 0, got {lo} — use a positive min"
            )
    if raw.get("q", 1) <= 0:
        p.append(f"{where}.q: must be > 0, got {raw['q']}")
    if raw.get("sigma", 1) < 0:
        p.append(f"{where}.sigma: must be >= 0, got {raw['sigma']}")
    p += [f"{where}.{k}: must be > 0, got {raw[k]}" for k in ("a", "b") if k in raw and raw[k] <= 0]
    return p


class _Arange(Sequence[Any]):
    """`min + i*q` for i < n, each computed when asked for (the values a q_uniform grid axis takes)."""

    def __init__(self, start: float, q: float, n: int, ints: bool) -> None:
        self._start, self._q, self._n, self._ints = start, q, n, ints

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        v = self._start + i * self._q
        return int(v) if self._ints else _clean(v)
