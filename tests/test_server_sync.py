"""Syncing to a real `runstore server` over HTTP (runstore/remotes/http.py), end to end: runs logged with
`runstore.init`, then `runstore sync --remote http://...`, `runstore pull`, the daemon's streaming,
`runstore login`, auth failures, and 5 streaming clients surviving a SIGKILLed server.

The session's server (tests/remote_servers.py `runstore_server`) is cleaned before each test; the SIGKILL
test starts a server of its own.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PY, run_cli
from remote_servers import RunstoreServer, runstore_server  # noqa: F401
from test_sync_daemon import Reaper, reaper, start_training, wait_for  # noqa: F401

import runstore
from runstore.store import layout as L
from runstore.store.store import Store

pytestmark = pytest.mark.timeout(60)
P = "srv"


# -- helpers ------------------------------------------------------------------------------------------
def sent_files(root: Path) -> dict[str, bytes]:
    """Every file of a store that a sync sends (runs, sweeps, artifacts; derived files never move)."""
    out = {}
    for base in (L.PROJECTS_DIR, L.SWEEPS_DIR, L.ARTIFACTS_DIR):
        for d, _, names in os.walk(root / base):
            for name in names:
                rel = Path(d, name).relative_to(root).as_posix()
                if L.is_tmp(name) or L.kind_of(rel) in (None, L.DERIVED):
                    continue
                out[rel] = Path(d, name).read_bytes()
    return out


def differences(local: Path, remote: Path) -> list[str]:
    mine, theirs = sent_files(local), sent_files(remote)
    out = [f"missing at the server: {r}" for r in sorted(mine.keys() - theirs.keys())]
    out += [f"extra at the server: {r}" for r in sorted(theirs.keys() - mine.keys())]
    out += [
        f"{r}: {len(mine[r])} bytes here, {len(theirs[r])} at the server"
        for r in sorted(mine.keys() & theirs.keys())
        if mine[r] != theirs[r]
    ]
    return out


def log_runs(tmp_path: Path, n: int = 2) -> list[str]:
    """`n` finished runs with history, a saved file and (the first) an artifact; returns their ids."""
    ids = []
    for i in range(n):
        run = runstore.init(project=P, config={"i": i}, reinit="finish_previous")
        for step in range(50):
            run.log({"loss": 1.0 / (step + 1), "i": i})
        (Path(run.dir) / "notes.txt").write_text(f"run {i}\n")
        if i == 0:
            src = tmp_path / "data"
            src.mkdir(exist_ok=True)
            (src / "a.bin").write_bytes(os.urandom(5000))
            art = runstore.Artifact("data", "dataset")
            art.add_dir(os.fspath(src))
            run.log_artifact(art, aliases=["best"])
        ids.append(run.id)
        run.finish(quiet=True)
    return ids


def one_line(err: str) -> str:
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def server(runstore_server: RunstoreServer, monkeypatch: pytest.MonkeyPatch) -> RunstoreServer:  # noqa: F811
    runstore_server.clean()
    # no credentials file of the developer's: tests that log in point this at their own directory
    monkeypatch.setenv("XDG_CONFIG_HOME", os.fspath(Path(runstore_server.dir) / "no-config"))
    return runstore_server


# -- sync, pull ---------------------------------------------------------------------------------------
def test_sync_all_lands_byte_identical_then_sends_nothing_and_pulls_back(
    server: RunstoreServer, tmp_path: Path, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = log_runs(tmp_path)
    local = tmp_path / ".wandb"
    monkeypatch.setenv("RUNSTORE_API_KEY", server.token)
    code, out, err = run_cli(capfd, "sync", "--all", "--remote", server.url)
    assert code == 0, err
    assert not differences(local, Path(server.store)), differences(local, Path(server.store))
    art_log = L.artifact_log_rel(P)
    assert (Path(server.store) / art_log).read_bytes() == (local / art_log).read_bytes()  # artifacts travel

    # the server's store is a store: `runstore ls --dir` reads it
    code, out, err = run_cli(capfd, "ls", "--dir", server.store, "--project", P)
    assert code == 0, err
    assert all(i in out for i in ids), out

    # a second sync sends nothing
    code, out, err = run_cli(capfd, "sync", "--all", "--remote", server.url, "--json")
    assert code == 0, err
    import json

    assert json.loads(out)["bytes"] == 0

    # pull back into a fresh store: the same bytes
    fresh = tmp_path / "fresh" / ".wandb"
    code, out, err = run_cli(
        capfd,
        "pull",
        *[f"{P}/{i}" for i in ids],
        f"artifacts:{P}",
        "--remote",
        server.url,
        "--dir",
        os.fspath(fresh),
    )
    assert code == 0, err + out
    assert not differences(local, fresh), differences(local, fresh)
    # `ls --remote` lists the server's runs
    code, out, err = run_cli(capfd, "ls", "--remote", server.url, "--project", P)
    assert code == 0, err
    assert all(i in out for i in ids), out


def test_wandb_base_url_names_the_server_when_no_remote_is_set(
    server: RunstoreServer, tmp_path: Path, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_runs(tmp_path, 1)
    monkeypatch.setenv("WANDB_API_KEY", server.token)  # a runstore token: sent
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    code, out, err = run_cli(capfd, "sync", "--all")
    assert code == 0, err
    assert server.url in out
    assert not differences(tmp_path / ".wandb", Path(server.store))
    # wandb's cloud is never taken for a runstore server
    monkeypatch.setenv("WANDB_BASE_URL", "https://api.wandb.ai")
    code, out, err = run_cli(capfd, "sync", "--all")
    assert code == 1 and "no remote" in one_line(err)


# -- auth ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["no token", "bad token", "read-only token", "wandb key"])
def test_auth_failures_are_one_line_and_exit_1(
    how: str, server: RunstoreServer, tmp_path: Path, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_runs(tmp_path)
    secret = {
        "no token": None,
        "bad token": server.token[:-4] + "XXXX",
        "read-only token": server.token_for("read"),
        "wandb key": "0123456789abcdef0123456789abcdef01234567",
    }[how]
    if how == "wandb key":
        monkeypatch.setenv("WANDB_API_KEY", secret or "")
    elif secret:
        monkeypatch.setenv("RUNSTORE_API_KEY", secret)
    code, out, err = run_cli(capfd, "sync", "--all", "--remote", server.url)
    assert code == 1, out + err
    line = one_line(err)
    assert secret is None or secret not in out + err
    if how == "read-only token":
        assert "scope" in line, line
    else:
        assert f"runstore login {server.url}" in line and "RUNSTORE_API_KEY" in line, line
    assert not list(Path(server.store).glob(f"{L.PROJECTS_DIR}/*/*/*/*"))  # nothing landed
    # reading with a refused token is one line too
    code, out, err = run_cli(capfd, "pull", "x", "--remote", server.url)
    if how != "read-only token":
        assert code == 1 and "runstore login" in one_line(err)


def test_login_stores_the_token_0600_and_sync_uses_it(
    server: RunstoreServer, tmp_path: Path, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", os.fspath(cfg))
    creds = cfg / "runstore" / "credentials.json"
    # a refused token: one line, nothing stored
    code, out, err = run_cli(capfd, "login", server.url, "--token", "rs_nope_nope")
    assert code == 1 and "refused" in one_line(err) and "rs_nope_nope" not in err + out
    assert not creds.exists()
    # a good one, piped on stdin (the prompt's path when stdin is not a terminal)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["XDG_CONFIG_HOME"] = os.fspath(cfg)
    p = subprocess.run(
        [PY, "-m", "runstore", "login", server.url + "/"],
        input=server.token + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert p.returncode == 0, p.stderr
    assert server.token not in p.stdout + p.stderr
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    import json

    assert json.loads(creds.read_text()) == {server.url: server.token}
    # a later sync finds it with no variable set
    ids = log_runs(tmp_path, 1)
    code, out, err = run_cli(capfd, "sync", "--all", "--remote", server.url)
    assert code == 0, err
    assert (Path(server.store) / L.PROJECTS_DIR / P / L.RUNS_DIR / ids[0]).is_dir()


# -- the daemon ---------------------------------------------------------------------------------------
def client_env(store: Path, server: RunstoreServer, **extra: str) -> dict[str, str]:
    return {"RUNSTORE_REMOTE": server.url, **server.env(), "RUNSTORE_DAEMON": "1", **extra}


def test_the_daemon_streams_a_live_run_to_the_server(
    server: RunstoreServer,
    tmp_path: Path,
    reaper: Reaper,  # noqa: F811
) -> None:
    store = reaper.store(tmp_path / "s" / ".wandb")
    store.parent.mkdir()
    gate = tmp_path / "gate"
    p, rid = start_training(reaper, store, 20, 0.02, **client_env(store, server, T_GATE=os.fspath(gate)))
    hist = Path(server.store) / L.PROJECTS_DIR / "p" / L.RUNS_DIR / rid / "history.jsonl"
    # rows arrive while the run still trains
    assert wait_for(lambda: hist.exists() and hist.stat().st_size > 0, 20), "nothing streamed"
    assert p.poll() is None
    gate.touch()
    p.communicate(timeout=30)
    assert p.returncode == 0
    assert wait_for(lambda: not differences(store, Path(server.store)), 20), differences(
        store, Path(server.store)
    )


# -- a server SIGKILLed under 5 streaming clients -------------------------------------------------------
@pytest.mark.timeout(90)
def test_five_clients_stream_through_a_sigkilled_server(tmp_path: Path, reaper: Reaper) -> None:  # noqa: F811
    server = RunstoreServer.start(os.fspath(tmp_path / "server"))
    try:
        gate = tmp_path / "gate"
        clients = []
        for i in range(5):
            store = reaper.store(tmp_path / f"c{i}" / ".wandb")
            store.parent.mkdir()
            env = client_env(
                store, server, T_GATE=os.fspath(gate), XDG_CONFIG_HOME=os.fspath(tmp_path / "cfg")
            )
            clients.append((store, *start_training(reaper, store, 20, 0.01, **env)))
        remote = Path(server.store)

        def streamed() -> bool:
            return all(
                (remote / L.PROJECTS_DIR / "p" / L.RUNS_DIR / rid / "history.jsonl").exists()
                for _, _, rid in clients
            )

        assert wait_for(streamed, 30), "the clients never reached the server"
        time.sleep(0.5)  # mid-stream: every client is appending
        server.kill9()
        time.sleep(0.5)  # the clients find it gone
        server.run()  # the same port, the same store
        time.sleep(1.0)
        gate.touch()
        for _, p, _ in clients:
            p.communicate(timeout=30)
            assert p.returncode == 0
        for store, _, rid in clients:
            run_dir = f"{L.PROJECTS_DIR}/p/{L.RUNS_DIR}/{rid}"

            def same(store: Path = store, run_dir: str = run_dir, rid: str = rid) -> bool:
                # every file of the run (the daemon sends the last ones, requirements.txt and the
                # console's tail, after the process ended: under load that takes a moment)
                logs_there = all((remote / run_dir / n).exists() for n in ("run.jsonl", "history.jsonl"))
                return logs_there and not [d for d in differences(store, remote) if rid in d]

            assert wait_for(same, 60), [d for d in differences(store, remote) if rid in d]
        assert len(Store(remote).projects()) == 1
    finally:
        server.stop()


# -- TLS ------------------------------------------------------------------------------------------------
def self_signed(tmp_path: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by itself (a private CA of one), and its key, as PEM files."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "runstore test")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return os.fspath(cert_path), os.fspath(key_path)


def test_https_is_verified_and_a_private_ca_is_one_variable_away(
    tmp_path: Path, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = self_signed(tmp_path)
    server = RunstoreServer.start(os.fspath(tmp_path / "server"), tls=(cert, key))
    try:
        assert server.url.startswith("https://")
        log_runs(tmp_path, 1)
        for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("RUNSTORE_API_KEY", server.token)
        code, out, err = run_cli(capfd, "sync", "--all", "--remote", server.url)
        line = one_line(err)
        assert code == 1 and "REQUESTS_CA_BUNDLE" in line and "SSL_CERT_FILE" in line, line
        for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
            monkeypatch.setenv(var, cert)
            code, out, err = run_cli(capfd, "sync", "--all", "--remote", server.url)
            assert code == 0, err
            monkeypatch.delenv(var)
        assert not differences(tmp_path / ".wandb", Path(server.store))
    finally:
        server.stop()


# -- the client's protocol, against a scripted server -------------------------------------------------
class Scripted:
    """An httpx transport that answers like a server holding one append file, and can lose the answer
    of the next append after doing it (the server wrote, the connection died)."""

    def __init__(self) -> None:
        self.data = b""
        self.urls: list[str] = []
        self.lose_next_answer = False

    def __call__(self, request: Any) -> Any:
        import httpx

        self.urls.append(str(request.url))
        path = request.url.path
        if path.endswith("/healthz"):
            return httpx.Response(200, json={"ok": True, "version": "x"})
        if request.method == "POST":
            offset = int(request.url.params["offset"])
            if offset != len(self.data):
                return httpx.Response(
                    409, json={"error": {"code": "conflict", "message": "c", "size": len(self.data)}}
                )
            self.data += request.content
            if self.lose_next_answer:
                self.lose_next_answer = False
                raise httpx.ReadError("connection reset by peer", request=request)
            return httpx.Response(200, json={"size": len(self.data)})
        if request.method == "GET" and "/api/v1/store/" in path:
            start = int(request.url.params.get("start", 0))
            end = int(request.url.params.get("end", len(self.data)))
            return httpx.Response(200, content=self.data[start:end])
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no"}})


def scripted_remote(url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Scripted]:
    import httpx

    from runstore.remotes import http

    monkeypatch.setattr(http, "RETRY_DELAYS", (0.01, 0.01))
    fake = Scripted()
    r = http.HttpRemote(url, token="rs_a_b")
    r._client = httpx.Client(transport=httpx.MockTransport(fake))
    return r, fake


def test_an_append_whose_answer_was_lost_is_not_sent_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    from runstore.remotes.base import Conflict

    r, fake = scripted_remote("http://server.test", monkeypatch)
    rel = "projects/p/runs/abc/run.jsonl"
    assert r.append(rel, 0, b"hello ") == 6
    fake.lose_next_answer = True
    monkeypatch.setattr(r, "_drop_connections", lambda: None)  # keep the scripted transport
    assert r.append(rel, 6, b"world") == 11  # retried: the 409's size is our own bytes
    assert fake.data == b"hello world"
    with pytest.raises(Conflict) as e:  # a real conflict stays one
        r.append(rel, 6, b"world")
    assert e.value.size == 11


def test_a_path_prefix_is_kept_behind_a_reverse_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    r, fake = scripted_remote("https://api:rs_secret@proxy.test/runstore/", monkeypatch)
    assert r.url == "https://proxy.test/runstore/" and "rs_secret" not in repr(r)
    r.append("projects/p/runs/a b/run.jsonl", 0, b"x")
    assert r.read("projects/p/runs/a b/run.jsonl") == b"x"
    assert fake.urls[0] == "https://proxy.test/runstore/healthz"
    assert all(u.startswith("https://proxy.test/runstore/") for u in fake.urls), fake.urls
    assert any("/runstore/api/v1/store/projects/p/runs/a%20b/run.jsonl" in u for u in fake.urls), fake.urls


# -- which token a request sends ----------------------------------------------------------------------
def test_token_resolution_order(tmp_path: Path) -> None:
    from runstore.base import credentials as C

    env: dict[str, str] = {"XDG_CONFIG_HOME": os.fspath(tmp_path / "cfg")}
    url = "https://host.test:8443/team/runstore"
    assert C.token_for(url, env) == (None, "")
    C.save("https://HOST.test:8443/team/", "rs_file_team", env)
    C.save("https://host.test:8443/team/runstore", "rs_file_longest", env)
    C.save("https://host.test:8443/other", "rs_file_other", env)
    where = os.fspath(C.credentials_path(env))
    assert C.token_for(url + "/", env) == ("rs_file_longest", where)
    assert C.token_for("https://host.test:8443/team/x", env) == ("rs_file_team", where)
    assert C.token_for("https://host.test:8443/", env) == (None, "")
    env["WANDB_API_KEY"] = "0123456789abcdef0123456789abcdef01234567"  # a wandb key: never sent
    assert C.token_for(url, env)[0] == "rs_file_longest"
    env["WANDB_API_KEY"] = "rs_wandb_var"
    assert C.token_for(url, env) == ("rs_wandb_var", "WANDB_API_KEY")
    env["RUNSTORE_API_KEY"] = "rs_runstore_var"
    assert C.token_for(url, env) == ("rs_runstore_var", "RUNSTORE_API_KEY")
    assert C.token_for("https://api:rs_in_url@host.test:8443/team/runstore", env) == ("rs_in_url", "the URL")
    assert stat.S_IMODE(C.credentials_path(env).stat().st_mode) == 0o600


def test_files_larger_than_one_request_go_up_in_pieces(
    tmp_path: Path,
    runstore_server: RunstoreServer,  # noqa: F811
) -> None:
    """A model file over the body limit (8 MB pieces, committed atomically), resumable by the staged
    size the server reports, and create-only for immutable files."""
    import hashlib

    import httpx

    from runstore.remotes.http import HttpRemote

    big = tmp_path / "model.bin"
    big.write_bytes(os.urandom(20 << 20) + b"tail")
    hexd = hashlib.md5(big.read_bytes()).hexdigest()
    rel = f"artifacts/objects/{hexd[:2]}/{hexd}"
    remote = HttpRemote(runstore_server.url, token=runstore_server.token)
    try:
        assert remote.put(rel, big, replace=False) is True
        assert remote.size(rel) == big.stat().st_size
        assert remote.read(rel, (20 << 20) - 2) == big.read_bytes()[(20 << 20) - 2 :]
        assert remote.put(rel, big, replace=False) is False  # immutable: the first copy stays
        # a replaced file goes up in pieces too, and replaces
        conf = "projects/p/runs/bigrun/files/weights.npy"
        assert remote.put(conf, big.read_bytes()[: 9 << 20], replace=True) is True
        assert remote.put(conf, big.read_bytes()[1 : (9 << 20) + 1], replace=True) is True
        assert remote.read(conf, 0, 4) == big.read_bytes()[1:5]
    finally:
        remote.close()
    # the protocol itself: a piece at the wrong offset gets the staged size; a short commit is refused
    h = {"Authorization": f"Bearer {runstore_server.token}"}
    url = f"{runstore_server.url}/api/v1/upload/projects/p/runs/bigrun/files/x.bin"
    up = "0123456789abcdef"
    assert httpx.post(url, params={"upload": up, "offset": 0}, content=b"abc", headers=h).json() == {
        "size": 3
    }
    r = httpx.post(url, params={"upload": up, "offset": 0}, content=b"abc", headers=h)
    assert r.status_code == 409 and r.json()["error"]["size"] == 3
    assert httpx.post(url, params={"upload": up, "commit": 9}, headers=h).status_code == 409
    assert (
        httpx.post(url, params={"upload": "../../x", "offset": 0}, content=b"a", headers=h).status_code == 400
    )
    assert httpx.post(url, params={"upload": up, "commit": 3}, headers=h).json() == {"written": True}
    listing = HttpRemote(runstore_server.url, token=runstore_server.token).listing("projects/p/runs/bigrun/")
    assert not [k for k in listing if "tmp-runstore" in k]  # no staging file is ever listed


def test_api_over_http_reads_the_servers_artifacts(
    server: RunstoreServer, tmp_path: Path, capfd: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Api(base_url=) finds artifact versions on the server, downloads their files (fetched on demand
    from the server) and knows their lineage, like the local Api."""
    ids = log_runs(tmp_path, n=1)
    monkeypatch.setenv("RUNSTORE_API_KEY", server.token)
    code, _, err = run_cli(capfd, "sync", "--all", "--remote", server.url)
    assert code == 0, err
    api = runstore.Api(base_url=server.url, store=tmp_path / "reader" / ".wandb")
    art = api.artifact(f"{P}/data:best")
    assert (art.name, art.type, art.aliases) == ("data:v0", "dataset", ["best", "latest"])
    root = Path(art.download(tmp_path / "dl"))
    assert (root / "a.bin").read_bytes() == (tmp_path / "data" / "a.bin").read_bytes()
    assert [v.name for v in api.artifact_versions("dataset", f"{P}/data")] == ["data:v0"]
    assert api.artifact_exists(f"{P}/data:v0") and not api.artifact_exists(f"{P}/data:v9")
    assert [a.name for a in api.run(f"{P}/{ids[0]}").logged_artifacts()] == ["data:v0"]
    assert [t.name for t in api.artifact_types(P)] == ["dataset"]
