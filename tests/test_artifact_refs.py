"""Reference entries (`Artifact.add_reference`): file://, http(s):// and s3:// (moto's server) tracked by
URI and digest in wandb's manifest, fetched on download, and a changed reference refused by name."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_servers import moto_s3  # noqa: F401

import runstore
from runstore.sdk.artifact_refs import ReferenceChanged
from runstore.store.store import Store


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _objects(tmp_path: Path) -> list[Path]:
    return [p for p in (tmp_path / ".wandb" / "artifacts" / "objects").rglob("*") if p.is_file()]


def _manifest(tmp_path: Path, art: Any) -> dict[str, Any]:
    path = (
        tmp_path
        / f".wandb/artifacts/projects/{art.project}/manifests/{art.collection_name}/{art.digest}.json"
    )
    return dict(json.loads(path.read_text()))


def test_file_references_keep_bytes_where_they_are(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_bytes(b"1,2\n")
    (data / "sub" / "b.csv").write_bytes(b"3,4\n")
    run = runstore.init(project="p")
    art = runstore.Artifact("ds", "dataset")
    entries = art.add_reference(data.as_uri(), name="raw")
    assert [e.path for e in entries] == ["raw/a.csv", "raw/sub/b.csv"]
    single = art.add_reference((data / "a.csv").as_uri())
    assert single[0].path == "a.csv" and single[0].digest == _b64md5(b"1,2\n")
    art.add_reference((data / "sub" / "b.csv").as_uri(), name="nocheck.csv", checksum=False)
    run.log_artifact(art)
    run.finish()
    assert _objects(tmp_path) == []  # nothing copied into the store
    contents = _manifest(tmp_path, art)["contents"]
    assert contents["raw/a.csv"] == {"digest": _b64md5(b"1,2\n"), "ref": (data / "a.csv").as_uri(), "size": 4}
    assert contents["nocheck.csv"]["digest"] == (data / "sub" / "b.csv").as_uri()
    # wandb's artifact digest covers reference entries like any other
    h = hashlib.md5(b"wandb-artifact-manifest-v1\n")
    for p in sorted(contents):
        h.update(f"{p}:{contents[p]['digest']}\n".encode())
    assert art.digest == h.hexdigest()

    got = runstore.Api().artifact("p/ds:latest")
    assert got.get_entry("raw/a.csv").ref == (data / "a.csv").as_uri()
    root = Path(got.download(tmp_path / "dl"))
    assert (root / "raw" / "sub" / "b.csv").read_bytes() == b"3,4\n"
    got.verify(root)

    (data / "a.csv").write_bytes(b"9,9\n")  # same size, other bytes: the reference changed
    with pytest.raises(ReferenceChanged, match="a.csv changed since the artifact was logged"):
        got.download(tmp_path / "dl2")
    assert not (tmp_path / "dl2" / "raw" / "a.csv").exists()
    (data / "a.csv").unlink()
    with pytest.raises(FileNotFoundError):
        got.download(tmp_path / "dl3")
    got.download(tmp_path / "dl4", allow_missing_references=True)
    assert not (tmp_path / "dl4" / "raw" / "a.csv").exists() and (tmp_path / "dl4" / "nocheck.csv").exists()


def test_reference_bad_input(tmp_path: Path) -> None:
    art = runstore.Artifact("r", "dataset")
    with pytest.raises(ValueError, match="takes a URI"):
        art.add_reference(str(tmp_path))
    with pytest.raises(ValueError, match="no such file or directory"):
        art.add_reference((tmp_path / "missing").as_uri())
    (tmp_path / "d").mkdir()
    for i in range(3):
        (tmp_path / "d" / f"{i}.txt").write_text(str(i))
    with pytest.raises(ValueError, match="more than max_objects=2"):
        art.add_reference((tmp_path / "d").as_uri(), max_objects=2)
    with pytest.raises(ValueError, match="max_objects must be a positive int"):
        art.add_reference((tmp_path / "d").as_uri(), max_objects=0)
    assert len(art.add_reference((tmp_path / "d").as_uri(), max_objects=3)) == 3


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, tuple[bytes, str | None]] = {}

    def _send(self, body: bool) -> None:
        item = self.files.get(self.path)
        if item is None:
            self.send_error(404)
            return
        data, etag = item
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        if etag:
            self.send_header("ETag", f'"{etag}"')
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's names)
        self._send(False)

    def do_GET(self) -> None:  # noqa: N802
        self._send(True)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_files() -> Iterator[tuple[str, dict[str, tuple[bytes, str | None]]]]:
    files: dict[str, tuple[bytes, str | None]] = {}
    handler = type("H", (_Handler,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


def test_http_references_use_the_etag(tmp_path: Path, http_files: Any) -> None:
    base, files = http_files
    files["/m/model.bin"] = (b"weights-1", "v1")
    files["/plain.txt"] = (b"no etag", None)
    run = runstore.init(project="p")
    art = runstore.Artifact("web", "model")
    [e] = art.add_reference(f"{base}/m/model.bin")
    assert (e.path, e.digest, e.size, e.extra) == ("model.bin", "v1", 9, {"etag": "v1"})
    [plain] = art.add_reference(f"{base}/plain.txt", name="p.txt")
    assert plain.digest == f"{base}/plain.txt"
    run.log_artifact(art)
    run.finish()
    root = Path(art.download(tmp_path / "dl"))
    assert (root / "model.bin").read_bytes() == b"weights-1" and (root / "p.txt").read_bytes() == b"no etag"
    files["/m/model.bin"] = (b"weights-2", "v2")
    with pytest.raises(ReferenceChanged, match="model.bin changed"):
        art.download(tmp_path / "dl2")
    del files["/m/model.bin"]  # gone from the server: missing, unless missing references are allowed
    with pytest.raises(FileNotFoundError):
        art.download(tmp_path / "dl3")
    kept = Path(art.download(tmp_path / "dl4", allow_missing_references=True))
    assert not (kept / "model.bin").exists() and (kept / "p.txt").read_bytes() == b"no etag"
    with pytest.raises(ValueError, match="did not answer a HEAD request"):
        runstore.Artifact("x", "model").add_reference(f"{base}/missing")


def test_s3_references_by_etag(tmp_path: Path, moto_s3: Any) -> None:  # noqa: F811
    fs = moto_s3.fs()
    bucket = moto_s3.bucket("refs")
    fs.pipe(f"{bucket}/train/x.npy", b"x" * 100)
    fs.pipe(f"{bucket}/train/deep/y.npy", b"yy")
    run = runstore.init(project="p")
    art = runstore.Artifact("s3ds", "dataset")
    entries = art.add_reference(f"s3://{bucket}/train")
    assert [e.path for e in entries] == ["deep/y.npy", "x.npy"]
    x = art.get_entry("x.npy")
    # S3's ETag of a single-part upload is the hex MD5 of the bytes
    assert x.digest == hashlib.md5(b"x" * 100).hexdigest() and x.ref == f"s3://{bucket}/train/x.npy"
    with pytest.raises(ValueError, match="more than max_objects=1"):
        runstore.Artifact("s", "dataset").add_reference(f"s3://{bucket}/train", max_objects=1)
    run.log_artifact(art)
    run.finish()
    assert _objects(tmp_path) == []
    got = runstore.Api().artifact("p/s3ds:v0")
    root = Path(got.download(tmp_path / "dl"))
    assert (root / "deep" / "y.npy").read_bytes() == b"yy"
    fs.pipe(f"{bucket}/train/x.npy", b"z" * 100)
    with pytest.raises(ReferenceChanged, match="x.npy changed"):
        got.download(tmp_path / "dl2")
    assert Store(tmp_path / ".wandb").root.is_dir()


def test_incremental_keeps_the_references_of_the_latest_version(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("ref")
    (tmp_path / "f.txt").write_text("file")
    run = runstore.init(project="p")
    a = runstore.Artifact("inc", "dataset")
    a.add_reference((tmp_path / "r.txt").as_uri())
    run.log_artifact(a)
    b = runstore.Artifact("inc", "dataset", incremental=True)
    b.add_file(str(tmp_path / "f.txt"))
    run.log_artifact(b)
    run.finish()
    got = runstore.Api().artifact("p/inc:v1")
    assert sorted(e.path for e in got.files()) == ["f.txt", "r.txt"]
    assert got.get_entry("r.txt").ref == (tmp_path / "r.txt").as_uri()
    os.chdir(tmp_path)
    assert (Path(got.download()) / "r.txt").read_text() == "ref"
