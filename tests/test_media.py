"""Image, Histogram, Html and the shared media rules (lists, auto-histograms, dedup, bad inputs), logged
in real runs and read back from disk. Core media tests assume numpy + Pillow (in the dev extra)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from media_util import check_ref, log_and_read
from PIL import Image as PILImage

import runstore


def decode(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)))


# --- Image: inputs, modes, ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "mode"), [((6, 5), "L"), ((6, 5, 1), "L"), ((6, 5, 3), "RGB"), ((6, 5, 4), "RGBA")]
)
def test_image_uint8_modes_round_trip(shape, mode):
    px = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    run, row, summary = log_and_read({"img": runstore.Image(px, caption="cap")})
    ref = row["img"]
    assert ref["_type"] == "image-file"
    assert (ref["format"], ref["width"], ref["height"], ref["caption"]) == ("png", 5, 6, "cap")
    data = check_ref(ref, run)
    img = PILImage.open(io.BytesIO(data))
    assert img.mode == mode
    assert np.array_equal(np.asarray(img), px.reshape(img.size[1], img.size[0], -1).squeeze())
    assert summary["img"] == ref  # the summary holds the same reference


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (np.array([[0.0, 0.5, 1.0]]), [0, 127, 255]),  # [0, 1] → ×255
        (np.array([[-1.0, 0.0, 1.0]]), [0, 127, 255]),  # [-1, 1] → rescaled
        (np.array([[-20.0, 100.0, 300.0]]), [0, 100, 255]),  # other ranges clipped
        (np.array([[0, 7, 200]], dtype=np.int64), [0, 7, 200]),  # int 0..255 kept
        (np.array([[0, 1, 1]], dtype=np.uint8), [0, 255, 255]),  # a 0/1 mask becomes black/white, as wandb
    ],
)
def test_image_value_ranges_like_wandb(values, expected):
    run, row, _ = log_and_read({"img": runstore.Image(values)})
    assert decode(check_ref(row["img"], run)).ravel().tolist() == expected


def test_image_normalize_false_keeps_values():
    run, row, _ = log_and_read(
        {"img": runstore.Image(np.array([[0, 1, 2]], dtype=np.float32), normalize=False)}
    )
    assert decode(check_ref(row["img"], run)).ravel().tolist() == [0, 1, 2]


def test_image_nan_inf_converted_with_one_warning(capsys):
    a = np.full((4, 4), 0.5, dtype=np.float32)
    a[0, 0], a[0, 1], a[0, 2] = np.nan, np.inf, -np.inf
    runstore.Image(a)
    img = runstore.Image(a)
    err = capsys.readouterr().err
    assert err.count("NaN or Inf") == 1
    run, row, _ = log_and_read({"img": img})
    px = decode(check_ref(row["img"], run))
    assert px[0, :3].tolist() == [0, 127, 127]  # NaN → 0; ±Inf → the finite max/min (0.5)
    assert px[1, 1] == 127


def test_image_from_pil_path_and_copy(tmp_path):
    px = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    pil = PILImage.fromarray(px)
    path = tmp_path / "in.png"
    pil.save(path)
    jpg = tmp_path / "photo.jpg"
    pil.save(jpg)
    run, row, _ = log_and_read(
        {
            "pil": runstore.Image(pil),
            "path": runstore.Image(str(path)),
            "pathlib": runstore.Image(jpg, caption="j"),
            "copy": runstore.Image(runstore.Image(pil), caption="again"),
        }
    )
    assert np.array_equal(decode(check_ref(row["pil"], run)), px)
    assert check_ref(row["path"], run) == path.read_bytes()  # a file is copied byte for byte
    assert row["pathlib"]["format"] == "jpg" and row["pathlib"]["path"].endswith(".jpg")
    assert check_ref(row["pathlib"], run) == jpg.read_bytes()
    assert row["copy"]["caption"] == "again" and row["copy"]["sha256"] == row["pil"]["sha256"]


@pytest.mark.parametrize("file_type", ["jpg", "bmp", "gif"])
def test_image_file_type(file_type):
    px = np.zeros((8, 8, 4), dtype=np.uint8)
    run, row, _ = log_and_read({"img": runstore.Image(px, file_type=file_type)})
    ref = row["img"]
    assert ref["format"] == file_type and ref["path"].endswith("." + file_type)
    data = (Path(run.dir) / ref["path"]).read_bytes()
    assert PILImage.open(io.BytesIO(data)).size == (8, 8)


def test_image_matplotlib_figure():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([1, 2, 3])
    run, row, _ = log_and_read({"fig": runstore.Image(fig)})
    assert (row["fig"]["width"], row["fig"]["height"]) == (100, 50)
    check_ref(row["fig"], run)
    plt.close(fig)


# --- masks and boxes -------------------------------------------------------------------------------------------


def _boxes() -> dict:
    return {
        "gt": {
            "box_data": [
                {
                    "position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.5},
                    "class_id": 1,
                    "box_caption": "cat",
                    "scores": {"conf": 0.9},
                },
                {"position": {"middle": [3, 4], "width": 2, "height": 2}, "class_id": 2, "domain": "pixel"},
            ],
            "class_labels": {1: "cat", 2: "dog"},
        }
    }


def test_image_masks_and_boxes():
    mask = np.zeros((6, 6), dtype=np.int64)
    mask[2:4, 2:4] = 2
    img = runstore.Image(
        np.zeros((6, 6, 3), np.uint8),
        masks={"pred": {"mask_data": mask, "class_labels": {0: "bg", 2: "cat"}}, "auto": {"mask_data": mask}},
        boxes=_boxes(),
    )
    run, row, _ = log_and_read({"val/seg": img})
    ref = row["val/seg"] if "val/seg" in row else row["val"]["seg"]
    check_ref(ref, run)
    m = ref["masks"]["pred"]
    assert m["_type"] == "mask" and m["path"].startswith("media/images/mask/val/")
    assert np.array_equal(decode(check_ref(m, run)), mask)
    b = ref["boxes"]["gt"]
    assert b["_type"] == "boxes2D"
    layer = json.loads(check_ref(b, run))
    assert layer["class_labels"] == {"1": "cat", "2": "dog"}
    assert layer["box_data"][0]["position"] == {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.5}
    assert layer["box_data"][1]["position"] == {"middle": [3, 4], "width": 2, "height": 2}
    assert layer["box_data"][1]["domain"] == "pixel" and layer["box_data"][0]["scores"] == {"conf": 0.9}
    cfg = runstore.Api().run(f"p/{run.id}").rawconfig["_wandb"]["value"]
    assert cfg["mask/class_labels"]["val/seg_wandb_delimeter_pred"]["value"] == {"0": "bg", "2": "cat"}
    assert cfg["mask/class_labels"]["val/seg_wandb_delimeter_auto"]["value"] == {
        "0": "class_0",
        "2": "class_2",
    }
    assert cfg["bounding_box/class_labels"]["val/seg_wandb_delimeter_gt"]["value"] == {"1": "cat", "2": "dog"}


def test_class_labels_written_to_config_once():
    run = runstore.init(project="p")
    for _ in range(5):
        run.log(
            {
                "seg": runstore.Image(
                    np.zeros((4, 4), np.uint8), masks={"m": {"mask_data": np.ones((4, 4), np.uint8)}}
                )
            }
        )
    run.finish()
    lines = (run._ref.path / "run.jsonl").read_text().splitlines()
    assert sum("mask/class_labels" in ln for ln in lines) == 1


@pytest.mark.parametrize(
    ("kwargs", "exc", "words"),
    [
        ({"masks": {"m": {"mask_data": np.zeros((2, 2, 2))}}}, ValueError, "2-D"),
        ({"masks": {"m": {"mask_data": np.full((2, 2), 0.5)}}}, ValueError, "integer class ids"),
        ({"masks": {"m": {"mask_data": np.full((2, 2), 300)}}}, ValueError, "0..255"),
        ({"masks": {"m": {"class_labels": {0: "x"}}}}, TypeError, "mask_data"),
        (
            {"masks": {"m": {"mask_data": np.zeros((2, 2), int), "class_labels": {"a": "x"}}}},
            TypeError,
            "integer",
        ),
        ({"masks": ["not a dict"]}, TypeError, "dict"),
        ({"boxes": {"b": {"box_data": [{"position": {"minX": 0}, "class_id": 1}]}}}, TypeError, "position"),
        (
            {"boxes": {"b": {"box_data": [{"position": {"middle": [1, 2], "width": 1, "height": 1}}]}}},
            TypeError,
            "class_id",
        ),
        (
            {
                "boxes": {
                    "b": {
                        "box_data": [
                            {
                                "position": {"middle": [1, 2], "width": 1, "height": 1},
                                "class_id": 0,
                                "domain": "cm",
                            }
                        ]
                    }
                }
            },
            ValueError,
            "pixel",
        ),
        ({"boxes": {"b": {"data": []}}}, TypeError, "box_data"),
    ],
)
def test_bad_masks_and_boxes_are_clear_errors(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        runstore.Image(np.zeros((2, 2), np.uint8), **kwargs)


# --- lists of images ---------------------------------------------------------------------------------------------


def test_image_list_is_images_separated():
    imgs = [
        runstore.Image(
            np.full((3, 4), i * 40, np.uint8),
            caption=f"c{i}",
            masks={"m": {"mask_data": np.zeros((3, 4), np.uint8)}} if i == 1 else None,
        )
        for i in range(3)
    ]
    run, row, summary = log_and_read({"batch": imgs})
    ref = row["batch"]
    check_ref(ref, run)
    assert ref["_type"] == "images/separated"
    assert (ref["count"], ref["width"], ref["height"], ref["format"]) == (3, 4, 3, "png")
    assert ref["captions"] == ["c0", "c1", "c2"]
    assert ref["all_masks"][0] is None and ref["all_masks"][2] is None
    assert ref["all_masks"][1]["m"]["_type"] == "mask"
    assert "all_boxes" not in ref
    for i, f in enumerate(ref["filenames"]):
        assert decode((Path(run.dir) / f).read_bytes()).max() == i * 40
    assert summary["batch"] == ref


def test_image_list_capped_at_108_with_warning(capsys):
    imgs = [runstore.Image(np.full((2, 2), i, np.uint8)) for i in range(110)]
    _, row, _ = log_and_read({"many": imgs})
    assert row["many"]["count"] == 108 and len(row["many"]["filenames"]) == 108
    assert "108" in capsys.readouterr().err


def test_identical_images_stored_once():
    px = np.full((5, 5, 3), 9, np.uint8)
    run = runstore.init(project="p")
    for _ in range(4):
        run.log({"same": runstore.Image(px)})
    run.finish()
    files = list((Path(run.dir) / "media" / "images").rglob("*.png"))
    assert len(files) == 1


def test_many_distinct_images_in_one_run():
    # What one image costs is measured by `make bench`; here: a hundred steps of a changing 64x64 image
    # each get their own file, referenced by their own row, holding that step's pixels.
    px = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    run = runstore.init(project="p")
    n = 100
    for i in range(n):
        px[0, 0, 0] = i  # distinct content each step
        run.log({"img": runstore.Image(px)})
    run.finish()
    rows = runstore.Api().run(f"p/{run.id}").history(pandas=False)
    assert [r["_step"] for r in rows] == list(range(n))
    paths = [r["img"]["path"] for r in rows]
    assert len(set(paths)) == n
    assert len(list((Path(run.dir) / "media" / "images").rglob("*.png"))) == n
    for i, r in enumerate(rows):
        assert (r["img"]["width"], r["img"]["height"]) == (64, 64)
        img = decode(check_ref(r["img"], run))
        assert img.shape == (64, 64, 3) and img[0, 0, 0] == i
        assert np.array_equal(img[1:], px[1:])  # the rest of the image is the same every step


# --- bad image inputs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "exc", "words"),
    [
        (np.zeros((3, 8, 8)), ValueError, "transpose"),
        (np.zeros((2, 2, 2, 2)), ValueError, "shape"),
        (np.zeros((4, 4, 5)), ValueError, "H×W×3"),
        (np.zeros((0, 4)), ValueError, "empty"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
        ({"not": "an image"}, TypeError, "numpy array"),
        ("/no/such/file.png", ValueError, "not found"),
    ],
)
def test_bad_image_inputs(data, exc, words):
    with pytest.raises(exc, match=words):
        runstore.Image(data)


def test_unreadable_and_non_image_files(tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a png")
    with pytest.raises(ValueError, match="not an image file"):
        runstore.Image(str(bad))
    with pytest.raises(ValueError, match="file_type"):
        runstore.Image(np.zeros((2, 2)), file_type="tiff")
    with pytest.raises(ValueError, match="not a regular file"):
        runstore.Image(str(tmp_path))


def test_file_removed_before_log_is_a_warning_and_run_continues(tmp_path, capsys):
    p = tmp_path / "gone.png"
    PILImage.new("RGB", (2, 2)).save(p)
    img = runstore.Image(str(p))
    p.unlink()
    run = runstore.init(project="p")
    run.log({"img": img, "loss": 1.0})
    run.log({"loss": 0.5})
    run.finish()
    rows = runstore.Api().run(f"p/{run.id}").history(pandas=False)
    assert rows[0]["img"] is None and rows[0]["loss"] == 1.0 and rows[1]["loss"] == 0.5
    assert "could not log 'img'" in capsys.readouterr().err


# --- Histogram ----------------------------------------------------------------------------------------------------


def test_histogram_default_64_bins():
    data = np.random.default_rng(2).normal(size=1000)
    run, row, summary = log_and_read({"h": runstore.Histogram(data)})
    ref = row["h"]
    check_ref(ref, run)
    counts, edges = np.histogram(data, bins=64)
    assert ref == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert summary["h"] == ref


def test_histogram_np_histogram_and_num_bins():
    vals, edges = np.histogram([1, 2, 2, 3], bins=3)
    h = runstore.Histogram(np_histogram=(vals, edges))
    assert (h.histogram, h.bins) == (vals.tolist(), edges.tolist())
    assert len(runstore.Histogram([1, 2, 3], num_bins=512).histogram) == 512
    assert runstore.Histogram(np_histogram=([1, 2], [0, 1, 2])).to_json()["values"] == [1, 2]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"sequence": [1, 2], "num_bins": 513}, "at most 512"),
        ({"sequence": [1, 2], "num_bins": 0}, "positive"),
        ({"np_histogram": ([1, 2], [0, 1])}, r"len\(bins\)"),
        ({"np_histogram": (list(range(513)), list(range(514)))}, "at most 512"),
        ({"np_histogram": ([1, 2],)}, "pair"),
        ({}, "needs data"),
    ],
)
def test_histogram_bad_inputs(kwargs, words):
    with pytest.raises(ValueError, match=words):
        runstore.Histogram(**kwargs)


def test_histogram_drops_nan_with_warning(capsys):
    h = runstore.Histogram([1.0, float("nan"), 2.0, float("inf")], num_bins=2)
    assert sum(h.histogram) == 2
    assert "NaN or Inf" in capsys.readouterr().err


def test_large_arrays_become_32_bin_histograms_small_ones_lists():
    big = np.arange(100, dtype=np.float32)
    run, row, summary = log_and_read({"big": big, "small": np.arange(32), "one": np.array([3.5])})
    assert row["big"]["_type"] == "histogram"
    assert len(row["big"]["values"]) == 32 and len(row["big"]["bins"]) == 33
    assert sum(row["big"]["values"]) == 100
    check_ref(row["big"], run)
    assert row["small"] == list(range(32)) and row["one"] == 3.5
    assert summary["big"]["_type"] == "histogram"


# --- Html ---------------------------------------------------------------------------------------------------------

_PRE = '<base target="_blank">'  # wandb's, without its stylesheet link to app.wandb.ai


def test_html_injection_like_wandb():
    assert (
        runstore.Html("<html><body>x</body></html>").html == f"<html><head>{_PRE}</head><body>x</body></html>"
    )
    assert (
        runstore.Html("<html><head></head><body>x</body></html>").html
        == f"<html><head>{_PRE}</head><body>x</body></html>"
    )
    assert runstore.Html("<h1>x</h1>").html == _PRE + "<h1>x</h1>"
    assert runstore.Html("<h1>x</h1>", inject=False).html == "<h1>x</h1>"


def test_html_string_file_and_stream(tmp_path):
    p = tmp_path / "page.html"
    p.write_text("<p>from file</p>", encoding="utf-8")
    run, row, _ = log_and_read(
        {
            "s": runstore.Html("<p>é</p>", inject=False),
            "f": runstore.Html(str(p)),
            "io": runstore.Html(io.StringIO("<b>io</b>"), inject=False),
            "list": [runstore.Html("<i>1</i>"), runstore.Html("<i>2</i>")],
        }
    )
    assert check_ref(row["s"], run).decode() == "<p>é</p>"
    assert check_ref(row["f"], run).decode() == _PRE + "<p>from file</p>"
    assert check_ref(row["io"], run) == b"<b>io</b>"
    lst = row["list"]
    check_ref(lst, run)
    assert lst["count"] == 2 and [check_ref(r, run).decode()[-8:] for r in lst["html"]] == [
        "<i>1</i>",
        "<i>2</i>",
    ]


def test_html_bad_inputs():
    with pytest.raises(ValueError, match="file not found"):
        runstore.Html("reports/missing.html")
    assert (
        runstore.Html("reports/missing.html", data_is_not_path=True, inject=False).html
        == "reports/missing.html"
    )
    with pytest.raises(TypeError, match="HTML string"):
        runstore.Html(42)


# --- laziness -----------------------------------------------------------------------------------------------------


def test_import_runstore_does_not_import_media_libraries(tmp_path):
    from conftest import run_script

    r = run_script(
        """
        import sys, runstore
        heavy = [m for m in ("numpy", "PIL", "plotly", "matplotlib", "imageio_ffmpeg", "rdkit")
                 if m in sys.modules]
        runstore.Image, runstore.Histogram, runstore.Video, runstore.Audio  # names only: still lazy
        heavy += [m for m in ("PIL", "plotly", "matplotlib", "imageio_ffmpeg", "rdkit") if m in sys.modules]
        print(heavy)
    """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


class _FakeTensor:
    """Stands in for a torch tensor (torch is not a test dependency): channels-first, detach/cpu/numpy."""

    __module__ = "torch"

    def __init__(self, a: np.ndarray) -> None:
        self._a = a

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self):
        return self._a


def test_torch_style_tensor_is_channels_first():
    chw = np.zeros((3, 2, 5), np.uint8)
    chw[0] = 255  # red plane
    run, row, _ = log_and_read({"t": runstore.Image(_FakeTensor(chw))})
    assert (row["t"]["width"], row["t"]["height"]) == (5, 2)
    assert decode(check_ref(row["t"], run))[0, 0].tolist() == [255, 0, 0]
