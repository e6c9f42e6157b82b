"""The 2D animator: a prepared portrait plus per-frame mouth, blink and head pose -> video frames.

Landmark-driven and weight-free. The lower face and the eyelids are warped piecewise-affinely over
the face mesh (only where something moves, with a pinned ring so nothing outside moves), the inside
of the mouth is painted within the new inner-lip contour, and the head moves by a similarity
transform that fades into the neck. ``FaceRig`` and ``FaceWarper`` work on any picture with
landmarks, so video avatars re-sync the mouth of each recorded frame with the same code.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from facecast.engine import face
from facecast.engine.motion import MotionTrack
from facecast.engine.pack import AvatarPack
from facecast.engine.visemes import MOUTH_PARAMS, MouthTrack

log = logging.getLogger(__name__)

# --- Shape of the face model, in inter-ocular distances (IOD) of the face-aligned frame. ---------
#: Drop of the lower lip's middle at jaw = 1 (the chin and jaw line follow, by their depth).
JAW_DROP = 0.30
#: Raise of the upper lip's middle at upper_lip = 1.
UPPER_RAISE = 0.065
#: Drop of the lower lip's middle at lower_lip = +1 (at -1 it tucks up to the upper teeth's edge).
LOWER_DROP = 0.07
#: Mouth width change: rounding pulls the lip points this fraction toward the middle; spreading
#: pushes them out by this fraction.
ROUND_SQUEEZE = 0.33
SPREAD_STRETCH = 0.12
#: Where the lips meet when pressed: this fraction of the gap from the upper lip.
PRESS_MEET = 0.4
#: How far the pressed upper lip laps over the lower one (covers seams between the two contours).
PRESS_OVERLAP = 0.015
#: Where the eyelids meet when closed: this fraction of the lid gap above the lower lid.
LID_MEET = 0.2
#: How far the lid skin just above the upper lid's margin follows it down (fraction).
LID_FOLLOW = 0.65
#: Upper teeth showing below the rest position of the upper lip (their edge), and gum above it.
TEETH_SHOW = 0.075
GUM_ABOVE = 0.05
#: Lower teeth showing above the lower lip when the jaw opens wide / the lower lip drops.
LOWER_TEETH_SHOW = 0.03
#: Projected widths of the upper teeth from the middle out (incisors, lateral, canine, premolars)
#: and how much shorter each is than the front ones; the same for the lower teeth.
UPPER_TEETH_WIDTHS = (0.125, 0.095, 0.08, 0.065, 0.055, 0.05)
UPPER_TEETH_SHORTER = (0.0, 0.01, 0.004, 0.012, 0.016, 0.02)
LOWER_TEETH_WIDTHS = (0.075, 0.07, 0.07, 0.06, 0.055)
LOWER_TEETH_SHORTER = (0.0, 0.003, 0.0, 0.008, 0.012)
#: Light on the teeth by their distance from the middle: the side teeth turn away along the arch,
#: into the mouth's shadow.
TEETH_RECEDE_AT = (0.0, 0.1, 0.2, 0.28, 0.36, 0.44, 0.52)
TEETH_RECEDE = (1.0, 0.97, 0.87, 0.7, 0.5, 0.34, 0.2)
#: The lower teeth are in the upper ones' and the upper lip's shadow.
LOWER_TEETH_DIM = 0.62
#: Drawn teeth: warm ivory relative to the scene's white, and their brightness relative to the skin.
IVORY = (1.0, 0.94, 0.8)
TEETH_OVER_SKIN = 1.3
#: Pinned ring around the lower face: its distance outside the jaw line at the sides and the chin.
RING_SIDE = 0.32
RING_CHIN = 0.40
#: Landmark displacements below this (pixels) count as still.
STILL_PX = 0.08
#: Rows per band when the head motion skips the pixels it does not move.
HEAD_BAND_ROWS = 32

_JAW, _WIDTH, _UPPER, _LOWER, _PRESS, _TONGUE = (
    MOUTH_PARAMS.index(n) for n in ("jaw", "width", "upper_lip", "lower_lip", "press", "tongue")
)


def _smoothstep(e0: float, e1: float, x: np.ndarray | float) -> np.ndarray:
    t = np.clip((np.asarray(x, dtype=np.float32) - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _as_points(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks as float64 [N, 3] (z = 0 when only x, y are given)."""
    p = np.asarray(landmarks, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 468 or p.shape[1] < 2:
        raise ValueError(f"expected face-mesh landmarks [478, 3], got shape {p.shape}")
    if p.shape[1] == 2:
        p = np.concatenate([p, np.zeros((p.shape[0], 1))], axis=1)
    return p[:, :3]


def mouth_vector(mouth: Sequence[float] | np.ndarray) -> np.ndarray:
    """One row of a mouth track as float64 [len(MOUTH_PARAMS)], clipped to the documented ranges."""
    m = np.zeros(len(MOUTH_PARAMS))
    row = np.nan_to_num(np.asarray(mouth, dtype=np.float64).ravel()[: len(MOUTH_PARAMS)])
    m[: row.size] = row
    lo = np.array([0.0, -1.0, 0.0, -1.0, 0.0, 0.0])
    return np.clip(m, lo, 1.0)


# =================================================================================================
# Face-aligned frame
# =================================================================================================
@dataclass(frozen=True)
class FaceFrame:
    """A face-aligned frame: origin between the eyes, x along the eye line (image-right for an
    upright face), y toward the mouth, unit = inter-ocular distance ``iod`` (pixels)."""

    origin: np.ndarray
    axes: np.ndarray  # rows: x axis, y axis (unit vectors in image pixels)
    iod: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FaceFrame:
        p = np.asarray(landmarks, dtype=np.float64)
        left, right = face.eye_centers(p)
        mid = (left + right) / 2.0
        ex = left - right  # the subject's left eye is on the image right of an unmirrored picture
        iod = float(np.hypot(ex[0], ex[1]))
        if iod < 1e-6:
            raise ValueError("degenerate landmarks: the eyes coincide")
        ex = ex / iod
        ey = np.array([-ex[1], ex[0]])
        if float(ey @ (p[list(face.LIPS), :2].mean(axis=0) - mid)) < 0:  # mirrored picture
            ex, ey = -ex, -ey
        return cls(mid, np.stack([ex, ey]), iod)

    def to_face(self, xy: np.ndarray) -> np.ndarray:
        return ((np.asarray(xy, dtype=np.float64)[..., :2] - self.origin) @ self.axes.T) / self.iod

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        return self.origin + (np.asarray(uv, dtype=np.float64) * self.iod) @ self.axes

    def vectors_to_image(self, d: np.ndarray) -> np.ndarray:
        return (np.asarray(d, dtype=np.float64) * self.iod) @ self.axes


def _zip_strip(
    a: Sequence[int], b: Sequence[int], ta: np.ndarray, tb: np.ndarray
) -> list[tuple[int, int, int]]:
    """Triangulate the strip between two chains ordered by the parameters ``ta`` and ``tb``."""
    tris: list[tuple[int, int, int]] = []
    i = j = 0
    while i < len(a) - 1 or j < len(b) - 1:
        if j == len(b) - 1 or (i < len(a) - 1 and ta[i + 1] <= tb[j + 1]):
            tri = (a[i], a[i + 1], b[j])
            i += 1
        else:
            tri = (a[i], b[j], b[j + 1])
            j += 1
        if len(set(tri)) == 3:
            tris.append(tri)
    return tris


def _interp_curve(x: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    order = np.argsort(xs, kind="stable")
    return np.interp(x, xs[order], ys[order])


# =================================================================================================
# The deformation model: mouth parameters and blink -> landmark positions
# =================================================================================================
class FaceRig:
    """Per-person deformation model built from one set of reference landmarks.

    Mouth parameters and the blink displace control points (lip contours, jaw line, eyelids) in
    the face-aligned frame; a harmonic interpolation over the mesh (precomputed as one matrix)
    carries the motion into the cheeks and chin, while pinned points (upper face, a ring around
    the lower face) stay put. ``targets`` works on any landmarks of the same person, e.g. every
    frame of a clip.
    """

    def __init__(self, landmarks: np.ndarray) -> None:
        p = _as_points(landmarks)
        self.n_points = int(p.shape[0])
        fr = FaceFrame.of(p)
        q = fr.to_face(p[:, :2])
        zf = p[:, 2] / fr.iod

        def lr(chain: Sequence[int]) -> list[int]:
            c = list(chain)
            return c if q[c[0], 0] <= q[c[-1], 0] else c[::-1]

        self.inner_upper = lr(face.UPPER_INNER_LIP)
        self.inner_lower = lr(face.LOWER_INNER_LIP)
        self.outer_upper = lr(face.UPPER_OUTER_LIP)
        self.outer_lower = lr(face.LOWER_OUTER_LIP)
        self.eyes = [
            (lr(face.LEFT_EYE_UPPER), lr(face.LEFT_EYE_LOWER)),
            (lr(face.RIGHT_EYE_UPPER), lr(face.RIGHT_EYE_LOWER)),
        ]
        center = (q[self.inner_upper[0]] + q[self.inner_upper[-1]]) / 2.0
        half_width = max(abs(q[self.outer_upper[-1], 0] - q[self.outer_upper[0], 0]) / 2.0, 0.2)
        self.mouth_center = center
        self.half_width = float(half_width)

        # The jaw line: the face oval below the ears, in order from one side to the other.
        oval = list(face.FACE_OVAL)
        y_ear = 0.33 * center[1]
        below = q[oval, 1] > y_ear
        start = next(i for i in range(len(oval)) if below[i] and not below[i - 1])
        rolled = oval[start:] + oval[:start]
        chain = lr([i for k, i in enumerate(rolled) if all(below[oval.index(j)] for j in rolled[: k + 1])])
        self.jaw_chain = chain

        # Mesh graph.
        tris = np.asarray(face.TRIANGLES, dtype=np.intp)
        edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
        edges = np.unique(np.sort(edges, axis=1), axis=0)
        n_mesh = 468
        nbrs: list[set[int]] = [set() for _ in range(n_mesh)]
        for a, b in edges:
            nbrs[a].add(int(b))
            nbrs[b].add(int(a))

        # Controls: lips, jaw line, eyelids and the lid skin just above each upper lid (it moves
        # with the lid's margin, so the lashes slide down whole and the skin under the brow stretches).
        mouth_ctrl = list(
            dict.fromkeys(self.inner_upper + self.inner_lower + self.outer_upper + self.outer_lower)
        )
        eye_ctrl = [list(dict.fromkeys(u + lo)) for u, lo in self.eyes]
        followers: list[list[int]] = []
        ring1: list[list[int]] = []
        for (u, _lo), e in zip(self.eyes, eye_ctrl, strict=True):
            around = sorted({j for i in e for j in nbrs[i]} - set(e))
            lid_y = np.interp(q[around, 0], q[u, 0], q[u, 1])
            inside = (q[around, 0] > q[u[0], 0]) & (q[around, 0] < q[u[-1], 0])
            followers.append(
                [i for i, y, ok in zip(around, lid_y, inside, strict=True) if ok and q[i, 1] < y]
            )
            ring1.append([i for i in around if i not in followers[-1]])
        ctrl = mouth_ctrl + chain + eye_ctrl[0] + eye_ctrl[1] + followers[0] + followers[1]
        self.ctrl = np.array(ctrl, dtype=np.intp)
        pos = {i: k for k, i in enumerate(ctrl)}
        self._pos = pos
        ctrl_set = set(ctrl)
        y_pin = 0.55 * center[1]
        free_mouth = [i for i in range(n_mesh) if i not in ctrl_set and q[i, 1] > y_pin and i not in oval]
        free_eyes = [[i for i in r if i not in ctrl_set and q[i, 1] < y_pin] for r in ring1]
        free = free_mouth + free_eyes[0] + free_eyes[1]
        self.free = np.array(free, dtype=np.intp)
        eye_moving = [
            set(e) | set(f) | set(fe) for e, f, fe in zip(eye_ctrl, followers, free_eyes, strict=True)
        ]

        # Harmonic interpolation (edge weights 1/length): free = H @ controls, pinned points = 0.
        w = np.zeros((n_mesh, n_mesh))
        lengths = np.linalg.norm(q[edges[:, 0]] - q[edges[:, 1]], axis=1)
        w[edges[:, 0], edges[:, 1]] = w[edges[:, 1], edges[:, 0]] = 1.0 / np.maximum(lengths, 0.02)
        f_idx = self.free
        a_ff = np.diag(w[f_idx].sum(axis=1)) - w[np.ix_(f_idx, f_idx)] + 1e-9 * np.eye(len(f_idx))
        self._h = np.linalg.solve(a_ff, w[np.ix_(f_idx, self.ctrl)])

        # Linear displacement bases of the control points (face units), one per half-parameter.
        n_c = len(ctrl)
        bases = {k: np.zeros((n_c, 2)) for k in ("jaw", "round", "spread", "upper", "drop", "tuck", "thin")}
        corners = {self.inner_upper[0], self.inner_upper[-1], self.outer_upper[0], self.outer_upper[-1]}
        iu, il, ou, ol = (
            set(c) for c in (self.inner_upper, self.inner_lower, self.outer_upper, self.outer_lower)
        )
        for i in mouth_ctrl:
            k = pos[i]
            dxm = q[i, 0] - center[0]
            t = float(np.clip(dxm / half_width, -1.2, 1.2))
            bell = max(0.0, 1.0 - t * t) ** 0.8
            bell6 = max(0.0, 1.0 - t * t) ** 0.6
            side = 1.0 if t >= 0 else -1.0
            if i in corners:
                bases["jaw"][k] = (-0.035 * side, 0.33 * JAW_DROP)
                bases["round"][k] = (-ROUND_SQUEEZE * dxm, -ROUND_SQUEEZE * (q[i, 1] - center[1]))
                bases["spread"][k] = (SPREAD_STRETCH * dxm, -0.02)
                continue
            lower = i in il or i in ol
            if lower:
                bases["jaw"][k] = (-0.035 * t, JAW_DROP * (0.33 + 0.67 * max(0.0, 1.0 - t * t)))
            bases["round"][k, 0] = -ROUND_SQUEEZE * dxm
            bases["spread"][k, 0] = SPREAD_STRETCH * dxm
            if i in ou:
                bases["round"][k, 1] = -0.03 * bell
                bases["spread"][k, 1] = 0.012 * bell
                bases["upper"][k, 1] = -0.75 * UPPER_RAISE * bell6
                bases["thin"][k, 1] = 0.012 * bell
            elif i in iu:
                bases["round"][k, 1] = 0.015 * bell
                bases["upper"][k, 1] = -UPPER_RAISE * bell6
            elif i in ol:
                bases["round"][k, 1] = 0.035 * bell
                bases["spread"][k, 1] = -0.015 * bell
                bases["drop"][k, 1] = 0.7 * LOWER_DROP * bell6
                bases["tuck"][k, 1] = -0.02 * bell
                bases["thin"][k, 1] = -0.012 * bell
            elif i in il:
                bases["round"][k, 1] = 0.015 * bell
                bases["drop"][k, 1] = LOWER_DROP * bell6
        # Jaw line: a rotation about the hinge behind the cheek moves points down by their depth in
        # front of it; mediapipe's z gives that depth (fall back on the distance from the midline).
        lip_mid = self.inner_lower[len(self.inner_lower) // 2]
        widest = np.argsort(np.abs(q[oval, 0]))[-2:]
        z_hinge = float(zf[[oval[k] for k in widest]].mean()) + 0.1
        span = z_hinge - float(zf[lip_mid])
        x_ear = float(np.abs(q[oval, 0]).max())
        for i in chain:
            if span > 0.25:
                depth = float(np.clip((z_hinge - zf[i]) / span, 0.0, 1.1)) ** 0.6
            else:
                depth = float(np.clip(1.0 - (q[i, 0] / x_ear) ** 2, 0.0, 1.0)) ** 0.5
            taper = float(_smoothstep(y_ear, y_ear + 0.5, q[i, 1]))
            bases["jaw"][pos[i]] = (0.0, JAW_DROP * depth * taper)
        self._bases = bases

        # Press: pairs of inner-lip points (interior ones), in control-array positions.
        self._iu = np.array([pos[i] for i in self.inner_upper], dtype=np.intp)
        self._il = np.array([pos[i] for i in self.inner_lower], dtype=np.intp)
        self._ou = np.array([pos[i] for i in self.outer_upper], dtype=np.intp)
        self._ol = np.array([pos[i] for i in self.outer_lower], dtype=np.intp)
        t_il = (q[self.inner_lower, 0] - center[0]) / half_width
        self._il_weight = np.clip(1.0 - t_il**2, 0.0, 1.0) ** 0.5
        t_iu = (q[self.inner_upper, 0] - center[0]) / half_width
        self._iu_weight = np.clip((1.0 - np.abs(t_iu)) / 0.2, 0.0, 1.0)
        self._eyes_pos = [
            (
                np.array([pos[i] for i in u], dtype=np.intp),
                np.array([pos[i] for i in lo], dtype=np.intp),
                np.array([pos[i] for i in f], dtype=np.intp),
            )
            for (u, lo), f in zip(self.eyes, followers, strict=True)
        ]

        # Pinned ring around the lower face (extra points after the landmarks).
        chain_q = q[chain]
        d = chain_q - center
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
        self._ring_dir = d
        self._ring_margin = RING_SIDE + RING_CHIN * np.clip(d[:, 1], 0.0, 1.0) ** 2
        n = self.n_points
        ring = list(range(n, n + len(chain)))
        t_idx = np.arange(len(chain), dtype=np.float64)
        ring_tris = _zip_strip(chain, ring, t_idx, t_idx)
        # Warp triangles. The mouth and eye openings have none: what shows there stays in place
        # (teeth, eyeballs) unless painted. The upper lip and upper lids are drawn last, on top.
        mouth_moving = set(mouth_ctrl) | set(chain) | set(free_mouth)
        upper_lip = set(self.inner_upper[1:-1])
        mesh_mouth = [tuple(int(v) for v in t) for t in tris if any(int(v) in mouth_moving for v in t)]
        mesh_mouth.sort(key=lambda t: any(v in upper_lip for v in t))
        self.mouth_triangles = np.array(ring_tris + mesh_mouth, dtype=np.int32)
        self.eye_triangles: list[np.ndarray] = []
        for (u, _lo), moving in zip(self.eyes, eye_moving, strict=True):
            lid = set(u[1:-1])
            mesh_eye = [
                tuple(int(v) for v in t)
                for t in tris
                if any(int(v) in moving for v in t) and not any(int(v) in mouth_moving for v in t)
            ]
            mesh_eye.sort(key=lambda t: any(v in lid for v in t))
            self.eye_triangles.append(np.array(mesh_eye, dtype=np.int32))
        self.moving = np.concatenate([self.ctrl, self.free])
        self.chin_y = float(q[oval, 1].max())
        self._face_cache: tuple[np.ndarray, FaceFrame, np.ndarray] | None = None

    # ---------------------------------------------------------------------------------------------
    def spread(self, d: np.ndarray) -> np.ndarray:
        """Displacements of the free points from those of the controls (the harmonic falloff)."""
        # Elementwise rather than a BLAS product: tiny, and BLAS threads would spin on the core
        # the encoder needs.
        return np.stack([(self._h * d[:, 0]).sum(axis=1), (self._h * d[:, 1]).sum(axis=1)], axis=1)

    def ring(self, landmarks: np.ndarray) -> np.ndarray:
        """Positions [len(jaw_chain), 2] of the pinned ring around the lower face of ``landmarks``."""
        p = _as_points(landmarks)
        fr = FaceFrame.of(p)
        q = fr.to_face(p[self.jaw_chain, :2])
        return fr.to_image(q + self._ring_dir * self._ring_margin[:, None])

    def extended(self, landmarks: np.ndarray) -> np.ndarray:
        """Landmark x, y followed by the ring: the vertex array the warp triangles index."""
        p = _as_points(landmarks)
        return np.concatenate([p[:, :2], self.ring(p)])

    def displacements(self, base: np.ndarray, mouth: np.ndarray, blink: float) -> np.ndarray:
        """Control-point displacements [len(ctrl), 2] in face units for ``base`` landmarks."""
        m = mouth_vector(mouth)
        b = self._bases
        jaw, width, upper, lower, press = m[_JAW], m[_WIDTH], m[_UPPER], m[_LOWER], m[_PRESS]
        d = (
            jaw * b["jaw"]
            + max(-width, 0.0) * b["round"]
            + max(width, 0.0) * b["spread"]
            + upper * b["upper"]
            + max(lower, 0.0) * b["drop"]
            + max(-lower, 0.0) * b["tuck"]
            + press * b["thin"]
        )
        _, qc = self._face_of(base)
        cur = qc + d
        ux, uy = cur[self._iu, 0], cur[self._iu, 1]
        lx, ly = cur[self._il, 0], cur[self._il, 1]
        # Tuck (f, v): the lower lip rises to the edge of the upper teeth; its outer edge rolls in.
        if lower < -1e-4:
            rest_top = _interp_curve(qc[self._il, 0], qc[self._iu, 0], qc[self._iu, 1])
            target = np.maximum(rest_top + TEETH_SHOW, qc[self._il, 1]) - 0.012
            shift = -lower * (target - ly) * self._il_weight
            d[self._il, 1] += shift
            d[self._ol, 1] += 0.6 * _interp_curve(cur[self._ol, 0], lx, shift)
            cur = qc + d
            ux, uy, lx, ly = cur[self._iu, 0], cur[self._iu, 1], cur[self._il, 0], cur[self._il, 1]
        # The lips never cross.
        lo_at_u = _interp_curve(ux, lx, ly)
        d[self._iu, 1] -= np.maximum(uy - lo_at_u, 0.0) / 2.0
        up_at_l = _interp_curve(lx, ux, uy)
        d[self._il, 1] += np.maximum(up_at_l - ly, 0.0) / 2.0
        # Press: the inner lips meet (also closing a portrait's parted lips), the upper one a hair
        # over the lower so no sliver of the inside shows; the outer contours follow halfway.
        if press > 1e-4:
            cur = qc + d
            ux, uy, lx, ly = cur[self._iu, 0], cur[self._iu, 1], cur[self._il, 0], cur[self._il, 1]
            lo_at_u = _interp_curve(ux, lx, ly)
            up_at_l = _interp_curve(lx, ux, uy)
            over = PRESS_OVERLAP * press**3 * self._iu_weight
            shift_u = press * PRESS_MEET * np.maximum(lo_at_u - uy, 0.0) + over
            shift_l = -press * (1.0 - PRESS_MEET) * np.maximum(ly - up_at_l, 0.0)
            d[self._iu, 1] += shift_u
            d[self._il, 1] += shift_l
            d[self._ou, 1] += 0.5 * _interp_curve(cur[self._ou, 0], ux, shift_u)
            d[self._ol, 1] += 0.5 * _interp_curve(cur[self._ol, 0], lx, shift_l)
        # Blink: the upper lid slides down to meet the (slightly rising) lower lid.
        if blink > 1e-4:
            for iu, il, fol in self._eyes_pos:
                u, lo = qc[iu], qc[il]
                lo_at_u = _interp_curve(u[:, 0], lo[:, 0], lo[:, 1])
                gap_u = np.maximum(lo_at_u - u[:, 1], 0.0)
                drop = blink * (lo_at_u - LID_MEET * gap_u + 0.02 - u[:, 1]) * (gap_u > 0)
                d[iu, 1] += drop
                d[fol, 1] += LID_FOLLOW * _interp_curve(qc[fol, 0], u[:, 0], drop)
                up_at_l = _interp_curve(lo[:, 0], u[:, 0], u[:, 1])
                gap_l = np.maximum(lo[:, 1] - up_at_l, 0.0)
                d[il, 1] -= blink * LID_MEET * gap_l
        return d

    def targets(self, base: np.ndarray, mouth: np.ndarray, blink: float = 0.0) -> np.ndarray:
        """Landmark positions [N, 2] of ``base`` with the mouth shaped by ``mouth`` and eyes by ``blink``."""
        p = _as_points(base)
        d = self.displacements(p, mouth, blink)
        full = np.zeros((p.shape[0], 2))
        full[self.ctrl] = d
        full[self.free] = self.spread(d)
        fr, _ = self._face_of(p)
        return p[:, :2] + fr.vectors_to_image(full)

    def _face_of(self, p: np.ndarray) -> tuple[FaceFrame, np.ndarray]:
        """The face frame of landmarks ``p`` and the control points in it; kept for the last ``p``
        (a render asks for the same neutral landmarks every frame)."""
        cached = self._face_cache
        if cached is not None and cached[0].shape == p.shape and np.array_equal(cached[0], p):
            return cached[1], cached[2]
        fr = FaceFrame.of(p)
        qc = fr.to_face(p[self.ctrl, :2])
        self._face_cache = (np.array(p, dtype=np.float64), fr, qc)
        return fr, qc


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


# =================================================================================================
# The inside of the mouth
# =================================================================================================
def _luma(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _poly_mask(shape: tuple[int, int], poly: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Anti-aliased filled polygon, uint8 0..255, in a rectangle whose top-left is ``origin``."""
    m = np.zeros(shape, dtype=np.uint8)
    pts = np.round((np.asarray(poly, dtype=np.float64) - origin) * 16.0).astype(np.int32)
    cv2.fillPoly(m, [pts], (255,), cv2.LINE_AA, 4)
    return m


def _teeth_shape(
    u: np.ndarray, widths: Sequence[float], shorter: Sequence[float], notch: float, iod: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A row of teeth symmetric about u = 0 (face units), per pixel column: the light on it (1 in
    front, falling off along the arch and on each tooth's rounded sides, 0 past the last tooth),
    where the gaps between the teeth are (1 on a gap, a soft line about a pixel wide) and how much
    shorter the tooth is than the front ones (rounded corners, so the edge shows small notches)."""
    au = np.abs(u)
    bounds = np.concatenate([[0.0], np.cumsum(widths)])
    k = np.clip(np.searchsorted(bounds, au, side="right") - 1, 0, len(widths) - 1)
    w = np.asarray(widths, dtype=np.float32)[k]
    s = np.clip(2.0 * (au - bounds[k]) / w - 1.0, -1.0, 1.0)
    gap = np.minimum(np.abs(au - bounds[k]), np.abs(bounds[k + 1] - au))
    seam = np.exp(-((gap / max(0.006, 0.6 / iod)) ** 2))
    beyond = _smoothstep(float(bounds[-1]) - 0.03, float(bounds[-1]) + 0.02, au)
    light = np.interp(au, TEETH_RECEDE_AT, TEETH_RECEDE) * (1.0 - 0.06 * s * s) * (1.0 - beyond)
    short = np.asarray(shorter, dtype=np.float32)[k] + notch * s**4
    return light.astype(np.float32), seam.astype(np.float32), short.astype(np.float32)


def _scene_white(image: np.ndarray, skin_luma: float) -> tuple[np.ndarray, float | None]:
    """The colour of white in this picture (chroma at luma 1) from its bright, nearly grey pixels
    (a collar, white hair, a wall), and their luma; a neutral guess and None when it has none."""
    h, w = image.shape[:2]
    f = min(1.0, 160.0 / max(h, w))
    small = (
        image
        if f >= 1.0
        else cv2.resize(image, (max(int(w * f), 1), max(int(h * f), 1)), interpolation=cv2.INTER_AREA)
    )
    px = small.reshape(-1, 3).astype(np.float32)
    lum = _luma(px)
    top = px.max(axis=1)
    sat = (top - px.min(axis=1)) / np.maximum(top, 1.0)
    cand = (sat < 0.2) & (lum > max(1.1 * skin_luma, 60.0)) & (top < 250.0)
    if cand.sum() < max(20, 0.003 * len(px)):
        return np.ones(3, np.float32), None
    sel, sel_l = px[cand], lum[cand]
    bright = sel_l >= np.median(sel_l)
    chroma = np.median(sel[bright] / sel_l[bright, None], axis=0)
    return (chroma / float(_luma(chroma))).astype(np.float32), float(np.median(sel_l))


def _drawn_teeth_colour(
    skin: np.ndarray, white: np.ndarray, white_luma: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Warm ivory under the scene's light, and the neutral the mouth's shadows tend to.

    The skin's neutral is the skin's hue, mostly desaturated: teeth are never bluer or greener than
    it (a cold cast must not make them grey-blue), nor yellower than a warm ivory."""
    skin_l = max(float(_luma(skin)), 1.0)
    skin_c = np.maximum(np.asarray(skin, dtype=np.float64), 1.0) / skin_l
    neutral = skin_c**0.15
    neutral = neutral / float(_luma(neutral))
    c = (np.asarray(white, dtype=np.float64) * np.asarray(IVORY)) ** 0.85 * skin_c**0.15
    g = min(max(c[1] / c[0], 0.8), neutral[1] / neutral[0])
    b = min(max(c[2] / c[0], 0.62), neutral[2] / neutral[0], g)
    c = np.array([1.0, g, b])
    level = float(np.clip(TEETH_OVER_SKIN * skin_l, 45.0, 232.0))
    if white_luma is not None:
        level = min(level, max(0.95 * white_luma, skin_l))
    teeth = c / float(_luma(c)) * level
    return teeth.astype(np.float32), neutral.astype(np.float32)


@dataclass(frozen=True)
class MouthLook:
    """Colours of the inside of one person's mouth (RGB float) and whether the portrait shows teeth.

    ``neutral`` (chroma at luma 1) is what the mouth's colours tend to in shadow: the skin's hue,
    mostly desaturated."""

    teeth: np.ndarray
    gum: np.ndarray
    cavity_edge: np.ndarray
    cavity_deep: np.ndarray
    tongue: np.ndarray
    has_teeth: bool
    neutral: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))

    @classmethod
    def sample(cls, image: np.ndarray, landmarks: np.ndarray, rig: FaceRig) -> MouthLook:
        p = _as_points(landmarks)
        h, w = image.shape[:2]
        outer = p[rig.outer_upper + rig.outer_lower[::-1][1:-1], :2]
        inner = p[rig.inner_upper + rig.inner_lower[::-1][1:-1], :2]
        iod = FaceFrame.of(p).iod
        x0, y0 = np.maximum(np.floor(outer.min(axis=0) - 0.3 * iod).astype(int), 0)
        x1, y1 = np.ceil(outer.max(axis=0) + 0.3 * iod).astype(int)
        x1, y1 = min(int(x1), w), min(int(y1), h)
        crop = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32)
        shape = (y1 - y0, x1 - x0)
        m_out = _poly_mask(shape, outer, (x0, y0))
        m_in = _poly_mask(shape, inner, (x0, y0))
        k = np.ones((3, 3), np.uint8)
        lips = ((m_out > 128) & (cv2.dilate(m_in, k) < 20)).ravel()
        opening = (cv2.erode(m_in, k) > 200).ravel()
        around = cv2.dilate(m_out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.3 * iod) | 1,) * 2))
        skin = ((around > 128) & (m_out < 20)).ravel()
        skin_rgb = np.median(crop[skin], axis=0) if skin.sum() > 10 else np.array([190.0, 150.0, 130.0])
        lip_px = crop[lips] if lips.sum() > 10 else crop[skin] if skin.sum() > 10 else crop
        lip_l = _luma(lip_px)
        lip_mean = np.median(lip_px, axis=0)
        dark = lip_px[lip_l <= np.percentile(lip_l, 15)]
        lip_dark = dark.mean(axis=0) if len(dark) else lip_mean * 0.7
        # Keep the cavity warm whatever the lip colour: red >= green >= blue.
        warm = (
            np.array([1.0, 0.62, 0.55]) * float(_luma(lip_dark)) / float(_luma(np.array([1.0, 0.62, 0.55])))
        )
        lip_dark = 0.5 * lip_dark + 0.5 * warm
        skin_l = float(_luma(skin_rgb))
        white, white_l = _scene_white(image, skin_l)
        drawn, neutral = _drawn_teeth_colour(skin_rgb, white, white_l)
        has_teeth = False
        teeth = drawn
        if opening.sum() >= 15:
            px = crop[opening]
            lum = _luma(px)
            sat = (px.max(axis=1) - px.min(axis=1)) / np.maximum(px.max(axis=1), 1.0)
            cand = (lum > max(float(np.median(lip_l)) * 1.12, 0.75 * skin_l)) & (sat < 0.42)
            if cand.sum() >= max(12, 0.25 * opening.sum()):
                has_teeth = True
                bright = px[cand]
                teeth = np.median(bright[_luma(bright) >= np.median(_luma(bright))], axis=0)
        # The tongue: the lips' red, darker and a little greyed by the shadow it lies in.
        tongue = lip_mean * np.array([0.85, 0.6, 0.62])
        tongue = 0.85 * tongue + 0.15 * neutral * float(_luma(tongue))
        return cls(
            teeth=np.asarray(teeth, dtype=np.float32),
            gum=np.asarray(0.8 * lip_mean + 0.2 * np.array([200.0, 110.0, 110.0]), dtype=np.float32),
            cavity_edge=np.asarray(lip_dark * 0.55, dtype=np.float32),
            cavity_deep=np.asarray(lip_dark * 0.3, dtype=np.float32),
            tongue=np.asarray(tongue, dtype=np.float32),
            has_teeth=has_teeth,
            neutral=neutral,
        )


def refine_lips(image: np.ndarray, landmarks: np.ndarray, rig: FaceRig) -> np.ndarray:
    """Landmarks with the lips snapped to the teeth of a portrait that shows them.

    The face mesh often puts the inner-lip contours of a broad smile on the teeth rather than at
    the lips' edges; then the lips could never close over them. Column by column along the mouth,
    the bright, unsaturated run of teeth between the contours is followed up and down to the lips,
    and both lips move there (their outer contours too, the skin around by the rig's falloff).
    Dark pixels of the opening (its shadowed corners beside the teeth) count as the opening too,
    so pressed lips do not carry them along the closed seam."""
    p = _as_points(landmarks).copy()
    fr = FaceFrame.of(p)
    iod = fr.iod
    h, w = image.shape[:2]
    outer = p[rig.outer_upper + rig.outer_lower[::-1][1:-1], :2]
    x0, y0 = np.maximum(np.floor(outer.min(axis=0) - 0.2 * iod).astype(int), 0)
    x1, y1 = np.ceil(outer.max(axis=0) + 0.2 * iod).astype(int)
    x1, y1 = min(int(x1), w), min(int(y1), h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return p
    crop = image[y0:y1, x0:x1].astype(np.float32)
    lum = _luma(crop)
    sat = (crop.max(axis=2) - crop.min(axis=2)) / np.maximum(crop.max(axis=2), 1.0)
    score = np.clip(lum * (1.0 - 1.5 * sat), 0, 255).astype(np.uint8)
    region = cv2.dilate(_poly_mask(score.shape, outer, (x0, y0)), np.ones((5, 5), np.uint8)) > 128
    if region.sum() < 30:
        return p
    vals = score[region]
    thr, _ = cv2.threshold(vals.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    is_teeth = (score > thr) & region & (lum > 0.55 * float(np.percentile(lum[region], 95)))
    dark = region & (lum < 0.45 * float(np.median(lum[region])))
    teeth = is_teeth.astype(np.float32)
    opening = (is_teeth | dark).astype(np.float32)
    q = fr.to_face(p[:, :2])
    iu, il = rig.inner_upper, rig.inner_lower
    xs = q[iu[1:-1], 0]
    yu = q[iu[1:-1], 1]
    yl = _interp_curve(xs, q[il, 0], q[il, 1])
    step = 0.25 / iod
    offs = np.arange(-0.15, 0.15 + step, step)
    mids = (yu + yl) / 2.0
    grid = np.stack([np.repeat(xs[:, None], offs.size, 1), mids[:, None] + offs[None, :]], axis=-1)
    xy = fr.to_image(grid) - (x0, y0)
    mx, my = xy[..., 0].astype(np.float32), xy[..., 1].astype(np.float32)
    on_teeth = cv2.remap(teeth, mx, my, cv2.INTER_LINEAR) > 0.5
    samples = cv2.remap(opening, mx, my, cv2.INTER_LINEAR) > 0.5
    zero = int(np.argmin(np.abs(offs)))
    mid = slice(max(zero - 1, 0), zero + 2)
    if int(on_teeth[:, mid].all(axis=1).sum()) < 3:  # the opening must show teeth
        return p
    du = np.zeros(xs.size)
    dl = np.zeros(xs.size)
    for k in range(xs.size):
        col = samples[k]
        if not col[mid].all():
            continue
        up = zero
        while up > 0 and col[up - 1]:
            up -= 1
        down = zero
        while down < col.size - 1 and col[down + 1]:
            down += 1
        # Only outward: the contours are moved off the teeth, never onto them (the teeth's top,
        # shaded by the lip, can read as lip; a glint on the lower lip can read as teeth).
        # A small margin keeps the teeth's ragged edge out of the lips' texture.
        du[k] = np.clip(mids[k] + offs[up] - step - yu[k], -0.1, 0.0) - 0.006
        dl[k] = np.clip(mids[k] + offs[down] + step - yl[k], 0.0, 0.025) + 0.01
    if not (du.any() or dl.any()):
        return p
    kernel = np.array([0.25, 0.5, 0.25])
    du = np.convolve(np.pad(du, 1, mode="edge"), kernel, mode="valid")
    dl = np.convolve(np.pad(dl, 1, mode="edge"), kernel, mode="valid")
    d = np.zeros((len(rig.ctrl), 2))
    pos = rig._pos
    xs_full = np.concatenate([[q[iu[0], 0]], xs, [q[iu[-1], 0]]])
    du_full = np.concatenate([[0.0], du, [0.0]])
    dl_full = np.concatenate([[0.0], dl, [0.0]])
    for chain, corr in (
        (rig.inner_upper, du_full),
        (rig.outer_upper, du_full),
        (rig.inner_lower, dl_full),
        (rig.outer_lower, dl_full),
    ):
        for i in chain[1:-1]:
            d[pos[i], 1] = np.interp(q[i, 0], xs_full, corr)
    full = np.zeros((p.shape[0], 2))
    full[rig.ctrl] = d
    full[rig.free] = rig.spread(d)
    p[:, :2] += fr.vectors_to_image(full)
    return p


class MouthPainter:
    """Paints the inside of the mouth within the target inner-lip contour of a warped picture.

    Upper teeth are a layer fixed to the upper jaw: the picture's own where it shows teeth, or those
    of ``teeth`` = (image, landmarks), another picture of the person with the mouth open (a video
    avatar's), or drawn; the cavity darkens with the distance from the lips; the tongue and the
    lower teeth follow the lower lip. Light falls off into the mouth: under the upper lip, toward
    the corners and through a small or rounded opening.
    """

    def __init__(
        self,
        image: np.ndarray,
        landmarks: np.ndarray,
        rig: FaceRig,
        box: tuple[int, int, int, int],
        *,
        base: np.ndarray | None = None,
        look: MouthLook | None = None,
        teeth: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        p = _as_points(landmarks)
        base_p = p if base is None else _as_points(base)
        self.rig = rig
        self.look = look or (
            MouthLook.sample(image, p, rig) if teeth is None else MouthLook.sample(teeth[0], teeth[1], rig)
        )
        fr = FaceFrame.of(base_p)
        self.frame = fr
        iod = fr.iod
        self.iod = iod
        qb = fr.to_face(base_p[:, :2])
        self.center = (qb[rig.inner_upper[0]] + qb[rig.inner_upper[-1]]) / 2.0
        self.half_width = float(abs(qb[rig.outer_upper[-1], 0] - qb[rig.outer_upper[0], 0]) / 2.0)
        # Paint box: the lips with room for the jaw to open, inside the warp box.
        outer = p[rig.outer_upper + rig.outer_lower, :2]
        lo = outer.min(axis=0) - 0.15 * iod
        hi = outer.max(axis=0) + (JAW_DROP + LOWER_DROP + 0.1) * iod
        bx0, by0, bx1, by1 = box
        self.box = (
            max(int(np.floor(lo[0])), bx0),
            max(int(np.floor(lo[1])), by0),
            min(int(np.ceil(hi[0])) + 1, bx1),
            min(int(np.ceil(hi[1])) + 1, by1),
        )
        x0, y0, x1, y1 = self.box
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        uv = fr.to_face(np.stack([gx, gy], axis=-1)) - self.center
        self.u = uv[..., 0].astype(np.float32)
        self.v = uv[..., 1].astype(np.float32)
        self._teeth_layer(image, p, base_p, teeth)
        self._static: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, np.ndarray]] | None = None

    def keep_static_layers(self) -> None:
        """Compute once, over the whole paint box, what depends on the pixel alone: the lower teeth
        along the row and the tongue's tip at the upper teeth. Worth it for a painter that paints
        many frames (a portrait's); a painter used once computes them where it paints."""
        self._static = (self._lower_teeth_layer(self.u), self._tip_layer(self.u, self.v))

    def _lower_teeth_layer(self, u: np.ndarray) -> tuple[np.ndarray, ...]:
        """Profile, light, gaps and shortening of the lower teeth at ``u``; where they show at all."""
        prof = np.clip(1.0 - (u / (0.55 * self.half_width)) ** 2, 0.0, 1.0) ** 0.8
        recede, seam, short = _teeth_shape(u, LOWER_TEETH_WIDTHS, LOWER_TEETH_SHORTER, 0.006, self.iod)
        return prof, recede, seam, short, prof > 0.05, _smoothstep(0.0, 0.25, recede)

    def _tip_layer(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coverage and colour of the tongue's tip behind the upper teeth."""
        cy = self._teeth_edge_mid + 0.015
        r2 = (u / 0.16) ** 2 + ((v - cy) / 0.045) ** 2
        tip = (np.clip((1.0 - r2) * 1.6, 0.0, 1.0) * 0.85)[..., None]
        return tip, self.look.tongue * (0.8 + 0.2 * np.clip((v - cy) / 0.045, -1.0, 1.0))[..., None]

    def _face_curve(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.frame.to_face(pts) - self.center
        order = np.argsort(q[:, 0], kind="stable")
        return q[order, 0], q[order, 1]

    def _teeth_colour(self, light: np.ndarray, recede: np.ndarray) -> np.ndarray:
        """Drawn teeth under ``light``: darker and greyer toward the back, as they recede."""
        look = self.look
        lit = look.teeth * light[..., None]
        grey = look.neutral * _luma(lit)[..., None]
        return np.asarray(lit + (grey - lit) * (0.35 * (1.0 - recede))[..., None], dtype=np.float32)

    def _in_shadow(self, color: np.ndarray, light: np.ndarray) -> np.ndarray:
        """``color`` where only ``light`` (0..1) of the light reaches: what does is warmed by the
        mouth's own red walls."""
        warm = self._warm - 1.0
        return np.asarray(color * (1.0 + (0.6 * (1.0 - light))[..., None] * warm), dtype=np.float32)

    def _teeth_layer(
        self, image: np.ndarray, p: np.ndarray, base: np.ndarray, teeth: tuple[np.ndarray, np.ndarray] | None
    ) -> None:
        """The upper teeth (and gum above them), fixed to the upper jaw: colour and alpha.

        Drawn teeth hang from the rest line of the upper lip. Where a picture of the person shows
        teeth, its pixels are used instead: the portrait's own opening, stretched a little up
        (under a raised lip) and down (behind the lower lip, which hid the teeth's edge), or the
        upper teeth of the ``teeth`` picture down to their edge."""
        look, rig = self.look, self.rig
        u, v, iod, hw = self.u, self.v, self.iod, self.half_width
        rx, ry = self._face_curve(base[rig.inner_upper, :2])
        rest = np.interp(u, rx, ry).astype(np.float32)  # the upper lip's rest line
        corner = 1.0 - 0.75 * _smoothstep(0.3 * hw, 1.0 * hw, np.abs(u))
        recede, seam, short = _teeth_shape(u, UPPER_TEETH_WIDTHS, UPPER_TEETH_SHORTER, 0.012, iod)
        recede = recede * (1.0 - 0.6 * _smoothstep(0.7 * hw, 1.1 * hw, np.abs(u)))  # a narrow mouth
        edge = rest + TEETH_SHOW - short
        gum = rest - GUM_ABOVE
        # Down each tooth: its neck under the lip a little darker, the biting edge translucent;
        # the gaps between the teeth show most at the edge and at the gum.
        down = np.clip((v - gum) / np.maximum(edge - gum, 1e-3), 0.0, 1.0)
        vertical = (0.9 + 0.1 * _smoothstep(0.0, 0.4, down)) * (1.0 - 0.1 * _smoothstep(0.8, 1.0, down))
        gaps = seam * (0.08 + 0.2 * _smoothstep(0.7, 1.0, down) + 0.12 * (1.0 - _smoothstep(0.0, 0.25, down)))
        static = recede * vertical * (1.0 - gaps)
        color = self._teeth_colour(static, recede)
        is_gum = v < gum
        color[is_gum] = look.gum * (0.6 + 0.4 * corner[is_gum])[:, None]
        alpha = np.clip((edge - v) * iod + 0.5, 0.0, 1.0) * (np.abs(u) < 1.1 * hw) * (v > gum - 0.12)
        alpha = alpha * _smoothstep(0.0, 0.25, recede)  # past the back teeth: the cavity
        blend = np.zeros_like(u)
        edge_c = look.cavity_edge.astype(np.float64)
        self._warm = (np.maximum(edge_c, 1.0) / max(float(_luma(edge_c)), 1.0)).astype(np.float32)
        self._src_inner = None
        if look.has_teeth:
            if teeth is None:
                ux, uy = self._face_curve(p[rig.inner_upper, :2])
                lip_u = np.interp(u, ux, uy).astype(np.float32)
                own, own_alpha, own_edge, blend = self._picture_teeth(
                    image, p, self.frame, self.center, lip_u
                )
                # A portrait showing its teeth: the paint fades in as the lips leave their place,
                # so the first frames of motion do not pop from the photo to the painted inside.
                self._src_inner = p[rig.inner_upper + rig.inner_lower, :2].copy()
            else:
                tp = _as_points(teeth[1])
                fs = FaceFrame.of(tp)
                qs = fs.to_face(tp[:, :2])
                cs = (qs[rig.inner_upper[0]] + qs[rig.inner_upper[-1]]) / 2.0
                own, own_alpha, own_edge, blend = self._picture_teeth(teeth[0], tp, fs, cs, rest)
            b3 = blend[..., None]
            color = color * (1.0 - b3) + own * b3
            alpha = alpha * (1.0 - blend) + own_alpha * blend
            edge = edge * (1.0 - blend) + own_edge * blend
        self._teeth_color = color.astype(np.float32)
        self._teeth_alpha = alpha.astype(np.float32)
        self._teeth_own = blend.astype(np.float32)[..., None]  # pixels of a picture: their own light
        self._teeth_light = (static * (1.0 - blend) + blend).astype(np.float32)
        mid = u.shape[0] // 2
        order = np.argsort(u[mid])
        self._teeth_edge_mid = float(np.interp(0.0, u[mid][order], edge[mid][order]))

    def _picture_teeth(
        self, image: np.ndarray, p: np.ndarray, frame: FaceFrame, center: np.ndarray, anchor: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The upper teeth of a picture of the person (landmarks ``p``, face frame ``frame`` with the
        mouth's middle at ``center``) hung from ``anchor`` (per pixel: our upper lip's line):
        colour, alpha, edge, and how much to use them (0 where that picture shows no teeth).

        Column by column the picture's teeth run down from its upper lip: to their visible edge,
        or on behind its lower lip (then the last row is carried down a little, where the teeth
        would end). Their top is stretched up a little (under a raised lip). Only the teeth are
        taken: not the dark corners or the cavity beside and below them."""
        rig, u, v, iod, hw = self.rig, self.u, self.v, self.iod, self.half_width
        q = frame.to_face(p[:, :2]) - center
        up, lo = q[rig.inner_upper], q[rig.inner_lower]
        up, lo = up[np.argsort(up[:, 0], kind="stable")], lo[np.argsort(lo[:, 0], kind="stable")]
        step = 0.5 / frame.iod
        cols = np.arange(-1.1 * hw, 1.1 * hw + 1e-9, max(1.0 / frame.iod, 0.004))
        a_c = np.interp(cols, up[:, 0], up[:, 1]) + 0.012
        b_c = np.interp(cols, lo[:, 0], lo[:, 1]) - 0.035
        rows = np.arange(0.0, 0.25, step)
        grid = np.stack([np.repeat(cols[:, None], rows.size, 1), a_c[:, None] + rows[None, :]], axis=-1)
        xy = frame.to_image(grid + center).astype(np.float32)
        px = cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        px = px.astype(np.float32)
        hi = px.max(axis=2)
        sat = (hi - px.min(axis=2)) / np.maximum(hi, 1.0)
        tooth = (_luma(px) > 0.38 * float(_luma(self.look.teeth))) & (sat < 0.5)
        inside = a_c[:, None] + rows[None, :] < b_c[:, None]
        n_run = np.cumprod(tooth & inside, axis=1).sum(axis=1)
        n_run = cv2.medianBlur(np.minimum(n_run, 255).astype(np.uint8).reshape(1, -1), 5).ravel()
        run = n_run * step
        # Where the teeth end: their edge, or a little past the lower lip when it hides the edge.
        reach = a_c + run >= b_c - 1.5 / frame.iod
        end_c = np.where(reach, np.maximum(b_c + 0.05, a_c + run), a_c + run) - a_c
        # Softly along the row: where the teeth give way to a dark corner, their edge slants up.
        sigma = 0.025 / float(cols[1] - cols[0]) if cols.size > 1 else 1.0

        def soft(x: np.ndarray) -> np.ndarray:
            return np.asarray(cv2.GaussianBlur(x.astype(np.float32).reshape(1, -1), (0, 0), sigma)).ravel()

        run, end_c = soft(run), soft(end_c)
        lip_s = np.interp(u, up[:, 0], up[:, 1]).astype(np.float32)
        a = lip_s + 0.012
        run_u = np.interp(u, cols, run).astype(np.float32)
        end_s = a + np.interp(u, cols, end_c).astype(np.float32)
        # Our band [top, knee] shows theirs [a, knee_s] (stretched); below the knee, one to one.
        knee, top = anchor + 0.06, anchor - 0.04
        knee_s = lip_s + 0.06
        v_src = np.where(v < knee, a + (v - top) * (knee_s - a) / (knee - top), lip_s + (v - anchor))
        v_src = np.minimum(v_src, np.maximum(a + run_u - 0.5 / frame.iod, a))
        xy = frame.to_image(np.stack([u, v_src], axis=-1) + center).astype(np.float32)
        own = cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        bottom = np.where(
            end_s >= knee_s, anchor + (end_s - lip_s), top + (end_s - a) * (knee - top) / (knee_s - a)
        ).astype(np.float32)
        own = own.astype(np.float32) * (1.0 - 0.12 * _smoothstep(-0.025, 0.0, v - bottom))[..., None]
        own_alpha = np.clip((bottom - v) * iod + 0.5, 0.0, 1.0) * (v > top - 0.02)
        use = np.interp(u, cols, _smoothstep(1.5, 3.0, run * frame.iod)).astype(np.float32)
        return own, own_alpha.astype(np.float32), bottom, use

    def paint(
        self,
        roi: np.ndarray,
        origin: tuple[int, int],
        dst: np.ndarray,
        mouth: np.ndarray,
        gate: np.ndarray | None = None,
    ) -> None:
        """Paint into ``roi`` (uint8 view whose top-left pixel is ``origin``) for target points ``dst``."""
        rig, look, iod = self.rig, self.look, self.iod
        poly = np.asarray(dst, dtype=np.float64)[rig.inner_upper + rig.inner_lower[::-1][1:-1], :2]
        ux, uy = self._face_curve(dst[rig.inner_upper, :2])
        lx, ly = self._face_curve(dst[rig.inner_lower, :2])
        gap = float((np.interp(lx, ux, uy) - ly).min())  # negative of the largest opening
        open_px = -gap * iod
        if open_px < 0.4:
            return
        bx0, by0, bx1, by1 = self.box
        ox, oy = origin
        lo = np.floor(poly.min(axis=0)).astype(int) - 2
        hi = np.ceil(poly.max(axis=0)).astype(int) + 3
        x0, y0 = max(int(lo[0]), bx0, ox), max(int(lo[1]), by0, oy)
        x1, y1 = min(int(hi[0]), bx1, ox + roi.shape[1]), min(int(hi[1]), by1, oy + roi.shape[0])
        if x1 <= x0 or y1 <= y0:
            return
        mask = _poly_mask((y1 - y0, x1 - x0), poly, (x0, y0))
        inside = (mask > 127).astype(np.uint8)
        # Grown by a pixel before softening, so the soft edge lies on the lips' edge, not inside.
        alpha = cv2.GaussianBlur(cv2.dilate(mask, np.ones((3, 3), np.uint8)), (3, 3), 0.7).astype(
            np.float32
        ) * (float(np.clip((open_px - 0.4) / 1.5, 0.0, 1.0)) / 255.0)
        if self._src_inner is not None:
            moved = float(np.abs(dst[rig.inner_upper + rig.inner_lower, :2] - self._src_inner).max())
            alpha *= float(_smoothstep(0.0, 1.5, moved))
        sl = (slice(y0 - by0, y1 - by0), slice(x0 - bx0, x1 - bx0))
        u, v = self.u[sl], self.v[sl]
        m = mouth_vector(mouth)
        top = np.interp(u, ux, uy).astype(np.float32)
        bottom = np.interp(u, lx, ly).astype(np.float32)
        open_mid = float(np.interp(0.0, lx, ly) - np.interp(0.0, ux, uy))
        # Light inside: less through a small opening; the corners in the cheeks' shadow (a rounded,
        # narrow opening shows only the front teeth lit).
        mid_u, half = (ux[0] + ux[-1]) / 2.0, max((ux[-1] - ux[0]) / 2.0, 1e-3)
        side = _smoothstep(0.45 * half, 1.0 * half, np.abs(u - mid_u))
        through = 0.55 + 0.45 * float(_smoothstep(0.02, 0.16, open_mid))
        # Cavity: dark and warm, darkest away from the lips.
        dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
        depth = np.clip(dist / max(0.1 * iod, 1.0), 0.0, 1.0) ** 0.8
        col = look.cavity_edge + (look.cavity_deep - look.cavity_edge) * depth[..., None]
        # Tongue body low in the mouth, its top in shadow.
        if open_mid > 0.04:
            cy, ry, rx = float(np.interp(0.0, lx, ly)) + 0.04, 0.05 + 0.4 * open_mid, 0.75 * self.half_width
            r2 = (u / rx) ** 2 + ((v - cy) / ry) ** 2
            a = np.clip((1.0 - r2) * 2.5, 0.0, 1.0) * 0.85
            shade = 0.35 + 0.55 * np.clip((v - (cy - ry)) / ry, 0.0, 1.0) ** 0.6
            col = col + (look.tongue * shade[..., None] - col) * a[..., None]
        tip = None
        if m[_TONGUE] > 0.01:  # the tongue's tip at the upper teeth (behind them; between them for th)
            if self._static is None:
                tip, tip_col = self._tip_layer(u, v)
            else:
                tip, tip_col = self._static[1][0][sl], self._static[1][1][sl]
            col = col + (tip_col - col) * (tip * float(m[_TONGUE]))
        # Lower teeth, fixed to the lower jaw: only when it opens wide or the lower lip drops.
        show = LOWER_TEETH_SHOW * float(_smoothstep(0.45, 1.0, m[_JAW])) + 0.025 * max(float(m[_LOWER]), 0.0)
        if show > 0.012:
            if self._static is None:
                lower = self._lower_teeth_layer(u)
            else:
                lower = tuple(x[sl] for x in self._static[0])
            prof, recede, seam, short, wide, visible = lower
            edge_l = bottom - show * prof + short
            down = np.clip((v - edge_l) / max(show, 1e-3), 0.0, 1.0)
            light = LOWER_TEETH_DIM * through * recede * (1.0 - 0.3 * down) * (1.0 - 0.7 * side)
            light = light * (1.0 - seam * (0.06 + 0.1 * (1.0 - _smoothstep(0.0, 0.3, down))))
            fade = float(_smoothstep(0.012, 0.03, show))
            a = np.clip((v - edge_l) * iod + 0.5, 0.0, 1.0) * wide * fade
            a = a * visible
            lower_col = self._in_shadow(self._teeth_colour(light, recede), light)
            a = a * _smoothstep(0.05, 0.35, light)  # deep in shadow: no brighter than the cavity
            col = col + (lower_col - col) * a[..., None]
        # The shadows the lips cast inside, then the upper teeth (the static layer) in their light:
        # drawn ones under the upper lip's soft shadow; a picture's own have theirs already.
        shadow = (0.8 + 0.2 * _smoothstep(0.0, 0.03, v - top)) * (
            0.88 + 0.12 * _smoothstep(0.0, 0.025, bottom - v)
        )
        col = col * shadow[..., None]
        own = self._teeth_own[sl]
        ta = self._teeth_alpha[sl][..., None]
        drawn_light = (
            (0.45 + 0.55 * _smoothstep(-0.01, 0.05, v - top))
            * (0.85 + 0.15 * _smoothstep(0.0, 0.03, bottom - v))
            * through
            * (1.0 - 0.7 * side)
        )
        own_light = 1.0 - 0.45 * side
        light = drawn_light * (1.0 - own[..., 0]) + own_light * own[..., 0]
        light_all = light * self._teeth_light[sl]
        teeth_col = self._in_shadow(self._teeth_color[sl] * light[..., None], light_all)
        # Deep in shadow a tooth is no brighter than the cavity around it: it fades into it.
        ta = ta * (own + (1.0 - own) * _smoothstep(0.03, 0.3, light_all)[..., None])
        col = col + (teeth_col - col) * ta
        if tip is not None and m[_TONGUE] > 0.5:
            col = col + (tip_col * shadow[..., None] - col) * (
                tip * float(_smoothstep(0.5, 1.0, m[_TONGUE])) * 0.8
            )
        dim = 0.18 * max(-float(m[_WIDTH]), 0.0)  # behind rounded, pushed-out lips: in shadow
        if dim > 0:
            col = col + (look.cavity_edge - col) * (dim * ta)
        if gate is not None:
            alpha = alpha * gate[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        target = roi[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        a3 = alpha[..., None]
        target[:] = np.clip(target * (1.0 - a3) + col * a3 + 0.5, 0, 255).astype(np.uint8)


# =================================================================================================
# Mouth, jaw and eyelids of one picture
# =================================================================================================
class FaceWarper:
    """Moves the mouth, jaw and eyelids of one picture: a portrait, or one frame of a video avatar.

    ``landmarks`` are where the picture has its face; ``neutral`` (default: the same) is the mouth
    shape the parameters are relative to, e.g. a clip's closed rest mouth aligned to this frame, so
    a frame that speaks in the recording can be re-synced to new speech. ``gate`` (float [H, W],
    0..1) limits where pixels may change (full-background mode). For a clip, build ``rig`` and
    ``look`` (``MouthLook.sample``) once from a reference frame of the person and share them:
    a frame whose own mouth is open would otherwise be sampled as the person's colours. ``teeth``
    = (image, landmarks) is a picture of the person with the mouth open (its lips where
    ``refine_lips`` puts them) whose upper teeth are shown instead of this picture's own, so the
    inside of the mouth does not change with a recording's own mouth.
    """

    def __init__(
        self,
        image: np.ndarray,
        landmarks: np.ndarray,
        *,
        rig: FaceRig | None = None,
        neutral: np.ndarray | None = None,
        look: MouthLook | None = None,
        gate: np.ndarray | None = None,
        refine: bool = True,
        teeth: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.image = np.ascontiguousarray(image, dtype=np.uint8)
        p = _as_points(landmarks)
        self.rig = rig or FaceRig(p)
        if look is None:
            teeth_image, teeth_points = (self.image, p) if teeth is None else teeth
            look = MouthLook.sample(teeth_image, teeth_points, self.rig)
        if refine and look.has_teeth:
            refined = refine_lips(self.image, p, self.rig)
            if neutral is None:
                neutral = refined
            p = refined
        self.landmarks = p
        self.neutral = p if neutral is None else _as_points(neutral)
        self.src = self.rig.extended(p)
        shape = self.image.shape
        # The warp boxes must hold the neutral shape too when it differs from the picture's.
        reach = np.concatenate([self.src, self.rig.extended(self.neutral)])
        self.mouth_warp = MeshWarp(self.rig.mouth_triangles, reach, shape)
        self.eye_warps = [MeshWarp(t, reach, shape) for t in self.rig.eye_triangles]
        self.painter = MouthPainter(
            self.image, p, self.rig, self.mouth_warp.box, base=self.neutral, look=look, teeth=teeth
        )
        self.gate = None if gate is None else np.asarray(gate, dtype=np.float32)

    def target_points(self, mouth: np.ndarray, blink: float = 0.0) -> np.ndarray:
        """The warp's target vertices (landmarks then ring) for one mouth row and blink."""
        dst = self.src.copy()
        moving = self.rig.moving
        dst[moving] = self.rig.targets(self.neutral, mouth, blink)[moving]
        return dst

    def _remap(
        self, source: np.ndarray, warp: MeshWarp, dst: np.ndarray
    ) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
        got = warp.maps(self.src, dst)
        if got is None:
            return None
        mx, my, box = got
        x0, y0, x1, y1 = box
        if self.gate is not None:
            g = self.gate[y0:y1, x0:x1]
            gx = np.arange(x0, x1, dtype=np.float32)[None, :]
            gy = np.arange(y0, y1, dtype=np.float32)[:, None]
            mx = gx + g * (mx - gx)
            my = gy + g * (my - gy)
        roi = cv2.remap(source, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return roi, box

    def render_into(self, out: np.ndarray, mouth: np.ndarray, blink: float = 0.0) -> None:
        """Write the moved mouth and eyelids into ``out`` (a copy of the picture, same size)."""
        m = mouth_vector(mouth)
        blink = float(np.clip(np.nan_to_num(blink), 0.0, 1.0))
        talking = bool(np.any(np.abs(m) > 1e-3)) or not np.array_equal(self.neutral, self.landmarks)
        if not talking and blink <= 1e-3:
            return
        dst = self.target_points(m, blink)
        if talking:
            got = self._remap(self.image, self.mouth_warp, dst)
            if got is not None:
                roi, (x0, y0, x1, y1) = got
                gate = None if self.gate is None else self.gate[y0:y1, x0:x1]
                self.painter.paint(roi, (x0, y0), dst, m, gate)
                if m[_PRESS] > 0.05:  # the upper lip laps over the lower one: soften that edge
                    _soften_along(roi, dst[self.rig.inner_upper] - (x0, y0))
                out[y0:y1, x0:x1] = roi
        if blink > 1e-3:
            for warp, (upper, _lower) in zip(self.eye_warps, self.rig.eyes, strict=True):
                got = self._remap(out, warp, dst)
                if got is not None:
                    roi, (x0, y0, x1, y1) = got
                    _soften_along(roi, dst[upper] - (x0, y0))
                    out[y0:y1, x0:x1] = roi

    def render(self, mouth: np.ndarray, blink: float = 0.0) -> np.ndarray:
        """A copy of the picture with the mouth shaped by ``mouth`` and the eyelids by ``blink``."""
        out = self.image.copy()
        self.render_into(out, mouth, blink)
        return out


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


def resync_mouth(
    image: np.ndarray,
    landmarks: np.ndarray,
    mouth: np.ndarray,
    *,
    neutral: np.ndarray | None = None,
    rig: FaceRig | None = None,
    look: MouthLook | None = None,
    blink: float = 0.0,
) -> np.ndarray:
    """One picture with its mouth moved from where ``landmarks`` have it to ``mouth`` (a track row)
    relative to ``neutral`` (default: the picture's own mouth). For video avatars: build ``rig``
    (and ``look``) once per person and pass them for every frame."""
    return FaceWarper(image, landmarks, rig=rig, neutral=neutral, look=look).render(mouth, blink)


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
        full_background: bool,
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
        if full_background:
            # Only lo-res cells wholly on the person, shrunk so the blur and the upsampling stay inside.
            inside_cells = (cover >= 0.999).astype(np.uint8)
            gate = cv2.erode(inside_cells, disk, borderType=cv2.BORDER_CONSTANT, borderValue=(1.0,)).astype(
                np.float32
            )
        else:
            gate = cv2.dilate((cover > 0.3).astype(np.uint8), disk).astype(np.float32)
        gate = np.asarray(
            cv2.GaussianBlur(gate, (2 * r + 1, 2 * r + 1), r / 2.0, borderType=cv2.BORDER_REPLICATE),
            np.float32,
        )
        if full_background:
            gate[cv2.erode((cover >= 0.999).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0] = 0.0
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


# =================================================================================================
# The photo renderer
# =================================================================================================
class PhotoAnimator:
    """Landmark-driven warping of one portrait. Construction precomputes; ``frame`` is the hot path."""

    #: ``frames`` reads row i of the tracks only when frame i is asked for (see ``render.Renderer``).
    lazy_tracks = True

    def __init__(self, pack: AvatarPack) -> None:
        self.pack = pack
        self._image = np.ascontiguousarray(pack.image, dtype=np.uint8)
        h, w = self._image.shape[:2]
        mask = np.asarray(pack.person_mask, dtype=np.float32)
        if mask.shape != (h, w):
            mask = np.asarray(cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        gate = None
        if pack.full_background:
            inside = (mask > 0.5).astype(np.uint8)
            r = max(2, int(round(0.1 * FaceFrame.of(_as_points(pack.landmarks)).iod)))
            disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 3, 2 * r + 3))
            inside = np.asarray(cv2.erode(inside, disk), dtype=np.uint8)
            gate = cv2.GaussianBlur(inside.astype(np.float32), (2 * r + 1, 2 * r + 1), r / 2.0)
        self.rig = FaceRig(pack.landmarks)
        self.face = FaceWarper(self._image, pack.landmarks, rig=self.rig, gate=gate)
        self.face.painter.keep_static_layers()
        self.head = HeadMotion(self._image.shape, pack.landmarks, mask, full_background=pack.full_background)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        return int(self._image.shape[1]), int(self._image.shape[0])

    def frame(self, mouth: np.ndarray, blink: float, head: np.ndarray) -> np.ndarray:
        """One RGB uint8 frame the size of ``pack.image`` for one row of the mouth and motion tracks."""
        out = self._image.copy()
        self.face.render_into(out, mouth, blink)
        self.head.apply(out, head)
        return out

    def frames(self, mouth: MouthTrack, motion: MotionTrack) -> Iterator[np.ndarray]:
        for i in range(mouth.n_frames):
            yield self.frame(mouth.values[i], float(motion.blink[i]), motion.head[i])
