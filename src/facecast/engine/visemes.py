"""Timed phones (or bare loudness) to a per-frame mouth shape, with coarticulation.

OWNER: audio-to-mouth helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facecast.engine.audio import Audio
from facecast.engine.phones import TimedPhone

#: Columns of ``MouthTrack.values``. All 0 is the closed, relaxed mouth at rest.
#: jaw: 0 closed .. 1 wide open; width: -1 rounded (oo) .. +1 spread (ee);
#: upper_lip: 0 .. 1 raise of the upper lip (shows upper teeth); lower_lip: -1 tucked under the
#: upper teeth (f, v) .. +1 dropped away from them; press: 0 .. 1 lips pressed together (p, b, m);
#: tongue: 0 .. 1 tongue tip visible behind the upper teeth (t, d, l, th).
MOUTH_PARAMS: tuple[str, ...] = ("jaw", "width", "upper_lip", "lower_lip", "press", "tongue")


@dataclass(frozen=True)
class MouthTrack:
    """Mouth shape for every video frame: ``values`` is float32 [n_frames, len(MOUTH_PARAMS)]."""

    fps: float
    values: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray:
        return self.values[:, MOUTH_PARAMS.index(name)]


def mouth_track_from_phones(
    phones: Sequence[TimedPhone], loudness: np.ndarray, fps: float, n_frames: int
) -> MouthTrack:
    """Visemes from timed phones, blended with coarticulation, scaled by per-frame loudness."""
    raise NotImplementedError


def mouth_track_from_energy(audio: Audio, fps: float, n_frames: int) -> MouthTrack:
    """Fallback for audio the recogniser cannot follow: a mouth driven by loudness and spectrum."""
    raise NotImplementedError
