"""`Api`: the entry point of the read API, call-compatible with `wandb.Api` (docs/COMPAT.md §12)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..base.gcpause import paused
from ..errors import RunNotFound, UsageError
from ..store import artifacts as A
from ..store.index import load_states
from ..store.layout import check_name, run_ref_of_dir
from ..store.query import select
from ..store.runs import load_run
from ..store.store import Store
from ._artifacts import ArtifactCollection, ArtifactType, Versions
from ._runs import Run, Runs
from ._sweeps import Sweep, list_sweeps


def _split(path: str | None) -> list[str]:
    if path is None:
        return []
    if not isinstance(path, str):
        raise TypeError(f"a run/project path must be a str like 'project/run_id', got {type(path).__name__}")
    parts = [p for p in path.strip().strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "runs":  # wandb's URL form entity/project/runs/id
        parts = [parts[0], parts[1], parts[3]]
    return parts


class Api:
    """Read (and edit) runs in a local store: `Api().runs("project")`, `Api().run("project/id")`.

    `overrides` may hold `project` and `entity` defaults; `store` picks a store directory (default: the
    one `init()` would use from the current directory). `base_url` (or, without `store`, an http(s)
    URL in WANDB_BASE_URL / RUNSTORE_REMOTE) reads a `runstore server` instead, with the same objects
    (api/_remote.py); `api_key` is then its token.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Api:
        if cls is Api:
            from ._remote import RemoteApi, server_url

            if server_url(kwargs.get("base_url"), kwargs.get("store")) is not None:
                return super().__new__(RemoteApi)
        return super().__new__(cls)

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        timeout: int | None = None,
        api_key: str | None = None,
        *,
        store: str | os.PathLike[str] | Store | None = None,
        base_url: str | None = None,
    ) -> None:
        self._store = store if isinstance(store, Store) else Store(store) if store else Store.discover()
        self._store.check_format()
        self._overrides = dict(overrides or {})
        self.settings = {**self._store.read_settings(), **self._overrides}

    @property
    def store(self) -> Store:
        return self._store

    @property
    def default_entity(self) -> str | None:
        return self.settings.get("entity")

    def flush(self) -> None:
        """Nothing is cached between calls; kept for wandb compatibility."""

    def projects(self, entity: str | None = None) -> list[str]:
        return self._store.projects()

    def _project_of(self, parts: list[str]) -> str | None:
        if len(parts) >= 2:
            return parts[-1] if len(parts) == 2 else parts[1]
        if len(parts) == 1:
            return parts[0]
        return self.settings.get("project")

    def runs(
        self,
        path: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
        lazy: bool = True,
    ) -> Runs:
        """Runs of a project (`"project"` or `"entity/project"`; all projects when none is set)."""
        project = self._runs_project(path)
        with paused():  # thousands of runs: see base/gcpause.py
            states = select(load_states(self._store, project), filters, order)
            return Runs(self, [Run(self, s) for s in states])

    def _runs_project(self, path: str | None) -> str | None:
        """The project runs(path) lists (None: every project), checked."""
        parts = _split(path)
        if len(parts) > 2:
            raise UsageError(
                f"runs() takes 'entity/project' or 'project', got {path!r}; use run() for one run"
            )
        project = self._project_of(parts)
        if project is not None:
            check_name("project", project)
        return project

    def sweep(self, path: str) -> Sweep:
        """A sweep: `"id"`, `"project/id"` or `"entity/project/id"` (docs/COMPAT.md §12)."""
        return Sweep.load(self, path)

    def sweeps(self) -> list[Sweep]:
        """Every sweep in the store (runstore's addition; wandb lists them per project)."""
        return list_sweeps(self)

    def run(self, path: str, *, project: str | None = None) -> Run:
        """One run: `"project/id"`, `"entity/project/id"`, `"entity/project/runs/id"`, or a single word:
        a run id, a unique id prefix, a run name or `"latest"` (also a run directory). `project` limits
        the single-word forms to one project."""
        parts = _split(path)
        by_dir = run_ref_of_dir(path)
        if by_dir is not None:
            return Run(self, load_run(by_dir))
        if not parts or len(parts) > 3:
            raise UsageError(f"run() takes 'project/run_id' or 'entity/project/run_id', got {path!r}")
        if len(parts) == 1:
            return Run(self, load_run(self._store.resolve(parts[0], project)))
        run_id, project = parts[-1], parts[-2]
        ref = self._store.find_run_by_id(run_id, project)
        if ref is None:
            raise RunNotFound(
                f"run {run_id!r} not found in project {project!r} of the store at {self._store.root}"
            )
        return Run(self, load_run(ref))

    # -- artifacts (docs/COMPAT.md §9) -----------------------------------------------------------
    def _art_project(self, name: str) -> str | None:
        return self._overrides.get("project") or self.settings.get("project")

    def artifact(self, name: str, type: str | None = None) -> Any:
        """One artifact version: `"project/name:alias"`, `"entity/project/name:v3"`, or `"name:alias"`
        in the default project."""
        from ..sdk.artifact import load_artifact

        return load_artifact(self._store, name, self._art_project(name), type)

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> Versions:
        """Every version of collection `name` (`"project/name"` or a name in the default project)."""
        from ..sdk.artifact import parse_name

        project, collection, _ = parse_name(name, self._art_project(name))
        col = A.load(self._store, project).collections.get(collection)
        if col is None or (type_name and col.type != type_name):
            return Versions([])
        return Versions(ArtifactCollection(self._store, project, col).versions())

    def artifacts(self, type_name: str, name: str, per_page: int = 50, tags: Any = None) -> Versions:
        return self.artifact_versions(type_name, name, per_page)

    def artifact_collections(self, project_name: str, type_name: str, per_page: int = 50) -> list[Any]:
        project = _split(project_name)[-1]
        return ArtifactType(self._store, project, type_name).collections()

    def artifact_collection(self, type_name: str, name: str) -> Any:
        from ..sdk.artifact import parse_name

        project, collection, _ = parse_name(name, self._art_project(name))
        return ArtifactType(self._store, project, type_name).collection(collection)

    def artifact_types(self, project: str | None = None) -> list[Any]:
        p = _split(project)[-1] if project else self.settings.get("project")
        if not p:
            raise UsageError("artifact_types(project) needs a project")
        types = sorted({c.type for c in A.load(self._store, p).collections.values()})
        return [ArtifactType(self._store, p, t) for t in types]

    def artifact_type(self, type_name: str, project: str | None = None) -> Any:
        p = _split(project)[-1] if project else self.settings.get("project")
        if not p:
            raise UsageError("artifact_type(type_name, project) needs a project")
        return ArtifactType(self._store, p, type_name)

    def artifact_exists(self, name: str, type: str | None = None) -> bool:
        """Whether `name` (any form `artifact()` takes) names a version in the store."""
        from ..errors import CommError

        try:
            self.artifact(name, type)
        except (CommError, ValueError):
            return False
        return True

    def artifact_collection_exists(self, name: str, type: str) -> bool:
        try:
            self.artifact_collection(type, name)
        except ValueError:
            return False
        return True


__all__ = ["Api"]
