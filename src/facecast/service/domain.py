"""The domain layer: what the service does, independent of which API dialect asked.

Both dialects (``api/miraflow.py``, ``api/mirage.py``) are thin views over ``Service``: it checks
ownership (another account's ids are simply not found), validates input with typed errors, writes
rows and media, queues jobs, and, in the worker, renders them through ``render_job``, the one place
that chooses the engine call by avatar kind.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import urlencode

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from facecast.errors import (
    Conflict,
    FacecastError,
    InvalidInput,
    InvalidText,
    NotFound,
    NotSupported,
    RateLimited,
    UnknownVoice,
    UnreadableAudio,
    UnreadableImage,
    UnreadableVideo,
)
from facecast.service.auth import Caller, RateLimiter, authenticate
from facecast.service.avatars import AVATAR_KINDS, SourceLimits, handler_for
from facecast.service.db import Database
from facecast.service.ids import new_id, new_video_id
from facecast.service.models import Avatar, AvatarKind, AvatarStatus, Job, JobStatus, Speech, Voice, utcnow
from facecast.service.queue import JobQueue
from facecast.service.settings import Settings
from facecast.service.stock import STOCK_AVATARS, StockAvatar
from facecast.service.storage import MediaStore, UrlSigner
from facecast.service.voices import SpeechBackend

log = logging.getLogger(__name__)

MIRAGE_MODEL = "mirage-video-1-latest"
#: CPU-heavy work done in the web process (preparing avatars, speaking texts) runs two at a time.
_heavy = threading.BoundedSemaphore(2)
DEFAULT_VIDEO_NAME = "Untitled video"
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


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
AUDIO_TYPES = {"wav": "WAV", "mp3": "MP3", "flac": "FLAC", "ogg": "Ogg", "m4a": "M4A"}
VIDEO_TYPES = {"mp4": "MP4", "mov": "QuickTime", "webm": "WebM"}


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


def _plausible_id(value: str | None) -> bool:
    """Whether ``value`` could be one of our ids at all. Anything else (a NUL, control characters,
    unpaired surrogates, a novel's length) is simply not found, without reaching the database:
    PostgreSQL refuses NUL characters in a query with an error, not an empty result."""
    return bool(value) and len(value or "") <= 200 and (value or "").isprintable()


def _storable(text: str | None) -> str:
    """Free text from a form field as the database can store it (no NUL characters)."""
    return (text or "").replace("\x00", "")


# --- the service ---------------------------------------------------------------------------------------
class Service:
    """One per process: the web server and each worker build their own."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        queue: JobQueue | None = None,
        speech: SpeechBackend | None = None,
    ) -> None:
        self.settings = settings
        settings.ensure_dirs()
        self.db = db or Database(settings)
        self.media = MediaStore(settings.media_root)
        self.queue = queue
        self._speech = speech
        self.signer = UrlSigner(settings.signing_secret())
        self.limiter = RateLimiter()

    @property
    def source_limits(self) -> SourceLimits:
        return SourceLimits(
            max_clip_seconds=self.settings.max_clip_seconds, max_clip_side=self.settings.max_clip_side
        )

    @property
    def speech(self) -> SpeechBackend:
        if self._speech is None:
            self._speech = SpeechBackend(self.settings.media_root, max_chars=self.settings.max_text_chars)
        return self._speech

    # --- callers ---------------------------------------------------------------------------------
    def authenticate(self, raw_key: str | None) -> Caller:
        with self.db.transaction() as session:
            return authenticate(session, raw_key)

    def check_rate(self, caller: Caller, *, creation: bool = False) -> None:
        self.limiter.hit(caller.key_id, "requests", self.settings.rate_limit_per_minute)
        if creation:
            self.limiter.hit(caller.key_id, "creations", self.settings.create_rate_limit_per_minute)

    # --- voices --------------------------------------------------------------------------------
    @staticmethod
    def _visible(model: type[Voice] | type[Avatar], caller: Caller) -> ColumnElement[bool]:
        """Stock rows and the caller's own, not deleted."""
        return and_(
            model.deleted_at.is_(None), or_(model.account_id.is_(None), model.account_id == caller.account_id)
        )

    def list_voices(self, caller: Caller) -> list[Voice]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Voice)
                .where(self._visible(Voice, caller))
                .order_by(Voice.account_id.is_not(None), Voice.created_at, Voice.name)
            )
            return list(rows)

    def _voice(self, session: Session, caller: Caller, voice_id: str) -> Voice:
        voice = None
        if _plausible_id(voice_id):
            voice = session.scalar(select(Voice).where(Voice.id == voice_id, self._visible(Voice, caller)))
        if voice is None:
            raise UnknownVoice(f"Voice not found: {voice_id}")
        return voice

    def get_voice(self, caller: Caller, voice_id: str) -> Voice:
        with self.db.session() as session:
            return self._voice(session, caller, voice_id)

    def default_voice_id(self, session: Session | None = None) -> str | None:
        """The catalog's default voice if it is a stock voice here, else any stock voice."""
        if session is None:
            with self.db.session() as own:
                return self.default_voice_id(own)
        ids = set(
            session.scalars(select(Voice.id).where(Voice.account_id.is_(None), Voice.deleted_at.is_(None)))
        )
        preferred = self.speech.default_voice_id()
        if preferred in ids:
            return preferred
        return min(ids) if ids else None

    def create_voice(self, caller: Caller, *, name: str | None, model: Upload, config: Upload) -> Voice:
        """An account voice from an uploaded Piper model (``.onnx``) and its config (``.json``)."""
        scratch = f"voice-{new_id()}"
        staging = self.media.work_dir(scratch)
        try:
            limit = self.settings.max_upload_bytes
            self.media.save_stream(
                f"tmp/{scratch}/voice.onnx", model.file, max_bytes=limit, field=model.field
            )
            self.media.save_stream(
                f"tmp/{scratch}/voice.onnx.json", config.file, max_bytes=limit, field=config.field
            )
            with _heavy:
                registered = self.speech.register_voice(
                    caller.account_id,
                    staging / "voice.onnx",
                    staging / "voice.onnx.json",
                    name=_storable(name),
                )
        finally:
            self.media.drop_work_dir(scratch)
        voice = Voice(
            id=new_id(),
            account_id=caller.account_id,
            name=registered.name,
            language=registered.language,
            gender=registered.gender,
            engine=registered.engine,
            engine_voice_id=registered.id,
        )
        with self.db.transaction() as session:
            session.add(voice)
        return voice

    def delete_voice(self, caller: Caller, voice_id: str) -> None:
        with self.db.transaction() as session:
            voice = self._voice(session, caller, voice_id)
            if voice.account_id is None:
                raise InvalidInput("Stock voices cannot be deleted", field="voiceId")
            voice.deleted_at = utcnow()
            still_used = session.scalar(
                select(func.count())
                .select_from(Voice)
                .where(
                    Voice.account_id == caller.account_id,
                    Voice.engine_voice_id == voice.engine_voice_id,
                    Voice.deleted_at.is_(None),
                    Voice.id != voice.id,
                )
            )
        if not still_used:
            self.speech.unregister_voice(caller.account_id, voice.engine_voice_id)

    # --- avatars ---------------------------------------------------------------------------------
    def list_avatars(self, caller: Caller) -> list[Avatar]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Avatar)
                .where(
                    self._visible(Avatar, caller),
                    Avatar.hidden.is_(False),
                    # Your own avatars in every state (with their status); stock ones once ready.
                    or_(Avatar.account_id.is_not(None), Avatar.status == AvatarStatus.READY.value),
                )
                .order_by(Avatar.account_id.is_not(None), Avatar.created_at, Avatar.id)
            )
            return list(rows)

    def _avatar(self, session: Session, caller: Caller, avatar_id: str) -> Avatar:
        avatar = None
        if _plausible_id(avatar_id):
            avatar = session.scalar(
                select(Avatar).where(
                    Avatar.id == avatar_id, self._visible(Avatar, caller), Avatar.hidden.is_(False)
                )
            )
        if avatar is None:
            raise NotFound(f"Avatar not found: {avatar_id}", field="avatarId")
        return avatar

    def get_avatar(self, caller: Caller, avatar_id: str) -> Avatar:
        with self.db.session() as session:
            return self._avatar(session, caller, avatar_id)

    def _prepare_avatar(
        self, avatar_id: str, kind: AvatarKind, source: Upload, *, modes: Sequence[bool] = (False, True)
    ) -> list[str]:
        """Store ``source`` in the avatar's folder, check it, and prepare it unless the worker does
        (``prepared_by_worker``); on any failure leave nothing."""
        handler = handler_for(kind.value)
        if kind is AvatarKind.PHOTO:
            ext = check_type(source, IMAGE_TYPES, "image", UnreadableImage)
        else:
            ext = check_type(source, VIDEO_TYPES, "video", UnreadableVideo)
        folder_rel = self.media.avatar_dir(avatar_id)
        try:
            self.media.save_stream(
                f"{folder_rel}/source.{ext}",
                source.file,
                max_bytes=self.settings.max_upload_bytes,
                field=source.field,
            )
            stored = self.media.path(f"{folder_rel}/source.{ext}")
            with _heavy:
                handler.check(stored, self.source_limits)
                if handler.prepared_by_worker:
                    return []
                return handler.prepare(stored, self.media.path(folder_rel), modes=modes)
        except BaseException as exc:
            self.media.delete(folder_rel)
            if isinstance(exc, FacecastError) and exc.field in ("image", "video"):
                exc.field = source.field  # name the field as the request did
            raise

    def create_avatar(
        self,
        caller: Caller,
        *,
        name: str | None,
        source: Upload,
        kind: AvatarKind,
        voice_id: str | None = None,
    ) -> tuple[Avatar, list[str]]:
        """A photo avatar from a portrait (prepared now: ready at once) or a video avatar from a
        clip (checked now, then queued: the worker prepares it, and it is usable once ready)."""
        if voice_id:
            self.get_voice(caller, voice_id)
        handler = handler_for(kind.value)
        if handler.unavailable:
            raise NotSupported(handler.unavailable)
        avatar_id = new_id()
        warnings = self._prepare_avatar(avatar_id, kind, source)
        avatar = Avatar(
            id=avatar_id,
            account_id=caller.account_id,
            name=_storable(name).strip()[:200] or "My avatar",
            kind=kind.value,
            voice_id=voice_id or self.default_voice_id(),
            status=(AvatarStatus.QUEUED if handler.prepared_by_worker else AvatarStatus.READY).value,
        )
        with self.db.transaction() as session:
            session.add(avatar)
        if handler.prepared_by_worker:
            self._enqueue_avatar(avatar)
        return avatar, warnings

    def _enqueue_avatar(self, avatar: Avatar) -> None:
        if self.queue is None:
            raise RuntimeError("no job queue configured")
        try:
            self.queue.enqueue_avatar(avatar.id)
        except Exception as exc:
            log.exception("could not queue the preparation of avatar %s", avatar.id)
            message = f"The job queue is unavailable: {exc}"
            self.finish_avatar(avatar.id, None, AvatarStatus.FAILED, message=message)
            raise

    @staticmethod
    def check_ready(avatar: Avatar) -> None:
        """Refuse (409) to render an avatar that is not prepared (yet)."""
        status = avatar.avatar_status
        if status is AvatarStatus.READY:
            return
        if status is AvatarStatus.FAILED:
            raise Conflict(
                f"Avatar {avatar.id} could not be prepared and cannot make videos: "
                f"{avatar.error_message or 'unknown error'}"
            )
        raise Conflict(
            f"Avatar {avatar.id} is still being prepared (status: {status.value}); "
            "create videos with it once its status is ready"
        )

    def delete_avatar(self, caller: Caller, avatar_id: str) -> None:
        with self.db.transaction() as session:
            avatar = self._avatar(session, caller, avatar_id)
            if avatar.account_id is None:
                raise InvalidInput("Stock avatars cannot be deleted", field="avatarId")
            avatar.deleted_at = utcnow()
        self.media.delete(self.media.avatar_dir(avatar_id))

    # --- speeches ----------------------------------------------------------------------------------
    def _check_text(self, text: str | None) -> str:
        text = (text or "").strip()
        if not text:
            raise InvalidText("text is empty", field="text")
        if len(text) > self.settings.max_text_chars:
            raise InvalidText(
                f"text is {len(text)} characters long; the limit is {self.settings.max_text_chars}",
                field="text",
            )
        return text

    def create_speech(self, caller: Caller, *, voice_id: str, text: str) -> Speech:
        text = self._check_text(text)
        voice = self.get_voice(caller, voice_id)
        with _heavy:
            stored = self.speech.make(voice.engine_voice_id, text, account_id=voice.account_id)
        speech = Speech(
            id=new_id(),
            account_id=caller.account_id,
            voice_id=voice.id,
            text=text,
            store_id=stored.store_id,
            duration=stored.duration,
        )
        with self.db.transaction() as session:
            session.add(speech)
        return speech

    def _speech_row(self, session: Session, caller: Caller, speech_id: str) -> Speech:
        speech = None
        if _plausible_id(speech_id):
            speech = session.scalar(
                select(Speech).where(
                    Speech.id == speech_id,
                    Speech.account_id == caller.account_id,
                    Speech.deleted_at.is_(None),
                )
            )
        if speech is None:
            raise NotFound(f"Speech not found: {speech_id}", field="speechId")
        return speech

    def get_speech(self, caller: Caller, speech_id: str) -> Speech:
        with self.db.session() as session:
            return self._speech_row(session, caller, speech_id)

    def list_speeches(self, caller: Caller) -> list[Speech]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Speech)
                    .where(Speech.account_id == caller.account_id, Speech.deleted_at.is_(None))
                    .order_by(Speech.created_at.desc(), Speech.id.desc())
                )
            )

    def delete_speech(self, caller: Caller, speech_id: str) -> None:
        # The audio stays in the content-addressed store: other speeches may share it.
        with self.db.transaction() as session:
            self._speech_row(session, caller, speech_id).deleted_at = utcnow()

    # --- videos: creating ------------------------------------------------------------------------
    def _check_capacity(self, session: Session, caller: Caller) -> None:
        limit = self.settings.max_pending_jobs
        if limit <= 0:
            return
        active = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.account_id == caller.account_id, Job.status.in_(ACTIVE))
        )
        if (active or 0) >= limit:
            raise RateLimited(
                f"{active} videos are already queued or rendering (the limit is {limit})", retry_after=10
            )

    def _enqueue(self, job: Job) -> None:
        if self.queue is None:
            raise RuntimeError("no job queue configured")
        try:
            self.queue.enqueue(job.id)
        except Exception as exc:
            log.exception("could not queue job %s", job.id)
            self.finish_job(
                job.id,
                None,
                JobStatus.FAILED,
                code="queue_unavailable",
                message=f"The job queue is unavailable: {exc}",
            )
            raise

    def create_video(self, caller: Caller, request: VideoRequest) -> Job:
        """A Miraflow video job: an avatar plus a stored speech or a voice and a script."""
        if request.speech_id and request.text:
            raise InvalidInput(
                "Give either speechId or text (with an optional voiceId), not both", field="speechId"
            )
        from facecast.service.captions import check_template_id

        template_id = check_template_id(self, caller, request.caption_template_id, "captionTemplateId")
        with self.db.transaction() as session:
            avatar = self._avatar(session, caller, request.avatar_id)
            self.check_ready(avatar)
            handler = handler_for(avatar.kind)
            full = bool(request.full_background) and avatar.is_photo
            if not handler.has_mode(self.media.path(self.media.avatar_dir(avatar.id)), full):
                raise Conflict(
                    f"Avatar {avatar.id} is not prepared for {'full-background' if full else 'face-cropped'} videos"
                )
            job = Job(
                id=new_id(),
                video_id=new_video_id(),
                account_id=caller.account_id,
                api="miraflow",
                name=(request.name or "").strip()[:200] or DEFAULT_VIDEO_NAME,
                avatar_id=avatar.id,
                full_background=full,
            )
            if request.speech_id:
                job.speech_id = self._speech_row(session, caller, request.speech_id).id
            else:
                if request.text is None or not request.text.strip():
                    raise InvalidInput("Missing required field: text (or speechId)", field="text")
                job.text = self._check_text(request.text)
                voice_id = request.voice_id or avatar.voice_id or self.default_voice_id(session)
                if not voice_id:
                    raise UnknownVoice("No voice is available on this server", field="voiceId")
                voice = self._voice(session, caller, voice_id)
                self.speech.check_speakable(voice.engine_voice_id, job.text, account_id=voice.account_id)
                job.voice_id = voice.id
            job.caption_template_id = template_id
            self._check_capacity(session, caller)
            session.add(job)
        self._enqueue(job)
        log.info("job %s created (miraflow, avatar %s, account %s)", job.id, avatar.id, caller.account_name)
        return job

    def create_mirage_video(self, caller: Caller, *, image: Upload, audio: Upload, model: str | None) -> Job:
        """A Mirage video job from an uploaded portrait and speech audio."""
        from facecast.engine import load_audio

        model = (model or MIRAGE_MODEL).strip()
        if model != MIRAGE_MODEL:
            raise InvalidInput(
                f"Unsupported model {model!r}; the only model is {MIRAGE_MODEL!r}", field="model"
            )
        check_type(image, {"png": "PNG", "jpg": "JPEG"}, "image", UnreadableImage)
        audio_ext = check_type(audio, {"wav": "WAV", "mp3": "MP3"}, "audio file", UnreadableAudio)
        with self.db.session() as session:
            self._check_capacity(session, caller)
        job_id, avatar_id = new_id(), new_id()
        audio_rel = f"{self.media.upload_dir(job_id)}/audio.{audio_ext}"
        full = self.settings.mirage_full_background
        try:
            self.media.save_stream(
                audio_rel, audio.file, max_bytes=self.settings.max_upload_bytes, field=audio.field
            )
            try:
                load_audio(self.media.path(audio_rel), max_seconds=self.settings.max_audio_seconds)
            except InvalidInput as exc:
                exc.field = audio.field
                raise
            self._prepare_avatar(avatar_id, AvatarKind.PHOTO, image, modes=(full,))
        except BaseException:
            self.media.delete(self.media.upload_dir(job_id))
            raise
        avatar = Avatar(
            id=avatar_id,
            account_id=caller.account_id,
            name="Mirage image reference",
            kind="photo",
            hidden=True,
        )
        job = Job(
            id=job_id,
            video_id=new_video_id(),
            account_id=caller.account_id,
            api="mirage",
            name="Mirage video",
            model=model,
            avatar_id=avatar_id,
            full_background=full,
            audio_path=audio_rel,
        )
        with self.db.transaction() as session:
            session.add(avatar)
            session.flush()
            session.add(job)
        self._enqueue(job)
        log.info("job %s created (mirage, account %s)", job.id, caller.account_name)
        return job

    # --- videos: reading -------------------------------------------------------------------------
    def get_job(self, caller: Caller, job_id: str) -> Job:
        if not _plausible_id(job_id):
            raise NotFound(f"Job not found: {job_id!r}", field="jobId")
        with self.db.session() as session:
            job = session.scalar(
                select(Job).where(
                    Job.id == job_id, Job.account_id == caller.account_id, Job.deleted_at.is_(None)
                )
            )
        if job is None:
            raise NotFound(f"Job not found: {job_id}", field="jobId")
        return job

    def get_video(self, caller: Caller, video_id: str, *, complete: bool = False) -> Job:
        if not _plausible_id(video_id):
            raise NotFound(f"Video not found: {video_id!r}", field="videoId")
        with self.db.session() as session:
            job = session.scalar(
                select(Job).where(
                    Job.video_id == video_id, Job.account_id == caller.account_id, Job.deleted_at.is_(None)
                )
            )
        if job is None or (complete and job.status != JobStatus.COMPLETE.value):
            raise NotFound(f"Video not found: {video_id}", field="videoId")
        return job

    def list_videos(
        self,
        caller: Caller,
        *,
        completed_only: bool = False,
        after: str | None = None,
        limit: int | None = None,
        order: str = "desc",
    ) -> Page:
        """The account's videos by creation time; ``after`` is a video id (exclusive cursor)."""
        newest_first = order != "asc"
        with self.db.session() as session:
            query = select(Job).where(Job.account_id == caller.account_id, Job.deleted_at.is_(None))
            if completed_only:
                query = query.where(Job.status == JobStatus.COMPLETE.value)
            if after:
                if not _plausible_id(after):
                    raise InvalidInput(f"after: no video with id {after!r}", field="after")
                cursor = session.scalar(
                    select(Job).where(
                        Job.video_id == after, Job.account_id == caller.account_id, Job.deleted_at.is_(None)
                    )
                )
                if cursor is None:
                    raise InvalidInput(f"after: no video with id {after}", field="after")
                if newest_first:
                    query = query.where(
                        or_(
                            Job.created_at < cursor.created_at,
                            and_(Job.created_at == cursor.created_at, Job.id < cursor.id),
                        )
                    )
                else:
                    query = query.where(
                        or_(
                            Job.created_at > cursor.created_at,
                            and_(Job.created_at == cursor.created_at, Job.id > cursor.id),
                        )
                    )
            if newest_first:
                query = query.order_by(Job.created_at.desc(), Job.id.desc())
            else:
                query = query.order_by(Job.created_at.asc(), Job.id.asc())
            if limit is not None:
                query = query.limit(limit + 1)
            rows = list(session.scalars(query))
        has_more = limit is not None and len(rows) > limit
        return Page(items=rows[:limit] if limit is not None else rows, has_more=has_more)

    def video_path(self, job: Job) -> Path:
        if job.status != JobStatus.COMPLETE.value or not job.video_path:
            raise Conflict(f"Video {job.video_id} is not complete")
        path = self.media.path(job.video_path)
        if not path.exists():
            raise NotFound(f"The file of video {job.video_id} is missing")
        return path

    def signed_video_url(self, job: Job, base_url: str) -> str:
        """A download URL for a finished video that needs no API key until it expires."""
        rel = self.media.video_file(job.video_id)
        expires, signature = self.signer.sign(rel, self.settings.media_url_ttl)
        base = (self.settings.public_url or base_url).rstrip("/")
        return f"{base}/media/{rel}?" + urlencode({"expires": expires, "signature": signature})

    def verify_media(self, rel: str, expires: int, signature: str) -> Path:
        if not self.signer.verify(rel, expires, signature):
            raise NotFound("This link is invalid or has expired")
        path = self.media.path(rel)
        if not path.is_file():
            raise NotFound("File not found")
        return path

    # --- videos: changing ----------------------------------------------------------------------------
    def cancel(self, caller: Caller, job: Job) -> Job:
        """Cancel a queued job at once; ask a running one to stop (its worker checks between frames)."""
        with self.db.transaction() as session:
            now = utcnow()
            queued = session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.CANCELLED.value,
                    cancel_requested=True,
                    completed_at=now,
                    error_code="cancelled",
                    error_message="The video was cancelled",
                )
            )
            if queued.rowcount == 0:  # type: ignore[attr-defined]
                running = session.execute(
                    update(Job)
                    .where(Job.id == job.id, Job.status == JobStatus.RUNNING.value)
                    .values(cancel_requested=True)
                )
                if running.rowcount == 0:  # type: ignore[attr-defined]
                    current = session.get(Job, job.id)
                    assert current is not None
                    raise Conflict(
                        f"Video {job.video_id} is already {current.status} and cannot be cancelled"
                    )
            refreshed = session.get(Job, job.id)
            assert refreshed is not None
            session.refresh(refreshed)
        if refreshed.job_status.finished:
            self.drop_inputs(job.id)
        log.info("job %s: cancel requested", job.id)
        return refreshed

    def delete_video(self, caller: Caller, job: Job) -> None:
        """Delete a video (cancelling it first if it is still in progress) and its file."""
        if job.status in ACTIVE:
            try:
                self.cancel(caller, job)
            except Conflict:
                pass
        with self.db.transaction() as session:
            session.execute(update(Job).where(Job.id == job.id).values(deleted_at=utcnow()))
        self.media.delete(self.media.video_file(job.video_id))

    # --- stock content ------------------------------------------------------------------------
    def seed_stock(self) -> None:
        """Stock voices (the catalog) and stock avatars (``STOCK_AVATARS``); safe to run every start."""
        try:
            catalog = self.speech.catalog()
        except Exception:
            log.exception("the voice catalog is unavailable; no stock voices")
            catalog = []
        with self.db.transaction() as session:
            known = {v.id: v for v in session.scalars(select(Voice).where(Voice.account_id.is_(None)))}
            for position, entry in enumerate(catalog):
                row = known.get(entry.id)
                if row is None:
                    row = Voice(id=entry.id, engine_voice_id=entry.id)
                    session.add(row)
                row.name, row.language, row.gender, row.engine = (
                    entry.name,
                    entry.language,
                    entry.gender,
                    entry.engine,
                )
                row.position, row.deleted_at = position, None
            available = {e.id for e in catalog}
            for voice_id, row in known.items():
                if voice_id not in available and row.deleted_at is None and catalog:
                    row.deleted_at = utcnow()
        default_voice = self.default_voice_id()
        for stock in STOCK_AVATARS:
            handler = AVATAR_KINDS.get(stock.kind.value)
            if handler is None or handler.unavailable:
                log.info("stock avatar %s skipped: %s avatars are not available", stock.id, stock.kind.value)
                continue
            with self.db.session() as session:
                existing = session.get(Avatar, stock.id)
            folder = self.media.path(self.media.avatar_dir(stock.id))
            if handler.prepared_by_worker:
                self._seed_in_worker(stock, existing, folder, default_voice)
                continue
            if existing is not None and all(handler.has_mode(folder, m) for m in (False, True)):
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
                source = folder / stock.filename
                if not source.exists():
                    stock.write_source(source)
                handler.prepare(source, folder)
            except Exception:
                log.exception("could not prepare stock avatar %s", stock.id)
                continue
            self._upsert_stock(stock, default_voice, AvatarStatus.READY)
            log.info("stock avatar %s ready", stock.id)

    def _seed_in_worker(
        self, stock: StockAvatar, existing: Avatar | None, folder: Path, default_voice: str | None
    ) -> None:
        """A stock avatar the worker prepares (it takes seconds): queue it unless it is ready or on
        its way (the reaper looks after queued and preparing avatars); listed once ready."""
        handler = handler_for(stock.kind.value)
        if existing is not None and existing.deleted_at is None:
            if existing.avatar_status is AvatarStatus.READY and handler.has_mode(folder, False):
                return
            if existing.avatar_status in (AvatarStatus.QUEUED, AvatarStatus.PREPARING):
                return
        if self.queue is None:
            log.info("stock avatar %s not queued: no job queue here", stock.id)
            return
        avatar = self._upsert_stock(stock, default_voice, AvatarStatus.QUEUED)
        try:
            self._enqueue_avatar(avatar)
        except Exception:
            return  # logged; marked failed, tried again at the next start
        log.info("stock avatar %s queued for preparation by the worker", stock.id)

    def _upsert_stock(self, stock: StockAvatar, default_voice: str | None, status: AvatarStatus) -> Avatar:
        with self.db.transaction() as session:
            row = session.get(Avatar, stock.id)
            if row is None:
                row = Avatar(
                    id=stock.id,
                    account_id=None,
                    name=stock.name,
                    kind=stock.kind.value,
                    voice_id=stock.voice_id or default_voice,
                )
                session.add(row)
            row.deleted_at, row.status, row.error_message = None, status.value, None
            row.attempts, row.claim_token, row.heartbeat_at = 0, None, None
        return row

    # --- avatar preparation (in the worker) --------------------------------------------------------
    def prepare_queued_avatar(self, avatar: Avatar, ctx: PrepareContext) -> list[str]:
        """Prepare an avatar the worker claimed (a video avatar); returns the pack's warnings."""
        handler = handler_for(avatar.kind)
        folder = self.media.path(self.media.avatar_dir(avatar.id))
        stock = next((s for s in STOCK_AVATARS if s.id == avatar.id and avatar.account_id is None), None)
        if stock is not None:
            # Stock content: made here the first time, within the engine's own limits.
            source = folder / stock.filename
            if not source.exists():
                folder.mkdir(parents=True, exist_ok=True)
                stock.write_source(source)
            limits = SourceLimits()
        else:
            found = sorted(folder.glob("source.*"))
            if not found:
                raise NotFound(f"The uploaded file of avatar {avatar.id} is missing", field="avatarId")
            source, limits = found[0], self.source_limits
        return handler.prepare(
            source, folder, limits=limits, on_progress=ctx.report, should_cancel=ctx.should_cancel
        )

    def finish_avatar(
        self, avatar_id: str, claim_token: str | None, status: AvatarStatus, *, message: str | None = None
    ) -> bool:
        """Move an avatar's preparation to ready or failed; with ``claim_token`` only if that claim
        still owns it. A failed avatar's files go (the row stays, with the reason)."""
        query = update(Avatar).where(Avatar.id == avatar_id)
        if claim_token is not None:
            query = query.where(Avatar.claim_token == claim_token)
        with self.db.transaction() as session:
            done = session.execute(
                query.values(status=status.value, claim_token=None, heartbeat_at=None, error_message=message)
            ).rowcount  # type: ignore[attr-defined]
        if done and status is AvatarStatus.FAILED:
            self.media.delete(self.media.avatar_dir(avatar_id))
        return bool(done)

    # --- rendering (in the worker) ------------------------------------------------------------------
    def render_job(self, job: Job, ctx: JobContext) -> RenderedVideo:
        """Render one job: its speech, then the engine call its avatar's kind provides."""
        from facecast.engine import RenderOptions, load_audio

        if job.kind == "caption":  # captions an earlier video or an upload: service/captions.py
            from facecast.service.captions import run_caption_job

            return run_caption_job(self, job, ctx)
        with self.db.session() as session:
            avatar = session.get(Avatar, job.avatar_id)
            speech_row = session.get(Speech, job.speech_id) if job.speech_id else None
            voice = session.get(Voice, job.voice_id) if job.voice_id else None
        if avatar is None or avatar.deleted_at is not None:
            raise NotFound(f"Avatar {job.avatar_id} was deleted", field="avatarId")
        self.check_ready(avatar)
        handler = handler_for(avatar.kind)

        phones = words = None
        render_start = 0.0
        if job.audio_path:
            audio = load_audio(self.media.path(job.audio_path), max_seconds=self.settings.max_audio_seconds)
        elif speech_row is not None:
            speech = self.speech.load(speech_row.store_id)
            audio, phones, words = speech.audio, speech.phones, speech.words
        elif voice is not None and job.text:
            if voice.deleted_at is not None:
                raise UnknownVoice(f"Voice {voice.id} was deleted")
            ctx.report(0.02)
            speech = self.speech.make(voice.engine_voice_id, job.text, account_id=voice.account_id).speech
            audio, phones, words = speech.audio, speech.phones, speech.words
            render_start = 0.1
        else:
            raise InvalidInput("The job has no speech (its speech or voice was deleted)")
        if audio.duration > self.settings.max_audio_seconds:
            raise InvalidInput(
                f"the speech is {audio.duration:.0f} s long; the limit is {self.settings.max_audio_seconds:.0f} s",
                field="audio",
            )
        ctx.report(render_start)

        output = ctx.work_dir / "video.mp4"
        result = handler.render(
            self.media.path(self.media.avatar_dir(avatar.id)),
            audio,
            output,
            phones=phones or None,
            full_background=job.full_background,
            options=RenderOptions(fps=self.settings.render_fps, seed=0),
            on_progress=_scaled(ctx.report, render_start, 0.8 if job.caption_template_id else 0.99),
            should_cancel=ctx.should_cancel,
        )
        produced = Path(result.path)
        if job.caption_template_id:  # captioned in the same job (Miraflow captionTemplateId)
            from facecast.service.captions import caption_rendered

            produced = caption_rendered(self, job, produced, words, ctx, _scaled(ctx.report, 0.8, 0.99))
        rel = self.media.video_file(job.video_id)
        final = self.media.commit(produced, rel)
        width, height = result.size
        return RenderedVideo(
            path=rel,
            duration=float(result.duration),
            width=int(width),
            height=int(height),
            size_bytes=final.stat().st_size,
            warnings=list(result.warnings),
        )

    # --- job bookkeeping shared by the worker and the reaper ------------------------------------------
    def finish_job(
        self,
        job_id: str,
        claim_token: str | None,
        status: JobStatus,
        *,
        code: str | None = None,
        message: str | None = None,
        video: RenderedVideo | None = None,
    ) -> bool:
        """Move a job to a final state; with ``claim_token`` only if that claim still owns it."""
        values: dict[str, object] = {
            "status": status.value,
            "completed_at": utcnow(),
            "claim_token": None,
            "error_code": code,
            "error_message": message,
        }
        if video is not None:
            values.update(
                progress=1.0,
                video_path=video.path,
                duration=video.duration,
                width=video.width,
                height=video.height,
                size_bytes=video.size_bytes,
            )
        query = update(Job).where(Job.id == job_id)
        if claim_token is not None:
            query = query.where(Job.claim_token == claim_token)
        with self.db.transaction() as session:
            done = session.execute(query.values(**values)).rowcount  # type: ignore[attr-defined]
            deleted = done and session.scalar(select(Job.deleted_at).where(Job.id == job_id)) is not None
        if done:
            if deleted and video is not None:
                # Deleted while it rendered: its file, written just now, goes too.
                self.media.delete(video.path)
            self.drop_inputs(job_id)
        return bool(done)

    def drop_inputs(self, job_id: str) -> None:
        """Once a Mirage job has ended, its uploaded portrait (a hidden avatar) and audio go."""
        with self.db.transaction() as session:
            job = session.get(Job, job_id)
            if job is None or job.api != "mirage" or not job.job_status.finished:
                return
            avatar = session.get(Avatar, job.avatar_id) if job.avatar_id else None
            if avatar is not None and avatar.hidden and avatar.deleted_at is None:
                avatar.deleted_at = utcnow()
        self.media.delete(self.media.upload_dir(job.id))
        if job.avatar_id:  # (captioning jobs have none)
            self.media.delete(self.media.avatar_dir(job.avatar_id))


def _scaled(report: Callable[[float], None], start: float, end: float) -> Callable[[float], None]:
    return lambda fraction: report(start + (end - start) * max(0.0, min(1.0, fraction)))
