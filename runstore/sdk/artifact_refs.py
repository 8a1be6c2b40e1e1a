"""Reference entries of artifacts (`add_reference`): files that stay where they are, tracked by URI.

wandb's rules (docs/COMPAT.md §9): a reference entry has `ref` (the URI), a `digest` and a `size`; the
bytes are not copied into the store. The digest is what tells a later download whether the referenced
bytes are still the ones logged:

* `file://` — the base64 MD5 of the file (wandb's own digest), or the URI itself with `checksum=False`.
* `http(s)://` — the server's `ETag`, else the URL; the size from `Content-Length`.
* any fsspec URL (`s3://`, `gs://`, `memory://`, …) — the object's `ETag` (S3, GCS), else fsspec's
  `ukey` of the object (a token of its size and modification time), or the URI with `checksum=False`;
  a directory-like prefix adds every object under it. `extra` keeps `etag` and S3's `versionID`.

A download checks what it can: an MD5 digest against the bytes fetched, an ETag against the ETag
served; a reference that changed is an error naming it, never a silent different file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..store import layout as L

DEFAULT_MAX_OBJECTS = 10_000_000  # wandb's default for add_reference(max_objects=None)
_CHUNK = 1 << 20
_TIMEOUT = 60.0

Ref = tuple[str, str, int, dict[str, Any]]  # (path in the artifact, digest, size, {"ref", "extra"})


def is_md5(digest: str) -> bool:
    """Whether a digest is wandb's base64 MD5 (then it can be checked against bytes)."""
    if len(digest) != 24 or not digest.endswith("=="):
        return False
    try:
        return len(base64.b64decode(digest, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def collect(uri: str, name: str | None, checksum: bool, max_objects: int | None) -> list[Ref]:
    """The entries `add_reference(uri, name, checksum, max_objects)` adds, sorted by path."""
    if not isinstance(uri, str) or "://" not in uri:
        raise ValueError(
            f"add_reference() takes a URI (file:///data/x, s3://bucket/key, https://…), got {uri!r}; "
            "add local files with add_file() or add_dir()"
        )
    limit = DEFAULT_MAX_OBJECTS if max_objects is None else max_objects
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"max_objects must be a positive int, got {max_objects!r}")
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    if scheme == "file":
        out = _file_refs(uri, name, checksum, limit)
    elif scheme in ("http", "https"):
        out = [_http_ref(uri, name, checksum)]
    else:
        out = _fsspec_refs(uri, scheme, name, checksum, limit)
    if not out:
        raise ValueError(f"add_reference({uri!r}): nothing there to reference")
    return out


def _join(name: str | None, rel: str, default: str) -> str:
    if name:
        return f"{name.strip('/')}/{rel}" if rel else name.strip("/")
    return rel or default


def _too_many(uri: str, limit: int) -> ValueError:
    return ValueError(
        f"add_reference({uri!r}): more than max_objects={limit} files; pass a larger max_objects"
    )


def _file_refs(uri: str, name: str | None, checksum: bool, limit: int) -> list[Ref]:
    from .artifact import _tree

    path = os.path.abspath(urllib.request.url2pathname(urllib.parse.urlsplit(uri).path))
    if os.path.isdir(path):
        files = [(rel, full, size) for rel, full, size in _tree(path, "")]
        if len(files) > limit:
            raise _too_many(uri, limit)
        items = [(_join(name, rel, rel), full, size) for rel, full, size in files]
    elif os.path.isfile(path):
        items = [(_join(name, "", os.path.basename(path)), path, os.path.getsize(path))]
    else:
        raise ValueError(f"add_reference({uri!r}): no such file or directory {path!r}")
    out: list[Ref] = []
    for key, full, size in items:
        ref = "file://" + urllib.request.pathname2url(full)
        if checksum:
            from ..store.artifacts import hash_file

            digest, size = hash_file(full)
        else:
            digest = ref
        out.append((key, digest, size, {"ref": ref, "extra": {}}))
    return out


def _etag(value: Any) -> str | None:
    if not value:
        return None
    text = str(value).strip()
    return text.removeprefix("W/").strip('"') or None


def _http_ref(uri: str, name: str | None, checksum: bool) -> Ref:
    req = urllib.request.Request(uri, method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as r:
            etag = _etag(r.headers.get("ETag"))
            size = int(r.headers.get("Content-Length") or 0)
    except (OSError, ValueError) as e:
        raise ValueError(f"add_reference({uri!r}): the server did not answer a HEAD request ({e})") from None
    leaf = urllib.parse.unquote(urllib.parse.urlsplit(uri).path.rstrip("/").rsplit("/", 1)[-1]) or "index"
    digest = etag if checksum and etag else uri
    return (_join(name, "", leaf), digest, size, {"ref": uri, "extra": {"etag": etag} if etag else {}})


def _open_fs(uri: str) -> tuple[Any, str]:
    from ..remotes.objects import open_fs

    fs, path = open_fs(uri)
    # fsspec filesystems are cached per process with their listings: a reference is about the bytes
    # there now, not about what this process listed earlier
    with contextlib.suppress(Exception):
        fs.invalidate_cache(path)
    return fs, path


def _fs_digest(
    fs: Any, path: str, info: dict[str, Any], uri: str, checksum: bool
) -> tuple[str, dict[str, Any]]:
    etag = _etag(info.get("ETag") or info.get("etag"))
    extra: dict[str, Any] = {}
    if etag:
        extra["etag"] = etag
    version = info.get("VersionId") or info.get("version_id")
    if version and version != "null":
        extra["versionID"] = str(version)
    if not checksum:
        return uri, extra
    if etag:
        return etag, extra
    return str(fs.ukey(path)), extra


def _fsspec_refs(uri: str, scheme: str, name: str | None, checksum: bool, limit: int) -> list[Ref]:
    fs, path = _open_fs(uri)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise ValueError(f"add_reference({uri!r}): no such object or prefix") from None
    except OSError as e:
        raise ValueError(f"add_reference({uri!r}): {e}") from None
    if info.get("type") != "directory":
        key = _join(name, "", path.rsplit("/", 1)[-1])
        digest, extra = _fs_digest(fs, path, info, uri, checksum)
        return [(key, digest, int(info.get("size") or 0), {"ref": uri, "extra": extra})]
    found = fs.find(path, detail=True)
    if len(found) > limit:
        raise _too_many(uri, limit)
    out: list[Ref] = []
    base = path.rstrip("/") + "/"
    for key in sorted(found):
        finfo = found[key]
        if finfo.get("type") == "directory" or not key.startswith(base):
            continue
        rel = key[len(base) :]
        if any(p in ("", ".", "..") for p in rel.split("/")):
            continue  # not a path an artifact can hold
        ref = f"{scheme}://{key}"
        digest, extra = _fs_digest(fs, key, finfo, ref, checksum)
        out.append((_join(name, rel, rel), digest, int(finfo.get("size") or 0), {"ref": ref, "extra": extra}))
    return out


# -- downloads ---------------------------------------------------------------------------------------
class ReferenceChanged(ValueError):
    """The bytes at a reference are not the ones the artifact logged."""


def _changed(ref: str) -> ReferenceChanged:
    return ReferenceChanged(
        f"reference {ref} changed since the artifact was logged (its digest differs); it is not served. "
        "Log a new version with add_reference() to track the new bytes"
    )


def fetch(ref: dict[str, Any], digest: str, size: int, dest: str) -> None:
    """Fetch a reference entry into `dest` (atomically), checking its digest where one can be checked;
    FileNotFoundError when the referenced file is gone."""
    uri = str(ref["ref"])
    scheme = urllib.parse.urlsplit(uri).scheme.lower()
    tmp = L.tmp_path(dest)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    try:
        if scheme == "file":
            path = urllib.request.url2pathname(urllib.parse.urlsplit(uri).path)
            with open(path, "rb") as src:
                got = _copy(src, tmp)
        elif scheme in ("http", "https"):
            _fetch_http(uri, digest, tmp)
            got = None
        else:
            _fetch_fs(uri, digest, ref.get("extra") or {}, tmp)
            got = None
        if got is not None and is_md5(digest) and got != digest:
            raise _changed(uri)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _copy(src: Any, tmp: str) -> str:
    h = hashlib.md5()
    with open(tmp, "xb") as g:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            g.write(chunk)
    return base64.b64encode(h.digest()).decode()


def _fetch_http(uri: str, digest: str, tmp: str) -> None:
    try:
        with urllib.request.urlopen(uri, timeout=_TIMEOUT) as r:
            etag = _etag(r.headers.get("ETag"))
            if digest != uri and etag != digest:
                raise _changed(uri)
            _copy(r, tmp)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise FileNotFoundError(uri) from None
        raise ValueError(f"cannot fetch reference {uri}: HTTP {e.code}") from None
    except urllib.error.URLError as e:
        raise ValueError(f"cannot fetch reference {uri}: {e.reason}") from None


def _fetch_fs(uri: str, digest: str, extra: dict[str, Any], tmp: str) -> None:
    fs, path = _open_fs(uri)
    info = fs.info(path)  # FileNotFoundError when gone
    kw: dict[str, Any] = {}
    if digest != uri:
        now, _ = _fs_digest(fs, path, info, uri, True)
        if now != digest:
            version = extra.get("versionID")
            if not version or not getattr(fs, "version_aware", False):
                raise _changed(uri)
            kw["version_id"] = version  # the bucket keeps versions: fetch the one logged
    with fs.open(path, "rb", **kw) as src:
        _copy(src, tmp)


__all__ = ["collect", "fetch", "is_md5", "ReferenceChanged", "DEFAULT_MAX_OBJECTS"]
