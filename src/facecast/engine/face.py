"""Face landmarks and person segmentation: the only module that imports mediapipe.

OWNER: face-and-pack helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FaceLandmarks:
    """The 478-point face mesh (with irises) of one face, in pixel coordinates of the image given.

    ``points`` is float32 [478, 3]: x, y in pixels, z in the same pixel scale (smaller is nearer).
    ``warnings`` carries notes a user should see (e.g. several faces found, the largest was used).
    """

    points: np.ndarray
    warnings: tuple[str, ...] = field(default_factory=tuple)


def face_landmarks(image: np.ndarray) -> FaceLandmarks:
    """Landmarks of the largest face in an RGB uint8 image; ``NoFaceFound`` when there is none."""
    raise NotImplementedError


def person_mask(image: np.ndarray) -> np.ndarray:
    """Soft person segmentation of an RGB uint8 image: float32 [H, W] in [0, 1], 1 on the person."""
    raise NotImplementedError
