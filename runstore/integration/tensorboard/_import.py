"""A TensorBoard log directory turned into a run (`runstore import tensorboard`, `runstore sync LOGDIR`).

One run per log directory given, as `wandb sync LOGDIR` makes one: every event file in it or below it,
a file in a sub-directory having that sub-directory as a prefix of its keys (runstore takes the given
directory as the root; wandb takes its parent, so there every key would also start with the directory's
own name). Rows keep their event's wall time as `_timestamp`; the run starts at the first event.

Importing again never duplicates: the run's id is derived from the directory's real absolute path, and
the run records (metadata `tensorboard`) how many bytes of each event file it holds. A second import
appends what was written since, or does nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...base import env as _env
from ...base import term
from ...capture import tensorboard as tb
from ...errors import UsageError
from ...media import Histogram, Image
from ...sdk.init import base_info, infer_project
from ...sdk.run import Run
from ...sdk.settings import Settings
from ...store import layout as L
from ...store import writer
from ...store.liveness import hostname, start_token
from ...store.runs import fold_summary, last_step, load_run
from ...store.store import Store
from ...store.summary import SummaryState

META_KEY = "tensorboard"
PROGRAM = "runstore import tensorboard"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
HEAD_BYTES = 64
MANY_DIRS = 3  # wandb warns past this many directories: they may be separate experiments


@dataclass
class ImportResult:
    logdir: str
    project: str
    run_id: str
    name: str
    created: bool  # a new run (else rows were appended to, or nothing changed in, the existing one)
    rows: int
    files: int
    skipped: set[str] = field(default_factory=set)  # TensorBoard plugins whose data is not imported

    @property
    def path(self) -> str:
        return f"{self.project}/{self.run_id}"


def event_dirs(logdir: str | os.PathLike[str]) -> dict[str, list[str]]:
    """{directory: [event file names]} for `logdir` and every directory below it (runstore stores are
    left out: the event files runs saved are copies)."""
    out: dict[str, list[str]] = {}
    for d, subdirs, files in os.walk(logdir):
        subdirs[:] = sorted(s for s in subdirs if s != L.STORE_DIRNAME)
        names = sorted(f for f in files if tb.is_event_file(f))
        if names:
            out[d] = names
    return out


def is_logdir(path: str | os.PathLike[str]) -> bool:
    """A TensorBoard log directory: not a run's directory, and event files in it or below it."""
    if not os.path.isdir(path) or L.run_ref_of_dir(path) is not None:
        return False
    for _d, subdirs, files in os.walk(path):
        subdirs[:] = [s for s in subdirs if s != L.STORE_DIRNAME]
        if any(tb.is_event_file(f) for f in files):
            return True
    return False


def run_id_for(logdir: str) -> str:
    """8 characters of [a-z0-9] from the directory's real path: the same directory, the same run."""
    n = int.from_bytes(hashlib.sha256(logdir.encode("utf-8", "surrogateescape")).digest()[:8], "big")
    out = []
    for _ in range(8):
        n, r = divmod(n, len(_ALPHABET))
        out.append(_ALPHABET[r])
    return "".join(out)


def default_project(store: Store) -> str:
    project = _env.get("project")
    if not project and store.exists():
        project = store.read_settings().get("project")
    return str(project or infer_project(Path.cwd()))


def _check(logdir: str | os.PathLike[str]) -> tuple[str, dict[str, list[str]]]:
    root = os.path.realpath(logdir)
    if not os.path.isdir(root):
        raise UsageError(f"{os.fspath(logdir)}: not a directory")
    dirs = event_dirs(root)
    if not dirs:
        raise UsageError(
            f"{os.fspath(logdir)}: no TensorBoard event files (events.out.tfevents.*) in it or below it"
        )
    return root, dirs


def check_logdir(logdir: str | os.PathLike[str]) -> None:
    """UsageError (one line) unless `logdir` is a directory with event files."""
    _check(logdir)


class _Clock:
    """The run's clock during an import: the time of the event being written."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def import_logdir(
    logdir: str | os.PathLike[str],
    store: Store,
    project: str | None = None,
    name: str | None = None,
) -> ImportResult:
    """Import (or bring up to date) the run of `logdir`. UsageError when it cannot be done."""
    tb.require_tensorboard()
    root, dirs = _check(logdir)
    if len(dirs) > MANY_DIRS:
        term.warn(
            f"{len(dirs)} directories with event files under {root} go into one run (their names prefix "
            "the keys); if they are separate experiments, import them one by one: runstore import "
            f"tensorboard {os.path.join(os.fspath(logdir), '*')}",
            once_key=f"tb-many:{root}",
        )
    store.check_format()
    project = L.check_name("project", project or default_project(store))
    ref = store.run(project, run_id_for(root))
    done: dict[str, int] = {}
    plugins: dict[str, dict[str, str]] = {}
    heads: dict[str, str] = {}
    st = None
    if ref.exists():
        st = load_run(ref)
        meta = st.metadata.get(META_KEY)
        if not isinstance(meta, dict) or meta.get("logdir") != root:
            raise UsageError(
                f"run {project}/{ref.id} exists but was not imported from {root}; pass --project to "
                "import into another project"
            )
        if st.state != "finished":
            raise UsageError(
                f"run {project}/{ref.id} ({st.state}): an import of {root} did not complete; delete "
                f"{ref.path} and import again"
            )
        done = {str(k): int(v) for k, v in (meta.get("files") or {}).items()}
        plugins = {str(k): dict(v) for k, v in (meta.get("plugins") or {}).items()}
        heads = {str(k): str(v) for k, v in (meta.get("heads") or {}).items()}

    streams: list[tb.FileStream] = []
    for d, names in dirs.items():
        namespace = tb.namespace_of(d, root)
        for n in names:
            path = os.path.join(d, n)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            stream = tb.FileStream(path, namespace, done.get(rel, 0), plugins.get(rel))
            if stream.file.offset and (
                stream.file.size() < stream.file.offset
                or _head(path, stream.file.offset) != heads.get(rel, _head(path, stream.file.offset))
            ):
                raise UsageError(
                    f"{path} was rewritten since it was imported into run {project}/{ref.id}; delete "
                    f"{ref.path} to import it afresh"
                )
            streams.append(stream)

    rows = tb.merged(streams, True, term.warn)
    first = next(rows, None)
    if first is None and st is not None:
        return ImportResult(root, project, ref.id, str(st.info.get("name") or ""), False, 0, len(streams))
    media = tb.MediaTypes(Histogram, Image)
    run = _open(store, ref, st, root, name, first.wall if first is not None else _oldest(streams))
    count = 0
    for row in _chain(first, rows):
        run._clock.now = row.wall
        tb.log_row(run, row, media, row.wall)
        count += 1
    changed = [s for s in streams if s.file.offset != done.get(_rel(s, root), 0)]
    run._event(
        {
            "t": "meta",
            "set": {
                META_KEY: {
                    "logdir": root,
                    "files": {_rel(s, root): s.file.offset for s in streams},
                    "plugins": {_rel(s, root): s.plugins for s in streams if s.plugins},
                    # a file written anew under the same name (tensorboardX does, within a second)
                    "heads": {_rel(s, root): _head(s.path, s.file.offset) for s in streams if s.file.offset},
                }
            },
        }
    )
    for s in changed:  # the raw event files go with the run, as wandb saves them
        run.save(s.path, base_path=root, policy="now")
    run.finish(quiet=True)
    skipped = set().union(*(s.skipped for s in streams))
    return ImportResult(root, project, ref.id, str(run.name or ""), st is None, count, len(streams), skipped)


def _head(path: str, imported: int) -> str:
    """A fingerprint of the file's start (its first record is the writer's start event, with its time),
    taken from bytes already imported: the same bytes whenever it is taken again."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read(min(HEAD_BYTES, imported))).hexdigest()[:16]
    except OSError:
        return ""


def _rel(s: tb.FileStream, root: str) -> str:
    return os.path.relpath(s.path, root).replace(os.sep, "/")


def _chain(first: tb.Row | None, rest: Iterator[tb.Row]) -> Iterator[tb.Row]:
    if first is not None:
        yield first
    yield from rest


def _oldest(streams: list[tb.FileStream]) -> float:
    times = []
    for s in streams:
        try:
            times.append(os.stat(s.path).st_mtime)
        except OSError:
            pass
    return min(times, default=0.0)


def _open(store: Store, ref: L.RunRef, st: Any, root: str, name: str | None, start: float) -> Any:
    """A Run writing into `ref` as init() would start or resume it, minus what belongs to a live script
    (console, git, daemon, live marker): its clock is the events' time."""
    try:
        # one writer per run (docs/FORMAT.md): two imports of one directory at once do not interleave
        wlock = writer.acquire(ref)
    except writer.Busy as b:
        raise UsageError(
            f"the run of {root} ({ref.id}) is being written by pid {b.pid} on {b.host}; wait for it to "
            "finish and import again"
        ) from None
    try:
        run = _new(store, ref, root, name, start) if st is None else _resumed(store, ref, st, name, start)
    except BaseException:
        writer.release(wlock)
        raise
    run._wlock = wlock  # finish() releases it
    return run


def _new(store: Store, ref: L.RunRef, root: str, name: str | None, start: float) -> Run:
    store.ensure()
    s = Settings(mode="offline", run_name=name or os.path.basename(root) or root, program=PROGRAM)
    s.program_args = (root,)
    info = base_info(s, ref, start)
    run = Run(
        store=store,
        ref=ref,
        settings=Settings(mode="offline"),
        info=info,
        resumed=False,
        step=0,
        runtime_offset=0.0,
        config={},
        summary=SummaryState(),
        allow_val_change=True,
        history=ref.history_file(),
        segment_start=start,
        clock=_Clock(start),
    )
    try:
        run._open({"t": "init", **info}, create=True)
    except FileExistsError:
        raise UsageError(
            f"a run {ref.id} appeared meanwhile in project {ref.project!r}; import again"
        ) from None
    return run


def _resumed(store: Store, ref: L.RunRef, st: Any, name: str | None, start: float) -> Run:
    pid = os.getpid()
    last = last_step(st.history_path)
    step = 0 if last is None else last + 1
    # The new segment starts where the last one ended, so `_runtime` stays "seconds since the first event".
    end = st.created + st.runtime
    run = Run(
        store=store,
        ref=ref,
        settings=Settings(mode="offline"),
        info=dict(st.info),
        resumed=True,
        step=step,
        runtime_offset=st.runtime,
        config=dict(st.config),
        summary=fold_summary(st),
        allow_val_change=True,
        history=st.history_path,
        segment_start=end,
        clock=_Clock(max(end, start)),
    )
    run._open(
        {
            "t": "resume",
            "time": end,
            "step": step,
            "runtime": st.runtime,
            "host": hostname(),
            "pid": pid,
            "pid_start": start_token(pid),
            "mode": "offline",
        }
    )
    if name is not None and name != st.info.get("name"):
        run.name = name
    return run
