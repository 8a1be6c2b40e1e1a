"""`Api(base_url="http://host:8080")`: the read API of a `runstore server`, with the local Api's objects.

What the server answers without sending data (a project's runs with filters, order and pages; a run's
config, summary, metadata and state; sampled or downsampled history; `scan_history` pages; sweeps and
their best run) is asked of it: a 10,000-run project or a 1M-step history is never downloaded for them.
A `Run` is rebuilt from the server's document of it (the folded run state), so every property reads as
it does locally. What needs a run's files (`history(samples=None)`, `table()`, `system_metrics`) pulls
them into a local cache store, one per server URL under the user's cache directory (or `store=`), by
offset as `runstore pull` does: a second read fetches only the bytes appended since. The cache is
derived: deleting it is always safe.

Read only: edits (`run.update()`, `summary.update()`) are refused with one line saying so. Artifacts are
read from the cache store after pulling the project's artifact log and manifests (and a version's files
when it is asked for by name); a download fetches any other file it needs from the server.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..base import credentials
from ..base.urls import configured_remote, strip_credentials
from ..errors import CommError, Error, RunNotFound, UsageError
from ..remotes.base import CHUNK, url_key
from ..store import jsonl
from ..store import layout as L
from ..store import sweeps as S
from ..store.runs import RunState, Segment
from ..store.store import Store
from ..store.summary import MetricDefs
from ._api import Api, _split
from ._runs import File, Run, Runs
from ._sweeps import Sweep

if TYPE_CHECKING:
    import httpx

API = "/api/v1"
STORE_URL = f"{API}/store"
MAX_PAGE = 1000  # runs per request past the first page (the server's limit)
SCAN_PAGE = 5000  # rows per scan_history request: fewer round trips than wandb's 1000


def _url(*parts: str) -> str:
    """A route of the server's read API (server/read.py), its variable parts quoted."""
    return "/".join((API, *(quote(p, safe="") for p in parts)))


def server_url(base_url: str | None = None, store: object = None) -> str | None:
    """The http(s) server `Api()` reads: `base_url`, else (when no `store=` is given) the server this
    environment syncs to (RUNSTORE_REMOTE, else WANDB_BASE_URL / RUNSTORE_BASE_URL unless it is wandb's
    cloud); None for the local store."""
    url = base_url
    if url is None and store is None:
        found = configured_remote(None)
        if found is not None and found.strip().lower().startswith(("http://", "https://")):
            url = found
    if url is None:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        raise UsageError(
            f"base_url must be an http(s):// URL of a runstore server, got {strip_credentials(url)!r}"
        )
    return url.rstrip("/")


def cache_root(url: str) -> Path:
    """Where the runs read from server `url` are cached: one store per server."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "runstore" / "servers" / url_key(url)


def _plain(obj: Any) -> Any:
    """Filter arguments as JSON: datetimes as the ISO strings filters compare (store/query.py)."""
    if isinstance(obj, _dt.datetime):
        if obj.tzinfo is not None:
            obj = obj.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return obj.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(obj, _dt.date):
        return obj.isoformat()
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


class _Client:
    """The HTTP side: one httpx client, errors as runstore's exceptions (one line, no token)."""

    def __init__(self, url: str, token: str | None, timeout: float | None) -> None:
        try:
            import httpx
        except ImportError:
            raise UsageError(
                "reading a runstore server needs httpx: pip install 'runstore[server]'"
            ) from None
        from ..remotes.http import ssl_context

        self.url = strip_credentials(url)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http: httpx.Client = httpx.Client(
            base_url=url,
            headers=headers,
            timeout=timeout or 60.0,
            verify=ssl_context() if url.lower().startswith("https:") else False,
            follow_redirects=False,  # the token goes to the server named, nowhere else
        )

    def _send(self, method: str, path: str, params: Any = None, headers: Any = None) -> httpx.Response:
        import httpx

        try:
            return self.http.request(method, path, params=params, headers=headers)
        except httpx.HTTPError as e:
            if _in_chain(e, ssl.SSLCertVerificationError):
                raise CommError(
                    f"{self.url}: the server's TLS certificate is not trusted; for a private CA set "
                    "REQUESTS_CA_BUNDLE or SSL_CERT_FILE to its certificate (PEM)"
                ) from None
            what = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise CommError(f"cannot reach the runstore server at {self.url}: {what}") from None

    def get(self, path: str, params: Any = None, not_found: type[Error] = RunNotFound) -> Any:
        r = self._send("GET", path, params)
        if r.status_code != 200:
            raise _error(r, self.url, not_found)
        try:
            return jsonl.decode(r.content)
        except ValueError:
            raise CommError(f"{self.url} answered {path} with something that is not JSON") from None

    def close(self) -> None:
        self.http.close()


def _error(r: httpx.Response, url: str, not_found: type[Error]) -> Error:
    try:
        err = jsonl.decode(r.content)["error"]
        message = str(err.get("message") or err.get("code"))
    except (ValueError, KeyError, TypeError, AttributeError):
        message = r.reason_phrase or "error"
    if r.status_code == 404:
        return not_found(message)
    if r.status_code in (400, 409, 422):
        return UsageError(message)
    if r.status_code in (401, 403):
        return CommError(f"{url} refused the request ({r.status_code}): {message}")
    return CommError(f"{url} answered {r.status_code}: {message}")


def _in_chain(e: BaseException, kind: type[BaseException]) -> bool:
    cur: BaseException | None = e
    for _ in range(20):
        if cur is None:
            return False
        if isinstance(cur, kind):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


@dataclass
class _ServedState(RunState):
    """A run's state as the server folded it: what depends on the server's files (the state of a live
    run, its runtime and last activity) is the server's answer, not recomputed from the cache."""

    served_state: str = "running"
    served_runtime: float = 0.0
    served_activity: float = 0.0

    @property
    def state(self) -> str:
        return self.served_state

    @property
    def runtime(self) -> float:
        return self.served_runtime

    def last_activity(self) -> float:
        return self.served_activity


def _state_of(store: Store, doc: dict[str, Any]) -> _ServedState:
    history = doc.get("history") or L.HISTORY
    if L.history_generation(history) is None:
        raise CommError(f"the server named a bad history file {history!r}")
    return _ServedState(
        ref=store.run(doc["project"], doc["id"]),
        info=doc.get("info") or {},
        config=doc.get("config") or {},
        metadata=doc.get("metadata") or {},
        defs=MetricDefs(),
        segments=[Segment(*s) for s in doc.get("segments") or ()],
        exit=doc.get("exit"),
        live=doc.get("live"),
        history_name=history,
        _summary=doc.get("summary") or {},
        served_state=str(doc.get("state")),
        served_runtime=float(doc.get("runtime") or 0.0),
        served_activity=float(doc.get("last_activity") or 0.0),
    )


class RemoteFile(File):
    """A run's file on the server: `download()` fetches it (HTTP, resumable by Range)."""

    def __init__(self, api: RemoteApi, run: RemoteRun, doc: dict[str, Any]) -> None:
        super().__init__(run._st.ref.files_dir, doc["name"])
        self._api = api
        self._doc = doc
        self._project, self._run_id = run.project, run.id

    @property
    def size(self) -> int:
        return int(self._doc.get("size") or 0)

    @property
    def url(self) -> str:
        return f"{self._api._client.url}{self._doc['url']}"

    direct_url = url

    @property
    def updated_at(self) -> str | None:
        return self._doc.get("updated_at")

    def _fetch(self, dest: Path) -> None:
        part = dest.with_name(dest.name + ".part")
        have = part.stat().st_size if part.exists() else 0  # a broken transfer resumes where it stopped
        rel = f"{self._api.store.run(self._project, self._run_id).rel}/{L.FILES_DIR}/{self.name}"
        with open(part, "ab") as out:
            while have < self.size:
                data = self._api._files.read(rel, have, min(self.size, have + CHUNK))
                if not data:
                    break
                out.write(data)
                have += len(data)
        os.replace(part, dest)


class RemoteRun(Run):
    """A run of a server: the local `Run`, its reads answered by the server or from the cache."""

    _api: RemoteApi

    def __init__(self, api: RemoteApi, doc: dict[str, Any]) -> None:
        super().__init__(api, _state_of(api.store, doc))
        self._doc = doc

    @property
    def _base(self) -> str:
        return _url("projects", self.project, "runs", self.id)

    @property
    def lastHistoryStep(self) -> int:  # noqa: N802 - wandb's name
        return int(self._doc.get("last_step", -1))

    @property
    def system_metrics(self) -> dict[str, Any]:
        self._pull(lambda rel: rel.endswith("/" + L.SYSTEM))
        return super().system_metrics

    def __repr__(self) -> str:
        return f"<Run {self.project}/{self.id} ({self.state}) at {self._api._client.url}>"

    def _pull(self, only: Callable[[str], bool]) -> None:
        """Bring the run's files that `only` picks up to date in the cache (new bytes only)."""
        from ..remotes.sync import Puller

        remote = self._api._files
        res = Puller(self._api.store, remote, only=only).pull_run(self.project, self.id, allow_live=True)
        if res.errors:
            raise CommError(f"could not fetch {self.project}/{self.id} from {remote.url}: {res.errors[0]}")

    def history(
        self,
        samples: int | None = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
        stream: str = "default",
        *,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Any:
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise ValueError(f"history(samples=...) must be a positive int or None, got {samples!r}")
        if keys is not None and (isinstance(keys, str) or not all(isinstance(k, str) for k in keys)):
            raise TypeError("history(keys=...) takes a list of str")
        path = self._stream_path(stream)
        if samples is None:  # every row: worth having here, and only new bytes are fetched next time
            self._pull(lambda rel: rel.endswith("/" + path.name))
            return super().history(None, keys, x_axis, pandas, stream, min_step=min_step, max_step=max_step)
        params: dict[str, Any] = {"samples": samples, "x_axis": x_axis, "stream": stream, "pandas": pandas}
        if keys is not None:
            params["keys"] = list(keys)
        params.update({k: v for k, v in (("min_step", min_step), ("max_step", max_step)) if v is not None})
        got = self._api._client.get(f"{self._base}/history", params)
        if not pandas:
            return got["rows"]
        import pandas as pd

        return pd.DataFrame(got["columns"])

    def downsample(
        self,
        keys: list[str],
        buckets: int = 2000,
        x_axis: str = "_step",
        *,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> dict[str, dict[str, list[Any]]]:
        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            raise TypeError("downsample(keys=...) takes a list of str")
        if not keys:
            return {}
        params: dict[str, Any] = {"keys": list(keys), "buckets": buckets, "x_axis": x_axis}
        params.update({k: v for k, v in (("min_step", min_step), ("max_step", max_step)) if v is not None})
        return dict(self._api._client.get(f"{self._base}/history/downsample", params)["metrics"])

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int = 0,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        if keys is not None and (isinstance(keys, str) or not all(isinstance(k, str) for k in keys)):
            raise TypeError("scan_history(keys=...) takes a list of str")
        params: dict[str, Any] = {
            "min_step": min_step,
            "page_size": max(1, min(max(page_size, SCAN_PAGE), 10_000)),
        }
        if keys is not None:
            params["keys"] = list(keys)
        if max_step is not None:
            params["max_step"] = max_step
        cursor: str | None = None
        while True:
            got = self._api._client.get(
                f"{self._base}/history/rows", {**params, **({"cursor": cursor} if cursor else {})}
            )
            yield from got["rows"]
            cursor = got.get("next_cursor")
            if not cursor:
                return

    def _file_docs(self) -> list[dict[str, Any]]:
        if self._doc.get("files") is None:  # a listing's documents leave the files out
            self._doc["files"] = self._api._client.get(self._base).get("files") or []
        return list(self._doc["files"])

    def files(
        self, names: list[str] | None = None, pattern: str | None = None, per_page: int = 50
    ) -> list[File]:
        import fnmatch

        return [
            RemoteFile(self._api, self, d)
            for d in self._file_docs()
            if (names is None or d["name"] in names)
            and (pattern is None or fnmatch.fnmatch(d["name"], pattern))
        ]

    def file(self, name: str) -> File:
        for d in self._file_docs():
            if d["name"] == name:
                return RemoteFile(self._api, self, d)
        raise Error(f"file {name!r} not found in run {self.id}; list them with run.files()")

    def table(self, key: str, step: int | None = None) -> Any:
        files = L.FILES_DIR
        self._pull(lambda rel: f"/{files}/" in rel or rel.endswith("/" + self._st.history_name))
        return super().table(key, step)

    def logged_artifacts(self, per_page: int = 100) -> list[Any]:
        self._api._artifacts(self.project)
        return super().logged_artifacts(per_page)

    def used_artifacts(self, per_page: int = 100) -> list[Any]:
        self._api._artifacts(self.project)
        return super().used_artifacts(per_page)

    def _append(self, ev: dict[str, Any]) -> None:
        raise UsageError(
            f"runs of a server are read-only here ({self._api._client.url}); edit them in the server's store"
        )


class RemoteRuns(Runs):
    """Runs of a server, fetched a page at a time as they are used; `len()` is the server's total."""

    def __init__(self, api: RemoteApi, path: str, params: dict[str, Any]) -> None:
        super().__init__(api, [])
        self._rapi = api
        self._path = path
        self._params = params
        self._cursor: str | None = None
        self._total = 0
        self._more = True
        self._next_page()

    def _next_page(self) -> None:
        params = dict(self._params)
        if self._cursor:
            # past the first page, the server's largest pages: each costs a listing of the project
            params.update(cursor=self._cursor, per_page=MAX_PAGE)
        got = self._rapi._client.get(self._path, params)
        self._runs.extend(RemoteRun(self._rapi, d) for d in got["runs"])
        self._total = int(got["total"])
        self._cursor = got.get("next_cursor")
        self._more = bool(self._cursor)

    def _fill(self, n: int | None = None) -> None:
        while self._more and (n is None or len(self._runs) < n):
            self._next_page()

    def __len__(self) -> int:
        return self._total

    def __iter__(self) -> Iterator[Run]:
        i = 0
        while True:
            if i >= len(self._runs):
                if not self._more:
                    return
                self._next_page()
                continue
            yield self._runs[i]
            i += 1

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, int) and i >= 0:
            self._fill(i + 1)
        else:
            self._fill()
        return self._runs[i]

    def __repr__(self) -> str:
        return f"<Runs {self._total}>"

    @property
    def length(self) -> int:
        return self._total

    def histories(self, *args: Any, **kwargs: Any) -> Any:
        self._fill()
        return super().histories(*args, **kwargs)


class RemoteSweep(Sweep):
    """A sweep of a server: the local `Sweep` over the server's folded state; its runs from the server."""

    _api: RemoteApi

    def __init__(self, api: RemoteApi, doc: dict[str, Any]) -> None:
        self._api = api
        self._doc = doc
        self._sd = S.SweepDir(api.store, doc["id"])
        self._st = S.SweepState(
            id=doc["id"],
            config=dict(doc.get("config") or {}),
            project=str(doc.get("project") or ""),
            entity=str(doc.get("entity") or ""),
            created=float(doc.get("created") or 0.0),
            state=str(doc.get("state")),
            trials={
                t["run"]: S.TrialRec(
                    run_id=t["run"],
                    params=dict(t.get("params") or {}),
                    agent=t.get("agent"),
                    state=str(t.get("state")),
                    code=t.get("code"),
                    stop=t.get("stop"),
                    released=t.get("released"),
                    prior=bool(t.get("prior")),
                )
                for t in doc.get("trials") or ()
            },
        )

    def _detail(self) -> dict[str, Any]:
        if self._doc.get("run_ids") is None:  # a listing's documents leave the runs out
            self._doc = self._api._sweep_doc(self.id)
        return self._doc

    def _runs(self, order: str) -> RemoteRuns:
        ids = self._detail().get("run_ids") or []
        # the sweep's project, as the local Sweep looks first; every project when its runs are elsewhere
        here = any(p == self.project for p, _ in ids)
        path = _url("projects", self.project, "runs") if here else _url("runs")
        return RemoteRuns(
            self._api,
            path,
            {"filters": jsonl.encode({"sweep": self.id}).decode(), "order": order, "per_page": 1000},
        )

    def load_states(self) -> list[RunState]:
        return [r._st for r in self._runs("+created_at")]

    @property
    def runs(self) -> Runs:
        return self._runs("+created_at")

    def ranked_runs(self) -> Runs:
        return self._runs(self.order or "+created_at")

    def best_run(self, order: str | None = None) -> Run | None:
        if order is None and self.order is None:
            raise UsageError(f"sweep {self.id} has no metric; pass best_run(order='-summary_metrics.<key>')")
        doc = self._api._sweep_doc(self.id, order) if order else self._detail()
        best = doc.get("best_run")
        return self._api.run(f"{best[0]}/{best[1]}") if best else None


class RemoteApi(Api):
    """`Api(base_url=...)`: see the module's docstring."""

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        timeout: int | None = None,
        api_key: str | None = None,
        *,
        store: str | os.PathLike[str] | Store | None = None,
        base_url: str | None = None,
    ) -> None:
        url = server_url(base_url, store)
        if url is None:
            raise UsageError("Api(base_url=...) needs the http(s):// URL of a runstore server")
        from ..remotes.http import HttpRemote

        token = api_key or credentials.token_for(url)[0]
        self._client = _Client(url, token, timeout)
        self._files = HttpRemote(url, token=token, timeout=float(timeout) if timeout else None)
        self._store = store if isinstance(store, Store) else Store(store) if store else Store(cache_root(url))
        self._own_cache = store is None  # its settings may name the server (for lazy artifact objects)
        self._overrides = dict(overrides or {})
        self.settings = dict(self._overrides)

    @property
    def base_url(self) -> str:
        return self._client.url

    def __repr__(self) -> str:
        return f"<Api {self._client.url}>"

    def projects(self, entity: str | None = None) -> list[str]:
        return list(self._client.get(_url("projects"))["projects"])

    def runs(
        self,
        path: str | None = None,
        filters: dict[str, Any] | None = None,
        order: str = "+created_at",
        per_page: int = 50,
        include_sweeps: bool = True,
        lazy: bool = True,
    ) -> Runs:
        project = self._runs_project(path)
        if filters is not None and not isinstance(filters, dict):
            raise UsageError(
                f"filters must be a dict like {{'state': 'finished'}}, got {type(filters).__name__}"
            )
        params: dict[str, Any] = {
            "order": order or "+created_at",
            "per_page": max(1, min(int(per_page), 1000)),
        }
        if filters:
            try:
                params["filters"] = jsonl.encode(_plain(filters)).decode()
            except (TypeError, ValueError):
                raise UsageError("filters must hold JSON values (and datetimes)") from None
        where = _url("projects", project, "runs") if project is not None else _url("runs")
        return RemoteRuns(self, where, params)

    def _find(self, project: str | None, flt: dict[str, Any]) -> list[RemoteRun]:
        return list(self.runs(project, flt, per_page=1000))  # type: ignore[arg-type]

    def run(self, path: str, *, project: str | None = None) -> Run:
        parts = _split(path)
        if not parts or len(parts) > 3:
            raise UsageError(f"run() takes 'project/run_id' or 'entity/project/run_id', got {path!r}")
        if len(parts) >= 2:
            run_id, proj = parts[-1], parts[-2]
            if not L.valid_name(run_id) or not L.valid_name(proj):
                raise RunNotFound(f"run {run_id!r} not found in project {proj!r} at {self._client.url}")
            doc = self._client.get(_url("projects", proj, "runs", run_id))
            return RemoteRun(self, doc)
        return self._resolve(parts[0], project)

    def _resolve(self, word: str, project: str | None) -> Run:
        """The one-word forms, as the local store resolves them: `latest` (here: the newest run), an
        id, a unique id prefix, a unique run name."""
        if project is not None:
            L.check_name("project", project)
        if word == "latest":
            newest = list(self.runs(project, None, order="-created_at", per_page=1)[:1])
            if not newest:
                raise RunNotFound(f"no runs at {self._client.url}")
            return newest[0]
        exact = self._find(project, {"id": word})
        if exact:
            return exact[0]
        by_prefix = self._find(project, {"id": {"$regex": "^" + re.escape(word)}})
        by_name = [] if by_prefix else self._find(project, {"display_name": word})
        found = by_prefix or by_name
        if len(found) == 1:
            return found[0]
        if found:
            ids = ", ".join(sorted(f"{r.project}/{r.id}" for r in found)[:8])
            raise UsageError(f"{word!r} is ambiguous: it matches {ids}; use more of the id or project/id")
        raise RunNotFound(f"no run matches {word!r} at {self._client.url}")

    def _sweep_doc(self, sweep_id: str, order: str | None = None) -> dict[str, Any]:
        params = {"order": order} if order else None
        return dict(self._client.get(_url("sweeps", sweep_id), params, not_found=UsageError))

    def sweep(self, path: str) -> Sweep:
        _, _, sid = S.parse_path(path)
        if not L.valid_name(sid):
            raise UsageError(f"{sid!r} is not a sweep id (8 characters of a-z, 0-9)")
        return RemoteSweep(self, self._sweep_doc(sid))

    def sweeps(self) -> list[Sweep]:
        return [RemoteSweep(self, d) for d in self._client.get(_url("sweeps"))["sweeps"]]

    # -- artifacts: the project's log and manifests pulled into the cache store, read there ------------
    def _artifacts(self, project: str, version: str | None = None, objects: bool = False) -> Any:
        """A local Api over the cache store once `project`'s artifacts are up to date in it: the log and
        manifests (new bytes only), and with `objects` the files of `version`. A version's files missing
        here later are fetched by its download from the server (the cache store's remote is this
        server)."""
        from ..remotes.sync import Puller
        from ._api import Api

        L.check_name("project", project)
        if self._own_cache and self._store.read_settings().get("remote") != self._client.url:
            self._store.ensure()
            self._store.write_settings({**self._store.read_settings(), "remote": self._client.url})
        res = Puller(self._store, self._files).pull_artifacts(project, version, objects=objects)
        errors = [e for e in res.errors if "no artifacts of project" not in e]
        if errors:
            raise CommError(f"could not read artifacts of {project!r} from {self._client.url}: {errors[0]}")
        return Api(store=self._store)

    def _split_name(self, name: str) -> tuple[str, str, str]:
        from ..sdk.artifact import parse_name

        return parse_name(name, self._art_project(name))

    def artifact(self, name: str, type: str | None = None) -> Any:
        project, collection, alias = self._split_name(name)
        local = self._artifacts(project, f"{collection}:{alias}", objects=True)
        return local.artifact(f"{project}/{collection}:{alias}", type)

    def artifact_versions(self, type_name: str, name: str, per_page: int = 50) -> Any:
        project, collection, _ = self._split_name(name)
        return self._artifacts(project).artifact_versions(type_name, f"{project}/{collection}", per_page)

    def artifacts(self, type_name: str, name: str, per_page: int = 50, tags: Any = None) -> Any:
        return self.artifact_versions(type_name, name, per_page)

    def artifact_collections(self, project_name: str, type_name: str, per_page: int = 50) -> Any:
        project = project_name.rsplit("/", 1)[-1]
        return self._artifacts(project).artifact_collections(project, type_name, per_page)

    def artifact_collection(self, type_name: str, name: str) -> Any:
        project, collection, _ = self._split_name(name)
        return self._artifacts(project).artifact_collection(type_name, f"{project}/{collection}")

    def artifact_types(self, project: str | None = None) -> Any:
        p = (project or self._art_project("") or "").rsplit("/", 1)[-1]
        if not p:
            raise UsageError("artifact_types(project) needs a project")
        return self._artifacts(p).artifact_types(p)

    def artifact_type(self, type_name: str, project: str | None = None) -> Any:
        p = (project or self._art_project("") or "").rsplit("/", 1)[-1]
        if not p:
            raise UsageError("artifact_type(type_name, project) needs a project")
        return self._artifacts(p).artifact_type(type_name, p)

    def close(self) -> None:
        self._client.close()
        self._files.close()


__all__ = ["RemoteApi", "RemoteRun", "RemoteRuns", "RemoteSweep", "RemoteFile", "server_url", "cache_root"]
