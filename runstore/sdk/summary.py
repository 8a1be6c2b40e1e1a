"""`run.summary`: one value per key, the last logged unless set by hand (docs/COMPAT.md §6)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..base.convert import log_value
from ..store.summary import del_path, is_leaf_dict, set_path


class MissingKey(KeyError, AttributeError):
    """A missing summary key: a KeyError (wandb's behaviour) that `hasattr()` also understands."""


class SummarySubDict:
    """A nested level of the summary; assignments write through to the leaf path."""

    _root: SummaryView
    _path: tuple[str, ...]
    _data: dict[str, Any]

    def __init__(self, root: SummaryView, path: tuple[str, ...], data: dict[str, Any]) -> None:
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_data", data)

    def __getitem__(self, key: str) -> Any:
        v = self._data[key]
        if isinstance(v, dict) and not is_leaf_dict(v):
            return SummarySubDict(self._root, (*self._path, key), v)
        return v

    def __setitem__(self, key: str, value: Any) -> None:
        self._root._set((*self._path, key), value)

    def __delitem__(self, key: str) -> None:
        self._root._del((*self._path, key))

    __getattr__ = __getitem__

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> list[str]:
        return list(self._data)

    def items(self) -> list[tuple[str, Any]]:
        return list(self._data.items())

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __eq__(self, other: object) -> bool:
        return self._data == (other._data if isinstance(other, SummarySubDict) else other)

    def __repr__(self) -> str:
        return repr(self._data)


class SummaryView:
    """Dict-like access to a summary dict; edits are handed to `persist` as a summary event."""

    def __init__(self, values: dict[str, Any], persist: Callable[[dict[str, Any]], None] | None) -> None:
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_persist", persist)

    def _computed(self, key: str) -> Any:
        raise MissingKey(key)

    def __getitem__(self, key: str) -> Any:
        try:
            v = self._values[key]
        except KeyError:
            return self._computed(key)
        if isinstance(v, dict) and not is_leaf_dict(v):
            return SummarySubDict(self, (key,), v)
        return v

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        return self[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"summary keys must be str, got {type(key).__name__}")
        self._set((key,), value)

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self._values:
            raise MissingKey(key)
        self._del((key,))

    __delattr__ = __delitem__

    def _convert(self, key: str, value: Any) -> Any:
        """A value as stored; the live run's summary also writes media (Image, Table, Graph) to files."""
        return log_value(key, value)

    def _set(self, path: tuple[str, ...], value: Any) -> None:
        value = self._convert(".".join(path), value)
        set_path(self._values, path, value)
        if self._persist is not None:
            self._persist({"set": [[list(path), value]]})

    def _del(self, path: tuple[str, ...]) -> None:
        del_path(self._values, path)
        if self._persist is not None:
            self._persist({"del": [list(path)]})

    def update(self, d: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        items = {**(d or {}), **kwargs}
        for k, v in items.items():
            self[k] = v

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def keys(self) -> list[str]:
        return [k for k in self._values if k != "_wandb"]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in self.keys()]

    def values(self) -> list[Any]:
        return [self[k] for k in self.keys()]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def as_dict(self) -> dict[str, Any]:
        return {k: self._values[k] for k in self.keys()}

    _as_dict = as_dict

    def __eq__(self, other: object) -> bool:
        return self.as_dict() == (other.as_dict() if isinstance(other, SummaryView) else other)

    def __repr__(self) -> str:
        return repr(self.as_dict())
