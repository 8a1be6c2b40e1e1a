"""wandb.Audio: samples + sample_rate, or an audio file → `media/audio/…` + an `audio-file` reference.

Raw samples are written as 16-bit PCM WAV (what wandb's soundfile call writes for float data) with the
standard library's `wave` module, so logging audio needs nothing beyond numpy.
"""

from __future__ import annotations

import io
import os
import wave
from typing import Any

from ._util import captions, file_ref, numpy, read_source, source_file, to_numpy, warn
from .base import BindContext, Media

_MAX_CHANNELS = 32  # more "channels" than this is almost surely a (channels, samples) array


class Audio(Media):
    _log_type = "audio-file"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        self._caption = caption
        self._path: str | None = None
        self._bytes = b""
        self._duration: float | None = None
        self._sample_rate = sample_rate
        if isinstance(data_or_path, (str, os.PathLike)):
            self._path = source_file(data_or_path, "Audio")
            self._ext = os.path.splitext(self._path)[1][1:].lower() or "wav"
            if self._ext == "wav":
                self._read_wav_header()
            return
        if sample_rate is None:
            raise ValueError(
                "Audio from raw data needs sample_rate=, e.g. wandb.Audio(samples, sample_rate=16000)"
            )
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive int (samples per second), got {sample_rate!r}")
        self._ext = "wav"
        self._bytes, frames = _wav_bytes(data_or_path, sample_rate)
        self._duration = frames / float(sample_rate)

    def _read_wav_header(self) -> None:
        try:
            with wave.open(self._path or "", "rb") as w:
                rate, frames = w.getframerate(), w.getnframes()
        except (wave.Error, EOFError, OSError):
            return  # not a PCM WAV the stdlib understands: still logged, without duration
        if self._sample_rate is None:
            self._sample_rate = rate
        self._duration = frames / float(rate) if rate else None

    def bind(self, ctx: BindContext, key: str, step: int) -> dict[str, Any]:
        data = read_source(self._path) if self._path else self._bytes
        ref = file_ref(ctx, self._log_type, "audio", key, step, data, self._ext)
        if self._caption:
            ref["caption"] = self._caption
        return ref

    @classmethod
    def bind_list(cls, items: list[Media], ctx: BindContext, key: str, step: int) -> Any:
        clips = [a for a in items if isinstance(a, Audio)]
        meta: dict[str, Any] = {
            "_type": "audio",
            "count": len(clips),
            "audio": [a.bind(ctx, key, step) for a in clips],
            "sampleRates": [a._sample_rate for a in clips],
            "durations": [a._duration for a in clips],
        }
        caps = captions(clips)
        if caps:
            meta["captions"] = caps
        return meta


def _wav_bytes(data: Any, sample_rate: int) -> tuple[bytes, int]:
    np = numpy()
    a = to_numpy(data)
    if a.ndim not in (1, 2) or a.size == 0:
        raise ValueError(
            f"Audio data must be 1-D (samples) or 2-D (samples, channels), got shape {list(a.shape)}"
        )
    if a.ndim == 2 and a.shape[1] > _MAX_CHANNELS:
        raise ValueError(
            f"Audio data has shape {list(a.shape)}: that is {a.shape[1]} channels; "
            "pass (samples, channels), e.g. data.T"
        )
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            warn("Audio data contains NaN or Inf: written as silence / full scale", once="audio-nonfinite")
            a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=-1.0)
        if a.size and (a.min() < -1 or a.max() > 1):
            warn("float audio should be in [-1, 1]; louder samples are clipped", once="audio-clip")
        pcm = np.round(np.clip(a, -1.0, 1.0) * 32767).astype("<i2")
        width = 2
    elif a.dtype == np.int16:
        pcm, width = a.astype("<i2", copy=False), 2
    elif a.dtype == np.int32:
        pcm, width = a.astype("<i4", copy=False), 4
    elif a.dtype == np.uint8:
        pcm, width = a, 1  # 8-bit WAV is unsigned
    else:
        raise TypeError(
            f"Audio samples must be float (in [-1, 1]), int16, int32 or uint8, got {a.dtype}; "
            "convert with data.astype(np.float32) / scale"
        )
    channels = 1 if a.ndim == 1 else a.shape[1]
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(sample_rate)
        w.writeframes(np.ascontiguousarray(pcm).tobytes())
    return buf.getvalue(), a.shape[0]
