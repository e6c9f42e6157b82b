"""What the domain takes in and hands out, whichever resource: uploads and their sniffed file
types, the request and result shapes, the worker's contexts, and how ids and times are shown."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from facecast.errors import (
    InvalidInput,
)
from facecast.service.models import Job


# --- inputs ----------------------------------------------------------------------------------------
@dataclass
class Upload:
    """An uploaded file as the domain sees it: a stream, the client's file name and content type."""

    file: BinaryIO
    filename: str = ""
    content_type: str = ""
    #: The request field it came in, for error messages.
    field: str = "file"


@dataclass
class VideoRequest:
    avatar_id: str
    name: str | None = None
    voice_id: str | None = None
    text: str | None = None
    speech_id: str | None = None
    full_background: bool = False
    caption_template_id: str | None = None


@dataclass
class Page:
    items: list[Job]
    has_more: bool


@dataclass
class RenderedVideo:
    path: str
    duration: float
    width: int
    height: int
    size_bytes: int
    warnings: list[str] = field(default_factory=list)


class PrepareContext(Protocol):
    """What an avatar being prepared gets from the worker: progress and cancellation."""

    def report(self, fraction: float) -> None: ...

    def should_cancel(self) -> bool: ...


class JobContext(Protocol):
    """What a running job gets from the worker: progress, cancellation, a scratch folder."""

    work_dir: Path

    def report(self, fraction: float) -> None: ...

    def should_cancel(self) -> bool: ...


# --- file type sniffing ------------------------------------------------------------------------------
def sniff(head: bytes) -> str | None:
    """The container type of a file from its first bytes, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "m4a" if brand in (b"M4A ", b"M4B ") else ("mov" if brand == b"qt  " else "mp4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm"
    return None


def _peek(upload: Upload) -> bytes:
    head = upload.file.read(32)
    upload.file.seek(0)
    return head


IMAGE_TYPES = {"png": "PNG", "jpg": "JPEG", "webp": "WebP"}
VIDEO_TYPES = {"mp4": "MP4", "mov": "QuickTime", "webm": "WebM"}
AUDIO_TYPES = {"wav": "WAV", "mp3": "MP3", "flac": "FLAC", "ogg": "Ogg", "m4a": "M4A"}


def check_type(upload: Upload, allowed: dict[str, str], what: str, error: type[InvalidInput]) -> str:
    kind = sniff(_peek(upload))
    if kind not in allowed:
        names = "/".join(allowed.values())
        described = f" ({upload.content_type})" if upload.content_type else ""
        raise error(
            f"{upload.field} must be a {names} {what}; the uploaded file{described} is not",
            field=upload.field,
        )
    return kind


def iso(ts: dt.datetime | None) -> str | None:
    """A timestamp the way Miraflow writes them: ``2025-01-07T23:17:06.601Z``."""
    if ts is None:
        return None
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def unix(ts: dt.datetime | None) -> int | None:
    return int(ts.timestamp()) if ts is not None else None


def plausible_id(value: str | None) -> bool:
    """Whether ``value`` could be one of our ids at all. Anything else (a NUL, control characters,
    unpaired surrogates, a novel's length) is simply not found, without reaching the database:
    PostgreSQL refuses NUL characters in a query with an error, not an empty result."""
    return bool(value) and len(value or "") <= 200 and (value or "").isprintable()


#: Not-found messages quote at most this much of the id the caller sent.
SHOWN_ID_CHARS = 64


def shown_id(value: str | None) -> str:
    """An id as error messages quote it: at most ``SHOWN_ID_CHARS`` characters, control
    characters escaped (a caller may send a novel, or a NUL, as an id)."""
    text = value or ""
    clipped = text[:SHOWN_ID_CHARS]
    shown = clipped if clipped.isprintable() else repr(clipped)[1:-1]
    return shown + ("…" if len(text) > SHOWN_ID_CHARS else "")


def storable(text: str | None) -> str:
    """Free text from a form field as the database can store it (no NUL characters)."""
    return (text or "").replace("\x00", "")
