"""What `runstore.config`, `.summary`, `.log`, … are before `init()` and after `finish()`."""

from __future__ import annotations

from typing import Any

from ..errors import Error


class _PreInit:
    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _fail(self, what: str) -> Error:
        return Error(f"You must call runstore.init() before runstore.{self._name}{what}")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        raise self._fail(f".{key}")

    def __setattr__(self, key: str, value: Any) -> None:
        raise self._fail(f".{key}")

    def __getitem__(self, key: str) -> Any:
        raise self._fail(f"[{key!r}]")

    def __setitem__(self, key: str, value: Any) -> None:
        raise self._fail(f"[{key!r}]")

    def __repr__(self) -> str:
        return f"<runstore.{self._name}: call runstore.init() first>"


config = _PreInit("config")
summary = _PreInit("summary")


def _dispatch(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        # Reached when a caller kept a reference from before init() (`from runstore import log`).
        from .init import current_run

        run = current_run()
        if run is None:
            raise Error(f"You must call runstore.init() before runstore.{name}()")
        return getattr(run, name)(*args, **kwargs)

    call.__name__ = name
    return call


log = _dispatch("log")
define_metric = _dispatch("define_metric")
mark_preempting = _dispatch("mark_preempting")
alert = _dispatch("alert")
save = _dispatch("save")
