"""Plotly figures and matplotlib figures/pyplot (converted to plotly, or a PNG image when they cannot be)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from media_util import check_ref, log_and_read

import runstore

go = pytest.importorskip("plotly.graph_objects", reason="Plotly tests need plotly")
matplotlib = pytest.importorskip("matplotlib", reason="matplotlib tests need matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _decoded(v):
    """A stored trace array as a list: plotly >= 6 writes numpy data as a base64 typed array, and the
    file keeps it so, as wandb's does."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(n) for n in v["shape"].split(",")]).tolist() if "shape" in v else a.tolist()
    return v


def test_plotly_figure_round_trip():
    fig = go.Figure(go.Scatter(x=np.arange(3), y=np.array([1.5, 2.5, 3.5])))
    fig.update_layout(title_text="t")
    run, row, summary = log_and_read({"raw": fig, "wrapped": runstore.Plotly(fig)})
    for key in ("raw", "wrapped"):
        ref = row[key]
        assert ref["_type"] == "plotly-file"
        doc = json.loads(check_ref(ref, run))
        assert set(doc) == {"data", "layout"}
        assert _decoded(doc["data"][0]["x"]) == [0, 1, 2] and _decoded(doc["data"][0]["y"]) == [1.5, 2.5, 3.5]
        assert doc["layout"]["title"]["text"] == "t"
    assert row["raw"]["sha256"] == row["wrapped"]["sha256"]
    assert summary["raw"] == row["raw"]


def test_matplotlib_figure_and_pyplot_become_plotly():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [4, 5, 6])
    run, row, _ = log_and_read({"fig": fig, "plt": plt, "wrapped": runstore.Plotly(fig)})
    for key in ("fig", "plt", "wrapped"):
        assert row[key]["_type"] == "plotly-file"
        doc = json.loads(check_ref(row[key], run))
        assert doc["data"][0]["y"] == [4.0, 5.0, 6.0]
    assert plt.gcf() is fig and plt.fignum_exists(fig.number)  # the user's figure is left open


def test_plotly_typed_arrays_stored_as_wandb_stores_them():
    # plotly >= 6 gives numpy data as base64 typed arrays; wandb 0.31 writes them unchanged (older
    # plotly gives arrays, which wandb and runstore write as lists)
    import plotly

    fig = go.Figure(go.Heatmap(z=np.arange(6, dtype=np.int16).reshape(2, 3)))
    run, row, _ = log_and_read({"hm": fig})
    z = json.loads(check_ref(row["hm"], run))["data"][0]["z"]
    if int(plotly.__version__.split(".")[0]) >= 6:
        assert z == {"dtype": "i2", "bdata": "AAABAAIAAwAEAAUA", "shape": "2, 3"}
    else:
        assert z == [[0, 1, 2], [3, 4, 5]]


def test_matplotlib_with_images_becomes_png_image():
    fig, ax = plt.subplots(figsize=(2, 2), dpi=40)
    ax.imshow(np.random.default_rng(0).random((4, 4)))
    assert isinstance(runstore.Plotly.from_figure(fig), runstore.Image)
    run, row, _ = log_and_read({"heat": fig})
    assert row["heat"]["_type"] == "image-file" and (row["heat"]["width"], row["heat"]["height"]) == (80, 80)
    check_ref(row["heat"], run)
    with pytest.raises(ValueError, match="wandb.Image"):
        runstore.Plotly(fig)


def test_unconvertible_matplotlib_falls_back_to_png(monkeypatch, capsys):
    from plotly import matplotlylib

    def broken(self, *a, **k):
        raise AttributeError("converter out of date")

    monkeypatch.setattr(matplotlylib.PlotlyRenderer, "open_figure", broken)
    fig, ax = plt.subplots()
    ax.plot([1, 2])
    run, row, _ = log_and_read({"fig": fig})
    assert row["fig"]["_type"] == "image-file"
    check_ref(row["fig"], run)
    assert "logged as a PNG image" in capsys.readouterr().err


def test_bad_figures():
    with pytest.raises(TypeError, match="plotly figure"):
        runstore.Plotly([1, 2, 3])
    fig = plt.figure()
    with pytest.raises(ValueError, match="empty"):
        runstore.Plotly(fig)


def test_empty_pyplot_logged_is_a_warning_and_the_run_continues(capsys):
    plt.figure()
    run = runstore.init(project="p")
    run.log({"chart": plt, "loss": 1.0})
    run.finish()
    row = runstore.Api().run(f"p/{run.id}").history(pandas=False)[0]
    assert row["chart"] is None and row["loss"] == 1.0
    assert "empty" in capsys.readouterr().err
