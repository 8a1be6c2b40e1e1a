"""Table files on disk: reading a `table-file` or a chain of `incremental-table-file` increments back.

Formats (files are relative to the run's `files/` directory, as every media `path` is):

* `table-file` (IMMUTABLE / MUTABLE): `media/table/<key>_<step>_<sha[:20]>.table.json` holds
  `{"columns": [...], "data": [[...], ...]}` — the whole table.
* `incremental-table-file` (INCREMENTAL): each log writes one file with only the rows added since the
  previous log of that table, plus a back-link:
  `{"columns": [...], "data": [<new rows>], "increment_num": i, "previous_increment_path": <path>|null}`.
  The whole table is the chain followed from the newest file back to increment 0. The back-link lives in
  the file (not as a growing list in every reference, as wandb's `previous_increments_paths` does) so
  each log costs O(new rows) in history and on disk, however many times the table is appended to.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

TABLE_TYPES = ("table-file", "incremental-table-file")


def is_table_ref(v: Any) -> bool:
    return isinstance(v, dict) and v.get("_type") in TABLE_TYPES and isinstance(v.get("path"), str)


def read_doc(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"table file {path} is missing") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"table file {path} is not valid JSON: {e}") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("columns"), list)
        or not isinstance(doc.get("data"), list)
    ):
        raise ValueError(f'{path} is not a table file: expected {{"columns": [...], "data": [...]}}')
    return doc


def _inside(root: Path, rel: str) -> Path:
    """A reference's path under `root`, refusing paths that would escape it (files come from disk)."""
    p = (root / rel).resolve()
    if p != root.resolve() and root.resolve() not in p.parents:
        raise ValueError(f"table path {rel!r} points outside {root}")
    return p


def assemble(
    root: Path, newest: str, first_doc: dict[str, Any] | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Columns and all rows of the increment chain ending at `newest` (a path relative to `root`)."""
    docs: list[dict[str, Any]] = []
    seen: set[str] = set()
    rel: str | None = newest
    doc = first_doc
    while rel is not None:
        if rel in seen:
            raise ValueError(f"incremental table chain at {newest!r} loops back to {rel!r}")
        seen.add(rel)
        if doc is None:
            doc = read_doc(_inside(root, rel))
        docs.append(doc)
        prev = doc.get("previous_increment_path")
        rel = prev if isinstance(prev, str) and prev else None
        doc = None
    docs.reverse()
    columns = list(docs[0]["columns"])
    rows: list[list[Any]] = []
    for i, d in enumerate(docs):
        if list(d["columns"]) != columns:
            raise ValueError(
                f"increment {i} of table {newest!r} has columns {d['columns']}, the first increment {columns}"
            )
        rows.extend(d["data"])
    return columns, rows


def load(obj: Any, root: str | os.PathLike[str] | None) -> tuple[list[str], list[list[Any]], str]:
    """(columns, rows, log_mode) from a reference dict, a `{"columns","data"}` dict, or a file path."""
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        doc = read_doc(path)
        prev = doc.get("previous_increment_path")
        if isinstance(prev, str) and prev:
            base = Path(root) if root is not None else _find_root(path, prev)
            cols, rows = assemble(base, os.path.relpath(path, base), doc)
            return cols, rows, "INCREMENTAL"
        return list(doc["columns"]), list(doc["data"]), str(doc.get("log_mode") or "IMMUTABLE")
    if not isinstance(obj, dict):
        raise TypeError(
            f"Table.from_json() takes a table reference dict, a table JSON dict or a file path, "
            f"got {type(obj).__name__}"
        )
    if is_table_ref(obj):
        if root is None:
            raise ValueError(
                "a table reference's path is relative to the run's files/ directory: pass "
                "root=<run dir>/files, or use Api().run(path).table(key)"
            )
        if obj["_type"] == "incremental-table-file":
            cols, rows = assemble(Path(root), obj["path"])
            return cols, rows, "INCREMENTAL"
        doc = read_doc(_inside(Path(root), obj["path"]))
        return list(doc["columns"]), list(doc["data"]), str(obj.get("log_mode") or "IMMUTABLE")
    if isinstance(obj.get("columns"), list) and isinstance(obj.get("data"), list):
        return list(obj["columns"]), list(obj["data"]), str(obj.get("log_mode") or "IMMUTABLE")
    raise ValueError(
        "not a table: expected a reference with _type 'table-file'/'incremental-table-file' "
        "or a dict with 'columns' and 'data'"
    )


def _find_root(path: Path, prev: str) -> Path:
    """The `files/` directory a standalone increment file lives in: the ancestor its back-link resolves in."""
    for parent in path.resolve().parents:
        if (parent / prev).is_file():
            return parent
    raise FileNotFoundError(
        f"{path} is an increment of a table; its previous increment {prev!r} was not "
        "found above it: pass root= the run's files directory (run.dir)"
    )
