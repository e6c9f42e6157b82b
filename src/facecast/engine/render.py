"""The engine's main entry: a prepared avatar plus speech -> an MP4, with progress and cancellation.

The pipeline is audio -> (phones) -> mouth track + motion track -> renderer frames -> encoder.
A renderer is anything with ``size`` and ``frames(mouth, motion)``: the 2D ``PhotoAnimator`` today,
a neural renderer tomorrow, without touching the rest of the pipeline.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from facecast.engine.audio import Audio, loudness_envelope, resample
from facecast.engine.encode import VideoWriter
from facecast.engine.motion import MotionTrack, motion_track
from facecast.engine.phones import TimedPhone, recognize_phones
from facecast.engine.visemes import MouthTrack, mouth_track_from_energy, mouth_track_from_phones
from facecast.errors import RenderCancelled

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]


class Renderer(Protocol):
    """The seam for renderers: the 2D animator today, a neural one later."""

    @property
    def size(self) -> tuple[int, int]: ...

    def frames(self, mouth: MouthTrack, motion: MotionTrack) -> Iterator[np.ndarray]: ...


@dataclass(frozen=True)
class RenderOptions:
    fps: float = 25.0
    seed: int = 0
    crf: int = 20


@dataclass
class RenderResult:
    path: Path
    n_frames: int
    fps: float
    duration: float
    size: tuple[int, int]
    #: Where the mouth timing came from: "alignment" (TTS phones), "recognizer" or "energy".
    mouth_source: str
    warnings: list[str] = field(default_factory=list)


def frame_count(duration: float, fps: float) -> int:
    """Frames needed to cover ``duration`` seconds: at least one, so silence still gives a still video."""
    return max(1, math.ceil(duration * fps - 1e-6))


def plan_mouth(
    audio: Audio, fps: float, n_frames: int, phones: Sequence[TimedPhone] | None = None
) -> tuple[MouthTrack, np.ndarray, str]:
    """The mouth track for ``audio``: from given phones, else recognised phones, else loudness."""
    loudness = loudness_envelope(audio, fps, n_frames)
    if phones:
        return mouth_track_from_phones(phones, loudness, fps, n_frames), loudness, "alignment"
    if float(loudness.max(initial=0.0)) <= 0.0:
        # Silence only: a still, closed mouth, no recogniser run needed.
        return mouth_track_from_energy(audio, fps, n_frames), loudness, "energy"
    recognised = recognize_phones(resample(audio, 16000) if audio.sample_rate != 16000 else audio)
    if recognised:
        return mouth_track_from_phones(recognised, loudness, fps, n_frames), loudness, "recognizer"
    return mouth_track_from_energy(audio, fps, n_frames), loudness, "energy"


def render_video(
    renderer: Renderer,
    audio: Audio,
    output: str | Path,
    *,
    phones: Sequence[TimedPhone] | None = None,
    options: RenderOptions | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    warnings: Sequence[str] = (),
) -> RenderResult:
    """Render ``audio`` spoken by ``renderer``'s avatar into ``output`` (MP4).

    ``on_progress`` gets a fraction in [0, 1]; ``should_cancel`` is checked between frames and a
    True answer raises ``RenderCancelled`` with no file left at ``output``.
    """
    options = options or RenderOptions()
    output = Path(output)
    n_frames = frame_count(audio.duration, options.fps)
    mouth, loudness, source = plan_mouth(audio, options.fps, n_frames, phones)
    motion = motion_track(n_frames, options.fps, seed=options.seed, loudness=loudness)
    width, height = renderer.size
    report_every = max(1, n_frames // 100)
    with VideoWriter(output, width, height, options.fps, audio, crf=options.crf) as writer:
        for index, frame in enumerate(renderer.frames(mouth, motion)):
            if should_cancel is not None and should_cancel():
                raise RenderCancelled("the render was cancelled")
            writer.write(frame)
            if on_progress is not None and (index % report_every == 0 or index == n_frames - 1):
                on_progress((index + 1) / n_frames)
    log.info("rendered %s: %d frames, mouth from %s", output, n_frames, source)
    return RenderResult(
        path=output,
        n_frames=n_frames,
        fps=options.fps,
        duration=audio.duration,
        size=(width, height),
        mouth_source=source,
        warnings=list(warnings),
    )
