"""Real servers for the remote tests (no tests here).

`runstore_server`: `runstore server` itself in a subprocess for the whole session, on a free port of
127.0.0.1, with an admin token (`url`, `token`, `store`, `env()`). `RunstoreServer.start(dir)` makes
one of a test's own (the SIGKILL test kills and restarts it on the same port and store).

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
import threading
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


class ThreadServer:
    """uvicorn serving `app` from a thread of this process, with runstore's protocol."""

    def __init__(self, app: Any, header_timeout: float = 30.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        import uvicorn

        from runstore.server.asgi import protocol

        cfg = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            http=protocol(header_timeout),
            timeout_keep_alive=30,
            lifespan="off",
        )
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


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


# -- runstore server -----------------------------------------------------------------------------------
def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["RUNSTORE_DAEMON"] = "0"
    return env


class RunstoreServer:
    """`python -m runstore server --dir DIR --port PORT` in a subprocess, with a token made first."""

    def __init__(self, dir: str, port: int, token: str, log: Any, tls: tuple[str, str] | None = None) -> None:
        self.dir = dir
        self.port = port
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.token = token
        self.store = os.path.join(dir, ".wandb")  # `--dir D` serves D/.wandb when D is not a store
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, dir: str, scope: str = "admin", tls: tuple[str, str] | None = None) -> RunstoreServer:
        """A new server on a free port; `tls`: (certificate, key) PEM files, for https."""
        os.makedirs(dir, exist_ok=True)
        token = create_token(dir, scope=scope)
        last: Exception | None = None
        for _ in range(3):  # the free port may be taken between finding and binding it
            server = cls(dir, free_port(), token, tempfile.TemporaryFile(), tls)
            try:
                server.run()
                return server
            except RuntimeError as e:
                server.stop()
                last = e
        raise RuntimeError(f"cannot start runstore server: {last}")

    def env(self) -> dict[str, str]:
        """The variables that let a runstore process (this one or a child) reach this server."""
        return {"RUNSTORE_API_KEY": self.token}

    def run(self) -> None:
        """Start the server process (again, on the same port and store) and wait for /healthz."""
        argv = [sys.executable, "-m", "runstore", "server", "--dir", self.dir, "--port", str(self.port)]
        if self.tls:
            argv += ["--ssl-certfile", self.tls[0], "--ssl-keyfile", self.tls[1]]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=_server_env(),
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                tail = self.log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"runstore server exited with {self.proc.returncode}: {tail}")
            try:
                import ssl

                unverified = ssl._create_unverified_context()  # only "is it up": the tests check TLS
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1, context=unverified) as r:
                    r.read()
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"runstore server at {self.url} did not answer within {STARTUP_TIMEOUT:.0f}s"
                )
            time.sleep(0.05)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
        try:
            self.log.close()
        except Exception:
            pass

    def token_for(self, scope: str = "write", project: str | None = None) -> str:
        return create_token(self.dir, scope=scope, project=project)

    def clean(self) -> None:
        """Remove every file a client wrote (the store itself and its tokens stay): a test that shares
        the session's server starts from an empty store."""
        import shutil

        keep = {"format.json", ".gitignore", "server"}
        for name in os.listdir(self.store):
            if name in keep:
                continue
            path = os.path.join(self.store, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def create_token(dir: str, scope: str = "write", project: str | None = None) -> str:
    """`runstore server token create --json` for the store at `dir` (created when missing)."""
    import json

    argv = [sys.executable, "-m", "runstore", "server", "token", "create", "--name", f"test-{scope}"]
    argv += ["--scope", scope, "--dir", dir, "--json"] + (["--project", project] if project else [])
    p = subprocess.run(argv, capture_output=True, text=True, env=_server_env(), timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"token create failed: {p.stderr[-2000:]}")
    return str(json.loads(p.stdout)["token"])


@pytest.fixture(scope="session")
def runstore_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunstoreServer]:
    """`runstore server` for the session, with an admin token (`token`); tests clean() it first."""
    pytest.importorskip("uvicorn", reason="runstore[server] is not installed")
    pytest.importorskip("httpx", reason="runstore[server] is not installed")
    server = RunstoreServer.start(str(tmp_path_factory.mktemp("runstore-server")))
    try:
        yield server
    finally:
        server.stop()


__all__ = ["MotoS3", "moto_s3", "free_port", "RunstoreServer", "runstore_server", "create_token"]
