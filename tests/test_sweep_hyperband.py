"""Hyperband early termination on scripted metric curves (docs/COMPAT.md §11.9)."""

from __future__ import annotations

import math
from typing import Any

from runstore.sweeps import Trial, parse_config, runs_to_stop
from runstore.sweeps import hyperband as H


def cfg(goal: str = "minimize", **et: Any) -> Any:
    return parse_config(
        {
            "method": "random",
            "parameters": {"a": {"values": [1]}},
            "metric": {"name": "loss", "goal": goal},
            "early_terminate": {"type": "hyperband", **et},
        }
    )


def run(rid: str, state: str, *values: float) -> Trial:
    return Trial(rid, {"a": 1}, state, list(values))


def test_verified_example_stops_only_b() -> None:
    c = cfg(min_iter=2, eta=2)
    trials = [
        run("a", "finished", 5, 1, 1, 1),
        run("b", "running", 5, 4),
        run("c", "running", 5, 0.5),
        run("d", "running", 5),
    ]
    assert H.thresholds(c, trials)[0] == (2, 1)  # band-2 values [0.5, 1, 4], element int(3/2) = 1
    assert runs_to_stop(c, trials) == ["b"]


def test_bands() -> None:
    many = H.bands(cfg(min_iter=3))
    assert many[:4] == [3, 9, 27, 81] and len(many) <= 100 and many[-1] <= 1e18  # none beyond reach
    assert H.bands(cfg(min_iter=1, eta=2.5))[:4] == [1, 2, 6, 15]
    assert H.bands(cfg(max_iter=27, s=3)) == [1, 3, 9]
    assert H.bands(cfg(max_iter=27, s=2)) == [3, 9]
    assert H.bands(cfg(max_iter=10, s=5, eta=2)) == [1, 2, 5]  # stops before a band < 1


def test_wandb_docstring_example() -> None:
    # wandb/sweeps' own example: max_iter=5, eta=2, s=2 -> bands [1, 2]
    c = cfg(max_iter=5, eta=2, s=2)
    trials = [
        run("a", "finished", 10, 9),
        run("b", "running", 10, 10),
        run("c", "running", 10, 8, 8),
        run("d", "running", 10, 7, 7),
        run("e", "finished", 10, 6, 6),
    ]
    assert H.bands(c) == [1, 2]
    # band 2 values: [9, 10, 8, 7, 6] -> sorted [6, 7, 8, 9, 10], threshold index int(5/2) = 2 -> 8
    assert H.thresholds(c, trials)[1] == (2, 8)
    assert runs_to_stop(c, trials) == ["b"]


def test_scripted_curves_stop_exactly_the_condemned() -> None:
    # eta=3, min_iter=1 -> bands 1, 3, 9, ...; 6 finished reference runs with known curves
    c = cfg(min_iter=1, eta=3)
    refs = [run(f"f{i}", "finished", *[10 - i - 0.1 * k for k in range(10)]) for i in range(6)]
    # at band 1 the values are 10..5 -> sorted, threshold = index int(n/3)
    cands = [
        run("good", "running", 4.0),  # band 1: 4 <= threshold -> kept
        run("bad1", "running", 9.5),  # band 1: worse than threshold -> stopped
        run("bad3", "running", 5.0, 5.0, 9.9),  # band 3: worse than threshold -> stopped
        run("ok3", "running", 9.9, 9.9, 1.0, 1.0),  # band 3 value 1.0 -> kept (strict looks at band 3 only)
        run("new", "running"),  # no logs: below the first band
        run("done", "finished", 99.0),
    ]  # not running: never stopped
    trials = refs + cands
    table = dict(H.thresholds(c, trials))
    band1 = sorted([10, 9, 8, 7, 6, 5, 4.0, 9.5, 5.0, 9.9, 99.0])
    assert table[1] == band1[int(len(band1) / 3)]
    band3 = sorted([10 - i - 0.2 for i in range(6)] + [9.9, 1.0])
    assert math.isclose(table[3], band3[int(len(band3) / 3)])
    assert table[9] == sorted([10 - i - 0.8 for i in range(6)])[2] and table[27] == math.inf
    assert runs_to_stop(c, trials) == ["bad1", "bad3"]


def test_non_strict_uses_best_so_far() -> None:
    trials = [
        run("a", "finished", 1, 1, 1),
        run("b", "finished", 2, 2, 2),
        run("c", "finished", 3, 3, 3),
        run("x", "running", 0.5, 5.0),
    ]  # at band 2 it is bad, but its best (0.5) is good
    assert runs_to_stop(cfg(min_iter=2, eta=2), trials) == ["x"]
    assert runs_to_stop(cfg(min_iter=2, eta=2, strict=False), trials) == []


def test_maximize_negates() -> None:
    c = cfg(goal="maximize", min_iter=1, eta=2)
    trials = [
        run("a", "finished", 0.9),
        run("b", "finished", 0.8),
        run("lo", "running", 0.1),
        run("hi", "running", 0.95),
    ]
    assert runs_to_stop(c, trials) == ["lo"]


def test_counts_logs_and_drops_invalid_values() -> None:
    c = cfg(min_iter=2, eta=2)
    trials = [
        run("a", "finished", 1, 1),
        run("b", "finished", 2, 2),
        run("x", "running", math.nan, 3.0),
    ]  # only one valid log: below band 2
    assert runs_to_stop(c, trials) == []


def test_without_early_terminate() -> None:
    c = parse_config({"method": "random", "parameters": {"a": {"values": [1]}}, "metric": {"name": "m"}})
    assert runs_to_stop(c, [run("x", "running", 100.0)]) == [] and H.bands(c) == []
