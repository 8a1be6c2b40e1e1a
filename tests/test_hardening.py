"""One bad input breaks nothing but itself (issue 9): hostile nesting, special files where run files
belong, and what every reader and `runstore` command does with them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from conftest import run_cli

import runstore
from runstore.store import jsonl

PY = sys.executable


def two_runs():
    a = runstore.init(project="p")
    a.log({"a": 1})
    a.finish(quiet=True)
    b = runstore.init(project="p")
    b.log({"a": 2})
    b.finish(quiet=True)
    return a, b


def deep(n: int, leaf: str = "1") -> str:
    return '{"a":' * n + leaf + "}" * n


def deep_list(n: int) -> str:
    return "[" * n + "1" + "]" * n


def reads_everything(capsys, a, b) -> None:
    """ls, diff, show, Api().runs/run/history/scan_history all work and see both runs."""
    for argv in (["ls", "--json"], ["diff", a.id, b.id], ["show", a.id], ["show", b.id, "--json"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 0, (argv, err)
    ids = {r.id for r in runstore.Api().runs("p")}
    assert ids == {a.id, b.id}
    for r in runstore.Api().runs("p"):
        r.history(pandas=False)
        r.history(samples=None, pandas=True)
        list(r.scan_history())
        dict(r.summary)


@pytest.mark.parametrize("levels", [150, 990, 1100, 5000])
def test_deeply_nested_lines_are_skipped_everywhere(capsys, levels):
    a, b = two_runs()
    with open(a._ref.run_log, "ab") as f:
        f.write(f'{{"t":"summary","step":1,"set":[[["x"],{deep(levels)}]]}}\n'.encode())
        f.write(f'{{"t":"config","set":{{"k":{deep_list(levels)}}}}}\n'.encode())
    with open(a._ref.path / "history.jsonl", "ab") as f:
        f.write(f'{{"_step":5,"x":{deep(levels)}}}\n'.encode())
        f.write(f'{{"_step":6,"y":{deep_list(levels)}}}\n'.encode())
        f.write(b'{"_step":7,"ok":1}\n')
    reads_everything(capsys, a, b)
    rows = runstore.Api().run(f"p/{a.id}").history(samples=None, pandas=False)
    assert [r["_step"] for r in rows] == [0, 7]
    # and a run resumed after it (its summary is folded, deep-copied, merged) works
    run = runstore.init(project="p", id=a.id, resume="allow")
    run.log({"later": 1})
    run.finish(quiet=True)


def test_legitimate_nesting_is_kept():
    run = runstore.init(project="p")
    run.log({"x": json.loads(deep(jsonl.MAX_DEPTH - 2))})
    run.finish(quiet=True)
    (row,) = runstore.Api().run(f"p/{run.id}").history(samples=None, pandas=False)
    assert "x" in row or any(k.startswith("x.") for k in row)


def test_too_deep_counts_brackets_outside_strings_only():
    assert not jsonl.too_deep(json.dumps({"s": "{" * 500 + "[" * 500}).encode())
    assert jsonl.too_deep(deep(jsonl.MAX_DEPTH + 1).encode())
    assert not jsonl.too_deep(deep(jsonl.MAX_DEPTH).encode())
    assert not jsonl.too_deep(json.dumps([{"a": i} for i in range(1000)]).encode())  # wide, not deep


def _replace_with(path, kind, tmp_path):
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "devzero":
        os.symlink("/dev/zero", path)
    elif kind == "symlink":
        secret = tmp_path / "secret.jsonl"
        secret.write_text('{"_step":0,"secret":1}\n{"t":"init","id":"x"}\n')
        os.symlink(secret, path)
    elif kind == "dir":
        path.mkdir()


@pytest.mark.parametrize("kind", ["fifo", "devzero", "symlink", "dir"])
@pytest.mark.parametrize("which", ["history.jsonl", "run.jsonl"])
def test_special_files_where_run_files_belong_never_hang_a_reader(capsys, tmp_path, kind, which):
    a, b = two_runs()
    _replace_with(a._ref.path / which, kind, tmp_path)
    done = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            reads_everything(capsys, a, b) if which == "history.jsonl" else list(runstore.Api().runs("p"))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            done.set()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    assert done.wait(30), f"a reader hung on a {kind} {which}"
    assert not errors, errors
    if which == "history.jsonl":
        r = runstore.Api().run(f"p/{a.id}")
        assert r.history(samples=None, pandas=False) == []  # read as no rows: nothing of the target's


def test_cli_ls_with_a_fifo_history_in_a_subprocess(tmp_path):
    a, b = two_runs()
    hist = a._ref.path / "history.jsonl"
    hist.unlink()
    os.mkfifo(hist)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env["RUNSTORE_DIR"] = str(tmp_path / ".wandb")
    for argv in (["ls"], ["show", a.id], ["diff", a.id, b.id]):
        r = subprocess.run(
            [PY, "-m", "runstore", *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
        )
        assert r.returncode == 0, r.stderr


def test_nan_and_infinity_survive_the_run_index(capsys):
    """The derived run index (cache/runs-<project>.json) round-trips every value run files hold."""
    import math

    run = runstore.init(project="p")
    run.summary["best"] = math.nan
    run.summary["top"] = math.inf
    run.summary["low"] = -math.inf
    run.summary["big"] = 2**70
    run.finish(quiet=True)
    seen = []
    for _ in range(3):  # the first read builds the index, the others read it
        (r,) = list(runstore.Api().runs("p"))
        s = r.summary
        seen.append((math.isnan(s["best"]), s["top"], s["low"], s["big"]))
        code, out, _ = run_cli(capsys, "ls", "--filter", "summary_metrics.top>1", "--json")
        assert code == 0 and [x["id"] for x in json.loads(out)] == [run.id]
    assert seen == [(True, math.inf, -math.inf, 2**70)] * 3


EVIL = "bad\x1b]0;pwned\x07\x1b[2J[bold]name\x9b1m"


def test_terminal_sequences_in_names_tags_notes_and_keys_are_printed_escaped(capsys, monkeypatch):
    a = runstore.init(project="p", name=EVIL, tags=[EVIL], notes=EVIL, config={EVIL: 1, "lr": 0.1})
    a.log({EVIL: 1.0})
    a.finish(quiet=True)
    b = runstore.init(project="p", name="plain", config={EVIL: 2, "lr": 0.2})
    b.finish(quiet=True)
    monkeypatch.setenv("WANDB_PROJECT", EVIL)
    for argv in (
        ["ls"],
        ["ls", "--project", "p"],
        ["diff", a.id, b.id],
        ["diff", a.id, b.id, "--markdown"],
        ["show", a.id],
        ["status"],
    ):
        code, out, err = run_cli(capsys, *argv)
        assert code == 0, (argv, err)
        for ch in ("\x1b", "\x07", "\x9b"):
            assert ch not in out and ch not in err, (argv, out)
        if argv[0] != "status":
            assert "bad\\x1b]0;pwned\\x07" in out, (argv, out)


def test_temporary_files_a_killed_writer_left_are_ignored_everywhere(capsys, tmp_path):
    run = runstore.init(project="p")
    run.log({"a": 1})
    (tmp_path / "model.pt").write_bytes(b"weights")
    run.save(str(tmp_path / "model.pt"), base_path=str(tmp_path), policy="now")
    run.finish(quiet=True)
    files = run._ref.files_dir
    leftovers = [
        files / ".model.pt.tmp-runstore-4242",
        files / "media" / ".x.png.tmp-runstore-77",
        run._ref.path / ".run.jsonl.tmp-runstore-1",
        run._ref.path / "cache" / ".history.npz.tmp-runstore-9",
    ]
    for p in leftovers:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half a file")
    names = {f.name for f in runstore.Api().run(f"p/{run.id}").files()}
    assert "model.pt" in names and not any("tmp-runstore" in n for n in names)
    code, out, _ = run_cli(capsys, "show", run.id, "--json")
    assert code == 0 and "tmp-runstore" not in out
    from runstore.store.store import Store

    assert not any("tmp-runstore" in f.rel for f in Store.discover().files(run._ref))
    remote = tmp_path / "remote"
    code, out, err = run_cli(capsys, "sync", run.id, "--remote", str(remote))
    assert code == 0, err
    assert not [p for p in remote.rglob("*") if "tmp-runstore" in p.name]


def test_a_project_name_too_long_in_bytes_is_a_clear_error(capsys):
    emoji = "\U0001f600" * 100  # 100 characters, 400 bytes
    with pytest.raises(ValueError, match="400 bytes in UTF-8, at most 200"):
        runstore.init(project=emoji)
    code, out, err = run_cli(capsys, "run", "-p", emoji, "--", sys.executable, "-c", "pass")
    assert code == 2 or code == 1
    assert "400 bytes" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    run = runstore.init(project="\U0001f600" * 50)  # 200 bytes: fits
    run.finish(quiet=True)


def test_save_double_star_does_not_follow_symlinked_directories(tmp_path, monkeypatch):
    work = tmp_path / "work"
    (work / "d" / "e").mkdir(parents=True)
    (work / "d" / "a.txt").write_text("a")
    (work / "d" / "e" / "b.txt").write_text("b")
    (work / "d" / "up").symlink_to("..")  # a loop
    (work / "d" / "root").symlink_to("/")  # the whole filesystem
    (work / "outside.txt").symlink_to("/etc/hostname")  # a file symlink: followed, like glob
    monkeypatch.chdir(work)
    run = runstore.init(project="p")
    got = run.save("**", policy="now")
    rel = sorted(os.path.relpath(p, run.dir) for p in got)
    assert rel == ["d/a.txt", "d/e/b.txt", "outside.txt"]
    assert run.save("d/**/*.txt", policy="now") and run.save("d/up/d/a.txt", policy="now")  # named: followed
    # and never the store itself, though it is under the working directory
    assert not [p for p in run.save("**", policy="now") if ".wandb" in os.path.relpath(p, run.dir)]
    run.finish(quiet=True)


LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9))
    + "project: *j\n"
)


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"project: caf\xe9\n", "not UTF-8"),
        (b"project: [1]\n", "must be a single value"),
        (b"project: {a: 1}\n", "must be a single value"),
        (LAUGHS.encode(), "through its YAML aliases"),
        (b"a: &a [*a]\n", "recursive YAML alias"),
        (("a: &a 1\nb: [" + ", ".join(["*a"] * 300) + "]\n").encode(), "more than 256 YAML aliases"),
        (b"project: p\n" + b"#" * (5 << 20), "larger than"),
        (b"project: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_broken_settings_file_is_one_line_and_init_goes_on(capsys, tmp_path, content, needle):
    runstore.init(project="p").finish(quiet=True)  # creates the store
    settings = tmp_path / ".wandb" / "settings.yaml"
    settings.write_bytes(content)
    code, out, err = run_cli(capsys, "ls")
    assert code == 1 and needle in err and "settings.yaml" in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    run = runstore.init()  # warns, and runs with the defaults
    assert run.project != "[1]"
    run.finish(quiet=True)
    assert needle in capsys.readouterr().err


def test_a_billion_laughs_sweep_config_is_refused(capsys, tmp_path):
    (tmp_path / "sweep.yaml").write_text(
        "method: grid\nparameters:\n  x:\n    values: *j\n".replace("*j", "[1]")
        + LAUGHS.replace("project", "extra")
    )
    code, out, err = run_cli(capsys, "sweep", str(tmp_path / "sweep.yaml"))
    assert code != 0 and "through its YAML aliases" in err and "Traceback" not in err


@pytest.mark.parametrize("bound", [".nan", ".inf", "-.inf"])
def test_sweep_bounds_must_be_finite(capsys, tmp_path, bound):
    (tmp_path / "sweep.yaml").write_text(
        f"method: random\nparameters:\n  lr:\n    distribution: uniform\n    min: {bound}\n    max: 1.0\n"
    )
    code, out, err = run_cli(capsys, "sweep", str(tmp_path / "sweep.yaml"))
    assert code != 0 and "must be a finite number" in err and "Traceback" not in err


class _NoFloat:
    def __float__(self):
        raise RuntimeError("no float")


class _NothingWorks(_NoFloat):
    def __str__(self):
        raise RuntimeError("no str")

    def __repr__(self):
        raise RuntimeError("no repr")


def test_hostile_logged_values_warn_and_the_run_goes_on(capfd):
    run = runstore.init(project="p")
    d: dict = {"a": 1}
    d["self"] = d
    lst: list = [1]
    lst.append(lst)
    run.log({"nofloat": _NoFloat(), "x": 1.0})
    run.log({"nothing": _NothingWorks()})
    run.log({"rec": d})
    run.log({"recl": lst}, step=run.step)
    run.log({"big": "y" * (3 << 20)})
    run.config.update({"cfg_rec": d, "cfg_bad": _NothingWorks()})
    with pytest.raises(ValueError, match="10,000 characters"):
        run.log({"k" * 10_000: 1.0})
    with pytest.raises(ValueError, match="at most 1024"):
        run.log({"nested": {"k" * 2000: 1.0}})
    with pytest.raises(ValueError, match="at most 1024"):
        run.log({"k" * 2000: 1.0}, step=run.step + 1)
    run.log({"after": 1.0})
    run.finish(quiet=True)
    err = capfd.readouterr().err
    for key in ("nofloat", "nothing", "rec", "recl", "big", "cfg_rec", "cfg_bad"):
        assert repr(key) in err, (key, err)
    rows = runstore.Api().run(f"p/{run.id}").history(samples=None, pandas=False)
    by_key = {k: r[k] for r in rows for k in r if not k.startswith("_")}
    assert by_key["x"] == 1.0 and by_key["after"] == 1.0
    assert by_key["nothing"] == "<unprintable _NothingWorks>"
    assert isinstance(by_key["rec"], str) and "{...}" in by_key["rec"]
    assert len(by_key["big"]) == 1 << 20
    assert not any(len(k) > 1024 for r in rows for k in r)


def test_a_sparse_wide_history_is_refused_as_a_table_with_bounded_memory(tmp_path):
    """100,000 distinct keys, one per row (6 MB): a table would be 10^10 cells (issue 9 item 13)."""
    code = """
import resource, sys, runstore
from runstore.store.history import WideHistory
run = runstore.init(project="p")
run.finish(quiet=True)
with open(run._ref.path / "history.jsonl", "ab") as f:
    f.write(b"".join(b'{"_step":%d,"key_%d":%d.5}\\n' % (i, i, i) for i in range(100_000)))
api_run = runstore.Api().run("p/" + run.id)
try:
    api_run.history(samples=None)
    print("NO ERROR")
except WideHistory as e:
    print("refused:", e)
print("keys", api_run.history(keys=["key_7"], samples=None, pandas=False))
print("rows", sum(1 for _ in api_run.scan_history()))
print("rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.update(RUNSTORE_DIR=str(tmp_path / ".wandb"), RUNSTORE_DAEMON="0")
    r = subprocess.run([PY, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "refused:" in out and "columns over 100,000 rows" in out and "history(keys=" in out, out
    assert "keys [{'_step': 7, 'key_7': 7.5}]" in out
    assert "rows 100000" in out
    rss = int(out.rsplit("rss_mb", 1)[1].split()[0])
    assert rss < 1500, rss  # the unbounded table grew past 11 GB


def test_a_huge_grid_is_never_materialized(capsys, tmp_path):
    """int_uniform 0..10**12 times q_uniform of 10**9 points: 10**21 combinations (issue 9 item 15)."""
    import tracemalloc

    from runstore.sweeps.schema import parse_config
    from runstore.sweeps.search import Trial, next_params

    cfg = parse_config(
        {
            "method": "grid",
            "parameters": {
                "n": {"distribution": "int_uniform", "min": 0, "max": 10**12},
                "q": {"distribution": "q_uniform", "min": 0, "max": 10**9, "q": 1},
                "c": {"values": ["a", "b"]},
            },
        }
    )
    tracemalloc.start()
    trials = []
    for i in range(5):
        params = next_params(cfg, trials)
        trials.append(Trial(run_id=f"r{i}", params=params, state="finished"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # wandb's order: parameters sorted by name, the last one varying fastest
    assert [t.params for t in trials][:3] == [
        {"c": "a", "n": 0, "q": 0},
        {"c": "a", "n": 0, "q": 1},
        {"c": "a", "n": 0, "q": 2},
    ]
    assert peak < 50 << 20, peak
    (tmp_path / "sweep.yaml").write_text(
        "method: grid\nparameters:\n  n: {distribution: int_uniform, min: 0, max: 1000000000000}\n"
    )
    code, out, err = run_cli(capsys, "sweep", str(tmp_path / "sweep.yaml"))
    assert code == 0, err
