"""The task that streams live runs to their remote while they train.

Which runs: those with an outbox entry (store/live.py: init() writes one for an online run when a
remote is configured; offline runs get none, so nothing of theirs leaves the machine). The entry stays
until the run has ended and been sent and verified whole, so a run shorter than one scan, or one that
ended while no daemon ran (killed, rebooted), is still completed by the next daemon. Each tick (every `poll`
seconds) it stats the run's `append` files and sends the bytes they gained: O(new bytes), one stat per
file, no listing. Every `full_every` seconds it makes a full pass (store/layout.py kinds: new media,
new versions of saved files, a new history generation), which also re-reads the remote's sizes, the
truth after any surprise. Once the run's live marker is gone (it finished, or the monitor found it dead
and marked it crashed), a last full pass seals and verifies the run (remotes/sync.py) and removes the
outbox entry. After each full pass it also pushes the artifacts of the run's project, when the
project's artifact log changed since the last push (one stat per pass; only a change costs a listing).

It polls instead of taking file-system events: a run logging 1,000 steps/s makes 1,000 inotify events a
second, and turning each into a Python object costs more than a few stats per tick.

A failing remote is retried with capped exponential backoff (1 s -> 60 s) for all runs going there;
nothing is lost meanwhile: the bytes wait in the local files, and the next pass starts from what the
remote has. `daemon/sync.json` holds the lag of each run and the last error, for `runstore daemon status`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..base import env as _env
from ..base.urls import configured_remote, strip_credentials
from ..remotes.base import Remote, RemoteError
from ..remotes.registry import open_remote
from ..remotes.sync import Pusher, Result, describe
from ..store import artifacts as A
from ..store import jsonl
from ..store import layout as L
from ..store.layout import RunRef, StoreFile
from ..store.live import Marker, MarkerScanner
from ..store.store import Store
from .log import Backoff, DaemonLog

POLL_S = 0.25  # log -> visible at the remote: about half of this plus one append, on average
FULL_EVERY_S = 2.0
STATUS_EVERY_S = 1.0
IDLE_SCAN_S = 1.0
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0


@dataclass
class _Slot:
    """One remote: its connection, backoff and last error."""

    url: str
    remote: Remote | None = None
    pusher: Pusher | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(BACKOFF_BASE_S, BACKOFF_CAP_S))
    retry_at: float = 0.0
    error: str | None = None
    error_at: float | None = None


@dataclass
class _Stream:
    ref: RunRef
    url: str
    sig: tuple[int, int] = (0, 0)  # of its outbox entry: a resumed run writes a new one
    live: bool = False
    full_due: float = 0.0
    tails: dict[str, tuple[StoreFile, int]] = field(default_factory=dict)  # append files: remote size
    backoff: Backoff = field(default_factory=lambda: Backoff(BACKOFF_BASE_S, BACKOFF_CAP_S))
    retry_at: float = 0.0
    last_sent: float | None = None
    error: str | None = None
    done: bool = False


class SyncTask:
    name = "sync"
    wants_events = False

    def __init__(
        self,
        store: Store,
        log: DaemonLog,
        poll: float = POLL_S,
        full_every: float = FULL_EVERY_S,
        default_remote: str | None = None,
    ) -> None:
        self.store = store
        self.log = log
        self.poll = poll
        self.full_every = full_every
        self.markers = MarkerScanner(store)
        self.outbox = MarkerScanner(store, outbox=True)
        self.default = default_remote if default_remote is not None else _store_remote(store)
        self.slots: dict[str, _Slot] = {}
        self.streams: dict[str, _Stream] = {}
        # (remote URL, project) -> size of the project's artifact log when it was last pushed there
        self.artifacts_sent: dict[tuple[str, str], int | None] = {}
        self._due = 0.0
        self._status_due = 0.0
        self._status_written: bytes | None = None

    # -- Task protocol ---------------------------------------------------------------------------
    def due(self) -> float:
        return self._due

    def busy(self) -> bool:
        return any(not s.done for s in self.streams.values())

    def on_event(self, path: str, now: float) -> None:
        pass

    def close(self) -> None:
        for slot in self.slots.values():
            if slot.remote is not None:
                try:
                    slot.remote.close()
                except Exception:
                    pass
        self._write_status(force=True)

    def tick(self, now: float) -> None:
        self._due = now + self.poll
        entries = self.outbox.scan()
        live = {(m.project, m.id) for m in self.markers.scan().values() if isinstance(m, Marker)}
        for name, e in entries.items():
            if not isinstance(e, Marker) or not e.remote:
                continue  # unreadable: a writer replaces entries atomically, so it is foreign; left alone
            s = self.streams.get(name)
            if s is None or s.sig != e.sig:
                s = self.streams[name] = _Stream(
                    RunRef(e.project, e.id, e.dir), self._full_url(e.remote), e.sig
                )
            was_live, s.live = s.live, (e.project, e.id) in live
            if was_live and not s.live:
                s.full_due = 0.0  # the run ended: its final pass now
        for name in [n for n in self.streams if n not in entries]:
            del self.streams[name]  # removed by hand, or done
        for name, s in list(self.streams.items()):
            slot = self._slot(s.url)
            if now < slot.retry_at or now < s.retry_at:
                continue
            try:
                self._step(s, slot, now)
            except Exception as e:
                if not self._failed(slot, s, e, now) and s.done:
                    self.outbox.remove(name, s.sig)
                    del self.streams[name]
                continue
            if s.backoff.failures:
                s.backoff.reset()
                s.retry_at = 0.0
                self.log.ok(f"run {s.ref.project}/{s.ref.id}", now)
            if slot.backoff.failures:
                slot.backoff.reset()
                slot.retry_at = 0.0
                slot.error = None
                self.log.ok(f"remote {slot.url}", now)
            if s.done:
                self.outbox.remove(name, s.sig)
                del self.streams[name]
        if not self.streams:
            # nothing to stream: only new entries are looked for, once a second (a run's first rows
            # wait at most that long; after that, every `poll`)
            self._due = now + max(self.poll, IDLE_SCAN_S)
        self._write_status()

    # -- one run -----------------------------------------------------------------------------------
    def _step(self, s: _Stream, slot: _Slot, now: float) -> None:
        if not s.live and not s.ref.exists():
            self.log.info(f"{s.ref.project}/{s.ref.id}: the run was deleted before it was synced")
            s.done = True
            return
        pusher = self._pusher(slot)
        if now >= s.full_due or not s.tails:
            res = pusher.push_run(s.ref, finished=None if not s.live else False)
            self._raise_on(res)
            s.tails = {rel: v for rel, v in res.sent.items() if v[0].kind == L.APPEND}
            s.full_due = now + self.full_every
            if res.bytes:
                s.last_sent = time.time()
            self._push_artifacts(s, slot, pusher, now)
            # a run that ended without an exit record is marked crashed by the monitor, then finished here
            s.done = not s.live and res.finished
            if s.done:
                self.log.info(
                    f"synced {s.ref.project}/{s.ref.id} to {slot.url}"
                    + (" (verified)" if res.verified else "")
                    + (f"; repaired {', '.join(res.repaired)}" if res.repaired else "")
                )
            s.error = None
            return
        res = Result(f"{s.ref.project}/{s.ref.id}")
        for rel, (f, have) in list(s.tails.items()):
            try:
                new = pusher.push_tail(f, have, res)
            except (RemoteError, OSError) as e:
                res.errors.append(describe(e))
                res.remote_failed = True
                break
            s.tails[rel] = (f, new)
        self._raise_on(res)
        if res.bytes:
            s.last_sent = time.time()
        s.error = None

    def _push_artifacts(self, s: _Stream, slot: _Slot, pusher: Pusher, now: float) -> None:
        """Push the artifacts of the run's project if its artifact log changed since they were last
        pushed to this remote: artifacts logged by a streamed run travel within a full pass."""
        project = s.ref.project
        try:
            size = os.stat(A.log_path(self.store, project)).st_size
        except (OSError, ValueError):
            return  # no artifacts in this project
        key = (slot.url, project)
        if key not in self.artifacts_sent:
            self.artifacts_sent[key] = pusher.artifacts_sent(project)
        if self.artifacts_sent[key] == size:
            return
        res = pusher.push_artifacts(project)
        if res.remote_failed:
            self._raise_on(res)  # the remote is down: the run's stream backs off and retries
        if res.errors:
            # refused (another store's log there, a missing object): tried again when the log changes
            self.log.error(f"artifacts {project}", f"{slot.url}: {'; '.join(res.errors)}", now)
        elif res.bytes:
            s.last_sent = time.time()
            self.log.info(f"synced the artifacts of {project} to {slot.url}")
        self.artifacts_sent[key] = size

    def _raise_on(self, res: Result) -> None:
        if res.errors:
            raise (_RemoteDown if res.remote_failed else _RunRefused)("; ".join(res.errors))

    def _failed(self, slot: _Slot, s: _Stream, e: Exception, now: float) -> bool:
        """Back off after a failure: the whole remote when it could not be reached, only this run when
        the remote refused its data (another run with its id, diverged bytes). Returns whether the
        remote itself failed."""
        msg = describe(e)
        s.error = msg
        s.full_due = 0.0  # the next pass lists the remote again: its sizes are the truth after a failure
        name = f"{s.ref.project}/{s.ref.id}"
        if isinstance(e, _RunRefused):
            if not s.live:
                # an ended run the remote will not take: `runstore sync` reports it; nothing to retry for
                self.log.info(f"not synced: {name} to {slot.url}: {msg}")
                s.done = True
                return False
            delay = s.backoff.fail()
            s.retry_at = now + delay
            self.log.error(f"run {name}", f"{msg} (retry in {delay:.3g}s)", now)
            return False
        delay = slot.backoff.fail()
        slot.retry_at = now + delay
        slot.error, slot.error_at = msg, time.time()
        if slot.remote is not None:
            slot.remote.close()  # drops cached sizes and checks
        self.log.error(f"remote {slot.url}", f"{name}: {msg} (retry in {delay:.3g}s)", now)
        return True

    def _slot(self, url: str) -> _Slot:
        slot = self.slots.get(url)
        if slot is None:
            slot = self.slots[url] = _Slot(url=url)
        return slot

    def _pusher(self, slot: _Slot) -> Pusher:
        if slot.pusher is None:
            slot.remote = open_remote(slot.url)
            slot.pusher = Pusher(self.store, slot.remote, ignore=_env.get("ignore_globs") or ())
        return slot.pusher

    def _full_url(self, marked: str) -> str:
        """The marker holds the URL without credentials; the store's own remote may have them."""
        if self.default and strip_credentials(self.default) == marked:
            return self.default
        return marked

    # -- status ------------------------------------------------------------------------------------
    def _write_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._status_due:
            return
        self._status_due = now + STATUS_EVERY_S
        runs: dict[str, Any] = {}
        for s in self.streams.values():
            key = f"{s.ref.project}/{s.ref.id}"
            lag = 0
            for _rel, (f, have) in s.tails.items():
                try:
                    lag += max(0, os.stat(f.path).st_size - have)
                except OSError:
                    pass
            runs[key] = {
                "remote": strip_credentials(s.url),
                "live": s.live,
                "lag_bytes": lag,
                "last_sent": s.last_sent,
                "error": s.error,
            }
        remotes = {
            strip_credentials(u): {
                "error": sl.error,
                "error_at": sl.error_at,
                "failures": sl.backoff.failures,
            }
            for u, sl in self.slots.items()
        }
        data = orjson.dumps({"runs": runs, "remotes": remotes}, option=orjson.OPT_SORT_KEYS)
        if data == self._status_written and not force:
            return
        try:
            jsonl.write_atomic(self.store.sync_status, data)
            self._status_written = data
        except OSError:
            pass


class _RemoteDown(Exception):
    pass


class _RunRefused(Exception):
    pass


def _store_remote(store: Store) -> str | None:
    """The store's remote if the store is online (env first, as init() resolves it; WANDB_BASE_URL
    last)."""
    try:
        settings = store.read_settings()
    except Exception:
        settings = {}
    mode = _env.get("mode") or settings.get("mode") or "online"
    if str(mode).lower() in ("offline", "dryrun", "disabled"):
        return None
    return configured_remote(settings.get("remote"))


def read_status(store: Store) -> dict[str, Any]:
    """What the daemon last wrote about streaming ({} when it never streamed)."""
    try:
        data = orjson.loads(store.sync_status.read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


__all__ = ["SyncTask", "read_status", "POLL_S"]
