"""The closed eyelid made of lid skin.

The blink slides the upper lid down by warping it, which stretches whatever lies above the lid's
margin over the eye: on many faces that is the crease's shadow or the eyebrow, and the closed lid
looks smeared. Over the part of the eye the lid now covers, the low frequencies (the colour and
light) are replaced by the lid skin's own, sampled once around the eye, while the fine texture of
the warp is kept, shaded a little darker toward the lashes.
"""

from __future__ import annotations

import cv2
import numpy as np

from facecast.engine.face import FaceFrame
from facecast.engine.mouth import _luma
from facecast.engine.rig import FaceRig, _as_points, _interp_curve

#: Where the lid skin is sampled: a band above the upper lid's margin and one under the lower lid
#: (eye distances), both as wide as the eye.
ABOVE_BAND = (0.05, 0.12)
BELOW_BAND = (0.06, 0.14)
#: Texture kept from the warp (its detail above a blur of this many eye distances).
DETAIL_SIGMA = 0.025
DETAIL_KEEP = 0.6
#: The lid is a little darker than the skin around the eye, and its top edge fades over this many
#: eye distances above the lid's margin at rest (where the stretched skin above it smears most).
LID_SHADE = 0.93
TOP_FADE = 0.05


def _band_colour(image: np.ndarray, fr: FaceFrame, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Median colour of the picture along the face-frame curve (xs, ys)."""
    xy = fr.to_image(np.stack([xs, ys], axis=-1)[None]).astype(np.float32)
    px = cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.median(px.reshape(-1, 3).astype(np.float32), axis=0)


class LidSkin:
    """Lid-skin colours of one picture's eyes, and the painting of the lids a blink closes."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, rig: FaceRig) -> None:
        p = _as_points(landmarks)
        fr = FaceFrame.of(p)
        self.rig = rig
        self.iod = fr.iod
        self._raise = -TOP_FADE * fr.iod * fr.axes[1]  # up the face, in image pixels
        q = fr.to_face(p[:, :2])
        self.colours: list[np.ndarray] = []
        for upper, lower in rig.eyes:
            xs = np.linspace(q[upper[0], 0], q[upper[-1], 0], 16)[2:-2]
            colours = []
            for chain, (d0, d1), sign in ((upper, ABOVE_BAND, -1.0), (lower, BELOW_BAND, 1.0)):
                edge = _interp_curve(xs, q[chain, 0], q[chain, 1])
                for d in np.linspace(d0, d1, 4):
                    colours.append(_band_colour(image, fr, xs, edge + sign * d))
            c = np.array(colours)
            # Not the darkest samples (the brow, the lashes, the crease's shadow) nor the brightest
            # (a glint, the lit cheek): lid skin is in between, a shade darker than the cheek.
            lum = _luma(c)
            keep = (lum >= np.percentile(lum, 40)) & (lum <= np.percentile(lum, 85))
            self.colours.append((LID_SHADE * np.median(c[keep], axis=0)).astype(np.float32))

    def paint(self, out: np.ndarray, src: np.ndarray, dst: np.ndarray, blink: float) -> None:
        """Over what each upper lid now covers (between its margin at rest and where it is), lid skin."""
        sigma = max(DETAIL_SIGMA * self.iod, 0.8)
        for (upper, _lower), colour in zip(self.rig.eyes, self.colours, strict=True):
            poly = np.concatenate([src[upper] + self._raise, dst[upper][::-1]])
            x0, y0 = np.maximum(np.floor(poly.min(axis=0)).astype(int) - 3, 0)
            x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 4
            x1, y1 = min(int(x1), out.shape[1]), min(int(y1), out.shape[0])
            if x1 - x0 < 3 or y1 - y0 < 2:
                continue
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.fillPoly(mask, [np.round((poly - (x0, y0)) * 16).astype(np.int32)], (255,), cv2.LINE_AA, 4)
            a = cv2.GaussianBlur(mask, (0, 0), max(0.5 * TOP_FADE * self.iod, 0.8)).astype(np.float32) / 255.0
            a *= float(np.clip(blink * 1.5, 0.0, 1.0))
            part = out[y0:y1, x0:x1].astype(np.float32)
            detail = part - cv2.GaussianBlur(part, (0, 0), sigma)
            # A little darker toward the lashes (the new margin), as a lid curving over the eye.
            margin_y = _interp_curve(np.arange(x0, x1, dtype=np.float64), dst[upper, 0], dst[upper, 1])
            rows = np.arange(y0, y1, dtype=np.float32)[:, None]
            near = np.clip(1.0 - (margin_y[None, :] - rows) / max(0.08 * self.iod, 1.0), 0.0, 1.0)
            shade = (1.0 - 0.18 * near)[..., None]
            lid = colour * shade + DETAIL_KEEP * detail
            out[y0:y1, x0:x1] = np.clip(part * (1.0 - a[..., None]) + lid * a[..., None] + 0.5, 0, 255).astype(np.uint8)
