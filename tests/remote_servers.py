"""Real servers for the remote tests (no tests here).

`moto_s3`: moto's standalone S3 server in a subprocess for the whole session. Import the fixture into a
test module with `from remote_servers import moto_s3  # noqa: F401` (pytest puts tests/ on sys.path,
as for `media_util`).

How the endpoint reaches the code under test: botocore (under s3fs/aiobotocore) reads
`AWS_ENDPOINT_URL` from the environment whenever a client is created, so setting it in this process
is enough for `ObjectRemote("s3://bucket/x")`. `FSSPEC_S3_ENDPOINT_URL` is read by fsspec's config
only when fsspec is imported, so it does nothing in this process (fsspec is imported long before the
fixture runs) but works for subprocesses started with `env()`, where it is kept for belt and braces.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

STARTUP_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoS3:
    """A running moto S3 server: `endpoint`, `env()` and `bucket()`."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc = proc
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._fs: Any = None

    def env(self) -> dict[str, str]:
        """The variables that point botocore/s3fs (in this process or a child) at this server, with
        fake credentials and nothing read from the user's ~/.aws."""
        missing = os.path.join(tempfile.gettempdir(), f"runstore-no-aws-config-{uuid.uuid4().hex}")
        return {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint,  # honoured by botocore: what actually routes s3fs here
            "FSSPEC_S3_ENDPOINT_URL": self.endpoint,  # fsspec config: only read when fsspec is imported
            "AWS_CONFIG_FILE": missing,
            "AWS_SHARED_CREDENTIALS_FILE": missing,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def fs(self) -> Any:
        """An s3fs filesystem of its own on this server (explicit endpoint and keys, not cached)."""
        if self._fs is None:
            import s3fs

            self._fs = s3fs.S3FileSystem(
                key="testing",
                secret="testing",
                endpoint_url=self.endpoint,
                skip_instance_cache=True,
                use_listings_cache=False,
            )
        return self._fs

    def bucket(self, prefix: str = "runstore") -> str:
        """Create a new, empty bucket and return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:16]}"
        self.fs().mkdir(name)
        return name


def _wait_until_up(proc: subprocess.Popen[bytes], endpoint: str, log: Any) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(
                f"moto server exited with {proc.returncode}: {log.read().decode(errors='replace')[-2000:]}"
            )
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1) as r:
                r.read()
            return
        except urllib.error.HTTPError:
            return  # it answers HTTP: good enough
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"moto server at {endpoint} did not answer within {STARTUP_TIMEOUT:.0f}s")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _clear_s3fs_cache() -> None:
    try:
        import s3fs
    except ImportError:
        return
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """moto's S3 server for the session; this process's environment points at it while it lives."""
    pytest.importorskip("moto", reason="moto[server] is not installed")
    pytest.importorskip("s3fs", reason="s3fs (runstore[s3]) is not installed")
    last: Exception | None = None
    for _ in range(3):  # the free port may be taken between finding and binding it
        port = free_port()
        log = tempfile.TemporaryFile()
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = MotoS3(proc, port)
        try:
            _wait_until_up(proc, server.endpoint, log)
            break
        except RuntimeError as e:
            _stop(proc)
            log.close()
            last = e
    else:
        raise RuntimeError(f"cannot start moto: {last}")
    try:
        with pytest.MonkeyPatch.context() as mp:
            for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
                mp.delenv(k, raising=False)
            for k, v in server.env().items():
                mp.setenv(k, v)
            _clear_s3fs_cache()  # no filesystem made before the env pointed here
            try:
                yield server
            finally:
                _clear_s3fs_cache()  # none pointing at a dead server after the session
    finally:
        _stop(proc)
        log.close()


__all__ = ["MotoS3", "moto_s3", "free_port"]
