"""Decoding, resampling and the loudness envelope (src/facecast/engine/audio.py)."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from facecast.engine.audio import Audio, load_audio, loudness_envelope, resample
from facecast.errors import AudioTooLong, UnreadableAudio


def tone(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_wav(path: Path, channels: np.ndarray, sr: int) -> Path:
    """``channels`` [n_channels, n] float in [-1, 1] -> 16-bit WAV."""
    pcm = (np.clip(channels.T, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels.shape[0])
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path


def write_av(path: Path, channels: np.ndarray, sr: int, codec: str, *, with_video: bool = False) -> Path:
    """Encode ``channels`` with PyAV (optionally next to a few black video frames)."""
    layout = "stereo" if channels.shape[0] == 2 else "mono"
    with av.open(str(path), "w") as container:
        video: Any = None
        if with_video:
            video = container.add_stream("mpeg4", rate=10)
            video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        stream = container.add_stream(codec, rate=sr, layout=layout)
        assert isinstance(stream, av.AudioStream)
        size = stream.codec_context.frame_size or 1024
        for i in range(0, channels.shape[1], size):
            chunk = np.ascontiguousarray(channels[:, i : i + size], dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate = sr
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if video is not None:
            for k in range(int(channels.shape[1] / sr * 10)):
                img = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
                img.pts = k
                for packet in video.encode(img):
                    container.mux(packet)
            for packet in video.encode(None):
                container.mux(packet)
    return path


def dominant_frequency(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples * np.hanning(len(audio.samples))))
    return float(np.fft.rfftfreq(len(audio.samples), 1 / audio.sample_rate)[np.argmax(spectrum)])


def test_wav_decodes_to_mono_float32(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "a.wav", tone(440, 1.0, 22050)[None, :], 22050)
    audio = load_audio(path)
    assert audio.sample_rate == 22050
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration == pytest.approx(1.0, abs=1e-3)
    assert np.abs(audio.samples).max() == pytest.approx(0.5, abs=0.01)


def test_stereo_channels_are_mixed(tmp_path: Path) -> None:
    left = tone(440, 0.5, 16000)
    # Opposite-phase channels cancel in a mix; a file that kept only one channel would not.
    path = write_wav(tmp_path / "s.wav", np.stack([left, -left]), 16000)
    assert np.abs(load_audio(path).samples).max() < 1e-3
    path = write_wav(tmp_path / "t.wav", np.stack([left, np.zeros_like(left)]), 16000)
    assert np.abs(load_audio(path).samples).max() == pytest.approx(0.25, abs=0.01)


@pytest.mark.parametrize(
    ("name", "codec", "sr"),
    [
        ("a.mp3", "libmp3lame", 44100),
        ("a.flac", "flac", 44100),
        ("a.ogg", "libopus", 48000),
        ("a.m4a", "aac", 44100),
    ],
)
def test_compressed_formats_decode(tmp_path: Path, name: str, codec: str, sr: int) -> None:
    if codec not in av.codecs_available:
        pytest.skip(f"PyAV has no {codec} encoder here")
    x = tone(440, 1.0, sr)
    audio = load_audio(write_av(tmp_path / name, np.stack([x, x]), sr, codec))
    assert audio.samples.ndim == 1
    assert audio.duration == pytest.approx(1.0, abs=0.06)
    assert dominant_frequency(audio) == pytest.approx(440, abs=5)


def test_audio_track_of_a_video(tmp_path: Path) -> None:
    x = tone(300, 1.0, 44100)
    audio = load_audio(write_av(tmp_path / "clip.mp4", x[None, :], 44100, "aac", with_video=True))
    assert audio.duration == pytest.approx(1.0, abs=0.06)
    assert dominant_frequency(audio) == pytest.approx(300, abs=5)


def test_refusals_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableAudio, match="missing.wav.*does not exist"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(UnreadableAudio, match="empty.mp3"):
        load_audio(tmp_path / "empty.mp3")
    (tmp_path / "notes.wav").write_bytes(b"this is not audio at all\n" * 50)
    with pytest.raises(UnreadableAudio, match="notes.wav"):
        load_audio(tmp_path / "notes.wav")


def test_video_without_sound_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w") as container:
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        for k in range(5):
            img = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            img.pts = k
            for packet in video.encode(img):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
    with pytest.raises(UnreadableAudio, match="no audio track"):
        load_audio(path)


def test_zero_samples_is_refused(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "nothing.wav", np.zeros((1, 0), np.float32), 16000)
    with pytest.raises(UnreadableAudio, match="nothing.wav"):
        load_audio(path)


def test_too_long_names_the_limit(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "long.wav", tone(200, 3.0, 8000)[None, :], 8000)
    with pytest.raises(AudioTooLong, match="limit is 2 s"):
        load_audio(path, max_seconds=2)
    assert load_audio(path, max_seconds=3).duration == pytest.approx(3.0)


def test_too_long_is_caught_while_decoding(tmp_path: Path) -> None:
    # Close enough to the limit that the header check lets it through (headers of VBR files are
    # estimates): the decoder must stop once past the limit.
    path = write_av(tmp_path / "long.aac", tone(200, 4.0, 16000)[None, :], 16000, "aac")
    with pytest.raises(AudioTooLong, match="limit is 3.6 s"):
        load_audio(path, max_seconds=3.6)
    with pytest.raises(AudioTooLong, match="limit is 1 s"):
        load_audio(path, max_seconds=1)


def test_resample_keeps_frequency_and_length() -> None:
    audio = Audio(tone(1000, 1.0, 44100), 44100)
    out = resample(audio, 16000)
    assert out.sample_rate == 16000 and len(out.samples) == 16000
    assert out.samples.dtype == np.float32
    assert dominant_frequency(out) == pytest.approx(1000, abs=3)
    # Band-limited: a 10 kHz tone (above the new 8 kHz Nyquist) is removed, not folded back to
    # 6 kHz as picking samples would do.
    high = resample(Audio(tone(10000, 1.0, 44100), 44100), 16000)
    assert np.abs(high.samples[800:-800]).max() < 0.02  # (away from the abrupt start and end)
    assert resample(audio, 44100) is audio


def test_loudness_is_zero_on_silence_and_high_on_a_burst() -> None:
    sr, fps = 16000, 25.0
    x = np.zeros(sr * 3, np.float32)
    x[sr : 2 * sr] = tone(220, 1.0, sr, amp=0.3)
    loud = loudness_envelope(Audio(x, sr), fps, 75)
    assert loud.dtype == np.float32 and loud.shape == (75,)
    assert np.all(loud[:22] == 0) and np.all(loud[54:] == 0)
    assert loud[28:48].min() > 0.9
    assert 0.0 <= loud.min() and loud.max() <= 1.0


def test_loudness_of_silence_and_faint_noise_is_all_zero() -> None:
    sr = 16000
    assert not loudness_envelope(Audio(np.zeros(sr * 2, np.float32), sr), 25, 50).any()
    hiss = (np.random.default_rng(0).standard_normal(sr * 2) * 3e-4).astype(np.float32)
    assert not loudness_envelope(Audio(hiss, sr), 25, 50).any()


def test_loudness_gates_room_noise_and_ranks_levels() -> None:
    sr = 16000
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(sr * 4) * 0.003).astype(np.float32)  # room noise, about -50 dBFS
    x[sr : 2 * sr] += tone(200, 1.0, sr, amp=0.4)  # loud
    x[int(2.5 * sr) : int(3.5 * sr)] += tone(200, 1.0, sr, amp=0.05)  # quiet, 18 dB down
    loud = loudness_envelope(Audio(x, sr), 25, 100)
    assert loud[2:20].max() == 0.0  # noise alone is silence
    assert loud[30:45].mean() > 0.9
    assert 0.1 < loud[67:85].mean() < 0.7
