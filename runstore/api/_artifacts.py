"""Artifacts read from the store: what `Api().artifact()`, `.artifacts()`, `.artifact_collections()` and
`.artifact_types()` return (docs/COMPAT.md §9). The objects are the SDK's `Artifact`s."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..sdk.artifact import Artifact
from ..store import artifacts as A

if TYPE_CHECKING:
    from ..store.store import Store


class ArtifactCollection:
    """A named sequence of versions (wandb's collection): `name`, `type`, `aliases`, `versions()`."""

    def __init__(self, store: Store, project: str, col: A.Collection, entity: str = "") -> None:
        self._store = store
        self.project = project
        self.entity = entity
        self._col = col

    @property
    def name(self) -> str:
        return self._col.name

    @property
    def type(self) -> str:
        return self._col.type

    @property
    def aliases(self) -> list[str]:
        return sorted(self._col.aliases) + (["latest"] if self._col.live else [])

    def versions(self) -> list[Artifact]:
        return [Artifact._from_store(self._store, self.project, v, self.entity) for v in self._col.live]

    artifacts = versions

    def __len__(self) -> int:
        return len(self._col.live)

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self.project}/{self.name} ({self.type}), {len(self)} versions>"


class ArtifactType:
    """The artifacts of one type in a project: `name`, `collections()`, `collection(name)`."""

    def __init__(self, store: Store, project: str, name: str, entity: str = "") -> None:
        self._store = store
        self.project = project
        self.name = name
        self.entity = entity

    def collections(self) -> list[ArtifactCollection]:
        cols = A.load(self._store, self.project).collections
        return [
            ArtifactCollection(self._store, self.project, c, self.entity)
            for _, c in sorted(cols.items())
            if c.type == self.name
        ]

    def collection(self, name: str) -> ArtifactCollection:
        for c in self.collections():
            if c.name == name:
                return c
        raise ValueError(f"no {self.name!r} artifact named {name!r} in project {self.project!r}")

    def __repr__(self) -> str:
        return f"<ArtifactType {self.project}/{self.name}>"


class Versions:
    """A list of artifact versions, as `Api().artifacts()` returns (len, indexing, iteration)."""

    def __init__(self, items: list[Artifact]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Artifact]:
        return iter(self._items)

    def __getitem__(self, i: Any) -> Any:
        return self._items[i]

    def __repr__(self) -> str:
        return f"<Versions {len(self._items)}>"


def runs_artifacts(store: Store, run: str, used: bool) -> list[Artifact]:
    """Every version `run` ("<project>/<id>") logged (or used), across the store's projects."""
    out = []
    for project in A.projects(store):
        for col in A.load(store, project).collections.values():
            for v in col.live:
                if run in (v.users if used else v.loggers):
                    out.append((v.time, Artifact._from_store(store, project, v)))
    return [a for _, a in sorted(out, key=lambda x: x[0])]


__all__ = ["ArtifactCollection", "ArtifactType", "Versions", "runs_artifacts"]
