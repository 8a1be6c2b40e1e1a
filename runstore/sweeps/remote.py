"""An agent's side of a sweep on a `runstore server`: the controller's four calls over HTTP, and the
pushes that bring a trial's run to the server while it runs (server/sweeps.py is the other side).

`RemoteController` has the local Controller's interface (register_agent, tick, record_result,
agent_exit), so the agent loop (sweeps/agent.py) is the same for local and remote sweeps; the trials run
here, in this machine's store, and `push_run` sends their files by offset, as `runstore sync` does.
"""

from __future__ import annotations

import os
import time
from typing import Any

from ..base import term
from ..errors import UsageError
from ..remotes.base import RemoteError
from ..remotes.registry import open_remote
from ..remotes.sync import Pusher, describe
from ..store import sweeps as S
from ..store.liveness import hostname
from ..store.store import Store
from .controller import Assignment, Tick
from .schema import parse_config

PUSH_EVERY_S = 2.0  # while a trial runs: often enough for Hyperband's decisions, cheap (offsets only)
API = "/api/v1"


class RemoteController:
    """The controller of sweep `sweep_id` on the server at `url`, through `remote` (an HttpRemote)."""

    def __init__(self, remote: Any, sweep_id: str) -> None:
        self.remote = remote
        self.sweep_id = sweep_id
        self.base = "/".join((API, "sweeps", sweep_id))

    def _post(self, path: str, doc: dict[str, Any]) -> dict[str, Any]:
        out = self.remote.call_json("POST", path, doc)
        if not isinstance(out, dict):
            raise RemoteError(f"{self.remote.url}: unexpected answer to {path}")
        return out

    def register_agent(self, kind: str = "cli") -> str:
        return str(
            self._post(f"{self.base}/agents", {"kind": kind, "host": hostname(), "pid": os.getpid()})["agent"]
        )

    def tick(self, agent_id: str, want_run: bool) -> Tick:
        doc = self._post(f"{self.base}/agents/{agent_id}/tick", {"want_run": want_run})
        s = doc.get("state") or {}
        state = S.SweepState(
            id=str(s.get("id") or self.sweep_id),
            config=dict(doc.get("config") or {}),
            project=str(s.get("project") or "uncategorized"),
            entity=str(s.get("entity") or ""),
            state=str(s.get("state") or S.PENDING),
        )
        a = doc.get("assignment")
        return Tick(
            state=state,
            config=parse_config(state.config),
            assignment=Assignment(str(a["run_id"]), dict(a["params"])) if isinstance(a, dict) else None,
            stop={str(k): str(v) for k, v in (doc.get("stop") or {}).items()},
            done=doc.get("done"),
            wait=doc.get("wait"),
        )

    def record_result(self, agent_id: str, run_id: str, state: str, code: int | None) -> None:
        self._post(f"{self.base}/agents/{agent_id}/result", {"run_id": run_id, "state": state, "code": code})

    def agent_exit(self, agent_id: str, reason: str) -> None:
        self._post(f"{self.base}/agents/{agent_id}/exit", {"reason": reason})


class TrialPusher:
    """Sends a trial's run to the server: every PUSH_EVERY_S while it runs, and once it has ended."""

    def __init__(self, store: Store, remote: Any) -> None:
        self.store = store
        self.pusher = Pusher(store, remote)
        self._last = 0.0

    def __call__(self, run_id: str, final: bool) -> None:
        now = time.monotonic()
        if not final and now - self._last < PUSH_EVERY_S:
            return
        self._last = now
        ref = self.store.find_run_by_id(run_id)
        if ref is None:
            return  # the program has not called init() yet
        res = self.pusher.push_run(ref, finished=True if final else None)
        if res.errors:
            term.warn(f"run {run_id}: {res.errors[0]}", once_key=f"push:{run_id}:{res.errors[0]}")


def open_server(url: str) -> Any:
    """The http(s) remote at `url`, which must be a runstore server."""
    if not url.lower().startswith(("http://", "https://")):
        raise UsageError(
            f"--remote {url!r}: sweeps across machines need a runstore server (http:// or https://)"
        )
    remote = open_remote(url)
    if not hasattr(remote, "call_json"):
        raise UsageError(f"{url}: not a runstore server remote")
    return remote


def create_remote_sweep(
    url: str,
    config: dict[str, Any],
    project: str | None,
    entity: str | None,
    prior_runs: list[str] | None = None,
) -> dict[str, Any]:
    remote = open_server(url)
    try:
        doc = {"config": config, "project": project, "entity": entity, "prior_runs": list(prior_runs or [])}
        out = remote.call_json("POST", "/".join((API, "sweeps")), doc)
    finally:
        remote.close()
    if not isinstance(out, dict) or "id" not in out:
        raise RemoteError(f"{url}: unexpected answer when creating the sweep")
    return out


def control_remote_sweep(url: str, sweep_id: str, action: str) -> str:
    """`runstore sweep --stop|--cancel|--pause|--resume ID --remote URL`: the sweep's new state."""
    remote = open_server(url)
    try:
        out = remote.call_json("POST", "/".join((API, "sweeps", sweep_id, "control")), {"action": action})
    finally:
        remote.close()
    return str(out.get("state")) if isinstance(out, dict) else "?"


def run_remote_agent(
    url: str,
    sweep_id: str,
    store: Store,
    count: int | None = None,
    max_consecutive_failed_runs: int | None = None,
    term_timeout: float | None = None,
) -> int:
    """`runstore agent ID --remote URL`: trials from the server's controller, run in `store` here, their
    runs pushed back as they run."""
    from .agent import CliAgent

    remote = open_server(url)
    try:
        store.ensure()
        agent = CliAgent(
            S.SweepDir(store, sweep_id),
            count,
            max_consecutive_failed_runs,
            term_timeout,
            controller=RemoteController(remote, sweep_id),
            progress=TrialPusher(store, remote),
        )
        return agent.run()
    except RemoteError as e:
        raise UsageError(describe(e)) from None
    finally:
        remote.close()
