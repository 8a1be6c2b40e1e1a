"""The run store: the only code that knows the on-disk layout (see docs/FORMAT.md)."""

from .layout import RunRef, Store, check_name, find_root
from .runs import RunState, load_run

__all__ = ["Store", "RunRef", "RunState", "find_root", "check_name", "load_run"]
