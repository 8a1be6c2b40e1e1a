"""torch.utils.tensorboard's SummaryWriter into runstore (docs/COMPAT.md §18): live with
`init(sync_tensorboard=True)`, with torch's writer module imported after the patch (the import hook),
torch's default log directory (`runs/<date>_<host>`) and its add_scalars sub-writers, then the same event
files through `runstore import tensorboard`. Read back with `Api()`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import run_cli, run_script
from PIL import Image as PILImage

import runstore
from runstore.capture import tensorboard as tb
from runstore.integration import tensorboard as tbi

pytest.importorskip("tensorboard")


@pytest.fixture(autouse=True)
def _unpatched():
    tb.reset()
    yield
    tb.reset()


def user(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def test_torch_writer_imported_after_init_is_captured_with_every_kind(tmp_path: Path):
    sys.modules.pop("torch.utils.tensorboard.writer", None)
    sys.modules.pop("torch.utils.tensorboard", None)
    run = runstore.init(project="p", sync_tensorboard=True)
    from torch.utils.tensorboard import SummaryWriter  # after the patch: patched when imported

    w = SummaryWriter()  # torch's default: runs/<date>_<host>, its own root (wandb's rule)
    for i in range(3):
        w.add_scalar("loss", torch.tensor(1.0 / (i + 1)), i)
        w.add_scalars("acc", {"train": 0.5 + i / 10, "val": 0.25}, i)
    w.add_histogram("weights", torch.arange(100, dtype=torch.float32), 2)
    img = torch.zeros(3, 5, 7, dtype=torch.uint8)
    img[1, 2, 3] = 200
    w.add_image("sample", img, 2)
    w.add_text("notes", "hello", 2)
    run.finish()  # the writer was neither flushed nor closed
    rows = runstore.Api().run(f"p/{run.id}").history(samples=None, pandas=False)
    main = [user(r) for r in rows if "loss" in r]
    assert [r["loss"] for r in main] == [1.0, 0.5, 0.33333334] and [r["global_step"] for r in main] == [
        0,
        1,
        2,
    ]
    train = [r for r in rows if "acc_train/acc" in r]
    assert [r["acc_train/acc"] for r in train] == [0.5, 0.6, 0.7]
    assert [r["acc_train/global_step"] for r in train] == [0, 1, 2]
    assert [r["acc_val/acc"] for r in rows if "acc_val/acc" in r] == [0.25, 0.25, 0.25]
    (last,) = [r for r in rows if "weights" in r]
    assert last["global_step"] == 2 and last["notes/text_summary"] == "hello"
    h = last["weights"]
    assert h["_type"] == "histogram" and sum(h["values"]) == pytest.approx(100, rel=1e-9)
    im = last["sample"]
    assert (im["_type"], im["width"], im["height"]) == ("images/separated", 7, 5)
    with PILImage.open(Path(run.dir) / im["filenames"][0]) as pil:
        px = np.asarray(pil.convert("RGB"))
    assert px[2, 3].tolist() == [0, 200, 0] and int(px.sum()) == 200
    w.close()


def test_cleanrl_script_under_the_shim_style_import_and_then_import_is_idempotent(tmp_path: Path, capsys):
    p = run_script(
        """
        import runstore as wandb
        import torch
        from torch.utils.tensorboard import SummaryWriter
        wandb.init(project="rl", sync_tensorboard=True)
        writer = SummaryWriter("runs/ppo__1")
        for step in range(0, 300, 100):
            writer.add_scalar("charts/episodic_return", torch.tensor(step / 10), step)
        writer.close()
        """,
        tmp_path,
        env={"RUNSTORE_CONSOLE": "off"},
    )
    assert p.returncode == 0, p.stderr
    (live,) = runstore.Api().runs("rl")
    assert [r["charts/episodic_return"] for r in live.history(samples=None, pandas=False)] == [
        0.0,
        10.0,
        20.0,
    ]
    for _ in range(2):
        code, out, err = run_cli(capsys, "import", "tensorboard", "runs/ppo__1", "--project", "imported")
        assert code == 0, err
    (imp,) = runstore.Api().runs("imported")
    assert imp.id == tbi.run_id_for(os.path.realpath(tmp_path / "runs" / "ppo__1"))
    got = [(user(r), r["_timestamp"]) for r in imp.history(samples=None, pandas=False)]
    want = [(user(r), r["_timestamp"]) for r in live.history(samples=None, pandas=False)]
    assert got == want  # live and imported: the same rows, the same times
