"""Burning captions into a video in one ffmpeg pass: libass draws the ASS script onto every frame,
x264 encodes, the audio stream is copied untouched, and the result appears atomically.

The fonts a script names are linked into a private folder handed to libass (``fontsdir``), so the
same glyphs are used whatever fontconfig knows on the machine.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from facecast.captions.fonts import FontFace, face_file
from facecast.engine.encode import ffmpeg_exe
from facecast.errors import EncoderError, RenderCancelled

log = logging.getLogger(__name__)

X264_PRESET = "veryfast"
X264_CRF = 20
#: Audio codecs an MP4 can carry as they are; anything else (PCM in a MOV) becomes AAC.
MP4_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}


@dataclass(frozen=True)
class BurnResult:
    path: Path
    seconds: float
    audio_copied: bool


def _filter_path(path: Path) -> str:
    """A path as a filter-graph option value (``:`` and ``'`` and ``\\`` escaped)."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:").replace("'", "\\'")


def _link_fonts(faces: Sequence[FontFace], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for face in faces:
        for bold in (False, True):
            source = face_file(face, bold)
            if source is not None and not (folder / source.name).exists():
                os.symlink(source, folder / source.name)


def burn(
    video: Path,
    ass_text: str,
    output: Path,
    *,
    faces: Sequence[FontFace],
    duration: float,
    audio_codec: str | None,
    on_progress: Callable[[float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> BurnResult:
    """Draw ``ass_text`` onto ``video`` and write ``output`` (MP4); ``output`` appears only when
    complete. Raises ``RenderCancelled`` (nothing left behind) or ``EncoderError``."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".captions-", dir=output.parent))
    tmp = scratch / "out.mp4"
    try:
        script = scratch / "captions.ass"
        script.write_text(ass_text, encoding="utf-8")
        fonts = scratch / "fonts"
        _link_fonts(faces, fonts)
        vf = f"subtitles=filename='{_filter_path(script)}':fontsdir='{_filter_path(fonts)}'"
        copy_audio = audio_codec is None or audio_codec in MP4_AUDIO
        command = [
            ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-i", str(video), "-map", "0:v:0", "-map", "0:a:0?",
            "-vf", vf, "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(X264_CRF),
            "-pix_fmt", "yuv420p",
            *(["-c:a", "copy"] if copy_audio else ["-c:a", "aac", "-b:a", "160k"]),
            "-movflags", "+faststart", "-progress", "pipe:1", "-f", "mp4", str(tmp),
        ]  # fmt: skip
        _run(command, duration, on_progress, should_cancel)
        os.replace(tmp, output)
        return BurnResult(output, duration, copy_audio)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run(
    command: list[str],
    duration: float,
    on_progress: Callable[[float], None] | None,
    should_cancel: Callable[[], bool] | None,
) -> None:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read() if proc.stderr else b""))
    drain.start()
    cancelled = False
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:  # ffmpeg's -progress: key=value lines, a block every ~0.5 s
            line = raw.decode(errors="replace").strip()
            if should_cancel is not None and should_cancel():
                cancelled = True
                proc.kill()
                break
            if line.startswith("out_time_us=") and on_progress is not None and duration > 0:
                value = line.split("=", 1)[1]
                if value.isdigit():
                    on_progress(min(1.0, int(value) / 1e6 / duration))
    finally:
        code = proc.wait()
        drain.join()
    if cancelled:
        raise RenderCancelled("captioning was cancelled")
    if code != 0:
        tail = b"".join(errors).decode(errors="replace").strip().splitlines()[-5:]
        raise EncoderError(f"ffmpeg could not burn the captions (exit {code}): {' | '.join(tail)}")
