"""wandb.Table: construction, typing, logging as a table-file (docs/COMPAT.md §7.2), read-back, log modes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import history, warnings_in

import runstore
from runstore.errors import Error
from runstore.media.table import Table

# Written from docs/COMPAT.md §7.2: the `table-file` pointer minus `artifact_path`/`_latest_artifact_path`,
# which wandb has only because of its hidden run_table artifact (no artifacts here yet).
TABLE_FILE_KEYS = {"_type", "path", "sha256", "size", "ncols", "nrows", "log_mode"}
INCREMENTAL_KEYS = TABLE_FILE_KEYS | {"increment_num", "increment_nrows"}
# a table-file logged to a run also names its run_table artifact (incremental ones have none)
ARTIFACT_KEYS = {"artifact_path", "_latest_artifact_path"}
# `/` in a key makes directories; steps are bucketed by 1000 below the key's directory (media/base.py)
PATH_RE = r"media/table/{head}0000000/{leaf}_{step}_[0-9a-f]{{20}}\.table\.json"


def files_dir(run: Any) -> Path:
    return run._ref.path / "files"


def read_file(run: Any, ref: dict[str, Any]) -> dict[str, Any]:
    return json.loads((files_dir(run) / ref["path"]).read_text())


def api_run(run: Any) -> Any:
    return runstore.Api().run(f"p/{run.id}")


# -- construction ---------------------------------------------------------------------------------
def test_default_columns_and_data_forms():
    assert Table().columns == ["Input", "Output", "Expected"]
    rows = [[1, "a"], [2, "b"]]
    assert Table(columns=["n", "s"], data=rows).data == rows
    assert Table(columns=["n", "s"], rows=rows).data == rows
    t = Table(columns=["x", "y"], data=np.arange(6).reshape(3, 2))
    assert t.data == [[0, 1], [2, 3], [4, 5]] and type(t.data[0][0]) is int
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    t = Table(dataframe=df)
    assert t.columns == ["a", "b"] and t.data == [[1, "x"], [2, "y"]]
    assert Table(data=df).columns == ["a", "b"]  # a DataFrame passed as data works too


@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"columns": ["a"], "data": [[1], [2]], "rows": [[3]]}, ValueError, "not both"),
        ({"columns": ["a", "a"]}, ValueError, "unique"),
        ({"columns": [1, 2]}, TypeError, "str"),
        ({"columns": ["a"], "data": np.arange(3)}, ValueError, "2-D"),
        ({"columns": ["a", "b"], "data": [[1, 2], [3]]}, ValueError, "expected 2, got 1"),
        ({"columns": ["a"], "data": "abc"}, TypeError, "list of rows"),
        ({"log_mode": "SOMETIMES"}, ValueError, "INCREMENTAL"),
        ({"columns": ["a"], "dtype": [int, str]}, ValueError, "2 entries for 1 columns"),
        ({"columns": ["a"], "dtype": set}, TypeError, "dtype"),
    ],
)
def test_bad_construction_is_a_clear_error(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        Table(**kwargs)


def test_add_data_wrong_width_names_expected_and_actual():
    t = Table(columns=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"got 2 values.*3 columns.*expected 3, got 2"):
        t.add_data(1, 2)
    assert t.data == []


def test_column_types_are_inferred_and_enforced():
    t = Table(columns=["n", "s"])
    t.add_data(1, "a")
    t.add_data(2.5, "b")  # ints and floats are both numbers
    t.add_data(None, None)  # columns are optional by default
    with pytest.raises(TypeError, match=r"column 'n' holds number values; row 3 has 'x'"):
        t.add_data("x", "c")
    with pytest.raises(TypeError, match="column 's'"):
        t.add_data(3, 4)
    with pytest.raises(TypeError, match="boolean"):
        t.add_data(True, "d")
    assert len(t.data) == 3  # a rejected row leaves the table unchanged
    mixed = Table(columns=["v"], allow_mixed_types=True)
    for v in (1, "a", [1], {"k": 1}, None):
        mixed.add_data(v)
    assert len(mixed.data) == 5


def test_dtype_optional_and_cast():
    t = Table(columns=["n", "s"], dtype=[int, str], optional=[False, True])
    with pytest.raises(TypeError, match="not optional"):
        t.add_data(None, "a")
    with pytest.raises(TypeError, match="string"):
        t.add_data(1, 2)
    t.add_data(np.int64(3), None)
    t2 = Table(columns=["a"], data=[["1"], ["2"]])
    with pytest.raises(TypeError, match="cannot cast 'a' to number"):
        t2.cast("a", int)
    t2.cast("a", str)
    with pytest.raises(TypeError):
        t2.add_data(None)  # cast() made it non-optional, as wandb's default
    t2.cast("a", None, optional=True)
    t2.add_data(5)  # any type now


def test_columns_index_rows_and_dataframe():
    t = Table(columns=["a", "b"], data=[[1, "x"], [2, "y"], [3, "z"]])
    assert t.get_column("a") == [1, 2, 3]
    arr = t.get_column("a", convert_to="numpy")
    assert isinstance(arr, np.ndarray) and arr.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match=r"no column 'zz'; columns are \['a', 'b'\]"):
        t.get_column("zz")
    with pytest.raises(ValueError, match="numpy"):
        t.get_column("a", convert_to="torch")
    assert t.get_index() == [0, 1, 2]
    assert list(t.iterrows()) == [(0, [1, "x"]), (1, [2, "y"]), (2, [3, "z"])]
    t.add_column("c", [0.5, 1.5, None], optional=True)
    with pytest.raises(ValueError, match="3 rows"):
        t.add_column("d", [1])
    with pytest.raises(ValueError, match="already"):
        t.add_column("a", [1, 2, 3])
    t.add_computed_columns(lambda i, row: {"double": row["a"] * 2, "i": i})
    df = t.get_dataframe()
    assert list(df.columns) == ["a", "b", "c", "double", "i"]
    assert df["double"].tolist() == [2, 4, 6] and df["i"].tolist() == [0, 1, 2]
    # a table may also be built column by column
    cols = Table(columns=[])
    cols.add_column("x", np.array([1, 2]))
    cols.add_column("y", ["a", "b"])
    assert cols.data == [[1, "a"], [2, "b"]]


# -- logging and reading back -------------------------------------------------------------------
def test_logged_table_is_a_wandb_table_file_and_reads_back():
    run = runstore.init(project="p")
    rows = [[1, "a", 0.5, True, [1, 2], {"k": "v"}, None], [2, "b", float("nan"), False, [], {}, None]]
    t = Table(columns=["i", "s", "f", "b", "l", "d", "n"], data=rows)
    run.log({"val/preds": t})
    run.finish()
    ref = history(run)[0]["val/preds"]
    assert set(ref) == TABLE_FILE_KEYS | ARTIFACT_KEYS
    assert ref["_type"] == "table-file" and ref["log_mode"] == "IMMUTABLE"
    assert (ref["ncols"], ref["nrows"]) == (7, 2)
    assert re.fullmatch(PATH_RE.format(head="val/", leaf="preds", step=0), ref["path"])
    raw = (files_dir(run) / ref["path"]).read_bytes()
    assert ref["sha256"] == hashlib.sha256(raw).hexdigest() and ref["size"] == len(raw)
    assert ref["path"].endswith(f"_{ref['sha256'][:20]}.table.json")
    doc = json.loads(raw)
    assert set(doc) == {"columns", "data"} and doc["columns"] == t.columns
    assert math.isnan(doc["data"][1][2])  # NaN kept, as wandb writes it
    back = api_run(run).table("val/preds")
    assert back.columns == t.columns and back.data[0] == rows[0]
    df = back.get_dataframe()
    assert df.shape == (2, 7) and df["s"].tolist() == ["a", "b"]
    # the file itself is reachable through the read API too
    assert api_run(run).file(ref["path"]).size == ref["size"]


def test_from_json_takes_a_reference_a_dict_or_a_path():
    run = runstore.init(project="p")
    run.log({"t": Table(columns=["a"], data=[[1], [2]])})
    run.finish()
    ref = history(run)[0]["t"]
    assert Table.from_json(ref, root=files_dir(run)).data == [[1], [2]]
    assert Table.from_json(files_dir(run) / ref["path"]).data == [[1], [2]]
    assert Table.from_json({"columns": ["x"], "data": [[3]]}).data == [[3]]
    with pytest.raises(ValueError, match="root="):
        Table.from_json(ref)
    with pytest.raises(ValueError, match="not a table"):
        Table.from_json({"foo": 1})


def test_table_at_a_given_step_and_missing_key():
    run = runstore.init(project="p")
    for i in range(3):
        run.log({"t": Table(columns=["i"], data=[[i]] * (i + 1)), "x": i})
    run.finish()
    r = api_run(run)
    assert r.table("t").data == [[2], [2], [2]]
    assert r.table("t", step=1).data == [[1], [1]]
    with pytest.raises(Error, match=r"no table logged under 'nope'.*tables in the summary: \['t'\]"):
        r.table("nope")
    with pytest.raises(Error, match="history step 7"):
        r.table("t", step=7)


def test_dataframe_logged_directly_becomes_a_table():
    run = runstore.init(project="p")
    df = pd.DataFrame({"a": [1, 2, 3], "b": [0.1, 0.2, 0.3]})
    run.log({"df": df})
    run.finish()
    ref = history(run)[0]["df"]
    assert ref["_type"] == "table-file" and ref["nrows"] == 3
    pd.testing.assert_frame_equal(api_run(run).table("df").get_dataframe(), df)


def test_cells_convert_like_wandb():
    run = runstore.init(project="p")
    t = Table(
        columns=["ts", "day", "np", "arr"],
        data=[[dt.datetime(2000, 12, 1), dt.date(2000, 12, 2), np.float32(0.5), np.array([[1, 2], [3, 4]])]],
    )
    run.log({"t": t})
    run.finish()
    # wandb stores timestamps as epoch milliseconds (naive = UTC)
    assert read_file(run, history(run)[0]["t"])["data"] == [
        [975628800000, 975715200000, 0.5, [[1, 2], [3, 4]]]
    ]


def test_media_cells_are_bound_and_stored_as_references():
    try:
        from runstore.media import Image
    except (ImportError, AttributeError):
        pytest.skip("runstore.media.Image is not available yet")
    run = runstore.init(project="p")
    img = Image(np.zeros((4, 5, 3), dtype=np.uint8))
    run.log({"samples": Table(columns=["id", "img"], data=[[1, img]])})
    run.finish()
    cell = read_file(run, history(run)[0]["samples"])["data"][0][1]
    assert cell["_type"] == "image-file"
    assert (files_dir(run) / cell["path"]).is_file()
    back = api_run(run).table("samples")
    assert back.get_column("img")[0]["path"] == cell["path"]


# -- bad inputs at log time: clear error, run continues -----------------------------------------
def test_too_many_rows_is_a_clear_error_and_the_run_continues(capsys):
    run = runstore.init(project="p")
    big = Table(columns=["i"], data=[[i] for i in range(11_000)])  # building it only warns
    assert "10,000 rows" in capsys.readouterr().err
    run.log({"big": big, "loss": 1.0})
    err = capsys.readouterr().err
    assert any("'big'" in w and "11,000 rows" in w and "at most 10,000" in w for w in warnings_in(err))
    run.log({"loss": 0.5, "small": Table(columns=["i"], data=[[1]])})
    run.finish()
    rows = history(run)
    assert rows[0]["big"] is None and rows[0]["loss"] == 1.0
    assert rows[1]["small"]["_type"] == "table-file"
    assert not list((files_dir(run) / "media" / "table").rglob("big_*"))


def test_empty_table_is_a_clear_error_and_the_run_continues(capsys):
    run = runstore.init(project="p")
    run.log({"empty": Table(columns=["a", "b"]), "x": 1})
    assert any("'empty' is empty (0 rows)" in w for w in warnings_in(capsys.readouterr().err))
    run.log({"x": 2})
    run.finish()
    assert [r["x"] for r in history(run)] == [1, 2] and history(run)[0]["empty"] is None


# -- log modes ----------------------------------------------------------------------------------
def test_immutable_relog_after_mutation_points_at_the_first_file(capsys):
    run = runstore.init(project="p")
    t = Table(columns=["a"], data=[[1]])
    run.log({"t": t})
    t.add_data(2)
    assert "IMMUTABLE" in capsys.readouterr().err
    run.log({"t": t})
    run.finish()
    first, second = (r["t"] for r in history(run))
    assert first == second and first["nrows"] == 1


def test_mutable_relog_writes_the_current_table():
    run = runstore.init(project="p")
    t = Table(columns=["a"], data=[[1]], log_mode="MUTABLE")
    run.log({"t": t})
    t.add_data(2)
    run.log({"t": t})
    run.finish()
    first, second = (r["t"] for r in history(run))
    assert first["path"] != second["path"] and (first["nrows"], second["nrows"]) == (1, 2)
    assert second["log_mode"] == "MUTABLE" and read_file(run, second)["data"] == [[1], [2]]


def test_incremental_writes_only_new_rows_and_reads_back_whole():
    run = runstore.init(project="p")
    t = Table(columns=["step", "text"], log_mode="INCREMENTAL")
    t.add_data(0, "a")
    run.log({"samples": t})
    t.add_data(1, "b")
    t.add_data(2, "c")
    run.log({"samples": t})
    run.log({"samples": t})  # nothing new: the same increment again, no new file
    t.add_data(3, "d")
    run.log({"samples": t})
    run.finish()
    refs = [r["samples"] for r in history(run)]
    assert [r["_type"] for r in refs] == ["incremental-table-file"] * 4
    assert set(refs[0]) == INCREMENTAL_KEYS and set(refs[1]) == INCREMENTAL_KEYS | {"previous_increment_path"}
    assert [r["increment_num"] for r in refs] == [0, 1, 1, 2]
    assert [r["nrows"] for r in refs] == [1, 3, 3, 4]  # rows in the whole table so far, as wandb
    assert [r["increment_nrows"] for r in refs] == [1, 2, 2, 1]
    assert refs[2] == refs[1] and refs[3]["previous_increment_path"] == refs[1]["path"]
    files = [read_file(run, refs[i]) for i in (0, 1, 3)]
    assert [f["data"] for f in files] == [[[0, "a"]], [[1, "b"], [2, "c"]], [[3, "d"]]]
    assert [f["previous_increment_path"] for f in files] == [None, refs[0]["path"], refs[1]["path"]]
    r = api_run(run)
    assert r.table("samples").data == [[0, "a"], [1, "b"], [2, "c"], [3, "d"]]
    assert r.table("samples").log_mode == "INCREMENTAL"
    assert r.table("samples", step=1).data == [[0, "a"], [1, "b"], [2, "c"]]
    # a single increment file, opened by path, reassembles its chain too
    assert len(Table.from_json(files_dir(run) / refs[3]["path"]).data) == 4


def test_incremental_has_no_total_row_limit_only_per_increment():
    run = runstore.init(project="p")
    t = Table(columns=["i"], log_mode="INCREMENTAL")
    for chunk in range(3):
        for i in range(6_000):
            t.add_data(chunk * 6_000 + i)
        run.log({"t": t})
    run.finish()
    assert history(run)[-1]["t"]["nrows"] == 18_000
    assert api_run(run).table("t").get_column("i") == list(range(18_000))


def test_incremental_rejects_column_changes():
    t = Table(columns=["a"], log_mode="INCREMENTAL")
    with pytest.raises(Error, match="add_column"):
        t.add_column("b", [])
    with pytest.raises(Error, match="add_computed_columns"):
        t.add_computed_columns(lambda i, r: {})


def test_incremental_table_continues_across_resume():
    run = runstore.init(project="p", id="incr0001")
    t = Table(columns=["i"], data=[[0], [1]], log_mode="INCREMENTAL")
    run.log({"t": t})
    run.finish()
    run = runstore.init(project="p", id="incr0001", resume="allow")
    t2 = Table(columns=["i"], data=[[2]], log_mode="INCREMENTAL")  # a new object after a restart
    run.log({"t": t2})
    run.finish()
    last = history(run)[-1]["t"]
    assert last["increment_num"] == 1 and last["nrows"] == 3
    assert api_run(run).table("t").data == [[0], [1], [2]]


def test_same_table_logged_to_two_runs_is_complete_in_each():
    t = Table(columns=["a"], data=[[1]], log_mode="INCREMENTAL")
    first = runstore.init(project="p")
    first.log({"t": t})
    first.finish()
    second = runstore.init(project="p")
    t.add_data(2)
    second.log({"t": t})
    second.finish()
    assert api_run(first).table("t").data == [[1]]
    assert api_run(second).table("t").data == [[1], [2]]
