"""`Table`: rows and columns, logged as a `table-file` reference (docs/COMPAT.md §7.2, §15 #23).

Rows are kept as the user's values (so `get_column`/`get_dataframe` give back what was added); they are
converted to JSON only when the table is logged. The on-disk formats are described in `table_files`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..base import term
from ..base.convert import is_torch_tensor, to_host
from ..errors import Error
from . import table_cells, table_files
from .base import BindContext, Media

IMMUTABLE, MUTABLE, INCREMENTAL = "IMMUTABLE", "MUTABLE", "INCREMENTAL"
LOG_MODES = (IMMUTABLE, MUTABLE, INCREMENTAL)
DEFAULT_COLUMNS = ("Input", "Output", "Expected")


class _Increments:
    """Where an INCREMENTAL table stands in one run under one key."""

    def __init__(
        self, logged: int = 0, num: int = -1, total: int = 0, ref: dict[str, Any] | None = None
    ) -> None:
        self.logged = logged  # rows of this object already written
        self.num = num  # increment_num of the last file written (-1: none yet)
        self.total = total  # rows across the whole chain (more than `logged` when continuing a resumed run)
        self.ref = ref


class Table(Media):
    """A 2-D table of values (cells may be other media). `log_mode` decides what re-logging does:
    IMMUTABLE (default) logs the table once, MUTABLE writes the current table on every log, INCREMENTAL
    writes only the rows added since the previous log (append-only tables)."""

    _log_type = "table-file"
    MAX_ROWS = 10_000
    MAX_ARTIFACT_ROWS = 200_000

    def __init__(
        self,
        columns: Sequence[Any] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: Any = None,
        dtype: Any = None,
        optional: bool | Sequence[bool] = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = IMMUTABLE,
    ) -> None:
        mode = (log_mode or IMMUTABLE).upper() if isinstance(log_mode, str) or log_mode is None else log_mode
        if mode not in LOG_MODES:
            raise ValueError(f"Table(log_mode={log_mode!r}) must be one of {', '.join(LOG_MODES)}")
        self.log_mode: str = mode
        self._allow_mixed = bool(allow_mixed_types)
        self._logged: dict[str, dict[str, Any]] = {}  # files dir -> reference of the logged IMMUTABLE table
        self._increments: dict[tuple[str, str], _Increments] = {}
        self._warned_limit = False
        if rows is not None:
            if data is not None:
                raise ValueError("Table() takes data= or rows= (an alias), not both")
            data = rows
        if data is not None and is_torch_tensor(data):
            data = to_host(data)  # a 2-D tensor: as the numpy array it holds (detached, on the CPU)
        if dataframe is None and _is_dataframe(data):
            dataframe, data = data, None
        if dataframe is not None:
            if not _is_dataframe(dataframe):
                raise TypeError(
                    f"Table(dataframe=...) takes a pandas DataFrame, got {type(dataframe).__name__}"
                )
            columns = [str(c) for c in dataframe.columns]  # as wandb: a DataFrame brings its own columns
            data = dataframe.astype(object).values.tolist()
        elif data is not None and hasattr(data, "ndim") and hasattr(data, "tolist"):
            if data.ndim < 2:
                raise ValueError(
                    f"Table(data=<numpy array>) must be 2-D (rows x columns), got shape {data.shape}"
                )
            data = data.tolist() if data.dtype.kind != "O" else [list(r) for r in data]
        cols = list(DEFAULT_COLUMNS if columns is None else columns)
        for c in cols:
            if not isinstance(c, str):
                raise TypeError(f"Table column names must be str, got {c!r} ({type(c).__name__})")
        if len(set(cols)) != len(cols):
            raise ValueError(f"Table column names must be unique, got {cols}")
        self.columns: list[str] = cols
        self.data: list[list[Any]] = []
        n = len(cols)
        self._optional: list[bool] = _per_column(optional, n, "optional", bool)
        if dtype is None or self._allow_mixed:
            self._types: list[str | None] = [table_cells.ANY if self._allow_mixed else None] * n
        else:
            self._types = [table_cells.kind_of_dtype(t) for t in _per_column(dtype, n, "dtype", None)]
        if data is not None:
            if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
                raise TypeError(
                    f"Table(data=...) takes a list of rows, a 2-D numpy array or a DataFrame, "
                    f"got {type(data).__name__}"
                )
            for i, row in enumerate(data):
                if isinstance(row, (str, bytes, dict)) or not hasattr(row, "__iter__"):
                    raise TypeError(f"Table row {i} must be a list of {n} values, got {type(row).__name__}")
                self._append(list(row), i)

    # -- adding --------------------------------------------------------------------------------
    def _append(self, row: list[Any], index: int) -> None:
        if len(row) != len(self.columns):
            raise ValueError(
                f"Table row {index} has {len(row)} values but the table has {len(self.columns)} "
                f"columns {self.columns}; expected {len(self.columns)}, got {len(row)}"
            )
        self._types = self._checked(row, index)
        self.data.append(row)
        if len(self.data) > self.MAX_ROWS and not self._warned_limit and self.log_mode != INCREMENTAL:
            self._warned_limit = True
            term.warn(
                f"this Table now has more than {self.MAX_ROWS:,} rows: logging it to a run will fail; "
                "log a sample, or use log_mode='INCREMENTAL' and log it as rows arrive"
            )

    def _checked(self, row: list[Any], index: int) -> list[str | None]:
        """The column types after adding `row`; raises (changing nothing) when a cell does not fit."""
        types = list(self._types)
        for c, v in enumerate(row):
            kind = table_cells.kind_of(v)
            if kind is None:
                if not self._optional[c]:
                    raise TypeError(f"Table column {self.columns[c]!r} is not optional: row {index} has None")
                continue
            have = types[c]
            if have is None:
                types[c] = kind
            elif have != table_cells.ANY and have != kind:
                raise TypeError(
                    f"Table column {self.columns[c]!r} holds {have} values; row {index} has "
                    f"{v!r} ({kind}). Pass allow_mixed_types=True to allow mixed columns"
                )
        return types

    def _mutating(self, op: str) -> None:
        if self.log_mode == INCREMENTAL and op in ("add_column", "add_computed_columns"):
            raise Error(
                f"Operation {op!r} is not supported for tables with log_mode='INCREMENTAL'. "
                "Use a different log mode like 'MUTABLE' or 'IMMUTABLE'."
            )
        if self.log_mode == IMMUTABLE and self._logged:
            term.warn(
                "You are mutating a Table with log_mode='IMMUTABLE' that has been logged already. "
                "Subsequent log() calls will have no effect. Set log_mode='MUTABLE' to enable "
                "re-logging after mutations",
                once_key=f"immutable-table:{id(self)}",
            )

    def add_data(self, *data: Any) -> None:
        """Append one row: one value per column."""
        if len(data) != len(self.columns):
            raise ValueError(
                f"add_data() got {len(data)} values but the table has {len(self.columns)} "
                f"columns {self.columns}; expected {len(self.columns)}, got {len(data)}"
            )
        self._mutating("add_data")
        self._append(list(data), len(self.data))

    add_row = add_data  # wandb's older name

    def add_column(self, name: str, data: Any, optional: bool = False) -> None:
        """Append a column; `data` has one value per existing row."""
        self._mutating("add_column")
        if not isinstance(name, str):
            raise TypeError(f"Table column names must be str, got {name!r}")
        if name in self.columns:
            raise ValueError(f"Table already has a column {name!r}")
        if is_torch_tensor(data):
            data = to_host(data)
        values = list(
            data.tolist() if hasattr(data, "tolist") and hasattr(data, "ndim") and data.ndim == 1 else data
        )
        if self.columns and len(values) != len(self.data):
            raise ValueError(
                f"add_column({name!r}) got {len(values)} values but the table has {len(self.data)} rows"
            )
        kind: str | None = table_cells.ANY if self._allow_mixed else None
        for i, v in enumerate(values):
            k = table_cells.kind_of(v)
            if k is None:
                if not optional:
                    raise TypeError(
                        f"column {name!r} is not optional: row {i} has None "
                        "(pass optional=True to allow missing values)"
                    )
            elif kind is None:
                kind = k
            elif kind != table_cells.ANY and kind != k:
                raise TypeError(f"column {name!r} mixes {kind} and {k} values (row {i}: {v!r})")
        if not self.columns:
            self.data = [[] for _ in values]
        for row, v in zip(self.data, values, strict=True):
            row.append(v)
        self.columns.append(name)
        self._types.append(kind)
        self._optional.append(bool(optional))

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], dict[str, Any]]) -> None:
        """`fn(index, row_as_dict) -> {new_column: value}` for every row; adds those columns."""
        self._mutating("add_computed_columns")
        new: dict[str, list[Any]] = {}
        for i, row in self.iterrows():
            out = fn(i, dict(zip(self.columns, row, strict=True)))
            if not isinstance(out, dict):
                raise TypeError(
                    f"add_computed_columns: fn must return a dict, got {type(out).__name__} at row {i}"
                )
            if i == 0:
                new = {k: [] for k in out}
            if set(out) != set(new):
                raise ValueError(
                    f"add_computed_columns: row {i} returned keys {sorted(out)}, row 0 {sorted(new)}"
                )
            for k, v in out.items():
                new[k].append(v)
        for k, vals in new.items():
            self.add_column(k, vals, optional=True)

    def cast(self, col_name: str, dtype: Any, optional: bool = False) -> None:
        """Fix a column's type; existing values must fit (nothing changes if one does not)."""
        c = self._index_of(col_name)
        kind = table_cells.kind_of_dtype(dtype)
        for i, row in enumerate(self.data):
            k = table_cells.kind_of(row[c])
            if k is None and not optional:
                raise TypeError(f"cannot cast {col_name!r} to non-optional {kind}: row {i} is None")
            if k is not None and kind != table_cells.ANY and k != kind:
                raise TypeError(f"cannot cast {col_name!r} to {kind}: row {i} has {row[c]!r} ({k})")
        self._types[c] = kind
        self._optional[c] = bool(optional)

    # -- reading -------------------------------------------------------------------------------
    def _index_of(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise ValueError(f"Table has no column {name!r}; columns are {self.columns}") from None

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        c = self._index_of(name)
        values = [row[c] for row in self.data]
        if convert_to is None:
            return values
        if convert_to == "numpy":
            import numpy as np

            return np.array([to_host(v) if is_torch_tensor(v) else v for v in values])
        raise ValueError(f"get_column(convert_to=...) must be None or 'numpy', got {convert_to!r}")

    def get_index(self) -> list[int]:
        return list(range(len(self.data)))

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        yield from enumerate(self.data)

    def get_dataframe(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    @property
    def ncols(self) -> int:
        return len(self.columns)

    @property
    def nrows(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"<Table {len(self.data)}x{len(self.columns)} {self.columns} log_mode={self.log_mode}>"

    @classmethod
    def from_json(cls, json_obj: Any, root: str | os.PathLike[str] | None = None) -> Table:
        """A Table from a logged reference (with `root` = the run's files/ dir), a `{"columns", "data"}`
        dict, or a table file path. Incremental tables are reassembled from all their increments."""
        columns, rows, mode = table_files.load(json_obj, root)
        try:
            return cls(columns=columns, data=rows, log_mode=mode if mode in LOG_MODES else IMMUTABLE)
        except TypeError:  # logged with allow_mixed_types=True: keep the rows as they are
            return cls(
                columns=columns,
                data=rows,
                allow_mixed_types=True,
                log_mode=mode if mode in LOG_MODES else IMMUTABLE,
            )

    # -- logging -------------------------------------------------------------------------------
    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        if self.log_mode == INCREMENTAL:
            return self._bind_increment(ctx, key, step)
        where = str(ctx.files_dir)
        if self.log_mode == IMMUTABLE and where in self._logged:
            return dict(self._logged[where])  # wandb: re-logging an IMMUTABLE table points at the first file
        self._check_loggable(key, len(self.data))
        path, sha, size = self._write(ctx, key, step, self.data, {})
        ref = {
            "_type": "table-file",
            "path": path,
            "sha256": sha,
            "size": size,
            "ncols": len(self.columns),
            "nrows": len(self.data),
            "log_mode": self.log_mode,
        }
        if self.log_mode == IMMUTABLE:
            self._logged[where] = ref
        return dict(ref)

    def _bind_increment(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        slot = (str(ctx.files_dir), key)
        st = self._increments.get(slot)
        if st is None:
            st = self._increments[slot] = _continued(ctx, key, self.columns) or _Increments()
        new = self.data[st.logged :]
        if not new and st.ref is not None:
            return dict(st.ref)  # nothing added since the last log: point at the same increment again
        self._check_loggable(key, len(new), "new rows in this increment" if st.num >= 0 else "rows")
        prev = st.ref["path"] if st.ref is not None else None
        num = st.num + 1
        path, sha, size = self._write(
            ctx, key, step, new, {"increment_num": num, "previous_increment_path": prev}
        )
        ref: dict[str, Any] = {
            "_type": "incremental-table-file",
            "path": path,
            "sha256": sha,
            "size": size,
            "ncols": len(self.columns),
            "nrows": st.total + len(new),
            "log_mode": INCREMENTAL,
            "increment_num": num,
            "increment_nrows": len(new),
        }
        if prev is not None:
            ref["previous_increment_path"] = prev
        st.logged, st.num, st.total, st.ref = len(self.data), num, st.total + len(new), ref
        return dict(ref)

    def _check_loggable(self, key: str, n: int, what: str = "rows") -> None:
        if not self.columns:
            raise ValueError(f"Table {key!r} has no columns; nothing to log")
        if n == 0:
            raise ValueError(f"Table {key!r} is empty (0 rows); add rows with add_data() before logging it")
        if n > self.MAX_ROWS:
            raise ValueError(
                f"Table {key!r} has {n:,} {what}; a table logged to a run holds at most "
                f"{self.MAX_ROWS:,} rows. Log a sample, or use log_mode='INCREMENTAL' and log "
                "the table as rows arrive (each log then writes only the new rows)"
            )

    def _write(
        self, ctx: BindContext, key: str, step: int, rows: list[list[Any]], extra: dict[str, Any]
    ) -> tuple[str, str, int]:
        cells = [[table_cells.to_json(ctx, key, step, v) for v in row] for row in rows]
        doc = {"columns": list(self.columns), "data": cells, **extra}
        return ctx.write_file("table", key, step, table_cells.dumps(doc), "table.json")


def _continued(ctx: BindContext, key: str, columns: list[str]) -> _Increments | None:
    """On a resumed run, a new INCREMENTAL table logged under a key whose summary holds an incremental
    table with the same columns continues that chain (as wandb does), instead of starting over."""
    run = ctx.run
    if run is None or not getattr(run, "resumed", False):
        return None
    ref = (getattr(run, "_svalues", None) or {}).get(key)
    if not (
        isinstance(ref, dict)
        and table_files.is_table_ref(ref)
        and ref.get("_type") == "incremental-table-file"
    ):
        return None
    try:
        doc = table_files.read_doc(ctx.files_dir / ref["path"])
    except (OSError, ValueError):
        return None
    if list(doc["columns"]) != columns:
        return None
    return _Increments(0, int(ref.get("increment_num", 0)), int(ref.get("nrows", 0)), dict(ref))


def _is_dataframe(v: Any) -> bool:
    return type(v).__name__ == "DataFrame" and (type(v).__module__ or "").startswith("pandas")


def _per_column(value: Any, n: int, name: str, kind: type | None) -> list[Any]:
    """`optional=`/`dtype=`: one value for every column, or a list with one per column."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"Table({name}=[...]) has {len(value)} entries for {n} columns")
        return [kind(v) if kind else v for v in value]
    return [kind(value) if kind else value] * n


__all__ = ["Table", "IMMUTABLE", "MUTABLE", "INCREMENTAL"]
