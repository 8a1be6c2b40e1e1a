"""wandb.Object3D and wandb.box3d: point clouds and 3-D scenes → `media/object3D/…` + an
`object3D-file` reference.

Point clouds and lidar scenes are written as `.pts.json` byte for byte as wandb 0.31 writes them
(`_util.json_bytes`), so equal data gives wandb's file, hash and file name.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

from ._util import FileMedia, from_stream, json_bytes, numpy, source_file, to_numpy
from .base import BindContext, Media

_POINT_HELP = (
    "point cloud must be N×3 [x, y, z], N×4 [x, y, z, category] or N×6 [x, y, z, r, g, b], got shape {}"
)


def _points(points: Any) -> list[Any]:
    a = to_numpy(points)
    if a.ndim != 2 or a.shape[1] not in (3, 4, 6):
        raise ValueError(_POINT_HELP.format(list(a.shape)))
    if a.dtype.kind not in "iuf":
        raise TypeError(f"point cloud must be numeric, got dtype {a.dtype}")
    return a.tolist()


def _plain(v: Any) -> Any:
    """numpy arrays/scalars inside boxes and vectors → lists and numbers."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "tolist"):
        return _plain(v.tolist())
    return v


class Object3D(FileMedia):
    SUPPORTED_TYPES = {"obj", "gltf", "glb", "babylon", "stl", "pts.json"}
    SUPPORTED_POINT_CLOUD_TYPES = {"lidar/beta"}
    _log_type = "object3D-file"
    _kind = "object3D"

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self._caption = caption
        self._path: str | None = None
        self._bytes = b""
        self._ext = "pts.json"
        data_or_path, raw, ext = from_stream(data_or_path, kwargs, self.SUPPORTED_TYPES, "Object3D")
        if ext is not None:
            self._bytes, self._ext = raw, ext
        elif isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            ext = next(
                (
                    t
                    for t in sorted(self.SUPPORTED_TYPES, key=len, reverse=True)
                    if path.lower().endswith("." + t)
                ),
                None,
            )
            if ext is None:
                raise ValueError(
                    f"Object3D: {path!r} is not a supported 3-D file; use one of "
                    f"{', '.join(sorted(self.SUPPORTED_TYPES))}"
                )
            self._path, self._ext = source_file(path, "Object3D"), ext
        elif isinstance(data_or_path, dict):
            kind = data_or_path.get("type")
            if kind not in self.SUPPORTED_POINT_CLOUD_TYPES:
                raise ValueError(f'Object3D scene dicts need "type": "lidar/beta", got {kind!r}')
            scene = {
                "type": kind,
                "vectors": _vectors(data_or_path.get("vectors", [])),
                "points": _points(data_or_path["points"]) if "points" in data_or_path else [],
                "boxes": _boxes(data_or_path.get("boxes", [])),
            }
            self._bytes = json_bytes(scene)
        elif hasattr(data_or_path, "shape") or hasattr(data_or_path, "__array__"):
            self._bytes = json_bytes(_points(data_or_path))
        else:
            raise TypeError(
                f"Object3D accepts a numpy point cloud, a lidar/beta scene dict, a file path or a "
                f"stream, not {type(data_or_path).__name__}"
            )

    @classmethod
    def from_file(cls, data_or_path: Any, file_type: str | None = None) -> Object3D:
        return cls(data_or_path, file_type=file_type)

    @classmethod
    def from_numpy(cls, data: Any) -> Object3D:
        return cls(to_numpy(data))

    @classmethod
    def from_point_cloud(
        cls, points: Any, boxes: Any, vectors: Any = None, point_cloud_type: str = "lidar/beta"
    ) -> Object3D:
        if point_cloud_type not in cls.SUPPORTED_POINT_CLOUD_TYPES:
            raise ValueError(f"point_cloud_type must be one of {sorted(cls.SUPPORTED_POINT_CLOUD_TYPES)}")
        return cls(
            {
                "type": point_cloud_type,
                "points": points,
                "boxes": boxes,
                "vectors": vectors if vectors is not None else [],
            }
        )

    @classmethod
    def bind_list(cls, items: list[Media], ctx: BindContext, key: str, step: int) -> Any:
        refs = [m.bind(ctx, key, step) for m in items]
        prefix = "media/object3D/"
        return {
            "_type": "object3D",
            "filenames": [r["path"].removeprefix(prefix) for r in refs],
            "count": len(refs),
            "objects": refs,
        }


def _boxes(boxes: Any) -> list[Any]:
    out = _plain(boxes)
    if not isinstance(out, list):
        raise TypeError('scene "boxes" must be a list of {"corners": 8×[x,y,z], "label", "color"}')
    for i, b in enumerate(out):
        corners = b.get("corners") if isinstance(b, dict) else None
        if not isinstance(corners, list) or len(corners) != 8 or any(len(c) != 3 for c in corners):
            raise ValueError(f'scene box {i}: "corners" must be 8 points [x, y, z] (wandb.box3d builds them)')
    return out


def _vectors(vectors: Any) -> list[Any]:
    out = _plain(vectors)
    if not isinstance(out, list) or any(
        not isinstance(v, dict) or "start" not in v or "end" not in v for v in out
    ):
        raise ValueError('scene "vectors" must be a list of {"start": [x,y,z], "end": [x,y,z]}')
    return out


def box3d(
    *,
    center: Any,
    size: Any,
    orientation: Any,
    color: Any,
    label: str | None = None,
    score: float | None = None,
) -> dict[str, Any]:
    """A lidar/beta box: the 8 corners of a `size` box at `center`, rotated by the quaternion
    `orientation` = [r, x, y, z] (r + xi + yj + zk)."""
    np = numpy()
    c, s, q = (np.asarray(x, dtype=np.float64) for x in (center, size, orientation))
    if c.shape != (3,) or s.shape != (3,) or q.shape != (4,):
        raise ValueError("box3d: center and size must have 3 numbers, orientation 4 (quaternion r, x, y, z)")
    biggest = np.abs(q).max()
    if biggest == 0:
        raise ValueError("box3d: orientation must be a non-zero quaternion")
    # The same float operations, in the same order, as wandb 0.31's box3d, so the corners (and the
    # file) come out bit for bit equal. wandb also drops the quaternion's signs (abs) before this,
    # which turns negative rotations into positive ones; signs are kept here.
    q = q / biggest
    r, x, y, z = q / np.linalg.norm(q)
    xx, yy, zz = x**2, y**2, z**2
    xy, xz, yz = x * y, x * z, y * z
    xr, yr, zr = x * r, y * r, z * r
    rot = np.array(  # transposed, as points are row vectors: points @ rot
        (
            (1 - 2 * (yy + zz), 2 * (xy + zr), 2 * (xz - yr)),
            (2 * (xy - zr), 1 - 2 * (xx + zz), 2 * (yz + xr)),
            (2 * (xz + yr), 2 * (yz - xr), 1 - 2 * (xx + yy)),
        ),
        dtype=np.float64,
    )
    unit = np.array(list(itertools.product((-1, 1), (-1, 1), (-1, 1))), dtype=np.float64)
    corners = c + (0.5 * s * unit) @ rot
    # wandb's key order, and score present (null) even when not given
    return {"corners": corners.tolist(), "color": _plain(color), "label": label, "score": _plain(score)}


__all__ = ["Object3D", "box3d"]
