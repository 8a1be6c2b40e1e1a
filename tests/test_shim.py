"""runstore's `wandb` shim (runstore/shim/): unedited wandb code under `runstore run`, the names
integrations import, `runstore shim install|uninstall|path`, and `runstore run`'s own rules (project,
a child naming another project, usage errors). Real libraries (Lightning, …) are in tests/integrations/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import runstore
from runstore import shim

PY = sys.executable


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RUNSTORE_"))}
    env.pop("PYTHONPATH", None)
    env.update({"RUNSTORE_DIR": str(tmp_path / ".wandb"), "RUNSTORE_DAEMON": "0", **extra})
    return env


def rs(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "runstore", *args],
        cwd=tmp_path,
        env=env_for(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


UNEDITED = """\
import wandb
run = wandb.init(project="plain", config={"lr": 0.1, "layers": [2, 3]})
for i in range(5):
    wandb.log({"loss": 1.0 / (i + 1), "acc": i / 10})
wandb.run.summary["best"] = 0.25
wandb.config.update({"bs": 16})
print("SHIM", getattr(wandb, "__runstore_shim__", False), flush=True)
wandb.finish()
"""


def test_an_unedited_wandb_script_logs_into_runstore_under_runstore_run(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(UNEDITED)
    p = rs(tmp_path, "run", "-p", "plain", "--", PY, "train.py")
    assert p.returncode == 0, p.stderr
    assert "SHIM True" in p.stdout
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs("plain"))
    assert len(runs) == 1
    r = runs[0]
    assert r.config == {"lr": 0.1, "layers": [2, 3], "bs": 16}
    assert r.summary["best"] == 0.25 and r.summary["loss"] == pytest.approx(0.2)
    assert [row["loss"] for row in r.scan_history(keys=["loss"])] == pytest.approx(
        [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]
    )
    assert r.metadata["wandb"]["imported"] == "shim"  # the run says which wandb it used


def test_no_wandb_shim_keeps_the_childs_own_wandb(tmp_path: Path) -> None:
    (tmp_path / "which.py").write_text(
        "try:\n"
        "    import wandb\n"
        "    print('WANDB', getattr(wandb, '__runstore_shim__', False))\n"
        "except ImportError:\n"
        "    print('WANDB none')\n"
    )
    p = rs(tmp_path, "run", "-p", "w", "--no-wandb-shim", "--", PY, "which.py")
    assert p.returncode == 0, p.stderr
    assert "WANDB True" not in p.stdout and "WANDB" in p.stdout
    p = rs(tmp_path, "run", "-p", "w", "--", PY, "which.py")
    assert "WANDB True" in p.stdout


INTERNALS = """\
import json
from importlib.metadata import version
import wandb
from wandb.sdk.lib import RunDisabled
from wandb.wandb_run import Run as Run1
from wandb.sdk.wandb_run import Run as Run2
from wandb.sdk.lib.config_util import ConfigError
from wandb.errors import CommError, Error, UsageError
from wandb.errors.term import termlog, termwarn, termerror
from wandb.apis.public import Api
import wandb.env
import runstore
wandb.require("service")
wandb.env.set_project("from-env")
import os
out = {
    "dist": version("wandb"),
    "version": wandb.__version__,
    "run_is": Run1 is Run2 is wandb.Run is runstore.sdk.run.Run,
    "disabled": RunDisabled.__name__,
    "config_error": issubclass(ConfigError, wandb.Error),
    "api": Api is runstore.Api,
    "image": wandb.Image is runstore.Image,
    "env": os.environ["WANDB_PROJECT"],
    "run_before": wandb.run is None,
}
run = wandb.init(project="p", mode="offline")
run._label(code="transformers_trainer")
out["run_after"] = wandb.run is run and wandb.log == run.log
wandb.finish()
out["run_finished"] = wandb.run is None
print(json.dumps(out))
"""


def test_the_names_integrations_import(tmp_path: Path) -> None:
    (tmp_path / "internals.py").write_text(INTERNALS)
    p = subprocess.run(
        [PY, "internals.py"],
        cwd=tmp_path,
        env=env_for(tmp_path, PYTHONPATH=str(shim.site_dir())),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {
        "dist": "0.31.0+runstore",
        "version": "0.31.0+runstore",
        "run_is": True,
        "disabled": "DisabledRun",
        "config_error": True,
        "api": True,
        "image": True,
        "env": "from-env",
        "run_before": True,
        "run_after": True,
        "run_finished": True,
    }


def test_shim_path_install_and_uninstall(tmp_path: Path, monkeypatch) -> None:
    p = rs(tmp_path, "shim", "path")
    assert p.returncode == 0 and Path(p.stdout.strip()) == shim.site_dir()
    assert (shim.site_dir() / "wandb" / "__init__.py").is_file()
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(shim, "pth_path", lambda: site / shim.PTH_NAME)
    monkeypatch.setattr(shim, "real_wandb", lambda: None)
    path = shim.install()
    assert path.is_file() and shim.installed()
    # what the interpreter does with the .pth at start-up: the shim's directory joins sys.path
    code = f"import site, sys; site.addsitedir({str(site)!r}); print({str(shim.site_dir())!r} in sys.path)"
    out = subprocess.run([PY, "-c", code], env=env_for(tmp_path), capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr
    assert shim.uninstall() == path and not path.exists() and shim.uninstall() is None


def test_install_refuses_to_hide_a_real_wandb(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.setattr(shim, "pth_path", lambda: site / shim.PTH_NAME)
    monkeypatch.setattr(shim, "real_wandb", lambda: "0.31.0")
    with pytest.raises(runstore.UsageError, match="wandb 0.31.0 is installed.*--force"):
        shim.install()
    assert not (site / shim.PTH_NAME).exists()
    path = shim.install(force=True)
    # in front of the real one: `import wandb` gets the shim even where a real wandb is installed
    code = f"import site; site.addsitedir({str(site)!r}); import wandb; print(getattr(wandb, '__runstore_shim__', 0))"
    out = subprocess.run([PY, "-c", code], env=env_for(tmp_path), capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr
    assert shim.uninstall() == path


def test_status_says_which_wandb_import_wandb_gets(tmp_path: Path) -> None:
    p = rs(tmp_path, "status")
    assert p.returncode == 0 and "import wandb:" in p.stdout
    p = rs(tmp_path, "status", "--json")
    w = json.loads(p.stdout)["wandb"]
    assert w["shim_path"] == str(shim.site_dir()) and set(w) == {"real", "shim_installed", "shim_path"}


def test_run_with_no_command_is_a_usage_error(tmp_path: Path) -> None:
    p = rs(tmp_path, "run")
    assert p.returncode == 2 and "nothing to run" in p.stderr and "Traceback" not in p.stderr


def test_the_wrappers_project_follows_the_script_not_the_runstore_executable(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("print('hi')\n")
    p = rs(tmp_path, "run", "--", PY, "s.py")
    assert p.returncode == 0, p.stderr
    assert [r.project for r in runstore.Api(store=tmp_path / ".wandb").runs()] == ["uncategorized"]
    repo = tmp_path / "myrepo"
    (repo / ".git").mkdir(parents=True)
    (repo / "t.py").write_text("print('hi')\n")
    p = rs(tmp_path, "run", "--", PY, str(repo / "t.py"))
    assert p.returncode == 0, p.stderr
    assert sorted(r.project for r in runstore.Api(store=tmp_path / ".wandb").runs()) == [
        "myrepo",
        "uncategorized",
    ]


def test_a_child_naming_another_project_joins_the_wrappers_run(tmp_path: Path) -> None:
    """Lightning's WandbLogger(project=...) inside `runstore run`: one run, not two halves."""
    (tmp_path / "train.py").write_text(UNEDITED)
    p = rs(tmp_path, "run", "-p", "wrapped", "--", PY, "train.py")
    assert p.returncode == 0, p.stderr
    assert "project 'plain' ignored" in p.stderr and "runstore run -p plain" in p.stderr
    runs = list(runstore.Api(store=tmp_path / ".wandb").runs())
    assert [(r.project, r.config["lr"]) for r in runs] == [("wrapped", 0.1)]
    assert runs[0].summary["best"] == 0.25


def test_smaller_names_wandb_scripts_use(tmp_path: Path) -> None:
    from runstore.store.runs import load_run

    assert runstore.join is runstore.finish
    runstore.require("service")  # every feature switch is already met
    run = runstore.init(project="p", config={"a": 1})
    assert isinstance(run, runstore.Run)
    assert run.url == (tmp_path / ".wandb" / "projects" / "p" / "runs" / run.id).as_uri() == run.get_url()
    assert run.project_url == (tmp_path / ".wandb" / "projects" / "p").as_uri()
    assert run.sweep_url is None and run.starting_step == 0
    run.alert("slow", "step took 3 s", level=runstore.AlertLevel.WARN)
    for i in range(3):
        run.log({"x": i})
    run.finish()
    alerts = [e for e in load_run(run._ref).events if e.get("t") == "alert"]
    assert [(a["title"], a["level"]) for a in alerts] == [("slow", "WARN")]
    again = runstore.init(project="p", id=run.id, resume="allow")
    assert again.starting_step == 3 and again.resumed
    again.finish()


# -- the names added for Hugging Face, accelerate and Keras (tests/integrations/ runs the libraries) ----


def shim_child(tmp_path: Path, code: str, **extra: str) -> tuple[dict, str]:
    """Run `code` with the shim first on sys.path; (the JSON it printed last, its stderr)."""
    script = tmp_path / "child.py"
    script.write_text(code)
    p = subprocess.run(
        [PY, str(script)],
        cwd=tmp_path,
        env=env_for(tmp_path, PYTHONPATH=str(shim.site_dir()), **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1]), p.stderr


FORWARDED = """\
import json
import runstore
import wandb

out = {}
for name in runstore.__all__:
    if name in ("run", "__version__"):
        continue  # run: None before init(), checked below; the version is wandb's (checked above)
    out[name] = getattr(wandb, name) is getattr(runstore, name)
out["all"] = sorted(wandb.__all__) == sorted(runstore.__all__)
out["run"] = wandb.run is None and runstore.run is None
print(json.dumps(out))
"""


def test_every_top_level_runstore_name_is_the_same_object_in_wandb(tmp_path: Path) -> None:
    """`wandb.X` is `runstore.X` for whatever runstore exports (Classes, Graph, watch, … as they arrive)."""
    out, _ = shim_child(tmp_path, FORWARDED)
    assert set(out) == {*runstore.__all__, "all"} - {"__version__"}
    assert {k: v for k, v in out.items() if v is not True} == {}


ALIAS_NAMES = {
    "wandb.integration.keras": "runstore.integration.keras",
    "wandb.keras": "runstore.integration.keras",
    "wandb.integration.sklearn": "runstore.integration.sklearn",
    "wandb.sklearn": "runstore.integration.sklearn",
    "wandb.integration.tensorboard": "runstore.integration.tensorboard",
    "wandb.tensorboard": "runstore.integration.tensorboard",
    "wandb.util": "runstore.util",
    "wandb.data_types": "runstore.data_types",
}

ALIASES_PRESENT = """\
import importlib, json, sys, types

targets = json.loads(sys.argv[1])
fakes = {}
for target in set(targets.values()):
    fakes[target] = sys.modules[target] = types.ModuleType(target)
    fakes[target].marker = target
import wandb
from wandb._aliases import ALIASES

out = {"table": {k: v[0] for k, v in ALIASES.items()}}
for name, target in targets.items():
    module = importlib.import_module(name)
    out[name] = [module is fakes[target], sys.modules[name] is fakes[target]]
# attribute access without an import statement, as `wandb.util.x` after `import wandb`
out["attrs"] = [
    wandb.util is fakes["runstore.util"],
    wandb.data_types is fakes["runstore.data_types"],
    wandb.sklearn is fakes["runstore.integration.sklearn"],
    wandb.tensorboard is fakes["runstore.integration.tensorboard"],
    wandb.integration.keras is fakes["runstore.integration.keras"],
    wandb.integration.sklearn is fakes["runstore.integration.sklearn"],
    wandb.integration.tensorboard is fakes["runstore.integration.tensorboard"],
]
from wandb.integration.keras import marker
out["from_import"] = marker
print(json.dumps(out))
"""


def test_wandb_modules_that_are_runstore_modules(tmp_path: Path) -> None:
    """`wandb.sklearn`, `wandb.integration.keras`, `wandb.util`, … are runstore's modules themselves
    (stand-ins here, so the test does not depend on which of them this runstore has yet)."""
    out, _ = shim_child(tmp_path, ALIASES_PRESENT.replace("sys.argv[1]", repr(json.dumps(ALIAS_NAMES))))
    assert out.pop("table") == ALIAS_NAMES
    assert out.pop("attrs") == [True] * 7
    assert out.pop("from_import") == "runstore.integration.keras"
    assert out == {name: [True, True] for name in ALIAS_NAMES}


ALIASES_MISSING = """\
import importlib, json, sys

targets = json.loads(sys.argv[1])
for target in set(targets.values()):
    sys.modules[target] = None  # what the import system says of a module that is not there
import wandb

out = {}
for name in targets:
    try:
        importlib.import_module(name)
        out[name] = "imported"
    except ImportError as e:
        out[name] = [type(e).__name__, str(e), e.name]
try:
    wandb.sklearn
except ImportError as e:
    out["attr"] = str(e)
print(json.dumps(out))
"""


def test_a_runstore_module_not_there_yet_is_an_import_error_naming_the_feature(tmp_path: Path) -> None:
    out, _ = shim_child(tmp_path, ALIASES_MISSING.replace("sys.argv[1]", repr(json.dumps(ALIAS_NAMES))))
    features = {
        "runstore.integration.keras": "the Keras callbacks",
        "runstore.integration.sklearn": "the scikit-learn plots",
        "runstore.integration.tensorboard": "TensorBoard syncing",
        "runstore.util": "wandb.util's helpers",
        "runstore.data_types": "wandb.data_types",
    }
    for name, target in ALIAS_NAMES.items():
        kind, message, err_name = out[name]
        assert kind == "ImportError" and err_name == name, out[name]
        assert message.startswith(f"{name}: {features[target]} are not in this version of runstore")
        assert f"(no module {target})" in message and "--no-wandb-shim" in message
    assert out["attr"].startswith("wandb.sklearn: the scikit-learn plots are not in this version")


SUBMODULES = """\
import json, sys, types
from pathlib import Path

pkg = Path("fake_sklearn")
pkg.mkdir()
(pkg / "plot.py").write_text("from . import helpers\\nVALUE = helpers.VALUE\\n")
(pkg / "helpers.py").write_text("VALUE = 42\\n")
(pkg / "needs_lib.py").write_text("import a_library_that_is_not_installed\\n")
fake = types.ModuleType("runstore.integration.sklearn")
fake.__path__ = [str(pkg.resolve())]
fake.__package__ = "runstore.integration.sklearn"
sys.modules["runstore.integration.sklearn"] = fake
import wandb.sklearn.plot
from wandb.integration.sklearn import plot as plot2

plot = sys.modules["runstore.integration.sklearn.plot"]
out = {
    "same": [wandb.sklearn.plot is plot, plot2 is plot, sys.modules["wandb.sklearn.plot"] is plot],
    "value": plot.VALUE,
    "spec": plot.__spec__.name,
    "once": sorted(k for k in sys.modules if k.endswith((".plot", ".helpers"))),
}
try:
    import wandb.sklearn.needs_lib
except ModuleNotFoundError as e:
    out["lib"] = [e.name, str(e)]
print(json.dumps(out))
"""


def test_submodules_of_an_aliased_module_are_loaded_once_under_runstores_name(tmp_path: Path) -> None:
    out, _ = shim_child(tmp_path, SUBMODULES)
    assert out["same"] == [True, True, True] and out["value"] == 42
    assert out["spec"] == "runstore.integration.sklearn.plot"  # its own spec, not the alias's
    assert out["once"] == [
        "runstore.integration.sklearn.helpers",
        "runstore.integration.sklearn.plot",
        "wandb.sklearn.plot",  # an alias entry for the same module object, not a second copy
    ]
    # a library the runstore module needs being absent keeps the library's own error
    assert out["lib"] == [
        "a_library_that_is_not_installed",
        "No module named 'a_library_that_is_not_installed'",
    ]


ARTIFACTS = """\
import json, os
import runstore
import wandb
from wandb.apis.public import Artifact as PublicArtifact
from wandb.sdk import Artifact as SdkArtifact

out = {
    "names": [getattr(wandb, n) is getattr(runstore, n)
              for n in ("Artifact", "log_artifact", "use_artifact", "log_model", "use_model")],
    "submodules": SdkArtifact is PublicArtifact is runstore.Artifact,
}
os.makedirs("ckpt/sub")
open("ckpt/weights.bin", "wb").write(b"w1")
open("ckpt/sub/config.json", "w").write("{}")
open("model.pt", "wb").write(b"m")
run = wandb.init(project="p")
art = wandb.Artifact("model-x", type="model", metadata={"acc": 1})
art.add_dir("ckpt")
art.add_file("model.pt", name="renamed.pt")
with art.new_file("notes.txt", mode="w") as f:
    f.write("hello")
open("model.pt", "wb").write(b"changed after add_file")  # a mutable file is copied when added
got = wandb.run.log_artifact(art, aliases=["latest", "best"])
out["returned"] = [got is art, art.name, art.aliases]
wandb.log_model("ckpt", name="m2")
wandb.finish()
consumer = wandb.init(project="p", mode="offline")
used = consumer.use_artifact("model-x:best")
root = used.download()
out["files"] = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
out["model_pt"] = open(os.path.join(root, "renamed.pt"), "rb").read().decode()
out["model"] = sorted(os.listdir(wandb.use_model("m2:latest")))
out["lineage"] = [used.logged_by().id == run.id, [r.id for r in used.used_by()] == [consumer.id]]
wandb.finish()
disabled = wandb.init(project="p", mode="disabled")
out["disabled"] = disabled.log_artifact(wandb.Artifact("d", "model")).state
wandb.finish()
print(json.dumps(out))
"""


def test_artifacts_through_the_shim_are_runstores(tmp_path: Path) -> None:
    """Hugging Face (`WANDB_LOG_MODEL`), Lightning (`log_model`) and Keras checkpoints call
    `wandb.Artifact`/`run.log_artifact`: they get runstore's artifacts, readable with `use_artifact`
    offline, and nothing warns."""
    out, err = shim_child(tmp_path, ARTIFACTS)
    assert out["names"] == [True] * 5 and out["submodules"] is True
    assert out["returned"] == [True, "model-x:v0", ["best", "latest"]]
    assert out["files"] == ["notes.txt", "renamed.pt", "sub/config.json", "weights.bin"]
    assert out["model_pt"] == "m"
    assert out["model"] == ["sub", "weights.bin"]
    assert out["lineage"] == [True, True]
    assert out["disabled"] == "PENDING"  # a disabled run writes nothing
    assert [line for line in err.splitlines() if "WARNING" in line] == []
