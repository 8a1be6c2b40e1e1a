"""The run store: the only code that knows the on-disk layout (see docs/FORMAT.md)."""

from .layout import Store, RunRef, find_root, check_name
from .runs import RunState, load_run

__all__ = ["Store", "RunRef", "RunState", "find_root", "check_name", "load_run"]
