"""`command` macros and the per-run config file (docs/COMPAT.md §11.3–11.4)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runstore.sweeps import build_command, format_args, parse_config, run_config_yaml
from runstore.sweeps.macros import DEFAULT_COMMAND

# the values of the contract's verified example, in its order
PARAMS: dict[str, Any] = {
    "lr": 0.001,
    "flag": False,
    "on": True,
    "layers": [64, 128],
    "opt": {"name": "adam", "lr": 0.1},
    "name": "a b",
}


def cfg(command: list[Any] | None = None, program: str | None = "train.py") -> Any:
    raw: dict[str, Any] = {"method": "random", "parameters": {"lr": {"value": 0.01}}}
    if command is not None:
        raw["command"] = command
    if program is not None:
        raw["program"] = program
    return parse_config(raw)


def test_verified_args() -> None:
    assert format_args(PARAMS, "args") == [
        "--lr=0.001",
        "--flag=False",
        "--on=True",
        "--layers=[64, 128]",
        "--opt={'name': 'adam', 'lr': 0.1}",
        "--name=a b",
    ]


def test_verified_args_no_boolean_flags() -> None:
    assert format_args(PARAMS, "${args_no_boolean_flags}") == [
        "--lr=0.001",
        "--on",
        "--layers=[64, 128]",
        "--opt={'name': 'adam', 'lr': 0.1}",
        "--name=a b",
    ]


def test_verified_args_json() -> None:
    (token,) = format_args(PARAMS, "args_json")
    assert token.startswith('{"lr": 0.001, "flag": false, ') and json.loads(token) == PARAMS


def test_other_styles() -> None:
    p = {"a": 1, "b": True}
    assert format_args(p, "args_no_hyphens") == ["a=1", "b=True"]
    assert format_args(p, "args_no_equals") == ["--a", "1", "--b", "True"]
    assert format_args(p, "args_append_hydra") == ["+a=1", "+b=True"]
    assert format_args(p, "args_override_hydra") == ["++a=1", "++b=True"]
    with pytest.raises(ValueError, match="unknown argument style"):
        format_args(p, "args_sideways")


def test_default_command() -> None:
    argv = build_command(cfg(), {"lr": 0.01, "batch_size": 64}, env={}, json_file=None)
    env = [] if os.name == "nt" else ["/usr/bin/env"]
    assert argv == [*env, sys.executable, "train.py", "--lr=0.01", "--batch_size=64"]
    assert DEFAULT_COMMAND == ["${env}", "${interpreter}", "${program}", "${args}"]


def test_every_macro_and_envvar() -> None:
    command = [
        "${env}",
        "${interpreter}",
        "${program}",
        "${args}",
        "${args_no_hyphens}",
        "${args_no_boolean_flags}",
        "${args_no_equals}",
        "${args_json}",
        "${args_json_file}",
        "${args_append_hydra}",
        "${args_override_hydra}",
        "x_${envvar:FOO}_${envvar:NOPE}",
        "${unknown}",
        "--literal",
        3,
    ]
    argv = build_command(cfg(command), {"a": 1, "b": False}, env={"FOO": "bar"}, json_file="/tmp/p.json")
    env = [] if os.name == "nt" else ["/usr/bin/env"]
    assert argv == [
        *env,
        sys.executable,
        "train.py",
        "--a=1",
        "--b=False",
        "a=1",
        "b=False",
        "--a=1",
        "--a",
        "1",
        "--b",
        "False",
        '{"a": 1, "b": false}',
        "/tmp/p.json",
        "+a=1",
        "+b=False",
        "++a=1",
        "++b=False",
        "x_bar_NOPE",
        "--literal",
        "3",
    ]


def test_each_argument_is_one_token_no_quoting() -> None:
    argv = build_command(
        cfg(["python", "${args}"]), {"name": "a b; rm -rf /", "q": "'x'"}, env={}, json_file=None
    )
    assert argv == ["python", "--name=a b; rm -rf /", "--q='x'"]


def test_missing_program_and_json_file_are_clear() -> None:
    with pytest.raises(ValueError, match="add `program: train.py`"):
        build_command(cfg(program=None), {}, env={}, json_file=None)
    with pytest.raises(ValueError, match="json_file"):
        build_command(cfg(["${args_json_file}"]), {}, env={}, json_file=None)
    assert build_command(cfg(["python", "-c", "pass"], program=None), {"a": 1}, env={}, json_file=None) == [
        "python",
        "-c",
        "pass",
    ]


def test_run_config_yaml(tmp_path: Path) -> None:
    text = run_config_yaml({"lr": 0.01, "opt": {"name": "adam", "lr": 0.1}, "layers": [64, 128], "on": True})
    assert text.startswith("wandb_version: 1\n")
    data = yaml.safe_load(text)
    assert data == {
        "wandb_version": 1,
        "lr": {"value": 0.01},
        "opt": {"value": {"name": "adam", "lr": 0.1}},
        "layers": {"value": [64, 128]},
        "on": {"value": True},
    }
    # readable by the SDK's loader for WANDB_SWEEP_PARAM_PATH / --config files
    from runstore.sdk.config import load_yaml

    path = tmp_path / "config-r1.yaml"
    path.write_text(text)
    assert load_yaml(path) == {
        "lr": 0.01,
        "opt": {"name": "adam", "lr": 0.1},
        "layers": [64, 128],
        "on": True,
    }
