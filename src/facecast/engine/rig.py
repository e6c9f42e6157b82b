"""The face rig: mouth parameters and a blink -> where every landmark of one person's face goes.

Control points (lip contours, jaw line, eyelids) move by linear bases in the face-aligned frame; a
harmonic interpolation over the mesh carries the motion into the cheeks and chin while the upper
face and a pinned ring around the lower face stay put.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from facecast.engine import face
from facecast.engine.face import FaceFrame
from facecast.engine.visemes import MOUTH_PARAMS

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
#: The widest the inner lips open in speech (face units): a full "aa" on a closed mouth; the least
#: they stay apart between sounds while speaking from a portrait whose lips are apart at rest; and
#: the mouth activity (its largest parameter) by which speaking has taken over from the rest.
OPEN_MAX = 0.36
SPEECH_FLOOR = 0.06
ENGAGE_AT = 0.2
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
#: Pinned ring around the lower face: its distance outside the jaw line at the sides and the chin.
RING_SIDE = 0.32
RING_CHIN = 0.40

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
#: The middle of the upper lip's inner edge (a face-mesh index), and the least half-width of the
#: mouth on either side of it (face units).
UPPER_LIP_MIDDLE = 13
MIN_HALF_WIDTH = 0.08
#: Points of the face mesh proper (the iris points after them never move with the rig).
N_MESH = 468


def _jaw_line(q: np.ndarray, mouth_center: np.ndarray) -> tuple[list[int], float]:
    """The jaw line (the face oval below the ears, ordered image-left to image-right) and the height
    of the ears in face units."""
    oval = list(face.FACE_OVAL)
    y_ear = 0.33 * float(mouth_center[1])
    below = q[oval, 1] > y_ear
    start = next(i for i in range(len(oval)) if below[i] and not below[i - 1])
    rolled = oval[start:] + oval[:start]
    chain = [i for k, i in enumerate(rolled) if all(below[oval.index(j)] for j in rolled[: k + 1])]
    return (chain if q[chain[0], 0] <= q[chain[-1], 0] else chain[::-1]), y_ear


@functools.cache
def _mesh_graph() -> tuple[np.ndarray, list[set[int]]]:
    """The mesh's edges [E, 2] and each point's neighbours (the same for every face)."""
    tris = np.asarray(face.TRIANGLES, dtype=np.intp)
    edges = np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    nbrs: list[set[int]] = [set() for _ in range(N_MESH)]
    for a, b in edges:
        nbrs[a].add(int(b))
        nbrs[b].add(int(a))
    return edges, nbrs


def _harmonic_matrix(q: np.ndarray, edges: np.ndarray, free: np.ndarray, ctrl: np.ndarray) -> np.ndarray:
    """Harmonic interpolation over the mesh (edge weights 1/length): free = H @ controls, with the
    points that are neither free nor controls pinned at 0."""
    w = np.zeros((N_MESH, N_MESH))
    lengths = np.linalg.norm(q[edges[:, 0]] - q[edges[:, 1]], axis=1)
    w[edges[:, 0], edges[:, 1]] = w[edges[:, 1], edges[:, 0]] = 1.0 / np.maximum(lengths, 0.02)
    a_ff = np.diag(w[free].sum(axis=1)) - w[np.ix_(free, free)] + 1e-9 * np.eye(len(free))
    return np.linalg.solve(a_ff, w[np.ix_(free, ctrl)])


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
        self._contours(q)
        self.jaw_chain, y_ear = _jaw_line(q, self.mouth_center)
        edges, nbrs = _mesh_graph()
        mouth_ctrl, followers, free_mouth, free_eyes = self._controls(q, nbrs)
        self._h = _harmonic_matrix(q, edges, self.free, self.ctrl)
        self._bases = self._mouth_bases(q, mouth_ctrl)
        self._jaw_bases(q, p[:, 2] / fr.iod, y_ear)
        self._control_positions(q, followers)
        self._ring(q)
        self._triangles(mouth_ctrl, free_mouth, followers, free_eyes)
        self.moving = np.concatenate([self.ctrl, self.free])
        self.chin_y = float(q[list(face.FACE_OVAL), 1].max())
        self._face_cache: tuple[np.ndarray, FaceFrame, np.ndarray] | None = None

    # --- builders, in the order ``__init__`` calls them ------------------------------------------
    def _contours(self, q: np.ndarray) -> None:
        """Lip and eyelid chains ordered from image-left to image-right; the mouth's middle and size."""

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
        self.mouth_center = (q[self.inner_upper[0]] + q[self.inner_upper[-1]]) / 2.0
        self.half_width = float(max(abs(q[self.outer_upper[-1], 0] - q[self.outer_upper[0], 0]) / 2.0, 0.2))
        # The lips' own midline and the width on each side of it: on a turned face the far side is
        # foreshortened, so the shapes of speech are centred there and squeezed on that side.
        self.midline = float(q[UPPER_LIP_MIDDLE, 0])
        self._half_widths = (
            max(self.midline - float(q[self.outer_upper[0], 0]), MIN_HALF_WIDTH),
            max(float(q[self.outer_upper[-1], 0]) - self.midline, MIN_HALF_WIDTH),
        )

    def _across(self, x: np.ndarray | float) -> np.ndarray:
        """Position across the mouth: -1 at the image-left corner, 0 on the midline, +1 at the right."""
        d = np.asarray(x, dtype=np.float64) - self.midline
        return np.where(d < 0, d / self._half_widths[0], d / self._half_widths[1])

    def _controls(
        self, q: np.ndarray, nbrs: list[set[int]]
    ) -> tuple[list[int], list[list[int]], list[int], list[list[int]]]:
        """Control points (lips, jaw line, eyelids and the lid skin just above each upper lid, which
        moves with the lid's margin so the lashes slide down whole) and the free points the
        harmonic falloff moves. Returns (mouth controls, lid followers, free mouth, free eye points)."""
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
        ctrl = mouth_ctrl + self.jaw_chain + eye_ctrl[0] + eye_ctrl[1] + followers[0] + followers[1]
        self.ctrl = np.array(ctrl, dtype=np.intp)
        self._pos = {i: k for k, i in enumerate(ctrl)}
        ctrl_set = set(ctrl)
        oval = set(face.FACE_OVAL)
        y_pin = 0.55 * self.mouth_center[1]
        free_mouth = [i for i in range(N_MESH) if i not in ctrl_set and q[i, 1] > y_pin and i not in oval]
        free_eyes = [[i for i in r if i not in ctrl_set and q[i, 1] < y_pin] for r in ring1]
        self.free = np.array(free_mouth + free_eyes[0] + free_eyes[1], dtype=np.intp)
        self._eye_moving = [
            set(e) | set(f) | set(fe) for e, f, fe in zip(eye_ctrl, followers, free_eyes, strict=True)
        ]
        return mouth_ctrl, followers, free_mouth, free_eyes

    def _mouth_bases(self, q: np.ndarray, mouth_ctrl: list[int]) -> dict[str, np.ndarray]:
        """Linear displacement bases of the control points (face units), one per half-parameter."""
        center, pos = self.mouth_center, self._pos
        bases = {k: np.zeros((len(self.ctrl), 2)) for k in ("jaw", "round", "spread", "upper", "drop", "tuck", "thin")}
        corners = {self.inner_upper[0], self.inner_upper[-1], self.outer_upper[0], self.outer_upper[-1]}
        iu, il, ou, ol = (
            set(c) for c in (self.inner_upper, self.inner_lower, self.outer_upper, self.outer_lower)
        )
        for i in mouth_ctrl:
            k = pos[i]
            dxm = q[i, 0] - self.midline
            t = float(np.clip(self._across(q[i, 0]), -1.2, 1.2))
            bell = max(0.0, 1.0 - t * t) ** 0.8
            bell6 = max(0.0, 1.0 - t * t) ** 0.6
            side = 1.0 if t >= 0 else -1.0
            if i in corners:
                bases["jaw"][k] = (-0.035 * side, 0.33 * JAW_DROP)
                bases["round"][k] = (-ROUND_SQUEEZE * dxm, -ROUND_SQUEEZE * (q[i, 1] - center[1]))
                bases["spread"][k] = (SPREAD_STRETCH * dxm, -0.02)
                continue
            if i in il or i in ol:
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
        return bases

    def _jaw_bases(self, q: np.ndarray, zf: np.ndarray, y_ear: float) -> None:
        """The jaw line's share of the jaw basis: a rotation about the hinge behind the cheek moves
        points down by their depth in front of it; mediapipe's z gives that depth (falling back on
        the distance from the midline when z is flat)."""
        oval = list(face.FACE_OVAL)
        lip_mid = self.inner_lower[len(self.inner_lower) // 2]
        widest = np.argsort(np.abs(q[oval, 0]))[-2:]
        z_hinge = float(zf[[oval[k] for k in widest]].mean()) + 0.1
        span = z_hinge - float(zf[lip_mid])
        x_ear = float(np.abs(q[oval, 0]).max())
        for i in self.jaw_chain:
            if span > 0.25:
                depth = float(np.clip((z_hinge - zf[i]) / span, 0.0, 1.1)) ** 0.6
            else:
                depth = float(np.clip(1.0 - (q[i, 0] / x_ear) ** 2, 0.0, 1.0)) ** 0.5
            taper = float(_smoothstep(y_ear, y_ear + 0.5, q[i, 1]))
            self._bases["jaw"][self._pos[i]] = (0.0, JAW_DROP * depth * taper)

    def _control_positions(self, q: np.ndarray, followers: list[list[int]]) -> None:
        """Where the lip and lid chains sit in the control array, and the press and tuck weights."""
        pos = self._pos
        self._iu = np.array([pos[i] for i in self.inner_upper], dtype=np.intp)
        self._il = np.array([pos[i] for i in self.inner_lower], dtype=np.intp)
        self._ou = np.array([pos[i] for i in self.outer_upper], dtype=np.intp)
        self._ol = np.array([pos[i] for i in self.outer_lower], dtype=np.intp)
        t_il = self._across(q[self.inner_lower, 0])
        self._il_weight = np.clip(1.0 - t_il**2, 0.0, 1.0) ** 0.5
        t_iu = self._across(q[self.inner_upper, 0])
        self._iu_weight = np.clip((1.0 - np.abs(t_iu)) / 0.2, 0.0, 1.0)
        self._eyes_pos = [
            (
                np.array([pos[i] for i in u], dtype=np.intp),
                np.array([pos[i] for i in lo], dtype=np.intp),
                np.array([pos[i] for i in f], dtype=np.intp),
            )
            for (u, lo), f in zip(self.eyes, followers, strict=True)
        ]

    def _ring(self, q: np.ndarray) -> None:
        """The pinned ring around the lower face: a direction and distance out from each jaw point."""
        d = q[self.jaw_chain] - self.mouth_center
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
        self._ring_dir = d
        self._ring_margin = RING_SIDE + RING_CHIN * np.clip(d[:, 1], 0.0, 1.0) ** 2

    def _triangles(
        self, mouth_ctrl: list[int], free_mouth: list[int], followers: list[list[int]], free_eyes: list[list[int]]
    ) -> None:
        """Warp triangles. The mouth and eye openings have none: what shows there stays in place
        (teeth, eyeballs) unless painted. The upper lip and upper lids are drawn last, on top."""
        chain = self.jaw_chain
        ring = list(range(self.n_points, self.n_points + len(chain)))
        t_idx = np.arange(len(chain), dtype=np.float64)
        ring_tris = _zip_strip(chain, ring, t_idx, t_idx)
        tris = np.asarray(face.TRIANGLES, dtype=np.intp)
        mouth_moving = set(mouth_ctrl) | set(chain) | set(free_mouth)
        upper_lip = set(self.inner_upper[1:-1])
        mesh_mouth = [tuple(int(v) for v in t) for t in tris if any(int(v) in mouth_moving for v in t)]
        mesh_mouth.sort(key=lambda t: any(v in upper_lip for v in t))
        self.mouth_triangles = np.array(ring_tris + mesh_mouth, dtype=np.int32)
        self.eye_triangles: list[np.ndarray] = []
        for (u, _lo), moving in zip(self.eyes, self._eye_moving, strict=True):
            lid = set(u[1:-1])
            mesh_eye = [
                tuple(int(v) for v in t)
                for t in tris
                if any(int(v) in moving for v in t) and not any(int(v) in mouth_moving for v in t)
            ]
            mesh_eye.sort(key=lambda t: any(v in lid for v in t))
            self.eye_triangles.append(np.array(mesh_eye, dtype=np.int32))

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

    def displacements(
        self, base: np.ndarray, mouth: np.ndarray, blink: float, close: float = 0.0
    ) -> np.ndarray:
        """Control-point displacements [len(ctrl), 2] in face units for ``base`` landmarks.

        ``close`` (0..1) brings parted lips of ``base`` together by that fraction of their gap, as
        a press does but without thinning them (a smiling portrait speaking a small opening)."""
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
        shut = max(press, float(np.clip(close, 0.0, 1.0)))
        if shut > 1e-4:
            cur = qc + d
            ux, uy, lx, ly = cur[self._iu, 0], cur[self._iu, 1], cur[self._il, 0], cur[self._il, 1]
            lo_at_u = _interp_curve(ux, lx, ly)
            up_at_l = _interp_curve(lx, ux, uy)
            over = PRESS_OVERLAP * press**3 * self._iu_weight
            shift_u = shut * PRESS_MEET * np.maximum(lo_at_u - uy, 0.0) + over
            shift_l = -shut * (1.0 - PRESS_MEET) * np.maximum(ly - up_at_l, 0.0)
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

    def targets(
        self, base: np.ndarray, mouth: np.ndarray, blink: float = 0.0, close: float = 0.0
    ) -> np.ndarray:
        """Landmark positions [N, 2] of ``base`` with the mouth shaped by ``mouth`` and eyes by ``blink``."""
        p = _as_points(base)
        d = self.displacements(p, mouth, blink, close)
        full = np.zeros((p.shape[0], 2))
        full[self.ctrl] = d
        full[self.free] = self.spread(d)
        fr, _ = self._face_of(p)
        return p[:, :2] + fr.vectors_to_image(full)

    def rest_gap(self, base: np.ndarray) -> float:
        """The gap between the inner lips of ``base`` at the mouth's middle, in face units."""
        _, qc = self._face_of(_as_points(base))
        up, lo = qc[self._iu], qc[self._il]
        mid = float((up[0, 0] + up[-1, 0]) / 2.0)
        return max(_interp_curve(np.array([mid]), lo[:, 0], lo[:, 1])[0]
                   - _interp_curve(np.array([mid]), up[:, 0], up[:, 1])[0], 0.0)

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



def raw_opening(mouth: np.ndarray) -> float:
    """The inner-lip gap (face units) ``mouth`` opens on a closed mouth at rest: the jaw's drop, the
    lower lip's drop and the upper lip's raise at the mouth's middle."""
    m = mouth_vector(mouth)
    return float(JAW_DROP * m[_JAW] + LOWER_DROP * max(m[_LOWER], 0.0) + UPPER_RAISE * m[_UPPER])


def absolute_mouth(mouth: np.ndarray, rest_gap: float, rest_target: float) -> tuple[np.ndarray, float]:
    """``mouth`` for a portrait whose lips are ``rest_gap`` apart at rest, so that its opening is an
    absolute one in a human range, not the speech's opening added on top of the portrait's own:
    returns the row to give the rig and how much of the rest gap to close.

    At rest (all 0) the gap aimed at is ``rest_target`` (the portrait's own gap, or 0 for a photo
    caught mid-word); speaking, the speech's opening (``raw_opening``) maps onto the human range
    from ``SPEECH_FLOOR`` up to ``OPEN_MAX``, so the widest vowel is no wider than on a closed
    mouth and a wide laugh still moves its lips; p/b/m close the lips from any rest."""
    m = mouth_vector(mouth)
    if rest_gap <= 1e-3 and rest_target <= 1e-3:
        return m, 0.0
    raw = min(raw_opening(m), OPEN_MAX)
    press = float(m[_PRESS])
    # While speaking, the lips range from nearly closed to a full vowel whatever the rest; at rest
    # (and on the way there) they are where the portrait has them.
    low = min(rest_target, SPEECH_FLOOR)
    activity = max(float(m[_JAW]), press, abs(float(m[_LOWER])), float(m[_UPPER]), 0.5 * abs(float(m[_WIDTH])))
    engaged = float(_smoothstep(0.0, ENGAGE_AT, activity))
    speaking = low + (1.0 - low / OPEN_MAX) * raw
    wanted = (1.0 - press) * (rest_target + engaged * (speaking - rest_target))
    extra = wanted - rest_gap
    out = m.copy()
    if extra >= 0.0:
        scale = extra / raw if raw > 1e-6 else 0.0
        out[_JAW] *= scale
        out[_UPPER] *= scale
        out[_LOWER] = out[_LOWER] * scale if out[_LOWER] > 0 else out[_LOWER]
        return out, 0.0
    out[_JAW] = 0.0
    out[_UPPER] = 0.0
    out[_LOWER] = min(float(out[_LOWER]), 0.0)
    return out, float(np.clip(-extra / max(rest_gap, 1e-6), 0.0, 1.0))
