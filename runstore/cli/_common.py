"""What every command shares: the consoles, store lookup, RUN references, error reporting."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import RunNotFound, UsageError
from ..store.layout import RUN_LOG, RunRef, Store, find_root
from ..store.runs import load_run

# Tests swap these for consoles writing to StringIO (deterministic width, no colour).
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def store_at(dir: Path | None) -> Store:
    """The store for `--dir D`: D itself if it is a store, else D/.wandb; default: discovered."""
    if dir is None:
        return Store(find_root())
    d = Path(dir).expanduser().absolute()
    if d.name == ".wandb" or (d / "projects").is_dir():
        return Store(d)
    return Store(d / ".wandb")


def require_store(store: Store) -> Store:
    if not store.root.is_dir():
        raise UsageError(
            f"no runstore store at {store.root}; run a script that calls runstore.init() "
            "or `runstore init` first"
        )
    return store


def resolve_run(store: Store, spec: str, project: str | None = None) -> RunRef:
    """A RUN argument: `latest`, a run directory, `project/id`, an id, a unique id prefix, or a name."""
    if not spec:
        raise UsageError("empty RUN reference; give a run id, id prefix, name, path or 'latest'")
    if spec == "latest":
        ref = store.latest()
        if ref is None:
            raise RunNotFound(f"no latest run recorded in {store.root}")
        return ref
    p = Path(spec)
    if (p / RUN_LOG).is_file():
        p = p.absolute()
        return RunRef(p.parent.parent.name, p.name, p)
    if p.name == "files" and (p.parent / RUN_LOG).is_file():
        p = p.parent.absolute()
        return RunRef(p.parent.parent.name, p.name, p)
    if "/" in spec:
        proj, _, rid = spec.rpartition("/")
        proj = proj.rpartition("/")[2]
        ref = store.find_run_by_id(rid, proj)
        if ref is None:
            raise RunNotFound(f"run {spec!r} not found in {store.root}")
        return ref
    ref = store.find_run_by_id(spec, project)
    if ref is not None:
        return ref
    refs = list(store.iter_runs(project))
    by_prefix = [r for r in refs if r.id.startswith(spec)]
    if len(by_prefix) == 1:
        return by_prefix[0]
    by_name = [r for r in refs if load_run(r).info.get("name") == spec]
    if len(by_name) == 1:
        return by_name[0]
    matches = by_prefix or by_name
    if matches:
        ids = ", ".join(sorted(f"{r.project}/{r.id}" for r in matches)[:8])
        raise UsageError(f"{spec!r} is ambiguous: it matches {ids}; use more of the id or project/id")
    raise RunNotFound(f"no run matches {spec!r} in {store.root} (try `runstore ls`)")


def fmt_value(v: Any, width: int = 24) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        import orjson

        s = orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    else:
        s = str(v)
    return s if len(s) <= width else s[: width - 1] + "…"


def fmt_time(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def fmt_duration(seconds: float) -> str:
    s = int(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def debug_enabled() -> bool:
    return (os.environ.get("RUNSTORE_DEBUG") or "").lower() in ("1", "true", "yes")
