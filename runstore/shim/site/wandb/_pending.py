"""Stand-ins for the wandb names runstore does not have yet, so that a library path using them warns
instead of crashing training: `wandb.Artifact` + `log_artifact` (the Hugging Face Trainer's model logging,
Lightning's `log_model`), `log_model`, `watch`/`unwatch`. The shim uses runstore's own name as soon as
runstore has one (`wandb/__init__.py` asks runstore first); these are only the fallback.

An artifact's files are saved into the run with `run.save` under `files/artifacts/<name>/v<N>/`, one
directory per logged version, with a warning (once per artifact name) that says so.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Iterator
from typing import IO, Any

from runstore.base import term
from runstore.errors import Error, UsageError
from runstore.sdk import registry

# tempfile and shutil are imported where used: `import wandb` should cost no more than `import runstore`.

_NOT_YET = "artifacts are not supported yet"


def _warn(msg: str, key: str) -> None:
    term.current().warn(msg, once_key=f"shim-pending:{key}")


class Artifact:
    """Collects what a wandb artifact would hold; `run.log_artifact(a)` saves its files into the run."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        incremental: bool = False,
        use_as: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("Artifact(name=...) must be a non-empty str")
        self.name = name
        self.type = type
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.aliases: list[str] = []
        self.tags: list[str] = []
        self.version: str | None = None
        # name inside the artifact -> the local file; files written with new_file() live in _staging
        self._files: dict[str, str] = {}
        self._staging: str | None = None

    def __repr__(self) -> str:
        return f"<Artifact {self.name} ({self.type}), {len(self._files)} files; not uploaded: {_NOT_YET}>"

    def _stage_dir(self) -> str:
        if self._staging is None:
            import tempfile

            self._staging = tempfile.mkdtemp(prefix="runstore-artifact-")
        return self._staging

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: str = "mutable",
        overwrite: bool = False,
    ) -> None:
        path = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(path):
            raise ValueError(f"Path is not a file: {path!r}")
        key = (name or os.path.basename(path)).replace(os.sep, "/")
        if policy == "mutable":
            import shutil

            # wandb copies a mutable file when it is added: later changes to it are not in the artifact
            dest = os.path.join(self._stage_dir(), "contents", key)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(path, dest)
            path = dest
        self._files[key] = path

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        skip_cache: bool | None = False,
        policy: str = "mutable",
        merge: bool = False,
    ) -> None:
        root = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(root):
            raise ValueError(f"Path is not a directory: {root!r}")
        for dirpath, _dirs, files in os.walk(root):
            for f in sorted(files):
                full = os.path.join(dirpath, f)
                rel = os.path.relpath(full, root)
                self.add_file(full, name=os.path.join(name, rel) if name else rel, policy=policy)

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        path = os.path.join(self._stage_dir(), "contents", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode, encoding=encoding) as f:
            yield f
        self._files[name.replace(os.sep, "/")] = path

    def add(self, obj: Any, name: str, overwrite: bool = False) -> None:
        _warn(
            f"{_NOT_YET}: Artifact.add({type(obj).__name__}, {name!r}) of artifact {self.name!r} is not "
            "kept; log the object with run.log() to keep it in the run",
            f"add:{self.name}:{name}",
        )

    def add_reference(self, uri: Any, name: str | None = None, *args: Any, **kwargs: Any) -> None:
        _warn(
            f"{_NOT_YET}: the reference {uri!s} in artifact {self.name!r} is not recorded",
            f"ref:{self.name}",
        )

    def wait(self, timeout: int | None = None) -> Artifact:
        return self

    def save(self, project: str | None = None, settings: Any = None) -> None:
        run = registry.current()
        if run is None:
            raise Error("You must call wandb.init() before Artifact.save()")
        log_artifact_to(run, self)

    def _cleanup(self) -> None:
        if self._staging is not None:
            import shutil

            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None


_versions: dict[tuple[str, str], itertools.count[int]] = {}


def log_artifact_to(
    run: Any,
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
) -> Artifact:
    """`run.log_artifact(...)` without artifacts: the files, saved with `run.save` under
    `artifacts/<name>/v<N>/` (N counts the versions this process logged under that name)."""
    if isinstance(artifact_or_path, (str, os.PathLike)):
        path = os.fspath(artifact_or_path)
        art = Artifact(name or os.path.basename(os.path.normpath(path)), type or "unspecified")
        if os.path.isdir(path):
            art.add_dir(path)
        else:
            art.add_file(path)
    elif isinstance(artifact_or_path, Artifact):
        art = artifact_or_path
    else:
        raise UsageError(
            f"log_artifact() takes a wandb.Artifact or a path, got {type(artifact_or_path).__name__}"
        )
    art.aliases = list(aliases or [])
    art.tags = list(tags or [])
    if getattr(run, "disabled", False) or not hasattr(run, "save"):
        return art
    import shutil
    import tempfile

    n = next(_versions.setdefault((run.id, art.name), itertools.count()))
    art.version = f"v{n}"
    # a run name inside an artifact name ("model-<run name>") may hold "/" or "..": one directory level
    folder = re.sub(r"[^\w.-]", "_", art.name).replace("..", "__")
    where = f"artifacts/{folder}/{art.version}"
    root = tempfile.mkdtemp(prefix="runstore-artifact-log-")
    try:
        for key, src in art._files.items():
            if not os.path.isfile(src):
                _warn(f"artifact {art.name!r}: {src} no longer exists; not saved", f"gone:{src}")
                continue
            dest = os.path.join(root, where, key)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            try:
                os.link(src, dest)  # run.save copies it again; a link avoids a third copy of a checkpoint
            except OSError:
                shutil.copy2(src, dest)
        saved = run.save(os.path.join(root, where, "**"), base_path=root, policy="now") if art._files else []
    finally:
        shutil.rmtree(root, ignore_errors=True)
        art._cleanup()
    count = f"{len(saved)} file{'' if len(saved) == 1 else 's'}"
    _warn(
        f"{_NOT_YET}; saved the files with run.save instead: artifact {art.name!r} ({art.type}) "
        f"{art.version} is in the run's files under {where}/ ({count}; later versions beside it)",
        f"log:{art.name}",
    )
    return art


def log_artifact(
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
) -> Artifact:
    run = registry.current()
    if run is None:
        raise Error("You must call wandb.init() before wandb.log_artifact()")
    return log_artifact_to(run, artifact_or_path, name=name, type=type, aliases=aliases, tags=tags)


def _run_log_artifact(
    self: Any,
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: list[str] | None = None,
    tags: list[str] | None = None,
) -> Artifact:
    return log_artifact_to(self, artifact_or_path, name=name, type=type, aliases=aliases, tags=tags)


def log_model(path: Any, name: str | None = None, aliases: list[str] | None = None) -> None:
    run = registry.current()
    if run is None:
        raise Error("You must call wandb.init() before wandb.log_model()")
    log_artifact_to(run, path, name=name, type="model", aliases=aliases)


def _run_log_model(self: Any, path: Any, name: str | None = None, aliases: list[str] | None = None) -> None:
    log_artifact_to(self, path, name=name, type="model", aliases=aliases)


def use_artifact(artifact_or_name: Any, *args: Any, **kwargs: Any) -> Any:
    name = getattr(artifact_or_name, "name", artifact_or_name)
    raise Error(f"{_NOT_YET}: use_artifact({name!r}) has nothing to read from")


def _run_use_artifact(self: Any, artifact_or_name: Any, *args: Any, **kwargs: Any) -> Any:
    return use_artifact(artifact_or_name)


def watch(
    models: Any = None,
    criterion: Any = None,
    log: Any = "gradients",
    log_freq: int = 1000,
    *args: Any,
    **kwargs: Any,
) -> None:
    _warn("wandb.watch() is not supported yet; no gradients or parameters are logged", "watch")


def unwatch(models: Any = None) -> None:
    return None


def _run_watch(self: Any, models: Any = None, *args: Any, **kwargs: Any) -> None:
    if not getattr(self, "disabled", False):
        watch(models)


def _run_unwatch(self: Any, models: Any = None) -> None:
    return None


# module-level stand-ins, and the Run methods they need (Hugging Face calls `wandb.run.log_artifact`,
# Lightning `run.log_artifact` and `run.watch`)
MODULE_NAMES: dict[str, Any] = {
    "Artifact": Artifact,
    "log_artifact": log_artifact,
    "log_model": log_model,
    "use_artifact": use_artifact,
    "watch": watch,
    "unwatch": unwatch,
}
RUN_METHODS: dict[str, Any] = {
    "log_artifact": _run_log_artifact,
    "log_model": _run_log_model,
    "use_artifact": _run_use_artifact,
    "watch": _run_watch,
    "unwatch": _run_unwatch,
}


def fill_in(*classes: type) -> None:
    """Give runstore's run classes the methods above where they have none of their own."""
    for cls in classes:
        for name, fn in RUN_METHODS.items():
            if not hasattr(cls, name):
                setattr(cls, name, fn)


__all__ = ["Artifact", "MODULE_NAMES", "fill_in", "log_artifact_to"]
