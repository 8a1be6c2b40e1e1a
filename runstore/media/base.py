"""How a media value becomes files plus a `_type` JSON reference when it is logged.

A `Media` subclass implements `bind(ctx, key, step)`: it writes its file(s) through `ctx.write_file`
(content-addressed: the same bytes are stored once per run) and returns the JSON reference that goes
into the history row and the summary, in wandb's format (docs/COMPAT.md §7).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..store import jsonl
from ..store.layout import RunRef, make_dirs, media_relpath

if TYPE_CHECKING:
    from ..sdk.run import Run


class Media:
    """Base of every loggable data type (Image, Table, Histogram, …)."""

    _log_type: str = ""

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        raise NotImplementedError

    def history_key(self, key: str) -> str:
        """The history/summary key a value logged under `key` is stored at; a chart stores its table
        at `<key>_table` (and its spec under config `_wandb.visualize.<key>`)."""
        return key

    @classmethod
    def bind_list(cls, items: list[Media], ctx: BindContext, key: str, step: int) -> Any:
        """Several values of one type under one key. Types with a batched wandb form (images, audio)
        override this; the default is a plain list of references."""
        return [m.bind(ctx, key, step) for m in items]


class BindContext:
    """What a media value may touch while being logged: the run's files and its internal config."""

    def __init__(self, ref: RunRef, run: Run | None = None) -> None:
        self.ref = ref
        self.files_dir = ref.files_dir
        self.run = run
        self._by_sha: dict[str, str] = {}

    def write_file(self, kind: str, key: str, step: int, data: bytes, ext: str) -> tuple[str, str, int]:
        """Store `data` once per run; returns (path relative to files/, sha256 hex, size)."""
        digest = hashlib.sha256(data).hexdigest()
        known = self._by_sha.get(digest + ext)
        if known is not None and (self.files_dir / known).exists():
            return known, digest, len(data)
        rel = media_relpath(kind, key, step, digest, ext)
        dest = self.files_dir / rel
        if not dest.exists():
            make_dirs(dest.parent)
            jsonl.write_atomic(dest, data)
        self._by_sha[digest + ext] = rel
        return rel, digest, len(data)

    def set_internal_config(self, path: list[str], value: Any) -> None:
        """Entries under config `_wandb` (chart specs, class labels) that wandb keeps there."""
        if self.run is None:
            return
        items = self.run.config._items
        wb = dict(items.get("_wandb") or {})
        d = wb
        for p in path[:-1]:
            d[p] = dict(d.get(p) or {})
            d = d[p]
        d[path[-1]] = value
        items["_wandb"] = wb
        self.run._config_event({"_wandb": wb})
