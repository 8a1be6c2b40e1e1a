"""`runstore show RUN`: identity, config, summary, files and sparklines of the main metrics."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_cli

import runstore
from runstore.cli.show_cmd import BARS, sparkline


def make_run(**kw):
    run = runstore.init(project="p", config={"lr": 0.1, "opt": {"name": "adam"}}, tags=["t1"], **kw)
    for i in range(300):
        runstore.log(
            {"loss": math.exp(-i / 50) + (5.0 if i == 150 else 0.0), "acc": i / 300, "deep": {"x": i}}
        )
    runstore.log({"note": "text"})
    run.finish()
    return run


def test_show_prints_identity_config_summary_metrics_and_files(capsys):
    run = make_run(name="demo", notes="first try")
    code, out, err = run_cli(capsys, "show", run.id, "--width", "20")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"demo ({run.id})  project p  finished")
    assert "steps 301" in out and "tags t1" in out and "notes: first try" in out
    assert "lr" in out and "opt.name" in out and "adam" in out
    loss = next(
        line for line in lines if line.strip().startswith("loss") and "│" in line and BARS[-1] in line
    )
    cells = [c.strip() for c in loss.split("│")]
    assert float(cells[2]) == pytest.approx(math.exp(-150 / 50) + 5.0, rel=1e-3)  # the spike is the max
    spark = cells[4]
    assert len(spark) == 20 and spark[10] == BARS[-1]  # step 150 of 300: the middle bucket
    assert "deep.x" in out
    assert "files (" in out and "requirements.txt" in out


def test_show_json_and_chosen_metrics(capsys):
    run = make_run()
    code, out, _ = run_cli(capsys, "show", "latest", "--json", "-m", "acc", "-m", "missing")
    assert code == 0
    doc = json.loads(out)
    assert doc["id"] == run.id and doc["config"]["lr"] == 0.1
    assert doc["metrics"]["acc"]["count"] == 300 and doc["metrics"]["acc"]["last"] == pytest.approx(299 / 300)
    assert doc["metrics"]["missing"] == {"count": 0}
    assert any(f["name"] == "requirements.txt" for f in doc["files"])


def test_show_escapes_terminal_sequences_and_markup(capsys):
    run = make_run(name="evil\x1b]0;pwned\x07[bold]x")
    code, out, _ = run_cli(capsys, "show", run.id)
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "evil\\x1b]0;pwned\\x07[bold]x" in out


def test_show_unknown_run_is_one_line(capsys):
    make_run()
    code, out, err = run_cli(capsys, "show", "nosuchrun")
    assert code == 1 and "nosuchrun" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "values,width,want",
    [
        ([], 10, ""),
        ([math.nan, math.inf], 10, ""),
        ([1.0, 1.0, 1.0], 10, BARS[0] * 3),
        ([0.0, 1.0], 2, BARS[0] + BARS[-1]),
        ([0.0, math.nan, 1.0, 1.0], 4, BARS[0] + " " + BARS[-1] * 2),
    ],
)
def test_sparkline(values, width, want):
    assert sparkline(values, width) == want


def test_sparkline_keeps_a_one_step_drop():
    values = [1.0] * 1000
    values[500] = 0.0
    s = sparkline(values, 10)
    assert s[5] == BARS[0] and set(s[:5] + s[6:]) == {BARS[-1]}
