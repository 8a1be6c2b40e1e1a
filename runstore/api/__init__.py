"""The public read API, call-compatible with `wandb.Api` (docs/COMPAT.md §12), over a local store.

api = runstore.Api()
run = api.run("project/id")        # or "latest", an id prefix, a run name
run.config, run.summary, run.history(), run.scan_history(), run.files(), run.to_dict()
api.runs("project", filters={"config.lr": {"$gt": 0.01}}, order="-summary_metrics.acc")
api.sweep("id").best_run()
"""

from ._api import Api
from ._diff import compare
from ._runs import File, Run, Runs
from ._sweeps import Sweep

__all__ = ["Api", "Run", "Runs", "File", "Sweep", "compare"]
