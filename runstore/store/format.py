"""The format version: what this code writes, what it can read, and the one check readers make.

A version is `major.minor`. A minor change only adds (record types, fields, files) what an older reader
of the same major version can ignore without misreading anything; every other change is a new major
version. A reader refuses data of a newer major version with one line naming the versions it reads
(docs/FORMAT.md, "Versions"). Data without a version is format 1, the format before versions were
written down.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import FormatError

MAJOR = 2
MINOR = 2
VERSION = f"{MAJOR}.{MINOR}"
LEGACY = (1, 0)  # a store or run that records no version
_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def parse(value: Any) -> tuple[int, int] | None:
    """`"2.0"` -> (2, 0); None for anything that is not a version."""
    if not isinstance(value, str):
        return None
    m = _VERSION.match(value.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def record() -> bytes:
    """The content of a store's `format.json` as this code writes it (a local store or a remote)."""
    import orjson

    from ..base.version import __version__

    return orjson.dumps({"format": VERSION, "written_by": f"runstore {__version__}"}) + b"\n"


def check(version: tuple[int, int], what: str) -> None:
    """Raise FormatError if this code cannot read data of `version`."""
    if version[0] > MAJOR:
        raise FormatError(
            f"{what} uses runstore format {version[0]}.{version[1]}; this runstore reads format {MAJOR} and "
            f"older: upgrade runstore (pip install -U runstore)"
        )


__all__ = ["MAJOR", "MINOR", "VERSION", "LEGACY", "parse", "check", "record"]
