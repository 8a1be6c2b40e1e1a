"""The slow part of capture (git, requirements, machine facts), done on a thread so init() returns at once.

`init()` starts a Recorder for a new run; `finish()` joins it (bounded) before writing the exit record,
so a finished run always has its metadata. If the process dies first, the run simply has less of it.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..store import jsonl
from ..store.layout import RunRef, make_dirs
from ..store.store import Store


class Recorder:
    def __init__(
        self,
        ref: RunRef,
        store: Store,
        write_event: Callable[[dict[str, Any]], object],
        *,
        program: str,
        cwd: str,
        capture_git: bool,
        capture_diff: bool,
        save_code: bool,
    ) -> None:
        self._ref = ref
        self._store = store
        self._write_event = write_event
        self._program = program
        self._cwd = cwd
        self._git = capture_git
        self._diff = capture_diff
        self._save_code = save_code
        self._thread = threading.Thread(target=self._run, name="runstore-capture", daemon=True)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _write(self, dest: Path, data: bytes) -> None:
        make_dirs(dest.parent)
        jsonl.write_atomic(dest, data)

    def _run(self) -> None:
        try:
            self._record()
        except Exception as e:  # capture is best effort; the run goes on without it
            self.error = f"{type(e).__name__}: {e}"

    def _record(self) -> None:
        # Imported on the capture thread, not at the top: git and environment pull in gitpython and
        # importlib.metadata (tens of ms), which init() must not wait for.
        from . import environment, git

        t0 = time.perf_counter()
        meta: dict[str, Any] = environment.machine()
        program = self._program
        script = Path(program) if os.path.isabs(program) else None
        if (
            script is not None
            and script.suffix != ".py"
            and not script.is_relative_to(Path(self._cwd).absolute())
        ):
            # A wrapped executable from elsewhere (`runstore run -- torchrun …`): not the user's code,
            # neither its repository nor a file to copy. A script of the user's (`./train.sh`) is.
            script = None
        root = Path(self._cwd)
        if self._git:
            # The script's repository if it lives in one (cwd may be elsewhere); else the cwd's.
            start = script.parent if script is not None and git.find_root(script.parent) else self._cwd
            info, diff = git.capture(start, want_diff=self._diff)
            if info:
                meta["git"] = info
                if info.get("root"):
                    root = Path(info["root"])
                    meta["root"] = info["root"]
            if diff:
                self._write(self._ref.diff_patch, diff)
        meta.setdefault("root", str(root))
        if script is not None and script.is_file():
            try:
                meta["codePath"] = str(script.relative_to(root))
            except ValueError:
                meta["codePath"] = script.name
            meta["codePathLocal"] = os.path.relpath(script, self._cwd)
            if self._save_code:
                dest = self._ref.code_file(meta["codePath"])
                make_dirs(dest.parent)
                shutil.copyfile(script, dest)
        self._write(self._ref.requirements, environment.requirements_cached(self._store).encode())
        meta["capture_seconds"] = round(time.perf_counter() - t0, 4)
        self._write_event({"t": "meta", "set": meta})
