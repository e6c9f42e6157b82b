"""Live streams in the Python client (``Client(...).streams``): the signalling calls of
``/v1/streams``. The media flows over WebRTC between the server and a peer of your own (a browser,
or aiortc as in ``examples/live_to_mp4.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from facecast.client import Client


@dataclass(frozen=True)
class Utterance:
    id: str
    state: str
    text: str | None = None
    duration: float = 0.0
    error: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Utterance:
        return cls(
            id=d["id"],
            state=d["state"],
            text=d.get("text"),
            duration=float(d.get("duration") or 0.0),
            error=d.get("error"),
        )


@dataclass(frozen=True)
class LiveStream:
    """A live stream's state; ``offer`` (the server's SDP) and ``ice_servers`` only from ``create``."""

    id: str
    state: str
    avatar_id: str
    voice_id: str
    queue: list[Utterance] = field(default_factory=list)
    offer: dict[str, str] | None = None
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    close_reason: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LiveStream:
        return cls(
            id=d["id"],
            state=d["state"],
            avatar_id=d["avatar_id"],
            voice_id=d["voice_id"],
            queue=[Utterance.from_json(u) for u in d.get("queue", [])],
            offer=d.get("offer"),
            ice_servers=list(d.get("ice_servers") or []),
            close_reason=d.get("close_reason"),
        )


class Streams:
    """``/v1/streams``: open a stream, send the answer, speak, interrupt, read, close."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, avatar_id: str, voice_id: str | None = None) -> LiveStream:
        """A new stream with the server's WebRTC offer (``.offer["sdp"]``) to answer."""
        body: dict[str, Any] = {"avatar_id": avatar_id}
        if voice_id:
            body["voice_id"] = voice_id
        return LiveStream.from_json(self._client._json("POST", "/v1/streams", json=body))

    def answer(self, stream_id: str, sdp: str) -> LiveStream:
        return LiveStream.from_json(
            self._client._json("POST", f"/v1/streams/{stream_id}/answer", json={"type": "answer", "sdp": sdp})
        )

    def add_ice_candidate(
        self, stream_id: str, candidate: str, sdp_mid: str | None = None, sdp_mline_index: int | None = None
    ) -> None:
        body = {"candidate": candidate, "sdpMid": sdp_mid, "sdpMLineIndex": sdp_mline_index}
        self._client.request("POST", f"/v1/streams/{stream_id}/ice", json=body)

    def speak(self, stream_id: str, text: str) -> Utterance:
        """Queue a text; answers at once with the utterance (its state moves queued -> speaking -> done)."""
        return Utterance.from_json(
            self._client._json("POST", f"/v1/streams/{stream_id}/speak", json={"text": text})
        )

    def speak_audio(self, stream_id: str, audio: str | Path | BinaryIO) -> Utterance:
        """Queue an audio clip to be played with the lips following it."""
        return Utterance.from_json(
            self._client._upload(f"/v1/streams/{stream_id}/speak", {"audio": audio}, {})
        )

    def interrupt(self, stream_id: str) -> LiveStream:
        return LiveStream.from_json(self._client._json("POST", f"/v1/streams/{stream_id}/interrupt"))

    def retrieve(self, stream_id: str) -> LiveStream:
        return LiveStream.from_json(self._client._json("GET", f"/v1/streams/{stream_id}"))

    def list(self) -> list[LiveStream]:
        return [LiveStream.from_json(s) for s in self._client._json("GET", "/v1/streams")["data"]]

    def close(self, stream_id: str) -> LiveStream:
        return LiveStream.from_json(self._client._json("DELETE", f"/v1/streams/{stream_id}"))
