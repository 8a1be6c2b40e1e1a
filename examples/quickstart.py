"""The seed's detect-pedestrians example: a (simulated) training run tracked with runstore.

Only the import differs from a wandb script. Try:  python examples/quickstart.py --learning_rate 0.05
"""

import argparse
import math
import random

import runstore as wandb

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--learning_rate", type=float, default=0.01)
parser.add_argument("--momentum", type=float, default=0.2)
parser.add_argument("--architecture", default="CNN")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

config = dict(
    learning_rate=args.learning_rate,
    momentum=args.momentum,
    architecture=args.architecture,
    dataset_id="peds-0192",
    infra="AWS",
    epochs=args.epochs,
)

wandb.init(
    project="detect-pedestrians",
    notes="tweak baseline",
    tags=["baseline", "paper1"],
    config=config,
)

# A pretend model whose quality depends on the hyperparameters, so runs differ in a readable way.
quality = 1.0 - abs(math.log10(wandb.config.learning_rate) + 2) / 3 - abs(wandb.config.momentum - 0.6) / 2
best_acc = 0.0
for epoch in range(wandb.config.epochs):
    progress = 1 - math.exp(-(epoch + 1) / 3)
    train_acc = max(0.0, min(1.0, 0.5 + 0.45 * quality * progress + random.gauss(0, 0.01)))
    val_acc = max(0.0, min(1.0, train_acc - 0.03 + random.gauss(0, 0.01)))
    wandb.log(
        {
            "epoch": epoch,
            "train/loss": 1.5 * (1 - progress * quality) + random.gauss(0, 0.02),
            "train/acc": train_acc,
            "val/loss": 1.6 * (1 - progress * quality) + random.gauss(0, 0.02),
            "val/acc": val_acc,
        }
    )
    best_acc = max(best_acc, val_acc)

wandb.run.summary["best_val_acc"] = best_acc
wandb.finish()
