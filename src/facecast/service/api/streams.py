"""Live streams over HTTP (``/v1/streams``): create (the server's WebRTC offer), answer, trickle
ICE, speak, interrupt, read and close. Signalling only; the media flows over WebRTC. Thin views
over ``facecast.service.streams``; errors in the Mirage shape like the rest of ``/v1``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from facecast.errors import InvalidInput, NotSupported
from facecast.service.api.deps import CallerDep, ServiceDep
from facecast.service.auth import Caller
from facecast.service.streams import StreamManager, StreamSession, resolve_inputs

router = APIRouter(prefix="/v1/streams", tags=["Live streams"])


def get_streams(request: Request) -> StreamManager:
    manager: StreamManager | None = getattr(request.app.state, "streams", None)
    if manager is None:
        raise NotSupported("Live streams are not running in this process")
    return manager


StreamsDep = Annotated[StreamManager, Depends(get_streams)]


class StreamCreate(BaseModel):
    avatar_id: str = Field(min_length=1, max_length=200, description="A ready photo avatar")
    voice_id: str | None = Field(default=None, max_length=200, description="Default: the avatar's voice")


class SessionDescription(BaseModel):
    type: str = "answer"
    sdp: str = Field(min_length=1, max_length=200_000)


class IceCandidate(BaseModel):
    candidate: str = Field(max_length=2000, description="An ICE candidate line; empty: end of candidates")
    sdpMid: str | None = Field(default=None, max_length=64)  # noqa: N815 (the browser's name)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)  # noqa: N815


class SpeakText(BaseModel):
    text: str = Field(description="What to say; spoken sentence by sentence")


def _session(streams: StreamManager, caller: Caller, stream_id: str) -> StreamSession:
    return streams.get(caller.account_id, stream_id)


@router.post("", status_code=201, summary="Open a live stream (answers the server's WebRTC offer)")
async def create_stream(
    body: StreamCreate, caller: CallerDep, service: ServiceDep, streams: StreamsDep
) -> dict[str, Any]:
    pack, voice = await run_in_threadpool(resolve_inputs, service, caller, body.avatar_id, body.voice_id)
    session, offer = await streams.open(
        account_id=caller.account_id, avatar_id=body.avatar_id, voice=voice, pack_path=pack
    )
    return {**session.as_dict(), "offer": offer, "ice_servers": streams.settings.ice_server_list()}


@router.get("", summary="The caller's open live streams")
async def list_streams(caller: CallerDep, streams: StreamsDep) -> dict[str, Any]:
    return {"object": "list", "data": [s.as_dict() for s in streams.list(caller.account_id)]}


@router.get("/{stream_id}", summary="A live stream's state and utterance queue")
async def get_stream(stream_id: str, caller: CallerDep, streams: StreamsDep) -> dict[str, Any]:
    return _session(streams, caller, stream_id).as_dict()


@router.post("/{stream_id}/answer", summary="The client's SDP answer")
async def answer_stream(
    stream_id: str, body: SessionDescription, caller: CallerDep, streams: StreamsDep
) -> dict[str, Any]:
    if body.type != "answer":
        raise InvalidInput(f"type must be 'answer', not {body.type[:20]!r}", field="type")
    session = _session(streams, caller, stream_id)
    await session.answer(body.sdp)
    return session.as_dict()


@router.post("/{stream_id}/ice", status_code=204, summary="A trickled ICE candidate of the client")
async def add_ice(stream_id: str, body: IceCandidate, caller: CallerDep, streams: StreamsDep) -> Response:
    await _session(streams, caller, stream_id).add_ice(body.candidate, body.sdpMid, body.sdpMLineIndex)
    return Response(status_code=204)


_SPEAK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["audio"],
                    "properties": {"audio": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.post(
    "/{stream_id}/speak",
    status_code=202,
    openapi_extra=_SPEAK_BODY,
    summary='Say a text (JSON {"text"}) or play an uploaded clip (multipart field audio)',
)
async def speak(
    stream_id: str, request: Request, caller: CallerDep, service: ServiceDep, streams: StreamsDep
) -> dict[str, Any]:
    session = _session(streams, caller, stream_id)
    settings = service.settings
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("audio")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("Missing required field: audio (an audio file)", field="audio")
        folder = Path(settings.data_dir) / "live-uploads"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, delete=False) as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        utterance = await session.speak_audio(Path(out.name), settings.max_audio_seconds)
    else:
        try:
            body = SpeakText.model_validate_json(await request.body())
        except ValueError as exc:
            raise InvalidInput('The body must be JSON {"text": "..."}', field="text") from exc
        utterance = await session.speak(body.text, settings.max_text_chars)
    return {**utterance.as_dict(), "stream_id": session.id}


@router.post("/{stream_id}/interrupt", summary="Stop what is being said and drop the queue")
async def interrupt(stream_id: str, caller: CallerDep, streams: StreamsDep) -> dict[str, Any]:
    session = _session(streams, caller, stream_id)
    stopped = session.interrupt()
    return {**session.as_dict(), "interrupted": [u.id for u in stopped]}


@router.delete("/{stream_id}", summary="Close a live stream")
async def close_stream(stream_id: str, caller: CallerDep, streams: StreamsDep) -> dict[str, Any]:
    session = _session(streams, caller, stream_id)
    await streams.close(session, reason="closed by the client")
    return session.as_dict()
