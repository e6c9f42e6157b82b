"""The Miraflow dialect (``/api/...``): field for field as Miraflow's API guide shows it.

Documented: avatars, voices, video create/status/download, videos, video metadata with
``downloadUrl``. Added in the same style: create/delete avatars (photo or video upload), speeches
(voice + text), account voices (Piper model upload), cancel and delete videos. Thin views: the work
is in ``facecast.service.domain``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from facecast.errors import InsufficientStorage, InvalidInput, NotFound, QueueUnavailable, StorageUnavailable
from facecast.service.api.deps import CallerDep, ServiceDep, as_upload
from facecast.service.api.links import public_base_url
from facecast.service.api.stored import stored_file
from facecast.service.domain import VideoRequest, iso
from facecast.service.models import Avatar, AvatarKind, AvatarStatus, Job, JobStatus, Speech, Voice

router = APIRouter(prefix="/api", tags=["Miraflow"])


# --- response shapes ---------------------------------------------------------------------------------
class AvatarOut(BaseModel):
    """An avatar as Miraflow lists it, plus its preparation ``status``: photo avatars are ``ready``
    when created; video avatars are ``queued``, then ``preparing``, then ``ready`` (or ``failed``,
    with the reason in ``error``). Videos can be made with ready avatars only (409 before)."""

    id: str
    name: str
    createdAt: str
    voiceId: str | None
    isPhoto: bool
    status: Literal["queued", "preparing", "ready", "failed"] = "ready"
    error: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Why the preparation failed (failed avatars only)",
    )


class AvatarList(BaseModel):
    avatars: list[AvatarOut]


class VoiceOut(BaseModel):
    id: str
    name: str
    createdAt: str
    language: str = ""
    gender: str = ""


class VoiceList(BaseModel):
    voices: list[VoiceOut]


class VideoOut(BaseModel):
    id: str
    name: str
    sourceAvatarId: str
    createdAt: str


class VideoList(BaseModel):
    videos: list[VideoOut]


class VideoMetadata(VideoOut):
    downloadUrl: str


class JobCreated(BaseModel):
    result: Literal["success"] = "success"
    jobId: str


class JobStatusOut(BaseModel):
    result: Literal["success"] = "success"
    status: Literal[
        "inference_started", "inference_working", "inference_complete", "inference_failed", "inference_error"
    ]
    progress: str | None = None
    videoId: str | None = None
    error: str | None = None


class Success(BaseModel):
    result: Literal["success"] = "success"


class AvatarCreated(Success):
    avatarId: str
    avatar: AvatarOut
    warnings: list[str] = []


class SpeechOut(BaseModel):
    id: str
    voiceId: str
    text: str
    duration: float
    createdAt: str


class SpeechCreated(Success):
    speechId: str
    speech: SpeechOut


class SpeechList(BaseModel):
    speeches: list[SpeechOut]


class VoiceCreated(Success):
    voiceId: str
    voice: VoiceOut


# --- request shapes -------------------------------------------------------------------------------
class _JsonBody(BaseModel):
    """A JSON request body: unknown keys are ignored; strings must be text a database can store
    (JSON allows unpaired surrogates such as ``"\\ud800"`` and NUL characters; neither is)."""

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValueError("contains a NUL character")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("is not valid Unicode text (it contains an unpaired surrogate)") from None
        return value


class CreateVideoBody(_JsonBody):
    """Either ``voiceId`` + ``text`` (``voiceId`` defaults to the avatar's voice) or ``speechId``."""

    avatarId: str = Field(min_length=1)
    name: str | None = None
    voiceId: str | None = None
    text: str | None = None
    speechId: str | None = None
    im2vid_full: bool = False
    #: Caption template (``ctpl_...``): the video is captioned with the speech's words.
    captionTemplateId: str | None = None


class CreateSpeechBody(_JsonBody):
    voiceId: str = Field(min_length=1)
    text: str


# --- converters -------------------------------------------------------------------------------------
def _avatar(a: Avatar) -> AvatarOut:
    return AvatarOut(
        id=a.id,
        name=a.name,
        createdAt=iso(a.created_at) or "",
        voiceId=a.voice_id,
        isPhoto=a.is_photo,
        status=a.avatar_status.value,
        error=a.error_message if a.avatar_status is AvatarStatus.FAILED else None,
    )


def _voice(v: Voice) -> VoiceOut:
    return VoiceOut(
        id=v.id, name=v.name, createdAt=iso(v.created_at) or "", language=v.language, gender=v.gender
    )


def _video(j: Job) -> VideoOut:
    return VideoOut(id=j.video_id, name=j.name, sourceAvatarId=j.avatar_id or "", createdAt=iso(j.created_at) or "")


def _speech(s: Speech) -> SpeechOut:
    return SpeechOut(
        id=s.id,
        voiceId=s.voice_id,
        text=s.text,
        duration=round(s.duration, 3),
        createdAt=iso(s.created_at) or "",
    )


#: Failure codes that are the server's fault, not the request's (``inference_error``).
_SERVER_FAULTS = (
    "internal_error",
    "worker_lost",
    "timeout",
    QueueUnavailable.code,
    StorageUnavailable.code,
    InsufficientStorage.code,
)


def job_status(job: Job) -> JobStatusOut:
    """A job's state in Miraflow's words. Bad input and cancellation are ``inference_failed``;
    errors that are not the caller's (worker lost, internal) are ``inference_error``."""
    status = job.job_status
    percent = f"{int(job.progress * 100)}%"
    if status is JobStatus.QUEUED:
        return JobStatusOut(status="inference_started", progress=percent)
    if status is JobStatus.RUNNING:
        return JobStatusOut(status="inference_working", progress=percent)
    if status is JobStatus.COMPLETE:
        return JobStatusOut(status="inference_complete", videoId=job.video_id, progress="100%")
    message = job.error_message or "The video could not be generated"
    if job.error_code in _SERVER_FAULTS:
        return JobStatusOut(status="inference_error", error=message)
    return JobStatusOut(status="inference_failed", error=message)


# --- avatars and voices --------------------------------------------------------------------------------
@router.get("/avatars", response_model=AvatarList, summary="List avatars (stock and your own)")
def list_avatars(service: ServiceDep, caller: CallerDep) -> AvatarList:
    return AvatarList(avatars=[_avatar(a) for a in service.list_avatars(caller)])


@router.get("/avatar/{avatarId}", response_model=AvatarOut, summary="Get one avatar")
def get_avatar(avatarId: str, service: ServiceDep, caller: CallerDep) -> AvatarOut:
    return _avatar(service.get_avatar(caller, avatarId))


@router.post(
    "/avatar/create",
    response_model=AvatarCreated,
    summary="Create a photo avatar (image) or a video avatar (video)",
    description=(
        "A photo avatar is prepared in the request and is ready at once. A video avatar's clip is "
        "checked in the request (it decodes, its length and picture size are within the server's "
        "limits, a face shows), then prepared by the worker: its `status` goes from `queued` to "
        "`preparing` to `ready` (or `failed`, with `error`); poll `GET /api/avatar/{avatarId}`."
    ),
)
def create_avatar(
    service: ServiceDep,
    caller: CallerDep,
    image: Annotated[
        UploadFile | None, File(description="A portrait, JPEG/PNG/WebP: makes a photo avatar")
    ] = None,
    video: Annotated[
        UploadFile | None, File(description="A clip of a person talking: makes a video avatar")
    ] = None,
    name: Annotated[str | None, Form()] = None,
    voiceId: Annotated[str | None, Form()] = None,
) -> AvatarCreated:
    if (image is None) == (video is None):
        raise InvalidInput(
            "Upload exactly one file: image (photo avatar) or video (video avatar)", field="image"
        )
    if image is not None:
        source, kind = as_upload(image, "image"), AvatarKind.PHOTO
    else:
        assert video is not None
        source, kind = as_upload(video, "video"), AvatarKind.VIDEO
    avatar, warnings = service.create_avatar(caller, name=name, source=source, kind=kind, voice_id=voiceId)
    return AvatarCreated(avatarId=avatar.id, avatar=_avatar(avatar), warnings=warnings)


@router.delete("/avatar/{avatarId}", response_model=Success, summary="Delete one of your avatars")
def delete_avatar(avatarId: str, service: ServiceDep, caller: CallerDep) -> Success:
    service.delete_avatar(caller, avatarId)
    return Success()


@router.get("/voices", response_model=VoiceList, summary="List voices (stock and your own)")
def list_voices(service: ServiceDep, caller: CallerDep) -> VoiceList:
    return VoiceList(voices=[_voice(v) for v in service.list_voices(caller)])


@router.post(
    "/voice/create", response_model=VoiceCreated, summary="Add a Piper voice (.onnx model + .json config)"
)
def create_voice(
    service: ServiceDep,
    caller: CallerDep,
    model: Annotated[UploadFile, File(description="The Piper voice model (.onnx)")],
    config: Annotated[UploadFile, File(description="Its config (.onnx.json)")],
    name: Annotated[str | None, Form()] = None,
) -> VoiceCreated:
    voice = service.create_voice(
        caller, name=name, model=as_upload(model, "model"), config=as_upload(config, "config")
    )
    return VoiceCreated(voiceId=voice.id, voice=_voice(voice))


@router.delete("/voice/{voiceId}", response_model=Success, summary="Delete one of your voices")
def delete_voice(voiceId: str, service: ServiceDep, caller: CallerDep) -> Success:
    service.delete_voice(caller, voiceId)
    return Success()


# --- speeches ---------------------------------------------------------------------------------------
@router.post("/speech/create", response_model=SpeechCreated, summary="Make a speech from a voice and a text")
def create_speech(body: CreateSpeechBody, service: ServiceDep, caller: CallerDep) -> SpeechCreated:
    speech = service.create_speech(caller, voice_id=body.voiceId, text=body.text)
    return SpeechCreated(speechId=speech.id, speech=_speech(speech))


@router.get("/speeches", response_model=SpeechList, summary="List your speeches")
def list_speeches(service: ServiceDep, caller: CallerDep) -> SpeechList:
    return SpeechList(speeches=[_speech(s) for s in service.list_speeches(caller)])


@router.get("/speech/{speechId}", response_model=SpeechOut, summary="Get one speech")
def get_speech(speechId: str, service: ServiceDep, caller: CallerDep) -> SpeechOut:
    return _speech(service.get_speech(caller, speechId))


@router.delete("/speech/{speechId}", response_model=Success, summary="Delete one of your speeches")
def delete_speech(speechId: str, service: ServiceDep, caller: CallerDep) -> Success:
    service.delete_speech(caller, speechId)
    return Success()


# --- videos -------------------------------------------------------------------------------------------
@router.post("/video/create", response_model=JobCreated, summary="Start a video generation job")
def create_video(body: CreateVideoBody, service: ServiceDep, caller: CallerDep) -> JobCreated:
    job = service.create_video(
        caller,
        VideoRequest(
            avatar_id=body.avatarId,
            name=body.name,
            voice_id=body.voiceId,
            text=body.text,
            speech_id=body.speechId,
            full_background=body.im2vid_full,
            caption_template_id=body.captionTemplateId,
        ),
    )
    return JobCreated(jobId=job.id)


@router.get(
    "/video/{jobId}/status",
    response_model=JobStatusOut,
    response_model_exclude_none=True,
    summary="Check a job's status",
)
def get_status(jobId: str, service: ServiceDep, caller: CallerDep) -> JobStatusOut:
    return job_status(service.get_job(caller, jobId))


@router.post(
    "/video/{jobId}/cancel",
    response_model=JobStatusOut,
    response_model_exclude_none=True,
    summary="Cancel a job",
    responses={
        200: {
            "description": "The job as it is now: cancelled (inference_failed; cancelling again answers the same)"
        },
        202: {
            "model": JobStatusOut,
            "description": "Cancellation requested; the render is still stopping (inference_working): poll",
        },
    },
)
def cancel_job(jobId: str, response: Response, service: ServiceDep, caller: CallerDep) -> JobStatusOut:
    job = service.cancel(caller, service.get_job(caller, jobId))
    if not job.job_status.finished:
        response.status_code = 202
    return job_status(job)


@router.get(
    "/video/{videoId}/download",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}, "description": "The MP4 (HTTP range requests supported)"}},
    summary="Download a finished video",
)
def download_video(videoId: str, request: Request, service: ServiceDep, caller: CallerDep) -> Response:
    job = service.get_video(caller, videoId, complete=True)
    return stored_file(service, request, service.video_rel(job), filename=f"{job.video_id}.mp4")


router.add_api_route("/video/{videoId}/download", download_video, methods=["HEAD"], include_in_schema=False)


@router.get("/videos", response_model=VideoList, summary="List your completed videos")
def list_videos(service: ServiceDep, caller: CallerDep) -> VideoList:
    return VideoList(videos=[_video(j) for j in service.list_videos(caller, completed_only=True).items])


@router.get("/video/{videoId}", response_model=VideoMetadata, summary="Get a completed video's metadata")
def get_video(videoId: str, request: Request, service: ServiceDep, caller: CallerDep) -> VideoMetadata:
    job = service.get_video(caller, videoId, complete=True)
    return VideoMetadata(
        **_video(job).model_dump(),
        downloadUrl=service.signed_video_url(job, public_base_url(request, service.settings)),
    )


@router.delete("/video/{videoId}", response_model=Success, summary="Delete a video (a job id works too)")
def delete_video(videoId: str, service: ServiceDep, caller: CallerDep) -> Success:
    try:
        job = service.get_video(caller, videoId)
    except NotFound:
        job = service.get_job(caller, videoId)
    service.delete_video(caller, job)
    return Success()
