"""Cost of `watch()` on the steps that do not log (issue 13): a small MLP trained on the CPU with and
without `watch(model, log="all", log_freq=1000)`, alternating rounds, median per-step time. Needs torch:
run with the integration venv (`make test-integrations` creates it):

    .venv-int/bin/python bench/watch_cost.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time


def main() -> int:
    import torch
    from torch import nn

    import runstore

    torch.manual_seed(0)
    torch.set_num_threads(1)
    steps, rounds = 300, 7
    os.environ["RUNSTORE_DIR"] = os.path.join(tempfile.mkdtemp(prefix="runstore-watch-"), ".wandb")
    os.environ["RUNSTORE_DAEMON"] = "0"
    os.environ["RUNSTORE_CONSOLE"] = "off"
    x, y = torch.randn(64, 256), torch.randn(64, 1)

    def loop(watch: bool) -> float:
        model = nn.Sequential(
            nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1)
        )
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        run = runstore.init(project="bench-watch", reinit="create_new")
        if watch:
            run.watch(model, log="all", log_freq=1000)  # no step of this loop logs a histogram
        t = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            run.log({"loss": loss.item()})
        dt = (time.perf_counter() - t) / steps
        run.finish(quiet=True)
        return dt

    loop(False), loop(True)  # warm-up
    base, watched = [], []
    for _ in range(rounds):
        base.append(loop(False))
        watched.append(loop(True))
    b, w = statistics.median(base), statistics.median(watched)
    print(f"per step: {b * 1e6:.1f} µs without watch, {w * 1e6:.1f} µs with watch(log='all', log_freq=1000)")
    print(
        f"difference: {(w - b) * 1e6:+.1f} µs/step ({(w / b - 1) * 100:+.2f} %), {rounds} rounds of {steps} steps"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
