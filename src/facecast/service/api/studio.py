"""Endpoints the web studio uses, in the Miraflow dialect's style (``/api/...``, ``{"result": ...}``).

A portrait preview (the detected face, or why it would be refused) before an avatar is made,
thumbnails of avatars and videos, voice samples, the job history with states, a video from an
uploaded recording, and the caller's own API keys. Public and documented like every other path:
the studio has no private endpoints. The work is in ``facecast.service.studio``.
"""

from __future__ import annotations

import threading
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from facecast.service import studio
from facecast.service.api.deps import CallerDep, ServiceDep, as_upload
from facecast.service.api.miraflow import AvatarOut, JobCreated, Success, _avatar, _JsonBody
from facecast.service.auth import KeyInfo
from facecast.service.domain import iso
from facecast.service.models import Job

router = APIRouter(prefix="/api", tags=["Studio"])

#: Face detection for previews runs in the web process; two at a time keep requests answering.
_previews = threading.BoundedSemaphore(2)
_JPEG = {200: {"content": {"image/jpeg": {}}, "description": "A JPEG, at most 320 pixels on its long side"}}
#: Thumbnails and samples change only when their source does; the browser may keep them a while.
_PRIVATE_CACHE = {"Cache-Control": "private, max-age=300"}


# --- shapes --------------------------------------------------------------------------------------------
class FaceBoxOut(BaseModel):
    """The face's bounding box in the picture's upright pixels (EXIF orientation applied)."""

    x: float
    y: float
    width: float
    height: float


class PortraitPreview(Success):
    width: int = Field(description="Picture width after EXIF orientation")
    height: int
    face: FaceBoxOut
    eyeDistance: float = Field(description="Pixels between the eye centres (at least 24 are needed)")
    warnings: list[str] = []


class GalleryAvatar(AvatarOut):
    stock: bool = Field(description="A stock avatar of this server (it cannot be deleted)")


class Gallery(BaseModel):
    avatars: list[GalleryAvatar]


class JobOut(BaseModel):
    """One job of the history, whichever dialect created it."""

    jobId: str
    videoId: str
    name: str
    status: Literal["queued", "running", "complete", "failed", "cancelled"]
    progress: int = Field(description="Percent done")
    createdAt: str
    completedAt: str | None = None
    duration: float | None = Field(default=None, description="Seconds of video (complete jobs)")
    avatarId: str | None = None  # None for a captioning job (it captions a video, not an avatar)
    fullBackground: bool
    text: str | None = None
    error: str | None = None


class JobList(BaseModel):
    jobs: list[JobOut]


class KeyOut(BaseModel):
    id: str
    prefix: str = Field(description="The key's first characters; the key itself is never shown again")
    name: str
    createdAt: str
    lastUsedAt: str | None = None
    revokedAt: str | None = None
    current: bool = Field(description="Whether this request was made with this key")


class KeyList(BaseModel):
    account: str
    keys: list[KeyOut]


class KeyCreated(Success):
    key: str = Field(description="The new key, shown only in this answer")
    keyInfo: KeyOut


class CreateKeyBody(_JsonBody):
    name: str = Field(default="", max_length=200)


class Me(Success):
    account: str
    keyPrefix: str


def _job(job: Job) -> JobOut:
    return JobOut(
        jobId=job.id,
        videoId=job.video_id,
        name=job.name,
        status=job.job_status.value,
        progress=100 if job.status == "complete" else int(job.progress * 100),
        createdAt=iso(job.created_at) or "",
        completedAt=iso(job.completed_at),
        duration=round(job.duration, 3) if job.duration else None,
        avatarId=job.avatar_id,
        fullBackground=job.full_background,
        text=job.text,
        error=job.error_message if job.status in ("failed", "cancelled") else None,
    )


def _key(info: KeyInfo, current_id: str) -> KeyOut:
    return KeyOut(
        id=info.id,
        prefix=info.prefix,
        name=info.name,
        createdAt=iso(info.created_at) or "",
        lastUsedAt=iso(info.last_used_at),
        revokedAt=iso(info.revoked_at),
        current=info.id == current_id,
    )


# --- avatars ---------------------------------------------------------------------------------------------
@router.post(
    "/avatar/preview",
    response_model=PortraitPreview,
    summary="Check a portrait before making an avatar of it",
    description=(
        "Finds the face `POST /api/avatar/create` would use and answers its box, or 400 with the "
        "reason the portrait would be refused (not a picture, too small, no face, face too small). "
        "Nothing is stored."
    ),
)
def preview_avatar(
    service: ServiceDep,
    caller: CallerDep,
    image: Annotated[UploadFile, File(description="A portrait, JPEG/PNG/WebP")],
) -> PortraitPreview:
    with _previews:
        found = studio.preview_portrait(service, as_upload(image, "image"))
    x0, y0, x1, y1 = found.face_box
    return PortraitPreview(
        width=found.width,
        height=found.height,
        face=FaceBoxOut(x=round(x0, 1), y=round(y0, 1), width=round(x1 - x0, 1), height=round(y1 - y0, 1)),
        eyeDistance=round(found.eye_distance, 1),
        warnings=list(found.warnings),
    )


@router.get(
    "/avatars/gallery",
    response_model=Gallery,
    summary="List avatars as GET /api/avatars does, saying which are stock",
)
def gallery(service: ServiceDep, caller: CallerDep) -> Gallery:
    return Gallery(
        avatars=[
            GalleryAvatar(**_avatar(a).model_dump(exclude_none=True), stock=a.account_id is None)
            for a in service.list_avatars(caller)
        ]
    )


@router.get(
    "/avatar/{avatarId}/thumbnail",
    response_class=Response,
    responses=_JPEG,  # type: ignore[arg-type]
    summary="A small picture of an avatar",
)
def avatar_thumbnail(avatarId: str, service: ServiceDep, caller: CallerDep) -> Response:
    avatar = service.get_avatar(caller, avatarId)
    return Response(studio.avatar_thumbnail(service, avatar), media_type="image/jpeg", headers=_PRIVATE_CACHE)


# --- voices ------------------------------------------------------------------------------------------------
@router.get(
    "/voice/{voiceId}/sample",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}, "description": "A WAV of the voice saying a sentence"}},
    summary="Hear a voice",
)
def voice_sample(voiceId: str, service: ServiceDep, caller: CallerDep) -> FileResponse:
    path = studio.voice_sample(service, caller, voiceId)
    return FileResponse(path, media_type="audio/wav", headers=_PRIVATE_CACHE)


# --- videos ------------------------------------------------------------------------------------------------
@router.get(
    "/jobs",
    response_model=JobList,
    response_model_exclude_none=True,
    summary="List your jobs in every state, newest first",
)
def list_jobs(
    service: ServiceDep,
    caller: CallerDep,
    status: Annotated[
        Literal["queued", "running", "complete", "failed", "cancelled"] | None,
        Query(description="Only this state"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=studio.MAX_HISTORY)] = 50,
) -> JobList:
    return JobList(jobs=[_job(j) for j in studio.history(service, caller.account_id, status, limit)])


@router.get("/job/{jobId}", response_model=JobOut, response_model_exclude_none=True, summary="Get one job")
def get_job(jobId: str, service: ServiceDep, caller: CallerDep) -> JobOut:
    return _job(service.get_job(caller, jobId))


@router.post(
    "/video/create-from-audio",
    response_model=JobCreated,
    summary="Start a video of an avatar speaking an uploaded recording",
)
def create_video_from_audio(
    service: ServiceDep,
    caller: CallerDep,
    avatarId: Annotated[str, Form(min_length=1)],
    audio: Annotated[UploadFile, File(description="Speech: WAV, MP3, FLAC, Ogg or M4A")],
    name: Annotated[str | None, Form()] = None,
    im2vid_full: Annotated[bool, Form()] = False,
) -> JobCreated:
    job = studio.create_video_from_audio(
        service,
        caller,
        avatar_id=avatarId,
        audio=as_upload(audio, "audio"),
        name=name,
        full_background=im2vid_full,
    )
    return JobCreated(jobId=job.id)


@router.get(
    "/video/{videoId}/thumbnail",
    response_class=Response,
    responses=_JPEG,  # type: ignore[arg-type]
    summary="The first frame of a finished video",
)
def video_thumbnail(videoId: str, service: ServiceDep, caller: CallerDep) -> Response:
    job = service.get_video(caller, videoId, complete=True)
    return Response(studio.video_thumbnail(service, job), media_type="image/jpeg", headers=_PRIVATE_CACHE)


# --- the caller and their keys ------------------------------------------------------------------------------
@router.get("/me", response_model=Me, summary="Who this key belongs to")
def me(service: ServiceDep, caller: CallerDep) -> Me:
    current = next((k for k in studio.own_keys(service, caller.account_name) if k.id == caller.key_id), None)
    return Me(account=caller.account_name, keyPrefix=current.prefix if current else "")


@router.get("/keys", response_model=KeyList, response_model_exclude_none=True, summary="List your API keys")
def list_keys(service: ServiceDep, caller: CallerDep) -> KeyList:
    keys = studio.own_keys(service, caller.account_name)
    return KeyList(account=caller.account_name, keys=[_key(k, caller.key_id) for k in keys])


@router.post(
    "/keys",
    response_model=KeyCreated,
    response_model_exclude_none=True,
    summary="Create an API key for your account (shown once)",
)
def create_key(body: CreateKeyBody, response: Response, service: ServiceDep, caller: CallerDep) -> KeyCreated:
    key, info = studio.new_key(service, caller.account_name, body.name)
    response.headers["Cache-Control"] = "no-store"  # the only copy of the key: keep it out of caches
    return KeyCreated(key=key, keyInfo=_key(info, caller.key_id))


@router.delete(
    "/keys/{keyId}",
    response_model=Success,
    summary="Revoke one of your API keys",
    description="Requests made with a revoked key answer 401 from then on, this one's key included.",
)
def revoke_key(keyId: str, service: ServiceDep, caller: CallerDep) -> Success:
    studio.revoke_own_key(service, caller.account_id, keyId)
    return Success()
