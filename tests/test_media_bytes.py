"""Media JSON files are byte for byte the files wandb 0.31.0 writes, so they have wandb's sha256 and name.

How the golden bytes were produced: wandb==0.31.0 (with numpy 2.4.6, plotly 7.1.0, Python 3.11), offline:

    WANDB_MODE=offline python -c '
    import numpy as np, plotly.graph_objects as go, wandb
    run = wandb.init(project="p")
    run.log({"cloud": wandb.Object3D(np.array(...)), ...})   # each CASES entry below, `wandb.` for `runstore.`
    run.finish()'

then each file was read from wandb/offline-run-*/files/media/…; sha256 and size are the `sha256`/`size` of
that value in wandb's history row (read back from the run's .wandb file), the file name its `path`. The JSON
text itself is pydantic-core's `to_json(..., inf_nan_mode="constants")`, which wandb 0.31 writes with; the
float and escape cases of `test_json_text_as_wandb_writes_it` were taken from that call.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from media_util import REFS, check_ref, log_and_read

import runstore
from runstore.media._util import json_bytes

CLOUD = b"[[0.0,0.0,0.0],[0.5,-1.25,0.00001],[2.5e-7,1e+16,0.1]]"
SCENE = (
    b'{"type":"lidar/beta","vectors":[],"points":[[0.0,0.0,0.0],[1.0,1.0,1.5]],"boxes":[{"corners":'
    b"[[0.0,0.0,0.0],[0.0,0.0,6.0],[0.0,4.0,0.0],[0.0,4.0,6.0],[2.0,0.0,0.0],[2.0,0.0,6.0],[2.0,4.0,0.0],"
    b'[2.0,4.0,6.0]],"color":[255,0,0],"label":"car","score":0.75}]}'
)
ROTATED = (
    b'{"type":"lidar/beta","vectors":[],"points":[[0,0,0]],"boxes":[{"corners":[[-0.4421052631578948,'
    b"-0.43684210526315786,-0.5947368421052632],[0.44210526315789456,-0.5631578947368421,1.194736842105263],"
    b"[-0.968421052631579,0.3526315789473685,-0.27894736842105267],[-0.08421052631578949,0.22631578947368428,"
    b"1.5105263157894737],[0.28421052631578947,0.17368421052631575,-0.9105263157894736],[1.168421052631579,"
    b"0.04736842105263153,0.8789473684210527],[-0.24210526315789457,0.963157894736842,-0.5947368421052632],"
    b'[0.6421052631578947,0.8368421052631578,1.194736842105263]],"color":[0,255,0],"label":null,"score":null}]}'
)
BOXES = (
    b'{"box_data":[{"position":{"minX":0.1,"maxX":0.2,"minY":0.3,"maxY":0.4},"class_id":1,'
    b'"box_caption":"cat \xc3\xa9","scores":{"acc":0.9,"loss":1e-6}},{"position":{"middle":[2,2],"width":1.5,'
    b'"height":2},"domain":"pixel","class_id":0}],"class_labels":{"0":"bg","1":"cat"}}'
)
BOXES_NO_LABELS = b'{"box_data":[{"position":{"minX":0.0,"minY":0.0,"maxX":0.5,"maxY":0.5},"class_id":2}]}'
FIGURE = (
    b'{"data":[{"name":"s \xc3\xa9","x":[1,2,3],"y":[1.5,2.5,0.00001],"type":"scatter"}],'
    b'"layout":{"template":{"data":{"scatter":[{"type":"scatter"}]}},"title":{"text":"t"}}}'
)
TABLE = (
    b'{"columns":["a","b","c","d"],"data":[[1,0.5,"x \xc3\xa9",true],[2,NaN,null,false],'
    b'[3,1e-7,"y\\n\\"q\\"",null]]}'
)

# The figure as plotly's to_plotly_json() gives it for the FIGURE case (what runstore.Plotly takes as a dict).
FIGURE_DICT = {
    "data": [{"name": "s é", "x": [1, 2, 3], "y": [1.5, 2.5, 1e-05], "type": "scatter"}],
    "layout": {"template": {"data": {"scatter": [{"type": "scatter"}]}}, "title": {"text": "t"}},
}


def _cloud() -> Any:
    return runstore.Object3D(np.array([[0.0, 0.0, 0.0], [0.5, -1.25, 1e-05], [2.5e-07, 1e16, 0.1]]))


def _scene() -> Any:
    box = runstore.box3d(
        center=(1, 2, 3), size=(2, 4, 6), orientation=(1, 0, 0, 0), color=(255, 0, 0), label="car", score=0.75
    )
    return runstore.Object3D(
        {"type": "lidar/beta", "points": np.array([[0, 0, 0], [1, 1, 1.5]]), "boxes": np.array([box])}
    )


def _rotated() -> Any:
    box = runstore.box3d(
        center=(0.1, 0.2, 0.3), size=(1, 1, 2), orientation=(0.9, 0.1, 0.2, 0.3), color=(0, 255, 0)
    )
    return runstore.Object3D.from_point_cloud(points=[[0, 0, 0]], boxes=[box])


def _image_boxes() -> Any:
    layer = {
        "box_data": [
            {
                "position": {"minX": 0.1, "maxX": 0.2, "minY": 0.3, "maxY": 0.4},
                "class_id": 1,
                "box_caption": "cat é",
                "scores": {"acc": 0.9, "loss": 1e-06},
            },
            {"position": {"middle": [2, 2], "width": 1.5, "height": 2}, "domain": "pixel", "class_id": 0},
        ],
        "class_labels": {0: "bg", 1: "cat"},
    }
    return runstore.Image(np.zeros((2, 2, 3), dtype=np.uint8), boxes={"pred": layer})


def _image_boxes_no_labels() -> Any:
    # the position keys in the user's order (min, min, max, max): wandb writes the dict as given
    box = {"position": {"minX": 0.0, "minY": 0.0, "maxX": 0.5, "maxY": 0.5}, "class_id": 2}
    return runstore.Image(np.zeros((2, 2, 3), dtype=np.uint8), boxes={"truth": {"box_data": [box]}})


def _figure() -> Any:
    go = pytest.importorskip("plotly.graph_objects", reason="needs plotly")
    return runstore.Plotly(
        go.Figure(
            {
                "data": [{"type": "scatter", "x": [1, 2, 3], "y": [1.5, 2.5, 1e-05], "name": "s é"}],
                "layout": {"title": {"text": "t"}, "template": {}},
            }
        )
    )


def _table() -> Any:
    return runstore.Table(
        columns=["a", "b", "c", "d"],
        data=[[1, 0.5, "x é", True], [2, float("nan"), None, False], [3, 1e-07, 'y\n"q"', None]],
    )


# key, value factory, where the file's reference sits in the row, media dir, extension, bytes, sha256
CASES = [
    ("cloud", _cloud, (), "object3D", "pts.json", CLOUD,
     "2812687c509e86133479927099319f1172d70d3e13b561b09cae43c4124d6c44"),
    ("scene", _scene, (), "object3D", "pts.json", SCENE,
     "38295c9d4682f5ea772692da863efeb8b184128724b02c83606335124453185f"),
    ("rotated", _rotated, (), "object3D", "pts.json", ROTATED,
     "dd016d39710253e33b5233cbf9cd68e2e4e646ea59c6b3cc1239075ec41975da"),
    ("img", _image_boxes, ("boxes", "pred"), "metadata/boxes2D", "boxes2D.json", BOXES,
     "c6bf1273f0332087a186e6114ad31a3b4ac2e7ee1e179b038567d123bf1c3c6b"),
    ("gt", _image_boxes_no_labels, ("boxes", "truth"), "metadata/boxes2D", "boxes2D.json", BOXES_NO_LABELS,
     "ef2055cbe633d4c06393ec62380495690e915dec8f04946c0ed3de06c4cc52fc"),
    ("fig", _figure, (), "plotly", "plotly.json", FIGURE,
     "6f4c424cec8ebeacec0900bc1a58a76ba4ff060294354f482e5c59ad7a699cea"),
    ("table", _table, (), "table", "table.json", TABLE,
     "89143ee233d5746d053334909ff59cc5e6fef9abe17726b51ba0785d10c8445c"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "make", "where", "kind", "ext", "golden", "sha"), CASES, ids=[c[0] for c in CASES]
)
def test_file_is_wandbs(key, make, where, kind, ext, golden, sha):
    assert hashlib.sha256(golden).hexdigest() == sha  # the constants agree with each other
    run, row, summary = log_and_read({key: make()})
    ref = row[key]
    for k in where:
        ref = ref[k]
    # check_ref also checks the reference's fields; table references are covered by test_table.py
    data = check_ref(ref, run) if ref["_type"] in REFS else (Path(run.dir) / ref["path"]).read_bytes()
    assert data == golden
    assert (ref["sha256"], ref["size"]) == (sha, len(golden))
    # wandb's file name; runstore adds its 1000-step bucket directory (docs/COMPAT.md §7.1)
    assert ref["path"].startswith(f"media/{kind}/") and Path(ref["path"]).name == f"{key}_0_{sha[:20]}.{ext}"


def test_plotly_dict_is_the_figures_file():
    # a figure given as its serialized dict writes the same file as the figure itself
    run, row, _ = log_and_read({"fig": runstore.Plotly(FIGURE_DICT)})
    assert check_ref(row["fig"], run) == FIGURE
    assert row["fig"]["sha256"] == "6f4c424cec8ebeacec0900bc1a58a76ba4ff060294354f482e5c59ad7a699cea"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e-05, b"0.00001"),
        (-1.5e-05, b"-0.000015"),
        (1e-06, b"1e-6"),
        (9.87e-09, b"9.87e-9"),
        (1e-10, b"1e-10"),
        (1e16, b"1e+16"),
        (0.0001, b"0.0001"),
        (123.0, b"123.0"),
        (-0.0, b"-0.0"),
        (float("nan"), b"NaN"),
        (float("inf"), b"Infinity"),
        (-float("inf"), b"-Infinity"),
        (2**64, b"18446744073709551616"),
        ('é\x00\x1f\x7f"\\\n', b'"\xc3\xa9\\u0000\\u001f\x7f\\"\\\\\\n"'),
        ({"1e-05": [1e-05]}, b'{"1e-05":[0.00001]}'),  # a float's text inside a string stays as it is
        (["x 1e-05", 1e-05], b'["x 1e-05",0.00001]'),
        ({1: (1, 2)}, b'{"1":[1,2]}'),
        (np.float32(0.1), b"0.10000000149011612"),
        (np.arange(3, dtype=np.int64), b"[0,1,2]"),
    ],
)
def test_json_text_as_wandb_writes_it(value, text):
    assert json_bytes(value) == text


def test_lone_surrogate_falls_back_to_the_stdlib_text_as_wandb_does():
    # wandb's fast encoder rejects it; wandb then writes json.dumps with its default separators
    assert json_bytes({"a": "\ud800", "b": [1, 1e-05]}) == b'{"a": "\\ud800", "b": [1, 1e-05]}'
