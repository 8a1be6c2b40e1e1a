"""The browser tier (`make test-ui`): `runstore ui` served by a real `runstore ui` process, driven by
Debian's chromium (/usr/bin/chromium) through Playwright. Playwright never downloads a browser here
(`playwright install` cannot work on these machines): it launches the system one.

`make test` does not collect this directory (it needs chromium and takes a browser per worker); it runs
only with RUNSTORE_UI_TESTS=1, and then a missing chromium is a failure, never a silent skip.

Fixtures:
* `browser` (session): a headless chromium;
* `page`: a fresh context and page whose console errors, uncaught exceptions and failed requests (HTTP
  status >= 400 included) go to `page_errors`;
  a full-page screenshot goes to the test's tmp_path at teardown (and its path into the report of a
  failed test); `screenshot(name)` takes one more;
* `ui`: `ui(store_dir, *args) -> base_url` starts `runstore ui --dir STORE --port 0` and, at teardown,
  stops it with SIGINT and checks that it exited 0 within 5 s (Ctrl-C must stop it cleanly);
* `demo_store`: a store with a few real runs (made by scripts that `import runstore as wandb`).
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_child_env, run_script

ENABLED = os.environ.get("RUNSTORE_UI_TESTS") == "1"
collect_ignore_glob = [] if ENABLED else ["*"]

CHROMIUM = "/usr/bin/chromium"
# what a headless chromium as root in a container needs, and nothing that phones home; Playwright gives
# each launch a fresh --user-data-dir of its own in a tmp dir (it refuses one in `args`)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 20.0  # seconds for `runstore ui` to print its URL and answer /healthz
STOP_TIMEOUT = 5.0  # seconds for it to exit after SIGINT


def runstore_exe() -> str:
    """The `runstore` console script of the interpreter running the tests (.venv/bin/runstore)."""
    exe = shutil.which("runstore", path=str(Path(sys.executable).parent))
    assert exe, f"no runstore script next to {sys.executable}: pip install -e '.[dev]'"
    return exe


@pytest.fixture(scope="session", autouse=True)
def _chromium_present() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"RUNSTORE_UI_TESTS=1 but there is no {CHROMIUM}: install Debian's chromium "
            "(apt-get install -y chromium chromium-driver, as `make test-ui` does)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def browser(_chromium_present: None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page_errors() -> list[str]:
    """The console errors, uncaught exceptions and failed requests of the `page` fixture's page."""
    return []


@pytest.fixture
def page(browser: Any, page_errors: list[str], tmp_path: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.set_default_timeout(10_000)
    p.on(
        "console", lambda m: page_errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None
    )
    p.on("pageerror", lambda e: page_errors.append(f"pageerror: {e}"))
    # a console "Failed to load resource" names no URL: these do
    p.on("response", lambda r: page_errors.append(f"http {r.status}: {r.url}") if r.status >= 400 else None)
    p.on("requestfailed", lambda r: page_errors.append(f"request failed: {r.url}: {r.failure}"))
    try:
        yield p
    finally:
        try:
            p.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        except Exception:
            pass  # a page that crashed or closed: the test says why
        context.close()


@pytest.fixture
def screenshot(page: Any, tmp_path: Path) -> Callable[[str], Path]:
    """`screenshot(name)`: a full-page screenshot of `page` at tmp_path/NAME.png; returns its path."""

    def take(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test's report names a screenshot of the page as it was when it failed."""
    outcome = yield
    rep = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    if rep.when == "call" and rep.failed and "page" in funcargs and "tmp_path" in funcargs:
        path = Path(funcargs["tmp_path"]) / "failure.png"
        try:
            funcargs["page"].screenshot(path=str(path), full_page=True)
            rep.sections.append(("screenshot", str(path)))
        except Exception as e:
            rep.sections.append(("screenshot", f"none: {e}"))


class UiServer:
    """One `runstore ui` process."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, stderr_path: Path) -> None:
        self.argv = argv
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self.url = self._read_url()
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])
        self._wait_healthy()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def _read_url(self) -> str:
        lines: queue.Queue[bytes] = queue.Queue()
        out = self.proc.stdout
        assert out is not None
        threading.Thread(target=lambda: lines.put(out.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=START_TIMEOUT).decode().strip()
        except queue.Empty:
            self.kill()
            raise AssertionError(f"{self.argv} printed no URL in {START_TIMEOUT}s: {self.stderr()}") from None
        if not line.startswith("http://"):
            self.kill()
            raise AssertionError(
                f"{self.argv}: first line {line!r}, not a URL (exit {self.proc.poll()}): {self.stderr()}"
            )
        return line

    def _wait_healthy(self) -> None:
        import httpx

        deadline = time.monotonic() + START_TIMEOUT
        last: object = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                r = httpx.get(self.url + "healthz", timeout=2)
                if r.status_code == 200 and r.json().get("ok"):
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as e:
                last = e
            time.sleep(0.05)
        self.kill()
        raise AssertionError(
            f"{self.url}healthz never answered ({last}; exit {self.proc.poll()}): {self.stderr()}"
        )

    def stop(self) -> int | None:
        """SIGINT (what Ctrl-C sends), then the exit code; None if it did not exit within STOP_TIMEOUT
        (it is killed then)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc: int | None = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
            self.kill()
        self._close()
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()


class UiFactory:
    """`ui(store_dir, *args) -> base_url` (with a trailing slash); `ui.server(url)` is its UiServer."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.servers: list[UiServer] = []

    def __call__(self, store_dir: str | os.PathLike[str], *args: str) -> str:
        argv = [runstore_exe(), "ui", "--dir", str(store_dir), "--port", "0", *args]
        env = clean_child_env(self.tmp_path, COLUMNS="200")
        srv = UiServer(argv, env, self.tmp_path, self.tmp_path / f"ui-{len(self.servers)}.stderr")
        self.servers.append(srv)
        return srv.url

    def server(self, url: str) -> UiServer:
        return next(s for s in self.servers if s.url == url)

    def stop_all(self) -> list[str]:
        problems = []
        for s in self.servers:
            if s.proc.returncode is not None and s.proc.stdout is not None and s.proc.stdout.closed:
                continue  # stopped by the test
            rc = s.stop()
            if rc != 0:
                what = "did not exit within 5 s of SIGINT" if rc is None else f"exited {rc} on SIGINT"
                problems.append(f"{s.url}: {what}: {s.stderr()[-2000:]}")
        return problems


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[UiFactory]:
    factory = UiFactory(tmp_path)
    try:
        yield factory
    finally:
        problems = factory.stop_all()
        assert not problems, "\n".join(problems)


DEMO_SCRIPT = """
import math
import runstore as wandb

for i, lr in enumerate([0.01, 0.05]):
    run = wandb.init(project="demo", dir={dir!r}, config={{"lr": lr, "arch": "mlp"}}, name=f"run-{{i}}")
    for step in range(100):
        wandb.log({{"loss": math.exp(-lr * step) + 0.01 * i, "acc": 1 - math.exp(-lr * step)}})
    run.summary["best_acc"] = 1 - math.exp(-lr * 99)
    run.finish()
"""


def make_store(tmp_path: Path, script: str = DEMO_SCRIPT) -> Path:
    """Real runs in tmp_path/.wandb, made by a script in a fresh interpreter; returns the store."""
    p = run_script(script.format(dir=str(tmp_path)), tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    store = tmp_path / ".wandb"
    assert store.is_dir(), p.stderr[-3000:]
    return store


@pytest.fixture
def demo_store(tmp_path: Path) -> Path:
    """A store with two finished runs of project `demo` (100 steps of loss/acc, a config, a summary)."""
    return make_store(tmp_path)
