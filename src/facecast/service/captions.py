"""Captions in the service: caption templates (built-in and an account's own), captioning jobs
(a new video from a finished video or an upload), captions on a render, transcripts and subtitles.

Both API dialects are views over these functions; the worker runs ``run_caption_job`` for jobs of
kind "caption" and ``caption_rendered`` when a render job names a template. Words come from the
Speech when the video was made from text (no recognition), else from speech recognition.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, select

from facecast.captions import (
    BUILTIN_TEMPLATES,
    CaptionTemplate,
    Transcript,
    UnknownTemplate,
    caption_video,
    from_speech,
    probe_media,
)
from facecast.captions.pipeline import NoAudioTrack
from facecast.errors import Conflict, InvalidInput, NotFound, UnreadableVideo
from facecast.service.auth import Caller
from facecast.service.ids import new_id, new_video_id
from facecast.service.models import CaptionTemplateRow, Job, JobStatus, Speech, Voice
from facecast.service.resources.base import heavy
from facecast.service.resources.videos import VideoResource
from facecast.service.uploads import JobContext, RenderedVideo, Upload, check_type

log = logging.getLogger(__name__)

CAPTION_KIND = "caption"
#: Built-in templates have existed since the start of time, as far as a listing is concerned.
BUILTIN_CREATED_AT = 1730000000
#: Most templates one account may own.
MAX_ACCOUNT_TEMPLATES = 200


@dataclass(frozen=True)
class TemplateEntry:
    template: CaptionTemplate
    created_at: int
    builtin: bool


@dataclass(frozen=True)
class TemplatePage:
    items: list[TemplateEntry]
    has_more: bool


# --- templates ---------------------------------------------------------------------------------------
def _account_templates(service: VideoResource, caller: Caller) -> list[TemplateEntry]:
    with service.db.session() as session:
        rows = session.scalars(
            select(CaptionTemplateRow)
            .where(
                CaptionTemplateRow.account_id == caller.account_id, CaptionTemplateRow.deleted_at.is_(None)
            )
            .order_by(CaptionTemplateRow.created_at, CaptionTemplateRow.id)
        )
        return [
            TemplateEntry(
                CaptionTemplate.from_dict(json.loads(r.style), template_id=r.id),
                int(r.created_at.timestamp()),
                False,
            )
            for r in rows
        ]


def all_templates(service: VideoResource, caller: Caller) -> list[TemplateEntry]:
    """The built-in templates, then the account's own, oldest first."""
    builtin = [TemplateEntry(t, BUILTIN_CREATED_AT, True) for t in BUILTIN_TEMPLATES]
    return builtin + _account_templates(service, caller)


def list_templates(service: VideoResource, caller: Caller, *, after: str | None, limit: int) -> TemplatePage:
    entries = all_templates(service, caller)
    start = 0
    if after:
        ids = [e.template.id for e in entries]
        if after not in ids:
            raise InvalidInput(f"after: no caption template with id {after!r}", field="after")
        start = ids.index(after) + 1
    chunk = entries[start : start + limit]
    return TemplatePage(chunk, start + limit < len(entries))


def get_template(service: VideoResource, caller: Caller, key: str) -> TemplateEntry:
    """A template by id (or a built-in one by slug); ``UnknownTemplate`` (404) otherwise."""
    for entry in all_templates(service, caller):
        if key in (entry.template.id, entry.template.slug if entry.builtin else None):
            return entry
    raise UnknownTemplate(f"Caption template not found: {key}")


def create_template(service: VideoResource, caller: Caller, data: object) -> TemplateEntry:
    """An account's own template from JSON; validated (``InvalidTemplate`` names the field)."""
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object (a caption template)", field="body")
    if "id" in data:
        raise InvalidInput("id is assigned by the server", field="id")
    template_id = "ctpl_" + "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(16))
    template = CaptionTemplate.from_dict(dict(data), template_id=template_id)
    with service.db.transaction() as session:
        owned = session.scalar(
            select(CaptionTemplateRow.id)
            .where(
                CaptionTemplateRow.account_id == caller.account_id, CaptionTemplateRow.deleted_at.is_(None)
            )
            .offset(MAX_ACCOUNT_TEMPLATES - 1)
            .limit(1)
        )
        if owned is not None:
            raise Conflict(f"An account may have at most {MAX_ACCOUNT_TEMPLATES} caption templates")
        row = CaptionTemplateRow(
            id=template_id,
            account_id=caller.account_id,
            name=template.name,
            style=json.dumps(template.to_dict()),
        )
        session.add(row)
        session.flush()
        created = int(row.created_at.timestamp())
    return TemplateEntry(template, created, False)


def check_template_id(service: VideoResource, caller: Caller, template_id: str | None, field: str) -> str | None:
    """The template id as stored on a job (None when not given); unknown ids are refused."""
    if template_id is None or not template_id.strip():
        return None
    try:
        return get_template(service, caller, template_id.strip()).template.id
    except UnknownTemplate as exc:
        exc.field = field
        raise


# --- captioning jobs ---------------------------------------------------------------------------------
def _source_rel(job_id: str) -> str:
    return f"uploads/{job_id}/source.mp4"


def create_caption_job(
    service: VideoResource,
    caller: Caller,
    *,
    template_id: str | None,
    video: Upload | None,
    video_id: str | None,
    api: str = "mirage",
) -> Job:
    """A job that captions an uploaded video or a COMPLETE video of the account into a new video."""
    if not template_id or not template_id.strip():
        raise InvalidInput("Missing required field: caption_template_id", field="caption_template_id")
    stored_template = check_template_id(service, caller, template_id, "caption_template_id")
    video_id = (video_id or "").strip() or None
    if (video is None) == (video_id is None):
        raise InvalidInput("Give exactly one of video (an upload) or video_id", field="video")
    job_id = new_id()
    source_id = None
    if video_id is not None:
        source = service.get_video(caller, video_id)  # another account's id is simply not found
        if source.status != JobStatus.COMPLETE.value:
            raise InvalidInput(
                f"video_id: video {video_id} is {source.status}; only COMPLETE videos can be captioned",
                field="video_id",
            )
        source_id = source.video_id
    else:
        assert video is not None
        check_type(video, {"mp4": "MP4", "mov": "QuickTime"}, "video", UnreadableVideo)
        rel = _source_rel(job_id)
        try:
            service.media.save_stream(
                rel, video.file, max_bytes=service.settings.max_upload_bytes, field=video.field
            )
            info = probe_media(service.media.path(rel))
            if info.audio_codec is None:
                raise NoAudioTrack(
                    "video has no audio track: there is no speech to caption", field=video.field
                )
            if info.duration > service.settings.max_audio_seconds:
                raise InvalidInput(
                    f"video is {info.duration:.0f} s long; the limit is {service.settings.max_audio_seconds:.0f} s",
                    field=video.field,
                )
        except BaseException as exc:
            service.media.delete(service.media.upload_dir(job_id))
            if isinstance(exc, UnreadableVideo):
                exc.field = video.field
            raise
    job = Job(
        id=job_id,
        video_id=new_video_id(),
        account_id=caller.account_id,
        api=api,
        name="Captioned video",
        kind=CAPTION_KIND,
        source_video_id=source_id,
        caption_template_id=stored_template,
    )
    service.admit(caller, job)
    log.info(
        "job %s created (captions, template %s, account %s)", job.id, stored_template, caller.account_name
    )
    return job


def _template_of(service: VideoResource, job: Job) -> CaptionTemplate:
    from facecast.captions import builtin_template

    key = job.caption_template_id or ""
    try:
        return builtin_template(key)
    except UnknownTemplate:
        pass
    with service.db.session() as session:
        row = session.get(CaptionTemplateRow, key)
    if row is None:
        raise NotFound(f"Caption template {key} was deleted", field="caption_template_id")
    return CaptionTemplate.from_dict(json.loads(row.style), template_id=row.id)


def _speech_transcript(service: VideoResource, job: Job, duration: float) -> Transcript | None:
    """The words of a video made from text (a stored speech, or a voice and a script)."""
    with service.db.session() as session:
        speech_row = session.get(Speech, job.speech_id) if job.speech_id else None
        voice = session.get(Voice, job.voice_id) if job.voice_id else None
    if speech_row is not None:
        speech = service.speech.load(speech_row.store_id)
        language = voice.language if voice else ""
    elif voice is not None and job.text:
        speech = service.speech.make(voice.engine_voice_id, job.text, account_id=voice.account_id).speech
        language = voice.language
    else:
        return None
    return from_speech(speech.words, duration, language)


def transcript_rel(video_id: str) -> str:
    return f"videos/{video_id}.transcript.json"


def _finish(service: VideoResource, job: Job, produced: Path, transcript: Transcript) -> RenderedVideo:
    service.media.write_bytes(transcript_rel(job.video_id), transcript.to_json().encode())
    info = probe_media(produced)
    rel = service.media.video_file(job.video_id)
    final = service.media.commit(produced, rel)
    return RenderedVideo(
        rel, info.duration, info.width, info.height, final.stat().st_size, list(transcript.warnings)
    )


def run_caption_job(service: VideoResource, job: Job, ctx: JobContext) -> RenderedVideo:
    """In the worker: caption the job's source (an earlier video or the upload) into its video."""
    template = _template_of(service, job)
    transcript = None
    if job.source_video_id:
        with service.db.session() as session:
            source = session.scalar(select(Job).where(Job.video_id == job.source_video_id))
        if source is None or source.deleted_at is not None or not source.video_path:
            raise NotFound(f"Video {job.source_video_id} was deleted", field="video_id")
        path = service.media.fetch(source.video_path)
        stored = service.media.fetch(transcript_rel(source.video_id))
        if stored.is_file():
            transcript = Transcript.from_dict(json.loads(stored.read_text()))
        else:
            transcript = _speech_transcript(service, source, probe_media(path).duration)
    else:
        path = service.media.fetch(_source_rel(job.id))
        if not path.is_file():
            raise NotFound("The uploaded video is missing", field="video")
    result = caption_video(
        path,
        ctx.work_dir / "captioned.mp4",
        template,
        transcript=transcript,
        max_seconds=service.settings.max_audio_seconds,
        on_progress=ctx.report,
        should_cancel=ctx.should_cancel,
    )
    video = _finish(service, job, result.path, result.transcript)
    service.media.delete(service.media.upload_dir(job.id))
    return video


def caption_rendered(
    service: VideoResource,
    job: Job,
    rendered: Path,
    words: list | None,
    ctx: JobContext,
    report: Callable[[float], None],
) -> Path:
    """In the worker: captions on a render job's own output (words from its speech when given)."""
    template = _template_of(service, job)
    result = caption_video(
        rendered,
        ctx.work_dir / "captioned.mp4",
        template,
        words=words,
        on_progress=report,
        should_cancel=ctx.should_cancel,
    )
    service.media.write_bytes(transcript_rel(job.video_id), result.transcript.to_json().encode())
    return result.path


# --- transcripts and subtitles ----------------------------------------------------------------------
def transcript_of(service: VideoResource, caller: Caller, video_id: str) -> tuple[Job, Transcript]:
    """The timed words of a COMPLETE video: stored by captioning, else from its Speech, else
    recognised now (and stored for next time)."""
    from facecast.captions import transcribe
    from facecast.engine.audio import load_audio

    job = service.get_video(caller, video_id)
    path = service.video_path(job)  # 409 while not complete
    stored = service.media.fetch(transcript_rel(job.video_id))
    if stored.is_file():
        return job, Transcript.from_dict(json.loads(stored.read_text()))
    transcript = _speech_transcript(service, job, probe_media(path).duration)
    if transcript is None:
        with heavy:
            transcript = transcribe(load_audio(path))
    service.media.write_bytes(transcript_rel(job.video_id), transcript.to_json().encode())
    return job, transcript


# --- share links --------------------------------------------------------------------------------------
def shared_video(service: VideoResource, token: str) -> Job:
    if not service.settings.share_links or not token or len(token) > 64:
        raise NotFound("This link is invalid or was revoked")
    with service.db.session() as session:
        job = session.scalar(
            select(Job).where(
                and_(
                    Job.share_token == token, Job.deleted_at.is_(None), Job.status == JobStatus.COMPLETE.value
                )
            )
        )
    if job is None:
        raise NotFound("This link is invalid or was revoked")
    return job


def set_share(service: VideoResource, caller: Caller, video_id: str, *, enabled: bool) -> Job:
    """Turn a video's public link on (keeping the current one) or off (revoked at once; sharing
    again makes a new, different link)."""
    job = service.get_video(caller, video_id)
    token = secrets.token_urlsafe(24) if enabled else None
    with service.db.transaction() as session:
        row = session.get(Job, job.id)
        assert row is not None
        if not (enabled and row.share_token):
            row.share_token = token
        session.flush()
        session.refresh(row)
        return row
