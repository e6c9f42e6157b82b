"""What the web studio needs beyond the two hosted APIs, as service operations over one ``Service``.

Portrait previews (the face a new avatar would use, or why it would be refused), thumbnails,
voice samples, the caller's own API keys, the job history with its states, and videos made from an
uploaded recording for an avatar. ``api/studio.py`` is the HTTP view over these; any client may use them.
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from facecast.errors import (
    Conflict,
    FacecastError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnreadableAudio,
    UnreadableImage,
)
from facecast.service.auth import Caller, KeyInfo, create_key, list_keys
from facecast.service.avatars import handler_for
from facecast.service.domain import Service
from facecast.service.ids import new_id, new_video_id
from facecast.service.models import ApiKey, Avatar, Job, JobStatus, utcnow
from facecast.service.resources.videos import DEFAULT_VIDEO_NAME
from facecast.service.uploads import AUDIO_TYPES, IMAGE_TYPES, Upload, check_type

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from facecast.engine import PortraitCheck

log = logging.getLogger(__name__)

#: Long side of thumbnails, in pixels (the gallery shows them at about 160 CSS pixels, 2x displays).
THUMB_SIDE = 320
#: What a voice says when someone presses "listen".
SAMPLE_TEXT = "Hello! This is how I sound. I can read any script you type for your video."
#: Most jobs one history page lists.
MAX_HISTORY = 200
JOB_STATES = tuple(s.value for s in JobStatus)


# --- portraits and thumbnails ----------------------------------------------------------------------
def preview_portrait(service: Service, upload: Upload) -> PortraitCheck:
    """The face a photo avatar made from ``upload`` would use, or the typed reason it would be
    refused, naming the upload's field. Nothing is kept."""
    from facecast.engine import check_portrait

    ext = check_type(upload, IMAGE_TYPES, "image", UnreadableImage)
    scratch = service.media.path("tmp")
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix="preview-") as folder:
        # Named as uploaded (made safe), so that the engine's messages name the user's file.
        stem = re.sub(r"[^\w.-]+", "_", Path(upload.filename or "portrait").stem)[:80] or "portrait"
        path = Path(folder) / f"{stem}.{ext}"
        with open(path, "wb") as out:
            size = 0
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > service.settings.max_upload_bytes:
                    raise PayloadTooLarge(
                        f"{upload.field} is larger than the upload limit", field=upload.field
                    )
                out.write(chunk)
        try:
            return check_portrait(path)
        except FacecastError as exc:
            exc.field = upload.field
            raise


def _jpeg_thumbnail(image: PILImage) -> bytes:
    small = image.convert("RGB")
    small.thumbnail((THUMB_SIDE, THUMB_SIDE))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=82)
    return out.getvalue()


def _first_frame(path: Path) -> bytes:
    """A JPEG of a clip's first frame (PyAV decodes only until it has one)."""
    import av

    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            return _jpeg_thumbnail(frame.to_image())
    raise NotFound("The clip has no picture")


def avatar_thumbnail(service: Service, avatar: Avatar) -> bytes:
    """A small JPEG of an avatar's portrait (or of its clip's first frame)."""
    from PIL import Image, ImageOps

    folder = service.media.fetch_dir(service.media.avatar_dir(avatar.id))
    sources = sorted(folder.glob("source.*")) if folder.is_dir() else []
    if not sources:
        raise NotFound(f"Avatar {avatar.id} has no picture", field="avatarId")
    source = sources[0]
    if source.suffix.lstrip(".") in IMAGE_TYPES:
        # The portrait was checked when the avatar was made; upright as the engine sees it.
        with Image.open(source) as image:
            image.draft("RGB", (THUMB_SIDE, THUMB_SIDE))  # JPEGs decode at a reduced size
            return _jpeg_thumbnail(ImageOps.exif_transpose(image) or image)
    return _first_frame(source)


def video_thumbnail(service: Service, job: Job) -> bytes:
    return _first_frame(service.video_path(job))


# --- voices ------------------------------------------------------------------------------------------
def voice_sample(service: Service, caller: Caller, voice_id: str) -> Path:
    """A WAV of the voice saying ``SAMPLE_TEXT`` (made once, then served from the speech store)."""
    voice = service.get_voice(caller, voice_id)
    stored = service.speech.make(voice.engine_voice_id, SAMPLE_TEXT, account_id=voice.account_id)
    return service.speech.audio_path(stored.store_id)


# --- keys ----------------------------------------------------------------------------------------------
def own_keys(service: Service, account_name: str) -> list[KeyInfo]:
    with service.db.session() as session:
        return list_keys(session, account_name)


def new_key(service: Service, account_name: str, name: str) -> tuple[str, KeyInfo]:
    """A new key for the caller's own account: its text (shown once) and its listing."""
    name = name.strip()[:200]
    with service.db.transaction() as session:
        key, _ = create_key(session, account_name, name=name)
    info = next(k for k in own_keys(service, account_name) if k.prefix == key[:10] and k.name == name)
    return key, info


def revoke_own_key(service: Service, account_id: str, key_id: str) -> None:
    """Revoke one of the caller's keys by id; another account's key is simply not found."""
    with service.db.transaction() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.account_id == account_id))
        if key is None:
            raise NotFound(f"Key not found: {key_id}", field="keyId")
        if key.revoked_at is None:
            session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=utcnow()))


# --- history and audio-driven videos ---------------------------------------------------------------------
def history(service: Service, account_id: str, status: str | None, limit: int) -> list[Job]:
    """The caller's jobs, newest first, in every state (or one)."""
    if status is not None and status not in JOB_STATES:
        raise InvalidInput(f"status must be one of {', '.join(JOB_STATES)}; got {status!r}", field="status")
    with service.db.session() as session:
        query = select(Job).where(Job.account_id == account_id, Job.deleted_at.is_(None))
        if status:
            query = query.where(Job.status == status)
        query = query.order_by(Job.created_at.desc(), Job.id.desc()).limit(min(max(limit, 1), MAX_HISTORY))
        return list(session.scalars(query))


def create_video_from_audio(
    service: Service,
    caller: Caller,
    *,
    avatar_id: str,
    audio: Upload,
    name: str | None,
    full_background: bool,
) -> Job:
    """A video of an avatar speaking an uploaded recording (the Miraflow flow takes text or a speech;
    Mirage's takes a picture, not an avatar)."""

    avatar = service.get_avatar(caller, avatar_id)
    service.check_ready(avatar)
    full = full_background and avatar.is_photo
    if not handler_for(avatar.kind).has_mode(service.media.fetch_dir(service.media.avatar_dir(avatar.id)), full):
        mode = "full-background" if full else "face-cropped"
        raise Conflict(f"Avatar {avatar.id} is not prepared for {mode} videos")
    ext = check_type(audio, AUDIO_TYPES, "audio file", UnreadableAudio)
    job_id = new_id()
    try:
        audio_rel = service.save_speech(job_id, audio, ext)
        job = Job(
            id=job_id,
            video_id=new_video_id(),
            account_id=caller.account_id,
            api="miraflow",
            name=(name or "").replace("\x00", "").strip()[:200] or DEFAULT_VIDEO_NAME,
            avatar_id=avatar.id,
            full_background=full,
            audio_path=audio_rel,
        )
    except BaseException:
        service.media.delete(service.media.upload_dir(job_id))
        raise
    service.admit(caller, job)
    log.info("job %s created (studio, audio upload, avatar %s)", job.id, avatar.id)
    return job
