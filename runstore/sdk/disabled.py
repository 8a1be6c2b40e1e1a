"""`mode="disabled"`: a run with the full API that writes nothing (docs/COMPAT.md §1.9)."""

from __future__ import annotations

import os
from typing import Any, Literal

from ..base import names
from . import registry
from .config import Config
from .settings import Settings
from .summary import SummaryView


class DisabledRun:
    """Every call works and nothing touches the disk."""

    disabled = True
    offline = False
    resumed = False
    url = project_url = sweep_url = sweep_id = None

    def __init__(self, settings: Settings, config: dict[str, Any]) -> None:
        self._settings = settings
        self.id = settings.run_id or names.new_id()
        self.name = f"dummy-{self.id}"
        self.project = settings.project or "dummy"
        self.entity = "dummy"
        self.notes = settings.run_notes
        self.tags = tuple(settings.run_tags or ())
        self.group = settings.run_group
        self.job_type = settings.run_job_type
        import tempfile  # here: its import (random, shutil, …) is not worth paying in every process

        self.dir = os.path.join(tempfile.gettempdir(), "runstore-disabled", self.id)  # never written
        self.config = Config(allow_val_change=True)
        self.config.update(config)
        self.summary = SummaryView({}, None)
        self.step = 0
        self._finished = False

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def settings(self) -> Settings:
        return self._settings

    def get_url(self) -> None:
        return None

    def log(
        self, data: Any, step: int | None = None, commit: bool | None = None, sync: bool | None = None
    ) -> None:
        return None

    def define_metric(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def watch(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []

    def unwatch(self, *args: Any, **kwargs: Any) -> None:
        return None

    def _label(self, *args: Any, **kwargs: Any) -> None:
        pass  # wandb's private telemetry label (see Run._label)

    def mark_preempting(self) -> None:
        return None

    def alert(self, *args: Any, **kwargs: Any) -> None:
        return None

    def save(self, *args: Any, **kwargs: Any) -> list[str]:
        return []

    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: Any = None,
        tags: Any = None,
    ) -> Any:
        """The artifact, built and checked but not stored."""
        from .artifact import build

        return build(artifact_or_path, name, type, self.id)

    def log_model(self, path: Any, name: str | None = None, aliases: Any = None) -> None:
        return None

    def use_artifact(
        self, artifact_or_name: Any, type: str | None = None, aliases: Any = None, **_: Any
    ) -> Any:
        """Read from the store (a disabled run records no lineage), so a pipeline's inputs still load."""
        from ..store.store import Store
        from .artifact import Artifact, load_artifact

        if isinstance(artifact_or_name, Artifact):
            return artifact_or_name
        return load_artifact(Store.discover(), artifact_or_name, self._settings.project, type)

    def use_model(self, name: str) -> str:
        from .artifact import model_path

        return model_path(self.use_artifact(name))

    def link_artifact(self, artifact: Any, target_path: str, aliases: Any = None) -> None:
        return None

    def link_model(
        self, path: Any, registered_model_name: str, name: Any = None, aliases: Any = None
    ) -> None:
        return None

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        if self._finished:
            return
        self._finished = True
        registry.finished(self)

    def __enter__(self) -> DisabledRun:
        return self

    def __exit__(self, *exc: Any) -> Literal[False]:
        self.finish()
        return False
