"""Real torch tensors (CPU) through every conversion path: log() scalars, lists and auto-histograms,
Histogram, Image, Table cells and columns, config, summary, Video and Audio. Each value is read back from
disk (Api or the run's files) and compared exactly (docs/COMPAT.md §4.5, §7.2)."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import run_script
from PIL import Image as PILImage

import runstore

# Values every float dtype holds exactly (bfloat16 has 8 bits of mantissa), so results compare with ==.
EXACT = [0.0, 0.25, 0.5, 0.75, 1.0]
# ...and what Image makes of them: x * 255 truncated to uint8, as for numpy arrays.
EXACT_PIXELS = [0, 63, 127, 191, 255]
FLOAT_DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def log_rows(*rows: dict[str, Any]) -> tuple[Any, list[dict[str, Any]], Any]:
    """Log `rows` (one log() each) in a fresh run; returns (run, history rows, Api run) read from disk."""
    run = runstore.init(project="p")
    for row in rows:
        run.log(row)
    run.finish()
    api_run = runstore.Api().run(f"p/{run.id}")
    history = api_run.history(samples=None, pandas=False)
    assert len(history) == len(rows), history
    return run, history, api_run


def log_one(values: dict[str, Any]) -> tuple[Any, dict[str, Any], Any]:
    run, history, api_run = log_rows(values)
    return run, history[0], api_run


def media_file(run: Any, ref: dict[str, Any]) -> bytes:
    return (Path(run.dir) / ref["path"]).read_bytes()


def png_pixels(run: Any, ref: dict[str, Any]) -> tuple[str, np.ndarray]:
    assert ref["_type"] == "image-file" and ref["format"] == "png", ref
    with PILImage.open(io.BytesIO(media_file(run, ref))) as im:
        return im.mode, np.asarray(im)


def exact_tensor(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    """A tensor of `shape` cycling through EXACT values."""
    n = int(np.prod(shape))
    return torch.tensor([EXACT[i % len(EXACT)] for i in range(n)], dtype=dtype).reshape(shape)


# -- log(): one element → the Python scalar -----------------------------------------------------------


def test_zero_d_and_one_element_tensors_log_as_python_numbers():
    w = torch.tensor(3.0, requires_grad=True)
    loss = (w * 0.5) ** 2  # 2.25, part of an autograd graph: requires_grad, grad_fn set
    assert loss.requires_grad and loss.grad_fn is not None
    values = {
        "loss": loss,
        "f32": torch.tensor(0.5),
        "f64": torch.tensor(0.125, dtype=torch.float64),
        "f16": torch.tensor(0.25, dtype=torch.float16),
        "bf16": torch.tensor(0.75, dtype=torch.bfloat16),
        "bf16_inexact": torch.tensor(0.1, dtype=torch.bfloat16),  # 0.10009765625 in bfloat16
        "shape1": torch.tensor([2.5]),
        "shape1x1": torch.tensor([[4.0]], requires_grad=True),
        "i64": torch.tensor(7),
        "i32": torch.tensor([-3], dtype=torch.int32),
        "u8": torch.tensor(200, dtype=torch.uint8),
        "flag": torch.tensor(True),
        "param": torch.nn.Parameter(torch.tensor(1.5)),
        "nested": {"acc": torch.tensor(0.5)},
    }
    run, row, api_run = log_one(values)
    expected = {
        "loss": 2.25,
        "f32": 0.5,
        "f64": 0.125,
        "f16": 0.25,
        "bf16": 0.75,
        "bf16_inexact": 0.10009765625,
        "shape1": 2.5,
        "shape1x1": 4.0,
        "i64": 7,
        "i32": -3,
        "u8": 200,
        "flag": True,
        "param": 1.5,
        "nested": {"acc": 0.5},
    }
    got = {k: row[k] for k in expected}
    assert got == expected
    # ints stay ints, bools bools, floats floats (== alone would let 7.0 or 1 pass)
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
    assert {k: api_run.summary_metrics[k] for k in expected} == expected


def test_a_tensor_value_in_a_log_without_other_values_uses_the_same_rules():
    # log() has a fast path for rows of plain numbers; a tensor alone must not slip through it as str()
    _, history, _ = log_rows({"loss": torch.tensor(0.5)}, {"loss": torch.tensor(0.25)}, {"loss": 1.0})
    assert [r["loss"] for r in history] == [0.5, 0.25, 1.0]
    assert [type(r["loss"]) for r in history] == [float, float, float]


def test_non_finite_scalar_tensors_round_trip():
    _, row, _ = log_one(
        {"nan": torch.tensor(float("nan")), "inf": torch.tensor(float("inf"), dtype=torch.bfloat16)}
    )
    assert row["nan"] != row["nan"] and row["inf"] == float("inf")


# -- log(): up to 32 elements → a list; more → a 32-bin histogram --------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_small_tensors_log_as_lists(dtype):
    vec = exact_tensor(dtype, (5,))
    mat = exact_tensor(dtype, (2, 3))
    full = exact_tensor(dtype, (32,))  # the largest that is still a list
    graph = exact_tensor(dtype, (4,)).requires_grad_() * 1  # non-leaf, needs detach
    _, row, _ = log_one({"vec": vec, "mat": mat, "full": full, "graph": graph})
    assert row["vec"] == EXACT
    assert row["mat"] == [EXACT[:3], EXACT[3:] + EXACT[:1]]
    assert row["full"] == [EXACT[i % 5] for i in range(32)]
    assert row["graph"] == EXACT[:4]
    assert all(type(x) is float for x in row["vec"] + row["full"])


def test_small_integer_and_bool_tensors_log_as_lists():
    _, row, _ = log_one(
        {
            "ints": torch.arange(-2, 3),
            "u8": torch.tensor([0, 255], dtype=torch.uint8),
            "mask": torch.arange(4) % 2 == 0,
        }
    )
    assert row["ints"] == [-2, -1, 0, 1, 2] and all(type(x) is int for x in row["ints"])
    assert row["u8"] == [0, 255]
    assert row["mask"] == [True, False, True, False]


def test_a_list_of_scalar_tensors_logs_as_a_list_of_numbers():
    _, row, _ = log_one({"losses": [torch.tensor(0.5), torch.tensor(0.25, requires_grad=True)]})
    assert row["losses"] == [0.5, 0.25]


def as_numpy(t: torch.Tensor) -> np.ndarray:
    """What a user would pass instead of the tensor: its numpy array (bfloat16, which numpy lacks, widened)."""
    t = t.detach()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def _check_histogram(h: Any, numel: int) -> None:
    assert isinstance(h, dict) and h["_type"] == "histogram", h
    assert len(h["values"]) == 32 and len(h["bins"]) == 33
    assert sum(h["values"]) == numel
    assert all(type(c) is int for c in h["values"])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_large_float_tensors_log_as_a_32_bin_histogram(dtype):
    g = torch.Generator().manual_seed(0)
    t = torch.randn(1000, generator=g).to(dtype)
    just_over = torch.randn(33, generator=g).to(dtype)
    weights = torch.randn(8, 16, generator=g, dtype=torch.float32).to(dtype).requires_grad_()
    activations = weights * 2  # non-leaf
    _, row, api_run = log_one({"t": t, "just_over": just_over, "w": weights, "act": activations})
    _check_histogram(row["t"], 1000)
    _check_histogram(row["just_over"], 33)
    _check_histogram(row["w"], 128)
    _check_histogram(row["act"], 128)
    # the bins span the values...
    assert (row["t"]["bins"][0], row["t"]["bins"][-1]) == (float(t.min()), float(t.max()))
    # ...exactly as for the numpy array of the same values
    for k, v in {"t": t, "just_over": just_over, "w": weights, "act": activations}.items():
        assert row[k] == runstore.Histogram(as_numpy(v), num_bins=32).to_json(), k
    assert api_run.summary_metrics["t"] == row["t"]


def test_large_tensor_histogram_matches_the_numpy_array_path():
    t = torch.linspace(-1, 1, 100)
    _, row, _ = log_one({"tensor": t, "array": t.numpy().copy()})
    assert row["tensor"] == row["array"]
    _check_histogram(row["tensor"], 100)


def test_large_integer_bool_and_parameter_tensors_log_as_histograms():
    ints = torch.arange(100)
    mask = torch.arange(90) % 3 == 0  # 30 True, 60 False
    param = torch.nn.Parameter(torch.ones(10, 10))
    _, row, _ = log_one({"ints": ints, "mask": mask, "param": param})
    _check_histogram(row["ints"], 100)
    assert row["ints"]["bins"][0] == 0 and row["ints"]["bins"][-1] == 99
    _check_histogram(row["mask"], 90)
    assert row["mask"]["values"][0] == 60 and row["mask"]["values"][-1] == 30
    assert row["mask"]["bins"][0] == 0 and row["mask"]["bins"][-1] == 1
    _check_histogram(row["param"], 100)


def test_large_tensor_with_nan_leaves_the_nan_out_of_the_histogram():
    t = torch.arange(40, dtype=torch.float32)
    t[3] = float("nan")
    t[7] = float("inf")
    _, row, _ = log_one({"t": t})
    _check_histogram(row["t"], 38)


def test_a_large_tensor_without_data_is_a_warning_not_a_crash(capsys):
    # a "meta" tensor has a shape but no values: torch raises NotImplementedError when they are read
    run, row, _ = log_one({"meta": torch.empty(100, device="meta"), "loss": torch.tensor(0.5)})
    assert row["meta"] is None and row["loss"] == 0.5
    assert "could not log 'meta'" in capsys.readouterr().err


# -- Histogram(tensor) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [*FLOAT_DTYPES, torch.int64, torch.bool])
def test_histogram_of_a_tensor(dtype):
    g = torch.Generator().manual_seed(1)
    t = (torch.randn(500, generator=g) * 10).to(dtype)
    if dtype.is_floating_point:
        t.requires_grad_()
    _, row, _ = log_one({"h": runstore.Histogram(t), "h8": runstore.Histogram(t, num_bins=8)})
    h, h8 = row["h"], row["h8"]
    assert h["_type"] == "histogram" and len(h["values"]) == 64 and len(h["bins"]) == 65
    assert sum(h["values"]) == 500 and sum(h8["values"]) == 500 and len(h8["values"]) == 8
    assert h == runstore.Histogram(as_numpy(t)).to_json()
    assert h8 == runstore.Histogram(as_numpy(t), num_bins=8).to_json()


# -- Image(tensor) --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_image_of_a_chw_float_tensor_is_hwc_scaled_by_255(dtype):
    # H=2, W=5 (not square: a missing transpose or a swapped axis shows)
    chw = torch.zeros(3, 2, 5, dtype=dtype)
    chw[0] = exact_tensor(dtype, (2, 5))  # red ramps through EXACT
    chw[1, :, 0] = 1.0  # a green first column
    run, row, _ = log_one({"img": runstore.Image(chw)})
    ref = row["img"]
    assert (ref["width"], ref["height"]) == (5, 2)
    mode, px = png_pixels(run, ref)
    assert mode == "RGB" and px.shape == (2, 5, 3)
    assert px[..., 0].tolist() == [EXACT_PIXELS, EXACT_PIXELS]
    assert px[..., 1].tolist() == [[255, 0, 0, 0, 0]] * 2
    assert px[..., 2].tolist() == [[0] * 5] * 2


def test_image_of_a_uint8_tensor_keeps_its_pixels():
    g = torch.Generator().manual_seed(2)
    chw = torch.randint(2, 256, (3, 4, 6), generator=g, dtype=torch.uint8)
    run, row, _ = log_one({"img": runstore.Image(chw)})
    mode, px = png_pixels(run, row["img"])
    assert mode == "RGB" and (row["img"]["width"], row["img"]["height"]) == (6, 4)
    assert px.tolist() == chw.permute(1, 2, 0).tolist()


def test_image_of_a_one_channel_tensor_is_grayscale():
    one = exact_tensor(torch.float32, (1, 2, 5))
    run, row, _ = log_one({"img": runstore.Image(one), "hw": runstore.Image(one[0])})
    for key in ("img", "hw"):
        mode, px = png_pixels(run, row[key])
        assert mode == "L" and px.tolist() == [EXACT_PIXELS, EXACT_PIXELS], key


def test_image_of_a_requires_grad_tensor_and_a_batch_of_one():
    w = torch.full((3, 2, 4), 0.5, requires_grad=True)
    out = w * 1.0  # non-leaf: .numpy() would refuse it without detach
    batch = exact_tensor(torch.float32, (1, 3, 2, 5))
    run, row, _ = log_one(
        {"grad": runstore.Image(out), "leaf": runstore.Image(w), "batch": runstore.Image(batch)}
    )
    for key in ("grad", "leaf"):
        mode, px = png_pixels(run, row[key])
        assert mode == "RGB" and px.shape == (2, 4, 3) and (px == 127).all(), key
    mode, px = png_pixels(run, row["batch"])
    assert mode == "RGB" and px.shape == (2, 5, 3)
    assert px.tolist() == (batch[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8).tolist()


def test_image_of_a_four_channel_tensor_is_rgba():
    chw = torch.zeros(4, 3, 2, dtype=torch.uint8)
    chw[0], chw[3] = 255, 128
    run, row, _ = log_one({"img": runstore.Image(chw)})
    mode, px = png_pixels(run, row["img"])
    assert mode == "RGBA" and px.shape == (3, 2, 4)
    assert px[0, 0].tolist() == [255, 0, 0, 128]


def test_image_of_a_bool_mask_tensor_is_black_and_white():
    mask = torch.tensor([[True, False, True], [False, True, False]])
    run, row, _ = log_one({"mask": runstore.Image(mask)})
    mode, px = png_pixels(run, row["mask"])
    assert mode == "L" and px.tolist() == [[255, 0, 255], [0, 255, 0]]


def test_a_list_of_tensor_images_is_one_images_separated_value():
    imgs = [runstore.Image(torch.full((3, 2, 2), v)) for v in (0.0, 1.0)]
    run, row, _ = log_one({"imgs": imgs})
    meta = row["imgs"]
    assert meta["_type"] == "images/separated" and meta["count"] == 2
    firsts = [np.asarray(PILImage.open(Path(run.dir) / p))[0, 0].tolist() for p in meta["filenames"]]
    assert firsts == [[0, 0, 0], [255, 255, 255]]


# -- Table ----------------------------------------------------------------------------------------------


def _table_file(run: Any, ref: dict[str, Any]) -> dict[str, Any]:
    assert ref["_type"] == "table-file", ref
    return json.loads(media_file(run, ref))


def test_table_cells_that_are_tensors_are_stored_as_plain_numbers():
    loss = torch.tensor(2.0, requires_grad=True) * 0.25
    table = runstore.Table(
        columns=["loss", "acc", "bf16", "n", "ok", "vec"],
        data=[
            [
                loss,
                torch.tensor(0.75),
                torch.tensor(0.5, dtype=torch.bfloat16),
                torch.tensor(3),
                torch.tensor(True),
                torch.arange(3),
            ],
            [
                0.25,
                torch.tensor([1.0]),
                0.25,
                4,
                False,
                [1, 2, 3],
            ],  # tensors and Python values mix per column
        ],
    )
    run, row, api_run = log_one({"t": table})
    doc = _table_file(run, row["t"])
    assert doc["columns"] == ["loss", "acc", "bf16", "n", "ok", "vec"]
    assert doc["data"] == [[0.5, 0.75, 0.5, 3, True, [0, 1, 2]], [0.25, 1.0, 0.25, 4, False, [1, 2, 3]]]
    assert [type(x) for x in doc["data"][0]] == [float, float, float, int, bool, list]
    back = api_run.table("t")
    assert back.get_column("loss") == [0.5, 0.25]
    assert back.get_column("n") == [3, 4]


def test_table_column_types_treat_a_scalar_tensor_as_a_number():
    table = runstore.Table(columns=["x"], data=[[torch.tensor(1.0)]])
    table.add_data(2.0)  # a number column: a float fits
    with pytest.raises(TypeError):
        table.add_data("two")
    table.add_data(torch.tensor(3))
    with pytest.raises(TypeError):
        table.add_data(torch.tensor(True))  # a boolean, not a number
    with pytest.raises(TypeError):
        table.add_data(torch.arange(2))  # a list, not a number


def test_table_with_a_tensor_column_and_from_a_2d_tensor():
    g = torch.Generator().manual_seed(3)
    scores = torch.rand(4, generator=g, requires_grad=True) * 1
    table = runstore.Table(columns=["i"], data=[[i] for i in range(4)])
    table.add_column("score", scores)
    table.add_column("half", torch.tensor(EXACT[:4], dtype=torch.bfloat16))
    grid = runstore.Table(columns=["a", "b"], data=exact_tensor(torch.bfloat16, (3, 2)))
    run, row, api_run = log_one({"t": table, "grid": grid})
    doc = _table_file(run, row["t"])
    assert doc["data"] == [[i, s, h] for i, s, h in zip(range(4), scores.tolist(), EXACT[:4], strict=True)]
    assert all(type(r[1]) is float and type(r[2]) is float for r in doc["data"])
    assert _table_file(run, row["grid"])["data"] == [[0.0, 0.25], [0.5, 0.75], [1.0, 0.0]]
    assert api_run.table("grid").get_column("b") == [0.25, 0.75, 0.0]


def test_table_get_column_to_numpy_with_tensor_cells():
    table = runstore.Table(
        columns=["x"], data=[[torch.tensor(0.5, dtype=torch.bfloat16)], [torch.tensor(0.25)]]
    )
    col = table.get_column("x", convert_to="numpy")
    assert col.tolist() == [0.5, 0.25]


def test_table_cell_that_is_a_tensor_image():
    table = runstore.Table(columns=["img"], data=[[runstore.Image(torch.ones(1, 2, 3))]])
    run, row, _ = log_one({"t": table})
    (cell,) = _table_file(run, row["t"])["data"][0]
    mode, px = png_pixels(run, cell)
    assert mode == "L" and px.tolist() == [[255, 255, 255]] * 2


# -- config and summary ---------------------------------------------------------------------------------


def test_config_values_that_are_tensors_become_numbers_and_lists():
    run = runstore.init(project="p", config={"lr": torch.tensor(0.5)})
    run.config.update(
        {
            "w": torch.tensor(0.25, requires_grad=True),
            "steps": torch.tensor(10),
            "betas": torch.tensor([0.5, 0.75]),
            "bf16": torch.tensor([0.5, 0.25], dtype=torch.bfloat16),
            "one": torch.tensor([2.0], dtype=torch.float16),
            "big": torch.arange(40),  # config keeps large values as lists: no histogram
            "nan": torch.tensor(float("nan")),
        }
    )
    run.config.mask = torch.tensor([True, False])
    assert run.config["w"] == 0.25 and type(run.config["w"]) is float
    run.finish()
    config = runstore.Api().run(f"p/{run.id}").config
    expected = {
        "lr": 0.5,
        "w": 0.25,
        "steps": 10,
        "betas": [0.5, 0.75],
        "bf16": [0.5, 0.25],
        "one": 2.0,
        "big": list(range(40)),
        "nan": None,  # as wandb stores a NaN config value
        "mask": [True, False],
    }
    assert {k: config[k] for k in expected} == expected
    assert type(config["steps"]) is int and type(config["lr"]) is float


def test_summary_values_that_are_tensors():
    run = runstore.init(project="p")
    run.summary["best"] = torch.tensor(0.75, dtype=torch.bfloat16)
    run.summary.update({"vec": torch.tensor([1, 2]), "g": torch.tensor(0.5, requires_grad=True) * 1})
    run.finish()
    summary = runstore.Api().run(f"p/{run.id}").summary_metrics
    assert (summary["best"], summary["vec"], summary["g"]) == (0.75, [1, 2], 0.5)
    assert type(summary["best"]) is float


# -- Video and Audio --------------------------------------------------------------------------------------


def test_video_of_a_tchw_tensor():
    frames = torch.zeros(2, 3, 4, 6, dtype=torch.uint8)  # T, C, H=4, W=6
    frames[0, 0, :, 0] = 255  # frame 0: a red first column
    frames[1, 1, 0, :] = 255  # frame 1: a green first row
    run, row, _ = log_one({"v": runstore.Video(frames, fps=2)})
    ref = row["v"]
    assert ref["_type"] == "video-file" and (ref["width"], ref["height"]) == (6, 4)
    decoded = []
    with PILImage.open(io.BytesIO(media_file(run, ref))) as gif:
        for i in range(gif.n_frames):
            gif.seek(i)
            decoded.append(np.asarray(gif.convert("RGB")))
    assert [f.shape for f in decoded] == [(4, 6, 3), (4, 6, 3)]
    assert decoded[0].tolist() == frames[0].permute(1, 2, 0).tolist()
    assert decoded[1].tolist() == frames[1].permute(1, 2, 0).tolist()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_audio_of_a_float_tensor(dtype):
    samples = torch.tensor([0.0, 0.5, -0.5, 1.0, -1.0], dtype=dtype, requires_grad=True)
    run, row, _ = log_one({"a": runstore.Audio(samples, sample_rate=8000)})
    with wave.open(io.BytesIO(media_file(run, row["a"]))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").tolist()
    assert pcm == [0, 16384, -16384, 32767, -32767]


# -- cost -------------------------------------------------------------------------------------------------


def test_logging_never_imports_torch(tmp_path):
    r = run_script(
        """
        import sys
        import numpy as np
        import runstore
        run = runstore.init(project="p")
        run.log({"loss": 0.5, "arr": np.arange(40), "vec": np.arange(3), "s": np.float32(1)})
        run.summary["x"] = np.arange(2)
        run.config.update({"lr": np.float64(0.1)})
        run.log({"t": runstore.Table(columns=["a"], data=[[1.0]]), "h": runstore.Histogram([1, 2, 3])})
        run.finish()
        print("torch" in sys.modules)
        """,
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "False"
