"""The avatar pack: everything computed once from a portrait, cached and reused by every render.

OWNER: face-and-pack helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Smallest face (inter-ocular distance in source pixels) the animator can work with.
MIN_EYE_DISTANCE_PX = 24
#: Refuse images with more pixels than this before decoding them fully (decompression bombs).
MAX_SOURCE_PIXELS = 50_000_000


@dataclass
class AvatarPack:
    """A prepared photo avatar, in the framing of the output video.

    ``image`` uint8 [H, W, 3] RGB (H and W even); ``landmarks`` float32 [478, 3] in its pixels;
    ``person_mask`` float32 [H, W] in [0, 1]; ``crop_box`` (x0, y0, x1, y1) of the framing in the
    source picture's pixels; ``full_background`` says which generation mode it was prepared for.
    """

    image: np.ndarray
    landmarks: np.ndarray
    person_mask: np.ndarray
    full_background: bool
    crop_box: tuple[int, int, int, int]
    source_size: tuple[int, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output frames."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    def save(self, path: str | Path) -> None:
        """Write the pack to one ``.npz`` file, atomically."""
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | Path) -> AvatarPack:
        raise NotImplementedError


def prepare_avatar(
    image: str | Path | np.ndarray,
    *,
    full_background: bool = False,
    size: int = 512,
    max_side: int = 1920,
) -> AvatarPack:
    """Prepare a portrait for rendering.

    Face-cropped (default): a ``size`` x ``size`` square of head and shoulders around the face.
    Full background: the whole picture, long side capped at ``max_side``, dimensions made even.
    Raises ``UnreadableImage``, ``ImageTooLarge``, ``ImageTooSmall`` (the message says the
    minimum), ``NoFaceFound``; several faces use the largest and add a warning.
    """
    raise NotImplementedError
