"""The Miraflow dialect's caption endpoints: caption templates, a video's transcript and its
SRT/WebVTT subtitles. (``captionTemplateId`` on ``/api/video/create`` is in ``miraflow.py``.)"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import PlainTextResponse

from facecast.service import captions
from facecast.service.api.captions_views import subtitles, transcript_body
from facecast.service.api.deps import CallerDep, ServiceDep

router = APIRouter(prefix="/api", tags=["Miraflow"])


def _template(entry: captions.TemplateEntry) -> dict[str, Any]:
    t = entry.template
    return {"id": t.id, "name": t.name, "slug": t.slug, "builtin": entry.builtin, "style": t.public()}


@router.get("/caption-templates", summary="List caption templates")
def list_templates(service: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    entries = captions.all_templates(service, caller)
    return {"result": "success", "templates": [_template(e) for e in entries]}


@router.post("/caption-template/create", summary="Create a caption template")
def create_template(
    service: ServiceDep, caller: CallerDep, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    return {"result": "success", "template": _template(captions.create_template(service, caller, body))}


@router.get("/video/{videoId}/transcript", summary="A video's words with start and end times")
def get_transcript(videoId: str, service: ServiceDep, caller: CallerDep) -> dict[str, Any]:
    job, transcript = captions.transcript_of(service, caller, videoId)
    return {"result": "success", **transcript_body(job.video_id, transcript)}


@router.get(
    "/video/{videoId}/captions.{kind}", response_class=PlainTextResponse, summary="Subtitles (srt or vtt)"
)
def get_subtitles(videoId: str, kind: str, service: ServiceDep, caller: CallerDep) -> PlainTextResponse:
    return subtitles(service, caller, videoId, kind)
