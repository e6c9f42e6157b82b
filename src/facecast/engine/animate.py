"""The 2D animator: a prepared portrait plus per-frame mouth, blink and head pose -> video frames.

Composes the rig (``rig.py``: where the landmarks go), the mesh warp (``warp.py``), the mouth
interior (``mouth.py``) and head motion (``head.py``). ``FaceWarper`` works on any picture with
landmarks, so video avatars re-sync the mouth of each recorded frame with the same code.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from facecast.engine.face import FaceFrame
from facecast.engine.head import HeadMotion
from facecast.engine.layers import MouthLayers
from facecast.engine.lids import LidSkin
from facecast.engine.motion import MotionTrack
from facecast.engine.mouth import MouthLook, MouthPainter, refine_lips, rest_mouth
from facecast.engine.pack import AvatarPack
from facecast.engine.rig import _PRESS, FaceRig, _as_points, absolute_mouth, mouth_vector
from facecast.engine.visemes import MouthTrack
from facecast.engine.warp import MeshWarp, _soften_along


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
        own_rest = neutral is None and teeth is None  # a portrait at its own rest, not a clip frame
        if refine and look.has_teeth:
            refined = refine_lips(self.image, p, self.rig)
            if neutral is None:
                neutral = refined
            p = refined
        self.landmarks = p
        self.neutral = p if neutral is None else _as_points(neutral)
        # Speech opens the mouth to an absolute gap: a portrait that shows its teeth at rest does not
        # add the speech's opening on top; one caught mid-word rests with its lips together.
        self.rest = rest_mouth(self.image, self.neutral, self.rig)
        self.rest_gap = self.rest.gap
        self.rest_target = 0.0 if self.rest.speaking else self.rest_gap
        self.src = self.rig.extended(p)
        triangles = self.rig.mouth_triangles
        # A portrait whose own mouth is open keeps what it shows there, in two layers riding the jaws.
        self.layers: MouthLayers | None = None
        if self.rest.kind != "closed" and own_rest:
            self.layers = MouthLayers(self.image, p, self.rig, len(self.src))
            self.src = np.concatenate([self.src, self.layers.source_points()])
            triangles = np.concatenate([self.layers.triangles, triangles])
        shape = self.image.shape
        # The warp boxes must hold the neutral shape too when it differs from the picture's.
        reach = np.concatenate([self.src, self.rig.extended(self.neutral)])
        self.mouth_warp = MeshWarp(triangles, reach, shape)
        self.eye_warps = [MeshWarp(t, reach, shape) for t in self.rig.eye_triangles]
        self.painter = MouthPainter(
            self.image, p, self.rig, self.mouth_warp.box, base=self.neutral, look=look, teeth=teeth
        )
        self.gate = None if gate is None else np.asarray(gate, dtype=np.float32)
        self._lids: LidSkin | None = None  # made at the first blink (a clip's frames never blink)

    def target_points(self, mouth: np.ndarray, blink: float = 0.0) -> np.ndarray:
        """The warp's target vertices (landmarks then ring) for one mouth row and blink."""
        shape, close = absolute_mouth(mouth, self.rest_gap, self.rest_target)
        return self._targets(shape, blink, close)

    def _targets(self, shape: np.ndarray, blink: float, close: float) -> np.ndarray:
        dst = self.src.copy()
        moving = self.rig.moving
        dst[moving] = self.rig.targets(self.neutral, shape, blink, close)[moving]
        if self.layers is not None:
            dst[-len(self.layers.source_points()) :] = self.layers.target_points(self.src, dst)
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
        shape, close = absolute_mouth(m, self.rest_gap, self.rest_target)
        talking = (
            bool(np.any(np.abs(shape) > 1e-3)) or close > 1e-3 or not np.array_equal(self.neutral, self.landmarks)
        )
        if not talking and blink <= 1e-3:
            return
        dst = self._targets(shape, blink, close)
        if talking:
            got = self._remap(self.image, self.mouth_warp, dst)
            if got is not None:
                roi, (x0, y0, x1, y1) = got
                gate = None if self.gate is None else self.gate[y0:y1, x0:x1]
                between = None if self.layers is None else self.layers.gap(dst)
                self.painter.paint(roi, (x0, y0), dst, m, gate, between=between)
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
            if self._lids is None:
                self._lids = LidSkin(self.image, self.landmarks, self.rig)
            self._lids.paint(out, self.src, dst, blink)

    def render(self, mouth: np.ndarray, blink: float = 0.0) -> np.ndarray:
        """A copy of the picture with the mouth shaped by ``mouth`` and the eyelids by ``blink``."""
        out = self.image.copy()
        self.render_into(out, mouth, blink)
        return out




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
        # Only the person moves, in either framing: the background beside the jaw stays still.
        inside = (mask > 0.5).astype(np.uint8)
        r = max(2, int(round(0.1 * FaceFrame.of(_as_points(pack.landmarks)).iod)))
        disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 3, 2 * r + 3))
        inside = np.asarray(cv2.erode(inside, disk, borderType=cv2.BORDER_REPLICATE), dtype=np.uint8)
        gate = cv2.GaussianBlur(inside.astype(np.float32), (2 * r + 1, 2 * r + 1), r / 2.0)
        self.rig = FaceRig(pack.landmarks)
        self.face = FaceWarper(self._image, pack.landmarks, rig=self.rig, gate=gate)
        self.face.painter.keep_static_layers()
        self.head = HeadMotion(self._image.shape, pack.landmarks, mask)

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

