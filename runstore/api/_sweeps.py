"""`Api().sweep(path)`: a sweep read from the store (docs/COMPAT.md §12)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..store import sweeps as S
from ..store.index import load_states
from ..store.query import document, iso, lookup, order_value, select
from ..store.runs import RunState
from ..sweeps.params import flatten
from ..sweeps.schema import parse_config
from ._runs import Run, Runs

if TYPE_CHECKING:
    from ._api import Api


def _expected(config: dict[str, Any]) -> int | None:
    """Runs the sweep will make: the grid's size (capped by run_cap), else run_cap, else None."""
    cap = config.get("run_cap")
    cap = cap if isinstance(cap, int) and cap > 0 else None
    if config.get("method") != "grid":
        return cap
    try:
        cfg = parse_config(config)
        n = math.prod(len(spec.grid_values()) for _, spec in flatten(cfg.parameters) if spec.searchable)
    except Exception:
        return cap  # a config that no longer validates (edited by hand): no grid size to give
    return min(n, cap) if cap else n


class Sweep:
    """`.id`, `.name`, `.config`, `.state`, `.runs`, `.best_run(order=)`, `.expected_run_count`, and
    runstore's `.trials()` (every proposal with its parameters and outcome) and `.to_dict()`."""

    def __init__(self, api: Api, sd: S.SweepDir) -> None:
        self._api = api
        self._sd = sd
        self._st = sd.load()

    @classmethod
    def load(cls, api: Api, path: str) -> Sweep:
        return cls(api, S.open_sweep(api.store, path))

    @property
    def id(self) -> str:
        return self._sd.id

    @property
    def name(self) -> str:
        return str(self._st.config.get("name") or self._sd.id)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._st.config)

    @property
    def method(self) -> str | None:
        return self._st.config.get("method")

    @property
    def metric(self) -> dict[str, Any] | None:
        """The sweep's `metric` ({"name", "goal"[, "target"]}), or None."""
        m = self._st.config.get("metric")
        return dict(m) if isinstance(m, dict) and m.get("name") else None

    @property
    def state(self) -> str:
        return self._st.state

    @property
    def project(self) -> str:
        return self._st.project

    @property
    def entity(self) -> str:
        return self._st.entity

    @property
    def created_at(self) -> str:
        return iso(self._st.created)

    @property
    def created(self) -> float:
        """When the sweep was created, in Unix seconds."""
        return self._st.created

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> None:
        return None

    @property
    def expected_run_count(self) -> int | None:
        return _expected(self._st.config)

    def trials(self) -> list[dict[str, Any]]:
        """Every trial proposed so far, in order: run id, parameters, state (running until a result),
        exit code, the agent that took it, and whether it was a prior run or was given back."""
        return [
            {
                "run": t.run_id,
                "params": t.params,
                "state": t.state,
                "code": t.code,
                "agent": t.agent,
                "prior": t.prior,
                "released": t.released,
                "stop": t.stop,
            }
            for t in self._st.trials.values()
        ]

    def load_states(self) -> list[RunState]:
        """The sweep's runs (those whose init recorded this sweep id), oldest first."""
        store = self._api.store
        project = self._st.project if store.has_project(self._st.project) else None
        states = select(load_states(store, project), {"sweep": self.id}, "+created_at")
        if not states and project is not None:
            states = select(load_states(store), {"sweep": self.id}, "+created_at")
        return states

    @property
    def runs(self) -> Runs:
        return Runs(self._api, [Run(self._api, s) for s in self.load_states()])

    @property
    def order(self) -> str | None:
        """The sort order that puts the best run first (`-summary_metrics.acc`), or None without a metric."""
        metric = self.metric
        if metric is None:
            return None
        sign = "-" if metric.get("goal") == "maximize" else "+"
        return f"{sign}summary_metrics.{metric['name']}"

    def ranked_runs(self) -> Runs:
        """The sweep's runs, best first by its metric (runs without a value last); oldest first when the
        sweep has no metric."""
        states = self.load_states()
        if self.order is not None:
            states = select(states, None, self.order)
        return Runs(self._api, [Run(self._api, s) for s in states])

    def best_run(self, order: str | None = None) -> Run | None:
        """The run with the best value of the sweep's metric (or of `order`, e.g. '-summary_metrics.acc');
        None when no run has logged it."""
        order = order or self.order
        if order is None:
            raise UsageError(f"sweep {self.id} has no metric; pass best_run(order='-summary_metrics.<key>')")
        field = order.lstrip("+-")
        if not field.startswith(("summary_metrics.", "config.", "summary.")) and "." not in field:
            order = f"{order[0] if order[0] in '+-' else '+'}summary_metrics.{field}"
            field = f"summary_metrics.{field}"
        ranked = select(self.load_states(), None, order)
        ranked = [s for s in ranked if order_value(lookup(document(s), field))[0] == 0]  # numbers only
        return Run(self._api, ranked[0]) if ranked else None

    def to_dict(self) -> dict[str, Any]:
        """The sweep as one JSON-able object (`runstore sweep show --json`)."""
        trials = self.trials()
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "method": self.method,
            "metric": self.metric,
            "project": self.project,
            "entity": self.entity,
            "created_at": self.created_at,
            "expected_run_count": self.expected_run_count,
            "config": self.config,
            "runs": sum(1 for t in trials if not t["prior"] and t["released"] is None),
            "trials": trials,
        }

    def __repr__(self) -> str:
        return f"<Sweep {'/'.join(p for p in self.path if p)} ({self.state})>"


def list_sweeps(api: Api) -> list[Sweep]:
    """Every sweep of the store, oldest id first."""
    return [Sweep(api, sd) for sd in S.list_sweeps(api.store)]


__all__ = ["Sweep", "list_sweeps"]
