"""Avatar kinds: how an avatar of each kind is prepared once and rendered many times.

A kind is one small object behind the ``AvatarKindHandler`` interface, registered in
``AVATAR_KINDS``. Photo avatars use the engine's avatar packs (one face-cropped, one full-background,
prepared when the avatar is created). Video avatars are a seam for issue 5: fill in
``VideoAvatars.prepare`` and ``VideoAvatars.render`` and nothing else in the service changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from facecast.engine import Audio, AvatarPack, RenderOptions, RenderResult, TimedPhone, prepare_avatar, render
from facecast.errors import NotSupported
from facecast.service.models import AvatarKind

ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]


class AvatarKindHandler(Protocol):
    kind: AvatarKind
    #: The multipart field the source file is uploaded in ("image" or "video").
    upload_field: str
    #: None when this kind works here; otherwise why not (the error clients get).
    unavailable: str | None

    def prepare(self, source: Path, folder: Path, *, modes: Sequence[bool] = (False, True)) -> list[str]:
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

    @staticmethod
    def pack_path(folder: Path, full_background: bool) -> Path:
        return folder / ("full.npz" if full_background else "face.npz")

    def prepare(self, source: Path, folder: Path, *, modes: Sequence[bool] = (False, True)) -> list[str]:
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


class VideoAvatars:
    """Placeholder until video avatars land (issue 5): every call answers a clear error."""

    kind = AvatarKind.VIDEO
    upload_field = "video"
    unavailable: str | None = (
        "Video avatars are not available on this server yet; create a photo avatar instead"
    )

    def prepare(self, source: Path, folder: Path, *, modes: Sequence[bool] = (False, True)) -> list[str]:
        raise NotSupported(str(self.unavailable))

    def has_mode(self, folder: Path, full_background: bool) -> bool:
        return True  # a video avatar has one mode; im2vid_full is ignored

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
        raise NotSupported(str(self.unavailable))


AVATAR_KINDS: dict[str, AvatarKindHandler] = {
    AvatarKind.PHOTO.value: PhotoAvatars(),
    AvatarKind.VIDEO.value: VideoAvatars(),
}


def handler_for(kind: str) -> AvatarKindHandler:
    try:
        return AVATAR_KINDS[kind]
    except KeyError:
        raise NotSupported(f"unknown avatar kind {kind!r}") from None
