"""The agent's command line: `command` macros (docs/COMPAT.md §11.4) and the per-run config file (§11.3).

Values are formatted with Python's `str()` exactly as wandb does (`--flag=True`, `--layers=[64, 128]`,
`--opt={'name': 'adam', 'lr': 0.1}`), each argument one argv token — no shell, so no quoting. Tokens
that are not macros pass through verbatim; `${envvar:NAME}` is substituted anywhere inside a token (left
as `NAME` when unset); a whole-token macro runstore does not know expands to nothing, as in wandb.

Divergence (documented, docs/COMPAT.md §16): `${interpreter}` is `sys.executable`, the Python running the
agent, not wandb's literal `python` — which in a venv/conda setup silently picks another interpreter.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from .schema import SweepConfig

DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
ARG_STYLES = (
    "args",
    "args_no_hyphens",
    "args_no_boolean_flags",
    "args_no_equals",
    "args_json",
    "args_append_hydra",
    "args_override_hydra",
)
_ENVVAR = re.compile(r"\$\{envvar:([^}]*)\}")
_MACRO = re.compile(r"^\$\{[^}]*\}$")


def format_args(params: Mapping[str, Any], style: str) -> list[str]:
    """The argv tokens of one `${args*}` macro (style given with or without `${}`), in params order."""
    style = style.removeprefix("${").removesuffix("}")
    if style == "args_json":
        return [json.dumps(dict(params), default=str)]
    prefix = {
        "args": "--",
        "args_no_boolean_flags": "--",
        "args_no_equals": "--",
        "args_no_hyphens": "",
        "args_append_hydra": "+",
        "args_override_hydra": "++",
    }.get(style)
    if prefix is None:
        raise ValueError(f"unknown argument style {style!r}; use one of {', '.join(ARG_STYLES)}")
    out: list[str] = []
    for name, value in params.items():
        if style == "args_no_boolean_flags" and isinstance(value, bool):
            if value:  # argparse `store_true` flags: present when True, absent when False
                out.append(f"--{name}")
        elif style == "args_no_equals":
            out += [f"--{name}", str(value)]
        else:
            out.append(f"{prefix}{name}={value}")
    return out


def build_command(
    config: SweepConfig, params: dict[str, Any], *, env: Mapping[str, str], json_file: str | None
) -> list[str]:
    """Expand the sweep's `command` (default `${env} ${interpreter} ${program} ${args}`) for one run.

    `env` resolves `${envvar:NAME}`; `json_file` is the path substituted for `${args_json_file}` (the
    caller writes the file: `json.dumps(params)`)."""
    argv: list[str] = []
    for token in config.command or DEFAULT_COMMAND:
        token = _ENVVAR.sub(lambda m: env.get(m.group(1), m.group(1)), token)
        name = token[2:-1] if _MACRO.match(token) else None
        if name is None:
            argv.append(token)
        elif name == "env":
            if os.name != "nt":
                argv.append("/usr/bin/env")
        elif name == "interpreter":
            argv.append(sys.executable)
        elif name == "program":
            if not config.program:
                raise ValueError(
                    "the sweep config has no `program` but its command uses ${program} — "
                    "add `program: train.py` (or a `command` without ${program})"
                )
            argv.append(config.program)
        elif name == "args_json_file":
            if json_file is None:
                raise ValueError(
                    "the command uses ${args_json_file}: pass json_file=<path of the params JSON>"
                )
            argv.append(json_file)
        elif name in ARG_STYLES:
            argv += format_args(params, name)
        # any other ${...} token: expands to nothing (wandb)
    return argv


def run_config_yaml(params: Mapping[str, Any]) -> str:
    """The per-run config file the child reads (`WANDB_SWEEP_PARAM_PATH`): wandb_version: 1 + {value: v}."""
    body = {k: {"value": v} for k, v in params.items()}
    import yaml  # here: ~15 ms that only an agent writing a trial's file should pay

    return "wandb_version: 1\n\n" + yaml.safe_dump(
        body, sort_keys=False, allow_unicode=True, default_flow_style=False
    )
