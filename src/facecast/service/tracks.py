"""The two WebRTC tracks of a live stream, paced on one clock: audio in 20 ms frames read from the
session's timeline, video at 25 fps rendered a few frames ahead in a render process.

Both tracks take their time from ``StreamClock``, so frame k is shown while the audio of samples
[k*1920, (k+1)*1920) plays: lips and sound agree by construction, not by correction.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from facecast.live import FPS, SAMPLE_RATE, IdleMotion, Timeline
from facecast.live.workers import render_frames

log = logging.getLogger(__name__)

#: Audio samples in one packet (20 ms, Opus' usual frame).
AUDIO_PACKET = SAMPLE_RATE // 50
#: RTP clock of video (90 kHz) ticks per frame.
VIDEO_TICKS = 90000 // FPS
AUDIO_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
#: Audio this far behind its clock (the machine stalled) skips ahead instead of bursting (s).
MAX_BEHIND = 0.5
#: A video frame rendered this many frames past its time is the last of a backlog: the track then
#: continues from the clock, so the picture never trails the sound by more than this.
MAX_LATE_FRAMES = 3


class StreamClock:
    """Wall time of sample 0 / frame 0, set when the first track asks for media."""

    def __init__(self) -> None:
        self.start: float | None = None

    def begin(self) -> float:
        if self.start is None:
            self.start = time.monotonic()
        return self.start

    def frame_now(self) -> int:
        return int((time.monotonic() - self.begin()) * FPS)

    def sample_now(self) -> int:
        return int((time.monotonic() - self.begin()) * SAMPLE_RATE)

    async def wait_until(self, seconds: float) -> None:
        delay = self.begin() + seconds - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


class LiveAudioTrack(MediaStreamTrack):
    """Speech from the timeline, silence between utterances; 48 kHz mono s16 in 20 ms frames."""

    kind = "audio"

    def __init__(self, clock: StreamClock, timeline: Timeline, on_sent: Callable[[], None]) -> None:
        super().__init__()
        self.clock = clock
        self.timeline = timeline
        self.on_sent = on_sent
        self._pos: int | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._pos is None:
            self._pos = -(-self.clock.sample_now() // AUDIO_PACKET) * AUDIO_PACKET
        pos = self._pos
        behind = self.clock.sample_now() - pos
        if behind > MAX_BEHIND * SAMPLE_RATE:
            skipped = behind // AUDIO_PACKET * AUDIO_PACKET
            log.warning("live audio %.0f ms behind its clock: skipping ahead", 1000 * behind / SAMPLE_RATE)
            self.timeline.audio(pos, skipped)
            pos += skipped
        await self.clock.wait_until(pos / SAMPLE_RATE)
        samples = self.timeline.audio(pos, AUDIO_PACKET)
        pcm = np.round(samples * 32767.0).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pos
        frame.time_base = AUDIO_TIME_BASE
        self._pos = pos + AUDIO_PACKET
        self.on_sent()
        return frame


class LiveVideoTrack(MediaStreamTrack):
    """The face at 25 fps: each frame's mouth row from the timeline, blink and head from the idle
    motion, rendered ``lookahead`` frames ahead in the session's render process."""

    kind = "video"

    def __init__(
        self,
        clock: StreamClock,
        timeline: Timeline,
        motion: IdleMotion,
        executor: Executor,
        pack_path: str,
        *,
        lookahead: int,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.timeline = timeline
        self.motion = motion
        self.executor = executor
        self.pack_path = pack_path
        self.lookahead = lookahead
        self._next: int | None = None
        self._pending: dict[int, asyncio.Future[list[np.ndarray]]] = {}
        #: The last frame whose rows were fixed (sent to a render process).
        self.submitted = -1
        self.sent = 0
        self.dropped = 0

    def earliest_free_frame(self) -> int:
        """The first frame whose mouth is not fixed yet: where new speech may start."""
        if self._next is None:
            return self.clock.frame_now() + self.lookahead + 1
        return max(self.submitted + 1, self.clock.frame_now() + 1)

    def _submit(self, upto: int) -> None:
        loop = asyncio.get_running_loop()
        for k in range(max(self.submitted + 1, self._next or 0), upto + 1):
            blink, head = self.motion.row(k)
            row = (self.timeline.mouth(k), blink, head)
            self._pending[k] = asyncio.ensure_future(
                loop.run_in_executor(self.executor, render_frames, self.pack_path, [row])
            )
            self.submitted = k

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._next is None:
            self._next = self.clock.frame_now() + 1
        k = self._next
        self._submit(k + self.lookahead)
        rgb = (await self._pending.pop(k))[0]
        late = self.clock.frame_now() - k
        if late > MAX_LATE_FRAMES:
            # Rendering fell behind (a stalled machine): continue from now, not from the backlog.
            skip_to = self.clock.frame_now() + 1
            for j in [j for j in self._pending if j < skip_to]:
                self._pending.pop(j).cancel()
            self.dropped += skip_to - k - 1
            self._next = skip_to
        else:
            self._next = k + 1
            await self.clock.wait_until(k / FPS)
        frame = VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = k * VIDEO_TICKS
        frame.time_base = VIDEO_TIME_BASE
        self.sent += 1
        return frame

    def stop(self) -> None:
        super().stop()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
