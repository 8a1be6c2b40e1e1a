"""run.save() / wandb.save(): wandb's path rules, copies not symlinks, policies now/end/live, restore()."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import runstore


@pytest.fixture
def ckpt(tmp_path: Path) -> Path:
    (tmp_path / "ckpt" / "sub").mkdir(parents=True)
    (tmp_path / "ckpt" / "m1.pt").write_bytes(b"one")
    (tmp_path / "ckpt" / "m2.pt").write_bytes(b"two")
    (tmp_path / "ckpt" / "sub" / "m3.pt").write_bytes(b"three")
    return tmp_path / "ckpt"


def test_path_rules_and_copies(ckpt: Path, tmp_path: Path) -> None:
    run = runstore.init(project="p")
    files = Path(run.dir)
    assert runstore.save("ckpt/*.pt") == [str(files / "ckpt/m1.pt"), str(files / "ckpt/m2.pt")]
    assert run.save("ckpt/sub/*.pt", base_path="ckpt") == [str(files / "sub/m3.pt")]
    assert run.save(str(ckpt / "m2.pt")) == [str(files / "ckpt/m2.pt")]  # absolute: keeps one parent
    assert run.save("ckpt/**/*.pt", policy="now") and (files / "ckpt/sub/m3.pt").exists()
    assert run.save("ckpt/m[12].pt", glob=False) == []  # literal name: no such file
    for p in files.rglob("*.pt"):
        assert not p.is_symlink()  # copies: the run dir stays self-contained
    (ckpt / "m1.pt").unlink()
    assert (files / "ckpt/m1.pt").read_bytes() == b"one"
    (files / "model.h5").write_bytes(b"written by the script")
    assert run.save("model.h5") == [str(files / "model.h5")]
    run.finish()
    names = [f.name for f in runstore.Api().run(f"p/{run.id}").files()]
    assert {"ckpt/m1.pt", "ckpt/m2.pt", "sub/m3.pt", "model.h5"} <= set(names)


def test_bad_arguments(ckpt: Path) -> None:
    run = runstore.init(project="p")
    with pytest.raises(ValueError, match="policy"):
        run.save("ckpt/*.pt", policy="sometimes")
    with pytest.raises(TypeError):
        run.save(42)
    with pytest.raises(ValueError, match="base_path"):
        run.save("ckpt/m1.pt", base_path="elsewhere")
    assert run.save("nope/*.bin") == []  # nothing matched: a warning, not an error


def test_now_end_and_live_policies_in_process(ckpt: Path, tmp_path: Path) -> None:
    run = runstore.init(project="p")
    files = Path(run.dir)
    run.save("ckpt/m1.pt", policy="now")
    run.save("ckpt/m2.pt", policy="end")
    run.save("ckpt/sub/m3.pt", policy="live")
    assert (files / "ckpt/m1.pt").exists() and not (files / "ckpt/m2.pt").exists()
    for name in ("m1.pt", "m2.pt", "sub/m3.pt"):
        (ckpt / name).write_bytes(b"changed " + name.encode())
    run.finish()
    assert (files / "ckpt/m1.pt").read_bytes() == b"one"  # "now": the state at save()
    assert (files / "ckpt/m2.pt").read_bytes() == b"changed m2.pt"  # "end": the state at finish
    assert (files / "ckpt/sub/m3.pt").read_bytes() == b"changed sub/m3.pt"  # "live": latest


def test_ignore_globs_keep_files_local_and_are_recorded(ckpt: Path, monkeypatch) -> None:
    # wandb: "never uploaded". Here the files stay in the run (restore, Api) and every sync leaves
    # them out (tests/test_sync.py), so the run records its globs.
    monkeypatch.setenv("WANDB_IGNORE_GLOBS", "*.pt")
    run = runstore.init(project="p")
    assert len(run.save("ckpt/*.pt")) == 2
    assert sorted(p.name for p in Path(run.dir).rglob("*.pt")) == ["m1.pt", "m2.pt"]
    run.finish()
    from runstore.store.runs import load_run

    assert load_run(run._ref).info["ignore_globs"] == ["*.pt"]


def test_live_files_are_recopied_by_the_daemon_while_the_run_lives(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(
        {
            "RUNSTORE_DIR": str(tmp_path / ".wandb"),
            "RUNSTORE_DAEMON": "1",
            "WANDB__STATS_SAMPLING_INTERVAL": "0.2",
            "RUNSTORE_CONSOLE": "off",
        }
    )
    code = (
        "import os, sys, time, runstore\n"
        "run = runstore.init(project='p')\n"
        "open('live.txt', 'w').write('v1')\n"
        "run.save('live.txt')\n"
        "print(run.dir, flush=True)\n"
        "time.sleep(0.5)\n"
        "open('live.txt', 'w').write('v2 is longer')\n"
        "sys.stdin.readline()\n"  # the test checks the copy before we finish
        "runstore.finish()\n"
    )
    p = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None and p.stdin is not None
        run_dir = Path(p.stdout.readline().strip())
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (run_dir / "live.txt").read_text() != "v2 is longer":
            time.sleep(0.1)
        assert (run_dir / "live.txt").read_text() == "v2 is longer"  # copied while still running
        p.stdin.write("\n")
        p.stdin.flush()
        assert p.wait(timeout=30) == 0
    finally:
        p.kill()
        subprocess.run(
            [sys.executable, "-m", "runstore", "daemon", "stop", "--dir", str(tmp_path / ".wandb")],
            env=env,
            capture_output=True,
            timeout=30,
        )


def test_restore_a_file_from_a_run(ckpt: Path, tmp_path: Path) -> None:
    run = runstore.init(project="p")
    run.save("ckpt/m1.pt")
    rid = run.id
    run.finish()
    with runstore.restore("ckpt/m1.pt", run_path=f"p/{rid}", root=str(tmp_path / "out")) as f:
        assert f.read() == "one"
    assert (tmp_path / "out" / "ckpt" / "m1.pt").exists()
    assert runstore.restore("nope.txt", run_path=f"p/{rid}") is None
    run2 = runstore.init(project="p", reinit="finish_previous")
    with run2.restore("ckpt/m1.pt", run_path=f"p/{rid}") as f:
        assert f.read() == "one"
    assert (Path(run2.dir) / "ckpt" / "m1.pt").exists()
    with pytest.raises(runstore.Error):
        run2.finish()
        runstore.restore("ckpt/m1.pt")  # no active run and no run_path
