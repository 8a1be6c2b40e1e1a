"""watch()/unwatch() on real torch models: which rows get gradient and parameter histograms, their keys
and bins against numpy's histogram of the same tensor, the graph, prefixes, and argument errors
(docs/COMPAT.md §4.6)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import runstore
from runstore.errors import Error
from runstore.sdk import watch as watch_mod


@pytest.fixture(autouse=True)
def fresh_indices(monkeypatch):
    monkeypatch.setattr(watch_mod, "_next_idx", 0)


def model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))


PARAMS = ["0.weight", "0.bias", "2.weight", "2.bias"]


def train(
    run: Any, m: nn.Module, steps: int, snapshots: dict[int, dict[str, np.ndarray]] | None = None
) -> None:
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for i in range(steps):
        if snapshots is not None:
            snapshots[i] = {n: p.detach().numpy().copy() for n, p in m.named_parameters()}
        opt.zero_grad()
        loss = nn.functional.mse_loss(m(x), y)
        loss.backward()
        if snapshots is not None:
            snapshots[i].update({"grad:" + n: p.grad.numpy().copy() for n, p in m.named_parameters()})
        opt.step()
        run.log({"loss": loss.item()})


def rows_of(run: Any) -> list[dict[str, Any]]:
    return runstore.Api().run(f"p/{run.id}").history(samples=None, pandas=False)


def test_histograms_every_log_freq_steps_with_wandbs_keys():
    run = runstore.init(project="p")
    m = model()
    snaps: dict[int, dict[str, np.ndarray]] = {}
    runstore.watch(m, log="all", log_freq=3)
    train(run, m, 7, snaps)
    run.finish()
    rows = rows_of(run)
    assert len(rows) == 7
    want_keys = {f"parameters/{n}" for n in PARAMS} | {f"gradients/{n}" for n in PARAMS}
    for row in rows:
        got = {k for k in row if k.startswith(("parameters/", "gradients/"))}
        # the 3rd and 6th forward/backward pass log; their histograms join that step's row
        assert got == (want_keys if row["_step"] in (2, 5) else set()), row["_step"]
    for s in (2, 5):
        row = rows[s]
        for n in PARAMS:
            for key, arr in ((f"parameters/{n}", snaps[s][n]), (f"gradients/{n}", snaps[s]["grad:" + n])):
                h = row[key]
                assert h["_type"] == "histogram"
                assert len(h["values"]) == 64 and len(h["bins"]) == 65
                lo, hi = float(arr.min()), float(arr.max())
                if lo == hi:  # one value (the 1-element bias): a unit-wide range centred on it
                    lo, hi = lo - 0.5, hi + 0.5
                assert h["bins"][0] == pytest.approx(lo, rel=1e-6) and h["bins"][-1] == pytest.approx(
                    hi, rel=1e-6
                )
                assert sum(h["values"]) == arr.size
                want, _ = np.histogram(arr.astype(np.float64), bins=64, range=(lo, hi))
                # torch.histc and numpy may put a value lying on a bin edge (in float32 vs float64)
                # on either side of it; the counts agree everywhere else
                diff = np.abs(np.array(h["values"]) - want)
                assert diff.sum() <= 2 * np.sum(
                    np.isclose(arr[..., None], np.linspace(lo, hi, 65), rtol=0, atol=1e-6)
                )


def test_integer_valued_tensor_bins_exactly():
    from runstore.sdk.watch import _histogram

    t = torch.arange(64, dtype=torch.float32).repeat(3)  # 0..63, three times
    counts, edges = _histogram(t)
    assert counts == [3.0] * 63 + [3.0] and edges[0] == 0.0 and edges[-1] == 63.0
    assert _histogram(torch.full((5,), float("nan"))) is None  # nothing finite: not logged
    c, e = _histogram(torch.tensor([2.0, 2.0, float("inf")]))
    assert sum(c) == 2 and e[0] < 2.0 < e[-1]
    c, _ = _histogram(torch.tensor([0.5, 1.5], dtype=torch.bfloat16))
    assert sum(c) == 2


def test_parameters_only_in_training_mode_and_gradients_only():
    run = runstore.init(project="p")
    m = model()
    run.watch(m, log="parameters", log_freq=1)
    m.eval()
    with torch.no_grad():
        m(torch.randn(2, 4))
    run.log({"eval": 1})
    m.train()
    m(torch.randn(2, 4))
    run.log({"train": 1})
    run.finish()
    rows = rows_of(run)
    assert not any(k.startswith("parameters/") for k in rows[0])
    assert {k for k in rows[1] if "/" in k} == {f"parameters/{n}" for n in PARAMS}

    run = runstore.init(project="p")
    m = model()
    run.watch(m)  # wandb's defaults: gradients, every 1000 steps
    train(run, m, 3)
    run.finish()
    assert not any("/" in k for r in rows_of(run) for k in r)


def test_unwatch_removes_the_hooks():
    run = runstore.init(project="p")
    m = model()
    runstore.watch(m, log="all", log_freq=1)
    train(run, m, 2)
    runstore.unwatch(m)
    train(run, m, 2)
    run.finish()
    rows = rows_of(run)
    assert [any("/" in k for k in r) for r in rows] == [True, True, False, False]
    assert not m._forward_hooks and all(not p._backward_hooks for p in m.parameters())


def test_finish_removes_the_hooks_and_training_goes_on():
    run = runstore.init(project="p")
    m = model()
    run.watch(m, log="all", log_freq=1)
    run.finish()
    m(torch.randn(2, 4)).sum().backward()  # no warning, no exception: the hooks are gone
    assert not m._forward_hooks


def test_a_second_model_gets_wandbs_graph_prefix_and_idx():
    run = runstore.init(project="p")
    a, b = model(), model()
    runstore.watch([a, b], log="parameters", log_freq=1)
    a(torch.randn(2, 4))
    b(torch.randn(2, 4))
    run.log({"x": 1})
    run.finish()
    (row,) = rows_of(run)
    keys = {k for k in row if k.startswith("parameters/")}
    assert keys == {f"parameters/{n}" for n in PARAMS} | {f"parameters/graph_1{n}" for n in PARAMS}

    run = runstore.init(project="p")
    c = model()
    run.watch(c, log="parameters", log_freq=1, idx=5)
    c(torch.randn(2, 4))
    run.log({"x": 1})
    run.finish()
    (row,) = rows_of(run)
    assert {k for k in row if k.startswith("parameters/")} == {f"parameters/graph_5{n}" for n in PARAMS}


def test_log_graph_records_the_layers():
    run = runstore.init(project="p")
    m = model()
    (graph,) = run.watch(m, log=None, log_graph=True)
    m(torch.randn(3, 4))
    run.finish()
    ref = runstore.Api().run(f"p/{run.id}").summary["graph_0"]
    assert ref["_type"] == "graph-file"
    import json
    from pathlib import Path

    data = json.loads((Path(run.dir) / ref["path"]).read_text())
    assert data["format"] == "torch"
    assert [(n["name"], n["class_name"], n["output_shape"]) for n in data["nodes"]] == [
        ("0", "Linear", [3, 8]),
        ("1", "ReLU", [3, 8]),
        ("2", "Linear", [3, 1]),
    ]
    assert data["nodes"][0]["parameters"] == [["weight", [8, 4]], ["bias", [8]]]
    assert data["nodes"][0]["num_parameters"] == [32, 8]
    assert graph.nodes[2].class_name == "Linear"


def test_bad_arguments_are_clear_errors():
    with pytest.raises(Error, match=r"init\(\) before runstore.watch"):
        runstore.watch(model())
    run = runstore.init(project="p")
    with pytest.raises(TypeError, match="torch.nn.Module"):
        run.watch("model")
    with pytest.raises(ValueError, match="gradients"):
        run.watch(model(), log="weights")
    with pytest.raises(ValueError, match="log_freq"):
        run.watch(model(), log_freq=0)
    with pytest.raises(ValueError, match="needs a model"):
        run.watch([])
    run.finish()
