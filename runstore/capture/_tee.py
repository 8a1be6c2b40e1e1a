"""The tee process of console capture, and `OutputLog`, which turns raw console bytes into output.log.

Run as `python -S -I _tee.py LOG_FD OUT_FD ERR_FD LIFELINE_FD`: copies everything readable on OUT_FD to its own fd 1
and ERR_FD to its own fd 2 (the training process's original stdout/stderr), and a cleaned copy into
LOG_FD, until both reach EOF. It is a separate process so that output already written to the pipes still
reaches output.log when the training process is killed. Standard library only, and nothing imported
from runstore: `-S -I` keeps its startup short and independent of the training environment.
"""

from __future__ import annotations

import codecs
import os
import re
import select
import signal
import sys
import time
from collections.abc import Hashable

MAX_LINE = 1 << 16  # chars; longer unterminated lines are written out in pieces: bounded memory and
# bounded work per `\r` rewrite (a rewrite copies the line)
READ_SIZE = 1 << 16
_MAX_ESCAPE = 4096  # an unterminated escape sequence longer than this is garbage, not a split sequence

# Anything that needs the slow path: C0 controls except \t and \n, DEL, C1 controls.
_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TOKEN = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])"  # CSI; group 1 parameters, group 2 final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC (window titles, hyperlinks)
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS / SOS / PM / APC strings
    r"|\x1b[ -/]*[0-~]"  # every other escape (charset selection, keypad mode, save cursor, ...)
    r"|([\x00-\x08\x0a-\x1f\x7f-\x9f])"  # group 3: one control character
    r"|([^\x00-\x08\x0a-\x1f\x7f-\x9f]+)"  # group 4: printable text (tab included)
)
# An escape sequence cut off by the end of a chunk: its rest arrives with the next one.
_PARTIAL_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)\Z")


class _Line:
    """The unfinished line of one stream, as a terminal would show it: text plus a cursor column."""

    __slots__ = ("decoder", "text", "col", "rewritten", "pending")

    def __init__(self) -> None:
        # Incremental, so a multibyte character split across two reads decodes whole.
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.text = ""
        self.col = 0
        self.rewritten = False  # the cursor went back over this line (\r, \b, cursor moves)
        self.pending = ""  # an escape sequence still incomplete at the end of the last chunk

    def finish(self) -> str:
        text = self.text
        if self.rewritten:
            # Progress bars pad with spaces to erase a longer previous state; the padding is not content.
            text = text.rstrip(" ")
        self.text, self.col, self.rewritten = "", 0, False
        return text


class OutputLog:
    """Appends the cleaned console to a file: ANSI escapes removed, `\\r` rewrites collapsed to what the
    terminal finally showed, one line per `\\n`.

    `write(chunk, stream)` takes raw bytes as they come (any split, invalid UTF-8 included); each stream
    (stdout, stderr, ...) keeps its own unfinished line, so a warning on stderr never lands in the middle
    of a progress bar on stdout. Complete lines are written with one unbuffered `write()` per chunk, so
    they are in the file (the OS page cache) as soon as `write` returns; the unfinished lines are written
    by `close()`. Write errors (disk full, ...) never raise: the lines are dropped, the error is kept in
    `self.error`, and later lines are tried again.
    """

    def __init__(self, target: str | os.PathLike[str] | int, max_line: int = MAX_LINE) -> None:
        """`target`: a path (opened for appending) or an open fd, which the OutputLog then owns."""
        if isinstance(target, int):
            self.fd = target
        else:
            self.fd = os.open(
                target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW, 0o664
            )
        self.max_line = max_line
        self.error: OSError | None = None
        self._lines: dict[Hashable, _Line] = {}

    def write(self, data: bytes, stream: Hashable = 1) -> None:
        st = self._lines.get(stream)
        if st is None:
            st = self._lines[stream] = _Line()
        text = st.decoder.decode(data)
        if st.pending:
            text = st.pending + text
            st.pending = ""
        out: list[str] = []
        if st.col == len(st.text) and not _SPECIAL.search(text):
            # The common case (plain lines): no per-character work at all.
            parts = text.split("\n")
            if len(parts) > 1:
                out.append(st.text + parts[0])
                out.extend(parts[1:-1])
                st.text = ""
                st.rewritten = False
            st.text += parts[-1]
            st.col = len(st.text)
        else:
            self._emulate(st, text, out)
        if len(st.text) > self.max_line:
            out.append(st.finish())
        if out:
            out.append("")
            self._emit("\n".join(out))

    def close(self) -> None:
        """Write every unfinished line (as a line of its own) and close the file. Idempotent."""
        if self.fd < 0:
            return
        out: list[str] = []
        for st in self._lines.values():
            tail = st.decoder.decode(b"", final=True)
            if tail:
                self._emulate(st, tail, out)
            if st.text:
                out.append(st.finish())
        if out:
            out.append("")
            self._emit("\n".join(out))
        try:
            os.close(self.fd)
        except OSError:
            pass
        self.fd = -1

    def _emulate(self, st: _Line, text: str, out: list[str]) -> None:
        esc = text.rfind("\x1b")
        if esc >= 0 and len(text) - esc <= _MAX_ESCAPE and _PARTIAL_ESCAPE.match(text, esc):
            text, st.pending = text[:esc], text[esc:]
        for m in _TOKEN.finditer(text):
            run = m.group(4)
            if run is not None:
                line, col = st.text, st.col
                if col == len(line):
                    st.text = line + run
                elif col > len(line):
                    st.text = line + " " * (col - len(line)) + run
                else:
                    st.text = line[:col] + run + line[col + len(run) :]
                st.col = col + len(run)
                continue
            ctl = m.group(3)
            if ctl is not None:
                if ctl == "\n":
                    out.append(st.finish())
                elif ctl == "\r":
                    st.col, st.rewritten = 0, True
                elif ctl == "\b":
                    st.col, st.rewritten = max(0, st.col - 1), True
                # every other control character (bell, NUL, a stray ESC, ...) shows nothing
                continue
            final = m.group(2)
            if final is not None:
                self._csi(st, m.group(1), final)
            # OSC and other escapes change titles, modes, charsets: nothing that shows in a text log

    @staticmethod
    def _csi(st: _Line, params: str, final: str) -> None:
        # Only the sequences that move within, or erase, the current line; colours and the rest are
        # dropped. Moving to other lines (cursor up, as nested progress bars do) cannot be honoured:
        # finished lines are already in the file.
        n = int(params) if params.isdigit() else 0  # [0-?]* is ASCII, so isdigit() means int() works
        if final == "K":  # erase in line: 0 to the end, 1 to the start, 2 all of it
            st.rewritten = True
            if n == 0:
                st.text = st.text[: st.col]
            elif n == 1:
                st.text = " " * min(st.col + 1, len(st.text)) + st.text[st.col + 1 :]
            elif n == 2:
                st.text = ""
        elif final == "G":  # cursor to column n (1-based)
            st.col, st.rewritten = max(n, 1) - 1, True
        elif final == "C":  # cursor forward
            st.col += max(n, 1)
        elif final == "D":  # cursor back
            st.col, st.rewritten = max(0, st.col - max(n, 1)), True

    def _emit(self, text: str) -> None:
        data = text.encode("utf-8", "replace")
        try:
            _write_all(self.fd, data)
        except OSError as e:
            self.error = e


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            # Someone else's non-blocking fd (the file description is shared): wait until it drains.
            p = select.poll()
            p.register(fd, select.POLLOUT)
            p.poll(1000)
            continue
        view = view[n:]


def pump(
    sources: dict[int, int], log: OutputLog | None, idle_return: float | None = None
) -> OutputLog | None:
    """Copy each source fd to its destination fd (`sources`: source -> destination) and into `log`,
    until every source is at EOF; with `idle_return`, return as soon as nothing is readable, or after
    `idle_return` seconds. Never raises for I/O errors: a destination that fails is skipped from then on,
    a log that fails is dropped (and returned as None), so the other copies keep flowing."""
    poller = select.poll()
    for fd in sources:
        poller.register(fd, select.POLLIN)
    open_ = dict(sources)
    failed: set[int] = set()
    deadline = None if idle_return is None else time.monotonic() + idle_return
    while open_:
        events = poller.poll(0 if deadline is not None else None)
        if not events and deadline is not None:
            return log
        for fd, _ in events:
            try:
                data = os.read(fd, READ_SIZE)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                poller.unregister(fd)
                del open_[fd]
                continue
            dest = open_[fd]
            # The log first: if the terminal blocks (a paused ssh session, a full pipe), the file still
            # has everything.
            if log is not None:
                try:
                    log.write(data, fd)
                except Exception:
                    log = None  # a bug in cleaning must not stop the console from working
            if dest not in failed:
                try:
                    _write_all(dest, data)
                except OSError:
                    # EPIPE/EIO: the terminal or reader is gone. The training process must not notice.
                    failed.add(dest)
        if deadline is not None and time.monotonic() > deadline:
            return log
    return log


def main(argv: list[str]) -> int:
    # Terminal signals go to the training process, which may want to print its traceback or final
    # words; the tee stays until its pipes reach EOF, i.e. until every writer is gone.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    log_fd, out_fd, err_fd, life_fd = (int(a) for a in argv[1:5])
    log: OutputLog | None
    try:
        log = OutputLog(log_fd)
    except Exception:
        log = None
    # Tell start() we run; then keep the fd open without touching it: its EOF tells the training
    # process that the tee is gone, however it ends.
    try:
        os.write(life_fd, b"r")
    except OSError:
        return 0  # start() gave up waiting for us: nothing is or will be captured
    log = pump({out_fd: 1, err_fd: 2}, log)
    if log is not None:
        log.close()
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    # stop() waits for this exit: skip the interpreter's teardown, there is nothing left to flush.
    os._exit(code)
