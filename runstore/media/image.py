"""wandb.Image: numpy/torch/PIL/path/matplotlib → `media/images/…png` + an `image-file` reference.

Masks (`media/images/mask/….mask.png`) and 2-D boxes (`media/metadata/boxes2D/….boxes2D.json`) are
written next to the image, their class labels kept once in config `_wandb` (docs/COMPAT.md §7.2).

Non-finite pixels: wandb would silently turn NaN into an arbitrary byte. Here NaN becomes 0 and ±Inf the
largest/smallest finite value, with one warning, so a diverging model's output still logs.
"""

from __future__ import annotations

import io
import os
from typing import Any

from ..base.convert import is_torch
from ._util import (
    captions,
    class_labels,
    ensure_matplotlib_figure,
    file_ref,
    is_matplotlib,
    json_bytes,
    numpy,
    pil,
    read_source,
    set_singleton,
    source_file,
    to_numpy,
    warn,
)
from .base import BindContext, Media

_PIL_FORMAT = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "bmp": "BMP", "gif": "GIF"}
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}


class Image(Media):
    MAX_ITEMS = 108
    MAX_DIMENSION = 65500
    _log_type = "image-file"
    format: str
    _width: int | None
    _height: int | None

    def __init__(
        self,
        data_or_path: Any,
        mode: str | None = None,
        caption: str | None = None,
        grouping: int | None = None,
        classes: Any = None,
        boxes: dict[str, Any] | None = None,
        masks: dict[str, Any] | None = None,
        file_type: str | None = None,
        normalize: bool = True,
    ) -> None:
        self._caption = caption
        self._grouping = grouping
        self._path: str | None = None  # an image file given by the user: copied when logged
        self._bytes: bytes | None = None  # or the encoded image
        self._pil: Any = None
        self._boxes: dict[str, BoundingBoxes2D] = {}
        self._masks: dict[str, ImageMask] = {}
        if isinstance(data_or_path, Image):
            # wandb: a copy of the pixels with new metadata; boxes and masks are not carried over
            self._path, self._bytes, self._pil = data_or_path._path, data_or_path._bytes, data_or_path._pil
            self.format, self._width, self._height = (
                data_or_path.format,
                data_or_path._width,
                data_or_path._height,
            )
            if caption is None:
                self._caption = data_or_path._caption
        elif isinstance(data_or_path, (str, os.PathLike)):
            self._init_path(os.fspath(data_or_path))
        else:
            self._init_data(data_or_path, mode, file_type, normalize)
        self._classes = classes
        if boxes:
            if not isinstance(boxes, dict):
                raise TypeError(
                    'Image "boxes" must be a dict {name: {"box_data": [...], "class_labels": {...}}}'
                )
            self._boxes = {
                str(k): b if isinstance(b, BoundingBoxes2D) else BoundingBoxes2D(b, str(k))
                for k, b in boxes.items()
            }
        if masks:
            if not isinstance(masks, dict):
                raise TypeError(
                    'Image "masks" must be a dict {name: {"mask_data": 2-D array, "class_labels": {...}}}'
                )
            self._masks = {
                str(k): m if isinstance(m, ImageMask) else ImageMask(m, str(k)) for k, m in masks.items()
            }

    def _init_path(self, path: str) -> None:
        self._path = source_file(path, "Image")
        try:
            with pil().open(path) as im:  # reads the header only
                self._width, self._height = im.size
                fmt = (im.format or "").lower()
        except OSError as e:
            raise ValueError(f"Image: {path!r} is not an image file Pillow can read ({e})") from None
        self.format = os.path.splitext(path)[1][1:].lower() or fmt

    def _init_data(self, data: Any, mode: str | None, file_type: str | None, normalize: bool) -> None:
        PIL = pil()
        self.format = (file_type or "png").lower()
        if self.format not in _PIL_FORMAT:
            raise ValueError(f"Image file_type must be one of {sorted(_PIL_FORMAT)}, got {file_type!r}")
        if is_matplotlib(data):
            buf = io.BytesIO()
            ensure_matplotlib_figure(data).savefig(buf, format=_PIL_FORMAT[self.format].lower())
            self._bytes = buf.getvalue()
            with PIL.open(io.BytesIO(self._bytes)) as im:
                self._width, self._height = im.size
            return
        if isinstance(data, PIL.Image):
            img = data
        elif (
            is_torch(data)
            or any(hasattr(data, a) for a in ("shape", "__array__", "numpy"))
            or isinstance(data, (list, tuple))
        ):
            img = PIL.fromarray(_to_pixels(data, mode, self.format, normalize))
            if mode and mode != img.mode:
                img = img.convert(mode)
        else:
            raise TypeError(
                f"Image accepts a numpy array, a torch tensor, a PIL image, a matplotlib figure "
                f"or a file path, not {type(data).__name__}"
            )
        self._width, self._height = img.size
        if max(img.size) > self.MAX_DIMENSION:
            raise ValueError(
                f"Image is {img.size[0]}x{img.size[1]}; the largest side may be "
                f"{self.MAX_DIMENSION} pixels: resize it first"
            )
        self._pil = img
        self._bytes = _encode(img, self.format)

    @property
    def image(self) -> Any:
        """The pixels as a PIL image (wandb's `Image.image`)."""
        if self._pil is None:
            src = io.BytesIO(self._bytes) if self._bytes is not None else self._path
            self._pil = pil().open(src)
        return self._pil

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        data = self._bytes if self._bytes is not None else read_source(self._path or "")
        ref = file_ref(ctx, self._log_type, "images", key, step, data, self.format)
        ref.update(format=self.format, width=self._width, height=self._height)
        if self._grouping:
            ref["grouping"] = self._grouping
        if self._caption:
            ref["caption"] = self._caption
        if self._boxes:
            ref["boxes"] = {k: b.bind(ctx, key, step) for k, b in self._boxes.items()}
        if self._masks:
            ref["masks"] = {k: m.bind(ctx, key, step) for k, m in self._masks.items()}
        return ref

    @classmethod
    def bind_list(cls, items: list[Media], ctx: BindContext, key: str, step: int) -> Any:
        images: list[Image] = [i for i in items if isinstance(i, Image)]
        if len(images) > cls.MAX_ITEMS:
            warn(
                f"only {cls.MAX_ITEMS} images per key and step are kept; {key!r} had {len(images)}",
                once=f"images-max:{key}",
            )
            images = images[: cls.MAX_ITEMS]
        refs = [im.bind(ctx, key, step) for im in images]
        width, height = images[0]._width, images[0]._height
        if any((im._width, im._height) != (width, height) for im in images):
            warn(
                f"images logged together under {key!r} differ in size; the viewer shows them at "
                f"{width}x{height}",
                once=f"images-sizes:{key}",
            )
        meta: dict[str, Any] = {
            "_type": "images/separated",
            "width": width,
            "height": height,
            "format": refs[0]["format"],
            "count": len(refs),
            "filenames": [r["path"] for r in refs],
        }
        caps = captions(images)
        if caps:
            meta["captions"] = caps
        if any("masks" in r for r in refs):
            meta["all_masks"] = [r.get("masks") for r in refs]
        if any("boxes" in r for r in refs):
            meta["all_boxes"] = [r.get("boxes") for r in refs]
        return meta


def _to_pixels(data: Any, mode: str | None, fmt: str, normalize: bool) -> Any:
    """An H×W or H×W×{3,4} uint8 array, following wandb's shape and range rules."""
    np = numpy()
    torch = is_torch(data)
    a = to_numpy(data)
    if a.dtype.kind == "b":
        a = a.astype(np.uint8)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"Image data must be numeric, got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError(f"Image data is empty (shape {list(a.shape)})")
    if torch:
        # torch images are channels-first, as wandb reads them: C×H×W (or a batch of one, 1×C×H×W)
        # becomes H×W×C. A tensor whose first dimension is no channel count is taken as H×W×C already.
        if a.ndim == 4 and a.shape[0] == 1:
            a = a[0]
        if a.ndim == 3 and a.shape[0] in (1, 3, 4):
            a = a.transpose(1, 2, 0)
    if a.ndim > 2:
        a = a.squeeze()  # as wandb: drop trivial dimensions (H×W×1 → H×W)
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[-1] in (3, 4))):
        hint = ""
        if a.ndim == 3 and a.shape[0] in (1, 3, 4):
            hint = "; for a channels-first array pass arr.transpose(1, 2, 0)"
        raise ValueError(f"Image data must have shape H×W, H×W×1, H×W×3 or H×W×4, got {list(a.shape)}{hint}")
    if a.ndim == 3 and a.shape[-1] == 4 and fmt in ("jpg", "jpeg", "bmp") and mode != "RGBA":
        warn(f"{fmt.upper()} has no transparency; the alpha channel is dropped", once=f"image-alpha:{fmt}")
        a = a[..., :3]
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        finite = a[np.isfinite(a)]
        hi = float(finite.max()) if finite.size else 0.0
        lo = float(finite.min()) if finite.size else 0.0
        warn(
            "Image data contains NaN or Inf: NaN is drawn as 0, ±Inf as the largest/smallest finite value",
            once="image-nonfinite",
        )
        a = np.nan_to_num(a, nan=0.0, posinf=hi, neginf=lo)
    if normalize:
        a = _rescale(a)
    if a.dtype != np.uint8:
        a = a.astype(np.uint8)
    return a


def _rescale(a: Any) -> Any:
    """wandb's range guess: [0,1] → ×255, [-1,1] → (x+1)×127.5, anything else clipped to [0,255]."""
    np = numpy()
    lo, hi = a.min(), a.max()
    if a.dtype == np.uint8:
        return a * np.uint8(255) if hi <= 1 else a  # a 0/1 uint8 mask becomes black/white, as in wandb
    if lo < 0 or hi > 255:
        warn(
            "Image data should be in [0, 255]; values are rescaled or clipped to that range",
            once="image-range",
        )
    if lo >= 0 and hi <= 1:
        return (a * 255).astype(np.uint8)
    if lo >= -1 and hi <= 1:
        return (255 * 0.5 * (a + 1)).astype(np.uint8)
    return a.clip(0, 255).astype(np.uint8)


def _encode(img: Any, fmt: str) -> bytes:
    pil_fmt = _PIL_FORMAT[fmt]
    if pil_fmt == "PNG" and img.mode not in _PNG_MODES:
        img = img.convert("RGBA" if "A" in img.mode else "RGB")
    elif pil_fmt == "JPEG" and img.mode not in ("L", "RGB", "CMYK"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    if pil_fmt == "PNG":
        img.save(buf, format="PNG", transparency=None)  # as wandb: no tRNS chunk carried over
    else:
        img.save(buf, format=pil_fmt)
    return buf.getvalue()


class ImageMask:
    """One segmentation layer of an Image: `{"mask_data": 2-D class ids, "class_labels": {id: name}}` or
    `{"path": png}`."""

    def __init__(self, val: dict[str, Any], key: str) -> None:
        if not isinstance(val, dict):
            raise TypeError(
                f'Image mask {key!r} must be a dict with "mask_data" (or "path") and "class_labels"'
            )
        self._key = key
        self._path: str | None = None
        self._labels: dict[str, str] | None = None
        if "class_labels" in val:
            self._labels = class_labels(val["class_labels"], f"mask {key!r}")
        if "path" in val:
            self._path = source_file(val["path"], f"mask {key!r}")
            self._bytes = b""
            return
        if "mask_data" not in val:
            raise TypeError(f'Image mask {key!r} needs "mask_data" (a 2-D array of class ids) or "path"')
        np = numpy()
        m = to_numpy(val["mask_data"])
        if m.ndim != 2:
            raise ValueError(
                f"mask {key!r}: mask_data must be 2-D (H×W class ids), got shape {list(m.shape)}"
            )
        if m.dtype.kind == "f":
            if not np.isfinite(m).all() or (m != np.round(m)).any():
                raise ValueError(
                    f"mask {key!r}: mask_data must hold integer class ids; cast with .astype(np.uint8)"
                )
        elif m.dtype.kind not in "biu":
            raise TypeError(f"mask {key!r}: mask_data must be an integer array, got dtype {m.dtype}")
        if m.size and (m.min() < 0 or m.max() > 255):
            raise ValueError(f"mask {key!r}: class ids must be in 0..255 (stored as an 8-bit PNG)")
        m8 = m.astype(np.uint8)
        if self._labels is None:  # wandb's default: class_<id> for every id present
            self._labels = {str(int(c)): f"class_{int(c)}" for c in np.unique(m8)}
        buf = io.BytesIO()
        pil().fromarray(m8).save(buf, format="PNG", transparency=None)
        self._bytes = buf.getvalue()

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        data = read_source(self._path) if self._path else self._bytes
        ref = file_ref(ctx, "mask", "images/mask", key, step, data, "mask.png")
        if self._labels is not None:
            set_singleton(ctx, "mask/class_labels", f"{key}_wandb_delimeter_{self._key}", self._labels)
        return ref


class BoundingBoxes2D:
    """One box layer of an Image: `{"box_data": [{"position": …, "class_id": …}, …], "class_labels": …}`."""

    def __init__(self, val: dict[str, Any], key: str) -> None:
        what = f"boxes {key!r}"
        if not isinstance(val, dict) or not isinstance(val.get("box_data"), (list, tuple)):
            raise TypeError(f'{what} must be a dict with "box_data": a list of boxes')
        self._key = key
        boxes = [_check_box(b, f"{what} box {i}") for i, b in enumerate(val["box_data"])]
        # The file holds the layer as the user gave it (key order included), as wandb's JSONMetadata
        # writes it: same layer, same bytes and hash as in wandb.
        out: dict[str, Any] = {**val, "box_data": boxes}
        if "class_labels" in val:
            self._labels = class_labels(val["class_labels"], what)
            out["class_labels"] = self._labels
        else:
            ids = sorted({b["class_id"] for b in boxes})
            self._labels = {str(c): f"class_{c}" for c in ids}
        self._bytes = json_bytes(out)

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        ref = file_ref(ctx, "boxes2D", "metadata/boxes2D", key, step, self._bytes, "boxes2D.json")
        set_singleton(ctx, "bounding_box/class_labels", f"{key}_wandb_delimeter_{self._key}", self._labels)
        return ref


def _num(v: Any, what: str) -> float | int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "item"):
        raise TypeError(f"{what} must be a number, got {v!r}")
    return v.item() if hasattr(v, "item") else v


def _check_box(b: Any, what: str) -> dict[str, Any]:
    if not isinstance(b, dict) or not isinstance(b.get("position"), dict):
        raise TypeError(f'{what} must be a dict with "position" and "class_id"')
    pos = b["position"]
    # Checked, then written with the user's keys in the user's order (wandb writes the dict as given).
    if {"minX", "maxX", "minY", "maxY"} <= pos.keys():
        p: dict[str, Any] = {
            **pos,
            **{k: _num(pos[k], f"{what} position {k}") for k in ("minX", "maxX", "minY", "maxY")},
        }
    elif {"middle", "width", "height"} <= pos.keys():
        mid = (
            list(pos["middle"])
            if isinstance(pos["middle"], (list, tuple)) or hasattr(pos["middle"], "tolist")
            else None
        )
        if mid is None or len(mid) != 2:
            raise TypeError(f"{what}: position middle must be [x, y]")
        p = {
            **pos,
            "middle": [_num(x, f"{what} middle") for x in mid],
            "width": _num(pos["width"], f"{what} width"),
            "height": _num(pos["height"], f"{what} height"),
        }
    else:
        raise TypeError(
            f"{what}: position needs minX/maxX/minY/maxY or middle/width/height, got {sorted(pos)}"
        )
    if "class_id" not in b or isinstance(b["class_id"], bool):
        raise TypeError(f'{what} needs an integer "class_id"')
    try:
        cid = int(b["class_id"])
    except (TypeError, ValueError):
        raise TypeError(f'{what}: "class_id" must be an integer, got {b["class_id"]!r}') from None
    out = {**b, "position": p, "class_id": cid}
    if "box_caption" in b and not isinstance(b["box_caption"], str):
        raise TypeError(f"{what}: box_caption must be a str")
    if "scores" in b:
        if not isinstance(b["scores"], dict):
            raise TypeError(f"{what}: scores must be a dict {{name: number}}")
        out["scores"] = {str(k): _num(v, f"{what} score {k!r}") for k, v in b["scores"].items()}
    if "domain" in b and b["domain"] not in (None, "pixel"):
        raise ValueError(f'{what}: domain must be "pixel" (pixel coordinates) or left out (fractions 0..1)')
    return out
