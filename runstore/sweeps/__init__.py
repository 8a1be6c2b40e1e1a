"""Local sweeps: wandb's sweep config, search (grid/random/bayes) and Hyperband, with no server.

The pure library (no store, no processes):
* `schema`    — `parse_config()` validates every key of a sweep config at once (`SweepConfigError`
  lists one problem per line), `warnings()` the deprecated-but-allowed parts.
* `params`    — parameter specs, wandb's distribution inference order, inverse-CDF sampling, unit cube.
* `search`    — `next_params()` for grid / random / bayes (`gp`: a Gaussian process with expected
                improvement, `gp.py`; Optuna's TPE on request; the `sweeps` extra).
* `hyperband` — `runs_to_stop()`: Hyperband early termination on the count of metric logs.
* `macros`    — `build_command()` with every `command` macro, `run_config_yaml()` for the child run.

The store, agents and CLI (`state`, `controller`, `agent`, `api`) build on these.
"""

from __future__ import annotations

from .hyperband import runs_to_stop
from .macros import build_command, format_args, run_config_yaml
from .schema import Metric, SweepConfig, SweepConfigError, parse_config, warnings
from .search import Trial, bayes_sampler, next_params

__all__ = [
    "Metric",
    "SweepConfig",
    "SweepConfigError",
    "Trial",
    "bayes_sampler",
    "build_command",
    "format_args",
    "next_params",
    "parse_config",
    "run_config_yaml",
    "runs_to_stop",
    "warnings",
]
