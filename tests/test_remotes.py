"""The contract every remote keeps (runstore/remotes/base.py), run against every backend:

* `dir`    — `DirRemote` on a directory;
* `file`   — `open_remote("file://...")` (a directory too, reached through the registry);
* `memory` — `open_remote("memory://...")`, an fsspec object store in this process;
* `s3`     — `open_remote("s3://...")` against moto's S3 server (tests/remote_servers.py);
* `http`   — `open_remote("http://...")`: a real `runstore server` (tests/remote_servers.py), its token in
  RUNSTORE_API_KEY.

Then what only one kind of backend does: a directory is a store (format.json, resumed uploads, no
symlink following); an object store keeps append files as a compacted object plus segment objects.
"""

from __future__ import annotations

import os
import random
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remote_servers import moto_s3, runstore_server  # noqa: F401

from runstore.remotes import Conflict, MissingBackend, RemoteError, open_remote, strip_credentials
from runstore.remotes import base as B
from runstore.remotes import objects as O
from runstore.remotes.base import BadPath
from runstore.remotes.directory import DirRemote
from runstore.remotes.http import HttpRemote
from runstore.remotes.objects import ObjectRemote
from runstore.store import format as fmt
from runstore.store import layout as L
from runstore.store.store import Store

RUN = "projects/p/runs/abc"
LOG = f"{RUN}/run.jsonl"  # append
OUT = f"{RUN}/files/output.log"  # append, below a subdirectory of the run
HIST = f"{RUN}/history.jsonl"  # append
IMG = f"{RUN}/files/media/images/a_1_0123.png"  # immutable
REQS = f"{RUN}/files/requirements.txt"  # immutable
CONF = f"{RUN}/files/model.yaml"  # replaced
JOURNAL = "sweeps/sw1/journal.jsonl"  # append (a sweep's)
TRIAL = "sweeps/sw1/config-t1.yaml"  # immutable (a sweep's)

ALL = ["dir", "file", "memory", "s3", "http"]
OBJECTS = ["memory", "s3"]
DIRS = ["dir", "file"]


def backends(kinds: list[str] = ALL, xfail: dict[str, str] | None = None) -> list[Any]:
    """Params for the indirect `remote` fixture; `xfail` marks (strictly) the backends of a known bug."""
    xfail = xfail or {}
    return [
        pytest.param(k, id=k, marks=[pytest.mark.xfail(strict=True, reason=xfail[k])] if k in xfail else [])
        for k in kinds
    ]


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _clear_memory_fs():
    """memory:// is one dict per process: every test starts and ends with it empty."""
    from fsspec.implementations.memory import MemoryFileSystem

    def clear() -> None:
        MemoryFileSystem.store.clear()
        MemoryFileSystem.pseudo_dirs.clear()
        MemoryFileSystem.pseudo_dirs.append("")

    clear()
    yield
    clear()


def make_remote(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if kind == "dir":
        return DirRemote(tmp_path / "remote")
    if kind == "file":
        r = open_remote("file://" + str(tmp_path / "remote"))
        assert isinstance(r, DirRemote) and r.root == tmp_path / "remote"
        return r
    if kind == "memory":
        r = open_remote(f"memory://bucket-{uuid.uuid4().hex[:12]}/root")
        assert isinstance(r, ObjectRemote)
        return r
    if kind == "s3":
        server = request.getfixturevalue("moto_s3")
        r = open_remote(f"s3://{server.bucket()}/team")
        assert isinstance(r, ObjectRemote)
        return r
    if kind == "http":
        srv = request.getfixturevalue("runstore_server")
        srv.clean()
        request.getfixturevalue("monkeypatch").setenv("RUNSTORE_API_KEY", srv.token)
        r = open_remote(srv.url)
        assert isinstance(r, HttpRemote)
        r.server_store = Path(srv.store)
        return r
    raise AssertionError(kind)


@pytest.fixture(params=backends())
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    r = make_remote(request.param, request, tmp_path)
    r.kind = request.param
    yield r
    r.close()


@pytest.fixture(params=backends(OBJECTS))
def obj_remote(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    r = make_remote(request.param, request, tmp_path)
    r.kind = request.param
    yield r
    r.close()


@pytest.fixture(params=backends(DIRS))
def dir_remote(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    r = make_remote(request.param, request, tmp_path)
    r.kind = request.param
    yield r
    r.close()


# -- helpers ----------------------------------------------------------------------------------------
def reopen(remote: Any) -> Any:
    """A second handle on the same remote with nothing cached: what another process would see."""
    if isinstance(remote, DirRemote):
        return DirRemote(remote.root)
    if isinstance(remote, HttpRemote):
        fresh = HttpRemote(remote.url)
        fresh.server_store = remote.server_store  # type: ignore[attr-defined]
        return fresh
    return ObjectRemote(remote.url, fs=remote.fs, root=remote.root)


def raw_keys(remote: ObjectRemote) -> list[str]:
    """Every object under the remote's root, relative to it, as the object store has them."""
    root = remote.root.strip("/") + "/"
    try:
        remote.fs.invalidate_cache()
    except Exception:
        pass
    return sorted(k.strip("/")[len(root) :] for k in remote.fs.find(remote.root))


def segment_keys(remote: ObjectRemote, rel: str) -> list[str]:
    return [k for k in raw_keys(remote) if "/segments/" in k and (L.parse_segment(k) or ("",))[0] == rel]


def raw_write(remote: Any, rel: str, data: bytes) -> None:
    """Put bytes at a path of the remote behind its back (no checks, no bookkeeping)."""
    if isinstance(remote, (DirRemote, HttpRemote)):
        path = (remote.root if isinstance(remote, DirRemote) else remote.server_store) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    else:
        remote.fs.pipe_file(f"{remote.root}/{rel}", data)


def chunks_of(seed: int, sizes: list[int]) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(n) for n in sizes]


def append_all(remote: Any, rel: str, chunks: list[bytes], start: int = 0) -> int:
    pos = start
    for c in chunks:
        assert remote.append(rel, pos, c) == pos + len(c)
        pos += len(c)
    return pos


def store_files(listing: dict[str, int]) -> dict[str, int]:
    """A listing without the store-level files a remote writes by itself (format.json, .gitignore)."""
    return {k: v for k, v in listing.items() if k not in (L.FORMAT_FILE, L.GITIGNORE)}


def test_paths_have_the_kinds_the_tests_assume():
    assert L.kind_of(LOG) == L.APPEND
    assert L.kind_of(OUT) == L.APPEND
    assert L.kind_of(HIST) == L.APPEND
    assert L.kind_of(JOURNAL) == L.APPEND
    assert L.kind_of(IMG) == L.IMMUTABLE
    assert L.kind_of(REQS) == L.IMMUTABLE
    assert L.kind_of(TRIAL) == L.IMMUTABLE
    assert L.kind_of(CONF) == L.REPLACED
    assert L.kind_of(L.FORMAT_FILE) == L.REPLACED
    assert L.segment_path(OUT, 5) == f"{RUN}/segments/files/output.log/{5:020d}"
    assert L.parse_segment(L.segment_path(OUT, 5)) == (OUT, 5)
    assert L.parse_segment(OUT) is None


# -- append -----------------------------------------------------------------------------------------
def test_append_at_the_current_size_and_conflict_elsewhere(remote):
    assert remote.size(LOG) is None
    assert remote.append(LOG, 0, b"hello ") == 6
    assert remote.append(LOG, 6, b"world") == 11
    for wrong in (0, 5, 12, 1000):
        with pytest.raises(Conflict) as e:
            remote.append(LOG, wrong, b"XX")
        assert e.value.size == 11
        assert e.value.offset == wrong
        assert e.value.rel == LOG
        assert isinstance(e.value, RemoteError)
    assert remote.read(LOG) == b"hello world"
    assert remote.size(LOG) == 11
    assert remote.listing("")[LOG] == 11
    assert remote.listing(f"{RUN}/") == {LOG: 11}
    assert reopen(remote).size(LOG) == 11
    assert reopen(remote).read(LOG) == b"hello world"
    # the conflict did not break the next append at the right offset
    assert remote.append(LOG, 11, b"!") == 12
    assert reopen(remote).read(LOG) == b"hello world!"


def test_conflict_on_a_missing_file_names_size_zero(remote):
    with pytest.raises(Conflict) as e:
        remote.append(LOG, 3, b"abc")
    assert e.value.size == 0
    assert remote.size(LOG) in (None, 0)  # a directory may have created it empty
    assert remote.append(LOG, 0, b"abc") == 3
    assert remote.read(LOG) == b"abc"


def test_conflict_after_someone_else_appended(remote):
    remote.append(LOG, 0, b"abc")
    assert reopen(remote).append(LOG, 3, b"def") == 6
    # a handle that looks again (one run has one writer: a handle may cache what it wrote) refuses
    with pytest.raises(Conflict) as e:
        reopen(remote).append(LOG, 3, b"XYZ")
    assert e.value.size == 6
    assert reopen(remote).read(LOG) == b"abcdef"
    assert remote.size(LOG) == 6  # size() is asked explicitly: the truth, never a cache


RANGES = [
    (0, None),
    (0, 25),
    (0, 10),
    (0, 1),
    (5, 15),  # spans the first and second appends
    (9, 11),
    (10, 20),  # exactly the second append
    (3, 23),  # spans all three
    (19, 21),
    (20, 100),  # end past the size
    (0, 1000),
    (24, 25),
    (24, None),
]
EMPTY_RANGES = [
    (7, 7),  # start = end
    (0, 0),
    (10, 10),
    (25, 25),
    (25, None),  # start at the size
    (30, 40),  # start past the size
    (30, None),
    (12, 5),  # end before start
]


def test_read_byte_ranges_across_appends(remote):
    parts = [b"0123456789", b"abcdefghij", b"KLMNO"]
    full = b"".join(parts)
    append_all(remote, LOG, parts)
    for r in (remote, reopen(remote)):
        for start, end in RANGES + EMPTY_RANGES:
            got = r.read(LOG, start) if end is None else r.read(LOG, start, end)
            assert got == full[start:end], (start, end)
    assert remote.read(LOG) == full


def test_read_byte_ranges_of_a_whole_file(remote):
    full = b"0123456789abcdefghijKLMNO"
    assert remote.put(IMG, full, replace=False)
    for start, end in RANGES:
        got = remote.read(IMG, start) if end is None else remote.read(IMG, start, end)
        assert got == full[start:end], (start, end)


@pytest.mark.parametrize("remote", backends(), indirect=True)
def test_empty_byte_ranges_of_a_whole_file(remote):
    full = b"0123456789abcdefghijKLMNO"
    assert remote.put(IMG, full, replace=False)
    wrong = {}
    for start, end in EMPTY_RANGES:
        try:
            got = remote.read(IMG, start) if end is None else remote.read(IMG, start, end)
        except OSError as e:
            got = e
        if got != b"":
            wrong[(start, end)] = got if isinstance(got, OSError) else f"{len(got)} bytes"
    assert not wrong


def test_read_byte_ranges_after_compaction(remote):
    parts = [b"0123456789", b"abcdefghij"]
    append_all(remote, LOG, parts)
    remote.seal(LOG)
    remote.append(LOG, 20, b"KLMNO")
    full = b"".join(parts) + b"KLMNO"
    for r in (remote, reopen(remote)):
        for start, end in RANGES + EMPTY_RANGES:
            got = r.read(LOG, start) if end is None else r.read(LOG, start, end)
            assert got == full[start:end], (start, end)


def test_empty_append_changes_nothing(remote):
    remote.append(LOG, 0, b"abc")
    assert remote.append(LOG, 3, b"") == 3
    assert remote.read(LOG) == b"abc"
    assert remote.size(LOG) == 3


def test_many_small_appends_read_back_and_seal_compacts(remote, monkeypatch):
    n = 300  # beyond MIN_SEGMENTS: an object store compacts on the way
    if remote.kind == "s3":  # one PUT per append and one GET per segment: keep moto's share short
        n = 60
        monkeypatch.setattr(O, "MIN_SEGMENTS", 40)
    parts = chunks_of(1, [random.Random(n + i).randint(1, 40) for i in range(n)])
    full = b"".join(parts)
    pos = 0
    for i, c in enumerate(parts):
        pos = remote.append(LOG, pos, c)
        if i in (0, 39, 40, 41, 99, 255, 256, 270):
            assert remote.size(LOG) == pos
    assert pos == len(full)
    assert remote.read(LOG) == full
    assert reopen(remote).read(LOG) == full
    assert remote.read(LOG, 1000, 3000) == full[1000:3000]
    remote.seal(LOG)
    assert remote.read(LOG) == full
    assert reopen(remote).read(LOG) == full
    assert remote.listing(f"{RUN}/") == {LOG: len(full)}
    assert remote.size(LOG) == len(full)
    if isinstance(remote, ObjectRemote):
        keys = raw_keys(remote)
        assert not [k for k in keys if "/segments/" in k], keys
        assert LOG in keys
    # sealing twice, or a file that is not there, is harmless
    remote.seal(LOG)
    remote.seal(OUT)
    assert remote.read(LOG) == full
    # and it can still grow (a resumed run)
    assert remote.append(LOG, len(full), b"more") == len(full) + 4
    assert reopen(remote).read(LOG) == full + b"more"


def test_object_store_compacts_a_long_tail_by_itself(obj_remote, monkeypatch):
    monkeypatch.setattr(O, "MIN_SEGMENTS", 4)
    monkeypatch.setattr(O, "MAX_SEGMENTS", 10)
    # MIN_SEGMENTS: segments holding 1/8 of the compacted size or more are compacted
    parts = chunks_of(2, [5] * 18)
    append_all(obj_remote, LOG, parts)
    segs = segment_keys(obj_remote, LOG)
    assert len(segs) < 4, segs
    assert LOG in raw_keys(obj_remote)  # compacted on the way
    assert reopen(obj_remote).read(LOG) == b"".join(parts)
    # MAX_SEGMENTS: however small they are compared with the compacted object
    big = random.Random(3).randbytes(1000)
    append_all(obj_remote, OUT, [big])
    obj_remote.seal(OUT)
    tail = chunks_of(4, [1] * 25)
    append_all(obj_remote, OUT, tail, start=1000)
    segs = segment_keys(obj_remote, OUT)
    assert 0 < len(segs) < 10, segs
    assert reopen(obj_remote).read(OUT) == big + b"".join(tail)


def test_an_append_bigger_than_a_chunk(remote):
    data = random.Random(3).randbytes(B.CHUNK + 1234)
    assert remote.append(LOG, 0, b"head") == 4
    assert remote.append(LOG, 4, data) == 4 + len(data)
    assert remote.size(LOG) == 4 + len(data)
    assert remote.read(LOG, B.CHUNK - 10, B.CHUNK + 20) == (b"head" + data)[B.CHUNK - 10 : B.CHUNK + 20]
    assert B.remote_sha256(remote, LOG, 4 + len(data)) == B.hashlib.sha256(b"head" + data).hexdigest()


def test_crash_between_compaction_and_segment_deletion(obj_remote):
    parts = chunks_of(4, [7, 11, 13, 17, 19])
    full = b"".join(parts)
    append_all(obj_remote, LOG, parts)
    segs = segment_keys(obj_remote, LOG)
    assert len(segs) == len(parts)
    # compaction wrote the whole file as the object at its own path, then died
    raw_write(obj_remote, LOG, full)
    fresh = reopen(obj_remote)
    assert fresh.read(LOG) == full
    assert fresh.size(LOG) == len(full)
    assert fresh.listing("")[LOG] == len(full)
    assert fresh.read(LOG, 5, 40) == full[5:40]
    assert segment_keys(fresh, LOG) == segs  # stale, ignored
    assert fresh.append(LOG, len(full), b"tail") == len(full) + 4
    assert reopen(obj_remote).read(LOG) == full + b"tail"
    fresh.seal(LOG)
    assert segment_keys(fresh, LOG) == []
    assert reopen(obj_remote).read(LOG) == full + b"tail"


def test_crash_midway_through_an_earlier_compaction(obj_remote):
    """The compacted object holds a prefix; segments go on from before its end and past it."""
    parts = chunks_of(5, [10, 10, 10, 10])
    full = b"".join(parts)
    append_all(obj_remote, LOG, parts)
    raw_write(obj_remote, LOG, full[:20])  # the first two segments compacted, all still there
    fresh = reopen(obj_remote)
    assert fresh.read(LOG) == full
    assert fresh.size(LOG) == 40
    assert fresh.read(LOG, 15, 35) == full[15:35]


def test_a_gap_in_the_segments_ends_the_file(obj_remote):
    append_all(obj_remote, LOG, [b"0123456789"])
    raw_write(obj_remote, L.segment_path(LOG, 20), b"later")  # bytes 10..20 never arrived
    fresh = reopen(obj_remote)
    assert fresh.size(LOG) == 10
    assert fresh.read(LOG) == b"0123456789"
    with pytest.raises(Conflict) as e:
        fresh.append(LOG, 25, b"x")
    assert e.value.size == 10


# -- put ----------------------------------------------------------------------------------------------
def test_put_immutable_once_then_replace(remote):
    assert remote.put(IMG, b"first", replace=False) is True
    assert remote.put(IMG, b"second!", replace=False) is False
    assert remote.read(IMG) == b"first"
    assert remote.size(IMG) == 5
    assert reopen(remote).read(IMG) == b"first"
    assert remote.put(IMG, b"third!!", replace=True) is True
    assert remote.read(IMG) == b"third!!"
    assert remote.size(IMG) == 7
    assert remote.listing(f"{RUN}/")[IMG] == 7
    assert remote.put(IMG, b"4", replace=True) is True  # shorter
    assert reopen(remote).read(IMG) == b"4"


def test_put_from_a_local_path(remote, tmp_path):
    src = tmp_path / "local.bin"
    src.write_bytes(b"from a file\n" * 100)
    assert remote.put(REQS, src, replace=False) is True
    assert remote.read(REQS) == src.read_bytes()
    other = tmp_path / "other.bin"
    other.write_bytes(b"other")
    assert remote.put(REQS, other, replace=False) is False
    assert remote.read(REQS) == src.read_bytes()
    assert remote.put(CONF, other, replace=True) is True
    assert remote.put(CONF, src, replace=True) is True
    assert remote.read(CONF) == src.read_bytes()
    assert remote.size(CONF) == src.stat().st_size
    assert remote.put(TRIAL, b"method: grid\n", replace=False) is True
    assert remote.read(TRIAL) == b"method: grid\n"


@pytest.mark.parametrize("remote", backends(), indirect=True)
def test_put_an_empty_file(remote, tmp_path):
    assert remote.put(IMG, b"", replace=False) is True
    assert remote.size(IMG) == 0
    assert remote.read(IMG) == b""
    assert remote.listing(f"{RUN}/") == {IMG: 0}
    assert remote.put(IMG, b"x", replace=False) is False


def test_a_large_file_round_trips_in_pieces(remote, tmp_path):
    size = 20 << 20  # more than two CHUNKs
    data = random.Random(6).randbytes(size)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    assert remote.put(IMG, src, replace=False) is True
    assert remote.size(IMG) == size
    assert remote.listing(f"{RUN}/") == {IMG: size}
    piece = 3 << 20
    got = bytearray()
    while len(got) < size:
        got += remote.read(IMG, len(got), len(got) + piece)
    assert bytes(got) == data
    assert remote.read(IMG, B.CHUNK - 5, B.CHUNK + 5) == data[B.CHUNK - 5 : B.CHUNK + 5]
    assert B.remote_sha256(remote, IMG, size) == B.local_sha256(src)


@pytest.mark.parametrize(
    "remote",
    backends(),
    indirect=True,
)
@pytest.mark.parametrize(
    "new_len,cold",
    [(0, False), (25, False), (40, False), (101, False), (25, True), (101, True)],
    ids=["empty", "shorter", "same-size", "longer", "shorter-cold", "longer-cold"],
)
def test_put_replace_repairs_an_append_file(remote, new_len, cold, tmp_path):
    """A repaired append file is the new bytes, whatever segments it had (cold: the handle that
    repairs it never listed the file)."""
    parts = chunks_of(7, [10, 10, 10, 10])  # 40 bytes in four appends
    append_all(remote, LOG, parts)
    if isinstance(remote, ObjectRemote):
        assert len(segment_keys(remote, LOG)) == 4
    new = random.Random(8).randbytes(new_len)
    writer = reopen(remote) if cold else remote  # cold: a handle that never listed the file
    if new_len % 2:
        src = tmp_path / "new.bin"
        src.write_bytes(new)
        assert writer.put(LOG, src, replace=True) is True
    else:
        assert writer.put(LOG, new, replace=True) is True
    for r in (writer, reopen(remote)):
        assert r.read(LOG) == new
        assert r.size(LOG) == new_len
        assert r.listing(f"{RUN}/") == {LOG: new_len}
    if isinstance(remote, ObjectRemote):
        assert segment_keys(remote, LOG) == []
    # the repaired file grows from its new size, and only from there
    with pytest.raises(Conflict) as e:
        writer.append(LOG, new_len + 7, b"x")
    assert e.value.size == new_len
    assert writer.append(LOG, new_len, b"tail") == new_len + 4
    assert reopen(remote).read(LOG) == new + b"tail"


# -- delete, missing files --------------------------------------------------------------------------
def test_delete(remote):
    remote.put(IMG, b"image", replace=False)
    append_all(remote, LOG, [b"12345", b"67890"])
    remote.delete(IMG)
    remote.delete(LOG)
    for r in (remote, reopen(remote)):
        assert r.size(IMG) is None
        assert r.size(LOG) is None
        with pytest.raises(FileNotFoundError):
            r.read(IMG)
        with pytest.raises(FileNotFoundError):
            r.read(LOG)
        assert IMG not in r.listing("") and LOG not in r.listing("")
    if isinstance(remote, ObjectRemote):
        assert segment_keys(remote, LOG) == []
    remote.delete(IMG)  # missing: nothing happens
    remote.delete(OUT)
    # an append file started again does not pick up bytes it had before
    assert remote.append(LOG, 0, b"abcde") == 5
    assert reopen(remote).read(LOG) == b"abcde"
    assert remote.put(IMG, b"again", replace=False) is True
    assert remote.read(IMG) == b"again"


def test_delete_with_a_cold_handle_drops_segments(remote):
    append_all(remote, LOG, [b"12345", b"67890"])
    reopen(remote).delete(LOG)
    assert reopen(remote).size(LOG) is None
    assert remote.size(LOG) is None
    assert reopen(remote).append(LOG, 0, b"abcde") == 5  # no segment of before comes back
    assert reopen(remote).read(LOG) == b"abcde"


@pytest.mark.parametrize("remote", backends(), indirect=True)
def test_a_listing_forgets_files_that_are_gone(remote):
    append_all(remote, LOG, [b"12345", b"67890"])
    reopen(remote).delete(LOG)
    assert remote.listing(f"{RUN}/") == {}
    assert remote.append(LOG, 0, b"abcde") == 5  # the listing was the truth: nothing there
    assert remote.read(LOG) == b"abcde"


def test_missing_files(remote):
    for rel in (LOG, OUT, IMG, CONF, JOURNAL, TRIAL):
        assert remote.size(rel) is None
        with pytest.raises(FileNotFoundError):
            remote.read(rel)
        with pytest.raises(FileNotFoundError):
            remote.read(rel, 0, 10)
    assert store_files(remote.listing("")) == {}
    assert remote.listing(f"{RUN}/") == {}
    assert remote.listing("projects/nothing/") == {}
    assert remote.projects_runs() == []
    assert remote.sweep_ids() == []


@pytest.mark.parametrize(
    "remote",
    backends(xfail={"http": "a server refuses writes of its own settings.yaml (403, by design)"}),
    indirect=True,
)
def test_size_of_a_store_level_file(remote):
    assert remote.size("settings.yaml") is None
    remote.put(IMG, b"x", replace=False)  # any write makes format.json
    assert remote.size(L.FORMAT_FILE) == len(remote.read(L.FORMAT_FILE))
    assert remote.put("settings.yaml", b"project: p\n", replace=True)
    assert remote.size("settings.yaml") == 11


# -- listings ---------------------------------------------------------------------------------------
def _populate(remote: Any) -> dict[str, int]:
    """Files of two runs (one whose id extends the other's), another project and a sweep."""
    want: dict[str, int] = {}
    append_all(remote, LOG, [b"a" * 10, b"b" * 5])
    want[LOG] = 15
    append_all(remote, OUT, [b"out\n", b"put\n"])
    want[OUT] = 8
    remote.put(IMG, b"png!", replace=False)
    want[IMG] = 4
    remote.put(CONF, b"lr: 1\n", replace=True)
    want[CONF] = 6
    other = "projects/p/runs/abc2/run.jsonl"
    append_all(remote, other, [b"x"])
    want[other] = 1
    q = "projects/q/runs/r1/files/requirements.txt"
    remote.put(q, b"numpy\n", replace=False)
    want[q] = 6
    append_all(remote, JOURNAL, [b"{}\n"])
    want[JOURNAL] = 3
    remote.put(TRIAL, b"x: 1\n", replace=False)
    want[TRIAL] = 5
    # what a write in progress leaves: never listed
    raw_write(remote, f"{RUN}/files/.model.yaml.tmp-runstore-123", b"half")
    raw_write(remote, f"{RUN}/.run.jsonl.tmp-runstore-0", b"half")
    raw_write(remote, ".format.json.tmp-runstore-9", b"half")
    return want


def test_listing(remote):
    want = _populate(remote)
    for r in (remote, reopen(remote)):
        everything = r.listing("")
        assert store_files(everything) == want
        assert L.FORMAT_FILE in everything
        assert not [k for k in everything if L.is_tmp(k.rsplit("/", 1)[-1])]
        assert not [k for k in everything if "/segments/" in k]
        assert r.listing(f"{RUN}/") == {k: v for k, v in want.items() if k.startswith(f"{RUN}/")}
        assert r.listing("projects/p/runs/abc2/") == {"projects/p/runs/abc2/run.jsonl": 1}
        assert r.listing("projects/q/") == {"projects/q/runs/r1/files/requirements.txt": 6}
        assert r.listing("sweeps/") == {JOURNAL: 3, TRIAL: 5}
        assert r.listing("sweeps/sw1/") == {JOURNAL: 3, TRIAL: 5}
        assert r.listing("projects/p/runs/zzz/") == {}


def test_listing_after_seal(remote):
    want = _populate(remote)
    for rel in (LOG, OUT, JOURNAL):
        remote.seal(rel)
    assert store_files(remote.listing("")) == want
    assert store_files(reopen(remote).listing("")) == want


@pytest.mark.parametrize("remote", backends(), indirect=True)
def test_listing_of_a_directory_inside_a_run(remote):
    append_all(remote, OUT, [b"line 1\n", b"line 2\n"])
    remote.seal(OUT)
    remote.append(OUT, 14, b"line 3\n")
    remote.put(IMG, b"png", replace=False)
    assert remote.listing(f"{RUN}/files/") == {OUT: 21, IMG: 3}
    # nothing learnt from that listing makes the file look shorter
    assert remote.read(OUT) == b"line 1\nline 2\nline 3\n"
    assert remote.append(OUT, 21, b"line 4\n") == 28


def test_projects_runs_and_sweep_ids(remote):
    assert remote.projects_runs() == []
    assert remote.sweep_ids() == []
    _populate(remote)
    for r in (remote, reopen(remote)):
        assert sorted(r.projects_runs()) == [("p", "abc"), ("p", "abc2"), ("q", "r1")]
        assert r.sweep_ids() == ["sw1"]


def test_a_run_known_only_by_its_segments_is_listed(remote):
    append_all(remote, "projects/p/runs/seg/run.jsonl", [b"a", b"b"])
    append_all(remote, "sweeps/s2/journal.jsonl", [b"a", b"b"])
    assert remote.projects_runs() == [("p", "seg")]
    assert remote.sweep_ids() == ["s2"]


# -- hostile paths ----------------------------------------------------------------------------------
HOSTILE = [
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "a//b",
    "a/./b",
    "./a",
    "a/",
    "",
    "a\\b",
    "..\\x",
    "a\x00b",
    "projects/p/runs/../run.jsonl",  # an append file's name, by kind_of
    "projects/p/runs/abc/../../../../x",
    "sweeps/../../journal.jsonl",
]


def test_hostile_paths_are_refused(remote, tmp_path):
    ops = {
        "read": lambda rel: remote.read(rel),
        "read range": lambda rel: remote.read(rel, 0, 10),
        "put": lambda rel: remote.put(rel, b"pwned", replace=False),
        "put replace": lambda rel: remote.put(rel, b"pwned", replace=True),
        "append": lambda rel: remote.append(rel, 0, b"pwned"),
        "size": lambda rel: remote.size(rel),
        "delete": lambda rel: remote.delete(rel),
    }
    accepted = {}
    for rel in HOSTILE:
        for name, op in ops.items():
            try:
                got = op(rel)
            except BadPath:
                continue
            except Exception as e:
                got = e
            accepted[(rel, name)] = got
    assert not accepted
    assert not (tmp_path / "x").exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes() == b"pwned"]
    assert store_files(remote.listing("")) == {}


def test_bad_path_is_a_remote_error():
    assert issubclass(BadPath, RemoteError)
    assert B.check_rel(LOG) == LOG


# -- directories ------------------------------------------------------------------------------------
def test_a_directory_remote_is_a_store(dir_remote):
    root = dir_remote.root
    assert not root.exists()
    dir_remote.append(LOG, 0, b'{"t": 1}\n')
    assert (root / L.FORMAT_FILE).is_file()
    assert Store(root).format_version() == (fmt.MAJOR, fmt.MINOR)
    assert [(r.project, r.id) for r in Store(root).iter_runs()] == [("p", "abc")]
    assert (root / LOG).read_bytes() == b'{"t": 1}\n'
    assert not (root / RUN / L.SEGMENTS_DIR).exists()  # a local store never has segments


def test_a_directory_remote_in_an_existing_store_keeps_it(dir_remote, tmp_path):
    st = Store(dir_remote.root)
    st.ensure()
    before = (dir_remote.root / L.FORMAT_FILE).read_bytes()
    dir_remote.put(IMG, b"x", replace=False)
    assert (dir_remote.root / L.FORMAT_FILE).read_bytes() == before


@pytest.mark.parametrize("partial", [0, 1, 500, 999, 1000], ids=lambda n: f"have{n}")
@pytest.mark.parametrize("source", ["bytes", "path"])
def test_an_interrupted_immutable_upload_is_completed(dir_remote, tmp_path, partial, source):
    data = random.Random(9).randbytes(1000)
    dir_remote.put(CONF, b"x", replace=True)  # the remote exists already
    target = dir_remote.root / IMG
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp-runstore-0")
    assert L.is_tmp(staging.name)
    staging.write_bytes(data[:partial])
    assert IMG not in dir_remote.listing("")
    src: bytes | Path = data
    if source == "path":
        src = tmp_path / "img.png"
        src.write_bytes(data)
    assert dir_remote.put(IMG, src, replace=False) is True
    assert target.read_bytes() == data
    assert dir_remote.read(IMG) == data
    assert not staging.exists()
    assert dir_remote.listing(f"{RUN}/files/media/") == {IMG: 1000}


def test_a_stale_staging_file_longer_than_the_upload_is_not_kept(dir_remote):
    dir_remote.put(CONF, b"x", replace=True)
    target = dir_remote.root / IMG
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp-runstore-0")
    staging.write_bytes(b"Z" * 5000)
    assert dir_remote.put(IMG, b"short", replace=False) is True
    assert dir_remote.read(IMG) == b"short"
    assert not staging.exists()


def test_append_does_not_follow_a_symlink(dir_remote, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    dir_remote.put(CONF, b"x", replace=True)
    (dir_remote.root / LOG).symlink_to(victim)
    for offset in (0, len(b"precious")):
        with pytest.raises(OSError) as e:
            dir_remote.append(LOG, offset, b"pwned")
        assert not isinstance(e.value, Conflict)
    with pytest.raises(OSError):
        dir_remote.read(LOG)
    assert victim.read_bytes() == b"precious"


@pytest.mark.parametrize("source", ["bytes", "path"])
def test_an_immutable_upload_does_not_follow_a_symlinked_staging_file(dir_remote, tmp_path, source):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    dir_remote.put(CONF, b"x", replace=True)
    target = dir_remote.root / IMG
    target.parent.mkdir(parents=True, exist_ok=True)
    target.with_name(f".{target.name}.tmp-runstore-0").symlink_to(victim)
    data = b"uploaded image bytes, longer than the victim"
    src: bytes | Path = data
    if source == "path":
        src = tmp_path / "img.png"
        src.write_bytes(data)
    try:
        dir_remote.put(IMG, src, replace=False)
    except OSError:
        pass  # refusing is fine; writing through the link is not
    assert victim.read_bytes() == b"precious"


def test_put_create_only_keeps_a_concurrent_copy(dir_remote):
    """A file that appears between the existence check and the link (another uploader) is kept."""
    target = dir_remote.root / IMG
    dir_remote.put(CONF, b"x", replace=True)
    real_link = os.link

    def racing_link(src, dst, *a, **kw):
        if Path(dst) == target:
            target.write_bytes(b"theirs")
        return real_link(src, dst, *a, **kw)

    mp = pytest.MonkeyPatch()
    mp.setattr(os, "link", racing_link)
    try:
        assert dir_remote.put(IMG, b"mine", replace=False) is False
    finally:
        mp.undo()
    assert dir_remote.read(IMG) == b"theirs"
    assert not [p for p in target.parent.iterdir() if L.is_tmp(p.name)]


def test_open_remote_of_a_plain_path_is_a_directory(tmp_path):
    r = open_remote(str(tmp_path / "plain"))
    assert isinstance(r, DirRemote)
    assert r.root == tmp_path / "plain"
    r2 = open_remote(f"file://{tmp_path}/with%20space")
    assert isinstance(r2, DirRemote)
    assert r2.root == tmp_path / "with space"
    assert r.key != r2.key and r.key == DirRemote(tmp_path / "plain").key


# -- object stores ----------------------------------------------------------------------------------
def test_an_object_remote_writes_format_json_first(obj_remote):
    fs, path = obj_remote.fs, f"{obj_remote.root}/{L.FORMAT_FILE}"
    assert not fs.exists(path)
    obj_remote.append(LOG, 0, b"x")
    data = orjson.loads(fs.cat_file(path))
    assert data["format"] == fmt.VERSION
    assert data["written_by"].startswith("runstore ")
    assert obj_remote.read(L.FORMAT_FILE) == fs.cat_file(path)
    assert not fs.exists(f"{obj_remote.root}/{RUN}/{L.SEGMENTS_DIR}/{L.FORMAT_FILE}")


def test_an_object_remote_writes_format_json_on_put(obj_remote):
    obj_remote.put(IMG, b"x", replace=False)
    assert orjson.loads(obj_remote.read(L.FORMAT_FILE))["format"] == fmt.VERSION


def test_an_object_remote_of_a_newer_format_is_refused(obj_remote):
    newer = orjson.dumps({"format": f"{fmt.MAJOR + 1}.0"})
    raw_write(obj_remote, L.FORMAT_FILE, newer)
    with pytest.raises(Exception, match=f"format {fmt.MAJOR + 1}"):
        obj_remote.append(LOG, 0, b"x")
    assert obj_remote.size(LOG) is None
    assert obj_remote.read(L.FORMAT_FILE) == newer


def test_segments_are_where_the_format_says(obj_remote):
    append_all(obj_remote, OUT, [b"ab", b"cde"])
    append_all(obj_remote, JOURNAL, [b"j"])
    keys = raw_keys(obj_remote)
    assert f"{RUN}/segments/files/output.log/{0:020d}" in keys
    assert f"{RUN}/segments/files/output.log/{2:020d}" in keys
    assert f"sweeps/sw1/segments/journal.jsonl/{0:020d}" in keys
    assert obj_remote.fs.cat_file(f"{obj_remote.root}/{L.segment_path(OUT, 2)}") == b"cde"


def test_missing_backend_names_the_extra():
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed")
    with pytest.raises(MissingBackend) as e:
        open_remote("gs://x/y")
    assert "runstore[gcs]" in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "url,secret",
    [
        ("s3://AKIA:secret@bucket/x", "secret"),
        ("s3://AKIAONLY@bucket/x", "AKIAONLY"),
        ("memory://user:hunter2@bucket/x", "hunter2"),
        ("memory://bucket/x?token=hunter2", "hunter2"),
    ],
)
def test_credentials_are_stripped_from_the_url(url, secret):
    r = open_remote(url)
    assert secret not in r.url
    assert secret not in repr(r)
    assert r.url == strip_credentials(url)
    assert r.key == ObjectRemote(strip_credentials(url)).key


def test_credentials_never_reach_error_messages():
    with pytest.raises(RemoteError) as e:
        open_remote("https://user:hunter2@no-such-host.invalid/runs").listing("")
    assert "hunter2" not in str(e.value)
    with pytest.raises(RemoteError) as e:
        open_remote("ftp+weird://user:hunter2@example.com/runs")
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/x",
        "HTTP://api:hunter2@127.0.0.1:1",
        "https://127.0.0.1:1/runs/",
        "http://no-such-host.invalid/runs",
    ],
)
def test_unreachable_http_urls_are_one_line_remote_errors(url, monkeypatch):
    """An http(s) URL is a runstore server; one that does not answer fails at its first request (after
    the retries, shortened here), in one line without the URL's password."""
    from runstore.remotes import http

    monkeypatch.setattr(http, "RETRY_DELAYS", (0.01,))
    r = open_remote(url)
    assert isinstance(r, HttpRemote)
    assert r.url == strip_credentials(url.strip())
    for op in (lambda: r.listing(""), lambda: r.append(LOG, 0, b"x"), lambda: r.read(LOG)):
        with pytest.raises(RemoteError) as e:
            op()
        assert type(e.value) is RemoteError
        assert "\n" not in str(e.value) and "hunter2" not in str(e.value)
        assert strip_credentials(url).split("://")[1].split("/")[0] in str(e.value)
    r.close()


@pytest.mark.parametrize("url", ["", "   ", None])
def test_no_url_is_a_remote_error(url):
    with pytest.raises(RemoteError):
        open_remote(url)


def test_a_registered_scheme_wins():
    from runstore.remotes import registry

    made: list[str] = []
    registry.register("Fake", lambda url: made.append(url) or DirRemote("/nonexistent"))
    try:
        assert isinstance(open_remote("fake://somewhere"), DirRemote)
        assert made == ["fake://somewhere"]
    finally:
        registry._FACTORIES.pop("fake", None)


# -- property: any appends, any compactions, the concatenation --------------------------------------
OPS = st.lists(
    st.one_of(
        st.binary(min_size=0, max_size=64).map(lambda b: ("append", b)),
        st.just(("seal", b"")),
        st.just(("reopen", b"")),
    ),
    max_size=40,
)


@pytest.mark.parametrize("kind", ["dir", "memory"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, ranges=st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 3000)), max_size=5))
def test_any_appends_and_compactions_read_back_their_concatenation(kind, ops, ranges, tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(O, "MIN_SEGMENTS", 3)  # let the automatic compaction happen too
        mp.setattr(O, "MAX_SEGMENTS", 7)
        if kind == "dir":
            remote: Any = DirRemote(tmp_path / uuid.uuid4().hex)
        else:
            remote = open_remote(f"memory://prop-{uuid.uuid4().hex}/r")
        want = b""
        for op, data in ops:
            if op == "append":
                assert remote.append(HIST, len(want), data) == len(want) + len(data)
                want += data
            elif op == "seal":
                remote.seal(HIST)
            else:
                remote = reopen(remote)
        if not want:
            assert remote.size(HIST) in (None, 0)
            return
        for r in (remote, reopen(remote)):
            assert r.size(HIST) == len(want)
            assert r.read(HIST) == want
            assert r.listing(f"{RUN}/") == {HIST: len(want)}
            for a, b in ranges:
                assert r.read(HIST, a, b) == want[a:b]
        remote.seal(HIST)
        assert reopen(remote).read(HIST) == want
        if isinstance(remote, ObjectRemote):
            assert segment_keys(remote, HIST) == []
