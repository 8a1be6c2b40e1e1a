"""Helpers shared by the media types. Heavy libraries (numpy, PIL, matplotlib) are imported inside
functions only: `import runstore` must not pay for them."""

from __future__ import annotations

import bisect
import datetime as _dt
import decimal
import enum
import json
import os
import re
import uuid
import weakref
from pathlib import Path
from typing import Any

from ..base import term
from ..base.convert import to_host
from .base import BindContext, Media


def numpy() -> Any:
    try:
        import numpy as np
    except ImportError:
        raise ImportError("this data type needs numpy: pip install 'runstore[media]'") from None
    return np


def pil() -> Any:
    try:
        import PIL.Image
    except ImportError:
        raise ImportError(
            "images need Pillow: pip install 'runstore[media]' (or pip install pillow)"
        ) from None
    return PIL.Image


def to_numpy(v: Any) -> Any:
    """numpy, torch, TF, JAX or nested sequences as a numpy array (torch: detached and moved to CPU)."""
    np = numpy()
    if isinstance(v, np.ndarray):
        return v
    try:
        return np.asarray(to_host(v))
    except RuntimeError as e:  # torch: a tensor without readable data (device "meta", ...)
        raise ValueError(f"cannot read the values of this {type(v).__name__}: {e}") from None


def source_file(path: str | os.PathLike[str], what: str) -> str:
    """A path given to a media constructor: it must name a readable regular file, checked now so the
    mistake surfaces at the call site and not later while logging."""
    p = os.fspath(path)
    if not os.path.exists(p):
        raise ValueError(f"{what}: file not found: {p!r} (pass an existing file path, or the data itself)")
    if not os.path.isfile(p):
        raise ValueError(f"{what}: {p!r} is not a regular file")
    if not os.access(p, os.R_OK):
        raise ValueError(f"{what}: {p!r} is not readable (check its permissions)")
    return p


def from_stream(obj: Any, kwargs: dict[str, Any], supported: Any, what: str) -> tuple[Any, bytes, str | None]:
    """Molecule/Object3D accept an open file or stream. An open file on disk becomes its path (copied
    from disk, as wandb does); any other stream needs `file_type=`. Returns (obj, bytes, ext): the
    bytes and ext are set only when the data came from a stream."""
    if hasattr(obj, "read") and isinstance(getattr(obj, "name", None), str) and os.path.isfile(obj.name):
        return obj.name, b"", None
    if not hasattr(obj, "read"):
        return obj, b"", None
    ext = kwargs.pop("file_type", None)
    if ext not in supported:
        raise ValueError(f"{what} from a stream needs file_type= one of {sorted(supported)}")
    if hasattr(obj, "seek"):
        obj.seek(0)
    raw = obj.read()
    return None, (raw.encode("utf-8") if isinstance(raw, str) else raw), ext


def read_source(path: str) -> bytes:
    # Read when the value is logged, as wandb copies at bind time; an error here is an OSError,
    # which run.log() turns into a warning.
    return Path(path).read_bytes()


def _default(o: Any) -> Any:
    """Values the stdlib encoder cannot write, as wandb 0.31's encoder (pydantic-core, then its numpy
    fallback) writes them."""
    if hasattr(o, "tolist"):  # numpy arrays and scalars, torch tensors
        return o.tolist()
    if isinstance(o, _dt.datetime):
        s = o.isoformat()
        return s[:-6] + "Z" if s.endswith("+00:00") else s  # pydantic-core writes UTC as Z
    if hasattr(o, "isoformat"):
        return o.isoformat()
    if isinstance(o, (set, frozenset)):
        return list(o)
    if isinstance(o, bytes):
        return o.decode("utf-8")
    if isinstance(o, enum.Enum):
        return o.value
    if isinstance(o, (decimal.Decimal, uuid.UUID, os.PathLike)):
        return str(o)
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NUMBER_CHARS = frozenset("-0123456789.")


def _rust_floats(text: str) -> str:
    """Floats as the Rust formatter wandb uses (pydantic-core) writes them. Only floats that repr()
    writes as d[.ddd]e-0N (N = 5..9) read differently: 1e-05 becomes 0.00001, 1.5e-07 becomes 1.5e-7;
    every other float is the same text. Found by plain search (a regex over the whole document costs
    more than the encoding), skipping hits inside JSON strings."""
    pos = text.find("e-0")
    if pos == -1:
        return text
    strings = [m.span() for m in _JSON_STRING.finditer(text)] if '"' in text else []
    starts = [a for a, _ in strings]
    out: list[str] = []
    done = 0
    while pos != -1:
        k = bisect.bisect_right(starts, pos) - 1
        if k >= 0 and pos < strings[k][1]:
            pos = text.find("e-0", strings[k][1])
            continue
        start = pos
        while start > 0 and text[start - 1] in _NUMBER_CHARS:
            start -= 1
        mantissa = text[start:pos]
        sign = "-" if mantissa.startswith("-") else ""
        lead, _, frac = mantissa.lstrip("-").partition(".")
        exp = text[pos + 3]
        if exp == "5":
            out.append(f"{text[done:start]}{sign}0.0000{lead}{frac}")
        else:
            out.append(f"{text[done:start]}{sign}{lead}{'.' + frac if frac else ''}e-{exp}")
        done = pos + 4
        pos = text.find("e-0", done)
    out.append(text[done:])
    return "".join(out)


def json_bytes(obj: Any) -> bytes:
    """JSON exactly as wandb 0.31 writes its media files (pydantic-core's `to_json`): no whitespace,
    UTF-8 text unescaped, NaN/Infinity as such, floats in Rust's shortest form. Equal data therefore
    gives the file wandb would write, with the same sha256 and file name."""
    text = json.dumps(obj, default=_default, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    text = _rust_floats(text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: pydantic-core refuses it and wandb retries with the stdlib defaults.
        return json.dumps(obj, default=_default).encode("utf-8")


def file_ref(
    ctx: BindContext, type_: str, kind: str, key: str, step: int, data: bytes, ext: str
) -> dict[str, Any]:
    """Store `data` under media/<kind>/ and return wandb's pointer: `_type, path, sha256, size`."""
    rel, sha, size = ctx.write_file(kind, key, step, data, ext)
    return {"_type": type_, "path": rel, "sha256": sha, "size": size}


class FileMedia(Media):
    """A data type that is one file (from a path or bytes) plus an optional caption."""

    _kind = ""  # the media/<kind>/ directory
    _path: str | None = None
    _bytes: bytes = b""
    _ext: str = ""
    _caption: str | None = None

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        data = read_source(self._path) if self._path else self._bytes
        ref = file_ref(ctx, self._log_type, self._kind, key, step, data, self._ext)
        if self._caption:
            ref["caption"] = self._caption
        return ref


def captions(items: list[Any]) -> list[Any] | None:
    """wandb lists captions for a batch when its first item has one (others may be None)."""
    if items and getattr(items[0], "_caption", None) is not None:
        return [getattr(m, "_caption", None) for m in items]
    return None


# Class labels are "singletons" in wandb: kept once in config `_wandb`, rewritten only when they
# change. Logging an annotated image every step must not emit a config record every step.
_singletons: weakref.WeakKeyDictionary[BindContext, dict[tuple[str, str], Any]] = weakref.WeakKeyDictionary()


def set_singleton(ctx: BindContext, type_: str, key: str, value: Any) -> None:
    seen = _singletons.setdefault(ctx, {})
    entry = {"type": type_, "key": key, "value": value}
    if seen.get((type_, key)) == entry:
        return
    seen[(type_, key)] = entry
    ctx.set_internal_config([type_, key], entry)


def class_labels(labels: Any, what: str) -> dict[str, str]:
    """`{0: "bg", 1: "cat"}` validated, with keys as strings (they are JSON object keys on disk)."""
    if not isinstance(labels, dict):
        raise TypeError(f"{what}: class_labels must be a dict {{class_id (int): name (str)}}")
    out: dict[str, str] = {}
    for k, v in labels.items():
        try:
            ik = int(k)
        except (TypeError, ValueError):
            raise TypeError(f"{what}: class_labels keys must be integer class ids, got {k!r}") from None
        if not isinstance(v, str):
            raise TypeError(f"{what}: class_labels[{k!r}] must be a str, got {type(v).__name__}")
        out[str(ik)] = v
    return out


def ensure_matplotlib_figure(obj: Any) -> Any:
    """A matplotlib Figure from a Figure, the pyplot module (its current figure) or an Axes/Artist."""
    import matplotlib
    from matplotlib.figure import Figure

    pyplot = getattr(matplotlib, "pyplot", None)
    if pyplot is not None and obj is pyplot:
        obj = obj.gcf()
    elif not isinstance(obj, Figure):
        obj = getattr(obj, "figure", None)
        if not isinstance(obj, Figure):
            raise TypeError(
                "only matplotlib.pyplot, a matplotlib Figure or an Axes can be logged as a figure"
            )
    if not any(ax.has_data() for ax in obj.axes) and not any(ax.images for ax in obj.axes):
        raise ValueError(
            "the matplotlib figure is empty: pass the figure you drew on (fig), or log before "
            "plt.close()/plt.show() clears the current figure"
        )
    return obj


def is_matplotlib(v: Any) -> bool:
    mod = type(v).__module__ or ""
    if mod.startswith("matplotlib"):
        return True
    import sys

    return v is sys.modules.get("matplotlib.pyplot") and v is not None


def warn(msg: str, once: str | None = None) -> None:
    term.warn(msg, once_key=once)
