"""One spoken sentence as the live stream plays it: 48 kHz audio cut to whole video frames and the
mouth row of every frame, so sound and lips share one clock (frame k is samples k*1920 ...).

A script is planned sentence by sentence as the voice speaks it: each sentence's phones feed the
engine's viseme planner on their own, so the first sentence plays while the next is synthesised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facecast.engine.audio import Audio, loudness_envelope
from facecast.engine.phones import TimedPhone
from facecast.engine.visemes import MOUTH_PARAMS, mouth_track_from_energy, mouth_track_from_phones

#: Video frames per second of a live stream.
FPS = 25
#: Audio sample rate of a live stream (Opus' own rate: no resampling in the encoder).
SAMPLE_RATE = 48000
#: Audio samples per video frame (exact at 48 kHz and 25 fps).
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
#: Width of a mouth row (``engine.visemes.MOUTH_PARAMS``).
MOUTH_WIDTH = len(MOUTH_PARAMS)
#: A voice's leading silence is cut down to this many frames before the first sound: enough for
#: the lips' anticipation of the first phone, no longer a wait after ``speak``.
LEAD_FRAMES = 2
#: Samples quieter than this (full scale) count as silence when cutting the lead.
SILENCE_LEVEL = 10 ** (-50 / 20)


@dataclass(frozen=True)
class LivePart:
    """A stretch of speech ready to play: ``samples`` float32 mono at ``SAMPLE_RATE``, exactly
    ``n_frames * SAMPLES_PER_FRAME`` long; ``mouth`` float32 [n_frames, MOUTH_WIDTH]."""

    samples: np.ndarray
    mouth: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.mouth.shape[0])

    @property
    def duration(self) -> float:
        return self.n_frames / FPS


def _frame_aligned(audio: Audio) -> tuple[np.ndarray, int, Audio]:
    """The audio at ``SAMPLE_RATE``, zero-padded to whole frames; its frame count; the padded Audio."""
    samples = np.clip(_at_live_rate(audio), -1.0, 1.0)
    n_frames = max(1, -(-len(samples) // SAMPLES_PER_FRAME))
    padded = np.zeros(n_frames * SAMPLES_PER_FRAME, dtype=np.float32)
    padded[: len(samples)] = samples
    return padded, n_frames, Audio(samples=padded, sample_rate=SAMPLE_RATE)


def _at_live_rate(audio: Audio) -> np.ndarray:
    """The samples at ``SAMPLE_RATE`` by libswresample (PyAV): a few ms for a sentence, where the
    engine's exact polyphase resampler takes tens to hundreds, which a listener would wait for."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    if audio.sample_rate == SAMPLE_RATE or not len(samples):
        return samples
    import av

    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = int(audio.sample_rate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    out = [f.to_ndarray().reshape(-1) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(out).astype(np.float32) if out else np.zeros(0, dtype=np.float32)


def plan_speech(audio: Audio, phones: Sequence[TimedPhone]) -> LivePart:
    """A sentence a voice spoke, with its own phone timings: visemes with coarticulation."""
    samples, n_frames, padded = _frame_aligned(audio)
    loud = loudness_envelope(padded, FPS, n_frames)
    track = mouth_track_from_phones(phones, loud, FPS, n_frames)
    return _trim_lead(LivePart(samples=samples, mouth=_closed_ends(track.values)))


def plan_audio(audio: Audio) -> LivePart:
    """Uploaded speech without phones: the mouth follows its loudness and brightness."""
    samples, n_frames, padded = _frame_aligned(audio)
    track = mouth_track_from_energy(padded, FPS, n_frames)
    return _trim_lead(LivePart(samples=samples, mouth=_closed_ends(track.values)))


def _closed_ends(values: np.ndarray) -> np.ndarray:
    """The first and last row at rest: a part always starts and ends where the idle face is, so
    speech starts without a jump and one part meets the next closed."""
    out = np.asarray(values, dtype=np.float32).copy()
    if len(out):
        out[0] = 0.0
        out[-1] = 0.0
    return out


def _trim_lead(part: LivePart) -> LivePart:
    """``part`` without the silent frames before its first sound beyond ``LEAD_FRAMES``."""
    loud = np.flatnonzero(np.abs(part.samples) > SILENCE_LEVEL)
    if not len(loud):
        return part
    cut = max(0, int(loud[0]) // SAMPLES_PER_FRAME - LEAD_FRAMES)
    if cut == 0:
        return part
    mouth = part.mouth[cut:].copy()
    mouth[0] = 0.0
    return LivePart(samples=part.samples[cut * SAMPLES_PER_FRAME :], mouth=mouth)
