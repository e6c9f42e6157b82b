"""The video-avatar renderer: walks a prepared clip for as long as the speech lasts, re-syncing the mouth.

Blinks and head motion come from the recording (the motion track's are ignored); in every frame
the mouth is moved from where the recording has it to where the new speech needs it by the photo
animator's mouth warp, with the neutral closed mouth taken from the person's own closed-mouth
frames, so the recording's own mouth movement does not show through.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facecast.engine import face
from facecast.engine.animate import FaceWarper
from facecast.engine.audio import Audio
from facecast.engine.clip import VideoAvatarPack
from facecast.engine.geometry import apply_affine, fit_affine
from facecast.engine.motion import MotionTrack
from facecast.engine.mouth import MouthLook, refine_lips
from facecast.engine.phones import TimedPhone
from facecast.engine.render import CancelCheck, ProgressCallback, RenderOptions, RenderResult, render_video
from facecast.engine.rig import FaceRig
from facecast.engine.visemes import MouthTrack

#: Seconds over which the walk slows to a stop and speeds up again where it turns round.
TURN_SECONDS = 0.35
#: Seconds of cross-fade where the walk jumps from a loop's end back to its start.
LOOP_FADE_SECONDS = 0.3
#: Below this speed (source frames per output frame) neighbouring frames are blended, not picked.
BLEND_BELOW_SPEED = 0.75


@dataclass(frozen=True)
class Step:
    """What one output frame shows: source frames with weights summing to 1.

    ``blend`` says how they combine: "pixels" (neighbouring frames, blended before re-syncing)
    or "fade" (a loop's cut: each re-synced, then cross-faded).
    """

    sources: tuple[tuple[float, float], ...]
    blend: str = "pixels"

    @property
    def position(self) -> float:
        """The source frame position this output frame mostly shows (for evaluation)."""
        return max(self.sources, key=lambda source: source[1])[0]


def _ramp(tau: float, ramp: float, speed: float) -> float:
    """Distance covered ``tau`` frames into a cosine speed-up of length ``ramp`` to ``speed``."""
    return speed * (tau - ramp / math.pi * math.sin(math.pi * tau / ramp)) / 2.0


def bounce_positions(start: int, end: int, n_frames: int, speed: float, turn: float) -> np.ndarray:
    """Source positions walking ``start`` -> ``end - 1`` -> ``start`` ... easing to a stop at each turn.

    ``speed`` is source frames per output frame; ``turn`` the easing length in output frames.
    """
    length = float(end - 1 - start)
    if length <= 0:
        return np.full(n_frames, float(start))
    ramp = min(turn, length / speed)
    period = length / speed + ramp  # output frames per pass
    positions = np.empty(n_frames)
    for k in range(n_frames):
        passes, tau = divmod(float(k), period)
        if tau < ramp:
            s = _ramp(tau, ramp, speed)
        elif tau < period - ramp:
            s = speed * ramp / 2.0 + speed * (tau - ramp)
        else:
            s = length - _ramp(period - tau, ramp, speed)
        s = min(max(s, 0.0), length)
        positions[k] = start + s if int(passes) % 2 == 0 else end - 1 - s
    return positions


def walk(pack: VideoAvatarPack, n_frames: int, fps: float, *, mode: str = "auto") -> list[Step]:
    """The source frames of each of ``n_frames`` output frames at ``fps``.

    ``mode`` "loop" runs through the pack's loop points with a cross-fade at the cut, "bounce"
    walks forward and back slowing down at the turns; "auto" loops when the pack has a loop.
    """
    speed = pack.fps / fps
    use_loop = pack.loop is not None and mode in ("auto", "loop")
    if mode == "loop" and pack.loop is None:
        raise ValueError("this video avatar has no loop points; use mode='bounce'")
    steps: list[Step] = []
    if use_loop:
        assert pack.loop is not None
        a, b = pack.loop
        period = b - a
        fade = max(1.0, LOOP_FADE_SECONDS * pack.fps)
        for k in range(n_frames):
            p = pack.start + k * speed
            if p >= b:
                p = a + (p - a) % period
            index = min(int(round(p)), b - 1)
            if index >= b - fade:
                w = (index - (b - fade)) / fade
                w = w * w * (3.0 - 2.0 * w)
                steps.append(Step(((float(index), 1.0 - w), (float(index - period), w)), "fade"))
            else:
                steps.append(Step(((float(index), 1.0),)))
        return steps
    first, last = pack.turns
    positions = bounce_positions(first, last + 1, n_frames, speed, TURN_SECONDS * fps)
    velocity = np.abs(np.gradient(positions)) if n_frames > 1 else np.full(n_frames, speed)
    for p, v in zip(positions, velocity, strict=True):
        lo = int(math.floor(p))
        frac = p - lo
        if v >= BLEND_BELOW_SPEED or frac < 0.1 or lo + 1 >= pack.end:
            steps.append(Step(((float(min(int(round(p)), pack.end - 1)), 1.0),)))
        elif frac > 0.9:
            steps.append(Step(((float(lo + 1), 1.0),)))
        else:
            steps.append(Step(((float(lo), 1.0 - frac), (float(lo + 1), frac))))
    return steps


class _FrameCache:
    """The last few decoded frames (walks revisit neighbours at turns and fades)."""

    def __init__(self, pack: VideoAvatarPack, capacity: int = 6) -> None:
        self._pack = pack
        self._capacity = capacity
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getitem__(self, index: int) -> np.ndarray:
        image = self._items.get(index)
        if image is None:
            image = self._pack.frame(index)
            self._items[index] = image
            if len(self._items) > self._capacity:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(index)
        return image


def neutral_landmarks(
    pack: VideoAvatarPack, points: np.ndarray, weight: np.ndarray | None = None
) -> np.ndarray:
    """The frame's landmarks with the mouth and jaw moved to the person's closed, relaxed mouth.

    ``pack.rest_mouth`` (face-aligned) is mapped into the frame by the affine fit of the rigid
    points; the upper face keeps the frame's own points, the lower face blends to the rest shape.
    """
    rigid = list(face.RIGID_POINTS)
    matrix = fit_affine(pack.rest_mouth[rigid, :2].astype(np.float64), points[rigid, :2].astype(np.float64))
    rest = apply_affine(matrix, pack.rest_mouth)
    if weight is None:
        weight = lower_face_weight(pack)
    out = points.copy()
    out[:, :2] += weight[:, None] * (rest - points[:, :2])
    return out


def lower_face_weight(pack: VideoAvatarPack) -> np.ndarray:
    """Per landmark, how much it belongs to the mouth and jaw (0 above the nose base, 1 at the lips)."""
    rest = pack.rest_mouth
    nose_base = float(rest[2, 1])  # subnasale
    lip_top = float(rest[list(face.UPPER_OUTER_LIP), 1].min())
    span = max(lip_top - nose_base, 1e-3)
    weight = np.clip((rest[:, 1] - nose_base) / span, 0.0, 1.0).astype(np.float32)
    weight[468:] = 0.0  # irises
    return weight


def _rest_frame(pack: VideoAvatarPack) -> int:
    """The usable frame whose mouth is closest to the rest mouth (a closed frame when there is one)."""
    candidates = np.flatnonzero(pack.closed[pack.start : pack.end]) + pack.start
    if len(candidates) == 0:
        candidates = np.arange(pack.start, pack.end)
    lips = list(face.LIPS)
    errors = []
    for index in candidates:
        aligned = apply_affine(face.face_frame(pack.landmarks[index]), pack.landmarks[index])
        errors.append(float(np.abs(aligned[lips] - pack.rest_mouth[lips]).mean()))
    return int(candidates[int(np.argmin(errors))])


class ClipAnimator:
    """Renderer for video avatars (the ``render.Renderer`` protocol): clip frames + re-synced mouth."""

    def __init__(self, pack: VideoAvatarPack, *, mode: str = "auto") -> None:
        if mode not in ("auto", "loop", "bounce"):
            raise ValueError(f"mode must be 'auto', 'loop' or 'bounce', not {mode!r}")
        self.pack = pack
        self.mode = mode
        self._cache = _FrameCache(pack)
        self._weight = lower_face_weight(pack)
        # One deformation model per person, built on the clip frame closest to the rest mouth.
        reference = _rest_frame(pack)
        self.rig = FaceRig(pack.landmarks[reference])
        # Mouth colours (teeth, cavity, tongue) and the upper teeth from the person's own
        # widest-open frame if any: every output frame shows those teeth, whatever the recorded
        # frame's own mouth is doing (else its teeth would come and go with the old speech).
        self.teeth: tuple[np.ndarray, np.ndarray] | None = None
        if pack.interiors:
            interior = pack.interiors[0]
            self.look = MouthLook.sample(interior.image, interior.landmarks, self.rig)
            if self.look.has_teeth:
                self.teeth = (interior.image, refine_lips(interior.image, interior.landmarks, self.rig))
        else:
            self.look = MouthLook.sample(self._cache[reference], pack.landmarks[reference], self.rig)

    @property
    def size(self) -> tuple[int, int]:
        return self.pack.size

    def walk(self, n_frames: int, fps: float) -> list[Step]:
        return walk(self.pack, n_frames, fps, mode=self.mode)

    def _source(self, step: Step) -> tuple[np.ndarray, np.ndarray]:
        """Picture and landmarks of one output frame's source, before the mouth is re-synced."""
        if len(step.sources) == 1:
            index = int(step.sources[0][0])
            return self._cache[index], self.pack.landmarks[index]
        (i0, w0), (i1, w1) = step.sources
        a, b = self._cache[int(i0)], self._cache[int(i1)]
        image = (a.astype(np.float32) * w0 + b.astype(np.float32) * w1 + 0.5).astype(np.uint8)
        points = self.pack.landmarks[int(i0)] * w0 + self.pack.landmarks[int(i1)] * w1
        return image, points.astype(np.float32)

    def resync(self, image: np.ndarray, points: np.ndarray, mouth: np.ndarray) -> np.ndarray:
        """One frame with its mouth moved from where the recording has it to ``mouth`` (a track row)."""
        neutral = neutral_landmarks(self.pack, points, self._weight)
        warper = FaceWarper(image, points, rig=self.rig, neutral=neutral, look=self.look, teeth=self.teeth)
        return warper.render(mouth)

    def frame(self, step: Step, mouth: np.ndarray) -> np.ndarray:
        if step.blend == "fade":
            out = np.zeros((self.size[1], self.size[0], 3), np.float32)
            for index, weight in step.sources:
                out += weight * self.resync(self._cache[int(index)], self.pack.landmarks[int(index)], mouth)
            return np.clip(out + 0.5, 0, 255).astype(np.uint8)
        image, points = self._source(step)
        return self.resync(image, points, mouth)

    def frames(self, mouth: MouthTrack, motion: MotionTrack) -> Iterator[np.ndarray]:
        """One frame per row of ``mouth``; ``motion`` is ignored (blinks and head come from the clip)."""
        del motion
        for index, step in enumerate(self.walk(mouth.n_frames, mouth.fps)):
            yield self.frame(step, mouth.values[index])


def render_video_avatar(
    pack: VideoAvatarPack,
    audio: Audio,
    output: str | Path,
    *,
    phones: Sequence[TimedPhone] | None = None,
    options: RenderOptions | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    mode: str = "auto",
) -> RenderResult:
    """Render a prepared video avatar speaking ``audio`` to an MP4 at ``output`` (new speech only)."""
    return render_video(
        ClipAnimator(pack, mode=mode),
        audio,
        output,
        phones=phones,
        options=options,
        on_progress=on_progress,
        should_cancel=should_cancel,
        warnings=pack.warnings,
    )
