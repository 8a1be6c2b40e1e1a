"""wandb.Video: frames (T×C×H×W, or N×T×C×H×W tiled into a grid) or a video file → `media/videos/…`
+ a `video-file` reference.

GIF is encoded with Pillow; mp4/webm/ogg with the ffmpeg binary that `imageio-ffmpeg` ships (libx264,
libvpx, libtheora), so neither moviepy nor a system ffmpeg is needed.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any

from ._util import captions, file_ref, numpy, pil, read_source, source_file, to_numpy, warn
from .base import BindContext, Media

_CODECS = {"mp4": "libx264", "webm": "libvpx", "ogg": "libtheora"}


class Video(Media):
    EXTS = ("gif", "mp4", "webm", "ogg")
    _log_type = "video-file"

    def __init__(
        self, data_or_path: Any, caption: str | None = None, fps: int | None = None, format: str | None = None
    ) -> None:
        self._caption = caption
        self._path: str | None = None
        self._bytes = b""
        self._width: int | None = None
        self._height: int | None = None
        fmt = (format or "gif").lower()
        if fmt not in self.EXTS:
            raise ValueError(f"Video format must be one of {', '.join(self.EXTS)}, got {format!r}")
        self._format = fmt
        if isinstance(data_or_path, (str, os.PathLike)):
            path = source_file(data_or_path, "Video")
            ext = os.path.splitext(path)[1][1:].lower()
            if ext not in self.EXTS:
                raise ValueError(
                    f"Video files must be {', '.join(self.EXTS)}; {path!r} is not (convert it first)"
                )
            if fps is not None:
                warn(
                    "Video: fps is ignored for video files (the file keeps its own frame rate)",
                    once="video-fps",
                )
            self._path, self._format = path, ext
            self._probe_size()
        elif isinstance(data_or_path, io.IOBase) or hasattr(data_or_path, "getvalue"):
            data_or_path.seek(0)
            self._bytes = data_or_path.read()
        elif hasattr(data_or_path, "shape") or hasattr(data_or_path, "__array__"):
            frames = _prepare(data_or_path)
            _, self._height, self._width, _ = frames.shape
            self._bytes = _encode(frames, fmt, fps or 4)
        else:
            raise TypeError(
                f"Video accepts a numpy array (T, C, H, W), a file path or a BytesIO, "
                f"not {type(data_or_path).__name__}"
            )

    def _probe_size(self) -> None:
        """Frame size of a file, when cheap to learn (header of a GIF; ffmpeg's probe otherwise)."""
        try:
            if self._format == "gif":
                with pil().open(self._path) as im:
                    self._width, self._height = im.size
                return
            import imageio_ffmpeg

            gen = imageio_ffmpeg.read_frames(self._path)
            try:
                meta = next(gen)
            finally:
                gen.close()
            self._width, self._height = meta["size"]
        except Exception:
            pass  # unknown size: the reference simply has no width/height, as in wandb

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        data = read_source(self._path) if self._path else self._bytes
        ref = file_ref(ctx, self._log_type, "videos", key, step, data, self._format)
        if self._width is not None:
            ref["width"] = self._width
        if self._height is not None:
            ref["height"] = self._height
        if self._caption:
            ref["caption"] = self._caption
        return ref

    @classmethod
    def bind_list(cls, items: list[Media], ctx: BindContext, key: str, step: int) -> Any:
        vids = [v for v in items if isinstance(v, Video)]
        return {
            "_type": "videos",
            "count": len(vids),
            "videos": [v.bind(ctx, key, step) for v in vids],
            "captions": captions(vids) or False,
        }


def _prepare(data: Any) -> Any:
    """(N,)T,C,H,W → T,H',W',C uint8, several videos tiled into one grid (wandb/tensorboardX layout)."""
    np = numpy()
    v = to_numpy(data)
    if v.ndim == 4:
        v = v[None]
    if v.ndim != 5:
        raise ValueError(
            f"Video data must be (time, channels, height, width) or (batch, time, channels, "
            f"height, width), got shape {list(v.shape)}"
        )
    b, t, c, h, w = v.shape
    if c not in (1, 3, 4):
        hint = (
            "; for (time, height, width, channels) pass arr.transpose(0, 3, 1, 2)"
            if v.shape[-1] in (1, 3, 4)
            else ""
        )
        raise ValueError(f"Video channels (axis -3) must be 1, 3 or 4, got shape {list(v.shape)}{hint}")
    if min(b, t, h, w) == 0:
        raise ValueError(f"Video data is empty (shape {list(v.shape)})")
    if v.dtype != np.uint8:
        warn("Video data is converted to uint8 (values clipped to 0..255)", once="video-uint8")
        v = np.nan_to_num(v.astype(np.float64), nan=0.0).clip(0, 255).astype(np.uint8)
    if b & (b - 1):  # pad the batch to a power of two so it tiles into a grid
        v = np.concatenate([v, np.zeros((2 ** b.bit_length() - b, t, c, h, w), np.uint8)])
    rows = 2 ** ((b.bit_length() - 1) // 2)
    cols = v.shape[0] // rows
    v = v.reshape(rows, cols, t, c, h, w).transpose(2, 0, 4, 1, 5, 3)
    return np.ascontiguousarray(v.reshape(t, rows * h, cols * w, c))


def _encode(frames: Any, fmt: str, fps: float) -> bytes:
    if fmt == "gif":
        PIL = pil()
        c = frames.shape[-1]
        imgs = [PIL.fromarray(f[..., 0] if c == 1 else f) for f in frames]
        buf = io.BytesIO()
        imgs[0].save(
            buf,
            format="GIF",
            save_all=True,
            append_images=imgs[1:],
            duration=max(1, round(1000 / fps)),
            loop=0,
        )
        return buf.getvalue()
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ImportError(
            f"encoding {fmt} video needs imageio-ffmpeg: pip install 'runstore[media]' (or log format='gif')"
        ) from None
    np = numpy()
    t, h, w, c = frames.shape
    if c == 4:
        frames = frames[..., :3]
    elif c == 1:
        frames = np.repeat(frames, 3, axis=-1)
    if h % 2 or w % 2:  # yuv420p needs even sides: pad one black row/column rather than resample
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    with tempfile.TemporaryDirectory(prefix="runstore-video-") as d:
        out = os.path.join(d, f"v.{fmt}")
        writer = imageio_ffmpeg.write_frames(
            out,
            (frames.shape[2], frames.shape[1]),
            fps=fps,
            codec=_CODECS[fmt],
            macro_block_size=1,
            ffmpeg_log_level="error",
            pix_fmt_out="yuv420p",
        )
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(f))
        writer.close()
        with open(out, "rb") as f:
            return f.read()
