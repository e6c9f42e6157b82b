"""The Facecast engine: pure rendering, arrays and files in, frames and files out.

Nothing here imports the service, a database or a web framework. The service and the command line
use only the names re-exported below.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from facecast.engine.animate import PhotoAnimator
from facecast.engine.audio import Audio, load_audio
from facecast.engine.clip import VideoAvatarPack, prepare_video_avatar
from facecast.engine.clip_render import ClipAnimator, render_video_avatar
from facecast.engine.pack import AvatarPack, PortraitCheck, check_portrait, prepare_avatar
from facecast.engine.phones import TimedPhone
from facecast.engine.render import (
    CancelCheck,
    ProgressCallback,
    Renderer,
    RenderOptions,
    RenderResult,
    render_video,
)


def render(
    pack: AvatarPack,
    audio: Audio,
    output: str | Path,
    *,
    phones: Sequence[TimedPhone] | None = None,
    options: RenderOptions | None = None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> RenderResult:
    """Render a prepared photo avatar speaking ``audio`` to an MP4 at ``output``."""
    return render_video(
        PhotoAnimator(pack),
        audio,
        output,
        phones=phones,
        options=options,
        on_progress=on_progress,
        should_cancel=should_cancel,
        warnings=pack.warnings,
    )


__all__ = [
    "Audio",
    "AvatarPack",
    "CancelCheck",
    "ClipAnimator",
    "PhotoAnimator",
    "PortraitCheck",
    "ProgressCallback",
    "RenderOptions",
    "RenderResult",
    "Renderer",
    "TimedPhone",
    "VideoAvatarPack",
    "check_portrait",
    "load_audio",
    "prepare_avatar",
    "render",
    "render_video_avatar",
    "prepare_video_avatar",
]
