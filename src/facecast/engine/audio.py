"""Speech audio in memory: decoding any file PyAV can read, resampling, loudness per video frame.

OWNER: audio-to-mouth helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def load_audio(path: str | Path, *, max_seconds: float | None = None) -> Audio:
    """Decode an audio file (WAV, MP3, FLAC, OGG, M4A, or a video's audio track) to mono float32.

    Raises ``UnreadableAudio`` (missing, not audio, no audio stream, zero samples) and
    ``AudioTooLong`` (longer than ``max_seconds``; the message names the limit).
    """
    raise NotImplementedError


def resample(audio: Audio, sample_rate: int) -> Audio:
    """The same audio at another sample rate (band-limited, not nearest-sample)."""
    raise NotImplementedError


def loudness_envelope(audio: Audio, fps: float, n_frames: int) -> np.ndarray:
    """Per video frame loudness, float32 [n_frames] in [0, 1]: 0 is silence, ~1 is loud speech."""
    raise NotImplementedError
