"""What both dialects' caption endpoints answer alike: a video's transcript and its subtitles."""

from __future__ import annotations

from typing import Any

from fastapi.responses import PlainTextResponse

from facecast.captions import Transcript, to_srt, to_vtt
from facecast.errors import InvalidInput
from facecast.service import captions
from facecast.service.auth import Caller
from facecast.service.domain import Service

SUBTITLE_TYPES = {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8"}


def transcript_body(video_id: str, transcript: Transcript) -> dict[str, Any]:
    return {"video_id": video_id, **transcript.to_dict()}


def subtitles(service: Service, caller: Caller, video_id: str, kind: str) -> PlainTextResponse:
    """``captions.srt`` / ``captions.vtt`` of a COMPLETE video."""
    if kind not in SUBTITLE_TYPES:
        raise InvalidInput("subtitles are captions.srt or captions.vtt", field="format")
    _, transcript = captions.transcript_of(service, caller, video_id)
    text = to_vtt(transcript) if kind == "vtt" else to_srt(transcript)
    return PlainTextResponse(text, media_type=SUBTITLE_TYPES[kind])
