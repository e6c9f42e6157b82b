"""Videos: creating jobs (Miraflow and Mirage), reading and listing them, signed links, cancel and
delete, and the bookkeeping of a job's end shared by the worker and the reaper.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from facecast.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    QueueUnavailable,
    RateLimited,
    UnknownVoice,
    UnreadableAudio,
    UnreadableImage,
)
from facecast.service.auth import Caller
from facecast.service.avatars import handler_for
from facecast.service.ids import new_id, new_video_id
from facecast.service.models import Avatar, AvatarKind, Job, JobStatus, utcnow
from facecast.service.resources.avatars import AvatarResource
from facecast.service.resources.speeches import SpeechResource
from facecast.service.uploads import (
    Page,
    RenderedVideo,
    Upload,
    VideoRequest,
    check_type,
    plausible_id,
    shown_id,
)
from facecast.service.webhooks import record_event

log = logging.getLogger(__name__)

DEFAULT_VIDEO_NAME = "Untitled video"
#: How often a cancel request looks whether the worker has stopped the job.
_CANCEL_POLL_SECONDS = 0.1
ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


#: The webhook event of each final state.
_EVENT_OF = {JobStatus.COMPLETE: "completed", JobStatus.FAILED: "failed", JobStatus.CANCELLED: "cancelled"}


class VideoResource(AvatarResource, SpeechResource):
    """Video jobs from creation to their end."""

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
        """Queue a job just created; if the queue cannot take it, the job is withdrawn (the caller
        never got its id: nobody should find it listed) and the request answers 503."""
        if self.queue is None:
            raise RuntimeError("no job queue configured")
        try:
            self.queue.enqueue(job.id)
        except Exception as exc:
            log.error("could not queue job %s: %s", job.id, exc)
            message = "The job queue is unavailable; the video was not created. Try again later"
            self.finish_job(job.id, None, JobStatus.FAILED, code=QueueUnavailable.code, message=message)
            with self.db.transaction() as session:
                session.execute(update(Job).where(Job.id == job.id).values(deleted_at=utcnow()))
            self.media.delete(self.media.upload_dir(job.id))
            raise QueueUnavailable(message) from exc

    def save_speech(self, job_id: str, audio: Upload, ext: str) -> str:
        """Store an uploaded speech recording in the job's upload folder and check that it decodes
        within the length limit (errors name the upload's field); its stored path."""
        from facecast.engine import load_audio

        rel = f"{self.media.upload_dir(job_id)}/audio.{ext}"
        self.media.save_stream(rel, audio.file, max_bytes=self.settings.max_upload_bytes, field=audio.field)
        try:
            load_audio(self.media.path(rel), max_seconds=self.settings.max_audio_seconds)
        except InvalidInput as exc:
            exc.field = audio.field
            raise
        return rel

    def admit(self, caller: Caller, job: Job) -> None:
        """Store a new job within the caller's capacity and queue it; if it cannot be stored, the
        files uploaded for it go (the queue withdraws it the same way)."""
        try:
            with self.db.transaction() as session:
                self._check_capacity(session, caller)
                session.add(job)
        except BaseException:
            self.media.delete(self.media.upload_dir(job.id))
            raise
        self._enqueue(job)

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
            if not handler.has_mode(self.media.fetch_dir(self.media.avatar_dir(avatar.id)), full):
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

    def create_mirage_video(
        self, caller: Caller, *, image: Upload, audio: Upload, model: str
    ) -> tuple[Job, list[str]]:
        """A Mirage video job from an uploaded portrait and speech audio (the view checked the
        model); with the portrait's warnings (e.g. several faces: the largest is used)."""

        check_type(image, {"png": "PNG", "jpg": "JPEG"}, "image", UnreadableImage)
        audio_ext = check_type(audio, {"wav": "WAV", "mp3": "MP3"}, "audio file", UnreadableAudio)
        with self.db.session() as session:
            self._check_capacity(session, caller)
        job_id, avatar_id = new_id(), new_id()
        full = self.settings.mirage_full_background
        try:
            audio_rel = self.save_speech(job_id, audio, audio_ext)
            warnings = self._prepare_avatar(avatar_id, AvatarKind.PHOTO, image, modes=(full,))
        except BaseException:
            self.media.delete(self.media.upload_dir(job_id))
            raise
        # With an object store the worker fetches them from there: this node keeps no copy.
        self.media.evict(self.media.upload_dir(job_id))
        self.media.evict(self.media.avatar_dir(avatar_id))
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
        return job, warnings

    # --- videos: reading -------------------------------------------------------------------------
    def get_job(self, caller: Caller, job_id: str) -> Job:
        if not plausible_id(job_id):
            raise NotFound(f"Job not found: {shown_id(job_id)}", field="jobId")
        with self.db.session() as session:
            job = session.scalar(
                select(Job).where(
                    Job.id == job_id, Job.account_id == caller.account_id, Job.deleted_at.is_(None)
                )
            )
        if job is None:
            raise NotFound(f"Job not found: {shown_id(job_id)}", field="jobId")
        return job

    def get_video(self, caller: Caller, video_id: str, *, complete: bool = False) -> Job:
        if not plausible_id(video_id):
            raise NotFound(f"Video not found: {shown_id(video_id)}", field="videoId")
        with self.db.session() as session:
            job = session.scalar(
                select(Job).where(
                    Job.video_id == video_id, Job.account_id == caller.account_id, Job.deleted_at.is_(None)
                )
            )
        if job is None or (complete and job.status != JobStatus.COMPLETE.value):
            raise NotFound(f"Video not found: {shown_id(video_id)}", field="videoId")
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
                if not plausible_id(after):
                    raise InvalidInput(f"after: no video with id {shown_id(after)}", field="after")
                cursor = session.scalar(
                    select(Job).where(
                        Job.video_id == after, Job.account_id == caller.account_id, Job.deleted_at.is_(None)
                    )
                )
                if cursor is None:
                    raise InvalidInput(f"after: no video with id {shown_id(after)}", field="after")
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
        path = self.media.fetch(job.video_path)
        if not path.exists():
            raise NotFound(f"The file of video {job.video_id} is missing")
        return path

    def video_rel(self, job: Job) -> str:
        """Where a finished video is stored (for downloads that stream from the object store)."""
        if job.status != JobStatus.COMPLETE.value or not job.video_path:
            raise Conflict(f"Video {job.video_id} is not complete")
        return job.video_path

    def signed_video_url(self, job: Job, base_url: str) -> str:
        """A download URL for a finished video that needs no API key until it expires."""
        rel = self.media.video_file(job.video_id)
        expires, signature = self.signer.sign(rel, self.settings.media_url_ttl)
        base = (self.settings.public_url or base_url).rstrip("/")
        return f"{base}/media/{rel}?" + urlencode({"expires": expires, "signature": signature})

    def presigned_video_url(self, job: Job) -> str | None:
        """A presigned URL of the finished video in the object store when
        ``FACECAST_STORAGE_REDIRECT`` is on (else None). Not used for ``downloadUrl``: the studio
        plays that one, and its content-security-policy admits only this server's media."""
        if not self.settings.storage_redirect or self.media.remote is None:
            return None
        rel = self.video_rel(job)
        return self.media.remote.presigned_url(
            rel, self.settings.storage_redirect_ttl, filename=f"{job.video_id}.mp4"
        )

    def verify_media(self, rel: str, expires: int, signature: str) -> str:
        """The stored path a signed link names (404 for a bad or expired link)."""
        if not self.signer.verify(rel, expires, signature, ttl=self.settings.media_url_ttl):
            raise NotFound("This link is invalid or has expired")
        self.media.path(rel)  # refuses a path leaving the media root
        return rel

    # --- videos: changing ----------------------------------------------------------------------------
    def cancel(self, caller: Caller, job: Job, *, wait: float | None = None) -> Job:
        """Cancel a job and answer the state it is in now. A queued job is cancelled at once; a
        running one is asked to stop (its worker checks between frames) and waited for up to
        ``wait`` seconds (default ``FACECAST_CANCEL_WAIT``): still running after that, it is
        answered as running with the cancel recorded. Cancelling a cancelled job answers the same
        again; a complete or failed one cannot be cancelled (409)."""
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
            if queued.rowcount:  # type: ignore[attr-defined]
                record_event(session, job.account_id, "video.cancelled", job.id)
            else:
                session.execute(
                    update(Job)
                    .where(Job.id == job.id, Job.status == JobStatus.RUNNING.value)
                    .values(cancel_requested=True)
                )
        current = self._wait_while_running(job.id, self.settings.cancel_wait if wait is None else wait)
        if current.job_status in (JobStatus.COMPLETE, JobStatus.FAILED):
            raise Conflict(f"Video {job.video_id} is already {current.status} and cannot be cancelled")
        if current.job_status.finished:
            self.drop_inputs(job.id)
        log.info("job %s: cancel requested (now %s)", job.id, current.status)
        return current

    def _wait_while_running(self, job_id: str, wait: float) -> Job:
        deadline = time.monotonic() + wait
        while True:
            with self.db.session() as session:
                current = session.get(Job, job_id)
            assert current is not None
            if current.job_status is not JobStatus.RUNNING or time.monotonic() >= deadline:
                return current
            time.sleep(_CANCEL_POLL_SECONDS)

    def delete_video(self, caller: Caller, job: Job) -> None:
        """Delete a video (cancelling it first if it is still in progress) and its file."""
        if job.status in ACTIVE:
            try:
                self.cancel(caller, job, wait=0)
            except Conflict:
                pass
        with self.db.transaction() as session:
            session.execute(update(Job).where(Job.id == job.id).values(deleted_at=utcnow()))
        self.media.delete(self.media.video_file(job.video_id))

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
            if done and not deleted:  # the event goes out with the change (the outbox)
                account = session.scalar(select(Job.account_id).where(Job.id == job_id))
                record_event(session, account, f"video.{_EVENT_OF[status]}", job_id)
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
