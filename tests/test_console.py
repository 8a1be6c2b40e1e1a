"""Console capture (runstore.capture.console): fd-level tee into output.log, cleaned; never hurts training.

The capture tests run real child interpreters whose stdout/stderr are pipes read here, so "the terminal"
is what those pipes received and output.log is what the tee wrote.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runstore.capture import console
from runstore.capture.console import OutputLog

PY = sys.executable
pytestmark = pytest.mark.skipif(os.name != "posix", reason="fd-level capture is POSIX only")

PRELUDE = """\
import os, signal, subprocess, sys, time
from runstore.capture import console
LOG = sys.argv[1]
"""


def child(tmp_path: Path, body: str, timeout: float = 30) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    """Run PRELUDE + body in a fresh interpreter, stdout/stderr captured as bytes; returns the log path."""
    log = tmp_path / "output.log"
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_", "PYTHONUNBUF"))}
    p = subprocess.run(
        [PY, str(script), str(log)], capture_output=True, env=env, cwd=tmp_path, timeout=timeout
    )
    return p, log


def log_lines(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").split("\n")[:-1] if log.exists() else []


def clean(chunks: list[bytes], streams: list[int] | None = None) -> str:
    """What OutputLog writes for these chunks (all on one stream unless `streams` says otherwise)."""
    r, w = os.pipe()
    out = OutputLog(w)
    for i, c in enumerate(chunks):
        out.write(c, streams[i] if streams else 1)
    out.close()
    with os.fdopen(r, "rb") as f:
        return f.read().decode("utf-8")


# -- OutputLog: the cleaning, in process --------------------------------------------------------------
def test_plain_lines_pass_unchanged() -> None:
    assert clean([b"a\nb", b"c\n\n", b"tab\there\n"]) == "a\nbc\n\ntab\there\n"


def test_carriage_return_keeps_what_the_terminal_finally_showed() -> None:
    bar = b"".join(b"\rprogress %d%%" % i for i in range(0, 101, 2))
    assert clean([bar, b"\n"]) == "progress 100%\n"
    # padding written to erase a longer previous state is not content
    assert clean([b"epoch 10/10 loss 0.25\rdone" + b" " * 17 + b"\n"]) == "done\n"
    # a shorter rewrite without padding leaves the rest visible, as on a real terminal
    assert clean([b"hello\rHi\n"]) == "Hillo\n"
    # \r\n is a line ending, also when the chunk boundary falls between them
    assert clean([b"one\r\ntwo\r", b"\nthree\n"]) == "one\ntwo\nthree\n"


def test_ansi_sequences_are_removed_even_when_split_across_chunks() -> None:
    assert clean([b"\x1b[1;31mred\x1b[0m plain\x1b]0;title\x07 \x1b(Bx\n"]) == "red plain x\n"
    assert clean([b"\x1b[3", b"1mred\x1b", b"[0m\n"]) == "red\n"
    # erase-line then carriage return, as many progress bars clear their line
    assert clean([b"old text\x1b[2K\rnew\n"]) == "new\n"
    assert clean([b"abcdef\x1b[3D\x1b[K!\n"]) == "abc!\n"
    assert clean([b"12345\b\bX\n"]) == "123X5\n"


def test_invalid_utf8_and_split_multibyte_characters() -> None:
    text = "é € 😀 end\n".encode()
    assert clean([text[:1], text[1:4], text[4:9], text[9:]]) == "é € 😀 end\n"
    assert clean([b"bad \xff\xfe end\n"]) == "bad \ufffd\ufffd end\n"
    assert clean([b"cut \xe2\x82"]) == "cut \ufffd\n"  # a truncated character at EOF


def test_streams_keep_their_own_partial_lines() -> None:
    out = clean([b"\rbar 10%", b"warning: x\n", b"\rbar 20%\n"], streams=[2, 1, 2])
    assert out == "warning: x\nbar 20%\n"


def test_unfinished_lines_are_written_at_close_and_long_lines_are_not_hoarded() -> None:
    assert clean([b"no newline"]) == "no newline\n"
    r, w = os.pipe()
    out = OutputLog(w, max_line=100)
    out.write(b"x" * 250)
    os.set_blocking(r, False)
    assert os.read(r, 1000) == b"x" * 250 + b"\n"  # written before any newline or close
    out.close()
    os.close(r)


def test_write_errors_are_kept_not_raised(tmp_path: Path) -> None:
    out = OutputLog(os.open(os.devnull, os.O_RDONLY))  # every write fails with EBADF
    out.write(b"line\n")
    assert isinstance(out.error, OSError)
    out.close()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"a",
                b"bc",
                b"\n",
                b"\r",
                b"\x1b[",
                b"31m",
                b"\x1b[K",
                b"\xc3",
                b"\xa9",
                b"\xff",
                b"\b",
                b"\t",
                "€".encode(),
                b"\x1b]0;t\x07",
            ]
        ),
        max_size=40,
    ),
    st.data(),
)
def test_how_the_bytes_are_chunked_never_changes_the_log(parts: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(parts)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=8)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    assert clean(chunks) == clean([raw])


# -- enabled() ----------------------------------------------------------------------------------------
def test_enabled_follows_the_console_setting() -> None:
    assert console.enabled({})
    for v in ("auto", "wrap", "redirect", "wrap_raw", "wrap_emu", ""):
        assert console.enabled({"WANDB_CONSOLE": v}), v
    assert not console.enabled({"WANDB_CONSOLE": "off"})
    assert not console.enabled({"WANDB_CONSOLE": "OFF"})
    assert not console.enabled({"RUNSTORE_CONSOLE": "off", "WANDB_CONSOLE": "redirect"})
    assert console.enabled({"RUNSTORE_CONSOLE": "redirect", "WANDB_CONSOLE": "off"})


def test_start_that_cannot_capture_returns_none_and_changes_nothing(tmp_path: Path) -> None:
    p, _ = child(
        tmp_path,
        """
        import psutil
        before = [os.fstat(fd) for fd in (1, 2)]
        nfds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
        assert console.start(os.path.join(LOG, "no", "such", "dir")) is None
        after = [os.fstat(fd) for fd in (1, 2)]
        assert [(s.st_dev, s.st_ino) for s in before] == [(s.st_dev, s.st_ino) for s in after]
        assert nfds is None or len(os.listdir("/proc/self/fd")) == nfds, "leaked fds"
        assert psutil.Process().children() == [], "a tee was left running"
        # fd 1 closed: nothing to tee
        saved = os.dup(1)
        os.close(1)
        cap = console.start(LOG)
        os.dup2(saved, 1)
        assert cap is None
        print("still-here")
    """,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert p.stdout == b"still-here\n"


# -- capture, end to end ------------------------------------------------------------------------------
def test_python_fd_and_child_output_reach_both_log_and_terminal(tmp_path: Path) -> None:
    p, log = child(
        tmp_path,
        """
        cap = console.start(LOG)
        assert cap is not None
        print("py-out")
        os.write(1, b"fd-out\\n")
        print("py-err", file=sys.stderr)
        os.write(2, b"fd-err\\n")
        subprocess.run(["sh", "-c", "echo from-child; echo child-err >&2"], check=True)
        print("unflushed-tail", end="")
        assert cap.stop() is True
        assert cap.stop() is True  # idempotent
        print("after-stop")
    """,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert sorted(log_lines(log)) == sorted(
        ["py-out", "fd-out", "py-err", "fd-err", "from-child", "child-err", "unflushed-tail"]
    )
    assert p.stdout.decode().split("\n") == ["py-out", "fd-out", "from-child", "unflushed-tailafter-stop", ""]
    assert p.stderr.decode().split("\n") == ["py-err", "fd-err", "child-err", ""]


def test_progress_bar_and_colours_are_clean_in_the_log_raw_on_the_terminal(tmp_path: Path) -> None:
    p, log = child(
        tmp_path,
        """
        cap = console.start(LOG)
        for i in range(0, 101, 2):
            sys.stderr.write(f"\\r\\x1b[32mprogress {i}%\\x1b[0m")
            sys.stderr.flush()
        sys.stderr.write("\\n")
        print("\\x1b[1;31mred\\x1b[0m done")
        cap.stop()
    """,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert sorted(log_lines(log)) == ["progress 100%", "red done"]
    assert p.stderr.count(b"\r\x1b[32mprogress ") == 51
    assert p.stderr.endswith(b"\r\x1b[32mprogress 100%\x1b[0m\n")
    assert p.stdout == b"\x1b[1;31mred\x1b[0m done\n"


def test_nothing_printed_before_sigkill_is_lost(tmp_path: Path) -> None:
    p, log = child(
        tmp_path,
        """
        cap = console.start(LOG)
        for i in range(3000):
            print(f"line {i}")  # no flush: start() made stdout line-buffered
            if i % 100 == 0:
                os.write(2, b"fd %d\\n" % i)
        os.write(1, b"partial")
        os.kill(os.getpid(), signal.SIGKILL)
    """,
    )
    assert p.returncode == -9
    deadline = time.monotonic() + 5
    # run() returns once the tee closes our pipes, i.e. when it has finished: no wait needed; the
    # loop only guards against a slow file system
    while len(log_lines(log)) < 3031 and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = log_lines(log)
    assert [x for x in lines if x.startswith("line ")] == [f"line {i}" for i in range(3000)]
    assert [x for x in lines if x.startswith("fd ")] == [f"fd {i}" for i in range(0, 3000, 100)]
    assert lines[-1] == "partial"
    assert p.stdout.decode().split("\n")[-1] == "partial"


def test_a_dead_tee_does_not_hang_or_kill_training(tmp_path: Path) -> None:
    p, log = child(
        tmp_path,
        """
        orig = [(s.st_dev, s.st_ino) for s in map(os.fstat, (1, 2))]
        cap = console.start(LOG)
        for i in range(100):
            print(f"before {i}")
        # kill it idle: what a tee had read but not yet written when killed is lost, inevitably
        deadline = time.monotonic() + 10
        while open(LOG).read().count("before") < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(cap.pid, signal.SIGKILL)
        # kill() returns before the tee is gone; until it is, it could still read (and lose) a chunk of
        # what follows. Wait for the corpse: dead but not yet reaped shows as state Z.
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{cap.pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
            except OSError:
                break
            time.sleep(0.005)
        line = "x" * 60
        for i in range(30000):  # ~2 MB, more than the pipe holds: writers block until the guard acts
            print(f"after {i} {line}")
        os.write(1, b"fd-after\\n")
        deadline = time.monotonic() + 10
        while cap.active and time.monotonic() < deadline:
            time.sleep(0.01)
        assert cap.failed
        assert [(s.st_dev, s.st_ino) for s in map(os.fstat, (1, 2))] == orig, "fds not given back"
        cap.stop()
        print("end")
    """,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    out = p.stdout.decode().split("\n")
    # nothing lost, nothing duplicated; order around the moment of the failure may differ
    assert sorted(out) == sorted(
        [
            "",
            "fd-after",
            "end",
            *(f"before {i}" for i in range(100)),
            *(f"after {i} {'x' * 60}" for i in range(30000)),
        ]
    )
    assert out[-2:] == ["end", ""]
    assert p.stderr.decode().count("WARNING console capture stopped") == 1
    assert [x for x in log_lines(log) if x.startswith("before")] == [f"before {i}" for i in range(100)]


def test_flood_is_captured_completely(tmp_path: Path) -> None:
    n = 200_000
    p, log = child(
        tmp_path,
        f"""
        cap = console.start(LOG)
        row = "y" * 94
        for i in range({n}):
            print(f"{{i:05d}} {{row}}")
        assert cap.stop(timeout=60) is True
    """,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    assert len(p.stdout) >= 20_000_000
    lines = log_lines(log)
    assert len(lines) == n
    assert lines[0] == "00000 " + "y" * 94 and lines[-1] == f"{n - 1:05d} " + "y" * 94
    assert p.stdout.count(b"\n") == n


def test_only_one_capture_per_process_and_a_forked_child_cannot_stop_it(tmp_path: Path) -> None:
    p, log = child(
        tmp_path,
        """
        cap = console.start(LOG)
        assert console.start(LOG + ".2") is None
        pid = os.fork()
        if pid == 0:
            ok = cap.stop()
            print(f"child-stop {ok}")
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent-still-captured")
        cap.stop()
        again = console.start(LOG)  # a new capture after stop() is fine
        print("second")
        again.stop()
    """,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert log_lines(log) == ["child-stop False", "parent-still-captured", "second"]
    assert not (tmp_path / "output.log.2").exists()


def test_capture_works_with_stdin_closed(tmp_path: Path) -> None:
    # new fds then start at 0, where the tee's stdin would overwrite them
    p, log = child(
        tmp_path,
        """
        os.close(0)
        cap = console.start(LOG)
        assert cap is not None
        print("no-stdin")
        cap.stop()
    """,
    )
    assert p.returncode == 0, p.stderr.decode()
    assert log_lines(log) == ["no-stdin"]
    assert p.stdout == b"no-stdin\n"


def test_ctrl_c_to_the_process_group_still_logs_the_traceback(tmp_path: Path) -> None:
    log = tmp_path / "output.log"
    script = tmp_path / "script.py"
    script.write_text(
        PRELUDE
        + textwrap.dedent("""
        cap = console.start(LOG)
        print("training", flush=True)
        time.sleep(30)
    """)
    )
    p = subprocess.Popen(
        [PY, str(script), str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    assert p.stdout is not None
    assert p.stdout.readline() == b"training\n"
    os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = p.communicate(timeout=30)
    assert p.returncode == -signal.SIGINT  # Python re-raises an unhandled KeyboardInterrupt as SIGINT
    assert b"KeyboardInterrupt" in err
    assert "KeyboardInterrupt" in log_lines(log)[-1]
