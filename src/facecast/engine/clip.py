"""Video avatars: a recorded clip of a person, prepared once for re-syncing its mouth to new speech.

Preparation streams the clip through PyAV frame by frame (downscaled to the working size as it is
decoded, stored as JPEG in a temporary file, so memory stays flat whatever the clip's length),
tracks the face in every frame, smooths the landmarks over time, finds where the person's mouth is
closed and still (the neutral mouth) and where it is open (its own mouth interior), and picks the
walk through the clip: a seamless loop when one exists, else forward and back. The clip's audio is
never read.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from facecast.engine import face
from facecast.engine.audio import Audio
from facecast.engine.geometry import apply_affine
from facecast.engine.pack import MAX_SOURCE_PIXELS, MIN_EYE_DISTANCE_PX
from facecast.engine.phones import TimedPhone
from facecast.engine.render import CancelCheck, ProgressCallback, RenderOptions, RenderResult
from facecast.errors import (
    FaceLost,
    ImageTooSmall,
    NoFaceFound,
    RenderCancelled,
    UnreadableVideo,
    VideoTooLarge,
    VideoTooLong,
)
from facecast.limits import DEFAULT_LIMITS

log = logging.getLogger(__name__)

#: Longest clip accepted by default (seconds); ``prepare_video_avatar(max_seconds=)`` overrides it.
DEFAULT_MAX_SECONDS = DEFAULT_LIMITS.max_clip_seconds
#: Default cap on the long side of a video avatar's frames (pixels): the output resolution.
DEFAULT_MAX_SIDE = 1280
#: Frames are stored at most this often; faster clips keep every 2nd (3rd, ...) frame.
MAX_CLIP_FPS = 30.0
#: Shortest usable stretch of clip with the face in view (seconds).
MIN_SEGMENT_SECONDS = 1.0
#: The face may be lost (not tracked, or partly out of the frame) in at most this share of frames.
MAX_LOST_FRACTION = 0.25
#: JPEG quality of the stored frames (close to lossless after the final crf-20 encode).
JPEG_QUALITY = 90
#: A forward-and-back walk turns round within this many seconds of either end of the clip.
TURN_SEARCH_SECONDS = 0.6
#: Side of the grey thumbnails used to compare frames when looking for loop points.
THUMB_SIDE = 32
#: Loop points are searched among at most this many frames (every k-th frame of longer clips),
#: and kept when the cut costs at most this many typical frame-to-frame differences.
MAX_LOOP_FRAMES = 1200
MAX_LOOP_COST = 2.5
#: Savitzky-Golay smoothing of the tracked landmarks: windows (seconds; mouth and eyes, the rest
#: of the head) and polynomial order.
SMOOTH_SECONDS = 0.2
SLOW_SMOOTH_SECONDS = 0.4
SMOOTH_ORDER = 2
#: A frame's mouth counts as closed when its lip gap is below this share of the eye distance
#: above the clip's smallest gap, and as still when the gap changes less than this per second.
CLOSED_GAP = 0.035
STILL_RATE = 0.25
#: An open-mouth frame worth taking the mouth interior from: lip gap at least this share of the
#: eye distance.
INTERIOR_MIN_GAP = 0.12

#: How often the frames are searched for other faces than the one tracked (seconds).
FACE_COUNT_EVERY = 2.0


# --- compressed frame storage -----------------------------------------------------------------------
class FrameStore:
    """JPEG-compressed RGB frames, appended while preparing, read back one at a time.

    Backed by an anonymous temporary file while preparing and by the pack's zip file once loaded,
    so memory holds only the frames in use.
    """

    def __init__(self) -> None:
        self._file: IO[bytes] | None = tempfile.TemporaryFile(prefix="facecast-clip-")
        self._offsets: list[tuple[int, int]] = []
        self._zip: zipfile.ZipFile | None = None
        self._names: list[str] = []

    @classmethod
    def from_zip(cls, archive: zipfile.ZipFile, names: list[str]) -> FrameStore:
        store = cls.__new__(cls)
        store._file = None
        store._offsets = []
        store._zip = archive
        store._names = names
        return store

    def __len__(self) -> int:
        return len(self._names) if self._zip is not None else len(self._offsets)

    def append(self, image: np.ndarray) -> None:
        if self._file is None:
            raise RuntimeError("this frame store is read-only")
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        )
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        self._file.seek(0, os.SEEK_END)
        start = self._file.tell()
        self._file.write(data.tobytes())
        self._offsets.append((start, len(data)))

    def data(self, index: int) -> bytes:
        """The JPEG bytes of frame ``index``."""
        if self._zip is not None:
            return self._zip.read(self._names[index])
        assert self._file is not None
        start, length = self._offsets[index]
        self._file.seek(start)
        return self._file.read(length)

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB uint8 [H, W, 3]."""
        buffer = np.frombuffer(self.data(index), np.uint8)
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        if image is None:
            raise UnreadableVideo(f"frame {index} of the video avatar is damaged")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._zip is not None:
            self._zip.close()
            self._zip = None


# --- the pack -------------------------------------------------------------------------------------------
@dataclass
class MouthInterior:
    """The person's own open mouth, cut from one frame: an RGB crop and its 478 landmarks in it."""

    image: np.ndarray
    landmarks: np.ndarray
    gap: float


@dataclass
class VideoAvatarPack:
    """A prepared video avatar: frames, smoothed landmarks and what the renderer needs per frame.

    Frames ``start`` .. ``end - 1`` are the usable stretch (face in view); ``loop`` is a pair
    (a, b) such that cutting from frame b back to frame a does not jump visibly, or None (the
    renderer then walks forward and back between the frames ``turns`` (first, last), chosen near
    the ends where the head is still and the eyes open). Per frame: ``landmarks`` float32 [n, 478, 3] smoothed,
    ``gap`` the lip gap and ``eye`` the eye opening (both as shares of the eye distance),
    ``closed`` True where the mouth is closed and still. ``size`` is (width, height), both even. ``rest_mouth`` float32 [478, 2] is the
    neutral closed mouth in the face-aligned frame (see ``face.face_frame``).
    """

    frames: FrameStore
    fps: float
    size: tuple[int, int]
    landmarks: np.ndarray
    gap: np.ndarray
    eye: np.ndarray
    closed: np.ndarray
    rest_mouth: np.ndarray
    start: int
    end: int
    loop: tuple[int, int] | None
    loop_cost: float
    turns: tuple[int, int]
    interiors: list[MouthInterior]
    source_size: tuple[int, int]
    source_fps: float
    warnings: list[str] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def duration(self) -> float:
        """Seconds of usable clip."""
        return (self.end - self.start) / self.fps

    def frame(self, index: int) -> np.ndarray:
        return self.frames[index]

    def close(self) -> None:
        """Release the frame store (its temporary file, or the open pack file)."""
        self.frames.close()

    def __enter__(self) -> VideoAvatarPack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- persistence ---------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the pack to one zip file (frames as JPEG, arrays as .npy), atomically.

        Only the usable stretch of frames is written.
        """
        path = Path(path)
        keep = range(self.start, self.end)
        shift = self.start
        meta: dict[str, Any] = {
            "format": "facecast-video-avatar",
            "version": 1,
            "fps": self.fps,
            "size": list(self.size),
            "n_frames": len(keep),
            "loop": [self.loop[0] - shift, self.loop[1] - shift] if self.loop else None,
            "loop_cost": self.loop_cost,
            "turns": [self.turns[0] - shift, self.turns[1] - shift],
            "source_size": list(self.source_size),
            "source_fps": self.source_fps,
            "warnings": self.warnings,
            "interior_gaps": [interior.gap for interior in self.interiors],
        }
        arrays: dict[str, np.ndarray] = {
            "landmarks": self.landmarks[self.start : self.end],
            "gap": self.gap[self.start : self.end],
            "eye": self.eye[self.start : self.end],
            "closed": self.closed[self.start : self.end],
            "rest_mouth": self.rest_mouth,
        }
        for number, interior in enumerate(self.interiors):
            arrays[f"interior{number}_image"] = interior.image
            arrays[f"interior{number}_landmarks"] = interior.landmarks
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        os.close(fd)
        try:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as archive:
                archive.writestr("meta.json", json.dumps(meta))
                for name, array in arrays.items():
                    buffer = io.BytesIO()
                    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
                    archive.writestr(f"{name}.npy", buffer.getvalue())
                for number, index in enumerate(keep):
                    archive.writestr(f"frames/{number:06d}.jpg", self.frames.data(index))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> VideoAvatarPack:
        """Open a saved pack; frames stay in the file and are read as the renderer needs them."""
        try:
            archive = zipfile.ZipFile(path)
            meta = json.loads(archive.read("meta.json"))
            if meta.get("format") != "facecast-video-avatar":
                raise ValueError("not a video avatar pack")

            def array(name: str) -> np.ndarray:
                return np.load(io.BytesIO(archive.read(f"{name}.npy")), allow_pickle=False)

            n = int(meta["n_frames"])
            names = [f"frames/{number:06d}.jpg" for number in range(n)]
            interiors = [
                MouthInterior(array(f"interior{k}_image"), array(f"interior{k}_landmarks"), float(gap))
                for k, gap in enumerate(meta["interior_gaps"])
            ]
            pack = cls(
                frames=FrameStore.from_zip(archive, names),
                fps=float(meta["fps"]),
                size=(int(meta["size"][0]), int(meta["size"][1])),
                landmarks=array("landmarks"),
                gap=array("gap"),
                eye=array("eye"),
                closed=array("closed"),
                rest_mouth=array("rest_mouth"),
                start=0,
                end=n,
                loop=tuple(meta["loop"]) if meta["loop"] else None,
                loop_cost=float(meta["loop_cost"]),
                turns=(int(meta["turns"][0]), int(meta["turns"][1])),
                interiors=interiors,
                source_size=(int(meta["source_size"][0]), int(meta["source_size"][1])),
                source_fps=float(meta["source_fps"]),
                warnings=list(meta["warnings"]),
            )
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise UnreadableVideo(f"{path} is not a readable video avatar pack ({exc})") from exc
        return pack


# --- preparation ---------------------------------------------------------------------------------------------
def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def output_size(source: tuple[int, int], *, size: int | None, max_side: int) -> tuple[int, int]:
    """(width, height) of the frames: the source's, long side at most ``size`` and ``max_side``, even."""
    width, height = source
    long_side = max(width, height)
    target = min(long_side, max_side, size if size is not None else long_side)
    scale = target / long_side
    return _even(width * scale), _even(height * scale)


@dataclass
class _Probe:
    width: int
    height: int
    rotation: int
    fps: float
    duration: float | None


def _open(path: str | Path) -> Any:
    import av

    if not Path(path).is_file():
        raise UnreadableVideo(f"{path}: no such file")
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableVideo(f"{Path(path).name} is not a video file this machine can read") from exc
    if not container.streams.video:
        container.close()
        raise UnreadableVideo(f"{Path(path).name} has no video track")
    return container


def _probe(container: Any, name: str) -> _Probe:
    stream = container.streams.video[0]
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise UnreadableVideo(f"{name}: the video track has no picture size")
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if not 1.0 <= fps <= 240.0:
        fps = 25.0
    duration: float | None = None
    if stream.duration is not None and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    return _Probe(width, height, 0, fps, duration)


def _decode(
    container: Any,
    probe: _Probe,
    sizing: Callable[[tuple[int, int]], tuple[int, int]],
    store_fps: float,
    max_seconds: float,
    name: str,
) -> Iterator[np.ndarray]:
    """Upright RGB frames on a grid of ``store_fps``, decoded and downscaled one at a time.

    ``sizing`` maps the clip's display size (width, height: after its rotation metadata) to the
    size of the frames wanted; it is asked once, on the first frame.
    """
    import av

    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    step = 1.0 / store_fps
    next_time = 0.0
    first: float | None = None
    decoded = 0
    size: tuple[int, int] | None = None
    try:
        for frame in container.decode(stream):
            time = frame.time
            if time is None:
                time = decoded / probe.fps
            decoded += 1
            if first is None:
                first = time
            time -= first
            if time > max_seconds + 0.5:
                raise VideoTooLong(f"{name} is longer than the {max_seconds:g} s allowed for a video avatar")
            if time + 0.5 * step < next_time:
                continue
            rotation = (int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90) % 360
            turned = rotation in (90, 270)
            if size is None:
                size = sizing((frame.height, frame.width) if turned else (frame.width, frame.height))
            width, height = (size[1], size[0]) if turned else size
            image = frame.reformat(
                width=width, height=height, format="rgb24", interpolation="AREA"
            ).to_ndarray()
            if rotation:
                # The display matrix turns the picture counter-clockwise by ``rotation`` degrees.
                image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
            while next_time <= time + 0.5 * step:
                yield image
                next_time += step
    except av.FFmpegError as exc:
        if decoded == 0:
            raise UnreadableVideo(f"{name}: the video track cannot be decoded ({exc})") from exc
        log.warning("%s: decoding stopped early after %d frames: %s", name, decoded, exc)
    if decoded == 0:
        raise UnreadableVideo(f"{name}: the video track holds no pictures")


def _store_fps(fps: float) -> float:
    divisor = max(1, math.ceil(fps / MAX_CLIP_FPS - 1e-3))
    return float(Fraction(fps / divisor).limit_denominator(1001))


def prepare_video_avatar(
    path: str | Path,
    *,
    size: int | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_side: int = DEFAULT_MAX_SIDE,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> VideoAvatarPack:
    """Prepare a recorded clip of a person as a video avatar.

    The frames keep the clip's framing with the long side at most ``size`` (default: the clip's
    own) and ``max_side`` pixels, both dimensions even. Raises ``UnreadableVideo`` (missing, not
    a video, no picture), ``VideoTooLong`` (past ``max_seconds``), ``VideoTooLarge`` (more than
    ``MAX_SOURCE_PIXELS`` per frame), ``NoFaceFound``, ``ImageTooSmall`` (face too small) and
    ``FaceLost`` (the face leaves the frame or cannot be tracked in too many frames). Several
    faces: the largest is used, with a warning.
    """
    name = Path(path).name
    container = _open(path)
    frames = FrameStore()
    try:
        probe = _probe(container, name)
        if probe.duration is not None and probe.duration > max_seconds + 0.05:
            raise VideoTooLong(
                f"{name} lasts {probe.duration:.1f} s; a video avatar clip may be at most {max_seconds:g} s long"
            )
        if probe.width * probe.height > MAX_SOURCE_PIXELS:
            raise VideoTooLarge(
                f"{name} is {probe.width}x{probe.height}; video avatar clips may have at most "
                f"{MAX_SOURCE_PIXELS // 1_000_000} megapixels per frame"
            )

        def sizing(display: tuple[int, int]) -> tuple[int, int]:
            return output_size(display, size=size, max_side=max_side)

        store_fps = _store_fps(probe.fps)
        expected = probe.duration * store_fps if probe.duration else None
        tracked = _track(
            _decode(container, probe, sizing, store_fps, max_seconds, name),
            frames,
            store_fps,
            expected,
            name,
            on_progress,
            should_cancel,
        )
    except BaseException:
        frames.close()
        raise
    finally:
        container.close()
    try:
        pack = _analyse(frames, tracked, store_fps, name)
    except BaseException:
        frames.close()
        raise
    pack.source_size = (probe.width, probe.height)
    pack.source_fps = probe.fps
    if on_progress is not None:
        on_progress(1.0)
    return pack


@dataclass
class _Tracked:
    points: list[np.ndarray | None]
    faces: list[int]
    thumbs: list[np.ndarray]
    width: int = 0
    height: int = 0


def _track(
    images: Iterator[np.ndarray],
    frames: FrameStore,
    fps: float,
    expected: float | None,
    name: str,
    on_progress: ProgressCallback | None,
    should_cancel: CancelCheck | None,
) -> _Tracked:
    """Store and track every frame; stop early once too many frames have no face to succeed."""

    result = _Tracked([], [], [])
    count_every = max(1, int(round(FACE_COUNT_EVERY * fps)))
    lost = 0
    with face.FaceTracker() as tracker:
        for index, image in enumerate(images):
            if should_cancel is not None and should_cancel():
                raise RenderCancelled("the video avatar preparation was cancelled")
            result.height, result.width = image.shape[:2]
            frames.append(image)
            result.thumbs.append(_thumb(image))
            points = tracker.track(image)
            result.points.append(points)
            if points is None:
                lost += 1
                if expected and lost > MAX_LOST_FRACTION * expected + 2:
                    if lost == index + 1:
                        raise NoFaceFound(f"no face was found in {name}", field="video")
                    raise _face_lost(name, lost / expected)
            elif index % count_every == 0:
                result.faces.append(_count_faces(image))
            if on_progress is not None and expected and index % 10 == 0:
                on_progress(min(0.95, 0.95 * index / expected))
    return result


def _count_faces(image: np.ndarray) -> int:
    """Faces in a frame at least a fifth the size of the largest one."""
    boxes = face.detect_faces(image)
    return sum(1 for box in boxes if box.side >= 0.2 * boxes[0].side) if boxes else 0


def _face_lost(name: str, share: float) -> FaceLost:
    return FaceLost(
        f"the face leaves the frame or cannot be followed in {share:.0%} of {name}; a video avatar "
        f"needs the face in view for at least {MIN_SEGMENT_SECONDS:g} s and "
        f"{1 - MAX_LOST_FRACTION:.0%} of the clip"
    )


def _in_view(points: np.ndarray, width: int, height: int) -> bool:
    """The face is in the frame: its landmarks lie inside the picture (a small margin allowed)."""
    margin = 0.05 * float(face.eye_distance(points))
    x, y = points[:, 0], points[:, 1]
    outside = (x < -margin) | (x > width + margin) | (y < -margin) | (y > height + margin)
    return float(outside.mean()) < 0.02


def _longest_run(mask: np.ndarray) -> tuple[int, int]:
    best = (0, 0)
    start = None
    for index, value in enumerate([*mask.tolist(), False]):
        if value and start is None:
            start = index
        elif not value and start is not None:
            if index - start > best[1] - best[0]:
                best = (start, index)
            start = None
    return best


def smooth_landmarks(points: np.ndarray, fps: float) -> np.ndarray:
    """Zero-lag Savitzky-Golay smoothing of a landmark track [n, 478, 3] over time.

    Points that move fast (lips, jaw, eyelids: everything below the nose base and the eyes) get a
    short window so speech and blinks keep their shape; the rest of the head a longer one.
    """
    from scipy.signal import savgol_filter

    n = points.shape[0]
    out = points.astype(np.float32).copy()
    median = np.median(points, axis=0)
    aligned = apply_affine(face.face_frame(median), median)
    fast = aligned[:, 1] > aligned[2, 1]  # below the nose base (mediapipe point 2)
    fast[list(face.LEFT_EYE) + list(face.RIGHT_EYE) + list(face.LEFT_IRIS) + list(face.RIGHT_IRIS)] = True
    for selection, seconds in ((fast, SMOOTH_SECONDS), (~fast, SLOW_SMOOTH_SECONDS)):
        window = max(SMOOTH_ORDER + 1, int(round(seconds * fps))) | 1
        if n >= window:
            out[:, selection] = savgol_filter(
                points[:, selection], window, SMOOTH_ORDER, axis=0, mode="interp"
            )
    return out


def _analyse(frames: FrameStore, tracked: _Tracked, fps: float, name: str) -> VideoAvatarPack:
    n = len(tracked.points)
    width, height = tracked.width, tracked.height
    if n == 0:
        raise UnreadableVideo(f"{name}: the video track holds no pictures")
    if n < MIN_SEGMENT_SECONDS * fps:
        raise UnreadableVideo(
            f"{name} lasts only {n / fps:.1f} s; a video avatar clip must last at least {MIN_SEGMENT_SECONDS:g} s"
        )
    found = np.array([p is not None for p in tracked.points])
    if not found.any():
        raise NoFaceFound(f"no face was found in {name}", field="video")
    warnings: list[str] = []
    if tracked.faces and max(tracked.faces) > 1:
        share = float(np.mean(np.array(tracked.faces) > 1))
        warnings.append(
            f"several faces appear in the clip ({share:.0%} of its frames); the largest one is animated"
        )
    good = np.array([p is not None and _in_view(p, width, height) for p in tracked.points])
    lost = 1.0 - float(good.mean())
    start, end = _longest_run(good)
    if lost > MAX_LOST_FRACTION or (end - start) < MIN_SEGMENT_SECONDS * fps:
        raise _face_lost(name, lost)
    if start > 0 or end < n:
        warnings.append(
            f"the face is out of view in part of the clip; the avatar uses {start / fps:.1f}-{end / fps:.1f} s"
        )
    raw = np.zeros((n, 478, 3), np.float32)
    for index in range(start, end):
        raw[index] = tracked.points[index]
    landmarks = raw.copy()
    landmarks[start:end] = smooth_landmarks(raw[start:end], fps)
    iod = float(np.median(face.eye_distance(landmarks[start:end])))
    if iod < MIN_EYE_DISTANCE_PX:
        raise ImageTooSmall(
            f"the face in {name} is too small at this resolution: its eyes are {iod:.0f} px apart, "
            f"at least {MIN_EYE_DISTANCE_PX} px are needed",
            field="video",
        )

    gap = np.zeros(n, np.float32)
    eye = np.zeros(n, np.float32)
    gap[start:end] = face.mouth_opening(landmarks[start:end])
    eye[start:end] = face.eye_aspect_ratio(landmarks[start:end])
    closed = np.zeros(n, bool)
    closed[start:end] = closed_frames(gap[start:end], fps)
    rest = rest_mouth(landmarks[start:end], closed[start:end], gap[start:end])
    interiors = _interiors(frames, landmarks, gap, start, end)
    loop, cost = find_loop(np.stack(tracked.thumbs), landmarks, eye, start, end, fps)
    pack = VideoAvatarPack(
        frames=frames,
        fps=fps,
        size=(width, height),
        landmarks=landmarks,
        gap=gap,
        eye=eye,
        closed=closed,
        rest_mouth=rest,
        start=start,
        end=end,
        loop=loop,
        loop_cost=cost,
        turns=turn_points(landmarks, eye, start, end, fps),
        interiors=interiors,
        source_size=(width, height),
        source_fps=fps,
        warnings=warnings,
    )
    log.info(
        "video avatar %s: %d frames at %.2f fps (%d usable), %d closed-mouth frames, loop %s (cost %.2f)",
        name, n, fps, end - start, int(closed.sum()), loop, cost,
    )  # fmt: skip
    return pack


def closed_frames(gap: np.ndarray, fps: float) -> np.ndarray:
    """Frames where the mouth is closed (lip gap near the clip's smallest) and still."""
    floor = float(np.percentile(gap, 5))
    rate = np.abs(np.gradient(gap)) * fps if len(gap) > 1 else np.zeros_like(gap)
    closed = (gap <= floor + CLOSED_GAP) & (rate <= STILL_RATE)
    if not closed.any():
        closed = gap <= np.percentile(gap, 10)
    return np.asarray(closed)


def rest_mouth(landmarks: np.ndarray, closed: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """The neutral closed mouth: median of the closed frames' landmarks in the face-aligned frame.

    When the person never closes the mouth in the clip, the frames with the smallest gap are used
    (the renderer closes the lips the rest of the way).
    """
    chosen = np.flatnonzero(closed)
    if len(chosen) < 3:
        chosen = np.argsort(gap)[: max(3, len(gap) // 10)]
    aligned = np.stack([apply_affine(face.face_frame(landmarks[i]), landmarks[i]) for i in chosen])
    return np.asarray(np.median(aligned, axis=0), np.float32)


def _interiors(
    frames: FrameStore, landmarks: np.ndarray, gap: np.ndarray, start: int, end: int, count: int = 2
) -> list[MouthInterior]:
    """The person's own open mouths: crops around the widest-open frames (teeth, tongue, cavity)."""
    order = start + np.argsort(-gap[start:end])
    chosen: list[int] = []
    for index in order:
        if gap[index] < INTERIOR_MIN_GAP or len(chosen) >= count:
            break
        if all(abs(int(index) - other) > 5 for other in chosen):
            chosen.append(int(index))
    interiors = []
    for index in chosen:
        points = landmarks[index]
        lips = points[list(face.OUTER_LIPS), :2]
        margin = 0.25 * float(face.eye_distance(points))
        image = frames[index]
        x0, y0 = np.floor(lips.min(axis=0) - margin).astype(int)
        x1, y1 = np.ceil(lips.max(axis=0) + margin).astype(int)
        x0, y0 = max(0, x0), max(0, y0)
        x1, y1 = min(image.shape[1], x1), min(image.shape[0], y1)
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        local = points.copy()
        local[:, 0] -= x0
        local[:, 1] -= y0
        interiors.append(MouthInterior(crop, local, float(gap[index])))
    return interiors


def turn_points(landmarks: np.ndarray, eye: np.ndarray, start: int, end: int, fps: float) -> tuple[int, int]:
    """Where a forward-and-back walk turns round: (first, last) frame, each within ``TURN_SEARCH_SECONDS``
    of its end of the usable stretch, where the head moves least and the eyes are not blinking."""
    window = int(round(TURN_SEARCH_SECONDS * fps))
    n = end - start
    if n < 4 * max(window, 1):
        return start, end - 1
    rigid = landmarks[start:end][:, list(face.RIGID_POINTS), :2]
    iod = np.maximum(face.eye_distance(landmarks[start:end]), 1e-6)
    speed = np.linalg.norm(np.gradient(rigid, axis=0), axis=-1).mean(axis=1) / iod
    cost = speed / max(float(np.median(speed)), 1e-6)
    blinking = eye[start:end] < 0.75 * float(np.median(eye[start:end]))
    # Turning just after a blink would play it twice: keep 0.3 s away from blinks either side.
    reach = 2 * int(round(0.3 * fps)) + 1
    blinking = np.convolve(blinking.astype(float), np.ones(reach), mode="same") > 0
    cost = cost + 10.0 * blinking
    first = start + int(np.argmin(cost[:window]))
    last = end - window + int(np.argmin(cost[n - window :]))
    return first, last


def _thumb(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return np.asarray(cv2.resize(grey, (THUMB_SIDE, THUMB_SIDE), interpolation=cv2.INTER_AREA))


def find_loop(
    thumbs: np.ndarray, landmarks: np.ndarray, eye: np.ndarray, start: int, end: int, fps: float
) -> tuple[tuple[int, int] | None, float]:
    """Loop points (a, b): cutting from b back to a looks like the next frame (Video Textures).

    Cost of a cut is the pose and picture difference of frames a-1, a against b-1, b, in units of
    the clip's median frame-to-frame difference; the loop must span at least half of the usable
    clip (and 1.5 s), avoid blinks at the cut, and leave room for a cross-fade before a. Returns
    (None, cost) when no cut is below ``MAX_LOOP_COST`` (the renderer then walks forward and back).
    """
    n = end - start
    fade = max(2, int(round(0.3 * fps)))
    if n < max(int(1.5 * fps), n // 2) + fade + 2:
        return None, math.inf
    # Long clips are compared on every k-th frame so the n x n matrices stay small.
    stride = max(1, math.ceil(n / MAX_LOOP_FRAMES))
    frames = np.arange(start, end, stride)
    m = len(frames)
    fade_m = math.ceil(fade / stride)
    min_span = math.ceil(max(int(1.5 * fps), n // 2) / stride)
    rigid = landmarks[frames][:, list(face.RIGID_POINTS), :2]
    iod = float(np.median(face.eye_distance(landmarks[frames])))
    pose = ((rigid - rigid.mean(axis=(0, 1))) / max(iod, 1e-6)).reshape(m, -1).astype(np.float32)
    pictures = thumbs[frames].reshape(m, -1).astype(np.float32)

    def distances(features: np.ndarray) -> np.ndarray:
        sq = (features**2).sum(axis=1)
        d2 = features @ features.T
        d2 *= -2.0
        d2 += sq[:, None]
        d2 += sq[None, :]
        np.maximum(d2, 0.0, out=d2)
        return np.sqrt(d2, out=d2)

    def normalised(d: np.ndarray) -> np.ndarray:
        step = float(np.median(np.diag(d, 1))) if m > 1 else 1.0
        d /= max(step, 1e-6)
        return d

    cost = normalised(distances(pose))
    cost += normalised(distances(pictures))
    cost[1:, 1:] += cost[:-1, :-1]  # match the motion into the cut, not just the pose at it
    cost /= 2.0
    blink = eye[frames] < 0.7 * float(np.median(eye[start:end]))
    index = np.arange(m)
    valid = (index[None, :] - index[:, None] >= min_span) & (index[:, None] >= fade_m)
    valid &= ~blink[:, None] & ~blink[None, :]
    if not valid.any():
        return None, math.inf
    masked = np.where(valid, cost, np.float32(np.inf))
    flat = int(np.argmin(masked))
    a, b = divmod(flat, m)
    best = float(masked[a, b])
    if best > MAX_LOOP_COST:
        return None, best
    return (int(frames[a]), int(frames[b])), best


def render_clip_avatar(
    video: str | Path | VideoAvatarPack,
    audio: Audio,
    output: str | Path,
    *,
    phones: Sequence[TimedPhone] | None = None,
    options: RenderOptions | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_side: int = DEFAULT_MAX_SIDE,
) -> RenderResult:
    """Prepare a clip (unless given a pack) and render it speaking ``audio``: one call for the CLI.

    Progress runs 0-0.3 while preparing and 0.3-1 while rendering.
    """
    from facecast.engine.clip_render import render_video_avatar

    def scaled(low: float, high: float) -> ProgressCallback | None:
        if on_progress is None:
            return None
        callback = on_progress
        return lambda fraction: callback(low + (high - low) * fraction)

    if isinstance(video, VideoAvatarPack):
        pack, owned = video, False
    else:
        pack = prepare_video_avatar(
            video, max_seconds=max_seconds, max_side=max_side, on_progress=scaled(0.0, 0.3),
            should_cancel=should_cancel,
        )  # fmt: skip
        owned = True
    try:
        return render_video_avatar(
            pack, audio, output, phones=phones, options=options,
            on_progress=scaled(0.3 if owned else 0.0, 1.0), should_cancel=should_cancel,
        )  # fmt: skip
    finally:
        if owned:
            pack.close()
