"""An idle face that stays alive for as long as a stream runs: the engine's seeded blinks and head
drift over a fixed stretch, played forwards then backwards (so it loops without a jump), plus slow
breathing. Speech does not change it, so speaking starts and ends without a jump of the head.
"""

from __future__ import annotations

import math

import numpy as np

from facecast.engine.motion import HEAD_PARAMS, motion_track

#: Length of the stretch that is looped (seconds).
LOOP_SECONDS = 60.0
#: Breathing: one breath every this many seconds, the head rising by this (inter-ocular distances)
#: and growing by this fraction at the top of the breath.
BREATH_PERIOD = 4.2
BREATH_RISE = 0.006
BREATH_SCALE = 0.002

_DY = HEAD_PARAMS.index("dy")
_SCALE = HEAD_PARAMS.index("scale")


class IdleMotion:
    """Blink and head rows for any frame index of an endless stream."""

    def __init__(self, fps: float, *, seed: int = 0) -> None:
        self.fps = fps
        n = int(round(LOOP_SECONDS * fps))
        track = motion_track(n, fps, seed=seed)
        self._blink = track.blink
        self._head = track.head
        self._n = n

    def _index(self, frame: int) -> int:
        period = 2 * self._n - 2
        i = frame % period
        return i if i < self._n else period - i

    def row(self, frame: int) -> tuple[float, np.ndarray]:
        """(blink 0..1, head row) of frame ``frame`` >= 0."""
        i = self._index(max(0, frame))
        head = self._head[i].copy()
        breath = 0.5 - 0.5 * math.cos(2.0 * math.pi * frame / (BREATH_PERIOD * self.fps))
        head[_DY] -= BREATH_RISE * breath
        head[_SCALE] += BREATH_SCALE * breath
        return float(self._blink[i]), head
