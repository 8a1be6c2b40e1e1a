"""Where everything lives in a store, and what kind of file each one is.

This module and its siblings in `runstore.store` are the only code that knows the on-disk layout
(docs/FORMAT.md); a test fails when a store file or directory name appears anywhere else. Other code
asks a `Store` (store-level files), a `RunRef` (one run's files) or a `SweepDir` (store/sweeps.py).

Every file of a store has one of four kinds, which is what replication decides by:

* `append`    — only ever grows (run.jsonl, history generations, system.jsonl, output.log, journals):
                a replica copies the bytes it does not have yet.
* `immutable` — written once, under a name that never gets other content (media, tables, diff.patch,
                requirements.txt, code, trial configs): copied once.
* `replaced`  — swapped whole, atomically (settings, the format file, files saved by `run.save`, a
                sweep's readable config): a replica takes the new version when it changes.
* `derived`   — caches, indexes and local process state (latest-run, cache/, daemon/): never copied,
                rebuilt or recreated wherever they are needed, deletable at any time.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple

Kind = Literal["append", "immutable", "replaced", "derived"]
APPEND: Kind = "append"
IMMUTABLE: Kind = "immutable"
REPLACED: Kind = "replaced"
DERIVED: Kind = "derived"
KINDS: tuple[Kind, ...] = (APPEND, IMMUTABLE, REPLACED, DERIVED)

# -- the names ------------------------------------------------------------------------------------
STORE_DIRNAME = ".wandb"
SETTINGS_FILE = "settings.yaml"
WANDB_INI = "settings"  # wandb's own workspace settings (INI), read with the lowest precedence
FORMAT_FILE = "format.json"
LATEST_FILE = "latest-run"
RESUME_FILE = "wandb-resume.json"
GITIGNORE = ".gitignore"
PROJECTS_DIR = "projects"
RUNS_DIR = "runs"
SWEEPS_DIR = "sweeps"
CACHE_DIR = "cache"
WRITER_LOCK = "writer.lock"
ARTIFACT_STAT_CACHE = "artifact-stat.json"
DAEMON_DIR = "daemon"
RESTORE_DIR = "restore"
SERVER_DIR = "server"  # `runstore server`'s own files: never synced (no kind), never derived
SERVER_TOKENS = "tokens.jsonl"

RUN_LOG = "run.jsonl"
HISTORY = "history.jsonl"  # generation 0; a rewind starts history.<N>.jsonl
SYSTEM = "system.jsonl"
FILES_DIR = "files"
OUTPUT_LOG = "output.log"
DIFF_PATCH = "diff.patch"
REQUIREMENTS = "requirements.txt"
CODE_DIR = "code"
MEDIA_DIR = "media"

PID_FILE = "daemon.pid"
LOG_FILE = "daemon.log"
LIVE_DIR = "live"
OUTBOX_DIR = "outbox"  # daemon/: runs with a remote whose stream the daemon has not completed
MARKER_SUFFIX = ".json"

JOURNAL = "journal.jsonl"
SWEEP_CONFIG = "config.yaml"
SWEEP_LOCK = "lock"

RESTORE_CONFIG = "config.yaml"

# Artifacts (store/artifacts.py): content-addressed objects shared by the whole store, and per project an
# append-only log of versions, aliases and lineage plus one immutable manifest per distinct content.
ARTIFACTS_DIR = "artifacts"
OBJECTS_DIR = "objects"
ARTIFACT_LOG = "artifacts.jsonl"
MANIFESTS_DIR = "manifests"
ARTIFACT_LOCK = "lock"

# Remotes (runstore/remotes/). An object store cannot append, so an `append` file there is the object
# at its own path (bytes [0, B), written whole) followed by segment objects
# `<owner>/segments/<path in owner>/<offset:020d>` holding the bytes sent since, where <owner> is the
# run or sweep directory, or a project's artifact directory. Local stores never have a segments/
# directory.
SEGMENTS_DIR = "segments"
SEGMENT_DIGITS = 20
SYNC_DIR = "sync"  # store cache/: what was sent where; run cache/: sync-<remote key>.json
REMOTES_CACHE = "remotes"  # store cache/: read-only mirrors of remotes for `runstore ls --remote`

# At most this many steps share one media directory: a run logging an image per step for 100,000 steps
# gets 100 directories of <= 1,000 files per key instead of one directory of 100,000.
STEPS_PER_DIR = 1000

_GENERATION = re.compile(r"^history\.(\d+)\.jsonl$")
_REWOUND = re.compile(r"^history\.rewound-\d+\.jsonl$")  # format 1: the full history kept by a rewind
_TRIAL_CONFIG = re.compile(r"^config-[^/]+\.(yaml|json)$")
_TMP = re.compile(r"\.tmp-runstore-\d+$")
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
_MANIFEST = re.compile(r"^[0-9a-f]{32}\.json$")
_BAD_NAME = re.compile(r"[/\\#?%:\r\n\x00]")


# Filesystems limit a file name to 255 bytes; a project name also appears inside longer names
# (`cache/runs-<project>.json`, and its temporary sibling `.runs-<project>.json.tmp-runstore-<pid>`).
MAX_NAME_BYTES = 200


def check_name(kind: str, value: str, max_len: int = 128) -> str:
    """Validate a project or run id used as a path component; raise ValueError naming the fix."""
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {type(value).__name__}")
    if not valid_name(value, max_len):
        n = len(value.encode("utf-8", "surrogatepass"))
        if value and n > MAX_NAME_BYTES and len(value) <= max_len:
            raise ValueError(
                f"invalid {kind} {value[:40]!r}…: {n} bytes in UTF-8, at most {MAX_NAME_BYTES} fit in a "
                "file name (with room for runstore's own suffixes); choose a shorter one"
            )
        raise ValueError(
            f"invalid {kind} {value!r}: use 1-{max_len} characters without / \\ # ? % : or newlines"
        )
    return value


def valid_name(name: object, max_len: int = 128) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and name not in (".", "..")
        and len(name) <= max_len
        and not _BAD_NAME.search(name)
        and len(name.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES
    )


def make_dirs(path: str | os.PathLike[str]) -> None:
    """os.makedirs(path, exist_ok=True) for store directories: each one created is at most group-writable
    (0o775 under the umask), whatever the umask, so a store runstore creates is never world-writable
    (docs/FORMAT.md, "Sharing a store" under the rules every file follows)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path.rstrip(os.sep))
    if parent and parent != path and not os.path.isdir(parent):
        make_dirs(parent)
    try:
        os.mkdir(path, 0o775)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def upload_staging(path: str | os.PathLike[str], upload: str) -> str:
    """Where a whole file uploaded in pieces (upload id `upload`) is staged before it is put in place:
    a hidden sibling like `tmp_path`'s, but the same for every process of a server (the pieces of one
    upload may reach different workers)."""
    head, tail = os.path.split(os.fspath(path))
    return os.path.join(head, f".{tail}-{upload}.tmp-runstore-0")


def tmp_path(path: str | os.PathLike[str]) -> str:
    """Where an atomic write of `path` stages its bytes: a hidden sibling that no reader or replica
    mistakes for a store file (see `is_tmp`)."""
    head, tail = os.path.split(os.fspath(path))
    return os.path.join(head, f".{tail}.tmp-runstore-{os.getpid()}")


def is_tmp(name: str) -> bool:
    return _TMP.search(name) is not None


def history_name(generation: int) -> str:
    return HISTORY if generation == 0 else f"history.{generation}.jsonl"


def history_generation(name: str) -> int | None:
    """0 for history.jsonl, N for history.N.jsonl, None for anything else (e.g. a traversal attempt)."""
    if name == HISTORY:
        return 0
    m = _GENERATION.match(name)
    return int(m.group(1)) if m else None


def safe_key(key: str) -> str:
    """A metric key as a relative path: `/` makes directories (as in wandb), nothing may escape."""
    parts = [p for p in key.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    cleaned = ["".join(c if c.isalnum() or c in "-_.=+@" else "_" for c in p)[:100] for p in parts]
    return "/".join(cleaned) or "_"


def media_relpath(kind: str, key: str, step: int, digest: str, ext: str) -> str:
    """`media/<kind>/<key>_<step>_<sha256[:20]>.<ext>` (relative to files/), in a per-1000-steps directory."""
    bucket = f"{(step // STEPS_PER_DIR) * STEPS_PER_DIR:07d}"
    k = safe_key(key)
    head, _, leaf = k.rpartition("/")
    return "/".join(p for p in (MEDIA_DIR, kind, head, bucket, f"{leaf}_{step}_{digest[:20]}.{ext}") if p)


# -- kinds ----------------------------------------------------------------------------------------
def run_file_kind(rel: str) -> Kind | None:
    """The kind of a file of a run, by its path relative to the run directory (posix); None for a
    file that is not part of the format (nor the temporary file of a write in progress)."""
    parts = rel.split("/")
    name = parts[-1]
    if is_tmp(name):
        return None
    if len(parts) == 1:
        if name in (RUN_LOG, SYSTEM) or history_generation(name) is not None:
            return APPEND
        if _REWOUND.match(name):
            return IMMUTABLE
        return None
    if parts[0] == CACHE_DIR:
        return DERIVED
    if parts[0] != FILES_DIR:
        return None
    inner = parts[1:]
    if inner == [OUTPUT_LOG]:
        return APPEND
    if inner in ([DIFF_PATCH], [REQUIREMENTS]) or inner[0] in (CODE_DIR, MEDIA_DIR) and len(inner) > 1:
        return IMMUTABLE
    return REPLACED  # whatever the program saved or wrote into run.dir


def sweep_file_kind(rel: str) -> Kind | None:
    """The kind of a file of a sweep, by its path relative to the sweep directory."""
    if "/" in rel or is_tmp(rel):
        return None
    if rel == JOURNAL:
        return APPEND
    if rel == SWEEP_CONFIG:
        return REPLACED
    if rel == SWEEP_LOCK:
        return DERIVED
    if _TRIAL_CONFIG.match(rel):
        return IMMUTABLE
    return None


def store_file_kind(rel: str) -> Kind | None:
    """The kind of a store-level file (not under projects/ or sweeps/), by its path relative to the root."""
    parts = rel.split("/")
    if is_tmp(parts[-1]):
        return None
    if len(parts) == 1:
        if rel in (SETTINGS_FILE, WANDB_INI, FORMAT_FILE):
            return REPLACED
        if rel in (LATEST_FILE, RESUME_FILE, GITIGNORE):
            return DERIVED
        return None
    if parts[0] in (CACHE_DIR, DAEMON_DIR, RESTORE_DIR):
        return DERIVED
    if parts[0] == SERVER_DIR:
        return None  # the server's tokens: this store's alone, never sent anywhere
    if parts[0] == ARTIFACTS_DIR:
        return artifact_file_kind(parts[1:])
    return None


def artifact_file_kind(parts: list[str]) -> Kind | None:
    """The kind of a file under artifacts/, by its path components below that directory."""
    if len(parts) == 3 and parts[0] == OBJECTS_DIR:
        ok = _MD5_HEX.match(parts[2]) is not None and parts[1] == parts[2][:2]
        return IMMUTABLE if ok else None
    if len(parts) < 3 or parts[0] != PROJECTS_DIR or not valid_name(parts[1]):
        return None
    inner = parts[2:]
    if inner == [ARTIFACT_LOG]:
        return APPEND
    if inner == [ARTIFACT_LOCK]:
        return DERIVED
    if len(inner) == 3 and inner[0] == MANIFESTS_DIR and valid_name(inner[1]) and _MANIFEST.match(inner[2]):
        return IMMUTABLE
    return None


def artifact_objects_rel() -> str:
    """The store path of the directory of artifact objects (what a push lists at a remote)."""
    return f"{ARTIFACTS_DIR}/{OBJECTS_DIR}"


def artifact_object_rel(hexdigest: str) -> str:
    """The store path of the object with hex MD5 `hexdigest` (its kind is None when the name is not one)."""
    return f"{ARTIFACTS_DIR}/{OBJECTS_DIR}/{hexdigest[:2]}/{hexdigest}"


def artifact_project_rel(project: str) -> str:
    """The store path of a project's artifact directory (its log and manifests)."""
    return f"{ARTIFACTS_DIR}/{PROJECTS_DIR}/{project}"


def artifact_log_rel(project: str) -> str:
    return f"{artifact_project_rel(project)}/{ARTIFACT_LOG}"


def artifact_manifest_rel(project: str, collection: str, digest: str) -> str:
    return f"{artifact_project_rel(project)}/{MANIFESTS_DIR}/{collection}/{digest}.json"


def kind_of(rel: str) -> Kind | None:
    """The kind of any file of a store, by its path relative to the store root (posix)."""
    parts = rel.split("/")
    if parts[0] == PROJECTS_DIR:
        if len(parts) >= 5 and parts[2] == RUNS_DIR:
            return run_file_kind("/".join(parts[4:]))
        return None
    if parts[0] == SWEEPS_DIR:
        return sweep_file_kind("/".join(parts[2:])) if len(parts) >= 3 else None
    return store_file_kind(rel)


def owner_len(parts: list[str]) -> int:
    """How many leading components of a store path name its owner: 4 for a run's files
    (projects/<p>/runs/<id>), 3 for a project's artifact files (artifacts/projects/<p>), 2 for a
    sweep's (sweeps/<id>), 0 for store-level files (artifact objects included: they never grow)."""
    if parts[0] == PROJECTS_DIR and len(parts) >= 5 and parts[2] == RUNS_DIR:
        return 4
    if parts[0] == ARTIFACTS_DIR and len(parts) >= 4 and parts[1] == PROJECTS_DIR:
        return 3
    if parts[0] == SWEEPS_DIR and len(parts) >= 3:
        return 2
    return 0


def segment_path(rel: str, offset: int) -> str:
    """The remote object holding the bytes of `append` file `rel` from `offset` on (object stores)."""
    parts = rel.split("/")
    n = owner_len(parts)
    if n == 0:
        raise ValueError(f"{rel!r} is not a file of a run, a sweep or a project's artifacts")
    return "/".join([*parts[:n], SEGMENTS_DIR, *parts[n:], f"{offset:0{SEGMENT_DIGITS}d}"])


def segments_prefix(rel: str) -> str:
    """The remote directory holding the segments of `append` file `rel`, with a trailing `/`."""
    return segment_path(rel, 0).rsplit("/", 1)[0] + "/"


def parse_segment(rel: str) -> tuple[str, int] | None:
    """`(file, offset)` when `rel` is a segment object of a remote; else None."""
    parts = rel.split("/")
    n = owner_len(parts)
    if n == 0 or len(parts) < n + 3 or parts[n] != SEGMENTS_DIR:
        return None
    off = parts[-1]
    if len(off) != SEGMENT_DIGITS or not off.isdigit():
        return None
    return "/".join([*parts[:n], *parts[n + 1 : -1]]), int(off)


class StoreFile:
    """A file of a store: its path relative to the store root (posix), where it is, and its kind.

    `fspath` is the path as a str; the `Path` is made on first use of `path`, because syncing 1,000
    runs lists tens of thousands of files and most of them are only stat()ed.
    """

    __slots__ = ("rel", "fspath", "kind", "_path")

    def __init__(self, rel: str, path: str | os.PathLike[str], kind: Kind) -> None:
        self.rel = rel
        self.fspath = os.fspath(path)
        self.kind = kind
        self._path: Path | None = path if isinstance(path, Path) else None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(self.fspath)
        return self._path

    def __iter__(self) -> Iterator[object]:
        return iter((self.rel, self.path, self.kind))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreFile) and (self.rel, self.fspath, self.kind) == (
            other.rel,
            other.fspath,
            other.kind,
        )

    def __hash__(self) -> int:
        return hash((self.rel, self.fspath, self.kind))

    def __repr__(self) -> str:
        return f"StoreFile({self.rel!r}, {self.fspath!r}, {self.kind!r})"


def walk(base: str | os.PathLike[str], sort: bool = True) -> Iterator[tuple[str, str]]:
    """(posix path relative to `base`, path as a str) of every regular file under `base` but temporary
    ones (`is_tmp`), not following symlinks; sorted by name in each directory unless `sort=False` (sync walks tens of
    thousands of directories and sorts what it needs itself)."""
    try:
        with os.scandir(base) as it:
            entries = sorted(it, key=_name) if sort else list(it)
    except (FileNotFoundError, NotADirectoryError):
        return
    for e in entries:
        if e.is_dir(follow_symlinks=False):
            for rel, path in walk(e.path, sort):
                yield f"{e.name}/{rel}", path
        elif e.is_file(follow_symlinks=False) and not is_tmp(e.name):
            # a temporary file is a write in progress, or one a killed process left: never a store file
            yield e.name, e.path


def _name(e: os.DirEntry[str]) -> str:
    return e.name


def _rel(f: StoreFile) -> str:
    return f.rel


# -- one run --------------------------------------------------------------------------------------
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

    @property
    def rel(self) -> str:
        """The run directory relative to its store's root."""
        return f"{PROJECTS_DIR}/{self.project}/{RUNS_DIR}/{self.id}"

    # The run's files. Readers that need the *current* history use RunState.history_path (a rewind
    # moves it to a new generation).
    @property
    def run_log(self) -> Path:
        return self.path / RUN_LOG

    @property
    def system_log(self) -> Path:
        return self.path / SYSTEM

    def history_file(self, name: str = HISTORY) -> Path:
        if history_generation(name) is None:
            raise ValueError(f"{name!r} is not a history file name")
        return self.path / name

    def history_cache(self, name: str = HISTORY) -> Path:
        """The derived column cache of one history generation."""
        return self.path / CACHE_DIR / f"{name.removesuffix('.jsonl')}.npz"

    def history_pyramid(self, name: str = HISTORY) -> Path:
        """The derived chart pyramid (per-metric min/max at every zoom, store/pyramid.py) of one history
        generation."""
        return self.path / CACHE_DIR / f"{name.removesuffix('.jsonl')}.pyramid.npz"

    @property
    def files_dir(self) -> Path:
        return self.path / FILES_DIR

    @property
    def output_log(self) -> Path:
        return self.path / FILES_DIR / OUTPUT_LOG

    @property
    def diff_patch(self) -> Path:
        return self.path / FILES_DIR / DIFF_PATCH

    @property
    def requirements(self) -> Path:
        return self.path / FILES_DIR / REQUIREMENTS

    @property
    def code_dir(self) -> Path:
        return self.files_dir / CODE_DIR

    def code_file(self, relpath: str) -> Path:
        """Where a copy of the program's source file `relpath` (relative to its repository) goes."""
        return self.files_dir / CODE_DIR / relpath

    def files_rel(self, path: str | os.PathLike[str]) -> str:
        """`path` (under files/) as the posix name a run's files are known by (`run.files()`)."""
        return Path(os.path.relpath(path, self.files_dir)).as_posix()

    def files_path(self, name: str) -> Path | None:
        """Where the run's file `name` (as `run.files()` names it) is or would be; None for a name that
        leads outside files/ (`..`, an absolute path, a symlink out)."""
        root = self.files_dir.resolve()
        target = (root / name).resolve()
        return target if root in target.parents else None

    def saved_file(self, name: str) -> Path | None:
        """The run's existing file `name`, or None."""
        target = self.files_path(name)
        return target if target is not None and target.is_file() else None

    @property
    def writer_lock(self) -> Path:
        """Held (flock) by the one process writing the run (store/writer.py); local, never sent."""
        return self.path / CACHE_DIR / WRITER_LOCK

    def sync_state(self, key: str) -> Path:
        """What was sent of this run to the remote with key `key` (derived: losing it costs a re-check)."""
        return self.path / CACHE_DIR / f"{SYNC_DIR}-{key}.json"

    def exists(self) -> bool:
        return self.run_log.exists()

    def files(self) -> list[StoreFile]:
        """Every file of the run with its kind (temporary files of writes in progress left out)."""
        out = []
        base = self.rel
        for rel, path in walk(self.path, sort=False):
            kind = run_file_kind(rel)
            if kind is not None:
                out.append(StoreFile(f"{base}/{rel}", path, kind))
        out.sort(key=_rel)
        return out

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


def run_ref_of_dir(path: str | os.PathLike[str]) -> RunRef | None:
    """The run whose directory (or whose files/ directory) `path` is, wherever it lies; else None."""
    p = Path(path)
    if p.name == FILES_DIR and (p.parent / RUN_LOG).is_file():
        p = p.parent
    if not (p / RUN_LOG).is_file():
        return None
    p = p.absolute()
    return RunRef(p.parent.parent.name, p.name, p)


class RestorePaths(NamedTuple):
    """What `runstore restore` writes for a run (derived: it can always be written again)."""

    dir: Path
    config: Path
    requirements: Path
    files_dir: Path


__all__ = [
    "Kind",
    "KINDS",
    "APPEND",
    "IMMUTABLE",
    "REPLACED",
    "DERIVED",
    "StoreFile",
    "RunRef",
    "RestorePaths",
    "check_name",
    "valid_name",
    "tmp_path",
    "is_tmp",
    "history_name",
    "history_generation",
    "safe_key",
    "media_relpath",
    "kind_of",
    "run_file_kind",
    "sweep_file_kind",
    "store_file_kind",
    "artifact_file_kind",
    "artifact_objects_rel",
    "artifact_object_rel",
    "artifact_project_rel",
    "artifact_log_rel",
    "artifact_manifest_rel",
    "walk",
    "run_ref_of_dir",
    "owner_len",
    "segment_path",
    "segments_prefix",
    "parse_segment",
]
