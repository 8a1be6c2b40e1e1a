"""Sweeps across machines: the sweep's controller (journal + lock, sweeps/controller.py) behind HTTP.

`runstore sweep config.yaml --remote URL` creates the sweep in the server's store; `runstore agent ID
--remote URL` on any machine registers with the server, takes assignments from its controller, runs the
trials locally and streams their runs back (the same file pushes as `runstore sync`), so the controller
reads their metrics for bayes and Hyperband as it reads local runs. Same guarantees as local agents: one
lock orders every decision, a grid point is proposed once, a dead agent's trial is re-proposed (an agent
here is on another host: its ticks are its heartbeats), and stop decisions reach the agent at its next
tick.
"""

from __future__ import annotations

from typing import Any

from fastapi import Body, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from ..errors import Error
from ..store import sweeps as S
from ..store.layout import valid_name
from ..sweeps import controller as C
from ..sweeps.schema import SweepConfigError
from .app import API, ApiError, Server

# the API's noun (that it also names a store directory is the point of mirroring the store, not a path)
BASE = "/".join((API, "sweeps"))


def tick_doc(tick: C.Tick) -> dict[str, Any]:
    """A Tick as JSON: what an agent needs of the state (project, entity, state), the raw config."""
    st = tick.state
    return {
        "state": {"id": st.id, "project": st.project, "entity": st.entity, "state": st.state},
        "config": dict(tick.config.raw),
        "assignment": (
            {"run_id": tick.assignment.run_id, "params": tick.assignment.params} if tick.assignment else None
        ),
        "stop": dict(tick.stop),
        "done": tick.done,
        "wait": tick.wait,
    }


def install(app: FastAPI, srv: Server) -> None:
    controllers: dict[str, C.Controller] = {}  # one per sweep: it remembers when each agent last beat

    def open_sweep(sweep_id: str, token: Any) -> S.SweepDir:
        if not valid_name(sweep_id):
            raise ApiError(400, "bad_request", f"invalid sweep id {sweep_id!r}")
        sd = S.SweepDir(srv.store, sweep_id)
        if not sd.exists():
            raise ApiError(404, "not_found", f"no sweep {sweep_id!r}")
        if token is not None and token.project is not None and sd.load().project != token.project:
            raise ApiError(403, "forbidden", f"this token is for project {token.project!r} only")
        return sd

    def controller(sd: S.SweepDir) -> C.Controller:
        ctl = controllers.get(sd.id)
        if ctl is None:
            ctl = controllers[sd.id] = C.Controller(sd)
        return ctl

    async def call(fn: Any, *args: Any) -> Any:
        try:
            return await run_in_threadpool(fn, *args)
        except ApiError:
            raise
        except SweepConfigError as e:
            raise ApiError(422, "invalid_sweep_config", " / ".join(str(e).splitlines())) from None
        except (Error, ValueError, TypeError, KeyError) as e:
            raise ApiError(
                400, "bad_request", str(e).splitlines()[0] if str(e) else type(e).__name__
            ) from None

    @app.post(BASE, tags=["sweeps"])
    async def create(request: Request, doc: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        """Create a sweep from `{"config": {...}, "project", "entity", "prior_runs"}`."""
        token = srv.authenticate(request, "write")
        config = doc.get("config")
        if not isinstance(config, dict):
            raise ApiError(422, "invalid_request", "config: a sweep config object is required")
        project = doc.get("project")
        if project is not None and not isinstance(project, str):
            raise ApiError(422, "invalid_request", "project: a string")
        if token is not None and token.project is not None:
            project = project or config.get("project") or token.project
            if project != token.project:
                raise ApiError(403, "forbidden", f"this token is for project {token.project!r} only")
        entity = doc.get("entity") if isinstance(doc.get("entity"), str) else None
        prior = [str(r) for r in doc.get("prior_runs") or [] if isinstance(r, str)]
        sd = await call(C.create_sweep, config, entity, project, prior, srv.store)
        st = await call(sd.load)
        return {"id": sd.id, "project": st.project, "entity": st.entity}

    @app.post(f"{BASE}/{{sweep_id}}/agents", tags=["sweeps"])
    async def register(
        request: Request, sweep_id: str, doc: dict[str, Any] = Body(default={})
    ) -> dict[str, Any]:  # noqa: B008
        """Register an agent: `{"kind", "host", "pid"}` of the process on its machine."""
        token = srv.authenticate(request, "write")
        sd = open_sweep(sweep_id, token)
        host = str(doc.get("host") or "unknown")[:200]
        peer = request.client.host if request.client else "?"
        pid = doc.get("pid") if isinstance(doc.get("pid"), int) else 0
        # "<host>@<address>": never this server's own host name, so only heartbeats tell it is alive
        agent = await call(
            controller(sd).register_agent, str(doc.get("kind") or "cli")[:20], f"{host}@{peer}", pid
        )
        return {"agent": agent}

    @app.post(f"{BASE}/{{sweep_id}}/agents/{{agent_id}}/tick", tags=["sweeps"])
    async def tick(
        request: Request,
        sweep_id: str,
        agent_id: str,
        doc: dict[str, Any] = Body(default={}),  # noqa: B008
    ) -> dict[str, Any]:
        """What the agent should do now: an assignment (with `want_run`), runs to stop, done, or wait."""
        token = srv.authenticate(request, "write")
        sd = open_sweep(sweep_id, token)
        known = await call(lambda: agent_id in sd.load().agents)
        if not known:
            raise ApiError(404, "not_found", f"no agent {agent_id!r} in sweep {sweep_id}")
        t = await call(controller(sd).tick, agent_id, bool(doc.get("want_run", False)))
        return tick_doc(t)

    @app.post(f"{BASE}/{{sweep_id}}/agents/{{agent_id}}/result", tags=["sweeps"])
    async def result(
        request: Request,
        sweep_id: str,
        agent_id: str,
        doc: dict[str, Any] = Body(...),  # noqa: B008
    ) -> dict[str, Any]:
        """The end of a trial: `{"run_id", "state", "code"}`."""
        token = srv.authenticate(request, "write")
        sd = open_sweep(sweep_id, token)
        run_id, state, code = doc.get("run_id"), doc.get("state"), doc.get("code")
        if (
            not isinstance(run_id, str)
            or state not in S.RESULTS
            or not (code is None or isinstance(code, int))
        ):
            raise ApiError(
                422, "invalid_request", f"run_id, state (one of {sorted(S.RESULTS)}) and code are required"
            )
        await call(controller(sd).record_result, agent_id, run_id, state, code)
        return {"ok": True}

    @app.post(f"{BASE}/{{sweep_id}}/agents/{{agent_id}}/exit", tags=["sweeps"])
    async def agent_exit(
        request: Request,
        sweep_id: str,
        agent_id: str,
        doc: dict[str, Any] = Body(default={}),  # noqa: B008
    ) -> dict[str, Any]:
        token = srv.authenticate(request, "write")
        sd = open_sweep(sweep_id, token)
        await call(controller(sd).agent_exit, agent_id, str(doc.get("reason") or "done")[:200])
        return {"ok": True}

    @app.post(f"{BASE}/{{sweep_id}}/control", tags=["sweeps"])
    async def control(request: Request, sweep_id: str, doc: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        """`{"action": "stop" | "cancel" | "pause" | "resume"}`."""
        token = srv.authenticate(request, "write")
        sd = open_sweep(sweep_id, token)
        action = doc.get("action")
        if action not in C.ACTIONS:
            raise ApiError(422, "invalid_request", f"action must be one of {sorted(C.ACTIONS)}")
        return {"state": await call(C.set_state, sd, action)}


__all__ = ["install", "tick_doc"]
