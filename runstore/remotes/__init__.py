"""Remotes: copies of a store somewhere else, and the code that keeps them up to date.

* `base`      — the `Remote` protocol and its errors;
* `registry`  — `open_remote(url)`: a scheme picks the backend;
* `directory` — a directory (shared disk, NFS) that is itself a store;
* `objects`   — object stores through fsspec, with append files as segments;
* `sync`      — pushing runs and sweeps to a remote, pulling them back, verifying both sides.

Only `store` and `base` are below this package: the daemon (streaming) and the CLI (`sync`, `pull`,
`ls --remote`, `clean`) use it.
"""

from .base import Conflict, MissingBackend, Remote, RemoteError, strip_credentials
from .registry import open_remote, register

__all__ = [
    "Remote",
    "RemoteError",
    "MissingBackend",
    "Conflict",
    "open_remote",
    "register",
    "strip_credentials",
]
