"""The sweep and artifacts pages in a real browser, over stores made the way users make them: a grid
sweep run by `runstore sweep` + `runstore agent`, a Hyperband sweep that stops a bad trial, and a
script that logs two versions of an artifact from one run and uses the first in another.

Sweep page: the parallel-coordinates plot (an axis per swept parameter and the metric, a line per
finished trial, a link to its run), the best-runs table (best first), the trials' state badges
("stopped (hyperband)" for the trial Hyperband ended). Artifacts page: collections, versions with their
aliases, a manifest's file count, the lineage graph's nodes and edges."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_child_env

from ui.conftest import make_store, runstore_exe

TRAIN = """
import math
import runstore as wandb

run = wandb.init()
lr, arch = run.config.lr, run.config.arch
loss = (math.log10(lr) + 2.2) ** 2 + (0.1 if arch == "cnn" else 0.0)
for step in range(5):
    wandb.log({"loss": loss + (4 - step) * 0.5})
run.finish()
"""

GRID = """
name: gridsweep
method: grid
program: train.py
metric:
  name: loss
  goal: minimize
parameters:
  lr:
    values: [0.001, 0.01, 0.1]
  arch:
    values: [mlp, cnn]
  epochs:
    value: 5
"""

HB_TRAIN = """
import time
import runstore as wandb

run = wandb.init()
for i in range(40):
    wandb.log({"loss": float(run.config.x)})
    time.sleep(0.05 if run.config.x < 5 else 0.1)
"""

HB = """
name: hbsweep
method: grid
program: hb.py
metric:
  name: loss
  goal: minimize
early_terminate:
  type: hyperband
  min_iter: 3
  eta: 2
parameters:
  x:
    values: [1, 2, 9]
"""

ARTIFACTS = """
import os
import runstore as wandb

os.makedirs("data", exist_ok=True)
with open("ref.csv", "w") as f:
    f.write("a,b\\n1,2\\n")
run = wandb.init(project="arts", dir={dir!r}, name="producer")
for i in range(2):
    with open("data/train.txt", "w") as f:
        f.write(f"train {{i}}\\n")
    with open("data/test.txt", "w") as f:
        f.write("test\\n")
    art = wandb.Artifact("dataset", type="dataset")
    art.add_dir("data")
    if i == 1:
        art.add_file("ref.csv", name="extra/ref.csv")
        art.add_reference("file://" + os.path.abspath("ref.csv"), name="remote/ref.csv")
    run.log_artifact(art, aliases=["first"] if i == 0 else None)
run.finish()
run = wandb.init(project="arts", dir={dir!r}, name="consumer")
run.use_artifact("dataset:v0")
model = wandb.Artifact("model", type="model")
with open("model.bin", "wb") as f:
    f.write(b"weights")
model.add_file("model.bin")
run.log_artifact(model)
run.finish()
"""


def _loss(lr: float, arch: str) -> float:
    return (math.log10(lr) + 2.2) ** 2 + (0.1 if arch == "cnn" else 0.0)


def _cli(tmp_path: Path, *args: str, timeout: float = 180, **env: str) -> str:
    p = subprocess.run(
        [runstore_exe(), *args],
        cwd=tmp_path,
        env=clean_child_env(tmp_path, RUNSTORE_AGENT_POLL="0.1", RUNSTORE_CONSOLE="off", **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert p.returncode == 0, (args, p.stdout[-2000:], p.stderr[-3000:])
    return p.stdout + p.stderr


def run_sweep(
    tmp_path: Path, config: str, program: tuple[str, str], project: str, count: int, **env: str
) -> str:
    """A sweep made and run the way a user does it: `runstore sweep`, then `runstore agent --count N`."""
    (tmp_path / program[0]).write_text(program[1])
    cfg = tmp_path / f"{project}.yaml"
    cfg.write_text(config)
    out = _cli(tmp_path, "sweep", "--project", project, str(cfg))
    m = re.search(r"Created sweep with ID: (\w+)", out)
    assert m, out
    _cli(tmp_path, "agent", "--count", str(count), m.group(1), **env)
    return m.group(1)


RANDOM_TRAIN = """
import math
import runstore as wandb

run = wandb.init()
c = run.config
wandb.log({"val": {"loss": abs(math.log10(c.lr) + 2.5) + c.opt["momentum"]}})
"""

RANDOM = """
method: random
program: rnd.py
run_cap: 4
metric: {name: val.loss, goal: maximize}
parameters:
  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  opt:
    parameters:
      momentum: {min: 0.0, max: 0.9}
      name: {value: sgd}
"""


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("sweeps")
    # one more than the trials: the agent then finds the grid done, and the sweep reads FINISHED
    grid = run_sweep(tmp, GRID, ("train.py", TRAIN), "sp", 7)
    hb = run_sweep(tmp, HB, ("hb.py", HB_TRAIN), "hb", 4, WANDB_AGENT_KILL_DELAY="2")
    rnd = run_sweep(tmp, RANDOM, ("rnd.py", RANDOM_TRAIN), "rnd", 5)
    return {"store": tmp / ".wandb", "grid": grid, "hb": hb, "random": rnd}


def _goto(page: Any, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector(ready)


def test_sweep_page_plot_best_runs_and_states(ui, sweep_store, page, page_errors):
    base = ui(sweep_store["store"])
    _goto(page, f"{base}#/sweeps/{sweep_store['grid']}", "svg.parallel-coords")
    assert page.locator("h1").first.inner_text().startswith("gridsweep")
    assert page.locator(".sweep-method").inner_text() == "grid"
    assert page.locator(".sweep-metric").inner_text() == "loss (minimize)"
    assert "epochs" in page.locator(".sweep-config pre").inner_text()

    # one axis per swept parameter (lr, arch; `epochs` is a constant), the metric last
    axes = page.locator("svg.parallel-coords g.pc-axis")
    assert axes.count() == 3
    assert [axes.nth(i).get_attribute("data-name") for i in range(3)] == ["lr", "arch", "loss"]
    assert [axes.nth(i).get_attribute("data-scale") for i in range(3)] == ["linear", "categorical", "linear"]
    assert axes.nth(2).get_attribute("data-metric") == "1"
    ticks = axes.nth(1).locator("text.pc-tick").evaluate_all("ts => ts.map(t => t.dataset.label)")
    assert sorted(ticks) == ["cnn", "mlp"]

    # one polyline per finished trial, each through every axis, linking to its run
    lines = page.locator("svg.parallel-coords polyline.pc-line")
    assert lines.count() == 6
    states = {lines.nth(i).get_attribute("data-state") for i in range(6)}
    assert states == {"finished"}
    for i in range(6):
        assert len(lines.nth(i).get_attribute("points").split()) == 3
    colors = {lines.nth(i).get_attribute("stroke") for i in range(6)}
    assert len(colors) >= 5  # colored by the metric (six distinct losses)
    assert page.locator(".pc-legend-box").count() == 1

    # the best runs: lowest loss first, as the sweep's best_run says
    rows = page.locator("table.best-runs tbody tr")
    assert rows.count() == 6
    first = rows.first
    assert first.get_attribute("data-best") == "1"
    cells = first.locator("td").all_inner_texts()
    assert cells[0] == "1" and "0.01" in cells and "mlp" in cells
    assert float(cells[-1]) == pytest.approx(_loss(0.01, "mlp"), rel=1e-4)
    metric_col = [float(rows.nth(i).locator("td.metric").inner_text()) for i in range(6)]
    assert metric_col == sorted(metric_col)

    # every trial with its state badge
    trials = page.locator("table.trials tbody tr")
    assert trials.count() == 6
    assert set(trials.locator(".badge").all_inner_texts()) == {"finished"}

    # hovering a line highlights it and names its run; clicking opens the run
    best_id = first.get_attribute("data-run")
    line = page.locator(f'polyline.pc-line[data-run="{best_id}"]')
    # a point on the line (the middle of its first segment): the best line is drawn on top of the rest
    (x1, y1), (x2, y2) = [tuple(map(float, p.split(","))) for p in line.get_attribute("points").split()[:2]]
    box = page.locator("svg.parallel-coords").bounding_box()
    assert box is not None
    at = (box["x"] + (x1 + x2) / 2, box["y"] + (y1 + y2) / 2)
    page.mouse.move(*at)
    assert "focused" in (line.get_attribute("class") or "")
    assert page.locator(".pc-info a").get_attribute("href") == f"#/p/sp/r/{best_id}"
    page.mouse.click(*at)
    page.wait_for_url(f"{base}#/p/sp/r/{best_id}")
    assert page_errors == []


def test_sweep_page_shows_hyperband_stops(ui, sweep_store, page, page_errors):
    base = ui(sweep_store["store"])
    _goto(page, f"{base}#/sweeps/{sweep_store['hb']}", "table.trials")
    badges = page.locator("table.trials tbody tr .badge")
    texts = badges.all_inner_texts()
    assert len(texts) == 3
    assert texts.count("stopped (hyperband)") == 1, texts
    assert texts.count("finished") == 2, texts
    stopped = page.locator('table.trials tbody tr[data-state="stopped (hyperband)"]')
    assert stopped.locator("td").nth(2).inner_text() == "9"  # x = 9, the bad one
    badge = stopped.locator(".badge")
    assert "state-stopped" in (badge.get_attribute("class") or "")
    # its line is drawn too (it logged the metric before it was stopped), and the early_terminate shown
    assert page.locator('polyline.pc-line[data-state="stopped (hyperband)"]').count() == 1
    assert "hyperband" in page.locator(".sweep-info").inner_text()
    assert page_errors == []


def test_sweep_page_log_and_nested_axes(ui, sweep_store, page, page_errors):
    base = ui(sweep_store["store"])
    _goto(page, f"{base}#/sweeps/{sweep_store['random']}", "svg.parallel-coords")
    axes = page.locator("svg.parallel-coords g.pc-axis")
    got = axes.evaluate_all("gs => gs.map(g => [g.dataset.name, g.dataset.scale])")
    # log_uniform_values is drawn on a log scale; a nested parameter by its dotted name; the metric too
    assert got == [["lr", "log"], ["opt.momentum", "linear"], ["val.loss", "linear"]]
    assert page.locator("svg.parallel-coords polyline.pc-line").count() == 4
    # maximize: the highest value first
    values = [float(v) for v in page.locator("table.best-runs td.metric").all_inner_texts()]
    assert len(values) == 4 and values == sorted(values, reverse=True)
    assert page_errors == []


def test_projects_page_lists_sweeps(ui, sweep_store, page, page_errors):
    base = ui(sweep_store["store"])
    _goto(page, base, "tr[data-sweep]")
    row = page.locator(f'tr[data-sweep="{sweep_store["grid"]}"]')
    cells = row.locator("td").all_inner_texts()
    assert cells[0].startswith("gridsweep") and cells[1] == "sp" and cells[2] == "grid"
    assert cells[3] == "loss (minimize)" and cells[4] == "finished" and cells[5] == "6 of 6"
    row.locator("a").first.click()
    page.wait_for_selector("svg.parallel-coords")
    assert page_errors == []


@pytest.fixture(scope="module")
def artifact_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_store(tmp_path_factory.mktemp("arts"), ARTIFACTS)


def test_artifacts_page(ui, artifact_store, page, page_errors):
    base = ui(artifact_store)
    _goto(page, f"{base}#/p/arts/artifacts", "table.collections")
    rows = page.locator("table.collections tbody tr")
    assert [rows.nth(i).get_attribute("data-collection") for i in range(rows.count())] == ["dataset", "model"]
    assert rows.first.locator("td.versions").inner_text() == "2"

    rows.first.locator("a").first.click()
    page.wait_for_selector("table.versions")
    versions = page.locator("table.versions tbody tr")
    assert [versions.nth(i).get_attribute("data-version") for i in range(2)] == ["1", "0"]
    assert versions.nth(0).locator("[data-alias]").all_inner_texts() == ["latest"]
    assert versions.nth(1).locator("[data-alias]").all_inner_texts() == ["first"]
    assert versions.nth(0).locator("td.files").inner_text() == "4"
    assert versions.nth(1).locator("td.files").inner_text() == "2"

    # v1: its manifest (a reference shown with its URI) and its lineage
    versions.nth(0).locator("a").first.click()
    page.wait_for_selector("table.manifest tbody tr")
    assert page.locator(".manifest-count").inner_text() == "4 files"
    paths = page.locator("table.manifest tbody tr").evaluate_all("rs => rs.map(r => r.dataset.path)")
    assert paths == ["extra/ref.csv", "remote/ref.csv", "test.txt", "train.txt"]
    ref = page.locator('table.manifest tr[data-path="remote/ref.csv"] code.ref').inner_text()
    assert ref.startswith("file://") and ref.endswith("ref.csv")
    graph = page.locator("svg.lineage")
    assert (
        graph.get_attribute("data-nodes") == "2" and graph.get_attribute("data-edges") == "1"
    )  # producer -> v1

    # v0: producer -> dataset:v0 -> consumer -> model:v0
    page.goto(f"{base}#/p/arts/artifacts?c=dataset&v=v0")
    page.wait_for_selector("svg.lineage")
    graph = page.locator("svg.lineage")
    nodes = graph.locator("g.lineage-node")
    kinds = sorted(
        (nodes.nth(i).get_attribute("data-kind"), nodes.nth(i).get_attribute("data-column"))
        for i in range(nodes.count())
    )
    assert kinds == [("artifact", "2"), ("artifact", "4"), ("run", "1"), ("run", "3")]
    edges = graph.locator("path.lineage-edge")
    assert edges.count() == 3
    pairs = {
        (edges.nth(i).get_attribute("data-from"), edges.nth(i).get_attribute("data-to")) for i in range(3)
    }
    producer = next(f for f, t in pairs if t == "a:dataset:v0")
    consumer = next(t for f, t in pairs if f == "a:dataset:v0")
    assert producer.startswith("r:arts/") and consumer.startswith("r:arts/") and producer != consumer
    assert pairs == {(producer, "a:dataset:v0"), ("a:dataset:v0", consumer), (consumer, "a:model:v0")}
    texts = graph.locator("g.lineage-node text").all_text_contents()
    assert "producer" in texts and "consumer" in texts and "dataset:v0" in texts and "model:v0" in texts
    assert page.locator(".manifest-count").inner_text() == "2 files"
    assert page.locator("td.used-by a").inner_text() != ""

    # nodes are links: the consumer run, then back through the model artifact
    page.locator("svg.lineage a", has=page.locator('g[data-kind="run"][data-column="3"]')).click()
    page.wait_for_url(re.compile(r".*#/p/arts/r/\w+$"))
    page.wait_for_selector("nav.tabs")  # the run page, drawn
    page.goto(f"{base}#/p/arts/artifacts?c=dataset&v=v0")
    page.wait_for_selector("svg.lineage")
    page.locator("svg.lineage a", has=page.locator('g[data-id="a:model:v0"]')).click()
    page.wait_for_url(re.compile(r".*#/p/arts/artifacts\?c=model&v=v0$"))
    page.wait_for_selector("table.manifest tbody tr")
    assert page.locator(".manifest-count").inner_text() == "1 file"
    assert page_errors == []


def test_artifacts_page_of_a_project_without_any(ui, demo_store, page, page_errors):
    base = ui(demo_store)
    _goto(page, f"{base}#/p/demo/artifacts", ".artifact-collections p")
    assert "No artifacts" in page.locator(".artifact-collections").inner_text()
    page.goto(f"{base}#/p/demo/artifacts?c=nope&v=v0")
    page.wait_for_selector(".artifact-collections p")
    assert page_errors == []
