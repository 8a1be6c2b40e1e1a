"""The MongoDB-style filter subset of `Api().runs(filters=...)` and the `order=` spec.

A run is seen as a document: `id`, `name` (wandb's `name` is the run id; here it matches the id *or*
the display name, with array semantics), `display_name`, `state`, `tags`, `created_at` (ISO string),
`group`, `job_type`, `host`, `config.<k>`, `summary_metrics.<k>` (dotted into nested values).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from typing import Any

from ..errors import UsageError
from .runs import RunState

OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists", "$and", "$or", "$nor")
_MISSING = object()
_FIELD_ALIASES = {
    "displayName": "display_name",
    "createdAt": "created_at",
    "jobType": "job_type",
    "summary": "summary_metrics",
    "sweepName": "sweep",
    "sweep_id": "sweep",
}


_EXPR = re.compile(r"^\s*([A-Za-z_][\w.\-/]*)\s*(>=|<=|!=|==|=|>|<|~)\s*(.*?)\s*$")
_OPS = {
    ">=": "$gte",
    "<=": "$lte",
    "!=": "$ne",
    "==": "$eq",
    "=": "$eq",
    ">": "$gt",
    "<": "$lt",
    "~": "$regex",
}


def parse_filter(text: str) -> dict[str, Any]:
    """`runstore ls --filter` (and the dashboard's filter box): a JSON filter (`{"config.lr": {"$gt":
    0.01}}`) or `FIELD OP VALUE` with OP one of = != > >= < <= ~ (regex), e.g. `config.lr>0.01`,
    `state=finished`, `name~^exp`."""
    import orjson

    from ..base import yamlsafe

    text = text.strip()
    if text.startswith("{"):
        try:
            flt = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            raise UsageError(f"--filter {text!r} is not valid JSON: {e}") from None
        if not isinstance(flt, dict):
            raise UsageError("--filter JSON must be an object")
        return flt
    m = _EXPR.match(text)
    if not m:
        raise UsageError(
            f"--filter {text!r}: use FIELD OP VALUE (e.g. config.lr>0.01, state=finished) or JSON"
        )
    field, op, raw = m.groups()
    if raw[:1] in ("<", ">", "=", "!", "~"):
        raise UsageError(
            f"--filter {text!r}: the value starts with {raw[0]!r}; use FIELD OP VALUE with one operator "
            "(= != > >= < <= ~), e.g. config.lr>0.01"
        )
    value: Any = raw
    if op != "~":
        try:
            value = yamlsafe.load(raw, "--filter", "filter value") if raw else ""
        except ValueError:
            value = raw
        if isinstance(value, (dict, list)):
            value = raw
    return {field: {_OPS[op]: value}}


def iso(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _norm(v: Any) -> Any:
    if isinstance(v, _dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, _dt.date):
        return v.isoformat()
    return v


def _dig(obj: Any, parts: list[str]) -> Any:
    for p in parts:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        else:
            return _MISSING
    return obj


def lookup(doc: Callable[[str], Any], field: str) -> Any:
    """Value of `field` in a run document (`doc(top_level_name)` gives top-level values lazily)."""
    head, _, rest = field.partition(".")
    head = _FIELD_ALIASES.get(head, head)
    if head in ("config", "summary_metrics"):
        base = doc(head)
        parts = rest.split(".") if rest else []
        v = _dig(base, parts)
        if v is _MISSING and head == "config" and parts and parts[-1] == "value":
            v = _dig(base, parts[:-1])  # wandb's `config.lr.value` spelling
        return v
    v = doc(head)
    return _dig(v, rest.split(".")) if rest else v


def _cmp(op: str, a: Any, b: Any) -> bool:
    try:
        if op == "$gt":
            return a > b
        if op == "$gte":
            return a >= b
        if op == "$lt":
            return a < b
        return a <= b
    except TypeError:
        return False  # comparing a number with a string: no match, as in MongoDB


def _match_value(v: Any, cond: Any) -> bool:
    """Does field value `v` satisfy `cond` ({op: arg} or a literal)? Lists match element-wise."""
    if isinstance(cond, dict) and cond and all(isinstance(k, str) and k.startswith("$") for k in cond):
        return all(_op(v, op, arg) for op, arg in cond.items())
    return _op(v, "$eq", cond)


def _any(v: Any, pred: Callable[[Any], bool]) -> bool:
    if isinstance(v, (list, tuple)):
        return any(pred(x) for x in v) or pred(list(v))
    return pred(v)


def _op(v: Any, op: str, arg: Any) -> bool:
    arg = _norm(arg)
    if op == "$eq":
        return v is not _MISSING and _any(v, lambda x: x == arg)
    if op == "$ne":
        return not _op(v, "$eq", arg)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return v is not _MISSING and v is not None and _any(v, lambda x: _cmp(op, x, arg))
    if op == "$in":
        if not isinstance(arg, (list, tuple)):
            raise UsageError(f"filter $in takes a list, got {arg!r}")
        return any(_op(v, "$eq", a) for a in arg)
    if op == "$nin":
        if not isinstance(arg, (list, tuple)):
            raise UsageError(f"filter $nin takes a list, got {arg!r}")
        return not any(_op(v, "$eq", a) for a in arg)
    if op == "$exists":
        return (v is not _MISSING) == bool(arg)
    if op == "$regex":
        if not isinstance(arg, str):
            raise UsageError(f"filter $regex takes a string pattern, got {arg!r}")
        try:
            rx = re.compile(arg)
        except re.error as e:
            raise UsageError(f"filter $regex {arg!r} is not a valid regular expression: {e}") from None
        return v is not _MISSING and _any(v, lambda x: isinstance(x, str) and rx.search(x) is not None)
    raise UsageError(f"unknown filter operator {op!r}; use one of {', '.join(OPS)}")


def matches(doc: Callable[[str], Any], flt: Any) -> bool:
    if flt is None:
        return True
    if not isinstance(flt, dict):
        raise UsageError(f"filters must be a dict like {{'state': 'finished'}}, got {type(flt).__name__}")
    for key, cond in flt.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(cond, list):
                raise UsageError(f"filter {key} takes a list of filters")
            results = (matches(doc, c) for c in cond)
            ok = all(results) if key == "$and" else any(results)
            if key == "$nor":
                ok = not ok
            if not ok:
                return False
        elif key.startswith("$"):
            raise UsageError(f"unknown filter operator {key!r} at the top level; use $and, $or or $nor")
        elif not _match_value(lookup(doc, key), cond):
            return False
    return True


def sort_key(order: str | None) -> tuple[str, bool]:
    """`"+created_at"` / `"-summary_metrics.acc"` -> (field, descending)."""
    order = (order or "+created_at").strip()
    desc = order.startswith("-")
    field = order.lstrip("+-")
    if field.endswith(".value") and field.startswith("config."):
        field = field[: -len(".value")]
    if field in ("created_at", "createdAt"):
        field = "created"  # the float, not the second-resolution ISO string used in filters
    return field, desc


def order_value(v: Any) -> tuple[int, Any]:
    """Missing values sort last; numbers before strings; never a TypeError."""
    if v is _MISSING or v is None:
        return (3, 0)
    if isinstance(v, bool):
        return (0, int(v))
    if isinstance(v, (int, float)):
        return (0, v) if v == v else (2, 0)
    if isinstance(v, str):
        return (1, v)
    return (2, repr(v))


MISSING = _MISSING


def document(st: RunState) -> Callable[[str], Any]:
    """A run seen as a filter document: `document(st)(field)` gives one top-level field lazily."""

    def get(field: str) -> Any:
        info = st.info
        if field == "id":
            return st.id
        if field == "name":
            return [st.id, info.get("name")]
        if field == "display_name":
            return info.get("name")
        if field == "state":
            return st.state
        if field == "created_at":
            return iso(st.created)
        if field == "created":
            return st.created
        if field == "config":
            return st.config
        if field == "summary_metrics":
            return st.summary
        if field == "duration":
            return st.runtime
        if field == "sweep":
            return info.get("sweep_id")
        if field == "tags":
            return list(info.get("tags") or [])
        if field == "project":
            return st.ref.project
        return info.get(field, _MISSING)

    return get


def select(states: list[RunState], filters: Any, order: str | None) -> list[RunState]:
    """The runs matching `filters`, sorted by `order`; runs lacking the sort field come last."""
    if filters:
        states = [s for s in states if matches(document(s), filters)]
    field, desc = sort_key(order)
    keyed = [(order_value(lookup(document(s), field)), s) for s in states]
    present = sorted((k for k in keyed if k[0][0] != 3), key=lambda k: k[0], reverse=desc)
    return [s for _, s in present] + [s for k, s in keyed if k[0] == 3]
