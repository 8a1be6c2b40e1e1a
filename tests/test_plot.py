"""wandb.plot: each chart is stored as its table at `K_table` plus `_wandb.visualize.K` (docs/COMPAT.md §8)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from conftest import history, warnings_in

import runstore
import runstore.plot as plot
from runstore.errors import Error
from runstore.media.table import Table
from runstore.plot import metrics


def visualize_spec(
    preset: str, fields: dict[str, Any], strings: dict[str, Any], table_key: str
) -> dict[str, Any]:
    """wandb's panel config for a chart, written out from docs/COMPAT.md §8 / wandb's custom_chart.py."""
    return {
        "panel_type": "Vega2",
        "panel_config": {
            "panelDefId": preset,
            "fieldSettings": fields,
            "stringSettings": strings,
            "transform": {"name": "tableWithLeafColNames"},
            "userQuery": {
                "queryFields": [
                    {
                        "name": "runSets",
                        "args": [{"name": "runSets", "value": "${runSets}"}],
                        "fields": [
                            {"name": "id", "fields": []},
                            {"name": "name", "fields": []},
                            {"name": "_defaultColorIndex", "fields": []},
                            {
                                "name": "summaryTable",
                                "args": [{"name": "tableKey", "value": table_key}],
                                "fields": [],
                            },
                        ],
                    }
                ]
            },
        },
    }


def log_chart(key: str, chart: Any) -> tuple[Any, dict[str, Any], Any]:
    """Log `chart` under `key` in a fresh run: (api run, its `_wandb` config, the stored table)."""
    run = runstore.init(project="p")
    run.log({key: chart})
    run.finish()
    row = history(run)[0]
    assert key not in row  # the chart's key holds nothing: its table is at K_table
    r = runstore.Api().run(f"p/{run.id}")
    return r, r.rawconfig["_wandb"]["value"], r.table(key)


def sample_table() -> Table:
    return Table(columns=["x", "y", "c"], data=[[1, 2.0, "a"], [2, 4.0, "b"], [3, 5.0, "a"]])


@pytest.mark.parametrize(
    "make, preset, fields, strings",
    [
        (
            lambda t: plot.line(t, "x", "y", stroke="c", title="T"),
            "wandb/line/v0",
            {"x": "x", "y": "y", "stroke": "c"},
            {"title": "T"},
        ),
        (
            lambda t: plot.scatter(t, "x", "y", title="T"),
            "wandb/scatter/v0",
            {"x": "x", "y": "y"},
            {"title": "T"},
        ),
        (
            lambda t: plot.bar(t, "c", "y", title="T"),
            "wandb/bar/v0",
            {"label": "c", "value": "y"},
            {"title": "T"},
        ),
        (lambda t: plot.histogram(t, "y", title="T"), "wandb/histogram/v0", {"value": "y"}, {"title": "T"}),
        (
            lambda t: plot.plot_table("me/custom/v3", t, {"a": "x"}, {"title": "T"}),
            "me/custom/v3",
            {"a": "x"},
            {"title": "T"},
        ),
    ],
)
def test_table_charts_store_table_and_spec(make, preset, fields, strings):
    t = sample_table()
    r, wb, back = log_chart("chart", make(t))
    assert wb["visualize"]["chart"] == visualize_spec(preset, fields, strings, "chart_table")
    ref = r.summary["chart_table"]
    assert ref["_type"] == "table-file" and ref["nrows"] == 3
    assert back.columns == t.columns and back.data == t.data


def test_top_level_names_resolve_in_a_fresh_process():
    code = "import runstore as w; print(w.plot.line.__name__, w.plot_table.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["line", "plot_table"]


def test_line_series_is_long_format():
    chart = plot.line_series([0, 1, 2], [[1, 2, 3], [4, 5, 6]], keys=["a", "b"], title="T", xname="epoch")
    _r, wb, back = log_chart("ls", chart)
    assert back.columns == ["step", "lineKey", "lineVal"]
    assert back.data == [[0, "a", 1], [1, "a", 2], [2, "a", 3], [0, "b", 4], [1, "b", 5], [2, "b", 6]]
    assert wb["visualize"]["ls"] == visualize_spec(
        "wandb/lineseries/v0",
        {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"},
        {"title": "T", "xname": "epoch"},
        "ls_table",
    )
    per_line = plot.line_series([[0, 1], [5, 6]], np.array([[1, 2], [3, 4]]))  # one x-series per line
    assert per_line.table.data == [[0, "line_0", 1], [1, "line_0", 2], [5, "line_1", 3], [6, "line_1", 4]]


@pytest.mark.parametrize(
    "args, words",
    [
        (([0, 1], [[1, 2], [3, 4]], ["a"]), r"keys \(1\) must match y-series \(2\)"),
        (([[0, 1], [0, 1], [0, 1]], [[1, 2], [3, 4]]), r"x-series \(3\) must match y-series \(2\)"),
        (([0, 1, 2], [[1, 2]]), "2 y values but 3 x values"),
    ],
)
def test_line_series_bad_inputs(args, words):
    with pytest.raises(ValueError, match=words):
        plot.line_series(*args)


def test_chart_argument_errors():
    with pytest.raises(Error, match="wandb.Table"):
        plot.plot_table("wandb/line/v0", [[1, 2]], {"x": "x"})
    with pytest.raises(ValueError, match=r"y='nope' is not a column.*\['x', 'y', 'c'\]"):
        plot.line(sample_table(), "x", "nope")
    with pytest.raises(Error, match="wandb.Table"):
        plot.visualize("wandb/line/v0", {"a": 1})


def test_split_table_and_legacy_visualize():
    _r, wb, back = log_chart("s", plot.scatter(sample_table(), "x", "y", split_table=True))
    table_key = "Custom Chart Tables/s_table"
    assert (
        wb["visualize"]["s"]["panel_config"]["userQuery"]["queryFields"][0]["fields"][3]["args"][0]["value"]
        == table_key
    )
    assert back.data == sample_table().data
    run = runstore.init(project="p")
    run.log({"v": plot.visualize("wandb/line/v0", sample_table())})
    run.finish()
    assert history(run)[0]["v"]["_type"] == "table-file"  # legacy: the table stays at its own key
    cfg = runstore.Api().run(f"p/{run.id}").rawconfig["_wandb"]["value"]
    assert cfg["viz"]["v"] == {"id": "wandb/line/v0", "historyFieldSettings": {"x-axis": "_step", "key": "v"}}


def test_chart_that_cannot_be_stored_leaves_no_panel_and_the_run_continues(capsys):
    run = runstore.init(project="p")
    big = Table(columns=["x", "y"], data=[[i, i] for i in range(10_001)])
    run.log({"c": plot.line(big, "x", "y"), "loss": 1.0})
    assert any("10,001 rows" in w for w in warnings_in(capsys.readouterr().err))
    run.log({"loss": 0.5})
    run.finish()
    assert [r["loss"] for r in history(run)] == [1.0, 0.5]
    cfg = runstore.Api().run(f"p/{run.id}").rawconfig.get("_wandb", {}).get("value", {})
    assert "c" not in cfg.get("visualize", {})


# -- the numbers: scikit-learn's definitions, computed with numpy --------------------------------
def test_metrics_match_scikit_learn_documented_examples():
    # the examples in scikit-learn's docstrings of precision_recall_curve and roc_curve
    p, r, t = metrics.precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 1)
    np.testing.assert_allclose(p, [0.5, 2 / 3, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(r, [1.0, 1.0, 0.5, 0.5, 0.0])
    np.testing.assert_allclose(t, [0.1, 0.35, 0.4, 0.8])
    fpr, tpr, thr = metrics.roc_curve([1, 1, 2, 2], [0.1, 0.4, 0.35, 0.8], 2)
    np.testing.assert_allclose(fpr, [0.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(tpr, [0.0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(thr, [np.inf, 0.8, 0.4, 0.35, 0.1])


def test_metrics_match_scikit_learn_when_installed():
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 3, size=200)
        s = np.round(rng.random(200), 2)  # rounding makes ties, the tricky case
        for c in range(3):
            for ours, theirs in zip(
                metrics.precision_recall_curve(y, s, c),
                skm.precision_recall_curve(y, s, pos_label=c),
                strict=True,
            ):
                np.testing.assert_allclose(ours, theirs)
            for ours, theirs in zip(
                metrics.roc_curve(y, s, c), skm.roc_curve(y, s, pos_label=c), strict=True
            ):
                np.testing.assert_allclose(ours, theirs)


def test_pr_curve_table_and_spec():
    y_true = [0, 1, 1, 0, 1]
    probas = [[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]
    _r, wb, back = log_chart("pr", plot.pr_curve(y_true, probas, labels=["neg", "pos"], title="PR"))
    assert back.columns == ["class", "precision", "recall"]
    assert len(back.data) == 2 * 21  # interp_size recall levels per class
    assert back.get_column("recall")[:3] == [1.0, 0.95, 0.9]
    assert {row[0] for row in back.data} == {"neg", "pos"}
    assert all(row[1] == 1.0 for row in back.data)  # a perfect classifier
    assert wb["visualize"]["pr"] == visualize_spec(
        "wandb/area-under-curve/v0",
        {"x": "recall", "y": "precision", "class": "class"},
        {"title": "PR", "x-axis-title": "Recall", "y-axis-title": "Precision"},
        "pr_table",
    )


def test_pr_curve_interpolates_the_precision_envelope():
    # class 1 scores: positives at 0.8 and 0.35, a negative at 0.4 in between
    chart = plot.pr_curve(
        [0, 0, 1, 1], [[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]], classes_to_plot=[1], interp_size=3
    )
    # recall 1.0 -> precision 2/3; 0.5 -> envelope max(1, 0.5) = 1; 0 -> 1
    assert chart.table.data == [[1, 0.667, 1.0], [1, 1.0, 0.5], [1, 1.0, 0.0]]


def test_roc_curve_table_and_classes_to_plot():
    y = [0, 1, 2, 2, 1, 0]
    p = np.array(
        [[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1], [0.6, 0.3, 0.1]]
    )
    _r, wb, back = log_chart("roc", plot.roc_curve(y, p, labels=["a", "b", "c"], classes_to_plot=[0, 2]))
    assert back.columns == ["class", "fpr", "tpr"]
    assert {row[0] for row in back.data} == {"a", "c"}
    rows_a = [row[1:] for row in back.data if row[0] == "a"]
    assert rows_a[0] == [0.0, 0.0] and rows_a[-1] == [1.0, 1.0]
    assert wb["visualize"]["roc"]["panel_config"]["fieldSettings"] == {
        "x": "fpr",
        "y": "tpr",
        "class": "class",
    }


def test_roc_curve_is_thinned_to_the_row_limit(capsys):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, size=30_000)
    s = rng.random(30_000)
    chart = plot.roc_curve(y, np.stack([1 - s, s], axis=1))
    assert "MAX_ROWS" in capsys.readouterr().err
    assert len(chart.table.data) <= Table.MAX_ROWS
    for cls in (0, 1):
        pts = [r[1:] for r in chart.table.data if r[0] == cls]
        assert pts[0] == [0.0, 0.0] and pts[-1] == [1.0, 1.0]  # both ends kept


def test_binary_scores_may_be_one_dimensional():
    chart = plot.roc_curve([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.3])
    assert {row[0] for row in chart.table.data} == {0, 1}


@pytest.mark.parametrize("fn", [plot.pr_curve, plot.roc_curve])
@pytest.mark.parametrize(
    "args, words",
    [
        (([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]]), "3 samples but y_probas has 2 rows"),
        (([0, 1], [0.5, 0.5, 0.5]), "2 samples but y_probas has 3"),
        (([], []), "non-empty"),
        (([0, 1], [[0.5, 0.5], [0.5, 0.5]], None, [7]), "none of classes_to_plot"),
        (([0, 1, 2], [[1.0], [1.0], [1.0]]), "3 classes but y_probas only 1 columns"),
        (([0, 1], [[0.5, 0.5], [0.5, 0.5]], ["only-one"]), "no entry in labels"),
    ],
)
def test_curve_bad_inputs(fn, args, words):
    with pytest.raises(ValueError, match=words):
        fn(*args)


def test_confusion_matrix_from_preds_and_from_probs():
    y_true = [0, 1, 2, 2, 1]
    preds = [0, 2, 2, 2, 1]
    _r, wb, back = log_chart(
        "cm", plot.confusion_matrix(y_true=y_true, preds=preds, class_names=["cat", "dog", "owl"], title="CM")
    )
    assert back.columns == ["Actual", "Predicted", "nPredictions"]
    counts = {(a, p): n for a, p, n in back.data}
    assert len(counts) == 9 and sum(counts.values()) == 5
    assert counts[("dog", "owl")] == 1 and counts[("owl", "owl")] == 2 and counts[("cat", "dog")] == 0
    assert wb["visualize"]["cm"] == visualize_spec(
        "wandb/confusion_matrix/v1",
        {"Actual": "Actual", "Predicted": "Predicted", "nPredictions": "nPredictions"},
        {"title": "CM"},
        "cm_table",
    )
    probs = np.eye(3)[preds] * 0.9 + 0.03
    from_probs = plot.confusion_matrix(
        probs=probs, y_true=np.array(y_true), class_names=["cat", "dog", "owl"]
    )
    assert from_probs.table.data == back.data
    as_floats = plot.confusion_matrix(
        y_true=np.array(y_true, dtype=float), preds=preds, class_names=["cat", "dog", "owl"]
    )
    assert as_floats.table.data == back.data


def test_confusion_matrix_without_class_names():
    chart = plot.confusion_matrix(y_true=["b", "a", "b"], preds=["b", "b", "b"])
    assert chart.table.data == [
        ["Class_1", "Class_1", 0],
        ["Class_1", "Class_2", 1],
        ["Class_2", "Class_1", 0],
        ["Class_2", "Class_2", 2],
    ]


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"y_true": [0, 1], "preds": [0]}, "must be equal"),
        ({"y_true": [0, 1], "preds": [0, 1], "probs": [[1, 0], [0, 1]]}, "not both"),
        ({"y_true": [0, 1]}, "one of preds= or probs="),
        ({"y_true": [0, 5], "preds": [0, 1], "class_names": ["a", "b"]}, "class indices 0..1; got 5"),
        ({"y_true": [0, 1], "probs": [[1, 0, 0], [0, 1, 0]], "class_names": ["a", "b"]}, "3 columns"),
        ({"y_true": [0, "a"], "preds": [0, 0]}, "cannot be sorted"),
    ],
)
def test_confusion_matrix_bad_inputs(kwargs, words):
    with pytest.raises(ValueError, match=words):
        plot.confusion_matrix(**kwargs)


def test_chart_json_reference_matches_the_table_file_fixture():
    run = runstore.init(project="p")
    run.log({"bars": plot.bar(sample_table(), "c", "y")})
    run.finish()
    ref = history(run)[0]["bars_table"]
    assert set(ref) == {
        *("_type", "path", "sha256", "size", "ncols", "nrows", "log_mode"),
        *("artifact_path", "_latest_artifact_path"),  # the table's run_table artifact, as in wandb
    }
    assert (
        ref["artifact_path"] == f"wandb-client-artifact://p/run-{run.id}-bars_table:v0/bars_table.table.json"
    )
    assert ref["path"].startswith("media/table/0000000/bars_table_0_")
    doc = json.loads((run._ref.path / "files" / ref["path"]).read_text())
    assert doc == {"columns": ["x", "y", "c"], "data": [[1, 2.0, "a"], [2, 4.0, "b"], [3, 5.0, "a"]]}
