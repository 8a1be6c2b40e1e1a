"""The daemon's loop: wake on a timer or a file-system event, run the tasks that are due, sleep.

Work comes as `Task`s: `monitor.LiveRunsTask` samples live runs and marks dead ones crashed;
`syncing.SyncTask` streams live runs to their remote. A task may set `wants_events` to get each changed
path under `<store>/projects` through `on_event` (the watchdog observer is started only when some task
wants events; none does today: the sync task polls, see syncing.py for why), debounce by moving its own
`due()` time, and look at the real state in `tick` (events are hints, STYLE.md item 9). A task that
raises is retried with exponential backoff and logged at a limited rate; it cannot stop the others.
"""

from __future__ import annotations

import collections
import signal
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from ..store import live
from ..store.layout import make_dirs
from ..store.liveness import is_alive
from ..store.store import Store
from . import lock
from .client import DEFAULT_IDLE_EXIT, DEFAULT_INTERVAL, StoreLike, as_store, spawn
from .gpu import open_backend
from .log import Backoff, DaemonLog
from .monitor import LiveRunsTask


class Task(Protocol):
    name: str
    wants_events: bool

    def due(self) -> float:
        """`time.monotonic()` at which `tick` should next run."""
        ...

    def tick(self, now: float) -> None: ...

    def on_event(self, path: str, now: float) -> None:
        """A file under `<store>/projects` changed (only called when `wants_events`)."""
        ...

    def busy(self) -> bool:
        """True while the task has work that should keep the daemon from exiting for idleness."""
        ...

    def close(self) -> None: ...


class FsEvents:
    """A watchdog observer feeding changed paths to the loop (which runs the tasks on its own thread)."""

    def __init__(self, root: Path, wake: threading.Event) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        self.queue: collections.deque[str] = collections.deque()
        queue, wake_ = self.queue, wake

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.event_type in ("opened", "closed_no_write"):
                    return  # reads change nothing
                queue.append(str(event.src_path))
                wake_.set()

        make_dirs(root)
        self.observer: Any = Observer()
        self.observer.daemon = True
        self.observer.schedule(_Handler(), str(root), recursive=True)
        self.observer.start()

    def drain(self) -> list[str]:
        out: list[str] = []
        while self.queue:
            out.append(self.queue.popleft())
        return out

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=2.0)


class Daemon:
    """The loop itself, usable in-process (tests, `--foreground`) as well as from `__main__`."""

    def __init__(
        self,
        store: StoreLike,
        tasks: list[Task],
        log: DaemonLog,
        idle_exit: float | None = None,
        max_sleep: float = 60.0,
    ) -> None:
        self.store = as_store(store)
        self.tasks = tasks
        self.log = log
        self.idle_exit = idle_exit
        self.max_sleep = max_sleep
        self.wake = threading.Event()
        self.stopping = False
        self.events: FsEvents | None = None
        self._backoff = {t.name: Backoff(1.0) for t in tasks}
        self._retry_at: dict[str, float] = {}

    def stop(self, *_: Any) -> None:
        """Ask the loop to exit (signal handlers call this; only sets flags, so it is safe there)."""
        self.stopping = True
        self.wake.set()

    def run(self) -> str:
        """Loop until stopped or idle; returns why it stopped ("stopped" or "idle")."""
        if any(t.wants_events for t in self.tasks):
            try:
                self.events = FsEvents(self.store.projects_dir, self.wake)
            except Exception as e:  # inotify limits, missing watchdog: fall back to the timer alone
                self.log.info(f"file-system events off ({type(e).__name__}: {e}); tasks run on their timers")
        last_busy = time.monotonic()
        try:
            while not self.stopping:
                now = time.monotonic()
                if self.events is not None:
                    for path in self.events.drain():
                        for t in self.tasks:
                            if t.wants_events:
                                self._guard(t, "on_event", now, t.on_event, path, now)
                for t in self.tasks:
                    if now >= self._due(t):
                        self._guard(t, "tick", now, t.tick, now)
                now = time.monotonic()
                if any(t.busy() for t in self.tasks):
                    last_busy = now
                elif self.idle_exit is not None and now - last_busy >= self.idle_exit:
                    return "idle"
                wake_at = min([self._due(t) for t in self.tasks] + [now + self.max_sleep])
                if self.idle_exit is not None:
                    wake_at = min(wake_at, last_busy + self.idle_exit)
                self.wake.wait(max(0.0, wake_at - now))
                self.wake.clear()
            return "stopped"
        finally:
            if self.events is not None:
                self.events.stop()
            for t in self.tasks:
                try:
                    t.close()
                except Exception:
                    pass

    def _due(self, task: Task) -> float:
        # a failing task waits out its backoff even if it did not move its own due time
        return max(task.due(), self._retry_at.get(task.name, 0.0))

    def _guard(self, task: Task, what: str, now: float, fn: Any, *args: Any) -> None:
        key = f"task {task.name}"
        try:
            fn(*args)
        except Exception as e:
            delay = self._backoff[task.name].fail()
            self._retry_at[task.name] = now + delay
            self.log.error(key, f"{what} failed: {type(e).__name__}: {e} (retry in {delay:.3g}s)", now)
        else:
            if self._backoff[task.name].failures:
                self._backoff[task.name].reset()
                self._retry_at.pop(task.name, None)
                self.log.ok(key, now)


def default_tasks(store: Store, interval: float, log: DaemonLog) -> list[Task]:
    from .syncing import SyncTask  # imports the remotes package: only the daemon process needs it

    return [LiveRunsTask(store, interval, log, gpu=open_backend(log.info)), SyncTask(store, log)]


def serve(
    store: StoreLike,
    interval: float = DEFAULT_INTERVAL,
    idle_exit: float | None = DEFAULT_IDLE_EXIT,
    echo: bool = False,
    tasks: list[Task] | None = None,
) -> int:
    """Be the store's daemon: take the lock (or return 0 at once if another daemon has it), loop, clean up.

    SIGTERM and SIGINT stop it cleanly (pid file removed). After an idle exit it looks at the live
    markers once more, lock released: a run registered while it was deciding to exit gets a successor.
    """
    st = as_store(store)
    root = st.root
    make_dirs(st.live_dir)
    pid_file = st.daemon_pid
    fd = lock.acquire(pid_file)
    if fd is None:
        return 0  # one daemon per store: the other one is doing the work
    log = DaemonLog(st.daemon_log, echo=echo)
    reason = "error"
    try:
        log.info(
            f"start: store={root} interval={interval:g}s idle_exit="
            f"{'never' if idle_exit is None else f'{idle_exit:g}s'}"
        )
        daemon = Daemon(
            st,
            tasks if tasks is not None else default_tasks(st, interval, log),
            log,
            idle_exit=idle_exit,
            max_sleep=max(interval, 1.0) * 30,
        )
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, daemon.stop)
        reason = daemon.run()
    except Exception as e:
        log.info(f"fatal: {type(e).__name__}: {e}")
        raise
    finally:
        lock.release(pid_file, fd)
        log.info(f"stop: {reason}")
    if reason == "idle" and _local_live_markers(st):
        log.info("a run registered while exiting: starting a successor")
        spawn(st, interval=interval, idle_exit=idle_exit, reap=False)
    return 0


def _local_live_markers(store: Store) -> bool:
    return any(is_alive(m.pid, m.pid_start, m.host) for m in live.read_all(store))
