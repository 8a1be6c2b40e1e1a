"""`Api().sweep(path)`: a sweep read from the store (contract §12)."""

from __future__ import annotations

import math
from typing import Any

from ..errors import UsageError
from ..store.index import load_states
from ..store.query import document, lookup, order_value, select
from ..store.runs import RunState
from . import state as S


def _expected(config: dict[str, Any]) -> int | None:
    """Runs the sweep will make: the grid's size (capped by run_cap), else run_cap, else None."""
    cap = config.get("run_cap")
    cap = cap if isinstance(cap, int) and cap > 0 else None
    if config.get("method") != "grid":
        return cap
    try:
        from .params import flatten
        from .schema import parse_config

        cfg = parse_config(config)
        n = math.prod(len(spec.grid_values()) for _, spec in flatten(cfg.parameters) if spec.searchable)
    except Exception:
        return cap
    return min(n, cap) if cap else n


class Sweep:
    """`.id`, `.name`, `.config`, `.state`, `.runs`, `.best_run(order=)`, `.expected_run_count`."""

    def __init__(self, api: Any, sd: S.SweepDir) -> None:
        self._api = api
        self._sd = sd
        self._st = sd.load()

    @classmethod
    def load(cls, api: Any, path: str) -> Sweep:
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
    def state(self) -> str:
        return self._st.state

    @property
    def project(self) -> str:
        return self._st.project

    @property
    def entity(self) -> str:
        return self._st.entity

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> None:
        return None

    @property
    def expected_run_count(self) -> int | None:
        return _expected(self._st.config)

    def load_states(self) -> list[RunState]:
        """The sweep's runs (those whose init recorded this sweep id), oldest first."""
        store = self._api.store
        project = self._st.project if store.project_dir(self._st.project).is_dir() else None
        states = select(load_states(store, project), {"sweep": self.id}, "+created_at")
        if not states and project is not None:
            states = select(load_states(store), {"sweep": self.id}, "+created_at")
        return states

    @property
    def runs(self) -> Any:
        from ..api import Run, Runs

        return Runs(self._api, [Run(self._api, s) for s in self.load_states()])

    def _default_order(self) -> str:
        metric = self._st.config.get("metric")
        if not isinstance(metric, dict) or not metric.get("name"):
            raise UsageError(f"sweep {self.id} has no metric; pass best_run(order='-summary_metrics.<key>')")
        sign = "-" if metric.get("goal") == "maximize" else "+"
        return f"{sign}summary_metrics.{metric['name']}"

    def best_run(self, order: str | None = None) -> Any:
        """The run with the best value of the sweep's metric (or of `order`, e.g. '-summary_metrics.acc');
        None when no run has logged it."""
        from ..api import Run

        order = order or self._default_order()
        field = order.lstrip("+-")
        if not field.startswith(("summary_metrics.", "config.", "summary.")) and "." not in field:
            order = f"{order[0] if order[0] in '+-' else '+'}summary_metrics.{field}"
            field = f"summary_metrics.{field}"
        ranked = select(self.load_states(), None, order)
        ranked = [s for s in ranked if order_value(lookup(document(s), field))[0] == 0]  # numbers only
        return Run(self._api, ranked[0]) if ranked else None

    def __repr__(self) -> str:
        return f"<Sweep {'/'.join(p for p in self.path if p)} ({self.state})>"
