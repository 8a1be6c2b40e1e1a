"""TensorBoard, as wandb integrates it (docs/COMPAT.md §18): what tensorboardX's SummaryWriters write lands
in the run (`init(sync_tensorboard=True)`, `tensorboard.patch()`), `runstore import tensorboard` and
`runstore sync LOGDIR` turn event files into runs, and damaged files lose nothing but the damage.
Everything is read back from disk through `runstore.Api()`; torch's writer is in tests/integrations/."""

from __future__ import annotations

import io
import json
import os
import random
import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_cli, run_script
from PIL import Image as PILImage

import runstore
from runstore.capture import tensorboard as tb
from runstore.integration import tensorboard as tbi

pytest.importorskip("tensorboardX")
from tensorboard.compat.proto import event_pb2, summary_pb2  # noqa: E402
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as tb_crc  # noqa: E402
from tensorboardX import SummaryWriter  # noqa: E402


@pytest.fixture(autouse=True)
def _unpatched(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "200")  # one-line messages stay one line
    tb.reset()  # another test file may have left init(sync_tensorboard=True) patched
    yield
    tb.reset()


def rows_of(run: Any) -> list[dict[str, Any]]:
    return runstore.Api().run(f"{run.project}/{run.id}").history(samples=None, pandas=False)


def user(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


# -- event files written by hand -----------------------------------------------------------------------
def record(data: bytes) -> bytes:
    """A TFRecord, framed with TensorBoard's own CRC (not the one under test)."""
    head = struct.pack("<Q", len(data))
    return head + struct.pack("<I", tb_crc(head)) + data + struct.pack("<I", tb_crc(data))


def scalar_event(step: int, wall: float, **values: float) -> bytes:
    vals = [summary_pb2.Summary.Value(tag=k, simple_value=v) for k, v in values.items()]
    return event_pb2.Event(
        step=step, wall_time=wall, summary=summary_pb2.Summary(value=vals)
    ).SerializeToString()


def value_event(step: int, wall: float, value: Any) -> bytes:
    return event_pb2.Event(
        step=step, wall_time=wall, summary=summary_pb2.Summary(value=[value])
    ).SerializeToString()


def event_file(d: Path, *events: bytes, name: str = "events.out.tfevents.1700000000.host") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    p.write_bytes(b"".join(record(e) for e in events))
    return p


def import_run(logdir: Path, capsys: Any, *extra: str) -> tuple[Any, str]:
    code, out, err = run_cli(capsys, "import", "tensorboard", str(logdir), "--project", "tb", *extra)
    assert code == 0, err
    return runstore.Api().run(f"tb/{tbi.run_id_for(os.path.realpath(logdir))}"), out + err


# -- live capture ----------------------------------------------------------------------------------
def test_scalars_with_and_without_global_step_land_in_the_history(tmp_path: Path):
    run = runstore.init(project="p", sync_tensorboard=True)
    w = SummaryWriter(str(tmp_path / "runs" / "exp"))
    for i in range(3):
        w.add_scalar("charts/loss", 1 / (i + 1), i)
        w.add_scalar("charts/lr", 0.1, i)  # same step: the same row
    w.add_scalar("no_step", 0.5)  # no global_step: TensorBoard's step 0
    w.add_scalar("no_step", 0.25)  # again at step 0: its own row, the first value is not lost
    run.finish()  # the writer was never flushed: finish() reads what it wrote
    rows = rows_of(run)
    assert [user(r) for r in rows] == [
        {"charts/loss": 1.0, "charts/lr": 0.1, "global_step": 0},
        {"charts/loss": 0.5, "charts/lr": 0.1, "global_step": 1},
        {"charts/loss": 0.33333334, "charts/lr": 0.1, "global_step": 2},  # float32, as written
        {"no_step": 0.5, "global_step": 0},
        {"no_step": 0.25, "global_step": 0},
    ]
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]  # global_step is a metric, _step runstore's own
    summary = runstore.Api().run(f"p/{run.id}").summary
    assert summary["global_step"] == 0 and summary["charts/loss"] == 0.33333334
    # the event file was saved with the run, relative to the working directory (wandb's root)
    saved = Path(run.dir) / "runs" / "exp"
    assert [p.name for p in saved.iterdir()] == [p.name for p in (tmp_path / "runs" / "exp").iterdir()]
    w.close()


def test_timestamps_are_the_events_wall_times(tmp_path: Path):
    run = runstore.init(project="p", sync_tensorboard=True)
    w = SummaryWriter(str(tmp_path / "logs"))
    w.add_scalar("x", 1.0, 0, walltime=run.start_time + 5.0)
    w.add_scalar("x", 2.0, 1, walltime=run.start_time + 7.5)
    w.close()
    run.finish()
    rows = rows_of(run)
    assert [r["_timestamp"] for r in rows] == [run.start_time + 5.0, run.start_time + 7.5]
    assert [r["_runtime"] for r in rows] == [5.0, 7.5]


def test_several_writers_under_root_logdir_get_their_directory_as_key_prefix(tmp_path: Path):
    tbi.patch(root_logdir=str(tmp_path / "logs"))
    run = runstore.init(project="p")
    train, val = (
        SummaryWriter(str(tmp_path / "logs" / "train")),
        SummaryWriter(str(tmp_path / "logs" / "val")),
    )
    for i in range(2):
        train.add_scalar("loss", 1.0 + i, i, walltime=1000.0 + i)
        val.add_scalar("loss", 10.0 + i, i, walltime=1000.5 + i)
    train.close()
    val.close()
    run.finish()
    assert [user(r) for r in rows_of(run)] == [
        {"train/loss": 1.0, "train/global_step": 0},
        {"val/loss": 10.0, "val/global_step": 0},
        {"train/loss": 2.0, "train/global_step": 1},
        {"val/loss": 11.0, "val/global_step": 1},
    ]
    saved = sorted(str(p.relative_to(run.dir)) for p in Path(run.dir).rglob("*tfevents*"))
    assert [s.split(os.sep)[0] for s in saved] == ["train", "val"]


def test_without_root_logdir_two_directories_share_their_common_root(tmp_path: Path):
    run = runstore.init(project="p", sync_tensorboard=True)
    a, b = SummaryWriter(str(tmp_path / "exp" / "a")), SummaryWriter(str(tmp_path / "exp" / "b" / "c"))
    a.add_scalar("m", 1.0, 3)
    b.add_scalar("m", 2.0, 3)
    run.finish()
    assert sorted(tuple(sorted(user(r).items())) for r in rows_of(run)) == [
        (("a/global_step", 3), ("a/m", 1.0)),
        (("b/c/global_step", 3), ("b/c/m", 2.0)),
    ]
    a.close()
    b.close()


def test_rows_are_read_while_the_run_lives_and_the_last_row_waits_for_its_step(tmp_path: Path):
    tbi.patch(root_logdir=str(tmp_path))  # a known root: no waiting for a second directory
    run = runstore.init(project="p")
    w = SummaryWriter(str(tmp_path / "live"))
    for i in range(3):
        w.add_scalar("x", float(i), i)
    w.close()  # on disk, and read: the writer's close() reads its directory
    live = [user(r) for r in rows_of(run)]
    # step 2 may still get values from this file: it is logged once a later step or finish() shows it ended
    assert live == [{"live/x": 0.0, "live/global_step": 0}, {"live/x": 1.0, "live/global_step": 1}]
    run.finish()
    assert [user(r)["live/x"] for r in rows_of(run)] == [0.0, 1.0, 2.0]


def test_histograms_images_and_text(tmp_path: Path):
    run = runstore.init(project="p", sync_tensorboard=True)
    w = SummaryWriter(str(tmp_path / "logs"))
    data = np.arange(1000, dtype=np.float64)
    w.add_histogram("weights", data, 1)  # tensorboardX: a histo proto of ~1500 exponential buckets
    pixels = np.zeros((3, 4, 6), dtype=np.uint8)
    pixels[0, 1, 2] = 255
    w.add_image("sample", pixels, 1)
    w.add_text("notes", "lr | 0.1", 1)
    run.finish()
    (row,) = rows_of(run)
    h = row["weights"]
    assert h["_type"] == "histogram"
    assert len(h["values"]) <= 512 and len(h["bins"]) == len(h["values"]) + 1
    assert sum(h["values"]) == pytest.approx(1000, rel=1e-9)  # re-binned, nothing lost
    assert h["bins"][0] <= 0 and h["bins"][-1] >= 999
    img = row["sample"]
    assert (img["_type"], img["width"], img["height"], img["count"], img["format"]) == (
        "images/separated",
        6,
        4,
        1,
        "png",
    )
    with PILImage.open(Path(run.dir) / img["filenames"][0]) as im:
        got = np.asarray(im.convert("RGB"))
    assert got.shape == (4, 6, 3) and got[1, 2, 0] == 255 and int(got.sum()) == 255
    assert row["notes/text_summary"] == "lr | 0.1"
    assert row["global_step"] == 1
    w.close()


def test_patch_before_init_catches_a_writer_created_before_the_run(tmp_path: Path):
    tbi.patch()
    w = SummaryWriter(str(tmp_path / "early"))
    w.add_scalar("before", 1.0, 0)
    run = runstore.init(project="p")
    w.add_scalar("after", 2.0, 1)
    run.finish()
    assert [user(r) for r in rows_of(run)] == [
        {"before": 1.0, "global_step": 0},
        {"after": 2.0, "global_step": 1},
    ]
    w.close()


def test_patch_after_init_and_unpatch(tmp_path: Path):
    run = runstore.init(project="p")
    tbi.patch()
    with pytest.raises(ValueError, match="already patched"):
        tbi.patch()
    w = SummaryWriter(str(tmp_path / "a"))
    w.add_scalar("x", 1.0, 0)
    tbi.unpatch()
    other = SummaryWriter(str(tmp_path / "b"))  # not patched any more: not captured
    other.add_scalar("y", 1.0, 0)
    w.add_scalar("x", 2.0, 1)  # registered while patched: still read until the run finishes
    run.finish()
    assert [user(r) for r in rows_of(run)] == [{"x": 1.0, "global_step": 0}, {"x": 2.0, "global_step": 1}]
    w.close()
    other.close()


def test_a_writer_dying_mid_record_loses_nothing_written_before(tmp_path: Path):
    run = runstore.init(project="p", sync_tensorboard=True)
    w = SummaryWriter(str(tmp_path / "logs"))
    w.add_scalar("x", 1.0, 0)
    w.add_scalar("x", 2.0, 1)
    w.flush()
    w._get_file_writer().event_writer._runstore_settle()
    (f,) = (tmp_path / "logs").glob("*tfevents*")
    with open(f, "ab") as out:  # a record cut off by a crash (what TensorBoard would see too)
        out.write(record(scalar_event(2, 1.0, x=3.0))[:-7])
    run.finish()
    assert [user(r)["x"] for r in rows_of(run)] == [1.0, 2.0]
    w.close()


def test_a_script_that_never_finishes_its_run_keeps_every_metric(tmp_path: Path):
    """CleanRL's shape: init(sync_tensorboard=True), a SummaryWriter, no finish(): the exit hook finishes
    the run, and the run reads what the writer wrote first (the writer's module is imported after init:
    patched as it is imported)."""
    p = run_script(
        """
        import runstore as wandb
        wandb.init(project="rl", sync_tensorboard=True, config={"lr": 0.1})
        from tensorboardX import SummaryWriter  # imported after the patch, as Lightning does: hooked
        writer = SummaryWriter("runs/ppo__1")
        writer.add_text("hyperparameters", "|param|value|\\n|-|-|\\n|lr|0.1|")
        for step in range(0, 500, 100):
            writer.add_scalar("charts/episodic_return", step / 10, step)
            writer.add_scalar("losses/value_loss", 1 / (step + 1), step)
        """,
        tmp_path,
        env={"RUNSTORE_CONSOLE": "off"},
    )
    assert p.returncode == 0, p.stderr
    (r,) = runstore.Api().runs("rl")
    assert r.state == "finished"
    rows = r.history(samples=None, pandas=False)
    # the text went to step 0 (no global_step given), so it shares the first row with step 0's scalars
    assert rows[0]["hyperparameters/text_summary"].startswith("|param|value|")
    assert [x["global_step"] for x in rows] == [0, 100, 200, 300, 400]
    assert [x["charts/episodic_return"] for x in rows] == [0.0, 10.0, 20.0, 30.0, 40.0]


# -- reading event files -------------------------------------------------------------------------------
def test_crc_is_tensorboards():
    for data in (b"", b"a", bytes(range(256)) * 3):
        assert tb.masked_crc32c(data) == tb_crc(data)


def test_a_half_written_record_is_read_once_complete_never_twice(tmp_path: Path):
    p = tmp_path / "events.out.tfevents.1.h"
    first, second = record(scalar_event(0, 1.0, x=1.0)), record(scalar_event(1, 2.0, x=2.0))
    p.write_bytes(first + second[:5])  # the second record's header is not even complete
    f = tb.EventFile(str(p))
    warnings: list[str] = []

    def warn(msg: str, key: str | None = None) -> None:
        warnings.append(msg)

    assert len(list(f.records(False, warn))) == 1 and f.offset == len(first)
    with open(p, "ab") as out:
        out.write(second[5:-1])  # all but the last byte of its CRC
    assert list(f.records(False, warn)) == [] and f.offset == len(first)
    with open(p, "ab") as out:
        out.write(second[-1:])
    (data,) = f.records(False, warn)
    assert event_pb2.Event.FromString(data).step == 1 and f.offset == len(first) + len(second)
    assert list(f.records(True, warn)) == [] and warnings == []


def test_same_step_merges_a_repeated_tag_starts_a_row_and_legacy_values_convert(tmp_path: Path):
    histo = summary_pb2.HistogramProto(min=0.0, max=2.0, bucket_limit=[0.0, 1.0, 2.0], bucket=[0, 3, 4])
    p = event_file(
        tmp_path,
        scalar_event(5, 1.0, a=1.0),
        scalar_event(5, 1.5, b=2.0),  # same step, new tag: same row, the later wall time
        scalar_event(5, 2.0, a=3.0),  # same step, a tag seen already: a new row
        value_event(6, 3.0, summary_pb2.Summary.Value(tag="h", histo=histo)),
    )
    rows = list(tb.merged([tb.FileStream(str(p), "ns")], True, lambda m, k=None: None))
    assert [(r.values, r.wall) for r in rows] == [
        ({"ns/a": 1.0, "ns/b": 2.0, "ns/global_step": 5}, 1.5),
        ({"ns/a": 3.0, "ns/global_step": 5}, 2.0),
        ({"ns/h": tb.TBHistogram([3.0, 4.0], [0.0, 1.0, 2.0]), "ns/global_step": 6}, 3.0),
    ]


def test_rebin_keeps_the_total_and_the_range():
    bins = [float(i) for i in range(1001)]
    edges, values = tb.rebin(bins, [1.0] * 1000, 512)
    assert len(values) == 512 and len(edges) == 513
    assert (edges[0], edges[-1]) == (0.0, 1000.0)
    assert sum(values) == pytest.approx(1000.0, rel=1e-12)
    assert all(a < b for a, b in zip(edges, edges[1:], strict=False))


# -- runstore import tensorboard ---------------------------------------------------------------------
def write_logdir(logdir: Path, steps: range, suffix: str = "") -> None:
    w = SummaryWriter(str(logdir), filename_suffix=suffix)
    for i in steps:
        w.add_scalar("loss", 1.0 / (i + 1), i, walltime=1000.0 + i)
    w.close()


def test_import_keeps_wall_times_and_a_second_import_adds_nothing(tmp_path: Path, capsys):
    logdir = tmp_path / "runs" / "ppo_1"
    write_logdir(logdir, range(3))
    r, out = import_run(logdir, capsys)
    assert f"imported as tb/{r.id} (ppo_1): 3 rows from 1 event file(s)" in out
    rows = r.history(samples=None, pandas=False)
    assert [(user(x), x["_timestamp"], x["_runtime"]) for x in rows] == [
        ({"loss": 1.0, "global_step": 0}, 1000.0, 0.0),
        ({"loss": 0.5, "global_step": 1}, 1001.0, 1.0),
        ({"loss": 0.33333334, "global_step": 2}, 1002.0, 2.0),
    ]
    assert (r.name, r.state, r.created_at is not None) == ("ppo_1", "finished", True)
    r2, out2 = import_run(logdir, capsys)
    assert "up to date" in out2 and r2.id == r.id
    assert len(r2.history(samples=None, pandas=False)) == 3
    assert len(list(runstore.Api().runs("tb"))) == 1


def test_import_again_after_more_was_written_adds_only_the_new_rows(tmp_path: Path, capsys):
    logdir = tmp_path / "exp"
    write_logdir(logdir, range(2))
    r, _ = import_run(logdir, capsys)
    write_logdir(logdir, range(2, 4), ".2")  # a second writer (a resumed training) in the same directory
    r, out = import_run(logdir, capsys)
    assert "2 new rows added" in out
    rows = r.history(samples=None, pandas=False)
    assert [x["global_step"] for x in rows] == [0, 1, 2, 3] and [x["_step"] for x in rows] == [0, 1, 2, 3]
    assert [x["_runtime"] for x in rows] == [0.0, 1.0, 2.0, 3.0]
    assert r.summary["loss"] == 0.25
    assert sorted(f.name for f in r.files() if "tfevents" in f.name) == sorted(
        p.name for p in logdir.iterdir()
    )


def test_import_subdirectories_prefix_keys_and_unsupported_plugins_are_named(tmp_path: Path, capsys):
    logdir = tmp_path / "exp"
    event_file(logdir / "train", scalar_event(1, 10.0, acc=0.5))
    pr = summary_pb2.Summary.Value(tag="pr", simple_value=1.0)
    pr.metadata.plugin_data.plugin_name = "pr_curves"
    event_file(logdir / "eval" / "x", scalar_event(1, 11.0, acc=0.75), value_event(2, 12.0, pr))
    gif = io.BytesIO()
    frames = [PILImage.new("RGB", (3, 2), c) for c in ("red", "blue")]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    img = summary_pb2.Summary.Value(
        tag="anim", image=summary_pb2.Summary.Image(width=3, height=2, encoded_image_string=gif.getvalue())
    )
    event_file(logdir, value_event(0, 9.0, img))
    r, out = import_run(logdir, capsys)
    assert "3 rows from 3 event file(s); not imported: pr_curves" in out
    rows = [user(x) for x in r.history(samples=None, pandas=False)]
    assert rows[1:] == [
        {"train/acc": 0.5, "train/global_step": 1},
        {"eval/x/acc": 0.75, "eval/x/global_step": 1},
    ]
    anim = rows[0]["anim"]
    assert (anim["_type"], anim["format"], anim["width"], anim["height"]) == ("images/separated", "gif", 3, 2)
    assert r.file(anim["filenames"][0]).path.read_bytes() == gif.getvalue()  # the writer's bytes


def test_import_errors_are_one_line(tmp_path: Path, capsys):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "notes.txt").write_text("x")
    for argv, expect in (
        (["import", "tensorboard", str(tmp_path / "empty")], "no TensorBoard event files"),
        (["import", "tensorboard", str(tmp_path / "missing")], "not a directory"),
        (["import", "tensorboard", str(tmp_path / "a"), str(tmp_path / "b"), "--name", "n"], "--name"),
    ):
        code, out, err = run_cli(capsys, *argv)
        lines = [x for x in err.splitlines() if x.strip()]
        assert code in (1, 2) and len(lines) == 1 and expect in lines[0] and "Traceback" not in err, err
    assert not (tmp_path / ".wandb" / "projects").exists()


def test_damaged_files_lose_only_the_damage(tmp_path: Path, capsys):
    logdir = tmp_path / "exp"
    good = [record(scalar_event(i, 100.0 + i, x=float(i))) for i in range(4)]
    p = event_file(logdir, name="events.out.tfevents.1.a")
    damaged = bytearray(b"".join(good))
    damaged[len(good[0]) + 14] ^= 0xFF  # a flipped bit in the second record's data
    p.write_bytes(bytes(damaged) + good[0][:9])  # and a record cut short at the end
    (logdir / "events.out.tfevents.2.b").write_bytes(random.Random(0).randbytes(4096))  # not event data
    (logdir / "events.out.tfevents.3.c").write_bytes(bytes(1 << 20))  # a megabyte of zeros
    huge = struct.pack("<Q", 1 << 62)  # an intact header claiming 4 EiB
    (logdir / "events.out.tfevents.4.d").write_bytes(huge + struct.pack("<I", tb_crc(huge)) + b"\0" * 20)
    live = tb.EventFile(str(p))  # while a run lives, damage may be bytes still arriving: wait, skip nothing
    assert len(list(live.records(False, lambda m, k=None: None))) == 1 and live.offset == len(good[0])
    r, out = import_run(logdir, capsys)
    assert [x["x"] for x in r.history(samples=None, pandas=False)] == [0.0, 2.0, 3.0]
    warnings = [x for x in out.splitlines() if "WARNING" in x]
    assert any("events.out.tfevents.1.a has a damaged record at byte" in w for w in warnings), out
    assert any("ends with an incomplete record" in w for w in warnings), out
    assert any("events.out.tfevents.3.c" in w and "no intact record" in w for w in warnings), out
    assert any(
        "events.out.tfevents.4.d" in w and "claims 4611686018427387904 bytes" in w for w in warnings
    ), out
    assert "Traceback" not in out


# -- runstore sync LOGDIR ------------------------------------------------------------------------------
def test_sync_of_a_tensorboard_directory_imports_then_syncs(tmp_path: Path, capsys):
    logdir = tmp_path / "tblogs"
    write_logdir(logdir, range(3))
    code, _, err = run_cli(capsys, "init", "--remote", str(tmp_path / "remote"))
    assert code == 0, err
    for _ in range(2):  # the second time: imported already, nothing new to send
        code, out, err = run_cli(capsys, "sync", "--json", str(logdir))
        assert code == 0, err
        doc = json.loads(out)
        assert doc["ok"] and len(doc["results"]) == 1
    run_id = tbi.run_id_for(os.path.realpath(logdir))
    (remote_run,) = (tmp_path / "remote").glob(f"projects/*/runs/{run_id}")
    assert doc["results"][0]["bytes"] == 0
    lines = (remote_run / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["loss"] for x in lines] == [1.0, 0.5, 0.33333334]


# -- TensorFlow: not installed here, so a stand-in module with TF's documented API ---------------------
def test_tf2_writer_function_is_patched_when_imported_and_pytorch_true_leaves_it(tmp_path: Path):
    fake = tmp_path / "fake"
    pkg = fake / "tensorflow" / "python" / "ops"
    pkg.mkdir(parents=True)
    for d in (fake / "tensorflow", fake / "tensorflow" / "python", pkg):
        (d / "__init__.py").write_text("")
    # tf.summary.create_file_writer calls this op with the log directory as a tensor (or a str)
    (pkg / "gen_summary_ops.py").write_text(
        "def create_summary_file_writer(writer, logdir, max_queue, flush_millis, filename_suffix, name=None):\n"
        "    return ('created', logdir)\n"
    )
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(fake)!r})
        from runstore.capture import tensorboard as tb
        from runstore.integration import tensorboard as tbi
        tbi.patch(pytorch=sys.argv[1] == "1")
        from tensorflow.python.ops import gen_summary_ops  # imported after the patch
        class Tensor:
            def numpy(self):
                return b"tf-logs"
        print(gen_summary_ops.create_summary_file_writer(None, logdir=Tensor(), max_queue=1,
              flush_millis=1, filename_suffix=""))
        print([d.path.rsplit("/", 1)[-1] for d in tb._S.logdirs])
        """
    )
    for pytorch, expect in (("0", "['tf-logs']"), ("1", "[]")):
        p = subprocess.run(
            [sys.executable, "-c", script, pytorch], capture_output=True, text=True, cwd=tmp_path, timeout=60
        )
        assert p.returncode == 0, p.stderr
        created, logdirs = p.stdout.splitlines()
        assert created.startswith("('created', <__main__.Tensor") and logdirs == expect, p.stdout


def test_a_file_rewritten_under_the_same_name_is_refused_not_mixed(tmp_path: Path, capsys):
    logdir = tmp_path / "exp"
    p = event_file(logdir, scalar_event(0, 1.0, x=1.0))
    import_run(logdir, capsys)
    p.write_bytes(record(scalar_event(0, 5.0, y=2.0)) + record(scalar_event(1, 6.0, y=3.0)))
    code, _, err = run_cli(capsys, "import", "tensorboard", str(logdir), "--project", "tb")
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 1 and len(lines) == 1 and "was rewritten since it was imported" in lines[0], err


def test_an_import_while_another_writes_the_run_is_refused(tmp_path: Path, capsys):
    """One writer per run: a second import of the same directory at the same time gets one line."""
    import subprocess
    import sys

    logdir = tmp_path / "exp"
    write_logdir(logdir, range(2))
    r, _ = import_run(logdir, capsys)
    hold = (
        "import sys, time\nfrom runstore.store.store import Store\nfrom runstore.store import writer\n"
        f"fd = writer.acquire(Store({str(tmp_path / '.wandb')!r}).run('tb', {r.id!r}))\n"
        "print('held', flush=True)\ntime.sleep(30)\n"
    )
    p = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        write_logdir(logdir, range(2, 4), ".2")
        code, out, err = run_cli(capsys, "import", "tensorboard", str(logdir), "--project", "tb")
        assert code == 1 and f"being written by pid {p.pid}" in err and len(err.strip().splitlines()) == 1
    finally:
        p.kill()
        p.wait()
    r, out = import_run(logdir, capsys)  # once it is free, the import completes
    assert "2 new rows added" in out
