"""`runstore run -- CMD`: track an un-instrumented command as a run.

The wrapper creates the run, exports its id to the child (`WANDB_RUN_ID`, `WANDB_RESUME=allow`,
`WANDB_PROJECT`, `RUNSTORE_DIR`) so a child that calls `init()` joins the same run (through runstore's
`wandb` shim, first on the child's PYTHONPATH, when the child does `import wandb`), tees the child's
stdout/stderr to the terminal and `files/output.log`, optionally turns `key=value` output into history
rows, and finishes the run with the child's exit code (a signal N reads as 128+N), which it also returns.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import shim
from .base import env as _env
from .capture.console import OutputLog
from .errors import UsageError
from .sdk.init import infer_project, init
from .sdk.run import Run
from .store.store import Store

_METRIC = re.compile(
    r"(?<![\w./-])(?P<key>[A-Za-z_][\w./-]*)\s*[:=]\s*"
    r"(?P<val>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf|infinity))(?![\w.])",
    re.IGNORECASE,
)


class CommandNotFound(UsageError):
    exit_code = 127


class NoCommand(UsageError):
    exit_code = 2  # a usage error, as the CLI documents them


def parse_metrics(line: str) -> dict[str, float | int]:
    """`loss=0.25 acc: 0.9 step=3` -> {"loss": 0.25, "acc": 0.9, "step": 3}; text without pairs -> {}."""
    out: dict[str, float | int] = {}
    for m in _METRIC.finditer(line):
        raw = m.group("val")
        try:
            out[m.group("key")] = int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
        except ValueError:
            continue
    return out


def _resolve(cmd: Sequence[str]) -> str:
    exe = cmd[0]
    found = (
        shutil.which(exe)
        if os.sep not in exe
        else (exe if os.access(exe, os.X_OK) and Path(exe).is_file() else None)
    )
    if not found:
        raise CommandNotFound(f"command not found: {exe}")
    return found


def _program(cmd: Sequence[str], exe: str) -> tuple[str, list[str]]:
    """What the run records as its program: the script for `python script.py ...`, else the executable."""
    if len(cmd) > 1 and re.match(r"python[\d.]*$", Path(exe).name):
        if cmd[1].endswith(".py"):
            return os.path.abspath(cmd[1]), list(cmd[2:])
        if cmd[1] in ("-m", "-c"):
            # No file of the user's: the run's code is the working directory's (its git state), never
            # the interpreter's (a pyenv or conda checkout is often a git repository itself).
            return cmd[1], list(cmd[2:])
    return exe, list(cmd[1:])


def _store_project(store_dir: Path | None) -> str | None:
    """The default project in the settings of the store the run goes to (which wins over inference)."""
    store = Store(store_dir) if store_dir is not None else Store.discover()
    try:
        value = store.read_settings().get("project") if store.exists() else None
    except Exception:
        return None  # a broken settings file: init() says so
    return str(value) if value else None


def run_command(
    cmd: Sequence[str],
    *,
    project: str | None = None,
    name: str | None = None,
    tags: Sequence[str] | None = None,
    group: str | None = None,
    job_type: str | None = None,
    notes: str | None = None,
    parse: bool = False,
    store_dir: Path | None = None,
    wandb_shim: bool = True,
) -> int:
    """Run `cmd` as a tracked run; returns its exit code. With `wandb_shim` the child imports runstore's
    `wandb` package (runstore/shim/) in front of anything else, so an unedited wandb script and the
    wandb integrations of the libraries it uses log into this run."""
    if not cmd:
        raise NoCommand("nothing to run: give a command after --, e.g. runstore run -- python train.py")
    exe = _resolve(cmd)
    program, args = _program(cmd, exe)
    if project is None and not _env.get("project") and not _store_project(store_dir):
        # wandb's rule applied to the wrapped program (a `python script.py`: its directory; anything
        # else: the working directory), never to where the `runstore` executable lives
        script = Path(program)
        project = infer_project(script.resolve().parent if script.suffix == ".py" else Path.cwd())
    settings = {"console": "off", "program": program, "program_args": tuple(args)}
    run = init(
        project=project,
        name=name,
        tags=list(tags) if tags else None,
        group=group,
        job_type=job_type,
        notes=notes,
        settings=settings,
        reinit="create_new",
        dir=store_dir.parent if store_dir else None,
    )
    if not isinstance(run, Run):  # mode "disabled": run the command, track nothing
        run.finish()
        env = _env.child_env({"mode": "disabled"})
        if wandb_shim:
            env["PYTHONPATH"] = shim.child_pythonpath(env)
        child = _start(cmd, exe, env, capture=False)
        return _wait(child, lambda: None)
    # The child joins this run if it calls init(). The wrapper already tees its output, so a child
    # init() must not capture it twice: runstore's console setting only (a real wandb keeps its own).
    env = _env.child_env(
        {"run_id": run.id, "resume": "allow", "project": run.project, "dir": str(run._store.root)}
    )
    env[_env.BY_NAME["console"].env[0]] = "off"
    if wandb_shim:
        env["PYTHONPATH"] = shim.child_pythonpath(env)
    try:
        child = _start(cmd, exe, env, capture=True)
    except CommandNotFound:
        run.finish(exit_code=127, quiet=True)
        raise
    exit_code = _wait(child, lambda: _pump(child, run, parse))
    # A child that called init() wrote rows and summary edits of its own: finish from what is on disk.
    run._reload()
    run.finish(exit_code=exit_code, quiet=True)
    return exit_code


def _start(cmd: Sequence[str], exe: str, env: dict[str, str], capture: bool) -> subprocess.Popen[bytes]:
    pipe = subprocess.PIPE if capture else None
    try:
        return subprocess.Popen(list(cmd), executable=exe, stdout=pipe, stderr=pipe, env=env)
    except OSError as e:
        raise CommandNotFound(f"cannot start {cmd[0]}: {e.strerror or e}") from None


def _wait(child: subprocess.Popen[bytes], pump: Callable[[], None]) -> int:
    """Forward SIGINT/SIGTERM/SIGHUP to the child while `pump` runs and the child lives; its exit code,
    a signal N as 128+N."""
    forwarded: dict[int, Any] = {}

    def forward(signum: int, _frame: Any) -> None:
        try:
            child.send_signal(signum)
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            forwarded[signum] = signal.signal(signum, forward)
        except (ValueError, OSError):
            pass  # not the main thread: signals go to the process group anyway
    try:
        pump()
        code = child.wait()
    finally:
        for num, old in forwarded.items():
            signal.signal(num, old)
    return 128 - code if code < 0 else code


def _pump(child: subprocess.Popen[bytes], run: Run, parse: bool) -> None:
    log = OutputLog(run._ref.output_log)
    sel = selectors.DefaultSelector()
    assert child.stdout is not None and child.stderr is not None
    streams = {child.stdout.fileno(): 1, child.stderr.fileno(): 2}
    for fd in streams:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    partial = {1: b"", 2: b""}
    try:
        while sel.get_map():
            for key, _ in sel.select():
                fd = key.fd
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    continue
                stream = streams[fd]
                if not data:
                    sel.unregister(fd)
                    continue
                _write_all(stream, data)
                log.write(data, stream)
                if parse:
                    buf = partial[stream] + data
                    lines = buf.split(b"\n")
                    partial[stream] = lines.pop()[-65536:]
                    for line in lines:
                        metrics = parse_metrics(line.decode("utf-8", "replace"))
                        if metrics:
                            run._reload(summary=False)  # after rows the child may have logged itself
                            run.log(metrics)
    finally:
        sel.close()
        log.close()


def _write_all(fd: int, data: bytes) -> None:
    """The child's bytes to our own stdout/stderr unchanged; a closed terminal must not stop the run."""
    try:
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                selectors.DefaultSelector().select(0.01)
                continue
            view = view[n:]
    except OSError:
        pass


__all__ = ["run_command", "parse_metrics", "CommandNotFound"]
