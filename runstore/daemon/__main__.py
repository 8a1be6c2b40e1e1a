"""`python -m runstore.daemon --store PATH [--interval S] [--idle-exit S] [--foreground]`.

Started by `runstore.init()` (detached, see client.spawn) or `runstore daemon start`. Exits at once
with status 0 if another daemon already holds the store's lock.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .client import DEFAULT_IDLE_EXIT, DEFAULT_INTERVAL
from .loop import serve


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m runstore.daemon", description=__doc__)
    ap.add_argument("--store", required=True, type=Path, help="the store directory (.wandb)")
    ap.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, help="seconds between samples")
    ap.add_argument(
        "--idle-exit",
        type=float,
        default=DEFAULT_IDLE_EXIT,
        help="exit after this many seconds without a live run (0: never)",
    )
    ap.add_argument("--foreground", action="store_true", help="also print the log to stderr")
    a = ap.parse_args(argv)
    if not a.interval > 0:
        ap.error("--interval must be > 0")
    return serve(
        a.store, interval=a.interval, idle_exit=a.idle_exit if a.idle_exit > 0 else None, echo=a.foreground
    )


if __name__ == "__main__":
    sys.exit(main())
