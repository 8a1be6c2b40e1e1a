"""Reading YAML the user (or another user of a shared store) wrote: every YAML file runstore reads goes
through `load`, which bounds its size and its aliases (a "billion laughs" document is a few hundred
bytes that expand to gigabytes) and turns every failure into one ValueError naming the file."""

from __future__ import annotations

import os
from typing import Any

MAX_BYTES = 4 << 20  # settings and sweep configs are a few KB; config files rarely more than 100 KB
MAX_ALIASES = 256
# Aliases share nodes, so a small document can stand for an enormous one: what it would expand to (its
# nodes, each alias counted as a copy) is bounded too, and a recursive alias refused.
MAX_NODES = 2_000_000


def read_text(path: str | os.PathLike[str], what: str, max_bytes: int = MAX_BYTES) -> str:
    """The file's text: FileNotFoundError if it is missing, ValueError (naming `what` and the fix) if it
    is too large, not a regular file, or not UTF-8."""
    where = os.fspath(path)
    fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as f:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{where}: the {what} is not a regular file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{where}: the {what} is larger than {max_bytes >> 20} MiB; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{where}: the {what} is not UTF-8 text (byte {e.start}); save it as UTF-8"
        ) from None


def bounded_loader(loader: Any, where: str, what: str, max_aliases: int = MAX_ALIASES) -> Any:
    """`loader` (default yaml.SafeLoader) refusing, with a ValueError, more than `max_aliases` aliases."""
    import yaml

    class Bounded(loader or yaml.SafeLoader):  # type: ignore[misc]
        aliases = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > max_aliases:
                    raise ValueError(
                        f"{where}: the {what} uses more than {max_aliases} YAML aliases (*name); "
                        "write the values out"
                    )
            return super().compose_node(parent, index)

        def compose_document(self) -> Any:
            node = super().compose_document()
            _expanded(node, {}, set(), where, what)
            return node

    return Bounded


def _expanded(node: Any, memo: dict[int, int], path: set[int], where: str, what: str) -> int:
    """How many nodes `node` stands for once every alias is a copy; ValueError beyond MAX_NODES."""
    import yaml

    key = id(node)
    if key in memo:
        return memo[key]
    if key in path:
        raise ValueError(f"{where}: the {what} has a recursive YAML alias; write the values out")
    path.add(key)
    n = 1
    if isinstance(node, yaml.SequenceNode):
        n += sum(_expanded(c, memo, path, where, what) for c in node.value)
    elif isinstance(node, yaml.MappingNode):
        n += sum(
            _expanded(k, memo, path, where, what) + _expanded(v, memo, path, where, what)
            for k, v in node.value
        )
    path.discard(key)
    if n > MAX_NODES:
        raise ValueError(
            f"{where}: the {what} expands to more than {MAX_NODES:,} values through its YAML aliases; "
            "write the values out"
        )
    memo[key] = n
    return n


def load(text: str, where: str, what: str, loader: Any = None, max_aliases: int = MAX_ALIASES) -> Any:
    """yaml.safe_load(text) (or with `loader`, a SafeLoader subclass) with at most `max_aliases` alias
    references; ValueError naming `where`, the line and the fix otherwise."""
    import yaml

    try:
        return yaml.load(text, Loader=bounded_loader(loader, where, what, max_aliases))  # noqa: S506
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(f"{where}{at}: the {what} is not valid YAML ({problem}); fix it there") from None
    except RecursionError:
        raise ValueError(f"{where}: the {what} nests too deeply") from None
