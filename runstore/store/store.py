"""A store: a `.wandb/` directory with its settings, format version, projects, runs and sweeps."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from ..base import env as _env
from ..base import yamlsafe
from ..errors import RunNotFound, StoreError, UsageError
from . import format as fmt
from . import jsonl
from . import layout as L
from .layout import RunRef, StoreFile
from .runs import load_run
from .sweeps import SweepDir


def find_root(start: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The store directory to use, found the way git finds `.git`.

    `RUNSTORE_DIR` names the store itself; `WANDB_DIR` (wandb's meaning) names its parent; otherwise the
    nearest `.wandb/` in `start` (default: cwd) or one of its ancestors; otherwise `<start>/.wandb`.
    """
    found = _env.raw("dir", environ)
    if found is not None:
        var, value = found
        path = Path(value).expanduser().absolute()
        return path if var == _env.BY_NAME["dir"].env[0] else path / L.STORE_DIRNAME
    here = Path(start if start is not None else os.getcwd()).absolute()
    for d in (here, *here.parents):
        if (d / L.STORE_DIRNAME).is_dir():
            return d / L.STORE_DIRNAME
    return here / L.STORE_DIRNAME


class Store:
    """A `.wandb/` directory: settings, projects and their runs, sweeps."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @classmethod
    def discover(cls, start: str | os.PathLike[str] | None = None) -> Store:
        return cls(find_root(start))

    @classmethod
    def in_dir(cls, parent: str | os.PathLike[str]) -> Store:
        """The store of directory `parent` (`init(dir=D)`: `D/.wandb`, as wandb does)."""
        return cls(Path(parent).expanduser().absolute() / L.STORE_DIRNAME)

    @classmethod
    def at(cls, path: str | os.PathLike[str] | None) -> Store:
        """`--dir PATH` of the CLI: PATH itself if it is a store, else PATH/.wandb; None: discovered."""
        if path is None:
            return cls.discover()
        d = Path(path).expanduser().absolute()
        if d.name == L.STORE_DIRNAME or (d / L.PROJECTS_DIR).is_dir():
            return cls(d)
        return cls(d / L.STORE_DIRNAME)

    @classmethod
    def for_init(cls, path: str | os.PathLike[str] | None) -> Store:
        """Where `runstore init [--dir PATH]` creates a store: PATH as `at()` reads it; without PATH the
        store the environment names (RUNSTORE_DIR, WANDB_DIR), else ./.wandb (like `git init`)."""
        if path is not None:
            return cls.at(path)
        if _env.raw("dir") is not None:
            return cls(find_root())
        return cls.in_dir(Path.cwd())

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    def exists(self) -> bool:
        return self.root.is_dir()

    # -- settings --------------------------------------------------------------------------------
    @property
    def settings_path(self) -> Path:
        return self.root / L.SETTINGS_FILE

    def read_settings(self) -> dict[str, Any]:
        """settings.yaml as a dict ({} when absent). A broken file is a StoreError naming the file."""
        where = str(self.settings_path)
        try:
            data = yamlsafe.load(yamlsafe.read_text(where, "settings file"), where, "settings file")
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StoreError(f"cannot read {where}: {e.strerror}") from None
        except ValueError as e:
            raise StoreError(f"{e}, or delete the file") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise StoreError(f"{where} must hold a mapping of settings; fix or delete it")
        for k, v in data.items():
            # settings are single values (a project name, a mode, a URL, a number, a switch)
            if not isinstance(k, str) or not (v is None or isinstance(v, (str, int, float, bool))):
                raise StoreError(
                    f"{where}: setting {k!r} must be a single value (a string, number or true/false), "
                    f"not {type(v).__name__}; fix or delete it"
                )
        return dict(data)

    def write_settings(self, values: Mapping[str, Any]) -> None:
        import yaml

        self.ensure()
        clean = {k: v for k, v in values.items() if v is not None}
        jsonl.write_atomic(self.settings_path, yaml.safe_dump(clean, sort_keys=True).encode())

    def read_wandb_ini(self) -> dict[str, Any]:
        """wandb's own workspace settings file (`[default]` INI) next to ours, lowest precedence."""
        path = self.root / L.WANDB_INI
        if not path.is_file():
            return {}
        import configparser

        cp = configparser.ConfigParser()
        try:
            cp.read(path)
        except configparser.Error:
            return {}
        return dict(cp["default"]) if cp.has_section("default") else {}

    # -- format version --------------------------------------------------------------------------
    def format_version(self) -> tuple[int, int]:
        """The format version recorded for the store (format 1 when it records none)."""
        path = self.root / L.FORMAT_FILE
        try:
            data = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return fmt.LEGACY
        except (OSError, ValueError) as e:
            raise StoreError(
                f"cannot read {path} ({e}); fix or delete it (the store then reads as format 1)"
            ) from None
        version = fmt.parse(data.get("format")) if isinstance(data, dict) else None
        if version is None:
            raise StoreError(f"{path} does not name a format version; fix or delete it")
        return version

    def check_format(self) -> None:
        """Raise FormatError if the store was written in a format this code cannot read."""
        fmt.check(self.format_version(), f"the store at {self.root}")

    def ensure(self) -> Path:
        """Create the store if needed and record the format this code writes. Raises StoreError."""
        try:
            if not self.root.is_dir():
                L.make_dirs(self.root)
                # Like a venv: git ignores the store by itself, so runs never show up as untracked
                # files in the repository they describe (nor in the diff.patch of the next run).
                jsonl.write_atomic(self.root / L.GITIGNORE, b"# created by runstore\n*\n")
            L.make_dirs(self.root / L.PROJECTS_DIR)
            if self.format_version() < (fmt.MAJOR, fmt.MINOR):
                jsonl.write_atomic(self.root / L.FORMAT_FILE, fmt.record())
            else:
                self.check_format()
        except OSError as e:
            raise StoreError(f"cannot create the store at {self.root}: {e.strerror}") from None
        return self.root

    # -- projects and runs -----------------------------------------------------------------------
    def _runs_dir(self, project: str) -> Path:
        return self.root / L.PROJECTS_DIR / project / L.RUNS_DIR

    def has_project(self, project: str) -> bool:
        return L.valid_name(project) and (self.root / L.PROJECTS_DIR / project).is_dir()

    def run(self, project: str, run_id: str) -> RunRef:
        """Where run `run_id` of `project` lives (whether or not it exists yet)."""
        L.check_name("project", project)
        L.check_name("run id", run_id)
        return RunRef(project, run_id, self._runs_dir(project) / run_id)

    def projects(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.root / L.PROJECTS_DIR) if e.is_dir())
        except FileNotFoundError:
            return []

    def iter_runs(self, project: str | None = None) -> Iterator[RunRef]:
        for p in [project] if project else self.projects():
            try:
                entries = list(os.scandir(self._runs_dir(p)))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for e in entries:
                if e.is_dir():
                    yield RunRef(p, e.name, e.path)

    def count_runs(self, project: str) -> int:
        """How many runs a project has. O(1) where the filesystem counts subdirectories in a directory's
        link count (ext4, xfs, tmpfs, overlayfs): init() numbers generated names with it, and a project
        with 10,000 runs must not make every init() list them."""
        path = self._runs_dir(project)
        try:
            nlink = os.stat(path).st_nlink
        except FileNotFoundError:
            return 0
        if nlink >= 2:
            return nlink - 2
        return sum(1 for e in os.scandir(path) if e.is_dir())  # btrfs and others report 1

    def find_run_by_id(self, run_id: str, project: str | None = None) -> RunRef | None:
        if not L.valid_name(run_id) or (project is not None and not L.valid_name(project)):
            return None  # e.g. "..": never a run, and never a path outside the store
        for p in [project] if project else self.projects():
            ref = RunRef(p, run_id, self._runs_dir(p) / run_id)
            if ref.exists():
                return ref
        return None

    def resolve(self, spec: str, project: str | None = None) -> RunRef:
        """A run named the way people name runs: `latest`, `project/id` (or `entity/project/id`), a run
        id, a unique id prefix, a run name, or a run directory. RunNotFound or UsageError otherwise."""
        if not isinstance(spec, str) or not spec.strip():
            raise UsageError("empty run reference; give a run id, id prefix, name, path or 'latest'")
        spec = spec.strip()
        if spec == "latest":
            ref = self.latest()
            if ref is None:
                raise RunNotFound(f"no latest run recorded in {self.root}")
            return ref
        by_dir = L.run_ref_of_dir(spec)
        if by_dir is not None:
            return by_dir
        if "/" in spec:
            parts = [p for p in spec.strip("/").split("/") if p]
            if len(parts) == 4 and parts[2] == L.RUNS_DIR:  # the URL form entity/project/runs/id
                parts = [parts[0], parts[1], parts[3]]
            ref = self.find_run_by_id(parts[-1], parts[-2]) if len(parts) >= 2 else None
            if ref is None:
                raise RunNotFound(f"run {spec!r} not found in {self.root}")
            return ref
        ref = self.find_run_by_id(spec, project)
        if ref is not None:
            return ref
        refs = list(self.iter_runs(project))
        by_prefix = [r for r in refs if r.id.startswith(spec)]
        if len(by_prefix) == 1:
            return by_prefix[0]
        by_name = [r for r in refs if load_run(r).info.get("name") == spec] if not by_prefix else []
        if len(by_name) == 1:
            return by_name[0]
        matches = by_prefix or by_name
        if matches:
            ids = ", ".join(sorted(f"{r.project}/{r.id}" for r in matches)[:8])
            raise UsageError(f"{spec!r} is ambiguous: it matches {ids}; use more of the id or project/id")
        raise RunNotFound(f"no run matches {spec!r} in {self.root} (try `runstore ls`)")

    # -- pointers ----------------------------------------------------------------------------------
    def set_latest(self, ref: RunRef) -> None:
        try:
            jsonl.write_atomic(self.root / L.LATEST_FILE, f"{ref.project}/{ref.id}\n".encode())
        except OSError:
            pass  # a convenience pointer; never worth failing a run for

    def latest(self) -> RunRef | None:
        try:
            text = (self.root / L.LATEST_FILE).read_text().strip()
        except OSError:
            return None
        project, _, run_id = text.partition("/")
        if not run_id:
            return None
        return self.find_run_by_id(run_id, project)

    def resume_id(self) -> str | None:
        """The run `resume="auto"` continues (recorded while such a run is unfinished)."""
        try:
            rid = orjson.loads((self.root / L.RESUME_FILE).read_bytes()).get("run_id")
        except (OSError, ValueError, AttributeError):
            return None
        return rid if isinstance(rid, str) else None

    def set_resume_id(self, run_id: str) -> None:
        try:
            jsonl.write_atomic(self.root / L.RESUME_FILE, orjson.dumps({"run_id": run_id}))
        except OSError:
            pass

    def clear_resume_id(self, run_id: str) -> None:
        """Forget the auto-resume pointer if it names `run_id` (the run finished cleanly)."""
        if self.resume_id() == run_id:
            try:
                (self.root / L.RESUME_FILE).unlink()
            except OSError:
                pass

    # -- derived files -----------------------------------------------------------------------------
    def index_path(self, project: str) -> Path:
        return self.root / L.CACHE_DIR / f"runs-{project}.json"

    def requirements_cache(self, key: str) -> Path:
        return self.root / L.CACHE_DIR / f"requirements-{key}.txt"

    def sync_dir(self, key: str) -> Path:
        """What was sent to the remote with key `key`, for what is not a run (sweeps, store files)."""
        return self.root / L.CACHE_DIR / L.SYNC_DIR / key

    def remote_mirror(self, key: str) -> Path:
        """A local read-only mirror of a remote's run records (what `runstore ls --remote` lists)."""
        return self.root / L.CACHE_DIR / L.REMOTES_CACHE / key

    @property
    def daemon_dir(self) -> Path:
        return self.root / L.DAEMON_DIR

    @property
    def daemon_pid(self) -> Path:
        return self.root / L.DAEMON_DIR / L.PID_FILE

    @property
    def daemon_log(self) -> Path:
        return self.root / L.DAEMON_DIR / L.LOG_FILE

    @property
    def sync_status(self) -> Path:
        """The daemon's streaming status per run (lag, last error) for `runstore daemon status`."""
        return self.root / L.DAEMON_DIR / f"{L.SYNC_DIR}.json"

    @property
    def live_dir(self) -> Path:
        return self.root / L.DAEMON_DIR / L.LIVE_DIR

    @property
    def outbox_dir(self) -> Path:
        """One entry per online run with a remote until the daemon has sent and verified all of it."""
        return self.root / L.DAEMON_DIR / L.OUTBOX_DIR

    @property
    def projects_dir(self) -> Path:
        """What the daemon watches for changes to runs."""
        return self.root / L.PROJECTS_DIR

    def restore_paths(self, run_id: str) -> L.RestorePaths:
        d = self.root / L.RESTORE_DIR / run_id
        return L.RestorePaths(d, d / L.RESTORE_CONFIG, d / L.REQUIREMENTS, d / L.FILES_DIR)

    @property
    def sweeps_dir(self) -> Path:
        return self.root / L.SWEEPS_DIR

    # -- files and their kinds ---------------------------------------------------------------------
    def store_files(self) -> list[StoreFile]:
        """The store-level files (settings, format, pointers, caches, daemon state) with their kinds."""
        out = []
        for rel, path in L.walk(self.root):
            if rel.split("/")[0] in (L.PROJECTS_DIR, L.SWEEPS_DIR):
                continue
            kind = L.store_file_kind(rel)
            if kind is not None:
                out.append(StoreFile(rel, path, kind))
        return out

    def files(self, ref: RunRef) -> list[StoreFile]:
        """Every file of a run with its kind (see layout.py): what sync sends and how."""
        return ref.files()

    def sweep_files(self, sweep_id: str) -> list[StoreFile]:
        return SweepDir(self, sweep_id).files()


__all__ = ["Store", "find_root"]
