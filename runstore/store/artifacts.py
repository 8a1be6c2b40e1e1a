"""Artifacts on disk: content-addressed objects, wandb manifests, and a per-project artifact log.

Layout (docs/FORMAT.md, "Artifacts"), under `<store>/artifacts/`:

* `objects/<md5[:2]>/<md5>` — one file per distinct content, store-wide, named by the hex MD5 of its
  bytes (wandb's entry digest is the same MD5 in base64, so the digest always names the object). Written
  to a hidden temporary sibling and hard-linked into place (create-only), mode 0444: immutable.
* `projects/<project>/manifests/<collection>/<digest>.json` — wandb's `wandb_manifest.json` of one
  version, named by the artifact digest (which is a function of the entries alone): immutable.
* `projects/<project>/artifacts.jsonl` — the append-only log of versions, aliases and lineage; a version
  exists once its `version` record is on disk (its objects and manifest are written first).
* `projects/<project>/lock` — an exclusive `flock` on it is held while a version number is chosen and
  its records appended, so concurrent writers of one collection get distinct numbers.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import functools
import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..errors import StoreError
from . import jsonl, schema
from . import layout as L

if TYPE_CHECKING:
    from .store import Store

MANIFEST_HEADER = b"wandb-artifact-manifest-v1\n"
OBJECT_MODE = 0o444
_CHUNK = 1 << 20


class CorruptObject(StoreError):
    """An object's bytes no longer match the digest it is stored under: it is never served."""


class ObjectMissing(StoreError):
    """A version names an object the store does not have (deleted, or never copied by a sync)."""


# -- digests (docs/COMPAT.md §9.2) ----------------------------------------------------------------
def _strict_b64(digest: str) -> bytes:
    return binascii.a2b_base64(digest, strict_mode=True)  # type: ignore[call-arg]  # 3.11+; typeshed lags


try:
    _strict_b64("")
    _b64decode = _strict_b64
except TypeError:  # Python 3.10

    def _b64decode(digest: str) -> bytes:
        return base64.b64decode(digest, validate=True)


def b64_to_hex(digest: str) -> str:
    # binascii, not base64.b64decode: called per file per put, and b64decode's argument checks cost more
    # than the decoding. A malformed digest is a ValueError (binascii.Error) either way.
    return _b64decode(digest).hex()


def hex_to_b64(hexdigest: str) -> str:
    return base64.b64encode(bytes.fromhex(hexdigest)).decode()


def artifact_digest(entries: Mapping[str, str]) -> str:
    """wandb's artifact digest: hex MD5 over the header and `<path>:<entry digest>\\n` per entry, sorted
    by path. `entries` maps path -> base64 MD5."""
    h = hashlib.md5(MANIFEST_HEADER)
    for path in sorted(entries):
        h.update(f"{path}:{entries[path]}\n".encode())
    return h.hexdigest()


def manifest_json(
    entries: Mapping[str, tuple[str, int]], refs: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """wandb's `wandb_manifest.json` for entries path -> (digest, size); `refs` adds wandb's `ref` (and
    `extra`) to the entries that are references (add_reference: the bytes live at that URI)."""
    refs = refs or {}
    return {
        "version": 1,
        "storagePolicy": "wandb-storage-policy-v1",
        "storagePolicyConfig": {"storageLayout": "V2"},
        "contents": {
            p: {"digest": entries[p][0], **_ref_fields(refs.get(p)), "size": entries[p][1]}
            for p in sorted(entries)
        },
    }


def _ref_fields(ref: Mapping[str, Any] | None) -> dict[str, Any]:
    if not ref:
        return {}
    out: dict[str, Any] = {"ref": str(ref["ref"])}
    if ref.get("extra"):
        out["extra"] = dict(ref["extra"])
    return out


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """(base64 MD5, size) of a file's bytes."""
    h = hashlib.md5()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return base64.b64encode(h.digest()).decode(), n


# -- records --------------------------------------------------------------------------------------
@dataclass
class VersionRec:
    """One version of a collection as the log knows it."""

    collection: str
    version: int
    type: str
    digest: str
    size: int
    description: str | None
    metadata: dict[str, Any]
    tags: list[str]
    run: str | None  # "<project>/<id>" of the run that logged it (None: logged without a run)
    time: float
    aliases: list[str] = field(default_factory=list)  # custom aliases, in the order they were set
    loggers: list[str] = field(default_factory=list)  # every run that logged this content
    users: list[str] = field(default_factory=list)  # every run that used it (in order, once each)
    deleted: bool = False  # a `delete` record: no longer served; its number is never reused
    source: str | None = None  # a linked version (`artifact.link`): `<project>/<collection>:v<N>` it links


@dataclass
class Collection:
    name: str
    type: str
    versions: list[VersionRec] = field(default_factory=list)
    aliases: dict[str, int] = field(default_factory=dict)

    def by_digest(self, digest: str) -> VersionRec | None:
        for v in self.versions:
            if v.digest == digest and not v.deleted:
                return v
        return None

    @property
    def live(self) -> list[VersionRec]:
        """The versions that are not deleted, oldest first."""
        return [v for v in self.versions if not v.deleted]

    @property
    def latest(self) -> VersionRec | None:
        live = self.live
        return live[-1] if live else None


@dataclass
class ProjectArtifacts:
    project: str
    collections: dict[str, Collection] = field(default_factory=dict)

    def apply(self, rec: dict[str, Any]) -> None:
        t = rec.get("t")
        col = self.collections.get(rec.get("collection", ""))
        if t == "version":
            name = str(rec["collection"])
            if col is None:
                col = self.collections[name] = Collection(name, str(rec["type"]))
            if int(rec["version"]) != len(col.versions):
                return  # numbers are assigned under the lock; anything else is not a record of ours
            v = VersionRec(
                name,
                len(col.versions),
                str(rec["type"]),
                str(rec["digest"]),
                int(rec.get("size") or 0),
                rec.get("description"),
                dict(rec.get("metadata") or {}),
                list(rec.get("tags") or []),
                rec.get("run"),
                float(rec.get("time") or 0.0),
            )
            if v.run:
                v.loggers.append(v.run)
            if isinstance(rec.get("source"), str):
                v.source = rec["source"]
            col.versions.append(v)
            return
        if col is None:
            return
        n = int(rec["version"])
        if not 0 <= n < len(col.versions):
            return
        v = col.versions[n]
        if t == "delete":
            v.deleted = True
            for alias in v.aliases:
                del col.aliases[alias]
            v.aliases = []
        elif v.deleted:
            return  # nothing attaches to a deleted version
        elif t == "unalias":
            alias = str(rec["alias"])
            if col.aliases.get(alias) == n:
                del col.aliases[alias]
                v.aliases.remove(alias)
        elif t == "update":
            if "description" in rec:
                v.description = rec["description"]
            if isinstance(rec.get("metadata"), dict):
                v.metadata = dict(rec["metadata"])
            if isinstance(rec.get("tags"), list):
                v.tags = [str(t) for t in rec["tags"]]
        elif t == "alias":
            alias = str(rec["alias"])
            old = col.aliases.get(alias)
            if old is not None and old != n:
                col.versions[old].aliases.remove(alias)
            if alias not in v.aliases:
                v.aliases.append(alias)
            col.aliases[alias] = n
        elif t == "use":
            run = rec.get("run")
            if run and run not in v.users:
                v.users.append(run)
        elif t == "log":
            run = rec.get("run")
            if run and run not in v.loggers:
                v.loggers.append(run)


# -- paths ----------------------------------------------------------------------------------------
def _root(store: Store) -> Path:
    return store.root / L.ARTIFACTS_DIR


def object_path(store: Store, hexdigest: str) -> Path:
    return Path(object_file(store, hexdigest))


def _objects_dir(store: Store) -> str:
    return f"{store.root}/{L.ARTIFACTS_DIR}/{L.OBJECTS_DIR}"


def object_file(store: Store, hexdigest: str) -> str:
    """object_path as a str: puts and downloads of 10,000 files spend their time in path objects else."""
    return f"{store.root}/{L.ARTIFACTS_DIR}/{L.OBJECTS_DIR}/{hexdigest[:2]}/{hexdigest}"


def project_dir(store: Store, project: str) -> Path:
    L.check_name("project", project)
    return _root(store) / L.PROJECTS_DIR / project


def log_path(store: Store, project: str) -> Path:
    return project_dir(store, project) / L.ARTIFACT_LOG


def manifest_path(store: Store, project: str, collection: str, digest: str) -> Path:
    L.check_name("artifact name", collection)
    return project_dir(store, project) / L.MANIFESTS_DIR / collection / f"{digest}.json"


def projects(store: Store) -> list[str]:
    """Projects that have artifacts."""
    try:
        with os.scandir(_root(store) / L.PROJECTS_DIR) as it:
            return sorted(e.name for e in it if e.is_dir(follow_symlinks=False) and L.valid_name(e.name))
    except (FileNotFoundError, NotADirectoryError):
        return []


def load(store: Store, project: str) -> ProjectArtifacts:
    """The folded artifact log of a project (empty when it has none)."""
    if not L.valid_name(project):
        return ProjectArtifacts(project)
    records, _ = jsonl.read(log_path(store, project))
    return fold(project, records)


def fold(project: str, records: Iterable[Any]) -> ProjectArtifacts:
    """An artifact log's records folded: a malformed line is skipped, like a torn one."""
    st = ProjectArtifacts(project)
    for rec in records:
        if not isinstance(rec, dict):
            continue
        try:
            st.apply(rec)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return st


def read_manifest(store: Store, project: str, collection: str, digest: str) -> dict[str, tuple[str, int]]:
    """path -> (base64 MD5, size) of the entries of a version's manifest whose bytes are objects of the
    store (what downloads, gc and sync move); references are `read_references`'."""
    return {p: (e[0], e[1]) for p, e in _manifest(store, project, collection, digest).items() if e[2] is None}


def read_references(
    store: Store, project: str, collection: str, digest: str
) -> dict[str, tuple[str, int, dict[str, Any]]]:
    """path -> (digest, size, {"ref": uri, "extra": {…}}) of the reference entries of a version."""
    return read_entries(store, project, collection, digest)[1]


def read_entries(
    store: Store, project: str, collection: str, digest: str
) -> tuple[dict[str, tuple[str, int]], dict[str, tuple[str, int, dict[str, Any]]]]:
    """(read_manifest, read_references) of a version from one read of its manifest."""
    objects: dict[str, tuple[str, int]] = {}
    refs: dict[str, tuple[str, int, dict[str, Any]]] = {}
    for p, (d, n, ref) in _manifest(store, project, collection, digest).items():
        if ref is None:
            objects[p] = (d, n)
        else:
            refs[p] = (d, n, ref)
    return objects, refs


def _manifest(
    store: Store, project: str, collection: str, digest: str
) -> dict[str, tuple[str, int, dict[str, Any] | None]]:
    path = manifest_path(store, project, collection, digest)
    try:
        with jsonl.open_read(path) as f:
            doc = orjson.loads(f.read())
    except FileNotFoundError:
        raise StoreError(f"the manifest of {project}/{collection} ({digest}) is missing: {path}") from None
    except ValueError as err:
        raise StoreError(f"the manifest {path} is unreadable ({err})") from None
    contents = doc.get("contents") if isinstance(doc, dict) else None
    if not isinstance(contents, dict):
        raise StoreError(f"the manifest {path} has no contents")
    out: dict[str, tuple[str, int, dict[str, Any] | None]] = {}
    for p, e in contents.items():
        parts = str(p).split("/")
        # a shared store may hold a hostile manifest: no entry may lead out of a download directory
        if str(p).startswith("/") or "\\" in str(p) or any(x in ("", ".", "..") for x in parts):
            raise StoreError(f"the manifest {path} has an entry outside the artifact: {p!r}")
        try:
            ref = e.get("ref")
            extra = e.get("extra")
            refdoc = None if ref is None else {"ref": str(ref), "extra": dict(extra) if extra else {}}
            out[str(p)] = (str(e["digest"]), int(e.get("size") or 0), refdoc)
            if ref is None:
                b64_to_hex(out[str(p)][0])  # an object's digest names it: it must be an MD5
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StoreError(f"the manifest {path} has a malformed entry {p!r}") from None
    return out


# -- writing --------------------------------------------------------------------------------------
@contextmanager
def locked(store: Store, project: str) -> Iterator[None]:
    """The project's artifact lock (flock; the kernel drops it if the holder dies)."""
    d = project_dir(store, project)
    L.make_dirs(d)
    fd = jsonl.open_write(d / L.ARTIFACT_LOCK, os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def has_object(store: Store, b64: str, size: int) -> bool:
    """Whether the store holds object `b64` whole: sealed with the right size (a stat), or read in full
    and matching (then sealed, so the next check is a stat again)."""
    path = object_file(store, b64_to_hex(b64))
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != size:
        return False
    if sealed(st):
        return True
    if check_object(store, b64, size) is None:
        _seal(path)
        return True
    return False


def put_object(store: Store, src: str | os.PathLike[str], expect: str | None = None) -> tuple[str, int]:
    """Copy `src` into the object store (once per content) and return its (base64 MD5, size).

    The bytes are hashed as they are copied, so the object's name is the digest of exactly what was
    written; with `expect` (the digest taken when the file was added) a file that changed since is a
    ValueError and nothing is stored. Plain fds, no path objects, one read for a small file: a put of
    10,000 small files is bound by system calls, not bytes."""
    if expect is not None:
        try:
            size = os.stat(src).st_size
        except OSError:
            size = -1
        if has_object(store, expect, size):
            return expect, size
    small = _put_small(store, src, expect)
    if small is not None:
        return small
    objects = _objects_dir(store)
    # unique per thread too: add_dir copies large files from several threads at once
    tmp = L.tmp_path(f"{objects}/incoming-{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}")
    # O_EXCL: a fresh file, never a symlink or an existing file someone planted under this name
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        out = os.open(tmp, flags, OBJECT_MODE)
    except FileNotFoundError:
        L.make_dirs(objects)
        out = os.open(tmp, flags, OBJECT_MODE)
    try:
        try:
            inp = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
            try:
                h, n = _copy_fd(inp, out)
            finally:
                os.close(inp)
            _seal(out)
        finally:
            os.close(out)
        b64 = base64.b64encode(h.digest()).decode()
        if expect is not None and b64 != expect:
            raise ValueError(
                f"{os.fspath(src)} changed after it was added to the artifact; add it again (or add it "
                "with policy='mutable', which copies it when it is added)"
            )
        hexd = h.hexdigest()
        final = object_file(store, hexd)
        try:
            _link_object(tmp, final, store, b64, n)
        except FileNotFoundError:
            L.make_dirs(os.path.dirname(final))
            _link_object(tmp, final, store, b64, n)
        return b64, n
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _put_small(store: Store, src: str | os.PathLike[str], expect: str | None) -> tuple[str, int] | None:
    """put_object of a file under 1 MB: read whole, hashed, and written only when the store lacks it,
    straight to a temporary sibling of its object that one rename puts in place (a put of 10,000
    small files is bound by file creations; content the store has costs no write at all). None when
    the file is larger (or grew while read): the streaming path then copies it."""
    inp = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(inp).st_size
        if size >= _CHUNK:
            return None
        data = os.read(inp, size + 1)
        if len(data) > size:
            return None
        while len(data) == size and (more := os.read(inp, 65536)):  # a short read that was not the end
            data += more
            if len(data) >= _CHUNK:
                return None
    finally:
        os.close(inp)
    h = hashlib.md5(data)
    b64 = base64.b64encode(h.digest()).decode()
    if expect is not None and b64 != expect:
        raise ValueError(
            f"{os.fspath(src)} changed after it was added to the artifact; add it again (or add it "
            "with policy='mutable', which copies it when it is added)"
        )
    n = len(data)
    if has_object(store, b64, n):
        return b64, n
    hexd = h.hexdigest()
    final = object_file(store, hexd)
    tmp = L.tmp_path(f"{final}-{threading.get_ident()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        out = os.open(tmp, flags, OBJECT_MODE)
    except FileNotFoundError:
        L.make_dirs(os.path.dirname(final))
        out = os.open(tmp, flags, OBJECT_MODE)
    except FileExistsError:  # left by a put killed here
        os.unlink(tmp)
        out = os.open(tmp, flags, OBJECT_MODE)
    try:
        try:
            jsonl.write_all(out, data)
            _seal(out)
        finally:
            os.close(out)
        # a rename, not a create-only link: the bytes were hashed here, so whatever held the name
        # (the same bytes, or bytes that no longer match it) is rightly replaced by them
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return b64, n


def _copy_fd(inp: int, out: int) -> tuple[Any, int]:
    """Copy fd `inp` to fd `out` to its end, hashing as it goes: (md5, bytes). Reads are sized to the
    file (a 4 KB file is one read of 4 KB, not of a 1 MB buffer the allocator maps and unmaps)."""
    h = hashlib.md5()
    n = 0
    want = os.fstat(inp).st_size + 1
    while chunk := os.read(inp, min(_CHUNK, max(want - n, 65536))):
        h.update(chunk)
        jsonl.write_all(out, chunk)
        n += len(chunk)
    return h, n


def _link_object(tmp: str, final: str, store: Store, b64: str, n: int) -> None:
    try:
        os.link(tmp, final)  # create-only: an object, once there, never gets other bytes…
    except FileExistsError:
        if not has_object(store, b64, n):
            os.replace(tmp, final)  # …unless they are not its bytes any more: repaired from these


# -- placing objects in a download directory ----------------------------------------------------------
# An object is "sealed" when written: mode 0444 and the nanoseconds of its mtime set to SEAL_NS. Any write
# to its inode (through a hard link a download made, by root, who ignores 0444) sets a fresh mtime, so a
# sealed object can be linked or reflinked without reading it: its bytes are those it was hashed from.
# An unsealed object (written by an older runstore, or changed since) is read and checked in full, and
# sealed again when whole. Bit rot below the filesystem is `verify`'s and `artifact verify`'s to find.
SEAL_NS = 444_444_444
_FICLONE = 0x40049409  # linux/fs.h: share the source's extents (btrfs, xfs, bcachefs …)
_no_reflink: set[int] = set()  # devices whose filesystem refused a reflink


def _seal(path: str | os.PathLike[str] | int) -> None:
    try:
        now = time.time_ns()
        ns = now // 1_000_000_000 * 1_000_000_000 + SEAL_NS
        if ns > now:
            ns -= 1_000_000_000  # never in the future: gc and sync compare mtimes with the clock
        if isinstance(path, int):
            os.utime(path, ns=(ns, ns))
        else:
            os.utime(path, ns=(ns, ns), follow_symlinks=False)
    except OSError:
        pass  # not ours to touch (a shared store): it stays unsealed and is read in full


def sealed(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and not st.st_mode & 0o222 and st.st_mtime_ns % 1_000_000_000 == SEAL_NS


@functools.cache
def can_write_readonly() -> bool:
    """Whether this process ignores file modes (root, or CAP_DAC_OVERRIDE): a read-only hard link does
    not protect an object from it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 1))
    except (OSError, ValueError, IndexError):
        pass
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _reflink(src: str, dest: str, dev: int) -> bool:
    tmp = L.tmp_path(dest)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        with open(src, "rb") as f, open(tmp, "xb") as g:
            fcntl.ioctl(g.fileno(), _FICLONE, f.fileno())
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if e.errno != errno.EXDEV:
            _no_reflink.add(dev)  # this filesystem has no reflinks (ext4, tmpfs): never ask again
        return False
    os.replace(tmp, dest)
    return True


def _hardlink(src: str, dest: str) -> bool:
    try:
        os.link(src, dest, follow_symlinks=False)
        return True
    except FileExistsError:
        pass  # an older file in the way: link beside it, then swap it out in one rename
    except OSError:
        return False  # another filesystem (EXDEV), no hard links there, or the link-count limit
    tmp = L.tmp_path(dest)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        os.link(src, tmp, follow_symlinks=False)
    except OSError:
        return False
    os.replace(tmp, dest)
    return True


def place_object(store: Store, b64: str, size: int, dest: str | os.PathLike[str], how: str = "auto") -> str:
    """Put object `b64` at `dest` (atomically) and say how: `reflink` (a copy-on-write clone),
    `hardlink` (the object's own read-only inode), or `copy` (read in full and checked against the
    digest). `how`: `auto` tries a reflink, then a hard link unless this process can write read-only
    files, then copies; `hardlink` links even then; `copy` always copies.

    Only a sealed object is linked without reading it; anything else is copied, so a corrupted object
    is a CorruptObject here and never served."""
    if how not in ("auto", "hardlink", "copy"):
        raise ValueError(f"artifact link mode must be auto, hardlink or copy, not {how!r}")
    hexd = b64_to_hex(b64)
    src = object_file(store, hexd)
    dest = os.fspath(dest)
    if how != "copy":
        try:
            st = os.stat(src, follow_symlinks=False)
        except FileNotFoundError:
            raise ObjectMissing(f"object {hexd} is missing from the store at {store.root}") from None
        if sealed(st) and st.st_size == size:
            if how == "auto" and st.st_dev not in _no_reflink and _reflink(src, dest, st.st_dev):
                return "reflink"
            if (how == "hardlink" or not can_write_readonly()) and _hardlink(src, dest):
                return "hardlink"
    copy_object(store, b64, size, dest)
    _seal(src)  # read in full and whole: linkable from now on
    return "copy"


def is_placed(store: Store, b64: str, size: int, path: str | os.PathLike[str]) -> bool:
    """Whether `path` already is object `b64` (a hard link to the sealed object, or a file with its
    bytes): what a repeated download skips."""
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_size != size:
        return False
    try:
        ost = os.stat(object_file(store, b64_to_hex(b64)), follow_symlinks=False)
        if os.path.samestat(st, ost) and sealed(ost):
            return True
    except OSError:
        pass
    return hash_file(path)[0] == b64


def copy_object(store: Store, b64: str, size: int, dest: str | os.PathLike[str]) -> None:
    """Copy an object to `dest` (atomically: tmp + rename), checking its MD5 and size as it is read;
    CorruptObject (and `dest` untouched) when they differ, ObjectMissing when it is not there."""
    hexd = b64_to_hex(b64)
    src = object_file(store, hexd)
    dest = os.fspath(dest)
    tmp = L.tmp_path(dest)
    try:
        rf = jsonl.open_read(src)
    except FileNotFoundError:
        raise ObjectMissing(f"object {hexd} is missing from the store at {store.root}") from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        with rf:
            try:
                out = os.open(tmp, flags, 0o644)
            except FileExistsError:  # left by a download killed here: ours to replace
                os.unlink(tmp)
                out = os.open(tmp, flags, 0o644)
            try:
                h, n = _copy_fd(rf.fileno(), out)
            finally:
                os.close(out)
        if h.hexdigest() != hexd or n != size:
            raise CorruptObject(
                f"object {src} is corrupted (its bytes no longer match digest {b64}); it is not served. "
                "Log the files again to repair it"
            )
        os.replace(tmp, dest)
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def check_object(store: Store, b64: str, size: int) -> str | None:
    """None when the object is whole; otherwise what is wrong with it."""
    hexd = b64_to_hex(b64)
    try:
        with jsonl.open_read(object_file(store, hexd)) as f:
            h = hashlib.md5()
            n = 0
            while chunk := f.read(_CHUNK):
                h.update(chunk)
                n += len(chunk)
    except FileNotFoundError:
        return f"object {hexd} is missing"
    if h.hexdigest() != hexd or n != size:
        return f"object {hexd} is corrupted"
    return None


def write_manifest(
    store: Store,
    project: str,
    collection: str,
    entries: Mapping[str, tuple[str, int]],
    refs: Mapping[str, Mapping[str, Any]] | None = None,
) -> str:
    """Write the manifest of `entries` (once per content) and return the artifact digest."""
    digest = artifact_digest({p: e[0] for p, e in entries.items()})
    path = manifest_path(store, project, collection, digest)
    if not path.is_file():
        L.make_dirs(path.parent)
        data = orjson.dumps(manifest_json(entries, refs), option=orjson.OPT_INDENT_2) + b"\n"
        try:
            jsonl.write_atomic(path, data, replace=False)
        except FileExistsError:
            pass  # another writer got there first, with the same bytes
    return digest


def _append(store: Store, project: str, records: Iterable[dict[str, Any]]) -> None:
    """Append records in one write(), so a version and its aliases become visible together."""
    recs = list(records)
    if not recs:
        return
    if schema.STRICT:
        for r in recs:
            schema.check(schema.ARTIFACT_LOG, r)
    fd = jsonl.open_append(log_path(store, project))
    try:
        jsonl.write_all(fd, b"".join(jsonl.encode(r) for r in recs))
    finally:
        os.close(fd)


def commit(
    store: Store,
    project: str,
    collection: str,
    type: str,
    entries: Mapping[str, tuple[str, int]],
    *,
    description: str | None,
    metadata: Mapping[str, Any],
    aliases: Iterable[str],
    tags: Iterable[str],
    run: str | None,
    refs: Mapping[str, Mapping[str, Any]] | None = None,
    source: str | None = None,
) -> VersionRec:
    """Record a version of `collection` whose objects are in the store: a new `vN`, or the existing
    version with the same digest (which gets the aliases). Returns the version as folded afterwards.
    `refs`: the entries that are references, with their `ref` (and `extra`)."""
    digest = write_manifest(store, project, collection, entries, refs)
    size = sum(e[1] for e in entries.values())
    now = time.time()
    with locked(store, project):
        st = load(store, project)
        col = st.collections.get(collection)
        if col is not None and col.type != type:
            raise ValueError(
                f"artifact {collection!r} already has type {col.type!r}, not {type!r}; use another name "
                f"or type={col.type!r}"
            )
        recs: list[dict[str, Any]] = []
        existing = col.by_digest(digest) if col is not None else None
        if existing is not None:
            n = existing.version
            if run is not None and run not in existing.loggers:
                recs.append({"t": "log", "time": now, "collection": collection, "version": n, "run": run})
        else:
            n = len(col.versions) if col is not None else 0
            rec: dict[str, Any] = {
                "t": "version",
                "time": now,
                "collection": collection,
                "type": type,
                "version": n,
                "digest": digest,
                "size": size,
                "description": description,
                "metadata": dict(metadata),
                "tags": list(tags),
                "run": run,
            }
            if source is not None:
                rec["source"] = source
            recs.append(rec)
        have = set(existing.aliases) if existing is not None else set()
        for alias in dict.fromkeys(aliases):
            if alias not in have:
                recs.append(
                    {
                        "t": "alias",
                        "time": now,
                        "collection": collection,
                        "version": n,
                        "alias": alias,
                        "run": run,
                    }
                )
        _append(store, project, recs)
        for r in recs:
            st.apply(r)
    return st.collections[collection].versions[n]


def record(store: Store, project: str, *recs: dict[str, Any]) -> None:
    """Append records about an existing version (`use`, `alias`, `unalias`, `update`, `delete`) in one
    write."""
    now = time.time()
    with locked(store, project):
        _append(store, project, [{"t": r["t"], "time": now, **r} for r in recs])


__all__ = [
    "VersionRec",
    "Collection",
    "ProjectArtifacts",
    "CorruptObject",
    "ObjectMissing",
    "artifact_digest",
    "manifest_json",
    "hash_file",
    "b64_to_hex",
    "hex_to_b64",
    "object_path",
    "object_file",
    "load",
    "fold",
    "projects",
    "read_manifest",
    "read_references",
    "read_entries",
    "put_object",
    "has_object",
    "copy_object",
    "place_object",
    "is_placed",
    "sealed",
    "can_write_readonly",
    "check_object",
    "stored_objects",
    "write_manifest",
    "commit",
    "record",
]


def unreferenced_objects(store: Store, min_age_s: float = 3600.0) -> tuple[list[tuple[str, int]], int]:
    """([(path, size)] of objects no live version of any project references and older than `min_age_s`
    (a put in progress stores its objects before its version record), how many objects are kept)."""
    import time

    wanted: set[str] = set()
    for project in projects(store):
        for col in load(store, project).collections.values():
            for v in col.live:
                try:
                    entries = read_manifest(store, project, col.name, v.digest)
                except (OSError, ValueError):
                    continue  # a missing manifest keeps nothing alive, and loses nothing it named
                wanted.update(b64_to_hex(d) for d, _ in entries.values())
    doomed: list[tuple[str, int]] = []
    kept = 0
    cutoff = time.time() - min_age_s
    for rel, path in L.walk(_root(store) / L.OBJECTS_DIR):
        name = rel.rsplit("/", 1)[-1]
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if name in wanted or st.st_mtime > cutoff:
            kept += 1
        else:
            doomed.append((path, st.st_size))
    return doomed, kept


def stored_objects(store: Store) -> tuple[list[tuple[str, str, int, float]], list[tuple[str, float]]]:
    """([(path, hex MD5, size, last use)] of the store's objects, [(path, mtime)] of temporary files a
    killed put or download left among them). Last use is the later of access and modification time."""
    objects: list[tuple[str, str, int, float]] = []
    temps: list[tuple[str, float]] = []

    def scan(d: str) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(d) as it:
                return list(it)
        except (FileNotFoundError, NotADirectoryError):
            return []

    for top in scan(_objects_dir(store)):
        inner = scan(top.path) if top.is_dir(follow_symlinks=False) else [top]
        for e in inner:
            try:
                if not e.is_file(follow_symlinks=False):
                    continue
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if L.is_tmp(e.name):
                temps.append((e.path, st.st_mtime))
            elif e is not top and L.artifact_file_kind([L.OBJECTS_DIR, top.name, e.name]) == L.IMMUTABLE:
                objects.append((e.path, e.name, st.st_size, max(st.st_atime, st.st_mtime)))
    return objects, temps


# -- the stat cache -----------------------------------------------------------------------------------
# path -> [size, mtime_ns, inode, base64 MD5] of files added to artifacts from this store's machine: a file
# whose size, mtime and inode are unchanged is not read again when it is added again (DVC's rule), which
# makes putting an unchanged tree a matter of stat() calls. Derived: deleting it costs one re-hash.
_stat_caches: dict[str, dict[str, list[Any]]] = {}


def _stat_cache(store: Store) -> dict[str, list[Any]]:
    key = str(store.root)
    cache = _stat_caches.get(key)
    if cache is None:
        try:
            with jsonl.open_read(store.root / L.CACHE_DIR / L.ARTIFACT_STAT_CACHE) as f:
                raw = orjson.loads(f.read())
            cache = raw if isinstance(raw, dict) else {}
        except (OSError, ValueError):
            cache = {}
        _stat_caches[key] = cache
    return cache


def add_object(store: Store, src: str) -> tuple[str, int]:
    """(base64 MD5, size) of file `src`, whose bytes are then an object of the store: taken from the
    stat cache when the file is unchanged and its object is there, else copied in (hashed as copied)."""
    st = os.stat(src)
    sig = [st.st_size, st.st_mtime_ns, st.st_ino]
    cache = _stat_cache(store)
    hit = cache.get(src)
    if (
        hit is not None
        and hit[:3] == sig
        and isinstance(hit[3], str)
        and has_object(store, hit[3], st.st_size)
    ):
        return hit[3], st.st_size
    b64, n = put_object(store, src)
    if n == st.st_size:  # the file did not change while it was copied: its signature names these bytes
        cache[src] = [*sig, b64]
    return b64, n


def save_stat_cache(store: Store) -> None:
    cache = _stat_caches.get(str(store.root))
    if not cache:
        return
    try:
        L.make_dirs(store.root / L.CACHE_DIR)
        jsonl.write_atomic(store.root / L.CACHE_DIR / L.ARTIFACT_STAT_CACHE, orjson.dumps(cache))
    except OSError:
        pass  # derived: the next put hashes again
