"""`Artifact`: versioned, content-addressed files with wandb's API (docs/COMPAT.md §9), kept in the store.

Building an artifact hashes its files (and copies a `policy="mutable"` file into a staging directory,
so later edits to it are not in the artifact, as in wandb). `run.log_artifact()` copies the bytes into
the store's object store (once per distinct content), writes wandb's manifest and appends the version to
the project's artifact log (store/artifacts.py). Everything works offline: `use_artifact()` resolves
names against the store.

Downloads are reflinks (copy-on-write clones) where the filesystem has them, else read-only hard links
to the store's objects on the same filesystem, else copies checked against their MD5 as they are read
(store/artifacts.py `place_object`). A hard link shares the object's inode, which mode 0444 protects from
everyone but root: a process that can write read-only files gets copies unless `RUNSTORE_ARTIFACT_LINK=
hardlink` says it knows not to write into downloads. A corrupted object is an error, never served.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from ..base import env
from ..base.urls import configured_remote
from ..errors import CommError
from ..store import artifacts as A
from ..store.layout import check_name
from ..store.store import Store

if TYPE_CHECKING:
    from .run import Run

MAX_NAME = 128
MAX_METADATA_KEYS = 100
_VERSION_ALIAS = re.compile(r"^v\d+$")
_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
_RESERVED_TYPE_PREFIX = "wandb-"
_RESERVED_TYPES = ("job",)
REGISTRY_PROJECT = "model-registry"  # where link_model() links, as wandb's model registry


# add_dir copies files at least this large on several threads
_PARALLEL_MIN = 1 << 20


class ArtifactNotLoggedError(ValueError):
    """The operation needs a logged artifact (`run.log_artifact(a)` or one from `use_artifact`)."""


class ArtifactFinalizedError(ValueError):
    """A logged artifact cannot change; create a new `Artifact` for new contents."""


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"an artifact name must be a str, got {type(name).__name__}")
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"artifact name {name[:40]!r}: use 1-{MAX_NAME} characters")
    if not _NAME.fullmatch(name) or name in (".", ".."):
        # wandb's rule (0.31); it also keeps '/' and ':' free to separate project, name and alias, and
        # makes every name a safe directory name in the store
        raise ValueError(
            f"artifact name {name!r} may only contain letters a-z A-Z, digits, '-', '_' and '.' (no '/' or "
            "':', which separate project, name and alias); runstore.util.make_artifact_name_safe(name) "
            "replaces the others"
        )
    return name


def _check_type(type: Any) -> str:
    if not isinstance(type, str) or not type:
        raise TypeError(
            f"an artifact type must be a non-empty str such as 'dataset' or 'model', got {type!r}"
        )
    if "/" in type or ":" in type:
        raise ValueError(f"artifact type {type!r} must not contain '/' or ':'")
    if type.startswith(_RESERVED_TYPE_PREFIX) or type in _RESERVED_TYPES:
        raise ValueError(f"artifact type {type!r} is reserved for wandb's own artifacts; choose another type")
    return type


def _check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"artifact metadata must be a dict, got {type(metadata).__name__}")
    if len(metadata) > MAX_METADATA_KEYS:
        raise ValueError(
            f"artifact metadata has {len(metadata)} keys; at most {MAX_METADATA_KEYS} are allowed "
            "(nest related values in a dict)"
        )
    try:
        return dict(json.loads(json.dumps(dict(metadata))))
    except (TypeError, ValueError) as e:
        raise ValueError(f"artifact metadata must be JSON-serializable: {e}") from None


def _check_aliases(aliases: Any, what: str = "aliases") -> list[str]:
    if aliases is None:
        return []
    if isinstance(aliases, str):
        aliases = [aliases]
    out = []
    for a in aliases:
        if not isinstance(a, str) or not a:
            raise TypeError(f"{what} must be non-empty strs, got {a!r}")
        if "/" in a or ":" in a or "\n" in a:
            raise ValueError(f"{what[:-1]} {a!r} must not contain '/', ':' or newlines")
        if _VERSION_ALIAS.match(a):
            raise ValueError(
                f"{what[:-1]} {a!r} looks like a version number; versions are numbered by runstore, choose "
                "another name"
            )
        if a != "latest" or what != "aliases":  # always the newest version's: accepted, never recorded
            out.append(a)
    return out


def _rel_name(name: str) -> str:
    """An entry path: posix, relative, with no `..` component."""
    p = name.replace(os.sep, "/").replace("\\", "/").strip("/")  # Windows-style names too
    parts = [x for x in p.split("/") if x not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"artifact entry name {name!r} must be a relative path inside the artifact")
    return "/".join(parts)


class ArtifactManifestEntry:
    """One file of an artifact: its path in the artifact, wandb's digest (base64 MD5) and size."""

    def __init__(self, path: str, digest: str, size: int, local_path: str | None = None) -> None:
        self.path = path
        self.digest = digest
        self.size = size
        self.ref: str | None = None  # the URI of a reference entry (add_reference): bytes not stored
        self.extra: dict[str, Any] = {}
        self.local_path = local_path  # set while the artifact is being built
        self._artifact: Artifact | None = None

    name = property(lambda self: self.path)

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Copy this file of a logged artifact to `root/<path>` (default: the artifact's root)."""
        art = self._artifact
        if art is None or art._store is None:
            raise ArtifactNotLoggedError("this entry belongs to an artifact that is not logged yet")
        base = os.fspath(root) if root is not None else art._default_root()
        dest = os.path.join(base, self.path)
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        _place(art._store, self, dest, _link_mode())
        return dest

    def __repr__(self) -> str:
        return f"ArtifactManifestEntry(path={self.path!r}, digest={self.digest!r}, size={self.size})"


class ArtifactManifest:
    """wandb's manifest: the entries by path, and the `wandb_manifest.json` document."""

    def __init__(self, entries: dict[str, ArtifactManifestEntry]) -> None:
        self.entries = entries

    @property
    def digest(self) -> str:
        return A.artifact_digest({p: e.digest for p, e in self.entries.items()})

    def to_manifest_json(self) -> dict[str, Any]:
        return A.manifest_json({p: (e.digest, e.size) for p, e in self.entries.items()}, _refs(self.entries))

    def __len__(self) -> int:
        return len(self.entries)


class Artifact:
    """A set of files with a name and a type, versioned when logged: `Artifact("mnist", "dataset")`."""

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
        self._name = _check_name(name)
        self._type = _check_type(type)
        if description is not None and not isinstance(description, str):
            raise TypeError("artifact description must be a str")
        self._description = description
        self._metadata = _check_metadata(metadata)
        self._incremental = bool(incremental)
        self._entries: dict[str, ArtifactManifestEntry] = {}
        self._staging: str | None = None
        self._staged = 0
        self._objects: Store | None = None  # where mutable files were copied when added
        self._tags: list[str] = []
        # set once logged (or when read from a store)
        self._store: Store | None = None
        self._project: str | None = None
        self._entity = ""
        self._version: int | None = None
        self._aliases: list[str] = []
        self._created: float | None = None
        self._deleted = False
        self._placed: dict[str, int] = {}  # how the last download() placed its files (the CLI reports it)
        self._on_bytes: Callable[[int], None] | None = None  # progress: bytes added or placed (CLI bars)

    @classmethod
    def _from_store(cls, store: Store, project: str, rec: A.VersionRec, entity: str = "") -> Artifact:
        art = cls.__new__(cls)
        art._name = rec.collection
        art._type = rec.type
        art._incremental = False
        art._staging = None
        art._staged = 0
        art._objects = None
        art._deleted = rec.deleted
        art._placed = {}
        art._on_bytes = None
        art._entries = {}
        art._bind(store, project, rec, entity)
        return art

    def _bind(self, store: Store, project: str, rec: A.VersionRec, entity: str) -> None:
        self._store = store
        self._project = project
        self._entity = entity
        self._version = rec.version
        self._created = rec.time
        self._tags = list(rec.tags)
        self._description = rec.description
        self._metadata = dict(rec.metadata)
        col = A.load(store, project).collections.get(rec.collection)
        latest = col is not None and col.latest is not None and col.latest.version == rec.version
        self._aliases = [*rec.aliases, *(["latest"] if latest else [])]
        if self._entries and self.manifest.digest == rec.digest:
            for e in self._entries.values():  # just committed: the manifest on disk is these entries
                e._artifact = self
            return
        entries, refs = A.read_entries(store, project, rec.collection, rec.digest)
        self._entries = {}
        for p in sorted({*entries, *refs}):
            d, s = entries[p] if p in entries else refs[p][:2]
            e = ArtifactManifestEntry(p, d, s)
            if p in refs:
                e.ref, e.extra = refs[p][2]["ref"], dict(refs[p][2].get("extra") or {})
            e._artifact = self
            self._entries[p] = e

    # -- properties ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self._name}:v{self._version}" if self._version is not None else self._name

    @property
    def source_name(self) -> str:
        """`collection:vN` of the version this one links (a linked version), else this one's name."""
        return self._source()[1]

    @property
    def collection_name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def description(self) -> str | None:
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        if value is not None and not isinstance(value, str):
            raise TypeError("artifact description must be a str")
        self._description = value  # on a logged artifact, kept by save()

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._metadata = _check_metadata(value)  # on a logged artifact, kept by save()

    @property
    def version(self) -> str:
        if self._version is None:
            raise ArtifactNotLoggedError(
                f"artifact {self._name!r} has no version until it is logged (run.log_artifact)"
            )
        return f"v{self._version}"

    @property
    def aliases(self) -> list[str]:
        """The version's aliases (`latest` on the newest). On a logged artifact, edit the list (or assign
        one) and call save() to move, add or remove aliases, as in wandb."""
        return self._aliases

    @aliases.setter
    def aliases(self, value: list[str]) -> None:
        self._aliases = [*_check_aliases(value), *(["latest"] if "latest" in value else [])]

    @property
    def tags(self) -> list[str]:
        """The version's tags; on a logged artifact, assign a new list and call save() to keep it."""
        return list(self._tags)

    @tags.setter
    def tags(self, value: list[str]) -> None:
        self._tags = _check_aliases(value, "tags")

    @property
    def manifest(self) -> ArtifactManifest:
        return ArtifactManifest(self._entries)

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def size(self) -> int:
        return sum(e.size for e in self._entries.values())

    @property
    def state(self) -> str:
        if self._deleted:
            return "DELETED"
        return "COMMITTED" if self._version is not None else "PENDING"

    @property
    def project(self) -> str | None:
        return self._project

    @property
    def entity(self) -> str:
        return self._entity

    @property
    def qualified_name(self) -> str:
        return "/".join(p for p in (self._entity, self._project or "", self.name) if p)

    @property
    def id(self) -> str | None:
        """A stable id of the logged version (wandb's server ids have no meaning offline)."""
        if self._version is None:
            return None
        return hashlib.sha256(f"{self._project}/{self._name}:v{self._version}".encode()).hexdigest()[:24]

    @property
    def created_at(self) -> str | None:
        if self._created is None:
            return None
        return _dt.datetime.fromtimestamp(self._created, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def incremental(self) -> bool:
        return self._incremental

    def is_draft(self) -> bool:
        return self._version is None

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} ({self._type}), {len(self._entries)} files, {self.state}>"

    # -- building --------------------------------------------------------------------------------
    def _draft_only(self, what: str) -> None:
        if self._version is not None:
            raise ArtifactFinalizedError(
                f"artifact {self.name!r} is logged and cannot change ({what}); create a new Artifact "
                "with the same name to log a new version"
            )

    def _object_store(self) -> Store:
        if self._objects is None:
            self._objects = Store.discover()
            self._objects.ensure()
        return self._objects

    def _stage_dir(self) -> str:
        if self._staging is None:
            import tempfile

            self._staging = tempfile.mkdtemp(prefix="runstore-artifact-")
        return self._staging

    def _put(
        self, path: str, local: str, overwrite: bool, policy: str, known: tuple[str, int] | None = None
    ) -> ArtifactManifestEntry:
        """`known`: the (digest, size) add_object already gave for `local` (add_dir's threads)."""
        if policy not in ("mutable", "immutable"):
            raise ValueError(f"policy must be 'mutable' or 'immutable', got {policy!r}")
        if policy == "mutable":
            # Copied now (later changes to the file are not in the artifact), straight into the object
            # store this process logs to, hashed as it is copied; an unchanged file is not even read
            # (the stat cache). The entry then points at that object, which is immutable.
            store = self._object_store()
            digest, size = known if known is not None else A.add_object(store, local)
            local = A.object_file(store, A.b64_to_hex(digest))
        else:
            digest, size = A.hash_file(local)
        old = self._entries.get(path)
        if old is not None and old.digest != digest and not overwrite:
            raise ValueError(
                f"artifact {self._name!r} already has a different file at {path!r}; pass overwrite=True "
                "(add_file) or merge=True (add_dir) to replace it"
            )
        entry = ArtifactManifestEntry(path, digest, size, local)
        entry._artifact = self
        self._entries[path] = entry
        return entry

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        is_tmp: bool | None = False,
        skip_cache: bool | None = False,
        policy: str = "mutable",
        overwrite: bool = False,
    ) -> ArtifactManifestEntry:
        """Add a file at `name` (default: its base name). `policy="mutable"` copies it now, so later
        changes to it are not in the artifact; `"immutable"` trusts it to stay as it is until logged."""
        self._draft_only("add_file")
        if not isinstance(local_path, (str, os.PathLike)):
            raise TypeError(f"add_file() takes a path, got {type(local_path).__name__}")
        path = os.path.abspath(os.fspath(local_path))
        if not os.path.isfile(path):
            raise ValueError(f"Path is not a file: {os.fspath(local_path)!r}")
        key = _rel_name(name if name is not None else os.path.basename(path))
        if is_tmp:
            # wandb: a temporary file is named by its content, the first 20 hex digits of its MD5 in
            # place of the part of its name before the first dot
            head, _, leaf = key.rpartition("/")
            parts = leaf.split(".")
            parts[0] = A.b64_to_hex(A.hash_file(path)[0])[:20]
            key = f"{head}/{'.'.join(parts)}" if head else ".".join(parts)
        return self._put(key, path, overwrite, policy)

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        skip_cache: bool | None = False,
        policy: str = "mutable",
        merge: bool = False,
    ) -> None:
        """Add every file under a directory, keeping relative paths (under `name` when given)."""
        self._draft_only("add_dir")
        root = os.path.abspath(os.fspath(local_path))
        if not os.path.isdir(root):
            raise ValueError(f"Path is not a directory: {os.fspath(local_path)!r}")
        prefix = _rel_name(name) if name else ""
        items = _tree(root, f"{prefix}/" if prefix else "")
        big = {full for _, full, size in items if size >= _PARALLEL_MIN}
        tick = self._on_bytes or (lambda n: None)
        if policy != "mutable" or not big:
            for key, full, size in items:
                self._put(key, full, merge, policy)
                tick(size)
            return
        # Large files are copied and hashed on worker threads (hashlib and file I/O release the GIL)
        # while this thread puts the small ones, whose cost is file creation in the kernel: the two
        # overlap, so a tree's put takes about the longer of the two, not their sum.
        from concurrent.futures import ThreadPoolExecutor

        store = self._object_store()

        def add(f: str) -> tuple[str, int]:
            got = A.add_object(store, f)
            tick(got[1])
            return got

        with ThreadPoolExecutor(max_workers=max(1, min(4, (os.cpu_count() or 1)))) as pool:
            futures = {f: pool.submit(add, f) for f in sorted(big, key=os.path.getsize, reverse=True)}
            for key, full, size in items:
                if full not in futures:
                    self._put(key, full, merge, policy)
                    tick(size)
            for key, full, _size in items:
                if full in futures:
                    self._put(key, full, merge, policy, futures[full].result())

    def add_reference(
        self,
        uri: str | os.PathLike[str],
        name: str | os.PathLike[str] | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ArtifactManifestEntry]:
        """Track a file (or every file under a prefix) by URI without copying its bytes: `file://`,
        `http(s)://`, `s3://` and any fsspec URL. The digest (MD5, ETag, or the URI itself with
        `checksum=False`) tells a later download whether the bytes there are still the logged ones."""
        self._draft_only("add_reference")
        from .artifact_refs import collect

        key = _rel_name(os.fspath(name)) if name is not None else None
        added = []
        for path, digest, size, ref in collect(os.fspath(uri), key, bool(checksum), max_objects):
            path = _rel_name(path)
            old = self._entries.get(path)
            if old is not None and old.digest != digest:
                raise ValueError(f"artifact {self._name!r} already has a different file at {path!r}")
            entry = ArtifactManifestEntry(path, digest, size)
            entry.ref, entry.extra = ref["ref"], dict(ref.get("extra") or {})
            entry._artifact = self
            self._entries[path] = entry
            added.append(entry)
        return added

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Open a new file of the artifact for writing: `with art.new_file("x.txt") as f: f.write(...)`."""
        self._draft_only("new_file")
        key = _rel_name(name)
        if key in self._entries:
            raise ValueError(f"artifact {self._name!r} already has a file at {key!r}")
        path = os.path.join(self._stage_dir(), "new", *key.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode, encoding=encoding) as f:
            yield f
        self._put(key, path, False, "immutable")

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ArtifactManifestEntry:
        """Add a data type (a Table, an Image, …) as `<name>.<type>.json` in wandb's layout, with the
        files it refers to under `media/`; `get(name)` reads a Table back."""
        self._draft_only("add")
        from ..media.base import BindContext, Media
        from ..store.layout import RunRef

        if not isinstance(obj, Media):
            raise TypeError(
                f"add() takes a runstore data type (Table, Image, …), not {type(obj).__name__}; "
                "add files with add_file() or add_dir()"
            )
        key = _rel_name(name)
        self._staged += 1
        stage = os.path.join(self._stage_dir(), f"add{self._staged}")
        ctx = BindContext(RunRef("artifact", "staging", stage))
        ref = obj.bind(ctx, key, 0)
        kind = str(ref.get("_type", obj._log_type or "media")).removesuffix("-file")
        doc_path = os.path.join(stage, "doc.json")
        os.makedirs(stage, exist_ok=True)  # an inline type (Histogram) wrote no file there
        own = str(ref.get("path", ""))
        if kind == "table":
            # wandb's `<name>.table.json` is the table itself; its media cells point into media/
            shutil.copyfile(os.path.join(ctx.files_dir, own), doc_path)
        else:
            with open(doc_path, "w") as f:
                json.dump(ref, f)
        for dirpath, _dirs, files in os.walk(ctx.files_dir):
            for fname in sorted(files):
                full = os.path.join(dirpath, fname)
                rel = os.path.relpath(full, ctx.files_dir).replace(os.sep, "/")
                if not (kind == "table" and rel == own):
                    self._put(rel, full, overwrite, "immutable")
        return self._put(f"{key}.{kind}.json", doc_path, overwrite, "immutable")

    def get(self, name: str) -> Any:
        """The data type added (or logged) as `name`: a Table with its media cells, an Image, … read
        back from `<name>.<type>.json` (the artifact's files are downloaded for the media)."""
        self._committed("get")
        key = _rel_name(name)
        docs = {
            p: p[len(key) + 1 : -5] for p in self._entries if p.startswith(key + ".") and p.endswith(".json")
        }
        kinds = {p: k for p, k in docs.items() if k and "." not in k and "/" not in k}
        if not kinds:
            have = sorted(
                {p.rsplit(".", 2)[0] for p in self._entries if p.count(".") >= 2 and p.endswith(".json")}
            )
            raise KeyError(f"artifact {self.name!r} has no object {key!r}; its objects: {have}")
        from ..media.load import from_ref

        path = sorted(kinds)[0]
        root = self.download()
        if kinds[path] == "table":  # wandb's `<name>.table.json` is the table itself
            return from_ref({"_type": "table-file", "path": path}, root)
        with open(os.path.join(root, *path.split("/"))) as f:
            return from_ref(json.load(f), root)

    def remove(self, item: str | ArtifactManifestEntry) -> None:
        """Remove a file (or every file under a directory path) from an artifact not logged yet."""
        self._draft_only("remove")
        key = item.path if isinstance(item, ArtifactManifestEntry) else _rel_name(os.fspath(item))
        gone = [p for p in self._entries if p == key or p.startswith(key + "/")]
        if not gone:
            raise FileNotFoundError(f"artifact {self._name!r} has no file or directory {key!r}")
        for p in gone:
            del self._entries[p]

    def get_entry(self, name: str) -> ArtifactManifestEntry:
        key = _rel_name(name)
        try:
            return self._entries[key]
        except KeyError:
            raise KeyError(f"artifact {self.name!r} has no file {key!r}") from None

    def get_path(self, name: str) -> ArtifactManifestEntry:
        return self.get_entry(name)

    def files(self, names: list[str] | None = None, per_page: int = 50) -> list[ArtifactManifestEntry]:
        """The artifact's files (entries with `name`/`path`, `size`, `digest`), sorted by path."""
        return [e for p, e in sorted(self._entries.items()) if names is None or p in names]

    def _cleanup(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    # -- committed artifacts ----------------------------------------------------------------------
    def wait(self, timeout: int | None = None) -> Artifact:
        """Logging is synchronous: the version is on disk when log_artifact returns."""
        return self

    def save(self, project: str | None = None, settings: Any = None) -> None:
        """Log a draft: into the current run if there is one, else without a run into `project` (default:
        the project `init()` would use). On a logged artifact, record the edits of its `aliases`,
        `description` and `metadata`."""
        if self._version is not None:
            self._save_edits()
            return
        from . import registry

        run = registry.current()
        if run is not None and not run._finished and not getattr(run, "disabled", False):
            run.log_artifact(self)  # type: ignore[attr-defined]
            return
        store = Store.discover()
        if project is None:
            from .init import infer_project

            project = env.get("project") or store.read_settings().get("project") or infer_project()
        commit(store, check_name("project", str(project)), self, [], [], None)

    def _save_edits(self) -> None:
        store = self._committed("save")
        assert self._project is not None
        rec = self._fresh()
        want = _check_aliases([a for a in self._aliases if a != "latest"])
        metadata = _check_metadata(self._metadata)
        key = {"collection": self._name, "version": self._version, "run": _current_run()}
        recs: list[dict[str, Any]] = [{"t": "alias", **key, "alias": a} for a in want if a not in rec.aliases]
        recs += [{"t": "unalias", **key, "alias": a} for a in rec.aliases if a not in want]
        if self._description != rec.description or metadata != rec.metadata or self._tags != rec.tags:
            recs.append(
                {
                    "t": "update",
                    **key,
                    "description": self._description,
                    "metadata": metadata,
                    "tags": self._tags,
                }
            )
        if recs:
            A.record(store, self._project, *recs)
        self._bind(store, self._project, self._fresh(), self._entity)

    def delete(self, delete_aliases: bool = False) -> None:
        """Delete this version: it is no longer found or listed (its number is not reused). A version
        with aliases is kept unless `delete_aliases=True`. Its files stay in the object store."""
        store = self._committed("delete")
        assert self._project is not None
        rec = self._fresh()
        if rec.aliases and not delete_aliases:
            raise ValueError(
                f"artifact {self.qualified_name} has aliases {rec.aliases}; pass delete_aliases=True to "
                "delete it with them"
            )
        A.record(
            store,
            self._project,
            {"t": "delete", "collection": self._name, "version": self._version, "run": _current_run()},
        )
        self._aliases = []
        self._deleted = True

    def link(self, target_path: str, aliases: list[str] | None = None) -> Artifact:
        """Link this version into another collection (a portfolio, a registry such as
        `model-registry/<name>`), as its next version there: the same files and digest, with `aliases`.
        `target_path` is `[entity/][project/]collection`; the project defaults to this artifact's.
        Linking a version a collection already holds returns that version (with the new aliases).
        Returns the linked version."""
        store = self._committed("link")
        assert self._project is not None
        project, collection = _link_target(target_path, self._project)
        al = _check_aliases(aliases)
        rec = self._fresh()
        refs = A.read_references(store, self._project, self._name, rec.digest)
        entries = {
            **A.read_manifest(store, self._project, self._name, rec.digest),
            **{p: (r[0], r[1]) for p, r in refs.items()},
        }
        linked = A.commit(
            store,
            project,
            collection,
            self._type,
            entries,
            description=rec.description,
            metadata=rec.metadata,
            aliases=al,
            tags=rec.tags,
            run=rec.run,
            refs={p: r[2] for p, r in refs.items()},
            source=f"{self._project}/{self._name}:v{self._version}",
        )
        return Artifact._from_store(store, project, linked, self._entity)

    def _source(self) -> tuple[str | None, str]:
        """(project, `collection:vN`) of the version a linked version links, else this version's."""
        src = self._fresh().source if self._version is not None and self._store is not None else None
        if src and "/" in src:
            project, name = src.split("/", 1)
            return project, name
        return self._project, self.name

    @property
    def source_project(self) -> str | None:
        return self._source()[0]

    @property
    def source_version(self) -> str:
        """`vN` of the version this one links (a linked version), else of this one."""
        return self._source()[1].rpartition(":")[2]

    @property
    def is_link(self) -> bool:
        return self._source()[1] != self.name or self._source()[0] != self._project

    def _committed(self, what: str) -> Store:
        if self._store is None:
            raise ArtifactNotLoggedError(
                f"artifact {self._name!r} is not logged: call run.log_artifact(artifact) before {what}()"
            )
        return self._store

    def _default_root(self) -> str:
        base = env.get("artifact_dir")
        return os.path.join(os.fspath(base), f"{self._name}:v{self._version}")

    def download(
        self,
        root: str | os.PathLike[str] | None = None,
        allow_missing_references: bool = False,
        skip_cache: bool | None = None,
        path_prefix: str | None = None,
        multipart: bool | None = None,
    ) -> str:
        """Place the files in `root` (default `$WANDB_ARTIFACT_DIR/<name>:<version>`, i.e.
        `./artifacts/<name>:vN`) and return it: reflinks or read-only hard links to the store's objects
        where safe, else copies checked against their digests (`RUNSTORE_ARTIFACT_LINK`). Files already
        there with the right bytes are left alone."""
        store = self._committed("download")
        dest = os.path.abspath(os.fspath(root) if root is not None else self._default_root())
        os.makedirs(dest, exist_ok=True)
        how = _link_mode()
        made: set[str] = {dest}
        self._placed = {"reflink": 0, "hardlink": 0, "copy": 0, "kept": 0}
        for p, e in sorted(self._entries.items()):
            if path_prefix is not None and not p.startswith(path_prefix.lstrip("/")):
                continue
            target = os.path.join(dest, *p.split("/"))
            parent = os.path.dirname(target)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            try:
                self._placed[_place(store, e, target, how)] += 1
            except FileNotFoundError:
                if e.ref is None or not allow_missing_references:
                    raise
            if self._on_bytes is not None:
                self._on_bytes(e.size)
        return dest

    def checkout(self, root: str | os.PathLike[str] | None = None) -> str:
        """download() into `root`, then delete the files there that are not part of the artifact."""
        dest = self.download(root)
        for dirpath, _dirs, files in os.walk(dest, topdown=False):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), dest).replace(os.sep, "/")
                if rel not in self._entries:
                    os.unlink(os.path.join(dirpath, f))
            if dirpath != dest and not os.listdir(dirpath):
                os.rmdir(dirpath)
        return dest

    def verify(self, root: str | os.PathLike[str] | None = None) -> None:
        """ValueError unless `root` holds exactly the artifact's files with their digests (a hard link
        to a sealed object is its bytes; any other file is read and hashed)."""
        store = self._committed("verify")
        dest = os.fspath(root) if root is not None else self._default_root()
        problems = []
        seen = set()
        for dirpath, _dirs, files in os.walk(dest):
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), dest).replace(os.sep, "/")
                seen.add(rel)
                e = self._entries.get(rel)
                if e is None:
                    problems.append(f"{rel}: not a file of the artifact")
                elif not _matches(store, e, os.path.join(dirpath, f)):
                    problems.append(f"{rel}: modified (digest differs)")
        problems += [f"{p}: missing" for p in sorted(set(self._entries) - seen)]
        if problems:
            raise ValueError(f"{dest} does not match artifact {self.qualified_name}: " + "; ".join(problems))

    def logged_by(self) -> Any:
        """The run that logged this version (an `Api` run), or None."""
        store = self._committed("logged_by")
        rec = self._fresh()
        return _api_run(store, rec.run) if rec.run else None

    def used_by(self) -> list[Any]:
        """The runs that used this version (`Api` runs)."""
        store = self._committed("used_by")
        out = [_api_run(store, r) for r in self._fresh().users]
        return [r for r in out if r is not None]

    def _fresh(self) -> A.VersionRec:
        assert self._store is not None and self._project is not None and self._version is not None
        col = A.load(self._store, self._project).collections[self._name]
        return col.versions[self._version]


def _current_run() -> str | None:
    """`<project>/<id>` of the run active in this process (recorded with edits), or None."""
    from . import registry

    run = registry.current()
    return None if run is None or getattr(run, "disabled", False) else f"{run.project}/{run.id}"


def _tree(root: str, prefix: str) -> list[tuple[str, str, int]]:
    """(artifact path, file, size) of every file under `root`, sorted (one scandir per directory: a
    tree of 10,000 files is walked in milliseconds). Links to files count as the files they name, as
    in wandb; FIFOs, sockets and dangling links are not files of an artifact."""
    out: list[tuple[str, str, int]] = []
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        try:
            if e.is_dir():
                out += _tree(e.path, f"{prefix}{e.name}/")
            elif e.is_file():
                out.append((f"{prefix}{e.name}", e.path, e.stat().st_size))
        except OSError:
            continue  # gone meanwhile, or a link to nowhere
    return out


def _link_target(target_path: Any, default_project: str) -> tuple[str, str]:
    if not isinstance(target_path, str):
        raise TypeError(f"link() takes a target path like 'model-registry/my-model', got {target_path!r}")
    parts = target_path.strip().strip("/").split("/")
    if not 1 <= len(parts) <= 3 or not all(parts) or ":" in parts[-1]:
        raise ValueError(
            f"link target {target_path!r}: use [entity/][project/]collection, e.g. 'model-registry/my-model' "
            "(no alias: pass aliases=[...])"
        )
    project = parts[-2] if len(parts) >= 2 else default_project
    return check_name("project", project), _check_name(parts[-1])


def _refs(entries: Mapping[str, ArtifactManifestEntry]) -> dict[str, dict[str, Any]]:
    return {p: {"ref": e.ref, "extra": e.extra} for p, e in entries.items() if e.ref is not None}


def _matches(store: Store, e: ArtifactManifestEntry, path: str) -> bool:
    """Whether `path` holds entry `e`'s bytes. A reference whose digest is no MD5 (an ETag, a URI) can
    only be checked by size."""
    if e.ref is None:
        return A.is_placed(store, e.digest, e.size, path)
    from .artifact_refs import is_md5

    try:
        if os.path.getsize(path) != e.size:
            return False
    except OSError:
        return False
    return not is_md5(e.digest) or A.hash_file(path)[0] == e.digest


def _place(store: Store, e: ArtifactManifestEntry, target: str, how: str) -> str:
    """Put entry `e` at `target`: "kept" when it is there already, else how it was placed. An object
    the store lacks (evicted by `artifact cache cleanup`, or a version pulled alone) or holds corrupted
    is fetched from the store's remote first, when it has one."""
    if _matches(store, e, target):
        return "kept"
    if e.ref is None:
        try:
            return A.place_object(store, e.digest, e.size, target, how)
        except (A.ObjectMissing, A.CorruptObject) as err:
            why = _fetch_object(store, e.digest, e.size)
            if why is not None:
                raise type(err)(f"{err}; {why}") from None
            return A.place_object(store, e.digest, e.size, target, how)
    from .artifact_refs import fetch

    fetch({"ref": e.ref, "extra": e.extra}, e.digest, e.size, target)
    return "copy"


def _fetch_object(store: Store, b64: str, size: int) -> str | None:
    """Fetch an object from the store's remote (RUNSTORE_REMOTE, settings.yaml): None once it is here
    whole, else why not."""
    url = configured_remote(store.read_settings().get("remote"))
    if not url:
        return "the store has no remote to fetch it from"
    # the remotes sit below the SDK but load backends (fsspec, s3fs): loaded only when needed
    from ..remotes.registry import open_remote
    from ..remotes.sync import Puller, describe

    try:
        remote = open_remote(str(url))
    except Exception as e:
        return f"the remote cannot be used ({describe(e)})"
    try:
        res = Puller(store, remote).pull_object(b64, size)
    except Exception as e:  # refused credentials stop a pull: here they are one more reason
        return f"the remote cannot be used ({describe(e)})"
    finally:
        remote.close()
    return "; ".join(res.errors) if res.errors else None


def _link_mode() -> str:
    how = str(env.get("artifact_link") or "auto").strip().lower()
    if how not in ("auto", "hardlink", "copy"):
        raise ValueError(f"RUNSTORE_ARTIFACT_LINK must be auto, hardlink or copy, not {how!r}")
    return how


def _api_run(store: Store, run: str | None) -> Any:
    if not run:
        return None
    # The read API is a layer above the SDK; wandb's Artifact returns its runs, so it is loaded by name
    # here, when asked for (as runstore/__init__.py loads it).
    from importlib import import_module

    api = import_module("runstore.api").Api(store=store)
    try:
        return api.run(run)
    except Exception:
        return None  # a run deleted from the store since


# -- name resolution ----------------------------------------------------------------------------------
def parse_name(name: str, default_project: str | None) -> tuple[str, str, str]:
    """(project, collection, alias) of `name`, `name:alias`, `project/name[:alias]` or
    `entity/project/name[:alias]`; the alias defaults to `latest`."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"an artifact name must be a non-empty str like 'name:latest', got {name!r}")
    parts = name.strip().strip("/").split("/")
    if len(parts) > 3:
        raise ValueError(
            f"artifact name {name!r}: use name[:alias], project/name[:alias] or entity/project/name"
        )
    last = parts[-1]
    collection, _, alias = last.partition(":")
    project = parts[-2] if len(parts) >= 2 else default_project
    if not project:
        raise ValueError(f"artifact {name!r}: give its project ('project/{last}') or set one")
    return project, _check_name(collection), alias or "latest"


def resolve(store: Store, project: str, collection: str, alias: str, type: str | None = None) -> A.VersionRec:
    known = A.load(store, project).collections
    col = known.get(collection)
    if col is None or not col.live:
        have = f"; project {project!r} has {sorted(known)}" if known else ""
        raise CommError(f"artifact '{project}/{collection}' not found in the store at {store.root}{have}")
    if alias == "latest":
        rec = col.latest
    elif _VERSION_ALIAS.match(alias):
        n = int(alias[1:])
        rec = col.versions[n] if n < len(col.versions) and not col.versions[n].deleted else None
    else:
        n2 = col.aliases.get(alias)
        rec = col.versions[n2] if n2 is not None else None
    if rec is None:
        raise CommError(
            f"artifact '{project}/{collection}:{alias}' not found: versions "
            f"{[f'v{v.version}' for v in col.live]}, aliases {sorted(col.aliases) + ['latest']}"
        )
    if type is not None and rec.type != type:
        raise ValueError(f"artifact '{project}/{collection}:{alias}' is of type {rec.type!r}, not {type!r}")
    return rec


def load_artifact(store: Store, name: str, default_project: str | None, type: str | None = None) -> Artifact:
    project, collection, alias = parse_name(name, default_project)
    rec = resolve(store, project, collection, alias, type)
    return Artifact._from_store(store, project, rec)


# -- what the run methods do ----------------------------------------------------------------------
def _from_path(path: str | os.PathLike[str], name: str | None, type: str | None, run_id: str) -> Artifact:
    p = os.fspath(path)
    if not os.path.exists(p):
        raise ValueError(f"log_artifact({p!r}): no such file or directory")
    base = os.path.basename(os.path.normpath(p))
    art = Artifact(name or _safe(f"run-{run_id}-{base}"), type or "unspecified")
    if os.path.isdir(p):
        art.add_dir(p)
    else:
        art.add_file(p)
    return art


def _safe(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]", "_", name)[:MAX_NAME]


def build(artifact_or_path: Any, name: str | None, type: str | None, run_id: str) -> Artifact:
    if isinstance(artifact_or_path, Artifact):
        return artifact_or_path
    if isinstance(artifact_or_path, (str, os.PathLike)):
        return _from_path(artifact_or_path, name, type, run_id)
    raise TypeError(
        f"log_artifact() takes a runstore.Artifact or a path, got {artifact_or_path.__class__.__name__}"
    )


def commit(
    store: Store,
    project: str,
    art: Artifact,
    aliases: Sequence[str],
    tags: Sequence[str],
    run: str | None,
    entity: str = "",
) -> Artifact:
    """Put the artifact's objects into the store and record its version; `art` becomes that version."""
    store.ensure()
    entries = {p: (e.digest, e.size) for p, e in art._entries.items()}
    refs = _refs(art._entries)
    if art._incremental:
        col = A.load(store, project).collections.get(art._name)
        if col is not None and col.latest is not None:
            base = A.read_manifest(store, project, art._name, col.latest.digest)
            base_refs = A.read_references(store, project, art._name, col.latest.digest)
            entries = {**base, **{p: r[:2] for p, r in base_refs.items()}, **entries}
            refs = {**{p: r[2] for p, r in base_refs.items() if p not in art._entries}, **refs}
    same = art._objects is not None and art._objects.root == store.root
    for _p, e in sorted(art._entries.items()):
        if e.local_path is None or e.ref is not None:
            continue  # already in the store (a logged artifact logged again)
        if same and e.local_path == A.object_file(store, A.b64_to_hex(e.digest)):
            continue  # copied into this store's objects when it was added
        if not A.has_object(store, e.digest, e.size):
            A.put_object(store, e.local_path, expect=e.digest)
    rec = A.commit(
        store,
        project,
        art._name,
        art._type,
        entries,
        description=art._description,
        metadata=art._metadata,
        aliases=aliases,
        tags=list(dict.fromkeys([*art._tags, *tags])),
        run=run,
        refs=refs,
    )
    if art._objects is not None:
        A.save_stat_cache(art._objects)
    art._cleanup()
    art._bind(store, project, rec, entity)
    return art


def log_artifact(
    run: Run,
    artifact_or_path: Any,
    name: str | None = None,
    type: str | None = None,
    aliases: Any = None,
    tags: Any = None,
) -> Artifact:
    art = build(artifact_or_path, name, type, run.id)
    al = _check_aliases(aliases)
    tg = _check_aliases(tags, "tags")
    if run._finished:
        run._term.warn(f"run {run.id} is finished; log_artifact({art.name!r}) is ignored")
        return art
    try:
        return commit(run._store, run.project, art, al, tg, f"{run.project}/{run.id}", run.entity)
    except OSError as e:
        run._term.warn(
            f"could not log artifact {art.name!r} ({e}); training continues, but the artifact is not stored"
        )
        return art


def use_artifact(run: Run, artifact_or_name: Any, type: str | None = None, aliases: Any = None) -> Artifact:
    al = _check_aliases(aliases)
    me = f"{run.project}/{run.id}"
    if isinstance(artifact_or_name, Artifact):
        art = artifact_or_name
        if art._store is None:  # a local artifact: logged (without a producer) so the run can use it
            commit(run._store, run.project, art, al, [], None, run.entity)
            al = []
    else:
        art = load_artifact(run._store, artifact_or_name, run.project, type)
    assert art._store is not None and art._project is not None and art._version is not None
    if type is not None and art.type != type:
        raise ValueError(f"artifact {art.qualified_name} is of type {art.type!r}, not {type!r}")
    if not run._finished:
        key = {"collection": art._name, "version": art._version, "run": me}
        A.record(
            art._store, art._project, {"t": "use", **key}, *({"t": "alias", **key, "alias": a} for a in al)
        )
        if al:
            art._bind(art._store, art._project, art._fresh(), art._entity)
    return art


def log_run_table(run: Run, key: str, table: Any, ref: dict[str, Any]) -> None:
    """wandb's hidden `run_table` artifact of a Table logged to a run: `run-<id>-<key>` holding
    `<key>.table.json` (and its media), a new version whenever the table's content changes. Adds
    `artifact_path` / `_latest_artifact_path` (`wandb-client-artifact://<project>/<name>:vN/<file>`,
    resolvable with `Api().artifact`) to the history value `ref`. A failure is a warning: the table
    itself is logged either way."""
    name = _safe(f"run-{run.id}-{key}")
    try:
        # built from the files the log wrote (not from `table`, which may have changed since an
        # IMMUTABLE table was first logged): the table's JSON, and the media files its cells name,
        # which keep their `media/…` paths so the cells resolve inside the artifact too
        files = run._ref.files_dir
        doc_path = files / str(ref["path"])
        with open(doc_path, "rb") as f:
            doc = json.load(f)
        art = Artifact(name, "run_table")
        art._objects = run._store
        entry = art.add_file(str(doc_path), f"{_rel_name(key)}.table.json", policy="immutable")
        for media in sorted(_media_paths(doc)):
            full = files / media
            if full.is_file():
                art.add_file(str(full), media, policy="immutable")
        commit(run._store, run.project, art, [], [], f"{run.project}/{run.id}", run.entity)
    except (OSError, ValueError, TypeError) as e:
        run._term.warn(
            f"could not log the run_table artifact of {key!r} ({e}); the table is logged without it",
            once_key=f"run-table:{key}",
        )
        return
    base = f"wandb-client-artifact://{run.project}/{name}"
    ref["artifact_path"] = f"{base}:{art.version}/{entry.path}"
    ref["_latest_artifact_path"] = f"{base}:latest/{entry.path}"


def _media_paths(doc: Any) -> set[str]:
    """The `path`s of the media references (`{"_type": …, "path": "media/…"}`) anywhere in a JSON doc."""
    out: set[str] = set()
    stack = [doc]
    while stack:
        x = stack.pop()
        if isinstance(x, dict):
            p = x.get("path")
            if "_type" in x and isinstance(p, str) and p.startswith("media/") and ".." not in p.split("/"):
                out.add(p)
            stack.extend(x.values())
        elif isinstance(x, list):
            stack.extend(x)
    return out


def link_artifact(run: Run, artifact: Any, target_path: str, aliases: Any = None) -> Artifact | None:
    """`run.link_artifact`: log a draft first (as wandb does), then link it."""
    if not isinstance(artifact, Artifact):
        raise TypeError(f"link_artifact() takes a runstore.Artifact, got {type(artifact).__name__}")
    if artifact._store is None:
        artifact = log_artifact(run, artifact)
        if artifact._store is None:
            return None  # the run is finished or the store failed: log_artifact warned
    return artifact.link(target_path, aliases)


def link_model(
    run: Run, path: Any, registered_model_name: str, name: str | None = None, aliases: Any = None
) -> Artifact | None:
    """`run.link_model`: log `path` as a `model` artifact, then link it into
    `model-registry/<registered_model_name>` (the registry is a project of the store)."""
    if not isinstance(registered_model_name, str) or not registered_model_name:
        raise TypeError("link_model() needs registered_model_name, a str such as 'my-model'")
    art = log_artifact(run, path, name=name, type="model")
    if art._store is None:
        return None
    return art.link(f"{REGISTRY_PROJECT}/{registered_model_name}", aliases)


def model_path(art: Artifact) -> str:
    """wandb's `use_model`: the download directory, or its only file."""
    if "model" not in art.type.lower():
        raise ValueError(
            f"use_model() takes a model artifact (its type contains 'model'); {art.name!r} is a {art.type!r}"
        )
    path = art.download()
    names = os.listdir(path)
    return os.path.join(path, names[0]) if len(names) == 1 else path


__all__ = [
    "Artifact",
    "ArtifactManifest",
    "ArtifactManifestEntry",
    "ArtifactNotLoggedError",
    "ArtifactFinalizedError",
    "load_artifact",
    "parse_name",
    "log_artifact",
    "use_artifact",
    "model_path",
    "link_artifact",
    "link_model",
]
