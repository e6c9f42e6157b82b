"""Avatar kinds: how an avatar of each kind is checked, prepared once and rendered many times.

A kind is one small object behind the ``AvatarKindHandler`` interface, registered in
``AVATAR_KINDS``. Photo avatars use the engine's avatar packs (one face-cropped, one full-background,
prepared in the request that creates the avatar: well under a second). Video avatars are checked in
the request (container, length, picture size, a face) and prepared by the worker (tracking every
frame takes seconds), into one video avatar pack that every render reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facecast.engine import (
    Audio,
    AvatarPack,
    RenderOptions,
    RenderResult,
    TimedPhone,
    VideoAvatarPack,
    prepare_avatar,
    prepare_video_avatar,
    render,
    render_video_avatar,
)
from facecast.errors import (
    FacecastError,
    ImageTooSmall,
    InvalidInput,
    NoFaceFound,
    NotSupported,
    UnreadableVideo,
    VideoTooLarge,
    VideoTooLong,
)
from facecast.limits import DEFAULT_LIMITS
from facecast.service.models import AvatarKind

ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class SourceLimits:
    """Limits on the files avatars are made from (the server's settings)."""

    max_clip_seconds: float = DEFAULT_LIMITS.max_clip_seconds
    max_clip_side: int = DEFAULT_LIMITS.max_clip_side


class AvatarKindHandler(Protocol):
    kind: AvatarKind
    #: The multipart field the source file is uploaded in ("image" or "video").
    upload_field: str
    #: None when this kind works here; otherwise why not (the error clients get).
    unavailable: str | None
    #: True: ``prepare`` is slow and runs in the worker after the avatar is created (it is usable
    #: once ready); False: it runs in the request that creates the avatar.
    prepared_by_worker: bool

    def check(self, source: Path, limits: SourceLimits) -> None:
        """Quick checks of an uploaded source, in the request; raises the error the client gets."""
        ...

    def prepare(
        self,
        source: Path,
        folder: Path,
        *,
        modes: Sequence[bool] = (False, True),
        limits: SourceLimits = SourceLimits(),
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> list[str]:
        """Prepare ``source`` once into ``folder``; returns warnings. ``modes`` lists the
        ``full_background`` values renders will ask for (photo avatars only)."""
        ...

    def has_mode(self, folder: Path, full_background: bool) -> bool: ...

    def render(
        self,
        folder: Path,
        audio: Audio,
        output: Path,
        *,
        phones: Sequence[TimedPhone] | None,
        full_background: bool,
        options: RenderOptions,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
    ) -> RenderResult: ...


class PhotoAvatars:
    kind = AvatarKind.PHOTO
    upload_field = "image"
    unavailable: str | None = None
    prepared_by_worker = False

    @staticmethod
    def pack_path(folder: Path, full_background: bool) -> Path:
        return folder / ("full.npz" if full_background else "face.npz")

    def check(self, source: Path, limits: SourceLimits) -> None:
        """Nothing beyond the type sniffed by the domain: ``prepare`` runs at once and checks the rest."""

    def prepare(
        self,
        source: Path,
        folder: Path,
        *,
        modes: Sequence[bool] = (False, True),
        limits: SourceLimits = SourceLimits(),
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> list[str]:
        folder.mkdir(parents=True, exist_ok=True)
        warnings: list[str] = []
        for full in modes:
            pack = prepare_avatar(source, full_background=full)
            pack.save(self.pack_path(folder, full))
            warnings.extend(w for w in pack.warnings if w not in warnings)
        return warnings

    def has_mode(self, folder: Path, full_background: bool) -> bool:
        return self.pack_path(folder, full_background).exists()

    def render(
        self,
        folder: Path,
        audio: Audio,
        output: Path,
        *,
        phones: Sequence[TimedPhone] | None,
        full_background: bool,
        options: RenderOptions,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
    ) -> RenderResult:
        pack = AvatarPack.load(self.pack_path(folder, full_background))
        return render(
            pack,
            audio,
            output,
            phones=phones,
            options=options,
            on_progress=on_progress,
            should_cancel=should_cancel,
        )


#: Video avatar frames are at most this many pixels on their long side (the engine's default):
#: the face check looks at the frames at that size, where the engine will.
VIDEO_AVATAR_SIDE = 1280
#: The face check's frames: the first, and these shares of the clip's length (any one with a
#: face will do: the engine uses the longest stretch with the face in view).
FACE_CHECK_AT = (0.5, 0.25, 0.75)


class VideoAvatars:
    """A recorded clip of a person: one video avatar pack (``clip.zip``), made by the worker."""

    kind = AvatarKind.VIDEO
    upload_field = "video"
    unavailable: str | None = None
    prepared_by_worker = True
    PACK = "clip.zip"

    def pack_path(self, folder: Path) -> Path:
        return folder / self.PACK

    def check(self, source: Path, limits: SourceLimits) -> None:
        """The clip opens, has pictures, is within the length and size limits, and shows a face."""
        check_clip(source, limits)

    def prepare(
        self,
        source: Path,
        folder: Path,
        *,
        modes: Sequence[bool] = (False, True),
        limits: SourceLimits = SourceLimits(),
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
    ) -> list[str]:
        try:
            pack = prepare_video_avatar(
                source,
                max_seconds=limits.max_clip_seconds,
                max_side=min(VIDEO_AVATAR_SIDE, limits.max_clip_side),
                on_progress=on_progress,
                should_cancel=should_cancel,
            )
        except FacecastError as exc:
            raise _about_the_video(exc, source.name) from None
        with pack:
            pack.save(self.pack_path(folder))
            return list(pack.warnings)

    def has_mode(self, folder: Path, full_background: bool) -> bool:
        return self.pack_path(folder).exists()  # one mode: im2vid_full is ignored

    def render(
        self,
        folder: Path,
        audio: Audio,
        output: Path,
        *,
        phones: Sequence[TimedPhone] | None,
        full_background: bool,
        options: RenderOptions,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
    ) -> RenderResult:
        with VideoAvatarPack.load(self.pack_path(folder)) as pack:
            return render_video_avatar(
                pack,
                audio,
                output,
                phones=phones,
                options=options,
                on_progress=on_progress,
                should_cancel=should_cancel,
            )


def _about_the_video(exc: FacecastError, filename: str) -> FacecastError:
    """An engine error about the stored clip, worded for the client: "the video", field ``video``."""
    if not isinstance(exc, InvalidInput):
        return exc
    message = exc.message.replace(filename, "the video")
    if isinstance(exc, ImageTooSmall):
        message = (
            "the face in the video is too small; film closer to the face or upload a clip with a "
            "larger picture"
        )
    if exc.field in (None, "image", "video"):
        exc.field = "video"
    exc.message = message
    exc.args = (message,)
    return exc


def check_clip(source: Path, limits: SourceLimits) -> None:
    """Quick checks of an uploaded clip (well under a second): it decodes, is short and small
    enough, and a face shows in one of a few frames. Errors name the ``video`` field."""
    import av

    try:
        container = av.open(str(source), mode="r")
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise UnreadableVideo(
            "the video cannot be read: it is not a video file this server can decode"
        ) from exc
    try:
        if not container.streams.video:
            raise UnreadableVideo("the video has no picture (no video track)")
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if width <= 0 or height <= 0:
            raise UnreadableVideo("the video's picture has no size; it cannot be decoded")
        duration = _duration(container, stream)
        if duration is not None and duration > limits.max_clip_seconds + 0.05:
            raise VideoTooLong(
                f"the video lasts {duration:.1f} s; video avatar clips may be at most "
                f"{limits.max_clip_seconds:g} s long"
            )
        if max(width, height) > limits.max_clip_side:
            raise VideoTooLarge(
                f"the video is {width}x{height} pixels; video avatar clips may be at most "
                f"{limits.max_clip_side} pixels on their long side"
            )
        decoded = too_small = False
        for frame in _sample_frames(container, stream, duration):
            decoded = True
            try:
                prepare_avatar(_fit(frame, VIDEO_AVATAR_SIDE), size=128)
                return
            except NoFaceFound:
                continue
            except ImageTooSmall:
                too_small = True
    finally:
        container.close()
    if not decoded:
        raise UnreadableVideo("the video's pictures cannot be decoded")
    if too_small:
        raise _about_the_video(ImageTooSmall("face too small"), source.name)
    raise NoFaceFound(
        "no face was found in the video; a video avatar needs a clip of one person facing the camera",
        field="video",
    )


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    return None


def _sample_frames(container: Any, stream: Any, duration: float | None) -> Iterator[np.ndarray]:
    """Upright RGB frames, decoded as they are asked for: the first one, then at ``FACE_CHECK_AT``
    shares of the clip."""
    import av

    try:
        first = next(container.decode(stream), None)
    except av.FFmpegError:
        return
    if first is None:
        return
    yield _upright(first)
    if not duration or not stream.time_base:
        return
    for share in FACE_CHECK_AT:
        try:
            container.seek(int(share * duration / stream.time_base), stream=stream)
            frame = next(container.decode(stream), None)
        except av.FFmpegError:
            continue
        if frame is not None:
            yield _upright(frame)


def _upright(frame: Any) -> np.ndarray:
    """A decoded frame as RGB, turned as its display matrix says (phone clips are often rotated)."""
    image = frame.to_ndarray(format="rgb24")
    rotation = (int(round(float(getattr(frame, "rotation", 0) or 0) / 90.0)) * 90) % 360
    return np.ascontiguousarray(np.rot90(image, k=rotation // 90)) if rotation else image


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    scale = side / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA))


AVATAR_KINDS: dict[str, AvatarKindHandler] = {
    AvatarKind.PHOTO.value: PhotoAvatars(),
    AvatarKind.VIDEO.value: VideoAvatars(),
}


def handler_for(kind: str) -> AvatarKindHandler:
    try:
        return AVATAR_KINDS[kind]
    except KeyError:
        raise NotSupported(f"unknown avatar kind {kind!r}") from None
