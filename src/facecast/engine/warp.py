"""Piecewise-affine warping of one region of a picture over mesh triangles, and edge softening."""

from __future__ import annotations

import cv2
import numpy as np

#: Landmark displacements below this (pixels) count as still.
STILL_PX = 0.08

IVORY = (1.0, 0.94, 0.8)
TEETH_OVER_SKIN = 1.3


# =================================================================================================
# Piecewise-affine warping of one region
# =================================================================================================
class MeshWarp:
    """Backward piecewise-affine map of one rectangle of a picture over a fixed set of triangles.

    ``maps(src, dst)`` gives, for every pixel of the part of the rectangle that moves, where to
    sample the source picture (absolute pixel coordinates, for ``cv2.remap``). Triangles whose
    corners do not move are skipped; pixels outside all moving triangles map to themselves.

    Per frame: one small table of affine maps (one row per moving triangle), the triangle-id image
    (one ``fillConvexPoly`` per triangle, in order), and the per-pixel maps from a single gather of
    the table by that image (``cv2.remap`` with nearest sampling) and two multiply-adds.
    """

    def __init__(
        self, triangles: np.ndarray, points: np.ndarray, image_shape: tuple[int, ...], margin: int = 2
    ):
        self.triangles = np.asarray(triangles, dtype=np.intp)
        h, w = int(image_shape[0]), int(image_shape[1])
        used = np.asarray(points, dtype=np.float64)[np.unique(self.triangles)]
        x0, y0 = np.floor(used.min(axis=0)).astype(int) - margin
        x1, y1 = np.ceil(used.max(axis=0)).astype(int) + margin + 1
        self.box = (max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h))
        bx0, by0, bx1, by1 = self.box
        self._gx, self._gy = np.meshgrid(
            np.arange(bx0, bx1, dtype=np.float32), np.arange(by0, by1, dtype=np.float32)
        )
        shape = (max(by1 - by0, 1), max(bx1 - bx0, 1))
        # Triangle ids as float32: the x map of the gather (its y map is all zeros).
        self._idx = np.zeros(shape, dtype=np.float32)
        self._zeros = np.zeros(shape, dtype=np.float32)
        self._corner = [self.triangles[:, k].copy() for k in range(3)]

    def maps(
        self, src: np.ndarray, dst: np.ndarray, still_px: float = STILL_PX
    ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]] | None:
        """(map_x, map_y, (x0, y0, x1, y1)) of the moving sub-rectangle, or None if nothing moves."""
        src = np.asarray(src, dtype=np.float64)
        dst = np.asarray(dst, dtype=np.float64)
        # A triangle moves when one of its corners does (by more than ``still_px`` along x or y).
        step = np.abs(dst - src)
        step = np.maximum(step[:, 0], step[:, 1])
        c0, c1, c2 = self._corner
        sel = np.flatnonzero(np.maximum(np.maximum(step[c0], step[c1]), step[c2]) > still_px)
        if sel.size == 0:
            return None
        tri = self.triangles[sel]
        ts, td = src[tri], dst[tri]
        bx0, by0, bx1, by1 = self.box
        xs = np.concatenate([ts[:, :, 0].ravel(), td[:, :, 0].ravel()])
        ys = np.concatenate([ts[:, :, 1].ravel(), td[:, :, 1].ravel()])
        x0, x1 = max(int(np.floor(xs.min())) - 1, bx0), min(int(np.ceil(xs.max())) + 2, bx1)
        y0, y1 = max(int(np.floor(ys.min())) - 1, by0), min(int(np.ceil(ys.max())) + 2, by1)
        if x1 <= x0 or y1 <= y0:
            return None
        n = len(sel)
        # Affine dst -> src per triangle, closed form (batched LAPACK is slow on 3 x 3 systems):
        # src = s0 + F @ inv(E) @ (dst - d0), with E, F the triangles' edge vectors as columns.
        d0, s0 = td[:, 0], ts[:, 0]
        e = td[:, 1:] - td[:, :1]  # rows: e1, e2
        f = ts[:, 1:] - ts[:, :1]
        det = e[:, 0, 0] * e[:, 1, 1] - e[:, 1, 0] * e[:, 0, 1]
        good = np.abs(det) > 2e-2
        inv = 1.0 / np.where(good, det, 1.0)
        # inv(E) = [[e2y, -e2x], [-e1y, e1x]] / det; A = F @ inv(E), one 2 x 2 per triangle.
        inv_e = np.empty((n, 2, 2))
        inv_e[:, 0, 0] = e[:, 1, 1]
        inv_e[:, 0, 1] = -e[:, 1, 0]
        inv_e[:, 1, 0] = -e[:, 0, 1]
        inv_e[:, 1, 1] = e[:, 0, 0]
        inv_e *= inv[:, None, None]
        # a[:, i, j] = d(src i) / d(dst j)
        a = f[:, 0, :, None] * inv_e[:, None, 0, :] + f[:, 1, :, None] * inv_e[:, None, 1, :]
        # Table row per triangle: (d sx/dx, d sy/dx, d sx/dy, d sy/dy, sx at 0, sy at 0); the last
        # row is the identity, for pixels no triangle covers.
        table = np.zeros((1, n + 1, 6))
        table[0, :n, 0:2] = a[:, :, 0]
        table[0, :n, 2:4] = a[:, :, 1]
        table[0, :n, 4:6] = s0 - a[:, :, 0] * d0[:, 0, None] - a[:, :, 1] * d0[:, 1, None]
        table[0, n, 0] = table[0, n, 3] = 1.0
        idx = self._idx[: y1 - y0, : x1 - x0]
        idx.fill(float(n))
        fill = cv2.fillConvexPoly
        corners = np.round((td - (x0, y0)) * 16.0).astype(np.int32)
        for k in np.flatnonzero(good).tolist():  # in the given order: later triangles cover earlier ones
            fill(idx, corners[k], k, cv2.LINE_8, 4)
        per_pixel = cv2.remap(
            table.astype(np.float32), idx, self._zeros[: y1 - y0, : x1 - x0], cv2.INTER_NEAREST
        )
        ax, ay, bx, by, cx, cy = cv2.split(per_pixel)
        gx = self._gx[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        gy = self._gy[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        ax *= gx
        bx *= gy
        ax += bx
        ax += cx
        ay *= gx
        by *= gy
        ay += by
        ay += cy
        return ax, ay, (x0, y0, x1, y1)



def _soften_along(roi: np.ndarray, line: np.ndarray) -> None:
    """Anti-alias an occluding edge (e.g. the sliding lid's margin) in place: blur 1 px along it."""
    mask = np.zeros(roi.shape[:2], dtype=np.uint8)
    cv2.polylines(mask, [np.round(line * 16.0).astype(np.int32)], False, (255,), 2, cv2.LINE_AA, 4)
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return
    y0, y1, x0, x1 = max(ys.min() - 1, 0), ys.max() + 2, max(xs.min() - 1, 0), xs.max() + 2
    part = roi[y0:y1, x0:x1]
    a = (mask[y0:y1, x0:x1].astype(np.float32) / 255.0)[..., None]
    soft = cv2.GaussianBlur(part, (3, 3), 0.8).astype(np.float32)
    part[:] = (part * (1.0 - a) + soft * a + 0.5).astype(np.uint8)

