"""The 2D animator: a prepared portrait plus per-frame mouth, blink and head pose -> video frames.

OWNER: animator helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from facecast.engine.motion import MotionTrack
from facecast.engine.pack import AvatarPack
from facecast.engine.visemes import MouthTrack


class PhotoAnimator:
    """Landmark-driven warping of one portrait. Construction precomputes; ``frame`` is the hot path."""

    def __init__(self, pack: AvatarPack) -> None:
        raise NotImplementedError

    def frame(self, mouth: np.ndarray, blink: float, head: np.ndarray) -> np.ndarray:
        """One RGB uint8 frame the size of ``pack.image`` for one row of the mouth and motion tracks."""
        raise NotImplementedError

    def frames(self, mouth: MouthTrack, motion: MotionTrack) -> Iterator[np.ndarray]:
        for i in range(mouth.n_frames):
            yield self.frame(mouth.values[i], float(motion.blink[i]), motion.head[i])
