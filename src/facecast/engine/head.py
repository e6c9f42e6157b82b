"""Head motion: a similarity transform of the head that fades into the neck and stays on the person."""

from __future__ import annotations

import cv2
import numpy as np

from facecast.engine import face
from facecast.engine.face import FaceFrame
from facecast.engine.rig import _as_points, _smoothstep

#: Rows per band when the head motion skips the pixels it does not move.
HEAD_BAND_ROWS = 32

#: Pinned ring around the lower face: its distance outside the jaw line at the sides and the chin.
RING_SIDE = 0.32


# =================================================================================================
# Head motion
# =================================================================================================
class HeadMotion:
    """A similarity transform of the head (roll about the neck, shift, scale) that fades into the
    neck and, in full-background mode, to nothing at the edge of the person."""

    def __init__(
        self,
        image_shape: tuple[int, ...],
        landmarks: np.ndarray,
        person_mask: np.ndarray,
        *,
        step: int = 4,
    ) -> None:
        h, w = int(image_shape[0]), int(image_shape[1])
        p = _as_points(landmarks)
        fr = FaceFrame.of(p)
        self.frame = fr
        chin = float(fr.to_face(p[list(face.FACE_OVAL), :2])[:, 1].max())
        corners = fr.to_image(np.array([[-2.6, -3.0], [2.6, -3.0], [2.6, chin + 1.5], [-2.6, chin + 1.5]]))
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
        x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
        self.box = (x0, y0, x1, y1)
        bw, bh = x1 - x0, y1 - y0
        wl, hl = max(2, -(-bw // step)), max(2, -(-bh // step))
        xs = x0 + (np.arange(wl) + 0.5) * bw / wl - 0.5
        ys = y0 + (np.arange(hl) + 0.5) * bh / hl - 0.5
        lx, ly = np.meshgrid(xs, ys)
        qy = fr.to_face(np.stack([lx, ly], axis=-1))[..., 1]
        weight = 1.0 - _smoothstep(chin - 0.05, chin + 0.7, qy)
        # Fade to nothing at the sides of the box that are inside the picture.
        ramp = max(0.3 * fr.iod, 2.0)
        for d, inside in ((lx - x0, x0 > 0), (x1 - 1 - lx, x1 < w), (ly - y0, y0 > 0), (y1 - 1 - ly, y1 < h)):
            if inside:
                weight = weight * _smoothstep(0.0, ramp, d)
        person = (np.asarray(person_mask, dtype=np.float32)[y0:y1, x0:x1] > 0.5).astype(np.float32)
        cover = cv2.resize(person, (wl, hl), interpolation=cv2.INTER_AREA)
        r = max(1, int(round(0.3 * fr.iod / step)))
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 3, 2 * r + 3))
        # Only lo-res cells wholly on the person, shrunk so the blur and the upsampling stay inside:
        # the head moves and the background beside it does not bend (in either framing).
        inside_cells = (cover >= 0.999).astype(np.uint8)
        gate = cv2.erode(inside_cells, disk, borderType=cv2.BORDER_CONSTANT, borderValue=(1.0,)).astype(
            np.float32
        )
        gate = np.asarray(
            cv2.GaussianBlur(gate, (2 * r + 1, 2 * r + 1), r / 2.0, borderType=cv2.BORDER_REPLICATE),
            np.float32,
        )
        gate[cv2.erode(inside_cells, np.ones((3, 3), np.uint8)) == 0] = 0.0
        a = (weight * gate).astype(np.float32)
        self._a = a
        self._ax = (a * lx).astype(np.float32)
        self._ay = (a * ly).astype(np.float32)
        self._gx, self._gy = np.meshgrid(
            np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)
        )
        self.pivot = fr.to_image(np.array([0.0, chin + 0.35]))
        # Where the head moves at all (a > 0 once upsampled), as bands of rows with their column
        # span: pixels outside them would map exactly onto themselves, so remapping skips them.
        support = cv2.resize(a, (bw, bh), interpolation=cv2.INTER_LINEAR) > 0
        self._bands: list[tuple[int, int, int, int]] = []
        for r0 in range(0, bh, HEAD_BAND_ROWS):
            cols = np.flatnonzero(support[r0 : r0 + HEAD_BAND_ROWS].any(axis=0))
            if cols.size:
                self._bands.append((r0, min(r0 + HEAD_BAND_ROWS, bh), int(cols[0]), int(cols[-1]) + 1))

    def maps(self, head: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Absolute sampling maps over ``box`` for one row of the motion track, None when still."""
        row = np.nan_to_num(np.asarray(head, dtype=np.float64).ravel())
        roll, dx, dy, scale = (list(row[:4]) + [0.0, 0.0, 0.0, 1.0][row.size :])[:4]
        scale = float(np.clip(scale, 0.5, 2.0)) if scale > 0 else 1.0
        if abs(roll) < 1e-3 and abs(dx) < 1e-4 and abs(dy) < 1e-4 and abs(scale - 1.0) < 1e-5:
            return None
        th = np.radians(roll)
        c, s = np.cos(th), np.sin(th)
        rot_t = np.array([[c, s], [-s, c]])  # inverse of the clockwise-on-screen rotation
        t = np.array([dx, dy]) * self.frame.iod
        k = rot_t / scale - np.eye(2)
        k0 = self.pivot - rot_t @ (self.pivot + t) / scale
        dxl = k[0, 0] * self._ax + k[0, 1] * self._ay + k0[0] * self._a
        dyl = k[1, 0] * self._ax + k[1, 1] * self._ay + k0[1] * self._a
        x0, y0, x1, y1 = self.box
        size = (x1 - x0, y1 - y0)
        mx = cv2.resize(dxl.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        my = cv2.resize(dyl.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
        mx += self._gx
        my += self._gy
        return mx, my

    def apply(self, out: np.ndarray, head: np.ndarray) -> None:
        """Move the head of ``out`` in place by one row of the motion track (roll, dx, dy, scale)."""
        got = self.maps(head)
        if got is None:
            return
        mx, my = got
        x0, y0, x1, y1 = self.box
        moved = np.empty((y1 - y0, x1 - x0, 3), dtype=np.uint8)
        for r0, r1, c0, c1 in self._bands:  # sampled from ``out`` as it was, so written afterwards
            cv2.remap(
                out,
                mx[r0:r1, c0:c1],
                my[r0:r1, c0:c1],
                cv2.INTER_LINEAR,
                dst=moved[r0:r1, c0:c1],
                borderMode=cv2.BORDER_REPLICATE,
            )
        for r0, r1, c0, c1 in self._bands:
            out[y0 + r0 : y0 + r1, x0 + c0 : x0 + c1] = moved[r0:r1, c0:c1]

