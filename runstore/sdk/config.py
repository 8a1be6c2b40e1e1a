"""`run.config`: a dict of hyperparameters with wandb's access and change rules (docs/COMPAT.md §3)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..base import term, yamlsafe
from ..base.convert import Unconvertible, as_text, value
from ..errors import ConfigError
from ..media.base import Media


def _strip(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"config keys must be str, got {type(key).__name__} ({key!r})")
    return key.strip("-")


def config_value(key: str, v: Any) -> Any:
    """A config value as stored: JSON-friendly; what has no faithful form is kept as its str()."""
    if isinstance(v, Media):
        raise TypeError(f"config[{key!r}]: media objects cannot be config values; log them with run.log()")
    try:
        return value(v, for_config=True)
    except (Unconvertible, RecursionError):  # RecursionError: a dict or list that contains itself
        term.warn(
            f"config value for {key!r} of type {type(v).__name__} is not serializable; stored as str()",
            once_key=f"config-unserializable:{key}",
        )
        return as_text(v)


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A config YAML file: wandb's `key: {value: v}` blocks (`wandb_version: 1`) or a plain mapping."""
    where = os.fspath(path)
    try:
        data = yamlsafe.load(yamlsafe.read_text(where, "config file"), where, "config file")
    except FileNotFoundError:
        raise ValueError(f"config file {where!r} does not exist") from None
    except OSError as e:
        raise ValueError(f"config file {where!r} cannot be read: {e.strerror}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"config file {os.fspath(path)!r} must hold a mapping of keys to values")
    data.pop("wandb_version", None)
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, dict) and "value" in v:
            out[str(k)] = v["value"]
        elif isinstance(v, dict) and set(v) <= {"desc"}:
            continue
        else:
            out[str(k)] = v
    return out


def as_mapping(
    obj: Any, include: list[str] | None = None, exclude: list[str] | None = None
) -> dict[str, Any]:
    """What `config=` / `config.update()` accept: dict, Namespace, absl FLAGS, objects, YAML path."""
    if obj is None:
        return {}
    if isinstance(obj, (str, os.PathLike)):
        d = load_yaml(obj)
    elif isinstance(obj, Mapping):
        d = dict(obj)
    elif hasattr(obj, "flag_values_dict"):  # absl / tf.app.flags
        d = obj.flag_values_dict()
    elif hasattr(obj, "__flags"):
        d = dict(obj.__flags)
    elif hasattr(obj, "__dict__"):
        d = {k: v for k, v in vars(obj).items() if not k.startswith("__")}
    else:
        raise TypeError(f"config must be a dict or have a __dict__ attribute, got {type(obj).__name__}")
    if include is not None and exclude is not None:
        raise ValueError("pass either config_include_keys or config_exclude_keys, not both")
    if include is not None:
        d = {k: v for k, v in d.items() if k in include}
    if exclude is not None:
        d = {k: v for k, v in d.items() if k not in exclude}
    return d


def deep_merge(dst: dict[str, Any], src: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(dst)
    for k, v in src.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(dict(out[k]), v)
        else:
            out[k] = v
    return out


class Config:
    """Attribute and item access over one dict; changes are persisted through `persist`."""

    def __init__(
        self, persist: Callable[[dict[str, Any]], None] | None = None, allow_val_change: bool = False
    ) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_locked", {})
        object.__setattr__(self, "_persist", persist)
        object.__setattr__(self, "_allow_val_change", allow_val_change)

    # -- reading ------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._items == other._items
        return isinstance(other, Mapping) and self._items == dict(other)

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def keys(self) -> list[str]:
        return [k for k in self._items if not k.startswith("_")]

    def items(self) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in self._items.items() if not k.startswith("_")]

    def values(self) -> list[Any]:
        return [v for k, v in self._items.items() if not k.startswith("_")]

    def as_dict(self) -> dict[str, Any]:
        return dict(self._items)

    # -- writing ------------------------------------------------------------------------------
    def __setitem__(self, key: str, val: Any) -> None:
        self.update({key: val})

    def __setattr__(self, key: str, val: Any) -> None:
        self.update({key: val})

    def __delitem__(self, key: str) -> None:
        raise TypeError("config keys cannot be deleted; set a new value with allow_val_change=True")

    def update(self, d: Any, allow_val_change: bool | None = None) -> None:
        allow = self._allow_val_change if allow_val_change is None else allow_val_change
        changed: dict[str, Any] = {}
        for raw_key, raw_val in as_mapping(d).items():
            key = _strip(raw_key)
            if key in self._locked:
                term.warn(
                    f"Config item '{key}' was locked by '{self._locked[key]}' (ignored update).",
                    once_key=f"locked:{key}",
                )
                continue
            val = config_value(key, raw_val)
            if key in self._items:
                old = self._items[key]
                if old == val:
                    continue
                if not allow:
                    raise ConfigError(
                        f'Attempted to change value of key "{key}" from {old!r} to {val!r}. '
                        "If you really want to do this, pass allow_val_change=True to config.update()"
                    )
            self._items[key] = changed[key] = val
        if changed and self._persist is not None:
            self._persist(changed)

    def setdefaults(self, d: Any) -> None:
        missing = {k: v for k, v in as_mapping(d).items() if _strip(k) not in self._items}
        if missing:
            self.update(missing)

    def update_locked(self, d: Mapping[str, Any], user: str = "sweep") -> None:
        """Deep-merge `d` over the config and lock its keys against later changes (sweeps)."""
        merged = deep_merge({k: self._items.get(k) for k in d if isinstance(self._items.get(k), Mapping)}, d)
        for k in merged:
            self._locked.pop(_strip(k), None)
        self.update(merged, allow_val_change=True)
        for k in merged:
            self._locked[_strip(k)] = user

    def persist(self) -> None:
        if self._persist is not None and self._items:
            self._persist(dict(self._items))
