"""The dashboard's pages in a real browser: what a person sees on the project page (the runs table, the
charts and their controls), a run page (overview, diff.patch, charts, system metrics, console, files),
the compare page, a live run growing, and names that look like HTML shown as text."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from conftest import clean_child_env

from ui.conftest import make_store

PROJECT_SCRIPT = """
import math
import runstore as wandb

for i, (lr, arch) in enumerate([(0.01, "mlp"), (0.05, "cnn"), (0.1, "mlp")]):
    run = wandb.init(project="demo", dir={dir!r}, config={{"lr": lr, "arch": arch, "html": "<img src=y onerror=alert(3)>"}},
                     name="<img src=x onerror=alert(1)>" if i == 0 else f"run-{{i}}", group=f"g-{{arch}}",
                     tags=["<b>t</b>"], notes="<script>alert(2)</script>")
    run.define_metric("secret", hidden=True)
    for step in range(3000):
        loss = math.exp(-lr * step / 30) + (40.0 if step == 1234 else 0.0)
        wandb.log({{"loss": loss, "acc": 1 - math.exp(-lr * step / 30), "secret": step}})
    run.summary["best_acc"] = 0.9  # a summary value with no history
    run.finish()
"""


def chart(page, title: str) -> dict:
    """A chart's series and points as drawn (chart.js keeps them on the element)."""
    return page.evaluate(
        """(title) => {
            const el = [...document.querySelectorAll('.chart')].find(c => c.dataset.title === title);
            if (!el || !el.chart.u) return null;
            const u = el.chart.u;
            const lines = u.series.slice(1).filter(s => !s.band);
            const ys = u.data.slice(1).flat().filter(v => v !== null && v !== undefined);
            return {series: lines.length, labels: lines.map(s => s.label), points: Number(el.dataset.points),
                    xmin: u.data[0][0], xmax: u.data[0][u.data[0].length - 1], ymax: Math.max(...ys),
                    bands: u.series.filter(s => s.band).length};
        }""",
        title,
    )


def loaded(page, title: str) -> None:
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.chart')].some(c => c.dataset.title === t && c.dataset.loaded === '1')",
        arg=title,
    )


def test_project_page_table_and_overlaid_charts(ui, tmp_path, page, page_errors, screenshot):
    store = make_store(tmp_path, PROJECT_SCRIPT)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(ui(store) + "#/p/demo")
    page.wait_for_selector("table.grid tbody tr")
    rows = page.locator(".runs-table tbody tr")
    assert rows.count() == 3
    # HTML in a name and a tag is shown as the characters it is
    assert page.get_by_text("<img src=x onerror=alert(1)>").count() >= 1
    assert page.locator(".tag", has_text="<b>t</b>").count() == 3
    assert (
        page.locator(".runs-table td", has_text="<img src=y onerror=alert(3)>").count() == 3
    )  # a config value
    assert page.locator(".runs-table img").count() == 0
    loaded(page, "loss")
    loaded(page, "acc")
    # `secret` is define_metric(hidden=True); `best_acc` was set in the summary, never logged
    page.wait_for_selector(".chart[data-title='best_acc'][data-loaded='1']", state="attached")
    titles = page.eval_on_selector_all(".chart:not([hidden])", "els => els.map(e => e.dataset.title)")
    assert sorted(titles) == ["acc", "loss"]
    loss = chart(page, "loss")
    assert loss["series"] == 3
    assert loss["points"] == 3 * 1000  # 3,000 steps each, as 1,000 buckets per run
    assert loss["bands"] == 6  # min and max of each run: points were aggregated
    assert loss["ymax"] >= 40.0  # the one-row spike is in its bucket's max
    screenshot("project")
    assert dialogs == [] and page_errors == []


def test_project_page_filter_sort_group_and_smoothing(ui, tmp_path, page, page_errors):
    store = make_store(tmp_path, PROJECT_SCRIPT)
    page.goto(ui(store) + "#/p/demo")
    loaded(page, "loss")
    # sort by a config column, both ways
    page.locator("th.sortable", has_text="config.lr").click()
    lrs = page.eval_on_selector_all(
        ".runs-table tbody tr td.num:nth-of-type(8)", "els => els.map(e => e.textContent)"
    )
    assert lrs == ["0.01", "0.05", "0.1"]
    page.locator("th.sortable", has_text="config.lr").click()
    lrs = page.eval_on_selector_all(
        ".runs-table tbody tr td.num:nth-of-type(8)", "els => els.map(e => e.textContent)"
    )
    assert lrs == ["0.1", "0.05", "0.01"]
    # group by arch: two groups, the charts show one mean series per group
    page.select_option("select.group-by", "config:arch")
    page.wait_for_function("() => document.querySelectorAll('.runs-table tr.group-row').length === 2")
    loaded(page, "loss")
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('.chart')].find(c => c.dataset.title === 'loss');"
        " return c && c.dataset.series === '2'; }"
    )
    assert sorted(chart(page, "loss")["labels"]) == ["arch=cnn (1)", "arch=mlp (2)"]
    # or by the runs' own group (init(group=)), as wandb groups by default
    page.select_option("select.group-by", "group")
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('.chart')].find(c => c.dataset.title === 'loss');"
        " return c && c.chart.series.some(s => s.label.startsWith('group=')); }"
    )
    assert sorted(chart(page, "loss")["labels"]) == ["group=g-cnn (1)", "group=g-mlp (2)"]
    page.select_option("select.group-by", "")
    # filter with `runstore ls --filter` syntax
    page.fill("input.filter", "config.lr>0.02")
    page.press("input.filter", "Enter")
    page.wait_for_function("() => document.querySelectorAll('.runs-table tbody tr').length === 2")
    page.fill("input.filter", "config.lr>>0")
    page.press("input.filter", "Enter")
    page.wait_for_selector(".runs-table .error")
    assert "one operator" in page.locator(".runs-table .error").text_content()
    page_errors.clear()  # the 422 of the bad filter is the point
    page.fill("input.filter", "")
    page.press("input.filter", "Enter")
    page.wait_for_function("() => document.querySelectorAll('.runs-table tbody tr').length === 3")
    # smoothing: the chart draws the TensorBoard EMA of its points
    loaded(page, "acc")
    raw = page.evaluate(
        "() => [...document.querySelectorAll('.chart')].find(c => c.dataset.title === 'acc').chart.series[0].y.slice(0, 50)"
    )
    page.select_option("select.smoothing", "ema")
    page.wait_for_timeout(300)
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('.chart')].find(c => c.dataset.title === 'acc').chart.u.data[1].slice(0, 50)"
    )
    weight, last, out = 0.6, 0.0, []
    for i, y in enumerate(raw):
        last = last * weight + (1 - weight) * y
        out.append(last / (1 - weight ** (i + 1)))
    assert drawn == [pytest_approx(v) for v in out]
    assert drawn != raw
    # any metric as the x axis: acc against loss, which falls as steps rise (drawn in ascending x)
    page.select_option("select.smoothing", "none")
    page.select_option("select.x-axis", "loss")
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('.chart')].find(c => c.dataset.title === 'acc');"
        " return c && c.chart.x === 'loss' && c.dataset.loaded === '1' && c.chart.u; }"
    )
    xs = page.evaluate(
        "() => Array.from([...document.querySelectorAll('.chart')].find(c => c.dataset.title === 'acc').chart.u.data[0])"
    )
    assert len(xs) > 100 and xs == sorted(xs) and max(xs) <= 41.0
    assert page_errors == []


def pytest_approx(v: float):
    import pytest

    return pytest.approx(v, rel=1e-9, abs=1e-12)


def test_zoom_reloads_the_range_at_full_resolution(ui, tmp_path, page, page_errors):
    store = make_store(tmp_path, PROJECT_SCRIPT)
    page.goto(ui(store) + "#/p/demo")
    loaded(page, "loss")
    box = page.locator(".chart[data-title='loss'] .u-over").bounding_box()
    assert box is not None
    # drag across the middle fifth of the plot
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_function(
        "() => { const c = document.querySelector(\".chart[data-title='loss']\").chart;"
        " return c.u && c.u.data[0][0] > 500; }"
    )
    z = chart(page, "loss")
    assert z["xmin"] >= 900 and z["xmax"] <= 2100
    span = z["xmax"] - z["xmin"] + 1
    assert z["points"] == 3 * span  # every step of the range: no aggregation left
    assert z["bands"] == 0
    page.locator(".chart[data-title='loss'] .u-over").dblclick()
    page.wait_for_function(
        "() => document.querySelector(\".chart[data-title='loss']\").chart.u.data[0][0] < 10"
    )
    assert chart(page, "loss")["points"] == 3000
    assert page_errors == []


RUN_SCRIPT = """
import subprocess, sys
import runstore as wandb

run = wandb.init(project="demo", dir={dir!r}, config={{"lr": 0.1, "layers": {{"n": 3}}}}, name="patched",
                 notes="a note")
for step in range(50):
    wandb.log({{"loss": 1 / (step + 1)}})
print("hello from the console")
run.summary["best"] = 0.5
run.finish()
"""


def test_run_page_overview_patch_charts_console_and_files(ui, tmp_path, page, page_errors, screenshot):
    # a git repo with an uncommitted change: the run records its commit and diff.patch
    env = clean_child_env(tmp_path)
    for cmd in (
        ["git", "init", "-q"],
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(cmd, cwd=tmp_path, check=True, env=env)
    (tmp_path / "model.py").write_text("layers = 3\n")
    subprocess.run(["git", "add", "model.py"], cwd=tmp_path, check=True, env=env)
    subprocess.run(
        ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "model"],
        cwd=tmp_path,
        check=True,
        env=env,
    )
    (tmp_path / "model.py").write_text("layers = 4  # tried deeper\n")
    store = make_store(tmp_path, RUN_SCRIPT)
    base = ui(store)
    rid = next((store / "projects" / "demo" / "runs").iterdir()).name
    page.goto(base + f"#/p/demo/r/{rid}?tab=overview")
    page.wait_for_selector("pre.patch")
    assert page.locator("pre.patch .add", has_text="layers = 4  # tried deeper").count() == 1
    assert page.locator("pre.patch .del", has_text="layers = 3").count() == 1
    text = page.locator(".overview").text_content()
    assert "layers.n" in text and "best" in text and "a note" in page.locator(".run-head").text_content()
    assert "runstore restore " + rid in text
    screenshot("run-overview")
    page.goto(base + f"#/p/demo/r/{rid}?tab=charts")
    loaded(page, "loss")
    c = chart(page, "loss")
    assert c["series"] == 1 and c["points"] == 50 and c["bands"] == 0
    screenshot("run-charts")
    page.goto(base + f"#/p/demo/r/{rid}?tab=console")
    page.wait_for_function(
        "() => document.querySelector('pre.console') && document.querySelector('pre.console').textContent.includes('hello from the console')"
    )
    page.goto(base + f"#/p/demo/r/{rid}?tab=files")
    page.wait_for_selector("table.files")
    names = page.eval_on_selector_all(
        "table.files tbody tr td:first-child", "els => els.map(e => e.textContent)"
    )
    assert "output.log" in names and "diff.patch" in names
    assert page_errors == []


def test_compare_page_shows_what_differs_and_overlays(ui, tmp_path, page, page_errors):
    store = make_store(tmp_path, PROJECT_SCRIPT)
    page.goto(ui(store) + "#/p/demo")
    loaded(page, "loss")
    boxes = page.locator(".runs-table tbody tr input[type=checkbox]")
    boxes.nth(2).uncheck()  # compare two of the three
    page.locator("button.compare").click()
    page.wait_for_selector("table.compare")
    rows = page.locator("table.compare tr.diff-row")
    keys = rows.evaluate_all("els => els.map(e => e.firstChild.textContent)")
    # newest first: run-2 (0.1, mlp) and run-1 (0.05, cnn) stay selected
    assert {"lr", "arch", "loss"} <= set(keys)
    heads = page.eval_on_selector_all("table.compare thead th", "els => els.length")
    assert heads == 3  # the key column and two runs
    loaded(page, "loss")
    assert chart(page, "loss")["series"] == 2
    assert page_errors == []


LIVE_SCRIPT = """
import sys, time
import runstore as wandb

run = wandb.init(project="live", dir={dir!r})
for step in range(10_000):
    wandb.log({{"loss": 1 / (step + 1)}})
    print(f"line {{step}}", flush=True)
    time.sleep(0.05)
"""


@contextlib.contextmanager
def live_run(tmp_path: Path, script: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A training script of project `live` running in the background, once its history exists: (its
    process, its run id). Killed at the end if it is still running."""
    path = tmp_path / "live.py"
    path.write_text(script.format(dir=str(tmp_path)))
    env = clean_child_env(tmp_path)
    proc = subprocess.Popen([sys.executable, str(path)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        runs = tmp_path / ".wandb" / "projects" / "live" / "runs"
        deadline = time.monotonic() + 20
        while not (runs.is_dir() and any((p / "history.jsonl").exists() for p in runs.iterdir())):
            assert time.monotonic() < deadline and proc.poll() is None, "the live run did not start"
            time.sleep(0.1)
        yield proc, next(runs.iterdir()).name
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_live_run_grows_on_its_page(ui, tmp_path, page, page_errors):
    with live_run(tmp_path, LIVE_SCRIPT) as (_, rid):
        base = ui(tmp_path / ".wandb")
        page.goto(base + f"#/p/live/r/{rid}?tab=charts")
        loaded(page, "loss")
        first = chart(page, "loss")["points"]
        page.wait_for_function(
            "(n) => Number(document.querySelector(\".chart[data-title='loss']\").dataset.points) >= n + 20",
            arg=first,
            timeout=5000,
        )
        page.goto(base + f"#/p/live/r/{rid}?tab=console")
        page.wait_for_function(
            "() => document.querySelector('pre.console') && document.querySelector('pre.console').textContent.includes('line')"
        )
        n0 = page.evaluate("document.querySelector('pre.console').textContent.split('\\n').length")
        page.wait_for_function(
            "(n) => document.querySelector('pre.console').textContent.split('\\n').length > n + 10",
            arg=n0,
            timeout=5000,
        )
    assert page_errors == []


def test_live_charts_read_only_the_new_bytes(ui, tmp_path, page):
    requests: list[tuple[str, str | None]] = []
    with live_run(tmp_path, LIVE_SCRIPT) as (_, rid):
        base = ui(tmp_path / ".wandb")
        page.on("request", lambda r: requests.append((r.url, r.headers.get("range"))))
        page.goto(base + f"#/p/live/r/{rid}?tab=charts")
        loaded(page, "loss")
        page.wait_for_timeout(3500)
    tails = [(u, rng) for u, rng in requests if u.endswith("/history.jsonl")]
    assert len(tails) >= 2, requests
    starts = [int(rng.split("=")[1].rstrip("-")) for _, rng in tails]
    assert all(rng and rng.startswith("bytes=") for _, rng in tails)
    assert starts == sorted(starts) and starts[-1] > starts[0] > 0  # always from where the last read ended
    downsamples = [u for u, _ in requests if "/history/downsample" in u]
    assert len(downsamples) == 1, downsamples  # the history itself was read once


def test_metrics_json_is_what_the_page_reads(ui, tmp_path):
    import httpx

    store = make_store(tmp_path, PROJECT_SCRIPT)
    base = ui(store)
    rows = httpx.get(base + "api/v1/projects/demo/table").json()["runs"]
    assert json.dumps(rows)  # plain JSON: no NaN for the page's parser to trip on
    assert {r["name"] for r in rows} == {"<img src=x onerror=alert(1)>", "run-1", "run-2"}


def test_store_with_nothing_shows_an_empty_project_list(ui, tmp_path, page, page_errors):
    (tmp_path / ".wandb").mkdir()
    subprocess.run(
        [sys.executable, "-m", "runstore", "init"], cwd=tmp_path, env=clean_child_env(tmp_path), check=False
    )
    page.goto(ui(tmp_path / ".wandb"))
    page.wait_for_selector("h1")
    assert "No runs yet" in page.locator("main").text_content()
    assert page_errors == []


def test_unknown_pages_and_runs_say_so(ui, demo_store, page, page_errors):
    base = ui(demo_store)
    page.goto(base + "#/nowhere")
    page.wait_for_selector("main .error")
    assert "No such page" in page.locator("main").text_content()
    page.goto(base + "#/p/demo/r/nosuchrun")
    page.wait_for_selector("main .error")
    assert "no run" in page.locator("main .error").text_content()
    assert any("404" in e for e in page_errors)


def test_system_metrics_tab_charts_each_sampled_key(ui, tmp_path, page, page_errors):
    store = make_store(tmp_path, RUN_SCRIPT)
    run_dir = next((store / "projects" / "demo" / "runs").iterdir())
    # what the daemon samples (docs/FORMAT.md, system.jsonl), written here without waiting for one
    with open(run_dir / "system.jsonl", "a") as f:
        for i in range(20):
            row = {"_step": i, "_timestamp": 1_700_000_000 + i, "_runtime": float(i), "cpu": 10.0 + i}
            row.update({"memory_percent": 50.0, "gpu.0.gpu": float(i % 5), "network.sent": i * 1000})
            f.write(json.dumps(row) + "\n")
    page.goto(ui(store) + f"#/p/demo/r/{run_dir.name}?tab=system")
    page.wait_for_selector(".chart canvas")
    titles = page.eval_on_selector_all(".chart", "els => els.map(e => e.dataset.title)")
    assert sorted(titles) == ["cpu", "gpu.0.gpu", "memory_percent", "network.sent"]
    assert chart(page, "cpu")["points"] == 20 and chart(page, "cpu")["ymax"] == 29.0
    assert page_errors == []


def test_runstore_server_serves_the_pages_behind_a_token(tmp_path, page, page_errors):
    """The same pages from `runstore server`: no token, no data; the page asks for one, keeps it in a
    cookie, and shows the runs."""
    from remote_servers import RunstoreServer, create_token

    make_store(tmp_path, PROJECT_SCRIPT)
    server = RunstoreServer.start(str(tmp_path))
    try:
        token = create_token(str(tmp_path), scope="read")
        asked: list[str] = []

        def answer(dialog) -> None:
            asked.append(dialog.message)
            dialog.accept(token)

        page.on("dialog", answer)
        page.goto(server.url + "/#/p/demo")
        page.wait_for_selector(".runs-table tbody tr")
        assert len(asked) == 1 and "token" in asked[0]
        assert page.locator(".runs-table tbody tr").count() == 3
        loaded(page, "loss")
        assert chart(page, "loss")["series"] == 3
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["runstore_token"]["sameSite"] == "Strict"
    finally:
        server.stop()
    assert all(" 401: " in e or "401" in e for e in page_errors)  # only the first, tokenless answers


README_SCRIPT = """
import math, random
import runstore as wandb

random.seed(0)
for i, (lr, arch) in enumerate([(0.001, "resnet18"), (0.003, "resnet18"), (0.01, "vit-s"), (0.03, "vit-s")]):
    run = wandb.init(project="cifar10", dir={dir!r}, name=f"{{arch}}-lr{{lr}}", group=arch,
                     config={{"lr": lr, "arch": arch, "batch_size": 128, "epochs": 20}}, tags=["sweep-a"])
    for step in range(4000):
        loss = 2.3 * math.exp(-lr * step / 3) + 0.15 + random.gauss(0, 0.03) + (1.5 if (i, step) == (2, 2900) else 0)
        row = {{"train/loss": loss, "train/acc": 1 - loss / 2.6}}
        if step % 200 == 199:
            row["val/acc"] = 1 - loss / 2.4 + random.gauss(0, 0.01)
        wandb.log(row)
    run.finish()
"""


def test_readme_screenshots(ui, tmp_path, page):
    """The README's pictures of the project page and the run page, from a store like the demo's; with
    UI_SCREENSHOTS=DIR they are written there (`docs/img` is what the README shows)."""
    import os

    store = make_store(tmp_path, README_SCRIPT)
    out = Path(os.environ.get("UI_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    base = ui(store)
    page.set_viewport_size({"width": 1280, "height": 760})
    page.goto(base + "#/p/cifar10")
    loaded(page, "train/loss")
    loaded(page, "train/acc")
    page.screenshot(path=str(out / "ui-project.png"))
    rid = page.locator(".runs-table tbody tr", has_text="vit-s-lr0.01").get_attribute("data-id")
    page.goto(base + f"#/p/cifar10/r/{rid}")
    loaded(page, "train/loss")
    page.screenshot(path=str(out / "ui-run.png"))
    for name in ("ui-project.png", "ui-run.png"):
        assert (out / name).stat().st_size > 10_000


LIVE_MEDIA_SCRIPT = """
import time
import numpy as np
import runstore as wandb

run = wandb.init(project="live", dir={dir!r})
for step in range(10_000):
    shade = (step * 40) % 256
    row = {{"img": wandb.Image(np.full((8, 8, 3), shade, dtype=np.uint8)), "loss": 1 / (step + 1)}}
    if step >= 40:  # a media key logged for the first time while the page is open (12 s in)
        row["late"] = wandb.Histogram(np.arange(step))
    wandb.log(row)
    time.sleep(0.3)
"""


def test_a_live_runs_media_panel_shows_new_steps(ui, tmp_path, page, page_errors):
    with live_run(tmp_path, LIVE_MEDIA_SCRIPT) as (_, rid):
        page.goto(ui(tmp_path / ".wandb") + f"#/p/live/r/{rid}?tab=media")
        page.wait_for_selector(".media-view[data-key='img'][data-shown]")
        first = int(page.get_attribute(".media-view[data-key='img']", "data-shown"))
        page.wait_for_function(
            "(n) => Number(document.querySelector(\".media-view[data-key='img']\").dataset.shown) >= n + 3",
            arg=first,
            timeout=6000,
        )
        assert page.locator(".media-panel[data-key='late']").count() == 0
        page.wait_for_selector(".media-panel[data-key='late'] .media-view[data-shown]", timeout=25_000)
    assert page_errors == []


def test_a_live_run_grows_on_the_project_page_and_its_badge_settles(ui, tmp_path, page, page_errors):
    with live_run(tmp_path, LIVE_SCRIPT.replace("range(10_000)", "range(120)")) as (proc, _):
        page.goto(ui(tmp_path / ".wandb") + "#/p/live")
        page.wait_for_selector(".runs-table .badge.state-running")
        loaded(page, "loss")
        first = chart(page, "loss")["points"]
        page.wait_for_function(
            "(n) => Number(document.querySelector(\".chart[data-title='loss']\").dataset.points) >= n + 10",
            arg=first,
            timeout=5000,
        )
        assert proc.wait(timeout=30) == 0  # the run ends (120 steps of 0.05 s)
        page.wait_for_selector(".runs-table .badge.state-finished", timeout=10_000)
    assert page_errors == []


def test_time_axes_relative_and_wall(ui, tmp_path, page, page_errors):
    store = make_store(tmp_path, RUN_SCRIPT)
    rid = next((store / "projects" / "demo" / "runs").iterdir()).name
    page.goto(ui(store) + f"#/p/demo/r/{rid}?tab=charts")
    loaded(page, "loss")
    xs_of = "() => Array.from(document.querySelector(\".chart[data-title='loss']\").chart.u.data[0])"
    for axis in ("_runtime", "_timestamp"):
        page.select_option("select.x-axis", axis)
        page.wait_for_function(
            "(a) => { const c = document.querySelector(\".chart[data-title='loss']\");"
            " return c.chart.x === a && c.dataset.loaded === '1'; }",
            arg=axis,
        )
        xs = page.evaluate(xs_of)
        assert len(xs) == 50 and xs == sorted(xs)
        if axis == "_runtime":  # seconds since the run started
            assert 0 <= xs[0] < 60 and xs[-1] < 600
        else:  # wall time (epoch seconds), drawn with a time axis
            assert xs[0] > 1.5e9 and page.evaluate(
                "() => document.querySelector(\".chart[data-title='loss']\").chart.opts.timeX"
            )
    assert page_errors == []
