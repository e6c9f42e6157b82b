"""The typed errors of Facecast, shared by the engine, the voices and the service.

Every refusal a person can cause is a subclass of ``InvalidInput`` with a message that person
understands; the CLI prints it on one line and the HTTP API maps it to a 4xx once, in one place.
"""

from __future__ import annotations

from typing import ClassVar


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


class FacecastError(Exception):
    """Base of every error Facecast raises on purpose."""

    #: The request field or command-line option the error is about, when there is one.
    field: str | None = None
    #: The machine-readable code of the error (HTTP bodies, failed jobs): the class name in
    #: snake_case unless a class sets its own. Derived here, once, for every subclass.
    code: ClassVar[str] = "error"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = _snake(cls.__name__)

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if field is not None:
            self.field = field

    def __str__(self) -> str:
        return self.message


class InvalidInput(FacecastError):
    """The input cannot be used; the user must change it (HTTP 400, exit code 2)."""

    code = "invalid_request"


class NotFound(FacecastError):
    """A thing named by id does not exist, or is not the caller's (HTTP 404)."""


# --- portrait and clip ---------------------------------------------------------------------------
class UnreadableImage(InvalidInput):
    field = "image"


class ImageTooSmall(InvalidInput):
    field = "image"


class ImageTooLarge(InvalidInput):
    field = "image"


class NoFaceFound(InvalidInput):
    field = "image"


class UnreadableVideo(InvalidInput):
    field = "video"


class VideoTooLong(InvalidInput):
    field = "video"


class VideoTooLarge(InvalidInput):
    """A clip whose picture size is past the configured maximum."""

    field = "video"


class FaceLost(InvalidInput):
    """The face leaves the frame (or cannot be tracked) in an avatar clip."""

    field = "video"


# --- audio ---------------------------------------------------------------------------------------
class UnreadableAudio(InvalidInput):
    field = "audio"


class AudioTooLong(InvalidInput):
    field = "audio"


# --- speech --------------------------------------------------------------------------------------
class UnknownVoice(NotFound):
    field = "voiceId"


class InvalidText(InvalidInput):
    field = "text"


class InvalidVoiceModel(InvalidInput):
    field = "model"


class VoiceUnavailable(FacecastError):
    """The voice exists in the catalog but its engine is not installed on this machine."""

    field = "voiceId"


class UnknownSpeech(NotFound):
    """No stored speech has this id."""

    field = "speechId"


class SynthesisFailed(FacecastError):
    """A speech engine failed on text it should have spoken (a bug or a broken installation)."""

    field = "text"


# --- rendering -----------------------------------------------------------------------------------
class RenderCancelled(FacecastError):
    """The caller asked to stop; the partial output has been removed."""


class EncoderError(FacecastError):
    """The video encoder failed (a bug or a broken installation, not the user's input)."""


# --- the service ---------------------------------------------------------------------------------
class Unauthorized(FacecastError):
    """No API key, or one that is unknown or revoked (HTTP 401)."""


class RateLimited(FacecastError):
    """Too many requests for this key; ``retry_after`` says when to try again (HTTP 429)."""

    code = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(InvalidInput):
    """An upload or request body over the configured limit (HTTP 413)."""


class Conflict(FacecastError):
    """The thing exists but is not in a state that allows the request (HTTP 409)."""


class NotSupported(FacecastError):
    """A feature this server does not provide (yet) (HTTP 501)."""


class StorageUnavailable(FacecastError):
    """The media folder or the database cannot be written (read-only, gone, I/O errors) (HTTP 503)."""


class InsufficientStorage(StorageUnavailable):
    """The disk holding the media folder or the database is full (HTTP 507)."""


class QueueUnavailable(FacecastError):
    """The job queue cannot be reached; nothing was created (HTTP 503)."""


class ServerBusy(FacecastError):
    """This machine is running as much of a kind of work as it can (live streams) (HTTP 503)."""
