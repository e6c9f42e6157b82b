"""The Mirage dialect's captioning and audio endpoints: ``POST /v1/videos/captions``, caption
templates (list, retrieve, create), a video's transcript and subtitles, and text to speech.

Thin views over ``facecast.service.captions``; errors are typed ``FacecastError``s that
``api/errors.py`` answers in the dialect's shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel

from facecast.errors import InvalidInput
from facecast.service import captions
from facecast.service.api.captions_views import subtitles, transcript_body
from facecast.service.api.deps import CallerDep, ServiceDep, as_upload
from facecast.service.api.mirage import Video, video_object
from facecast.service.domain import Service
from facecast.service.previews import preview_url

router = APIRouter(prefix="/v1", tags=["Mirage"])
AUDIO_MODEL = "mirage-audio-1"


class CaptionTemplateOut(BaseModel):
    id: str
    object: Literal["caption_template"] = "caption_template"
    name: str
    preview_url: str | None = None
    created_at: int
    #: Facecast's additions: the short name and every style field.
    slug: str
    style: dict[str, Any]


class CaptionTemplateList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CaptionTemplateOut]
    has_more: bool


def _template(entry: captions.TemplateEntry, service: Service, request: Request) -> CaptionTemplateOut:
    t = entry.template
    preview = preview_url(service, t.slug, str(request.base_url)) if entry.builtin else None
    return CaptionTemplateOut(
        id=t.id, name=t.name, preview_url=preview, created_at=entry.created_at, slug=t.slug, style=t.public()
    )


@router.post("/videos/captions", response_model=Video, summary="Caption Video")
def caption_video(
    service: ServiceDep,
    caller: CallerDep,
    caption_template_id: Annotated[str | None, Form(description="Caption template id (ctpl_...)")] = None,
    video: Annotated[UploadFile | None, File(description="MP4 or MOV to caption")] = None,
    video_id: Annotated[str | None, Form(description="A COMPLETE video of this account")] = None,
) -> Video:
    job = captions.create_caption_job(
        service,
        caller,
        template_id=caption_template_id,
        video=as_upload(video, "video") if video is not None else None,
        video_id=video_id,
    )
    return video_object(job)


@router.get(
    "/videos/captions/templates", response_model=CaptionTemplateList, summary="List Caption Templates"
)
def list_templates(
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    after: Annotated[str | None, Query(description="Return items strictly after this template ID")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Max number of items to return")] = 20,
) -> CaptionTemplateList:
    page = captions.list_templates(service, caller, after=after, limit=limit)
    return CaptionTemplateList(data=[_template(e, service, request) for e in page.items], has_more=page.has_more)


@router.get(
    "/videos/captions/templates/{template_id}",
    response_model=CaptionTemplateOut,
    summary="Retrieve Caption Template",
)
def get_template(template_id: str, request: Request, service: ServiceDep, caller: CallerDep) -> CaptionTemplateOut:
    return _template(captions.get_template(service, caller, template_id), service, request)


@router.post(
    "/videos/captions/templates", response_model=CaptionTemplateOut, summary="Create Caption Template"
)
def create_template(
    request: Request, service: ServiceDep, caller: CallerDep, body: Annotated[dict[str, Any], Body()]
) -> CaptionTemplateOut:
    return _template(captions.create_template(service, caller, body), service, request)


@router.get("/videos/{video_id}/transcript", summary="Retrieve Video Transcript")
def get_transcript(video_id: str, service: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    job, transcript = captions.transcript_of(service, caller, video_id)
    return transcript_body(job.video_id, transcript)


@router.get(
    "/videos/{video_id}/captions.{kind}", response_class=PlainTextResponse, summary="Retrieve Subtitles"
)
def get_subtitles(video_id: str, kind: str, service: ServiceDep, caller: CallerDep) -> PlainTextResponse:
    return subtitles(service, caller, video_id, kind)


@router.post("/videos/{video_id}/share", response_model=Video, summary="Share Video (new public link)")
def share_video(video_id: str, service: ServiceDep, caller: CallerDep) -> Video:
    return video_object(captions.set_share(service, caller, video_id, enabled=True))


@router.delete("/videos/{video_id}/share", response_model=Video, summary="Revoke Video Share Link")
def revoke_share(video_id: str, service: ServiceDep, caller: CallerDep) -> Video:
    return video_object(captions.set_share(service, caller, video_id, enabled=False))


class TextToSpeech(BaseModel):
    text: str
    model: str


@router.post(
    "/audio/text-to-speech/{voice_id}",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "The spoken audio"}},
    summary="Text to Speech",
)
def text_to_speech(voice_id: str, body: TextToSpeech, service: ServiceDep, caller: CallerDep) -> Response:
    if body.model != AUDIO_MODEL:
        raise InvalidInput(
            f"Unsupported model {body.model!r}; the only model is {AUDIO_MODEL!r}", field="model"
        )
    speech = service.create_speech(caller, voice_id=voice_id, text=body.text)
    path = service.speech.audio_path(speech.store_id)
    return Response(path.read_bytes(), media_type="audio/wav")
