"""The render pipeline (src/facecast/engine/render.py): the mouth track a renderer sees, whether
recognition runs before the render or beside it, piece by piece."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facecast.engine import phones as phones_module
from facecast.engine.audio import Audio
from facecast.engine.encode import probe
from facecast.engine.motion import MotionTrack
from facecast.engine.render import frame_count, plan_mouth, render_video
from facecast.engine.visemes import MouthTrack, mouth_track_from_energy
from facecast.errors import RenderCancelled

FPS = 25.0


class Recorder:
    """A renderer that draws nothing and remembers the mouth row of each frame when it draws it."""

    def __init__(self, lazy: bool) -> None:
        self.lazy_tracks = lazy
        self.rows: list[np.ndarray] = []

    @property
    def size(self) -> tuple[int, int]:
        return (64, 48)

    def frames(self, mouth: MouthTrack, motion: MotionTrack) -> Iterator[np.ndarray]:
        for i in range(mouth.n_frames):
            self.rows.append(mouth.values[i].copy())
            yield np.full((48, 64, 3), 128, np.uint8)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Audio:
    """About nine seconds of espeak-ng speech in three sentences with pauses: three pieces."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    tmp = tmp_path_factory.mktemp("speech")
    parts = []
    for index, text in enumerate(
        (
            "Bob bought a big map, and Mom paid for the maple pie at the fair.",
            "Maybe the baby bear wants more pie, but the bakery is closed today.",
            "Five wise women fixed the very old violin for the village.",
        )
    ):
        path = tmp / f"{index}.wav"
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True, timeout=60)
        samples, rate = sf.read(path, dtype="float32")
        parts += [samples, np.zeros(int(0.5 * rate), np.float32)]
    return Audio(np.concatenate(parts), rate)


@pytest.mark.parametrize("lazy", [True, False])
def test_the_renderer_sees_the_planned_mouth_track(speech: Audio, tmp_path: Path, lazy: bool) -> None:
    n = frame_count(speech.duration, FPS)
    planned, _, source = plan_mouth(speech, FPS, n)
    assert source == "recognizer"
    recorder = Recorder(lazy)
    progress: list[float] = []
    result = render_video(recorder, speech, tmp_path / "out.mp4", on_progress=progress.append)
    assert result.mouth_source == "recognizer" and result.n_frames == n
    assert np.array_equal(np.stack(recorder.rows), planned.values)  # bit for bit, streamed or not
    assert progress[-1] == 1.0 and progress == sorted(progress)
    info = probe(tmp_path / "out.mp4")
    assert info["video"]["nb_frames"] == n


def test_speech_in_one_piece_streams_too(speech: Audio, tmp_path: Path) -> None:
    short = Audio(speech.samples[: int(2.5 * speech.sample_rate)], speech.sample_rate)
    n = frame_count(short.duration, FPS)
    planned, _, _ = plan_mouth(short, FPS, n)
    recorder = Recorder(lazy=True)
    render_video(recorder, short, tmp_path / "out.mp4")
    assert np.array_equal(np.stack(recorder.rows), planned.values)


@pytest.mark.parametrize("lazy", [True, False])
def test_sound_the_recogniser_cannot_follow_moves_the_mouth_by_loudness(tmp_path: Path, lazy: bool) -> None:
    rate = 16000
    t = np.arange(rate * 4) / rate
    hum = (0.4 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    audio = Audio(hum, rate)
    recorder = Recorder(lazy)
    result = render_video(recorder, audio, tmp_path / "out.mp4")
    assert result.mouth_source == "energy"
    n = frame_count(audio.duration, FPS)
    expected = mouth_track_from_energy(audio, FPS, n).values
    assert np.array_equal(np.stack(recorder.rows[-n:]), expected)
    assert (tmp_path / "out.mp4").is_file()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_a_cancelled_render_stops_the_recogniser_and_leaves_nothing(
    speech: Audio, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    streams: list[phones_module.PhoneStream] = []
    real = phones_module.PhoneStream.__init__

    def remember(self: phones_module.PhoneStream, audio: Audio) -> None:
        real(self, audio)
        streams.append(self)

    monkeypatch.setattr(phones_module.PhoneStream, "__init__", remember)
    recorder = Recorder(lazy=True)
    with pytest.raises(RenderCancelled):
        render_video(recorder, speech, tmp_path / "out.mp4", should_cancel=lambda: len(recorder.rows) > 3)
    assert not list(tmp_path.iterdir())
    assert len(streams) == 1
    proc = streams[0]._proc
    assert proc is None  # stopped and reaped


def test_given_phones_and_silence_need_no_recogniser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no recognition expected")

    monkeypatch.setattr(phones_module.PhoneStream, "__init__", refuse)
    silence = Audio(np.zeros(16000 * 2, np.float32), 16000)
    result = render_video(Recorder(lazy=True), silence, tmp_path / "silence.mp4")
    assert result.mouth_source == "energy"
    tone = Audio((0.3 * np.sin(np.arange(32000) * 0.1)).astype(np.float32), 16000)
    phones = [phones_module.TimedPhone("SIL", 0.0, 0.5), phones_module.TimedPhone("AA", 0.5, 1.5)]
    result = render_video(Recorder(lazy=True), tone, tmp_path / "tone.mp4", phones=phones)
    assert result.mouth_source == "alignment"
