"""What both dialects' caption endpoints answer alike: subtitle and transcript responses."""

from __future__ import annotations

from typing import Any

from fastapi.responses import PlainTextResponse

from facecast.captions import Transcript, to_srt, to_vtt


def transcript_body(video_id: str, transcript: Transcript) -> dict[str, Any]:
    return {"video_id": video_id, **transcript.to_dict()}


def subtitles(transcript: Transcript, kind: str) -> PlainTextResponse:
    if kind == "vtt":
        return PlainTextResponse(to_vtt(transcript), media_type="text/vtt; charset=utf-8")
    return PlainTextResponse(to_srt(transcript), media_type="application/x-subrip; charset=utf-8")
