"""Audio and Video logged in real runs and decoded back. Audio is written with the stdlib `wave`
module; video needs Pillow (gif) and imageio-ffmpeg (mp4/webm/ogg) — skipped with a reason when missing."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from media_util import check_ref, log_and_read

import runstore


def read_wav(data: bytes) -> tuple[int, int, int, np.ndarray]:
    with wave.open(io.BytesIO(data), "rb") as w:
        rate, ch, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        frames = w.readframes(w.getnframes())
    dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
    return rate, ch, width, np.frombuffer(frames, dtype=dtype).reshape(-1, ch)


# --- Audio --------------------------------------------------------------------------------------------------------


def test_audio_float_samples_round_trip():
    t = np.linspace(0, 1, 8000, endpoint=False)
    samples = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    run, row, summary = log_and_read({"a": runstore.Audio(samples, sample_rate=8000, caption="la")})
    ref = row["a"]
    assert ref["caption"] == "la"
    rate, ch, width, pcm = read_wav(check_ref(ref, run))
    assert (rate, ch, width, pcm.shape) == (8000, 1, 2, (8000, 1))
    assert np.abs(pcm[:, 0] / 32767 - samples).max() < 1e-4
    assert summary["a"] == ref


@pytest.mark.parametrize(("dtype", "width"), [(np.int16, 2), (np.int32, 4), (np.uint8, 1)])
def test_audio_integer_samples_kept_exactly(dtype, width):
    samples = np.arange(0, 200, dtype=dtype).reshape(100, 2)  # stereo: (samples, channels)
    run, row, _ = log_and_read({"a": runstore.Audio(samples, sample_rate=22050)})
    rate, ch, w, pcm = read_wav(check_ref(row["a"], run))
    assert (rate, ch, w) == (22050, 2, width)
    assert np.array_equal(pcm, samples)


def test_audio_from_path_and_list(tmp_path):
    src = tmp_path / "clip.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(1600, "<i2").tobytes())
    mp3 = tmp_path / "song.mp3"
    mp3.write_bytes(b"ID3 fake mp3 bytes")
    clips = [
        runstore.Audio(str(src), caption="file"),
        runstore.Audio(np.zeros(400), sample_rate=8000, caption="raw"),
        runstore.Audio(mp3, caption="mp3"),
    ]
    run, row, _ = log_and_read({"clips": clips, "one": runstore.Audio(src)})
    assert check_ref(row["one"], run) == src.read_bytes()
    ref = row["clips"]
    check_ref(ref, run)
    assert ref["_type"] == "audio" and ref["count"] == 3
    assert ref["sampleRates"] == [16000, 8000, None]
    assert ref["durations"] == [0.1, 0.05, None]
    assert ref["captions"] == ["file", "raw", "mp3"]
    assert check_ref(ref["audio"][2], run) == b"ID3 fake mp3 bytes"
    assert ref["audio"][2]["path"].endswith(".mp3")


def test_audio_nan_is_silenced_with_warning(capsys):
    a = runstore.Audio(np.array([np.nan, 2.0, -0.5]), sample_rate=10)
    err = capsys.readouterr().err
    assert "NaN or Inf" in err and "clipped" in err
    _, _, _, pcm = read_wav(a._bytes)
    assert pcm[:, 0].tolist() == [0, 32767, -16384]


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "words"),
    [
        ((np.zeros(10),), {}, ValueError, "sample_rate"),
        ((np.zeros(10),), {"sample_rate": 0}, ValueError, "positive"),
        ((np.zeros((2, 100)),), {"sample_rate": 8000}, ValueError, r"data\.T"),
        ((np.zeros((2, 2, 2)),), {"sample_rate": 8000}, ValueError, "1-D"),
        ((np.zeros(10, np.int64),), {"sample_rate": 8000}, TypeError, "int16"),
        (("/no/such.wav",), {}, ValueError, "not found"),
    ],
)
def test_audio_bad_inputs(args, kwargs, exc, words):
    with pytest.raises(exc, match=words):
        runstore.Audio(*args, **kwargs)


# --- Video --------------------------------------------------------------------------------------------------------


def _frames(t=4, c=3, h=16, w=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (t, c, h, w), dtype=np.uint8)


def test_video_gif_round_trip():
    PIL = pytest.importorskip("PIL.Image", reason="gif video needs Pillow")
    v = _frames()
    v[:, :, :, :] = np.arange(4, dtype=np.uint8)[:, None, None, None] * 60  # flat, distinct frames
    run, row, summary = log_and_read({"v": runstore.Video(v, fps=5, caption="gif")})
    ref = row["v"]
    assert (ref["width"], ref["height"], ref["caption"]) == (24, 16, "gif")
    assert ref["path"].endswith(".gif")
    gif = PIL.open(io.BytesIO(check_ref(ref, run)))
    assert gif.n_frames == 4 and gif.size == (24, 16) and gif.info["duration"] == 200
    for i in range(4):
        gif.seek(i)
        assert np.asarray(gif.convert("RGB"))[0, 0].tolist() == [i * 60] * 3
    assert summary["v"] == ref


def test_video_batch_is_tiled_into_a_grid():
    pytest.importorskip("PIL.Image", reason="gif video needs Pillow")
    _, row, _ = log_and_read({"v": runstore.Video(np.zeros((3, 2, 1, 8, 10), np.uint8))})
    # 3 videos → padded to 4 → 1 row of 4 (wandb/tensorboardX layout)
    assert (row["v"]["width"], row["v"]["height"]) == (40, 8)
    _, row, _ = log_and_read({"v": runstore.Video(np.zeros((4, 2, 3, 8, 10), np.uint8))})
    assert (row["v"]["width"], row["v"]["height"]) == (20, 16)


@pytest.mark.parametrize("fmt", ["mp4", "webm", "ogg"])
def test_video_ffmpeg_formats(fmt):
    ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="mp4/webm/ogg video needs imageio-ffmpeg")
    run, row, _ = log_and_read({"v": runstore.Video(_frames(t=6, h=15, w=21), fps=6, format=fmt)})
    ref = row["v"]
    assert ref["path"].endswith("." + fmt) and (ref["width"], ref["height"]) == (21, 15)
    data = check_ref(ref, run)
    path = f"{run.dir}/{ref['path']}"
    gen = ffmpeg.read_frames(path)
    meta = next(gen)
    frames = list(gen)
    assert tuple(meta["size"]) == (22, 16)  # padded to even sides for yuv420p, never resampled
    assert len(frames) == 6 and len(data) > 0


def test_video_from_file_and_bytesio(tmp_path, capsys):
    pytest.importorskip("PIL.Image", reason="gif video needs Pillow")
    from PIL import Image as PILImage

    p = tmp_path / "anim.gif"
    frames = [PILImage.new("RGB", (7, 5), (i * 50, 0, 0)) for i in range(3)]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    vids = [
        runstore.Video(str(p), fps=10, caption="f"),
        runstore.Video(io.BytesIO(p.read_bytes()), format="gif"),
    ]
    assert "fps is ignored" in capsys.readouterr().err
    run, row, _ = log_and_read({"vids": vids})
    ref = row["vids"]
    assert ref["_type"] == "videos" and ref["count"] == 2 and ref["captions"] == ["f", None]
    first = ref["videos"][0]
    assert (first["width"], first["height"]) == (7, 5)
    assert check_ref(first, run) == p.read_bytes() == check_ref(ref["videos"][1], run)


def test_video_float_data_converted_with_warning(capsys):
    pytest.importorskip("PIL.Image", reason="gif video needs Pillow")
    v = runstore.Video(np.full((2, 1, 4, 4), 300.0))
    assert "uint8" in capsys.readouterr().err
    assert v._bytes.startswith(b"GIF8")


@pytest.mark.parametrize(
    ("args", "kwargs", "exc", "words"),
    [
        ((np.zeros((4, 8, 8)),), {}, ValueError, "time, channels"),
        ((np.zeros((2, 8, 8, 3)),), {}, ValueError, r"transpose\(0, 3, 1, 2\)"),
        ((np.zeros((2, 3, 8, 8)),), {"format": "avi"}, ValueError, "gif, mp4, webm, ogg"),
        (("clip.avi",), {}, ValueError, "not found"),
        (([1, 2, 3],), {}, TypeError, "numpy array"),
    ],
)
def test_video_bad_inputs(args, kwargs, exc, words, tmp_path):
    with pytest.raises(exc, match=words):
        runstore.Video(*args, **kwargs)


def test_video_unknown_file_format(tmp_path):
    p = tmp_path / "clip.avi"
    p.write_bytes(b"RIFF")
    with pytest.raises(ValueError, match="gif, mp4, webm, ogg"):
        runstore.Video(str(p))
