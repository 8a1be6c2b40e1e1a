"""The run store: the only code that knows the on-disk layout (see docs/FORMAT.md)."""

from .layout import KINDS, Kind, RunRef, StoreFile, check_name
from .runs import RunState, load_run
from .store import Store, find_root

__all__ = ["Store", "RunRef", "RunState", "StoreFile", "Kind", "KINDS", "find_root", "check_name", "load_run"]
