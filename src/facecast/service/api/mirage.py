"""The Mirage dialect (``/v1/videos...``): the Captions Mirage Video API, field for field.

Create from a portrait + speech audio (multipart), retrieve, content (a redirect to the file's
signed URL), list with cursor pagination (``after``, ``limit``, ``order``; a bare JSON array as
Mirage's published API returns it, with ``X-Has-More`` and a ``Link: rel="next"`` header), cancel
and delete. Thin views over ``facecast.service.domain``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from facecast.errors import InvalidInput
from facecast.service.api.deps import CallerDep, ServiceDep, as_upload
from facecast.service.api.links import public_base_url
from facecast.service.api.share import share_link
from facecast.service.domain import unix
from facecast.service.models import Job, JobStatus

router = APIRouter(prefix="/v1", tags=["Mirage"])

#: The one generation model Mirage names (and the only one Facecast answers to).
MIRAGE_MODEL = "mirage-video-1-latest"

_STATUS = {
    JobStatus.QUEUED: "PROCESSING",
    JobStatus.RUNNING: "PROCESSING",
    JobStatus.COMPLETE: "COMPLETE",
    JobStatus.FAILED: "FAILED",
    JobStatus.CANCELLED: "CANCELLED",
}


class VideoError(BaseModel):
    """Why generation failed (``MAVideoError``)."""

    code: str
    message: str


class Video(BaseModel):
    """The Mirage Video object. ``video_id`` is the deprecated alias of ``id``."""

    id: str
    object: Literal["video"] = "video"
    status: Literal["PROCESSING", "COMPLETE", "FAILED", "CANCELLED"]
    created_at: int
    completed_at: int | None = None
    progress: int | None = None
    error: VideoError | None = None
    model: str | None = None
    source_video_id: str | None = None
    caption_template_id: str | None = None
    share_link_url: str | None = None
    video_id: str
    warnings: list[str] | None = Field(
        default=None,
        exclude_if=lambda value: not value,
        description=(
            "Facecast: what the request did that may not give the video you expect (e.g. several "
            "faces in image_reference: the largest is animated). Only in the create answer, only "
            "when there is something to say"
        ),
    )


def _progress(job: Job) -> int | None:
    """Percent done; null once the video failed (no figure means anything then); a cancelled video
    keeps the figure it stopped at."""
    status = job.job_status
    if status is JobStatus.COMPLETE:
        return 100
    if status is JobStatus.FAILED:
        return None
    return int(job.progress * 100)


def video_object(job: Job, warnings: list[str] | None = None) -> Video:
    status = job.job_status
    error = None
    if status is JobStatus.FAILED:  # "Error details if status is FAILED"
        error = VideoError(
            code=job.error_code or "failed", message=job.error_message or "The video could not be generated"
        )
    return Video(
        id=job.video_id,
        status=_STATUS[status],  # type: ignore[arg-type]
        created_at=unix(job.created_at) or 0,
        completed_at=unix(job.completed_at) if status.finished else None,
        progress=_progress(job),
        error=error,
        model=None if job.kind == "caption" else (job.model or MIRAGE_MODEL),
        source_video_id=job.source_video_id,
        caption_template_id=job.caption_template_id,
        share_link_url=share_link(job),
        video_id=job.video_id,
        warnings=warnings or None,
    )


@router.post("/videos", response_model=Video, summary="Create Video")
def create_video(
    service: ServiceDep,
    caller: CallerDep,
    image_reference: Annotated[UploadFile, File(description="Image file (JPEG or PNG)")],
    audio_reference: Annotated[UploadFile, File(description="Audio file (WAV or MP3)")],
    model: Annotated[str, Form(description="Model to use for generation")] = MIRAGE_MODEL,
) -> Video:
    model = (model or MIRAGE_MODEL).strip()
    if model != MIRAGE_MODEL:
        raise InvalidInput(f"Unsupported model {model!r}; the only model is {MIRAGE_MODEL!r}", field="model")
    job, warnings = service.create_mirage_video(
        caller,
        image=as_upload(image_reference, "image_reference"),
        audio=as_upload(audio_reference, "audio_reference"),
        model=model,
    )
    return video_object(job, warnings)


@router.get("/videos", response_model=list[Video], summary="List Videos")
def list_videos(
    request: Request,
    response: Response,
    service: ServiceDep,
    caller: CallerDep,
    after: Annotated[str | None, Query(description="Return items strictly after this video ID")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Max number of items to return")] = 20,
    order: Annotated[Literal["asc", "desc"], Query(description="Sort order by creation time")] = "desc",
) -> list[Video]:
    page = service.list_videos(caller, after=after, limit=limit, order=order)
    # Mirage answers a bare array; whether more follow is told in headers (RFC 8288 Link, next page).
    response.headers["X-Has-More"] = "true" if page.has_more else "false"
    if page.has_more and page.items:
        following = request.url.include_query_params(after=page.items[-1].video_id, limit=limit, order=order)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return [video_object(j) for j in page.items]


@router.get("/videos/{video_id}", response_model=Video, summary="Retrieve Video")
def get_video(video_id: str, service: ServiceDep, caller: CallerDep) -> Video:
    return video_object(service.get_video(caller, video_id))


@router.get(
    "/videos/{video_id}/content",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "Redirect to the MP4's URL"}},
    summary="Retrieve Video Content",
)
def get_content(video_id: str, request: Request, service: ServiceDep, caller: CallerDep) -> RedirectResponse:
    job = service.get_video(caller, video_id)
    service.video_rel(job)  # 409 while it is not complete
    url = service.presigned_video_url(job) or service.signed_video_url(
        job, public_base_url(request, service.settings)
    )
    return RedirectResponse(url, status_code=302)


# HEAD answers like GET (the same redirect), without a body.
router.add_api_route(
    "/videos/{video_id}/content", get_content, methods=["HEAD"], status_code=302, include_in_schema=False
)


@router.post(
    "/videos/{video_id}/cancel",
    response_model=Video,
    summary="Cancel Video",
    responses={
        200: {"description": "The video as it is now: CANCELLED (cancelling again answers the same)"},
        202: {
            "model": Video,
            "description": "Cancellation requested; the render is still stopping (status PROCESSING): poll",
        },
    },
)
def cancel_video(video_id: str, response: Response, service: ServiceDep, caller: CallerDep) -> Video:
    job = service.cancel(caller, service.get_video(caller, video_id))
    if not job.job_status.finished:
        response.status_code = 202
    return video_object(job)


class Deleted(BaseModel):
    id: str
    object: Literal["video"] = "video"
    deleted: bool = True


@router.delete("/videos/{video_id}", response_model=Deleted, summary="Delete Video")
def delete_video(video_id: str, service: ServiceDep, caller: CallerDep) -> Deleted:
    service.delete_video(caller, service.get_video(caller, video_id))
    return Deleted(id=video_id)
