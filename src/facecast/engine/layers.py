"""The inside of a portrait's open mouth as two layers that ride the jaws.

A portrait that shows its teeth (or tongue) at rest keeps them: the opening is split along the
edge of the upper teeth into an upper layer, which rides the upper lip, and a lower layer, which
rides the lower lip and the jaw. They are warped with the rest of the mesh, so the photo's own
teeth move and are never cut by a painted hole; the cavity is painted only in the gap that opens
between the two layers, and when the lips close the upper layer passes in front of the lower one
and the lips cover both.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecast.engine.face import FaceFrame
from facecast.engine.mouth import _luma
from facecast.engine.rig import FaceRig, _as_points, _interp_curve, _zip_strip

#: Where the split lies when the photo's upper teeth cannot be followed: this share of the gap
#: down from the upper lip; and the least and most share the upper layer takes in any column.
DEFAULT_SPLIT = 0.55
MIN_SPLIT, MAX_SPLIT = 0.3, 0.85
#: The least difference of mean brightness (0-255) above and below a split that marks the edge of
#: the upper teeth.
EDGE_CONTRAST = 12.0


def teeth_split(image: np.ndarray, landmarks: np.ndarray, rig: FaceRig) -> np.ndarray:
    """Per interior point of the upper inner lip: the share of the gap below it that the upper
    teeth fill (down to their biting edge), smoothed along the mouth."""
    p = _as_points(landmarks)
    fr = FaceFrame.of(p)
    q = fr.to_face(p[:, :2])
    iu, il = rig.inner_upper, rig.inner_lower
    xs = q[iu[1:-1], 0]
    top = q[iu[1:-1], 1]
    bottom = _interp_curve(xs, q[il, 0], q[il, 1])
    gap = np.maximum(bottom - top, 1e-6)
    steps = np.linspace(0.0, 1.0, 24)
    grid = np.stack([np.repeat(xs[:, None], steps.size, 1), top[:, None] + gap[:, None] * steps[None, :]], -1)
    xy = fr.to_image(grid).astype(np.float32)
    px = cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lum = _luma(px.astype(np.float32))
    # The biting edge of the upper teeth is where the column turns from light (teeth) to dark (the
    # cavity, or lower teeth in shadow): the split that best separates a light top from a darker
    # bottom. Gaps between teeth and a ragged edge only lower the contrast, not move the split.
    cum = np.cumsum(lum, axis=1)
    n = steps.size
    ks = np.arange(int(MIN_SPLIT * n), int(MAX_SPLIT * n) + 1)
    above = cum[:, ks - 1] / ks
    below = (cum[:, -1:] - cum[:, ks - 1]) / (n - ks)
    contrast = above - below
    best = np.argmax(contrast, axis=1)
    strong = contrast[np.arange(len(best)), best] > EDGE_CONTRAST
    split = np.where(strong, ks[best] / n, DEFAULT_SPLIT)
    if strong.sum() >= max(2, strong.size // 3):
        split = np.where(strong, split, np.median(split[strong]))
    split = np.clip(split, MIN_SPLIT, MAX_SPLIT)
    kernel = np.array([0.25, 0.5, 0.25])
    return np.asarray(np.convolve(np.pad(split, 1, mode="edge"), kernel, mode="valid"), dtype=np.float64)


class MouthLayers:
    """The split of one portrait's opening: extra warp vertices (the split line twice, once for
    each layer) appended after the rig's, and the triangles of the two layers.

    ``base`` is the index of the first extra vertex in the warp's vertex array."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, rig: FaceRig, base: int) -> None:
        p = _as_points(landmarks)
        self.rig = rig
        iu, il = rig.inner_upper, rig.inner_lower
        share = teeth_split(image, p, rig)
        upper = p[iu[1:-1], :2]
        fr = FaceFrame.of(p)
        q = fr.to_face(p[:, :2])
        lower_y = _interp_curve(q[iu[1:-1], 0], q[il, 0], q[il, 1])
        lower = fr.to_image(np.stack([q[iu[1:-1], 0], lower_y], axis=-1))
        self.points = upper + share[:, None] * (lower - upper)
        n = len(self.points)
        self.upper_ids = list(range(base, base + n))
        self.lower_ids = list(range(base + n, base + 2 * n))
        # Each split point's column on the lower lip, as a position along it (for its motion).
        self._x = q[iu[1:-1], 0]
        left, right = iu[0], iu[-1]
        t_u = np.arange(len(iu), dtype=np.float64)
        up_split = [left, *self.upper_ids, right]
        lo_split = [left, *self.lower_ids, right]
        # The lower lip's chain by the same columns: parametrise it by x.
        t_l = np.interp(q[il, 0], q[iu, 0], t_u)
        lower_strip = _zip_strip(lo_split, list(il), t_u, t_l)
        upper_strip = _zip_strip(list(iu), up_split, t_u, t_u)
        # The lower layer first: the upper teeth pass in front of the lower ones when they meet.
        self.triangles = np.array(lower_strip + upper_strip, dtype=np.int32)
        self._q_il = q[il, 0]

    def source_points(self) -> np.ndarray:
        """The extra vertices where the portrait has them: the split line, once for each layer."""
        return np.concatenate([self.points, self.points])

    def target_points(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Where the extra vertices go when the rig's vertices move from ``src`` to ``dst``: each
        layer's split point moves with its own lip (the upper with the upper lip above it, the
        lower with the lower lip below it)."""
        iu, il = self.rig.inner_upper, self.rig.inner_lower
        move_u = dst[iu[1:-1]] - src[iu[1:-1]]
        move_l_chain = dst[il] - src[il]
        order = np.argsort(self._q_il, kind="stable")
        move_l = np.stack(
            [np.interp(self._x, self._q_il[order], move_l_chain[order, k]) for k in (0, 1)], axis=-1
        )
        return np.concatenate([self.points + move_u, self.points + move_l])

    def gap(self, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The gap that opened between the layers: (upper edge, lower edge) as image points from
        corner to corner, for the painter."""
        iu = self.rig.inner_upper
        up = np.concatenate([dst[[iu[0]]], dst[self.upper_ids], dst[[iu[-1]]]])
        lo = np.concatenate([dst[[iu[0]]], dst[self.lower_ids], dst[[iu[-1]]]])
        return up[:, :2], lo[:, :2]
