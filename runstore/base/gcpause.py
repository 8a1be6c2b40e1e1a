"""Pausing the cyclic garbage collector around bulk reads.

Reading a project's index or a history builds millions of small dicts and lists that hold no reference
cycles. The collector, triggered by allocation counts, would traverse the growing heap again and again
while they are created (a listing of 10,000 runs took twice as long). Reference counting still frees
everything; the collector resumes afterwards, and nested pauses keep it off until the outermost ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


__all__ = ["paused"]
