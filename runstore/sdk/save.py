"""`run.save()` / `wandb.save()` and `wandb.restore()` (docs/COMPAT.md §9.4, §9.5).

Saved files are *copied* into the run's files directory (wandb symlinks them, so a run dir stops being
self-contained when the source moves: §15 #27). The returned paths are the ones wandb returns.
Policies: "now" copies once, "end" copies at finish, "live" copies now, again whenever the file
changes while the run is alive (the store daemon watches it), and once more at finish.
"""

from __future__ import annotations

import fnmatch
import glob as globlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..base import term
from ..errors import Error
from ..store.jsonl import copy_atomic, file_sig
from ..store.layout import make_dirs
from ..store.store import Store
from . import registry

if TYPE_CHECKING:
    from .run import Run

POLICIES = ("live", "now", "end")


def destination(src: str, glob_str: str, base_path: str | None, cwd: str) -> str:
    """Where `src` lands under files/, with wandb's rules (relative path relative to cwd, or to
    base_path; an absolute path keeps its parent directory's name)."""
    if base_path is not None:
        rel = os.path.relpath(src, os.path.abspath(base_path))
        if rel.startswith(".."):
            raise ValueError(f"save(): {src} is not under base_path {base_path!r}")
        return rel
    if not os.path.isabs(glob_str):
        rel = os.path.relpath(src, cwd)
        if not rel.startswith(".."):
            return rel
    return os.path.join(os.path.basename(os.path.dirname(src)), os.path.basename(src))


def save(
    run: Run, glob_str: Any, base_path: Any = None, policy: str = "live", glob: bool = True
) -> list[str]:
    if isinstance(glob_str, os.PathLike):
        glob_str = os.fspath(glob_str)
    if not isinstance(glob_str, str) or not glob_str:
        raise TypeError("save() takes a path or glob string, e.g. run.save('checkpoints/*.pt')")
    if policy not in POLICIES:
        raise ValueError(f"save(policy={policy!r}): use 'live', 'now' or 'end'")
    if base_path is not None and not isinstance(base_path, (str, os.PathLike)):
        raise TypeError("save(base_path=...) must be a path")
    base = os.fspath(base_path) if base_path is not None else None
    files_dir = os.path.abspath(run.dir)
    cwd = os.getcwd()
    pattern = glob_str if os.path.isabs(glob_str) else os.path.join(cwd, glob_str)
    matches = sorted(glob_files(pattern)) if glob else [pattern]
    matches = [m for m in matches if os.path.isfile(m)]
    store_root = os.path.abspath(run._store.root)
    # never the store itself (a `save("**")` from the directory holding .wandb/): its files are the runs
    matches = [m for m in matches if not os.path.abspath(m).startswith(store_root + os.sep)]
    if not matches and os.path.isfile(os.path.join(files_dir, glob_str)):
        return [os.path.join(files_dir, glob_str)]  # a file the script already wrote into run.dir
    if not matches:
        term.warn(
            f"save({glob_str!r}) matched no files; call save() again once they exist",
            once_key=f"save-none:{glob_str}",
        )
        return []
    out: list[str] = []
    for src in matches:
        src = os.path.abspath(src)
        if src.startswith(files_dir + os.sep):
            out.append(src)  # already in the run's files
            continue
        rel = destination(src, glob_str, base, cwd)
        dest = Path(files_dir) / rel
        sig = file_sig(src)
        if policy in ("live", "now"):
            try:
                copy_atomic(src, dest)
            except OSError as e:
                term.warn(
                    f"could not save {src} into the run ({e.strerror or e}); training continues",
                    once_key=f"save-failed:{src}",
                )
                continue
        run._saves[src] = (rel, policy, sig)
        run._event({"t": "save", "src": src, "path": rel.replace(os.sep, "/"), "policy": policy, "sig": sig})
        out.append(str(dest))
    return out


def glob_files(pattern: str) -> list[str]:
    """glob.glob(pattern, recursive=True), except that `**` does not descend into symlinked
    directories: a link to an ancestor (or to /) would make the walk endless and copy one file many
    times. A symlinked directory named explicitly in the pattern is followed, as in a shell."""
    if "**" not in pattern:
        return globlib.glob(pattern)
    head, _, _ = pattern.partition("**")
    root = head.rstrip(os.sep) or os.sep
    if globlib.has_magic(root):
        return [m for m in globlib.glob(pattern, recursive=True) if not _through_link(m, root)]
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]  # glob skips hidden names too
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            if _glob_match(path, pattern):
                out.append(path)
    return out


def _glob_match(path: str, pattern: str) -> bool:
    """Whether `path` matches `pattern` segment by segment, `**` standing for any number of segments
    (fnmatch alone lets `*` cross `/`)."""
    parts, pats = path.split(os.sep), pattern.split(os.sep)

    def match(i: int, j: int) -> bool:
        if j == len(pats):
            return i == len(parts)
        if pats[j] == "**":
            return any(match(k, j + 1) for k in range(i, len(parts) + 1))
        return i < len(parts) and fnmatch.fnmatchcase(parts[i], pats[j]) and match(i + 1, j + 1)

    return match(0, 0)


def _through_link(path: str, root: str) -> bool:
    d = os.path.dirname(path)
    while len(d) > len(root):
        if os.path.islink(d):
            return True
        d = os.path.dirname(d)
    return False


def final_copies(run: Run) -> None:
    """At finish: the last state of every 'live' and 'end' file."""
    for src, (rel, policy, sig) in list(run._saves.items()):
        if policy == "now":
            continue
        current = file_sig(src)
        dest = Path(run.dir) / rel
        if current is None:
            continue  # deleted since: keep the last copy we have
        if policy == "end" or current != sig or not dest.exists():
            try:
                copy_atomic(src, dest)
            except OSError as e:
                term.warn(f"could not save {src} at finish ({e.strerror or e})", once_key=f"save-end:{src}")


def restore(name: str, run_path: str | None = None, replace: bool = False, root: str | None = None) -> Any:
    """`wandb.restore`: a file of a run (this one, or `run_path` = "project/id") opened for reading,
    copied to `root` (default: the current run's files dir, else cwd); None if the run has no such file."""
    current = registry.current()
    if run_path is None:
        if current is None:
            raise Error("restore() needs run_path='project/run_id' when no run is active")
        local = Path(current.dir) / name
        if local.is_file():
            return open(local)
        run_path = f"{current.project}/{current.id}"
    target = root if root is not None else (current.dir if current is not None else ".")
    store = getattr(current, "_store", None) or Store.discover()
    try:
        src = store.resolve(run_path).saved_file(name)
    except Error:
        return None
    if src is None:
        return None
    dest = Path(target) / name
    if dest.exists() and not replace:
        return open(dest)
    copy_atomic(src, dest)
    return open(dest)


# Directories log_code() never descends into: no source of the user's lives there, and some are huge.
_CODE_SKIP = {".git", ".hg", ".svn", ".venv", "venv", "env", "__pycache__", "node_modules", ".wandb", "wandb"}


def code_files(
    run: Run,
    root: str,
    include_fn: Callable[..., bool] | None,
    exclude_fn: Callable[..., bool] | None,
) -> list[str]:
    """Copy the source files under `root` into `<run files>/code/`; returns their paths relative to
    `root`. The predicates take `(path, root)` as wandb's do (one-argument ones are accepted too)."""
    root = os.path.abspath(root)
    files_dir = os.path.abspath(run.dir)

    def call(fn: Callable[..., bool], path: str) -> bool:
        try:
            return bool(fn(path, root))
        except TypeError:
            return bool(fn(path))

    copied: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d for d in dirnames if d not in _CODE_SKIP and not os.path.islink(os.path.join(dirpath, d))
        )
        if os.path.abspath(dirpath).startswith(files_dir):
            continue
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            keep = call(include_fn, path) if include_fn is not None else fn.endswith(".py")
            if not keep or (exclude_fn is not None and call(exclude_fn, path)):
                continue
            rel = os.path.relpath(path, root)
            dest = run._ref.code_file(rel)
            make_dirs(dest.parent)
            copy_atomic(path, dest)
            copied.append(rel.replace(os.sep, "/"))
    return copied
