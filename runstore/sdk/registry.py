"""The process-wide run state: the active runs, the global one, the module globals, the exit hooks.

One small module owns it so that `init`, `Run`, `DisabledRun` and `save` share it without importing
each other. The module globals of wandb's API (`runstore.run`, `.config`, `.summary`, `.log`, …) are
set on every namespace that called `publish()` (the `runstore` package itself, and any
compatibility module that wants the same globals): bound methods of the current run while one is
active, placeholders that explain the missing `init()` otherwise.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from ..base import term
from ..errors import Error

if TYPE_CHECKING:
    from .config import Config


class ActiveRun(Protocol):
    """What the registry (and `restore`, the sweep agent) need of a run: a `Run` or a `DisabledRun`."""

    _finished: bool
    config: Config
    summary: Any

    @property
    def id(self) -> str: ...

    @property
    def project(self) -> str: ...

    @property
    def dir(self) -> str: ...

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None: ...

    def log(
        self, data: Any, step: int | None = None, commit: bool | None = None, sync: bool | None = None
    ) -> None: ...


class _PreInit:
    """What `runstore.config` and `.summary` are before `init()` and after `finish()`."""

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


def _dispatch(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        # Reached when a caller kept a reference from before init() (`from runstore import log`).
        run = _state.current
        if run is None:
            raise Error(f"You must call runstore.init() before runstore.{name}()")
        return getattr(run, name)(*args, **kwargs)

    call.__name__ = name
    return call


# The run methods that are also module functions while a run is active.
BOUND = (
    "log",
    "define_metric",
    "mark_preempting",
    "alert",
    "save",
    "watch",
    "unwatch",
    "log_artifact",
    "use_artifact",
    "log_model",
    "use_model",
    "link_model",
)
PREINIT: dict[str, Any] = {
    "run": None,
    "config": _PreInit("config"),
    "summary": _PreInit("summary"),
    **{name: _dispatch(name) for name in BOUND},
}


class _State:
    def __init__(self) -> None:
        self.active: list[ActiveRun] = []
        self.current: ActiveRun | None = None
        self.namespaces: list[ModuleType] = []
        self.hooks_installed = False
        self.exit_code: int | None = None
        self.retries: list[Callable[[], None]] = []


_state = _State()


def publish(namespace: ModuleType) -> None:
    """Keep `namespace`'s module globals (`run`, `config`, `log`, …) in step with the current run."""
    if namespace not in _state.namespaces:
        _state.namespaces.append(namespace)
    _publish(namespace, _state.current)


def _publish(ns: ModuleType, run: ActiveRun | None) -> None:
    if run is None:
        for name, value in PREINIT.items():
            setattr(ns, name, value)
        return
    ns.__dict__.update(run=run, config=run.config, summary=run.summary)
    for name in BOUND:
        setattr(ns, name, getattr(run, name))


def current() -> ActiveRun | None:
    """The global run (`runstore.run`), or None."""
    return _state.current


def active() -> list[ActiveRun]:
    """Every run this process has started and not finished, oldest first (a copy)."""
    return list(_state.active)


def current_is_live() -> bool:
    return _state.current is not None and not _state.current._finished


def set_current(run: ActiveRun) -> None:
    _state.current = run
    for ns in _state.namespaces:
        _publish(ns, run)


def clear_current() -> None:
    _state.current = None
    for ns in _state.namespaces:
        _publish(ns, None)


def started(run: ActiveRun, make_current: bool) -> None:
    """A run started in this process: finished at exit if the program forgets to."""
    _state.active.append(run)
    _install_hooks()
    if make_current:
        set_current(run)


def finished(run: ActiveRun) -> None:
    """`run.finish()` is done: it is no longer active, nor global."""
    if run in _state.active:
        _state.active.remove(run)
    if not _state.active:  # the next init() decides again; until then only the environment counts
        t = term.current()
        t.forced_silent = t.forced_quiet = False
    if run is _state.current:
        clear_current()


def retry_at_exit(fn: Callable[[], None]) -> None:
    """Run `fn` once more when the process exits (a record a full disk refused, say)."""
    _install_hooks()
    _state.retries.append(fn)


def forget_all() -> None:
    """Drop every run without finishing it (tests, after they finished what they could)."""
    _state.active.clear()
    _state.retries.clear()
    if _state.current is not None:
        clear_current()


# -- exit hooks -------------------------------------------------------------------------------
def _install_hooks() -> None:
    if _state.hooks_installed:
        return
    _state.hooks_installed = True
    real_exit = sys.exit

    def exit(code: Any = None) -> None:  # noqa: A001 - stands in for sys.exit
        _state.exit_code = 0 if code is None else code if isinstance(code, int) else 1
        real_exit(code)

    exit.__doc__ = real_exit.__doc__
    sys.exit = exit  # type: ignore[assignment]
    real_hook = sys.excepthook

    def excepthook(tp: type[BaseException], value: BaseException, tb: Any) -> None:
        _state.exit_code = 255 if issubclass(tp, KeyboardInterrupt) else 1
        real_hook(tp, value, tb)

    sys.excepthook = excepthook
    atexit.register(_at_exit)


def _at_exit() -> None:
    code = _state.exit_code if _state.exit_code is not None else 0
    for run in list(_state.active):
        try:
            run.finish(exit_code=code)  # prints its "finished" line, as wandb does at exit
        except Exception as e:  # nothing may stop the interpreter from exiting
            term.warn(f"could not finish run {getattr(run, 'id', '?')} at exit: {e}")
    retries, _state.retries = _state.retries, []
    for fn in retries:
        try:
            fn()
        except Exception as e:
            term.warn(f"still could not write it at exit ({e}); the run reads as crashed")


__all__ = [
    "ActiveRun",
    "BOUND",
    "PREINIT",
    "publish",
    "current",
    "active",
    "current_is_live",
    "set_current",
    "clear_current",
    "started",
    "finished",
    "forget_all",
    "retry_at_exit",
]
