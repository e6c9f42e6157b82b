"""VideoWriter writes real MP4s (checked with ffprobe/PyAV) and never leaves a partial file behind."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from facecast.engine import encode
from facecast.engine.audio import Audio
from facecast.engine.encode import VideoWriter, probe
from facecast.errors import EncoderError

W, H = 96, 64


def speech_like(seconds: float, sample_rate: int = 16000) -> Audio:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    voice = np.sin(2 * np.pi * 150 * t) * np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    return Audio((0.4 * voice).astype(np.float32), sample_rate)


def gray(level: int) -> np.ndarray:
    return np.full((H, W, 3), level, np.uint8)


def render(path: Path, n_frames: int, audio: Audio | None, fps: float = 25) -> None:
    buffer = np.zeros((H, W, 3), np.uint8)
    with VideoWriter(path, W, H, fps, audio) as writer:
        for index in range(n_frames):
            buffer[:] = (index * 4) % 256  # one buffer reused: write() must copy
            writer.write(buffer)


def top_level_boxes(path: Path) -> list[str]:
    """The types of the top-level MP4 boxes, in file order."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(data) - offset
        boxes.append(kind.decode("latin-1"))
        assert size >= 8, f"corrupt box {kind!r} at {offset}"
        offset += size
    return boxes


def leftovers(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


# --- what ends up in the file ----------------------------------------------------------------------
def test_streams_frames_duration_and_faststart(tmp_path: Path) -> None:
    audio = speech_like(2.0)
    out = tmp_path / "out.mp4"
    render(out, 50, audio)
    info = probe(out)
    video, sound = info["video"], info["audio"]
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == (
        "h264",
        "yuv420p",
        W,
        H,
    )
    assert video["nb_frames"] == 50
    assert video["fps"] == pytest.approx(25)
    assert video["duration"] == pytest.approx(2.0, abs=1e-3)
    assert sound["codec_name"] == "aac" and sound["sample_rate"] == 16000 and sound["channels"] == 1
    assert sound["duration"] == pytest.approx(audio.duration, abs=1024 / audio.sample_rate)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat"), boxes
    assert leftovers(tmp_path) == ["out.mp4"]


def test_frames_are_copied_and_decoded_in_order(tmp_path: Path) -> None:
    import av

    out = tmp_path / "order.mp4"
    render(out, 20, None)
    with av.open(str(out)) as container:
        means = [float(frame.to_ndarray(format="rgb24").mean()) for frame in container.decode(video=0)]
    assert len(means) == 20
    assert means == pytest.approx([index * 4 for index in range(20)], abs=3)


@pytest.mark.parametrize(
    ("seconds", "sample_rate", "n_frames", "fps"),
    [
        (1.2345, 22050, 31, 25),  # a length that is no multiple of an AAC frame
        (3.0, 48000, 20, 25),  # fewer frames than the audio needs: not padded, audio kept whole
        (1.01, 7000, 30, 30000 / 1001),  # a rate AAC does not take (resampled) and NTSC fps
    ],
)
def test_audio_keeps_its_exact_length(
    tmp_path: Path, seconds: float, sample_rate: int, n_frames: int, fps: float
) -> None:
    audio = speech_like(seconds, sample_rate)
    out = tmp_path / "len.mp4"
    render(out, n_frames, audio, fps)
    info = probe(out)
    assert info["video"]["nb_frames"] == n_frames
    assert info["video"]["fps"] == pytest.approx(fps, rel=1e-4)
    rate = info["audio"]["sample_rate"]
    assert info["audio"]["duration"] == pytest.approx(audio.duration, abs=1024 / rate)


def test_silence_and_no_audio(tmp_path: Path) -> None:
    silent = tmp_path / "silent.mp4"
    render(silent, 10, Audio(np.zeros(16000 // 2, np.float32), 16000))
    assert probe(silent)["audio"]["duration"] == pytest.approx(0.5, abs=0.064)

    mute = tmp_path / "mute.mp4"
    render(mute, 10, None)
    info = probe(mute)
    assert info["audio"] is None and [s["codec_type"] for s in info["streams"]] == ["video"]
    assert info["video"]["nb_frames"] == 10


def test_probe_falls_back_to_pyav(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "p.mp4"
    audio = speech_like(1.0)
    render(out, 25, audio)
    monkeypatch.setattr(encode.shutil, "which", lambda name: None)
    info = probe(out)
    assert info["tool"] == "pyav"
    assert (info["video"]["codec_name"], info["video"]["pix_fmt"], info["video"]["nb_frames"]) == (
        "h264",
        "yuv420p",
        25,
    )
    assert (info["video"]["width"], info["video"]["height"]) == (W, H)
    assert info["audio"]["codec_name"] == "aac" and info["audio"]["sample_rate"] == 16000
    assert info["audio"]["duration"] == pytest.approx(1.0, abs=1024 / 16000)


# --- atomicity and failures -----------------------------------------------------------------------
def test_exception_in_with_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(out, W, H, 25, speech_like(1.0)) as writer:
            for _ in range(5):
                writer.write(gray(100))
            raise RuntimeError("boom")
    assert leftovers(tmp_path) == []


def test_failed_render_does_not_clobber_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous render")
    with pytest.raises(KeyboardInterrupt):
        with VideoWriter(out, W, H, 25, None) as writer:
            writer.write(gray(0))
            raise KeyboardInterrupt
    writer.abort()  # idempotent
    assert out.read_bytes() == b"previous render"
    assert leftovers(tmp_path) == ["out.mp4"]


def test_ffmpeg_failure_raises_encoder_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"previous render")
    monkeypatch.setattr(VideoWriter, "_extra_args", ("-c:v", "no_such_encoder"))
    with pytest.raises(EncoderError) as caught:
        with VideoWriter(out, W, H, 25, speech_like(0.5)) as writer:
            for _ in range(12):
                writer.write(gray(50))
    assert "no_such_encoder" in str(caught.value)  # ffmpeg's own words are quoted
    assert out.read_bytes() == b"previous render"
    assert leftovers(tmp_path) == ["out.mp4"]


def test_encoder_dying_mid_stream_raises(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(EncoderError):
        with VideoWriter(out, W, H, 25, None) as writer:
            writer.write(gray(0))
            assert writer._proc is not None
            writer._proc.kill()
            for _ in range(200):
                writer.write(gray(0))
    assert leftovers(tmp_path) == []


def test_close_without_frames_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        with VideoWriter(tmp_path / "out.mp4", W, H, 25, None):
            pass
    assert leftovers(tmp_path) == []


# --- validation -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((H, W, 3), np.float32),
        np.zeros((H, W, 4), np.uint8),
        np.zeros((W, H, 3), np.uint8),
        np.zeros((H, W), np.uint8),
    ],
)
def test_wrong_frames_are_refused(tmp_path: Path, bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="frame"):
        with VideoWriter(tmp_path / "out.mp4", W, H, 25, None) as writer:
            writer.write(gray(0))
            writer.write(bad)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("width", "height"), [(95, 64), (96, 63), (0, 64), (-2, 64), (96, 0)])
def test_odd_or_empty_sizes_are_refused(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even and positive"):
        VideoWriter(tmp_path / "out.mp4", width, height, 25, None)
    assert leftovers(tmp_path) == []


def test_bad_audio_and_fps_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no samples"):
        VideoWriter(tmp_path / "out.mp4", W, H, 25, Audio(np.zeros(0, np.float32), 16000))
    with pytest.raises(ValueError, match="fps"):
        VideoWriter(tmp_path / "out.mp4", W, H, 0, None)
    assert leftovers(tmp_path) == []
