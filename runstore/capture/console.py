"""Console capture to files/output.log at the file-descriptor level (docs/COMPAT.md §13.2, issue 3).

    cap = start(ref.output_log)   # None: not capturing, nothing changed
    ...
    if cap is not None:
        cap.stop()

`start()` points fds 1 and 2 at two pipes read by a small tee process (`_tee.py`), which copies every
chunk unchanged to the original stdout/stderr and a cleaned copy (`OutputLog`) to output.log. Being at
the fd level, output of C extensions and of child processes is captured too; being another process, the
tee still drains the pipes into output.log when the training process is killed.

Safety: capture never raises and never takes training down. The training process keeps a read end of
each pipe, so a dead tee can never turn a print into EPIPE/BrokenPipeError; a guard thread notices the
tee's death (a "lifeline" pipe reaches EOF), forwards what the tee left in the pipes, restores the
original fds and warns once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..base import env as _env
from ..base import term
from ._tee import OutputLog, pump

__all__ = ["ConsoleCapture", "OutputLog", "enabled", "start"]

TEE = Path(__file__).with_name("_tee.py")
READY_TIMEOUT = 3.0  # seconds for the tee to start, at worst (it takes ~20 ms); then: no capture
PIPE_SIZE = 1 << 20  # Linux's default limit for unprivileged processes (/proc/sys/fs/pipe-max-size)

_lock = threading.Lock()
_active: ConsoleCapture | None = None


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """False when the console setting is `off` (RUNSTORE_CONSOLE, else WANDB_CONSOLE); every other
    value (auto, wrap, redirect, wrap_raw, wrap_emu, unset) means capture at the fd level."""
    return str(_env.get("console", env)).strip().lower() != "off"


def _flush_python() -> None:
    seen: set[int] = set()
    for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        if s is None or id(s) in seen:
            continue
        seen.add(id(s))
        try:
            s.flush()
        except Exception:
            pass


_fflush: list[Any] = []


def _flush_c() -> None:
    # C extensions print through stdio, which buffers per process; fflush(NULL) puts what they printed
    # so far on the fd it was meant for, before the fd changes.
    try:
        if not _fflush:
            import ctypes

            _fflush.append(ctypes.CDLL(None).fflush)
        _fflush[0](None)
    except Exception:
        pass


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def _grow_pipe(fd: int) -> None:
    # A bigger pipe absorbs bursts (and gives the guard room to act) before a writer ever blocks.
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except Exception:
        pass  # not Linux, or over the user's pipe quota: the default size works, only less smoothly


def _line_buffer(stream: Any) -> bool:
    # A block-buffered sys.stdout (stdout was a file or pipe at startup) holds up to 8 KiB of prints in
    # the process, where a kill loses them; line buffering puts each line in the pipe as it is printed.
    try:
        if stream is not None and not stream.line_buffering:
            stream.reconfigure(line_buffering=True)
            return True
    except Exception:
        pass
    return False


def start(log_path: str | os.PathLike[str]) -> ConsoleCapture | None:
    """Capture fds 1 and 2 into `log_path` (appended to) while they still reach the terminal.

    Returns None, with nothing changed, when capture cannot start: not POSIX, a frozen app, fd 1 or 2
    closed, the log not writable, the tee not spawnable, or a capture already active in this process.
    """
    global _active
    if os.name != "posix" or getattr(sys, "frozen", False) or not sys.executable:
        return None
    with _lock:
        if _active is not None and _active.active and _active._owner == os.getpid():
            return None
        try:
            cap = _start(Path(log_path))
        except Exception:
            cap = None
        _active = cap
        return cap


def _start(log_path: Path) -> ConsoleCapture | None:
    try:
        os.fstat(1)
        os.fstat(2)
    except OSError:
        return None
    fds: list[int] = []
    try:
        log_fd = _high(
            fds,
            os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o664),
        )
        saved = (_high(fds, os.dup(1)), _high(fds, os.dup(2)))
        r_out, w_out = (_high(fds, fd) for fd in os.pipe())
        r_err, w_err = (_high(fds, fd) for fd in os.pipe())
        life_r, life_w = (_high(fds, fd) for fd in os.pipe())
        _grow_pipe(w_out)
        _grow_pipe(w_err)
        _flush_python()
        _flush_c()
        proc = subprocess.Popen(
            [sys.executable, "-S", "-I", str(TEE), str(log_fd), str(r_out), str(r_err), str(life_w)],
            pass_fds=(log_fd, r_out, r_err, life_w),
            stdin=subprocess.DEVNULL,
            close_fds=True,
            # Its own session: Ctrl-C, SIGHUP and process-group kills meant for training do not cut the
            # tee off before it has drained what training printed on the way down.
            start_new_session=True,
        )
    except Exception:
        _close(*fds)
        return None
    # Only the tee may hold the lifeline's write end, so its EOF means exactly "the tee is gone".
    _close(log_fd, life_w)
    if not _wait_ready(life_r, READY_TIMEOUT):
        # It could not start (a broken interpreter, no memory, ...): give up with nothing changed. It
        # gets EOF on its pipes and exits by itself if it was only slow.
        _close(life_r, r_out, w_out, r_err, w_err, *saved)
        try:
            proc.wait(0.1)
        except Exception:
            pass
        return None
    _flush_python()  # what was printed while the tee started is not part of the run
    try:
        os.dup2(w_out, 1)
        try:
            os.dup2(w_err, 2)
        except OSError:
            os.dup2(saved[0], 1)
            raise
    except OSError:
        _close(w_out, w_err, life_r, r_out, r_err, *saved)
        return None  # the tee sees EOF and exits by itself
    _close(w_out, w_err)
    cap = ConsoleCapture(proc, saved, (r_out, r_err), log_path)
    if not cap._start_guard(life_r):
        cap.stop()  # without a guard a dead tee could hang training: do not capture at all
        return None
    return cap


def _high(opened: list[int], fd: int) -> int:
    # With stdin closed (daemons, some schedulers) a new fd can be 0, which the tee's stdin=DEVNULL would
    # overwrite in the child; and 1 or 2 would be clobbered by our own dup2. Move such fds above 2.
    opened.append(fd)
    if fd > 2:
        return fd
    import fcntl

    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    opened.append(high)
    os.close(fd)
    opened.remove(fd)
    return high


def _wait_ready(life_r: int, timeout: float) -> bool:
    # Waiting costs the tee's interpreter startup (~15 ms) once per run, and buys two things: a tee that
    # cannot start is found before any fd changes, and output printed right after start() is not held
    # in the pipes, where the order between stdout and stderr would be lost.
    import select

    try:
        p = select.poll()  # not select(): a training process may well have fds above 1024
        p.register(life_r, select.POLLIN)
        return bool(p.poll(timeout * 1000)) and os.read(life_r, 1) == b"r"
    except OSError:
        return False


class ConsoleCapture:
    """An active capture; `stop()` ends it. Only the process that started it can stop it."""

    def __init__(
        self, proc: subprocess.Popen[bytes], saved: tuple[int, int], reads: tuple[int, int], log_path: Path
    ) -> None:
        self._proc = proc
        self._saved = saved  # dups of the original fds 1 and 2
        self._reads = reads  # our read ends of the two pipes: never read unless the tee dies
        self._log_path = log_path
        self._owner = os.getpid()
        self._lock = threading.Lock()
        self._restored = False
        self._closed = False
        self.failed = False  # the tee died while capturing
        self._guard: threading.Thread | None = None
        self._buffered = [s for s in (sys.stdout, sys.stderr) if _line_buffer(s)]

    @property
    def pid(self) -> int:
        """The tee process's pid."""
        return self._proc.pid

    @property
    def active(self) -> bool:
        return not self._restored

    def _start_guard(self, life_r: int) -> bool:
        try:
            t = threading.Thread(target=self._watch, args=(life_r,), name="runstore-console", daemon=True)
            t.start()
        except Exception:
            _close(life_r)
            return False
        self._guard = t
        return True

    def _restore(self) -> None:
        with self._lock:
            if self._restored:
                return
            self._restored = True
            for saved, fd in zip(self._saved, (1, 2), strict=True):
                try:
                    os.dup2(saved, fd)
                except OSError:
                    pass

    def _watch(self, life_r: int) -> None:
        try:
            while os.read(life_r, 1):
                pass
        except OSError:
            pass
        _close(life_r)
        try:
            self._proc.wait(timeout=1.0)  # reap it; fails harmlessly if someone else already did
        except Exception:
            pass
        with self._lock:
            if self._restored and self._proc.returncode == 0:
                return  # stop() ended the capture and the tee finished normally
            self.failed = True
        # The tee died under us. Forward what it left in the pipes first, while fds 1 and 2 still point
        # at them, so old output is not printed after new output; then give training its fds back.
        try:
            log: OutputLog | None = OutputLog(self._log_path)
        except Exception:
            log = None
        sources = dict(zip(self._reads, self._saved, strict=True))
        log = pump(sources, log, idle_return=1.0)
        self._restore()
        code = self._proc.returncode
        why = f"exit status {code}" if code is not None and code >= 0 else f"signal {-(code or 0)}"
        term.warn(
            f"console capture stopped: its tee process ended unexpectedly ({why}); "
            f"output from now on reaches the terminal but not {self._log_path.name}",
            once_key="console-tee-died",
        )
        # Child processes may still hold the pipes: keep forwarding their output until they close them.
        log = pump(sources, log)
        if log is not None:
            log.close()

    def stop(self, timeout: float = 5.0) -> bool:
        """End capture: fds 1 and 2 back to the originals, then wait up to `timeout` seconds for the tee to
        write out everything. True when output.log is complete; False when the tee is still busy (a child
        process still holds the captured fds; it keeps forwarding until that child closes them).
        Idempotent; never raises."""
        global _active
        if os.getpid() != self._owner:
            return False  # a forked child: the capture belongs to its parent
        _flush_python()
        _flush_c()
        self._restore()
        for s in self._buffered:
            try:
                s.reconfigure(line_buffering=False)  # type: ignore[union-attr]
            except Exception:
                pass
        self._buffered = []
        if _active is self:  # no _lock: start() holds it when it calls stop() on a failed start
            _active = None
        guard = self._guard
        if guard is not None:
            guard.join(timeout)
            if guard.is_alive():
                return False
        if not self._closed:
            self._closed = True
            _close(*self._reads, *self._saved)
        return True
