"""docs/FORMAT.md is tested against the code: the file kinds of its store table, the record types and
fields of its tables against store/schema.py (both ways), and every declared field is written by some
code path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from conftest import run_script

import runstore
from runstore.store import layout as L
from runstore.store import schema
from runstore.store.runs import mark_if_crashed, mark_stopped
from runstore.store.store import Store
from runstore.sweeps import controller as C

ROOT = Path(__file__).resolve().parent.parent
FORMAT = (ROOT / "docs" / "FORMAT.md").read_text()
_PLACEHOLDERS = {
    "<project>": "proj",
    "<id>": "ab12cd34",
    "<sweep>": "zz99yy88",
    "<run>": "ab12cd34",
    "<N>": "3",
    "<key>": "0123abcd",
    "<path>": "deep/er/x.bin",
    "<md5[:2]>": "0a",
    "<md5>": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    "<collection>": "mnist-model",
    "<digest>": "ffeeddccbbaa99887766554433221100",
}


def _table(heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table after `heading`."""
    start = FORMAT.index(heading)
    rows = []
    for line in FORMAT[start:].splitlines()[1:]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header row


def _sub(path: str) -> str:
    for k, v in _PLACEHOLDERS.items():
        path = path.replace(k, v)
    return path


# -- kinds ------------------------------------------------------------------------------------------
def test_every_path_of_the_store_table_has_the_kind_the_code_gives_it() -> None:
    rows = _table("Every file, with its kind")
    assert len(rows) >= 30
    for path, kind, _what in rows:
        rel = _sub(path.strip("`"))
        assert L.kind_of(rel) == kind, (
            f"FORMAT.md says {path} is {kind}; layout.kind_of says {L.kind_of(rel)}"
        )


def test_the_kinds_table_names_the_four_kinds() -> None:
    assert [r[0].strip("`") for r in _table("## File kinds")] == list(L.KINDS)


def test_files_that_are_not_part_of_the_format_have_no_kind() -> None:
    for rel in (
        "projects/p/runs/r/notes.txt",
        "projects/p/runs/r/.history.jsonl.tmp-runstore-12",
        "projects/p/runs/r/files/.x.bin.tmp-runstore-9",
        "sweeps/s/other.txt",
        "random.txt",
        "projects/p/runs/r/history.x.jsonl",
        "projects/p/runs/r/history.-1.jsonl",
    ):
        assert L.kind_of(rel) is None, rel


def _a_run_with_every_kind_of_file(tmp_path: Path) -> Any:
    (tmp_path / "model.pt").write_bytes(b"weights")
    run = runstore.init(project="p", config={"a": 1})
    run.log({"img": runstore.Image(__import__("numpy").zeros((2, 2, 3), dtype="uint8"))})
    run.save("model.pt", policy="now")
    Path(run.dir, "written-by-the-script.txt").write_text("x")
    ref = run._ref
    ref.output_log.write_text("console\n")
    ref.diff_patch.write_bytes(b"diff")
    ref.requirements.write_text("a==1\n")
    ref.code_file("train.py").parent.mkdir(parents=True)
    ref.code_file("train.py").write_text("print()")
    (ref.path / "cache").mkdir(exist_ok=True)  # the writer lock made it
    (ref.path / "cache" / "history.npz").write_bytes(b"")
    (ref.path / ".system.jsonl.tmp-runstore-1").write_bytes(b"")  # a write in progress: not listed
    (ref.path / "stray.txt").write_text("not part of the format")  # not listed either
    run.finish()
    return run


def test_store_files_lists_each_file_of_a_run_with_its_kind(tmp_path: Path) -> None:
    run = _a_run_with_every_kind_of_file(tmp_path)
    store = Store(tmp_path / ".wandb")
    files = {f.rel.split(f"/runs/{run.id}/", 1)[1]: f.kind for f in store.files(run._ref)}
    image = next(k for k in files if k.startswith("files/media/images/"))
    assert files == {
        "run.jsonl": "append",
        "history.jsonl": "append",
        "files/output.log": "append",
        "files/diff.patch": "immutable",
        "files/requirements.txt": "immutable",
        "files/code/train.py": "immutable",
        image: "immutable",
        "files/model.pt": "replaced",
        "files/written-by-the-script.txt": "replaced",
        "cache/history.npz": "derived",
        "cache/writer.lock": "derived",
    }
    for f in store.files(run._ref):
        assert f.path.is_file() and f.rel.startswith(f"projects/p/runs/{run.id}/")


def test_store_and_sweep_files_with_their_kinds(tmp_path: Path) -> None:
    store = Store(tmp_path / ".wandb")
    run = runstore.init(project="p")
    run.finish()
    sd = C.create_sweep({"method": "grid", "parameters": {"x": {"values": [1]}}}, project="p", store=store)
    sd.run_config_path("ab12cd34").write_text("x: {value: 1}\n")
    with sd.locked():
        pass
    assert {f.rel: f.kind for f in store.sweep_files(sd.id)} == {
        f"sweeps/{sd.id}/journal.jsonl": "append",
        f"sweeps/{sd.id}/config.yaml": "replaced",
        f"sweeps/{sd.id}/config-ab12cd34.yaml": "immutable",
        f"sweeps/{sd.id}/lock": "derived",
    }
    store.write_settings({"project": "p"})
    got = {f.rel: f.kind for f in store.store_files()}
    assert got["settings.yaml"] == "replaced" and got["format.json"] == "replaced"
    assert got["latest-run"] == "derived" and got[".gitignore"] == "derived"
    assert not any(rel.startswith(("projects/", "sweeps/")) for rel in got)


# -- record types -----------------------------------------------------------------------------------
def _documented(heading: str) -> dict[str, tuple[set[str], set[str]]]:
    """{type: (fields, legacy fields)} from a FORMAT.md record table."""
    out = {}
    for row in _table(heading):
        t = row[0].strip("`")
        fields, legacy = set(), set()
        for part in row[1].split(","):
            m = re.search(r"`(\w+)`", part)
            if m:
                (legacy if "format 1 only" in part else fields).add(m.group(1))
        out[t] = (fields, legacy)
    return out


@pytest.mark.parametrize(
    ("log", "heading"),
    [
        ("run.jsonl", "## run.jsonl — the event log"),
        ("journal.jsonl", "## Sweeps ("),
        ("artifacts.jsonl", "## Artifacts ("),
    ],
)
def test_record_tables_match_the_schema_both_ways(log: str, heading: str) -> None:
    documented = _documented(heading)
    declared = {t: (set(r.fields), set(r.legacy)) for t, r in schema.RECORDS[log].items()}
    assert documented.keys() == declared.keys(), "FORMAT.md and store/schema.py list different record types"
    for t in declared:
        assert documented[t] == declared[t], f"{log} {t!r}: FORMAT.md {documented[t]} != schema {declared[t]}"


def test_edit_keys_are_documented() -> None:
    line = next(x for x in FORMAT.splitlines() if x.startswith("Keys an `edit` record's `set` may carry"))
    assert re.findall(r"`(\w+)`", line.split(":", 1)[1]) == list(schema.EDIT_KEYS)


def test_strict_mode_rejects_what_the_schema_does_not_declare(tmp_path: Path) -> None:
    run = runstore.init(project="p")
    with pytest.raises(schema.SchemaError, match="not declared"):
        run._event({"t": "init2"})
    with pytest.raises(schema.SchemaError, match="newfield"):
        run._event({"t": "alert", "title": "x", "newfield": 1})
    with pytest.raises(schema.SchemaError, match="not among"):
        run._event({"t": "edit", "set": {"color": "red"}})
    run.finish()


def _every_run_record(tmp_path: Path) -> None:
    """Every writer of run.jsonl, each field it can write."""
    (tmp_path / "f.txt").write_text("x")
    run = runstore.init(project="p", config={"a": 1, "b": 2}, settings={"disable_git": False})
    run.define_metric(
        "loss",
        step_metric="epoch",
        step_sync=True,
        hidden=False,
        summary="min",
        goal="minimize",
        overwrite=True,
    )
    run.log({"loss": 1.0, "epoch": 0})
    run.log({"late": 1}, step=0)  # dropped
    run.summary["manual"] = 1
    del run.summary["manual"]
    run.alert("t", "text")
    run.save(str(tmp_path / "f.txt"), policy="now")
    run.name = "renamed"
    run.mark_preempting()
    run.finish()
    api_run = runstore.Api().run(f"p/{run.id}")
    api_run.config["c"] = 3
    del api_run.config["b"]
    api_run.name = "by-api"
    api_run.summary["x"] = 1
    api_run.update()
    del api_run.summary["x"]
    api_run.update()
    runstore.init(project="p", id=run.id, resume="allow").finish()  # resume
    runstore.init(project="p", resume_from=f"{run.id}?_step=0").finish()  # rewind
    # the exit records other processes write for a run whose process died: crashed (the daemon), then
    # stopped (a sweep agent that had stopped it)
    killed = run_script(
        """
        import os, signal, runstore
        run = runstore.init(project="p")
        runstore.log({"x": 1})
        print(run.id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        tmp_path,
    )
    ref = Store(tmp_path / ".wandb").find_run_by_id(killed.stdout.strip(), "p")
    assert ref is not None and mark_if_crashed(ref)
    mark_stopped(ref, 143, "hyperband")
    assert runstore.Api().run(f"p/{ref.id}").state == "stopped"


def _every_journal_record(tmp_path: Path) -> None:
    """Every writer of a sweep journal, each field it can write."""
    store = Store(tmp_path / ".wandb")
    prior = runstore.init(project="p", config={"x": 0})
    prior.log({"loss": 0.5})
    prior.finish()
    sd = C.create_sweep(
        {"method": "grid", "parameters": {"x": {"values": [1, 2]}}},
        project="p",
        entity="e",
        store=store,
        prior_runs=[prior.id],
    )
    C.update_config(sd, {"method": "grid", "parameters": {"x": {"values": [1, 2, 3]}}})
    C.set_state(sd, "pause")
    C.set_state(sd, "resume")
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 1, "eta": 2},
        "parameters": {"x": {"values": [1, 2, 9, 4, 5]}},
    }
    sd = C.create_sweep(config, project="p", store=store)
    ctl = C.Controller(sd)
    a = ctl.register_agent("function")
    for _ in range(2):  # two trials that finish with a low loss
        t = ctl.tick(a, want_run=True).assignment
        assert t is not None
        run = runstore.init(project="p", id=t.run_id, reinit="create_new")
        run.log({"loss": float(t.params["x"])})
        run.finish()
        ctl.record_result(a, t.run_id, "finished", 0)
    t = ctl.tick(a, want_run=True).assignment  # a third, still running, far worse: hyperband stops it
    assert t is not None and t.params["x"] == 9
    bad = runstore.init(project="p", id=t.run_id, reinit="create_new")
    bad.log({"loss": 9.0})
    assert ctl.tick(a, want_run=False).stop == {t.run_id: "hyperband"}
    bad.finish()
    ctl.record_result(a, t.run_id, "stopped", 143)
    ctl.agent_exit(a, "done")
    # Two agents die with a trial each: one trial never started (released), one whose run ended (a
    # result `by` the controller of the agent that notices).
    b, d = C.Controller(sd), C.Controller(sd)
    ab, ad = b.register_agent("cli"), d.register_agent("cli")
    never = b.tick(ab, want_run=True).assignment
    ended = d.tick(ad, want_run=True).assignment
    assert never is not None and ended is not None
    runstore.init(project="p", id=ended.run_id, reinit="create_new").finish()
    b.agent_exit(ab, "interrupted")
    d.agent_exit(ad, "interrupted")
    C.Controller(sd).tick(C.Controller(sd).register_agent("cli"), want_run=False)


def _every_artifact_record(tmp_path: Path) -> None:
    """Every writer of an artifact log, each field it can write."""
    (tmp_path / "w.bin").write_bytes(b"weights")
    run = runstore.init(project="p", reinit="create_new")
    art = runstore.Artifact("m", "model", description="d", metadata={"acc": 1})
    art.add_file(str(tmp_path / "w.bin"))
    run.log_artifact(art, aliases=["best"], tags=["t1"])  # version + alias
    run.finish()
    other = runstore.init(project="p", reinit="create_new")
    again = runstore.Artifact("m", "model")
    again.add_file(str(tmp_path / "w.bin"))
    other.log_artifact(again)  # the same content from another run: log
    other.use_artifact("m:best")  # use
    dropped = runstore.Artifact("gone", "model")
    dropped.add_file(str(tmp_path / "w.bin"))
    other.log_artifact(dropped).delete()  # delete
    edited = other.use_artifact("m:best")
    edited.aliases.remove("best")  # unalias
    edited.description = "edited"  # update
    edited.tags = ["t2"]
    edited.save()
    edited.link("registry")  # a version with a source
    other.finish()


def test_every_declared_record_type_and_field_is_written_by_some_code(tmp_path: Path) -> None:
    schema.SEEN.clear()
    _every_run_record(tmp_path)
    _every_journal_record(tmp_path)
    _every_artifact_record(tmp_path)
    for log, records in schema.RECORDS.items():
        for t, rec in records.items():
            assert (log, t, "") in schema.SEEN, f"nothing wrote a {t!r} record to {log}"
            missing = [f for f in rec.fields if (log, t, f) not in schema.SEEN]
            assert not missing, f"{log} {t!r}: declared fields {missing} were never written"


def test_the_servers_tokens_have_no_kind() -> None:
    """Never synced (no remote holds them), never derived (nothing may delete them)."""
    assert L.kind_of(f"{L.SERVER_DIR}/{L.SERVER_TOKENS}") is None
