"""Where a store lives and how its directories are named.

This module and its siblings in `runstore.store` are the only code that knows the on-disk layout
(docs/FORMAT.md). Everything else goes through `Store`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import StoreError

STORE_DIRNAME = ".wandb"
SETTINGS_FILE = "settings.yaml"
LATEST_FILE = "latest-run"
RUN_LOG = "run.jsonl"
HISTORY = "history.jsonl"
SYSTEM = "system.jsonl"
FILES_DIR = "files"

SETTING_KEYS = ("project", "entity", "mode", "remote")
_BAD_NAME = re.compile(r"[/\\#?%:\r\n\x00]")


def check_name(kind: str, value: str, max_len: int = 128) -> str:
    """Validate a project or run id used as a path component; raise ValueError naming the fix."""
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {type(value).__name__}")
    if not value or value in (".", "..") or len(value) > max_len or _BAD_NAME.search(value):
        raise ValueError(
            f"invalid {kind} {value!r}: use 1-{max_len} characters without / \\ # ? % : or newlines"
        )
    return value


def _valid(name: object) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and name not in (".", "..")
        and len(name) <= 128
        and not _BAD_NAME.search(name)
    )


def find_root(start: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The store directory to use, found the way git finds `.git`.

    `RUNSTORE_DIR` names the store itself; `WANDB_DIR` (wandb's meaning) names its parent; otherwise the
    nearest `.wandb/` in `start` (default: cwd) or one of its ancestors; otherwise `<start>/.wandb`.
    """
    env = os.environ if env is None else env
    if env.get("RUNSTORE_DIR"):
        return Path(env["RUNSTORE_DIR"]).expanduser().absolute()
    if env.get("WANDB_DIR"):
        return Path(env["WANDB_DIR"]).expanduser().absolute() / STORE_DIRNAME
    here = Path(start if start is not None else os.getcwd()).absolute()
    for d in (here, *here.parents):
        if (d / STORE_DIRNAME).is_dir():
            return d / STORE_DIRNAME
    return here / STORE_DIRNAME


class RunRef:
    """Where one run lives: enough to open it, nothing read yet.

    The directory is kept as given (a str from `os.scandir` is cheap) and turned into a Path on first
    use, because listing 10,000 runs should not build 10,000 Paths it never needs.
    """

    __slots__ = ("project", "id", "dir", "_path")

    def __init__(self, project: str, id: str, path: str | os.PathLike[str]) -> None:
        self.project = project
        self.id = id
        self.dir = os.fspath(path)
        self._path: Path | None = path if isinstance(path, Path) else None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(self.dir)
        return self._path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunRef) and (self.project, self.id, self.dir) == (
            other.project,
            other.id,
            other.dir,
        )

    def __hash__(self) -> int:
        return hash((self.project, self.id, self.dir))

    def __repr__(self) -> str:
        return f"RunRef({self.project!r}, {self.id!r}, {self.dir!r})"


class Store:
    """A `.wandb/` directory: settings, projects and their runs."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @classmethod
    def discover(cls, start: str | os.PathLike[str] | None = None) -> Store:
        return cls(find_root(start))

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- settings --------------------------------------------------------------------------------
    @property
    def settings_path(self) -> Path:
        return self.root / SETTINGS_FILE

    def read_settings(self) -> dict[str, Any]:
        """settings.yaml as a dict ({} when absent). A broken file is a StoreError naming the file."""
        try:
            text = self.settings_path.read_text()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StoreError(f"cannot read {self.settings_path}: {e.strerror}") from None
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise StoreError(f"{self.settings_path} is not valid YAML ({e}); fix or delete it") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise StoreError(f"{self.settings_path} must hold a mapping of settings; fix or delete it")
        return {str(k): v for k, v in data.items()}

    def write_settings(self, values: Mapping[str, Any]) -> None:
        import yaml

        from .jsonl import write_atomic

        self.ensure()
        clean = {k: v for k, v in values.items() if v is not None}
        write_atomic(self.settings_path, yaml.safe_dump(clean, sort_keys=True).encode())

    def ensure(self) -> Path:
        try:
            if not self.root.is_dir():
                self.root.mkdir(parents=True, exist_ok=True)
                # Like a venv: git ignores the store by itself, so runs never show up as untracked
                # files in the repository they describe (nor in the diff.patch of the next run).
                (self.root / ".gitignore").write_text("# created by runstore\n*\n")
            (self.root / "projects").mkdir(exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the store at {self.root}: {e.strerror}") from None
        return self.root

    # -- runs ------------------------------------------------------------------------------------
    def project_dir(self, project: str) -> Path:
        return self.root / "projects" / project

    def run_dir(self, project: str, run_id: str) -> Path:
        return self.root / "projects" / project / "runs" / run_id

    def projects(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root / "projects") if e.is_dir())
        except FileNotFoundError:
            return []

    def iter_runs(self, project: str | None = None) -> Iterator[RunRef]:
        for p in [project] if project else self.projects():
            base = self.root / "projects" / p / "runs"
            try:
                entries = list(os.scandir(base))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for e in entries:
                if e.is_dir():
                    yield RunRef(p, e.name, e.path)

    def count_runs(self, project: str) -> int:
        """How many runs a project has. O(1) where the filesystem counts subdirectories in a directory's
        link count (ext4, xfs, tmpfs, overlayfs): init() numbers generated names with it, and a project
        with 10,000 runs must not make every init() list them."""
        path = self.root / "projects" / project / "runs"
        try:
            nlink = os.stat(path).st_nlink
        except FileNotFoundError:
            return 0
        if nlink >= 2:
            return nlink - 2
        return sum(1 for e in os.scandir(path) if e.is_dir())  # btrfs and others report 1

    def find_run_by_id(self, run_id: str, project: str | None = None) -> RunRef | None:
        if not _valid(run_id) or (project is not None and not _valid(project)):
            return None  # e.g. "..": never a run, and never a path outside the store
        for p in [project] if project else self.projects():
            d = self.run_dir(p, run_id)
            if (d / RUN_LOG).exists():
                return RunRef(p, run_id, d)
        return None

    def set_latest(self, ref: RunRef) -> None:
        from .jsonl import write_atomic

        try:
            write_atomic(self.root / LATEST_FILE, f"{ref.project}/{ref.id}\n".encode())
        except OSError:
            pass  # a convenience pointer; never worth failing a run for

    def latest(self) -> RunRef | None:
        try:
            text = (self.root / LATEST_FILE).read_text().strip()
        except OSError:
            return None
        project, _, run_id = text.partition("/")
        if not run_id:
            return None
        return self.find_run_by_id(run_id, project)
