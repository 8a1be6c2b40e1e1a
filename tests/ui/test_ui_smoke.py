"""`runstore ui` end to end: the page loads in a real browser, the vendored uPlot is served and runs, and
the process behaves (Ctrl-C, a busy port, a public address, foreign Host headers, writes)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
from conftest import clean_child_env

from ui.conftest import STOP_TIMEOUT, runstore_exe

UPLOT = "ui/vendor/uplot/uPlot.iife.min.js"
UPLOT_CSS = "ui/vendor/uplot/uPlot.min.css"


def test_index_loads_without_console_errors(ui, demo_store, page, page_errors):
    base = ui(demo_store)
    resp = page.goto(base)
    assert resp is not None and resp.status == 200
    assert "text/html" in resp.headers["content-type"]
    page.wait_for_load_state("networkidle")
    assert page.title() == "runstore"
    assert page_errors == []


def test_uplot_is_served_and_runs(ui, demo_store, page, page_errors):
    base = ui(demo_store)
    r = httpx.get(base + UPLOT)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.text.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.")
    css = httpx.get(base + UPLOT_CSS)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")

    # under the dashboard's own origin and CSP (script-src 'self'), whatever its pages load themselves
    page.goto(base, wait_until="networkidle")
    page_errors.clear()
    # what a page script does: load it, then draw a chart (its canvas) from 10,000 points
    page.add_script_tag(url=base + UPLOT)
    page.add_style_tag(url=base + UPLOT_CSS)
    assert page.evaluate("typeof uPlot") == "function"
    drawn = page.evaluate(
        """() => {
            const host = document.createElement("div");
            document.body.appendChild(host);
            const xs = Array.from({length: 10000}, (_, i) => i);
            const ys = xs.map(x => Math.exp(-x / 2000));
            const u = new uPlot({width: 600, height: 300, series: [{}, {label: "loss", stroke: "red"}]},
                                [xs, ys], host);
            const c = host.querySelector("canvas");
            return {points: u.data[0].length, canvas: !!c && c.width > 0 && c.height > 0};
        }"""
    )
    assert drawn == {"points": 10000, "canvas": True}
    assert page_errors == []


def test_ctrl_c_stops_it_cleanly(ui, demo_store):
    base = ui(demo_store)
    srv = ui.server(base)
    assert httpx.get(base + "healthz").json()["ok"] is True
    rc = srv.stop()  # SIGINT, as Ctrl-C sends, then at most STOP_TIMEOUT seconds
    assert rc == 0, f"exit {rc} (None: still running after {STOP_TIMEOUT}s): {srv.stderr()}"
    assert "Traceback" not in srv.stderr()


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [runstore_exe(), "ui", *args],
        cwd=tmp_path,
        env=clean_child_env(tmp_path, COLUMNS="200"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text
    return lines[0]


def test_busy_port_is_one_line(ui, demo_store, tmp_path):
    base = ui(demo_store)
    port = ui.server(base).port
    p = _cli(tmp_path, "--dir", str(demo_store), "--port", str(port))
    assert p.returncode != 0
    assert f"port {port} is in use" in _one_line(p.stderr)
    assert p.stdout == ""  # no URL printed for a server that never ran
    assert httpx.get(base + "healthz").status_code == 200  # the first one is unharmed


def test_public_address_without_tokens_is_refused(demo_store, tmp_path):
    p = _cli(tmp_path, "--dir", str(demo_store), "--host", "0.0.0.0", "--port", "0")
    assert p.returncode != 0
    line = _one_line(p.stderr)
    assert "0.0.0.0" in line and "token" in line
    assert p.stdout == ""


def test_foreign_host_header_is_refused(ui, demo_store):
    base = ui(demo_store)
    # DNS rebinding: a page of another site whose name resolves to 127.0.0.1
    for path in ("", "healthz", "api/v1/projects"):
        r = httpx.get(base + path, headers={"Host": "evil.example"})
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
    for host in ("127.0.0.1", "localhost"):
        assert httpx.get(base + "healthz", headers={"Host": host}).status_code == 200


def test_writes_are_refused(ui, demo_store):
    base = ui(demo_store)
    r = httpx.put(base + "api/v1/store/x", content=b"hello")
    assert r.status_code == 403, r.text[:300]
    assert not (demo_store / "x").exists()


def test_open_launches_the_browser_on_the_url(ui, demo_store, tmp_path, monkeypatch):
    """`--open`: the user's browser (Python's webbrowser, which honours $BROWSER) gets the URL printed."""
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "fake-browser"
    fake.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(fake))
    base = ui(demo_store, "--open")
    deadline = time.monotonic() + 10
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert opened.read_text().strip() == base


def test_a_directory_without_a_store_is_one_line(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    p = _cli(tmp_path, "--dir", str(empty / "missing"), "--port", "0")
    assert p.returncode != 0
    assert "no store" in _one_line(p.stderr)


def test_an_address_this_machine_does_not_have_is_one_line(demo_store, tmp_path):
    from runstore.server.tokens import Tokens

    Tokens(demo_store).create("ui", "read")  # a public address needs a token first
    p = _cli(tmp_path, "--dir", str(demo_store), "--host", "203.0.113.7", "--port", "0")  # TEST-NET-3
    assert p.returncode != 0
    assert "cannot listen on 203.0.113.7" in _one_line(p.stderr)
    assert p.stdout == ""
