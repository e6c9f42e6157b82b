"""Live streams: WebRTC sessions in which a photo avatar speaks text as it arrives.

``StreamManager`` (one per web process) owns the sessions, the limits and the helper processes:
a few render processes (each session is pinned to the least busy one, which keeps its avatar's
animator) and one speech process (the voice models stay loaded). A session is a peer connection
with one video and one audio track (``tracks.py``), a ``Timeline`` and the task that speaks its
queued utterances sentence by sentence. Only the event loop of the web process touches a session.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import secrets
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool

from facecast.errors import Conflict, FacecastError, InvalidInput, NotFound, RateLimited, ServerBusy
from facecast.live import FPS, SAMPLE_RATE, IdleMotion, LivePart, Timeline, Utterance, UtteranceState
from facecast.live import workers as live_workers
from facecast.live.planner import LEAD_FRAMES
from facecast.service.tracks import LiveAudioTrack, LiveVideoTrack, StreamClock

if TYPE_CHECKING:
    from facecast.service.auth import Caller
    from facecast.service.domain import Service

log = logging.getLogger(__name__)

#: A sample louder than this (full scale) is audible: where an utterance's sound starts.
AUDIBLE = 0.01
#: How often the manager looks for sessions to time out (seconds).
SWEEP_EVERY = 1.0


class LiveSettings(BaseSettings):
    """Live stream settings, read from ``FACECAST_LIVE_*``."""

    model_config = SettingsConfigDict(env_prefix="FACECAST_LIVE_", extra="ignore")

    #: Render processes shared by the streams (each session pinned to one).
    workers: int = Field(default=2, ge=1, le=32)
    #: Streams open at once on this machine (503 past it).
    max_streams: int = Field(default=2, ge=0)
    #: Streams open at once per account (429 past it).
    max_streams_per_account: int = Field(default=2, ge=0)
    #: A stream with nothing said for this long (seconds) is closed.
    idle_timeout: float = Field(default=300.0, gt=0)
    #: A stream whose peer has not connected this long after the offer (seconds) is closed.
    connect_timeout: float = Field(default=30.0, gt=0)
    #: Utterances a stream may have waiting.
    max_queue: int = Field(default=20, ge=1)
    #: Frames rendered ahead of the clock (each adds 40 ms before new speech can show).
    lookahead: int = Field(default=3, ge=1, le=25)
    #: STUN/TURN servers for ICE: a JSON list of ``{"urls", "username", "credential"}`` objects or
    #: comma-separated URLs. Empty (default): host candidates only (same machine or LAN).
    ice_servers: str = ""

    def ice_server_list(self) -> list[dict[str, Any]]:
        text = self.ice_servers.strip()
        if not text:
            return []
        if text.startswith("["):
            loaded = json.loads(text)
            return [dict(s) for s in loaded]
        return [{"urls": u.strip()} for u in text.split(",") if u.strip()]


class StreamState:
    CONNECTING = "connecting"
    IDLE = "idle"
    SPEAKING = "speaking"
    CLOSED = "closed"


@dataclass
class StreamVoice:
    """The voice a stream speaks with: its catalog id and where an account's own voices live."""

    engine_voice_id: str
    extra_dirs: tuple[str, ...] = ()


@dataclass
class _Slot:
    """One render process and the sessions pinned to it."""

    executor: ProcessPoolExecutor
    sessions: set[str] = field(default_factory=set)


class StreamSession:
    """One WebRTC peer: its tracks, schedule, speech queue and life."""

    def __init__(
        self,
        manager: StreamManager,
        *,
        account_id: str,
        avatar_id: str,
        voice: StreamVoice,
        pack_path: str,
        slot: _Slot,
    ) -> None:
        self.id = "strm_" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
        self.manager = manager
        self.account_id = account_id
        self.avatar_id = avatar_id
        self.voice = voice
        self.slot = slot
        self.created = time.time()
        self.last_activity = time.monotonic()
        self.connected = False
        self.closed = False
        self.close_reason: str | None = None
        self.timeline = Timeline()
        self.clock = StreamClock()
        settings = manager.settings
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[RTCIceServer(**s) for s in settings.ice_server_list()])
        )
        self.video = LiveVideoTrack(
            self.clock,
            self.timeline,
            IdleMotion(FPS, seed=secrets.randbits(31)),
            slot.executor,
            pack_path,
            lookahead=settings.lookahead,
        )
        self.audio = LiveAudioTrack(self.clock, self.timeline, self._touch_speaking)
        self.pc.addTrack(self.video)
        self.pc.addTrack(self.audio)
        self._asked: dict[str, float] = {}
        #: Set once the peer pulls audio: speech is placed on the clock only from then on (what is
        #: said before the peer connects waits for it instead of playing to nobody).
        self._flowing = asyncio.Event()
        self._queue: asyncio.Queue[tuple[Utterance, list[str] | LivePart]] = asyncio.Queue()
        self._speaker = asyncio.ensure_future(self._speak_loop())

        @self.pc.on("connectionstatechange")
        async def _state() -> None:
            state = self.pc.connectionState
            log.info("stream %s: peer %s", self.id, state)
            if state == "connected":
                self.connected = True
                self.last_activity = time.monotonic()
            elif state in ("failed", "closed"):
                await self.manager.close(self, reason=f"the peer connection {state}")

    # --- state --------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self.closed:
            return StreamState.CLOSED
        if not self.connected:
            return StreamState.CONNECTING
        return StreamState.SPEAKING if self.timeline.pending() else StreamState.IDLE

    def _touch_speaking(self) -> None:
        self._flowing.set()
        if self.timeline.pending():
            self.last_activity = time.monotonic()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "stream",
            "avatar_id": self.avatar_id,
            "voice_id": self.voice.engine_voice_id,
            "state": self.state,
            "created_at": int(self.created),
            "close_reason": self.close_reason,
            "current": next(
                (u.id for u in self.timeline.pending() if u.state is UtteranceState.SPEAKING), None
            ),
            "queue": [u.as_dict() for u in self.timeline.utterances[-50:]],
            "frames_sent": self.video.sent,
            "frames_dropped": self.video.dropped,
        }

    # --- signalling ---------------------------------------------------------------------------------
    async def offer(self) -> dict[str, str]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        desc = self.pc.localDescription
        return {"type": desc.type, "sdp": desc.sdp}

    async def answer(self, sdp: str) -> None:
        self._check_open()
        if self.pc.remoteDescription is not None:
            raise Conflict("This stream already has an answer")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:  # aiortc raises ValueError and friends on a malformed SDP
            raise InvalidInput(f"The SDP answer cannot be used: {exc}", field="sdp") from exc
        self.last_activity = time.monotonic()

    async def add_ice(self, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None) -> None:
        self._check_open()
        text = candidate.strip()
        if text.startswith("candidate:"):
            text = text[len("candidate:") :]
        if not text:  # end of candidates
            return
        try:
            parsed = candidate_from_sdp(text)
        except Exception as exc:
            raise InvalidInput(f"The ICE candidate cannot be read: {exc}", field="candidate") from exc
        parsed.sdpMid = sdp_mid
        parsed.sdpMLineIndex = sdp_mline_index
        await self.pc.addIceCandidate(parsed)

    # --- speech -------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise Conflict(f"Stream {self.id} is closed ({self.close_reason or 'closed'})")

    def _check_room(self) -> None:
        self._check_open()
        if len(self.timeline.pending()) >= self.manager.settings.max_queue:
            raise RateLimited(
                f"Stream {self.id} already has {self.manager.settings.max_queue} utterances waiting"
            )

    async def speak(self, text: str, max_chars: int) -> Utterance:
        asked = time.monotonic()
        self._check_room()
        text = text.strip()
        if not text:
            raise InvalidInput("text is empty", field="text")
        if len(text) > max_chars:
            raise InvalidInput(f"text is {len(text)} characters long; the limit is {max_chars}", field="text")
        # Text rules only (no synthesis), in a thread of this process: the answer comes at once even
        # while the speech process is busy speaking.
        sentences = await run_in_threadpool(
            live_workers.split_sentences, text, self.voice.engine_voice_id, max_chars, self.voice.extra_dirs
        )
        utterance = self.timeline.add(text)
        self._asked[utterance.id] = asked
        self.last_activity = time.monotonic()
        self._queue.put_nowait((utterance, sentences))
        return utterance

    async def speak_audio(self, path: Path, max_seconds: float) -> Utterance:
        asked = time.monotonic()
        self._check_room()
        try:
            part = await self.manager.in_speech(live_workers.plan_uploaded_audio, str(path), max_seconds)
        finally:
            path.unlink(missing_ok=True)
        utterance = self.timeline.add(None)
        self._asked[utterance.id] = asked
        self.last_activity = time.monotonic()
        self._queue.put_nowait((utterance, part))
        return utterance

    def interrupt(self) -> list[Utterance]:
        self._check_open()
        self.last_activity = time.monotonic()
        return self.timeline.interrupt()

    async def _speak_loop(self) -> None:
        while True:
            utterance, work = await self._queue.get()
            if utterance.finished:
                continue
            try:
                if isinstance(work, LivePart):
                    await self._place(utterance, work)
                else:
                    for sentence in work:
                        part = await self.manager.in_speech(
                            live_workers.speak_sentence,
                            sentence,
                            self.voice.engine_voice_id,
                            self.voice.extra_dirs,
                        )
                        if utterance.finished:  # interrupted while it was being spoken
                            break
                        await self._place(utterance, part)
                utterance.complete = True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("stream %s: utterance %s failed", self.id, utterance.id)
                self.timeline.fail(utterance, str(exc) if isinstance(exc, FacecastError) else "speech failed")

    async def _place(self, utterance: Utterance, part: LivePart) -> None:
        await self._flowing.wait()
        if utterance.finished:
            return
        # The part's first LEAD_FRAMES are the lips' anticipation, nearly at rest: they may fall on
        # frames already rendered at rest, which brings the sound 80 ms sooner.
        start = self.timeline.place(utterance, part, self.video.earliest_free_frame() - LEAD_FRAMES)
        asked = self._asked.pop(utterance.id, None)
        if asked is not None:  # the first part: how long the listener waits, and why
            audible = np.flatnonzero(np.abs(part.samples) > AUDIBLE)
            first = start + (int(audible[0]) if len(audible) else 0)
            utterance.timings["synthesized"] = 1000 * (time.monotonic() - asked)
            utterance.timings["sounds"] = 1000 * (self.clock.begin() + first / SAMPLE_RATE - asked)

    # --- the end ------------------------------------------------------------------------------------
    async def shutdown(self, reason: str) -> None:
        self.closed = True
        self.close_reason = reason
        self._speaker.cancel()
        self.timeline.interrupt()
        self.video.stop()
        self.audio.stop()
        with contextlib.suppress(Exception):
            await self.pc.close()


class StreamManager:
    """The sessions of this web process, their limits and helper processes (started lazily)."""

    def __init__(self, settings: LiveSettings | None = None) -> None:
        self.settings = settings or LiveSettings()
        self.sessions: dict[str, StreamSession] = {}
        self._slots: list[_Slot] = []
        self._speech: ProcessPoolExecutor | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._closed: dict[str, StreamSession] = {}

    # --- helper processes ---------------------------------------------------------------------------
    def _ensure_processes(self) -> None:
        if self._speech is not None:
            return
        context = multiprocessing.get_context("spawn")  # never fork a process with threads
        self._speech = ProcessPoolExecutor(max_workers=1, mp_context=context)
        self._slots = [
            _Slot(ProcessPoolExecutor(max_workers=1, mp_context=context))
            for _ in range(self.settings.workers)
        ]
        if self._sweeper is None:
            self._sweeper = asyncio.ensure_future(self._sweep())

    async def in_speech(self, fn: Any, *args: Any) -> Any:
        self._ensure_processes()
        assert self._speech is not None
        return await asyncio.get_running_loop().run_in_executor(self._speech, fn, *args)

    async def _in(self, executor: Executor, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def process_ids(self) -> list[int]:
        """The helper processes' ids (render processes first); empty before the first stream."""
        pids: list[int] = []
        for executor in [*(s.executor for s in self._slots), self._speech]:
            procs = getattr(executor, "_processes", None) or {}
            pids.extend(int(p) for p in procs)
        return pids

    # --- sessions -----------------------------------------------------------------------------------
    def _check_limits(self, account_id: str) -> None:
        mine = sum(1 for s in self.sessions.values() if s.account_id == account_id)
        if mine >= self.settings.max_streams_per_account:
            raise TooManyStreams(
                f"This account already has {mine} live streams open (the limit is "
                f"{self.settings.max_streams_per_account}); close one with DELETE /v1/streams/{{id}}"
            )
        if len(self.sessions) >= self.settings.max_streams:
            raise ServerBusy(
                f"This server is running its {self.settings.max_streams} live streams; try again later"
            )

    async def open(
        self, *, account_id: str, avatar_id: str, voice: StreamVoice, pack_path: str
    ) -> tuple[StreamSession, dict[str, str]]:
        """A new session with its offer, or ``TooManyStreams``/``ServerBusy``."""
        self._check_limits(account_id)
        self._ensure_processes()
        slot = min(self._slots, key=lambda s: len(s.sessions))
        session = StreamSession(
            self, account_id=account_id, avatar_id=avatar_id, voice=voice, pack_path=pack_path, slot=slot
        )
        self.sessions[session.id] = session  # counted at once: parallel creates see it
        slot.sessions.add(session.id)
        try:
            # The animator and the voice ready before the peer asks for the first frame.
            await asyncio.gather(
                self._in(slot.executor, live_workers.warm_renderer, pack_path),
                self.in_speech(live_workers.preload_voice, voice.engine_voice_id, voice.extra_dirs),
            )
            offer = await session.offer()
        except BaseException:
            await self.close(session, reason="failed to start")
            raise
        log.info("stream %s opened (account %s, avatar %s)", session.id, account_id, avatar_id)
        return session, offer

    def get(self, account_id: str, stream_id: str) -> StreamSession:
        session = self.sessions.get(stream_id) or self._closed.get(stream_id)
        if session is None or session.account_id != account_id:
            raise NotFound(f"Stream not found: {stream_id[:64]}", field="stream_id")
        return session

    def list(self, account_id: str) -> list[StreamSession]:
        return [s for s in self.sessions.values() if s.account_id == account_id]

    async def close(self, session: StreamSession, *, reason: str) -> None:
        if session.closed:
            return
        self.sessions.pop(session.id, None)
        session.slot.sessions.discard(session.id)
        # Closed sessions stay readable (state "closed") for a while; the oldest are forgotten.
        self._closed[session.id] = session
        while len(self._closed) > 200:
            self._closed.pop(next(iter(self._closed)))
        await session.shutdown(reason)
        log.info("stream %s closed: %s", session.id, reason)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            now = time.monotonic()
            for session in list(self.sessions.values()):
                quiet = now - session.last_activity
                if not session.connected and quiet > self.settings.connect_timeout:
                    await self.close(session, reason="the peer did not connect in time")
                elif session.state == StreamState.IDLE and quiet > self.settings.idle_timeout:
                    await self.close(session, reason="idle timeout")

    async def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            await self.close(session, reason="the server is stopping")
        if self._sweeper is not None:
            self._sweeper.cancel()
        for executor in [*(s.executor for s in self._slots), self._speech]:
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
        self._slots, self._speech = [], None


class TooManyStreams(RateLimited):
    """An account has as many live streams open as it may."""


def resolve_inputs(
    service: Service, caller: Caller, avatar_id: str, voice_id: str | None
) -> tuple[str, StreamVoice]:
    """The crop pack of a ready photo avatar of the caller's, and the voice to speak with (the
    avatar's own by default). Typed errors name the request's fields."""
    from facecast.service.avatars import PhotoAvatars

    try:
        avatar = service.get_avatar(caller, avatar_id)
    except NotFound as exc:
        exc.field = "avatar_id"
        raise
    service.check_ready(avatar)
    if not avatar.is_photo:
        raise InvalidInput(
            f"Avatar {avatar.id} is a video avatar; live streams need a photo avatar", field="avatar_id"
        )
    folder = service.media.path(service.media.avatar_dir(avatar.id))
    pack = PhotoAvatars.pack_path(folder, False)
    if not Path(pack).exists():
        raise Conflict(f"Avatar {avatar.id} has no prepared face; make it again")
    chosen = voice_id or avatar.voice_id or service.default_voice_id()
    if not chosen:
        raise NotFound("No voice is installed on this server", field="voice_id")
    try:
        voice = service.get_voice(caller, chosen)
    except NotFound as exc:
        exc.field = "voice_id"
        raise
    extra = (str(service.speech.account_voices_dir(voice.account_id)),) if voice.account_id else ()
    return str(pack), StreamVoice(engine_voice_id=voice.engine_voice_id, extra_dirs=extra)
