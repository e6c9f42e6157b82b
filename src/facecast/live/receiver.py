"""The receiving end of a live stream, for scripts, tests and benchmarks (no browser needed): an
aiortc peer that answers the server's offer and hands every received video and audio frame, with
its arrival time, to a callback, or records them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The receiver's clock (seconds, monotonic): arrival times are comparable with ``time.monotonic``.
now = time.monotonic


@dataclass
class Received:
    """Frames as they arrived: video RGB uint8 [h, w, 3]; audio float32 mono at ``sample_rate``."""

    video_times: list[float] = field(default_factory=list)
    video: list[np.ndarray] = field(default_factory=list)
    audio_times: list[float] = field(default_factory=list)
    audio: list[np.ndarray] = field(default_factory=list)
    sample_rate: int = 48000
    keep_video: bool = True


def audio_mono(frame: Any) -> np.ndarray:
    """An ``av.AudioFrame`` (any layout, s16 or float) as float32 mono in [-1, 1]."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if data.dtype == np.int16:
        data = data.astype(np.float32) / 32768.0
    data = np.asarray(data, dtype=np.float32)
    if data.shape[0] == 1 and channels > 1:  # packed: samples interleaved
        data = data.reshape(-1, channels).T
    return np.asarray(data.mean(axis=0), dtype=np.float32)


class LiveReceiver:
    """``answer = await LiveReceiver().accept(offer_sdp)``; frames flow into ``received`` (or
    ``on_video``/``on_audio``) until ``close()``."""

    def __init__(
        self,
        *,
        keep_video: bool = True,
        on_video: Callable[[Any, float], None] | None = None,
        on_audio: Callable[[Any, float], None] | None = None,
        ice_servers: list[dict[str, Any]] | None = None,
    ) -> None:
        from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

        # An empty list, not None: aiortc would otherwise ask a public STUN server.
        servers = [RTCIceServer(**s) for s in (ice_servers or [])]
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.received = Received(keep_video=keep_video)
        self.on_video = on_video
        self.on_audio = on_audio
        self.connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def _track(track: Any) -> None:
            self._tasks.append(asyncio.ensure_future(self._read(track)))

        @self.pc.on("connectionstatechange")
        def _state() -> None:
            if self.pc.connectionState == "connected":
                self.connected.set()

    async def accept(self, offer_sdp: str) -> str:
        """Answer the server's offer; the SDP to send back to ``POST /v1/streams/{id}/answer``."""
        from aiortc import RTCSessionDescription

        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def _read(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

        got = self.received
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            t = now()
            if track.kind == "video":
                if self.on_video is not None:
                    self.on_video(frame, t)
                got.video_times.append(t)
                if got.keep_video:
                    got.video.append(frame.to_ndarray(format="rgb24"))
            else:
                if self.on_audio is not None:
                    self.on_audio(frame, t)
                got.audio_times.append(t)
                got.audio.append(audio_mono(frame))
                got.sample_rate = int(frame.sample_rate)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        await self.pc.close()
