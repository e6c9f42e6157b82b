"""The database: accounts and keys, avatars, voices, speeches, and video jobs (SQLAlchemy 2).

The ``Job`` row is the source of truth for a render: status, progress, cancel request, heartbeat,
attempts and result. The queue carries only its id. Rows owned by an account are soft-deleted
(``deleted_at``) so jobs that reference them keep a consistent history.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every database (SQLite keeps no zone: add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        # SQLite compares timestamps as text: store them naive, in one format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.CANCELLED)


class AvatarKind(enum.StrEnum):
    PHOTO = "photo"
    VIDEO = "video"


class AvatarStatus(enum.StrEnum):
    """Where an avatar's preparation stands. Photo avatars are ready when created; video avatars
    wait in the queue, are prepared by a worker, then are ready (or failed, with a reason)."""

    QUEUED = "queued"
    PREPARING = "preparing"
    READY = "ready"
    FAILED = "failed"


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    #: sha256 of the whole key; the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters of the key, to tell keys apart in listings.
    prefix: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Voice(Base):
    """A voice a speech can be made with: a stock catalog voice (no account) or an account's own."""

    __tablename__ = "voices"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=True
    )
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(40), default="")
    gender: Mapped[str] = mapped_column(String(20), default="")
    engine: Mapped[str] = mapped_column(String(40), default="")
    #: The id the speech layer knows this voice by.
    engine_voice_id: Mapped[str] = mapped_column(String(200))
    #: Listing order of stock voices (the catalog's order, default voice first).
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Avatar(Base):
    """A photo or video avatar; its prepared media live under ``avatars/<id>/`` in the media store."""

    __tablename__ = "avatars"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    account_id: Mapped[str | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True, nullable=True
    )
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=AvatarKind.PHOTO.value)
    voice_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    #: Inputs of one Mirage request: usable by its job, never listed.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    #: Preparation (``AvatarStatus``); only ready avatars render. Kinds prepared by the worker
    #: (video avatars) have a claim and a heartbeat while it works, like jobs.
    status: Mapped[str] = mapped_column(
        String(20), default=AvatarStatus.READY.value, server_default=AvatarStatus.READY.value, index=True
    )
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def is_photo(self) -> bool:
        return self.kind == AvatarKind.PHOTO.value

    @property
    def avatar_status(self) -> AvatarStatus:
        return AvatarStatus(self.status)


class Speech(Base):
    """Stored speech (audio + timed words and phones) made from a voice and a text."""

    __tablename__ = "speeches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    voice_id: Mapped[str] = mapped_column(String(80))
    text: Mapped[str] = mapped_column(Text)
    #: The id of the audio in the speech store (content-addressed, shared by equal speeches).
    store_id: Mapped[str] = mapped_column(String(200))
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Job(Base):
    """One video render: the request, its lifecycle and its result."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_account_created", "account_id", "created_at", "id"),)

    #: The job id (Miraflow ``jobId``).
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    #: The video id (Miraflow ``videoId``, Mirage ``id``).
    video_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    #: Which API created it: "miraflow" or "mirage".
    api: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str | None] = mapped_column(String(80), nullable=True)

    #: None for a captioning job (``kind`` "caption"), which starts from a video, not an avatar.
    avatar_id: Mapped[str | None] = mapped_column(ForeignKey("avatars.id"), nullable=True)
    full_background: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The speech: an existing one, or a voice + text synthesised by the worker, or an uploaded file.
    speech_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    voice_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    audio_path: Mapped[str | None] = mapped_column(String(400), nullable=True)

    status: Mapped[str] = mapped_column(String(20), default=JobStatus.QUEUED.value, index=True)
    #: 0..1
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Set by the worker that claimed the running attempt; its writes check it.
    claim_token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    #: The finished MP4, relative to the media root.
    video_path: Mapped[str | None] = mapped_column(String(400), nullable=True)
    duration: Mapped[float | None] = mapped_column(Float, nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    # Captions (service/captions.py): a "caption" job captions another video or an upload; a
    # "render" job with a template captions its own output. The share token makes a public link.
    kind: Mapped[str] = mapped_column(String(20), default="render", server_default="render")
    source_video_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    caption_template_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    share_token: Mapped[str | None] = mapped_column(
        String(64), nullable=True, unique=True, default=lambda: secrets.token_urlsafe(24)
    )

    @property
    def job_status(self) -> JobStatus:
        return JobStatus(self.status)


class CaptionTemplateRow(Base):
    """An account's own caption template; the built-in ones live in code (``facecast.captions``)."""

    __tablename__ = "caption_templates"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The template's fields as JSON (``CaptionTemplate.to_dict``).
    style: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
