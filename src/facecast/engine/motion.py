"""Life besides the mouth: seeded blinks and small head motion, per video frame.

OWNER: audio-to-mouth helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Columns of ``MotionTrack.head``: roll in degrees (positive turns the head clockwise on screen),
#: shift x and y as fractions of the inter-ocular distance, and scale (1.0 = unchanged).
HEAD_PARAMS: tuple[str, ...] = ("roll", "dx", "dy", "scale")


@dataclass(frozen=True)
class MotionTrack:
    """``blink`` float32 [n] (0 open .. 1 closed); ``head`` float32 [n, len(HEAD_PARAMS)]."""

    fps: float
    blink: np.ndarray
    head: np.ndarray


def motion_track(n_frames: int, fps: float, *, seed: int, loudness: np.ndarray | None = None) -> MotionTrack:
    """Blinks every 2-6 s and slow 1-3 degree head motion with small nods on loud syllables."""
    raise NotImplementedError
