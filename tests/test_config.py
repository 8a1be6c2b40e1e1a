"""run.config: access, change rules, input types, YAML, config-defaults.yaml, persistence."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
from conftest import run_state, warnings_in

import runstore


def test_attribute_and_item_access():
    run = runstore.init(project="p", config={"lr": 0.01, "layers": [64, 32]})
    assert run.config.lr == 0.01
    assert run.config["lr"] == 0.01
    assert run.config.get("lr") == 0.01
    assert run.config.get("missing", "d") == "d"
    assert "lr" in run.config and "missing" not in run.config
    assert run.config.layers == [64, 32]
    with pytest.raises(AttributeError):
        _ = run.config.missing
    with pytest.raises(KeyError):
        run.config["missing"]
    run.config.bs = 16
    run.config["wd"] = 0.1
    assert run.config["bs"] == 16 and run.config.wd == 0.1
    assert dict(run.config) == {"lr": 0.01, "layers": [64, 32], "bs": 16, "wd": 0.1}
    assert run.config.as_dict() == {"lr": 0.01, "layers": [64, 32], "bs": 16, "wd": 0.1}
    assert len(run.config) == 4


def test_keys_hide_underscore_keys():
    run = runstore.init(project="p", config={"a": 1, "_private": 2})
    assert run.config.keys() == ["a"]
    assert run.config.items() == [("a", 1)]
    assert set(iter(run.config)) == {"a", "_private"}


@pytest.mark.parametrize("how", ["update", "item", "attr", "init-update"])
def test_changing_a_value_raises_config_error(how):
    run = runstore.init(project="p", config={"lr": 0.01})
    with pytest.raises(runstore.ConfigError):
        if how == "update":
            run.config.update({"lr": 0.02})
        elif how == "item":
            run.config["lr"] = 0.02
        elif how == "attr":
            run.config.lr = 0.02
        else:
            runstore.config.update({"lr": 0.02})
    assert run.config.lr == 0.01
    run.finish()
    assert run_state(run).config["lr"] == 0.01


def test_same_value_is_no_error_and_no_event():
    run = runstore.init(project="p", config={"lr": 0.01})
    run.config.lr = 0.01
    run.config.update({"lr": 0.01})
    run.finish()
    assert len([e for e in run_state(run).events if e.get("t") == "config"]) == 1


def test_allow_val_change():
    run = runstore.init(project="p", config={"lr": 0.01})
    run.config.update({"lr": 0.02}, allow_val_change=True)
    assert run.config.lr == 0.02
    with pytest.raises(runstore.ConfigError):
        run.config.update({"lr": 0.03}, allow_val_change=False)
    run.finish()
    assert run_state(run).config["lr"] == 0.02


def test_allow_val_change_from_init():
    run = runstore.init(project="p", config={"lr": 0.01}, allow_val_change=True)
    run.config.lr = 0.5
    run.config["lr"] = 0.6
    assert run.config.lr == 0.6


def test_setdefaults():
    run = runstore.init(project="p", config={"lr": 0.01})
    run.config.setdefaults({"lr": 0.99, "bs": 8, "--opt": "adam"})
    assert dict(run.config) == {"lr": 0.01, "bs": 8, "opt": "adam"}
    run.finish()
    assert run_state(run).config == {"lr": 0.01, "bs": 8, "opt": "adam"}


def test_argparse_namespace_input():
    ns = argparse.Namespace(lr=0.1, epochs=3, name="x")
    run = runstore.init(project="p", config=ns)
    assert dict(run.config) == {"lr": 0.1, "epochs": 3, "name": "x"}
    run.config.update(argparse.Namespace(extra=True))
    assert run.config.extra is True


def test_object_with_dict_input():
    class Cfg:
        def __init__(self):
            self.lr = 0.3
            self.depth = 4

    run = runstore.init(project="p", config=Cfg())
    assert dict(run.config) == {"lr": 0.3, "depth": 4}


WANDB_YAML = """\
wandb_version: 1

lr:
  desc: learning rate
  value: 0.01
nested:
  value:
    a: 1
    b: {c: 2}
epochs:
  desc: null
  value: 10
"""


def test_yaml_path_wandb_format(tmp_path):
    p = tmp_path / "cfg.yaml"
    p.write_text(WANDB_YAML)
    run = runstore.init(project="p", config=str(p))
    assert dict(run.config) == {"lr": 0.01, "nested": {"a": 1, "b": {"c": 2}}, "epochs": 10}
    assert "wandb_version" not in run.config


def test_yaml_path_plain_mapping(tmp_path):
    p = tmp_path / "plain.yaml"
    p.write_text("lr: 0.02\nopt:\n  name: adam\n  beta: 0.9\nlayers: [1, 2]\n")
    run = runstore.init(project="p", config=p)
    assert dict(run.config) == {"lr": 0.02, "opt": {"name": "adam", "beta": 0.9}, "layers": [1, 2]}


def test_yaml_path_in_update(tmp_path):
    p = tmp_path / "more.yaml"
    p.write_text("extra:\n  value: 5\n")
    run = runstore.init(project="p")
    run.config.update(str(p))
    assert run.config.extra == 5


def test_missing_yaml_path_raises(tmp_path):
    with pytest.raises(ValueError):
        runstore.init(project="p", config=str(tmp_path / "nope.yaml"))


def test_config_defaults_yaml_auto_loaded_from_cwd(tmp_path):
    (tmp_path / "config-defaults.yaml").write_text(
        "wandb_version: 1\nlr:\n  desc: the lr\n  value: 0.5\nbs:\n  value: 64\n"
    )
    run = runstore.init(project="p", config={"bs": 128})
    assert run.config.lr == 0.5
    assert run.config.bs == 128  # init(config=) wins over the defaults
    run.finish()
    assert run_state(run).config == {"lr": 0.5, "bs": 128}


def test_config_defaults_plain_mapping(tmp_path):
    (tmp_path / "config-defaults.yaml").write_text("dropout: 0.1\n")
    run = runstore.init(project="p")
    assert run.config.dropout == 0.1


def test_config_paths_env(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text("x: 1\ny: 1\n")
    (tmp_path / "b.yaml").write_text("y: 2\n")
    monkeypatch.setenv("WANDB_CONFIG_PATHS", "a.yaml,b.yaml")
    run = runstore.init(project="p", config={"z": 3})
    assert dict(run.config) == {"x": 1, "y": 2, "z": 3}


def test_nested_dicts():
    run = runstore.init(project="p", config={"opt": {"name": "sgd", "params": {"mom": 0.9}}})
    assert run.config.opt == {"name": "sgd", "params": {"mom": 0.9}}
    assert run.config["opt"]["params"]["mom"] == 0.9
    run.finish()
    assert run_state(run).config["opt"] == {"name": "sgd", "params": {"mom": 0.9}}


def test_dashes_stripped_from_keys():
    run = runstore.init(project="p", config={"--batch-size": 8, "-x-": 1})
    assert dict(run.config) == {"batch-size": 8, "x": 1}
    run.config.update({"--lr": 0.1})
    run.config["---wd"] = 0.2
    assert run.config["lr"] == 0.1 and run.config["wd"] == 0.2
    run.finish()
    assert run_state(run).config == {"batch-size": 8, "x": 1, "lr": 0.1, "wd": 0.2}


def test_unserializable_value_stored_as_str_with_one_warning(capsys):
    class Thing:
        def __str__(self):
            return "<a thing>"

    run = runstore.init(project="p")
    capsys.readouterr()
    run.config.update({"obj": Thing(), "ok": 1})
    w = warnings_in(capsys.readouterr().err)
    assert len(w) == 1 and "obj" in w[0]
    assert run.config.obj == "<a thing>"
    run.finish()
    assert run_state(run).config == {"obj": "<a thing>", "ok": 1}


def test_values_made_json_friendly():
    import datetime
    import enum

    class Color(enum.Enum):
        RED = 1

    run = runstore.init(
        project="p",
        config={
            "f32": np.float32(0.5),
            "i64": np.int64(7),
            "arr": np.array([1, 2]),
            "nan": math.nan,
            "tup": (1, 2),
            "when": datetime.date(2024, 1, 2),
            "color": Color.RED,
        },
    )
    c = run.config
    assert c.f32 == 0.5 and type(c.f32) is float
    assert c.i64 == 7 and type(c.i64) is int
    assert c.arr == [1, 2]
    assert c.nan is None  # wandb stores a NaN config value as null
    assert c.tup == [1, 2]
    assert c.when == "2024-01-02"
    assert c.color == "RED"
    run.finish()
    assert run_state(run).config["i64"] == 7


def test_include_and_exclude_keys():
    run = runstore.init(project="p", config={"a": 1, "b": 2, "c": 3}, config_exclude_keys=["b"])
    assert dict(run.config) == {"a": 1, "c": 3}
    run.finish()
    assert run_state(run).config == {"a": 1, "c": 3}
    run = runstore.init(project="p", config={"a": 1, "b": 2, "c": 3}, config_include_keys=["b"])
    assert dict(run.config) == {"b": 2}
    run.finish()
    with pytest.raises(ValueError):
        runstore.init(project="p", config={"a": 1}, config_include_keys=["a"], config_exclude_keys=["b"])


def test_bad_config_type():
    with pytest.raises(TypeError):
        runstore.init(project="p", config=42)
    run = runstore.init(project="p")
    with pytest.raises(TypeError):
        run.config.update(42)


def test_non_str_key_raises_type_error():
    run = runstore.init(project="p")
    with pytest.raises(TypeError):
        run.config.update({1: "a"})


def test_persisted_to_run_jsonl_and_read_back():
    run = runstore.init(project="p", config={"lr": 0.1})
    run.config.update({"bs": 4})
    run.config.depth = 3
    run.config.update({"lr": 0.2}, allow_val_change=True)
    run.finish()
    st = run_state(run)
    assert st.config == {"lr": 0.2, "bs": 4, "depth": 3}
    raw = (run._ref.path / "run.jsonl").read_text()
    assert '"t":"config"' in raw
    sets = [e["set"] for e in st.events if e.get("t") == "config"]
    assert sets == [{"lr": 0.1}, {"bs": 4}, {"depth": 3}, {"lr": 0.2}]


def test_config_readable_while_running():
    run = runstore.init(project="p", config={"lr": 0.1})
    run.config.more = "x"
    st = run_state(run)
    assert st.config == {"lr": 0.1, "more": "x"}
    assert st.state == "running"
