"""The engine's main entry: a prepared avatar plus speech -> an MP4, with progress and cancellation.

The pipeline is audio -> (phones) -> mouth track + motion track -> renderer frames -> encoder.
A renderer is anything with ``size`` and ``frames(mouth, motion)``: the 2D ``PhotoAnimator`` today,
a neural renderer tomorrow, without touching the rest of the pipeline. Three processes share the
work: this one renders, ffmpeg encodes, and for a renderer that reads its tracks lazily a
pocketsphinx worker recognises the speech piece by piece while the first pieces are rendered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from facecast.engine.audio import Audio, loudness_envelope, resample
from facecast.engine.encode import VideoWriter
from facecast.engine.motion import MotionTrack, motion_track
from facecast.engine.phones import PhoneStream, TimedPhone, recognize_phones
from facecast.engine.visemes import (
    MOUTH_PARAMS,
    MouthTrack,
    mouth_track_from_energy,
    mouth_track_from_phones,
    settled_frames,
)
from facecast.errors import RenderCancelled

log = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]


class Renderer(Protocol):
    """The seam for renderers: the 2D animator today, a neural one later.

    A renderer whose ``frames`` reads row i of the tracks only when frame i is asked for may say
    so with a true ``lazy_tracks`` attribute: its render then starts before the whole mouth track
    is known (the rows are filled in as recognition goes).
    """

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


class _NotFollowed(Exception):
    """The recognised phones turned out not to follow the audio: the mouth follows the loudness."""


class _StreamedMouth:
    """A mouth track filled in, row by row, as a ``PhoneStream`` delivers pieces of the speech.

    ``settle(i)`` returns once row i is final: the rows equal those of ``plan_mouth``, bit for bit.
    Raises ``_NotFollowed`` when the phones do not follow the audio (checked on the first piece
    before anything is shown from them, and on all of them at the end).
    """

    def __init__(self, stream: PhoneStream, loudness: np.ndarray, fps: float, n_frames: int) -> None:
        self.stream = stream
        self.loudness = loudness
        self.fps = fps
        self.n_frames = n_frames
        self.track = MouthTrack(fps=fps, values=np.zeros((n_frames, len(MOUTH_PARAMS)), dtype=np.float32))
        self.settled = 0

    def settle(self, index: int) -> None:
        stream = self.stream
        while self.settled <= index < self.n_frames:
            first = not stream.done and stream.known_until() == 0.0
            known = stream.next_piece()
            while stream.ready():  # and what else has come meanwhile: one track for them all
                known = stream.next_piece()
            if (first and not stream.plausible()) or stream.done:
                # Doubtful from the start, or all in: decide on the whole, as plan_mouth does.
                if not stream.result():
                    raise _NotFollowed
                known = float("inf")
            values = mouth_track_from_phones(stream.phones(), self.loudness, self.fps, self.n_frames).values
            upto = settled_frames(known, self.fps, self.n_frames)
            self.track.values[self.settled : upto] = values[self.settled : upto]
            self.settled = max(self.settled, upto)


def _encode(
    renderer: Renderer,
    mouth: MouthTrack,
    motion: MotionTrack,
    audio: Audio,
    output: Path,
    options: RenderOptions,
    n_frames: int,
    on_progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
    settle: Callable[[int], None] | None = None,
) -> None:
    width, height = renderer.size
    report_every = max(1, n_frames // 100)
    with VideoWriter(output, width, height, options.fps, audio, crf=options.crf) as writer:
        frames = iter(renderer.frames(mouth, motion))
        index = 0
        while True:
            if settle is not None:
                settle(index)
            frame = next(frames, None)
            if frame is None:
                break
            if should_cancel is not None and should_cancel():
                raise RenderCancelled("the render was cancelled")
            writer.write(frame)
            if on_progress is not None and (index % report_every == 0 or index == n_frames - 1):
                on_progress((index + 1) / n_frames)
            index += 1


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
    # OpenCV's own worker threads only add work here: the other core encodes (and recognises).
    # Measured on the 512² animator: the same speed, 10 % less CPU with one thread.
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    stream = None
    try:
        if not phones and getattr(renderer, "lazy_tracks", False):
            loudness = loudness_envelope(audio, options.fps, n_frames)
            if float(loudness.max(initial=0.0)) > 0.0:
                stream = PhoneStream(audio)  # the worker starts now; the encoder and renderer meanwhile
        if stream is not None:
            motion = motion_track(n_frames, options.fps, seed=options.seed, loudness=loudness)
            streamed = _StreamedMouth(stream, loudness, options.fps, n_frames)
            try:
                _encode(renderer, streamed.track, motion, audio, output, options, n_frames,
                        on_progress, should_cancel, settle=streamed.settle)  # fmt: skip
                source = "recognizer"
            except _NotFollowed:
                mouth = mouth_track_from_energy(audio, options.fps, n_frames)
                _encode(renderer, mouth, motion, audio, output, options, n_frames, on_progress, should_cancel)
                source = "energy"
        else:
            mouth, loudness, source = plan_mouth(audio, options.fps, n_frames, phones)
            motion = motion_track(n_frames, options.fps, seed=options.seed, loudness=loudness)
            _encode(renderer, mouth, motion, audio, output, options, n_frames, on_progress, should_cancel)
    finally:
        if stream is not None:
            stream.close()
        cv2.setNumThreads(cv2_threads)
    log.info("rendered %s: %d frames, mouth from %s", output, n_frames, source)
    return RenderResult(
        path=output,
        n_frames=n_frames,
        fps=options.fps,
        duration=audio.duration,
        size=renderer.size,
        mouth_source=source,
        warnings=list(warnings),
    )
