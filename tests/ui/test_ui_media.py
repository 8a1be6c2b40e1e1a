"""The run page's media tab (static/media.js) in a real browser, over runs logged by a real script: what a
person sees of images (pixels, masks, boxes, the step slider), tables (pages, sorting, image cells),
histograms (a heatmap over steps), Plotly, HTML (sandboxed), audio and video (playable), point clouds and
the runstore.plot charts."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from conftest import run_script
from PIL import Image

PROJECT = "media"

SCRIPT = r"""
import math
import numpy as np
import plotly.graph_objects as go
import runstore as wandb

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
LABELS = {1: "cat", 2: "dog"}

run = wandb.init(project="media", name="media-run")
mask = np.zeros((40, 60), dtype=np.uint8)
mask[10:20, 10:30] = 1
boxes = {"pred": {"box_data": [
    {"position": {"minX": 0.1, "maxX": 0.5, "minY": 0.1, "maxY": 0.6}, "class_id": 1, "box_caption": "c"},
    {"position": {"middle": [40, 20], "width": 10, "height": 10}, "domain": "pixel", "class_id": 2},
], "class_labels": LABELS}}
for step in range(3):
    px = np.zeros((40, 60, 3), dtype=np.uint8)
    px[:, :] = COLORS[step]
    wandb.log({
        "img": wandb.Image(px, caption=f"step {step} <b>bold</b>", boxes=boxes,
                           masks={"seg": {"mask_data": mask, "class_labels": LABELS}}),
        "gallery": [wandb.Image(px, caption="first"), wandb.Image(255 - px, caption="second")],
        "html": wandb.Html(f"<h1>page {step}</h1>", inject=False),
        "audio": wandb.Audio(np.sin(np.linspace(0, 2 * math.pi * 440, 8000)).astype(np.float32),
                             sample_rate=8000, caption=f"tone {step}"),
    })
rng = np.random.default_rng(0)
for step in range(20):
    wandb.log({"hist": wandb.Histogram(rng.normal(step * 0.1, 1, 500))})

wandb.log({"tbl": wandb.Table(columns=["id", "score", "thumb"], data=[
    [i, (i * 7) % 45, wandb.Image(np.full((8, 8, 3), (i * 5, 100, 200), dtype=np.uint8))] for i in range(45)])})
wandb.log({"fig": go.Figure(data=[go.Scatter(x=[1, 2, 3, 4], y=[4, 1, 3, 2])])})
cloud = np.concatenate([rng.uniform(-1, 1, (300, 3)), np.tile([[255, 200, 0]], (300, 1))], axis=1)
wandb.log({"cloud": wandb.Object3D(cloud)})
try:
    frames = (rng.uniform(0, 255, (6, 3, 32, 32))).astype(np.uint8)
    wandb.log({"vid": wandb.Video(frames, fps=4, format="webm")})
except Exception as e:  # no ffmpeg: the video test skips
    print("no video:", e)
inc = wandb.Table(columns=["n"], log_mode="INCREMENTAL")
for i in range(3):
    for j in range(4):
        inc.add_data(i * 4 + j)
    wandb.log({"inc": inc})
# wandb's packed form of a histogram, as an import from wandb would bring it
wandb.log({"packed": {"_type": "histogram", "packedBins": {"min": -1.0, "size": 0.5, "count": 4}, "values": [1, 3, 2, 1]}})
g = wandb.Graph()
a = g.add_node(id="a", name="a")
b = g.add_node(id="b", name="b")
g.add_edge(a, b)
wandb.log({"graph": g})

xs = list(range(10))
sq = wandb.Table(columns=["x", "y"], data=[[x, x * x] for x in xs])
wandb.log({
    "line": wandb.plot.line(sq, "x", "y", title="squares"),
    "scatter": wandb.plot.scatter(sq, "x", "y", title="points"),
    "bar": wandb.plot.bar(wandb.Table(columns=["l", "v"], data=[["a", 1], ["b", 3], ["c", 2]]), "l", "v"),
    "histo": wandb.plot.histogram(wandb.Table(columns=["v"], data=[[v] for v in rng.normal(0, 1, 200).tolist()]), "v"),
    "series": wandb.plot.line_series(xs, [xs, [2 * x for x in xs]], keys=["one", "two"], title="series"),
    "cm": wandb.plot.confusion_matrix(y_true=[0, 1, 1, 0, 1], preds=[0, 1, 0, 0, 1], class_names=["neg", "pos"]),
    "roc": wandb.plot.roc_curve([0, 1, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.9, 0.1]]),
})
run.finish()
print("RUN", run.id)
"""


@pytest.fixture(scope="module")
def media_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One store for the module (logging video and 45 images takes seconds): (store, run id)."""
    tmp = tmp_path_factory.mktemp("media")
    p = run_script(SCRIPT, tmp, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    run_id = next(line.split()[1] for line in p.stdout.splitlines() if line.startswith("RUN "))
    return tmp / ".wandb", run_id


def open_media(page: Any, base: str, run_id: str) -> None:
    """The run page's media tab, every panel drawn (a panel's view says which step it shows)."""
    page.goto(f"{base}#/p/{PROJECT}/r/{run_id}?tab=media")
    page.wait_for_selector("section.media-panel")
    page.wait_for_function(
        """() => {
            const views = [...document.querySelectorAll('section.media-panel .media-view')];
            const all = document.querySelectorAll('section.media-panel').length;
            return views.length === all
                && views.every(v => v.dataset.shown !== undefined || v.dataset.error !== undefined);
        }"""
    )


def panel(page: Any, key: str) -> Any:
    return page.locator(f'section.media-panel[data-key="{key}"] .media-view')


def pixel_at(png: bytes, x: int, y: int) -> tuple[int, int, int]:
    return Image.open(io.BytesIO(png)).convert("RGB").getpixel((x, y))


def near(c: tuple[int, ...], want: tuple[int, ...], tol: int = 12) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(c, want, strict=True))


def set_slider(view: Any, index: int) -> None:
    view.locator("input.step-slider").fill(str(index))


def test_media_tab_shows_every_key(ui, media_store, page, page_errors, screenshot):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    kinds = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('section.media-panel')].map(
            s => [s.dataset.key, s.querySelector('.media-view').dataset.kind || null]))"""
    )
    want = {
        "img": "image", "gallery": "image", "html": "html", "audio": "audio", "hist": "histogram",
        "tbl": "table", "fig": "plotly", "cloud": "object3d", "line_table": "table", "cm_table": "table",
    }  # fmt: skip
    assert {k: kinds.get(k) for k in want} == want
    # a type without a viewer: one line and a download link
    assert page.locator(".media-view[data-error]").count() == 0
    graph = panel(page, "graph")
    assert graph.inner_text().startswith("no viewer for graph-file")
    assert "download=1" in graph.locator("a").get_attribute("href")
    screenshot("media-tab")
    assert page_errors == []


def test_image_pixels_slider_masks_and_boxes(ui, media_store, page, page_errors, tmp_path):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "img")
    view.scroll_into_view_if_needed()
    assert view.get_attribute("data-step") == "2"
    stack = view.locator(".media-stack")
    img = stack.locator("img.media-img")
    assert img.get_attribute("src").startswith(
        f"/ui/raw/projects/{PROJECT}/runs/{run_id}/files/media/images/"
    )
    # a 60x40 image is shown 4x; (55, 35) is clear of the mask and the boxes
    assert stack.bounding_box()["width"] == pytest.approx(240, abs=1)
    shot = stack.screenshot(path=str(tmp_path / "img-step2.png"))
    assert near(pixel_at(shot, 55 * 4 + 2, 35 * 4 + 2), (0, 0, 255))  # step 2 is blue
    # the caption is text, not markup
    cap = view.locator("figcaption .caption")
    assert cap.inner_text() == "step 2 <b>bold</b>"
    assert view.locator("figcaption b").count() == 0

    set_slider(view, 0)
    page.wait_for_function(
        "() => document.querySelector('.media-view[data-key=\"img\"]').dataset.shown === '0'"
    )
    assert view.locator(".step-label").inner_text() == "step 0"
    shot = stack.screenshot(path=str(tmp_path / "img-step0.png"))
    assert near(pixel_at(shot, 55 * 4 + 2, 35 * 4 + 2), (255, 0, 0))  # step 0 is red
    assert view.locator("figcaption .caption").inner_text().startswith("step 0")

    # the mask (class 1 at rows 10-20, columns 10-30) tints the picture; unticked, the red shows again
    inside = (20 * 4, 15 * 4)
    tinted = pixel_at(shot, *inside)
    assert not near(tinted, (255, 0, 0), tol=30), tinted
    mask = view.locator("canvas.mask-layer")
    alpha = mask.evaluate(
        "c => [c.getContext('2d').getImageData(20, 15, 1, 1).data[3], c.getContext('2d').getImageData(50, 35, 1, 1).data[3]]"
    )
    assert alpha == [255, 0]  # class 1 coloured, background transparent
    view.locator('input.mask-toggle[data-mask="seg"]').uncheck()
    shot = stack.screenshot(path=str(tmp_path / "img-nomask.png"))
    assert near(pixel_at(shot, *inside), (255, 0, 0))

    # boxes: both classes drawn, with their labels; a class unticked is gone
    boxes = view.locator("canvas.box-layer")
    assert boxes.get_attribute("data-boxes") == "2"
    labels = view.locator("input.box-class").evaluate_all(
        "els => els.map(e => e.parentElement.innerText.trim())"
    )
    assert labels == ["cat", "dog"]
    view.locator('input.box-class[data-class-id="2"]').uncheck()
    assert view.locator("canvas.box-layer").get_attribute("data-boxes") == "1"
    # the choice holds when the step changes
    set_slider(view, 1)
    page.wait_for_function(
        "() => document.querySelector('.media-view[data-key=\"img\"]').dataset.shown === '1'"
    )
    assert view.locator("canvas.box-layer").get_attribute("data-boxes") == "1"
    assert not view.locator('input.box-class[data-class-id="2"]').is_checked()
    assert page_errors == []


def test_image_list_shows_each_with_its_caption(ui, media_store, page, page_errors):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "gallery")
    assert view.locator("img.media-img").count() == 2
    assert view.locator("figcaption .caption").all_inner_texts() == ["first", "second"]
    sizes = view.locator("img.media-img").evaluate_all("els => els.map(i => [i.complete, i.naturalWidth])")
    assert sizes == [[True, 60], [True, 60]]
    assert page_errors == []


def test_table_pages_sorting_and_image_cells(ui, media_store, page, page_errors, screenshot):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "tbl")
    rows = view.locator("table.grid tbody tr")
    info = view.locator(".page-info")
    assert rows.count() == 20 and info.inner_text() == "rows 1–20 of 45"
    view.locator("button.next").click()
    assert rows.count() == 20 and info.inner_text() == "rows 21–40 of 45"
    view.locator("button.next").click()
    assert rows.count() == 5 and info.inner_text() == "rows 41–45 of 45"
    assert view.locator("button.next").is_disabled()

    def column(i: int) -> list[str]:
        return rows.evaluate_all(f"trs => trs.map(tr => tr.children[{i}].innerText)")

    view.locator('th[data-col="score"]').click()  # ascending, back to the first page
    assert info.inner_text() == "rows 1–20 of 45"
    assert column(1)[:3] == ["0", "1", "2"]
    view.locator('th[data-col="score"]').click()  # descending
    assert column(1)[:3] == ["44", "43", "42"]
    view.locator('th[data-col="id"]').click()
    assert column(0)[:3] == ["0", "1", "2"]
    # image cells are images of the store, drawn
    thumbs = view.locator("img.table-img")
    assert thumbs.count() == 20
    page.wait_for_function(
        "() => [...document.querySelectorAll('.media-view[data-key=\"tbl\"] img.table-img')].every(i => i.complete && i.naturalWidth === 8)"
    )
    shot = thumbs.nth(3).screenshot()
    assert near(pixel_at(shot, 10, 10), (15, 100, 200))  # row 3: (3 * 5, 100, 200)
    screenshot("table")
    assert page_errors == []


def test_histogram_heatmap_over_steps(ui, media_store, page, page_errors):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "hist")
    heat = view.locator("canvas.hist-heatmap")
    assert heat.get_attribute("data-steps") == "20"
    coloured = heat.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
                 for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] < 200 || d[i + 1] < 200)) n++;
                 return n / (c.width * c.height); }"""
    )
    assert coloured > 0.1, coloured  # a good part of the plot carries counts
    assert int(view.locator("canvas.hist-bars").get_attribute("data-bars")) > 10
    assert view.get_attribute("data-step") == "22"  # steps 3..22 (after the 3 image steps)
    set_slider(view, 0)
    assert view.get_attribute("data-step") == "3"
    assert view.locator(".step-label").inner_text() == "step 3"
    assert page_errors == []


def test_plotly_figure(ui, media_store, page, page_errors):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "fig")
    view.locator(".plotly-host .main-svg").first.wait_for()
    assert view.locator(".scatterlayer .trace").count() == 1
    assert view.locator(".scatterlayer .trace .point").count() == 4
    assert page_errors == []


def test_plotly_missing_is_one_line(ui, media_store, page):
    store, run_id = media_store
    page.route("**/ui/vendor/plotly.min.js", lambda route: route.fulfill(status=404, body="not here"))
    open_media(page, ui(store), run_id)
    msg = panel(page, "fig").locator(".plotly-missing")
    assert "plotly.js is not available" in msg.inner_text()
    assert panel(page, "fig").locator(".main-svg").count() == 0


def test_html_is_sandboxed(ui, media_store, page, page_errors):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "html")
    frame = view.locator("iframe.media-html")
    assert frame.get_attribute("sandbox") == "allow-scripts"
    assert "allow-same-origin" not in (frame.get_attribute("sandbox") or "")
    assert frame.get_attribute("src").startswith(
        f"/ui/raw/projects/{PROJECT}/runs/{run_id}/files/media/html/"
    )
    assert view.frame_locator("iframe.media-html").locator("h1").inner_text() == "page 2"
    # an opaque origin: the page cannot read this one's API
    assert page.frame_locator("iframe.media-html").locator("body").evaluate("() => window.origin") == "null"
    set_slider(view, 1)
    assert view.frame_locator("iframe.media-html").locator("h1").inner_text() == "page 1"
    assert page_errors == []


def _playable(el: Any) -> dict[str, Any]:
    return el.evaluate(
        """m => new Promise(done => {
            const ok = () => done({ready: m.readyState, duration: m.duration, error: m.error && m.error.code});
            if (m.readyState >= 1) ok();
            m.addEventListener('loadedmetadata', ok);
            m.addEventListener('error', ok);
            setTimeout(ok, 8000);
        })"""
    )


def test_audio_plays_and_follows_the_slider(ui, media_store, page, page_errors):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "audio")
    audio = view.locator("audio")
    assert audio.get_attribute("controls") is not None
    state = _playable(audio)
    assert (
        state["error"] is None and state["ready"] >= 1 and state["duration"] == pytest.approx(1.0, abs=0.01)
    )
    assert view.locator("figcaption .caption").inner_text() == "tone 2"
    set_slider(view, 0)
    assert view.locator("figcaption .caption").inner_text() == "tone 0"
    assert page_errors == []


def test_video_plays(ui, media_store, page, page_errors):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    if page.locator('section.media-panel[data-key="vid"]').count() == 0:
        pytest.skip("no video was logged (imageio-ffmpeg could not encode)")
    video = panel(page, "vid").locator("video")
    assert video.get_attribute("src").endswith(".webm")
    state = _playable(video)
    assert state["error"] is None and state["ready"] >= 1 and state["duration"] > 1
    assert video.evaluate("v => [v.videoWidth, v.videoHeight]") == [32, 32]
    assert page_errors == []


def test_point_cloud_draws_and_rotates(ui, media_store, page, page_errors, tmp_path):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    view = panel(page, "cloud")
    canvas = view.locator("canvas.pointcloud")
    assert canvas.get_attribute("data-points") == "300"
    yellow = "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 150 && d[i + 2] < 80) n++; return n; }"
    assert canvas.evaluate(yellow) > 300  # the points, in their logged colour
    before = canvas.evaluate("c => c.toDataURL()")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 220, box["y"] + 140, steps=5)
    page.mouse.up()
    assert canvas.evaluate("c => c.toDataURL()") != before  # dragged: another view
    view.locator("input.perspective").uncheck()  # orthographic
    assert canvas.evaluate(yellow) > 300
    canvas.screenshot(path=str(tmp_path / "cloud.png"))
    assert page_errors == []


def test_plot_charts(ui, media_store, page, page_errors, screenshot):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    line = panel(page, "line_table")
    chart = line.locator(".chart")
    assert chart.get_attribute("data-points") == "10" and chart.get_attribute("data-series") == "1"
    assert line.locator(".chart-title").inner_text() == "squares"
    series = panel(page, "series_table").locator(".chart")
    assert series.get_attribute("data-series") == "2" and series.get_attribute("data-points") == "20"
    assert panel(page, "series_table").locator(".legend-label").all_inner_texts() == ["one", "two"]
    scatter = panel(page, "scatter_table").locator(".plot-chart")
    assert scatter.get_attribute("data-points") == "10"
    assert scatter.locator("canvas").count() >= 1
    assert panel(page, "bar_table").locator("canvas.bar-chart").get_attribute("data-bars") == "3"
    assert int(panel(page, "histo_table").locator("canvas.hist-bars").get_attribute("data-bars")) >= 5
    cm = panel(page, "cm_table").locator("canvas.confusion")
    assert cm.get_attribute("data-cells") == "4" and cm.get_attribute("data-total") == "5"
    roc = panel(page, "roc_table").locator(".chart")
    assert roc.get_attribute("data-series") == "2" and int(roc.get_attribute("data-points")) > 4
    # the chart's table is a click away
    cm_panel = panel(page, "cm_table")
    cm_panel.locator("details.chart-data summary").click()
    assert cm_panel.locator("table.grid tbody tr").count() == 4
    screenshot("charts")
    assert page_errors == []


def test_incremental_table_and_packed_histogram(ui, media_store, page, page_errors):
    store, run_id = media_store
    open_media(page, ui(store), run_id)
    inc = panel(page, "inc")
    assert inc.locator(".page-info").inner_text() == "rows 1–12 of 12"  # every increment so far
    set_slider(inc, 0)
    page.wait_for_function(
        "() => document.querySelector('.media-view[data-key=\"inc\"] .page-info')?.innerText === 'rows 1–4 of 4'"
    )
    packed = panel(page, "packed")
    assert packed.get_attribute("data-kind") == "histogram"
    assert packed.locator("canvas.hist-bars").get_attribute("data-bars") == "4"
    assert page_errors == []
