"""A live session's speech schedule on its audio clock: utterances queue, their sentences are placed
end to end as they become ready, the audio and video tracks read samples and mouth rows by position,
and an interrupt cuts the one playing with a short release instead of a jump.

Positions are in audio samples at ``SAMPLE_RATE``; frame k covers samples [k*SPF, (k+1)*SPF).
Single-threaded (the session's event loop); no I/O.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

import numpy as np

from facecast.live.planner import MOUTH_WIDTH, SAMPLES_PER_FRAME, LivePart

#: Frames over which an interrupted mouth returns to rest.
RELEASE_FRAMES = 3
#: Samples over which interrupted audio fades out (5 ms: no click).
FADE_SAMPLES = 240
#: Parts stay readable this long after their sound played (a lagging video track still reads
#: their mouth rows), in samples.
KEEP_PLAYED = 2 * 48000


class UtteranceState(enum.StrEnum):
    QUEUED = "queued"
    SPEAKING = "speaking"
    DONE = "done"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


@dataclass
class Utterance:
    """Something to say: its parts arrive as they are synthesised; ``complete`` once all have."""

    id: str
    text: str | None
    state: UtteranceState = UtteranceState.QUEUED
    error: str | None = None
    complete: bool = False
    #: Sample positions where each placed part starts and ends.
    spans: list[tuple[int, int]] = field(default_factory=list)
    duration: float = 0.0
    #: Where the time went, in ms since it was asked for (set by the session: ``synthesized``, the
    #: first part ready; ``sounds``, when its first audible sample is due to play).
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in (UtteranceState.DONE, UtteranceState.INTERRUPTED, UtteranceState.FAILED)

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "text": self.text,
            "state": self.state.value,
            "duration": round(self.duration, 3),
            "error": self.error,
            "timings_ms": {k: round(v, 1) for k, v in self.timings.items()},
        }


@dataclass
class _Placed:
    utterance: Utterance
    start: int  # sample position, a frame boundary
    part: LivePart

    @property
    def end(self) -> int:
        return self.start + len(self.part.samples)


class Timeline:
    """The schedule of one session. ``audio(pos, n)`` and ``mouth(frame)`` are read by the tracks;
    ``place`` adds a ready part no earlier than ``earliest`` (the first frame not yet rendered)."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.utterances: list[Utterance] = []
        self._placed: list[_Placed] = []
        #: Audio read so far (samples): what has been played.
        self.played = 0

    # --- the queue ----------------------------------------------------------------------------------
    def add(self, text: str | None, prefix: str = "utt_") -> Utterance:
        utterance = Utterance(id=f"{prefix}{next(self._ids)}", text=text)
        self.utterances.append(utterance)
        return utterance

    def pending(self) -> list[Utterance]:
        return [u for u in self.utterances if not u.finished]

    def current(self) -> Utterance | None:
        """The utterance whose sound is playing now (or queued next if nothing plays)."""
        for placed in self._placed:
            if placed.start <= self.played < placed.end:
                return placed.utterance
        return None

    def place(self, utterance: Utterance, part: LivePart, earliest_frame: int) -> int:
        """Put a part after everything placed and no earlier than ``earliest_frame``; its start."""
        start = earliest_frame * SAMPLES_PER_FRAME
        if self._placed:
            start = max(start, self._placed[-1].end)
        start = max(start, -(-self.played // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME)
        placed = _Placed(utterance, start, part)
        self._placed.append(placed)
        utterance.spans.append((start, placed.end))
        utterance.duration += part.duration
        return start

    def fail(self, utterance: Utterance, message: str) -> None:
        utterance.state = UtteranceState.FAILED
        utterance.error = message
        utterance.complete = True

    # --- reading ------------------------------------------------------------------------------------
    def audio(self, position: int, n: int) -> np.ndarray:
        """Samples [position, position + n): speech where placed, silence elsewhere. Advances the
        play position and the utterances' states."""
        out = np.zeros(n, dtype=np.float32)
        end = position + n
        for placed in self._placed:
            lo, hi = max(position, placed.start), min(end, placed.end)
            if lo < hi:
                out[lo - position : hi - position] = placed.part.samples[
                    lo - placed.start : hi - placed.start
                ]
        self.played = max(self.played, end)
        self._advance()
        return out

    def mouth(self, frame: int) -> np.ndarray:
        """The mouth row of video frame ``frame`` (rest when nothing is placed there)."""
        at = frame * SAMPLES_PER_FRAME
        for placed in self._placed:
            if placed.start <= at < placed.end:
                return placed.part.mouth[(at - placed.start) // SAMPLES_PER_FRAME]
        return np.zeros(MOUTH_WIDTH, dtype=np.float32)

    def speaking_at(self, frame: int) -> bool:
        at = frame * SAMPLES_PER_FRAME
        return any(p.start <= at < p.end for p in self._placed)

    def _advance(self) -> None:
        for placed in self._placed:
            u = placed.utterance
            if u.state is UtteranceState.QUEUED and placed.start < self.played:
                u.state = UtteranceState.SPEAKING
        done_by: dict[str, int] = {}
        for placed in self._placed:
            done_by[placed.utterance.id] = max(done_by.get(placed.utterance.id, 0), placed.end)
        for u in self.utterances:
            if u.state is UtteranceState.SPEAKING and u.complete and done_by.get(u.id, 0) <= self.played:
                u.state = UtteranceState.DONE
        # Forget parts long played (keep the last one: it fixes where the next may start).
        while len(self._placed) > 1 and self._placed[0].end <= self.played - KEEP_PLAYED:
            self._placed.pop(0)

    # --- interrupt ----------------------------------------------------------------------------------
    def interrupt(self) -> list[Utterance]:
        """Stop what is speaking: its sound fades out over the next 5 ms to be played, its mouth
        returns to rest over ``RELEASE_FRAMES`` from the next frame, and the queue is dropped.
        Returns the utterances stopped."""
        cut = -(-self.played // SAMPLES_PER_FRAME) * SAMPLES_PER_FRAME
        kept: list[_Placed] = []
        for placed in self._placed:
            if placed.end <= self.played:
                kept.append(placed)
            elif placed.start < cut:
                kept.append(self._cut(placed, cut, self.played))
        self._placed = kept
        stopped = []
        for u in self.utterances:
            if not u.finished:
                u.state = UtteranceState.INTERRUPTED
                u.complete = True
                stopped.append(u)
        return stopped

    @staticmethod
    def _cut(placed: _Placed, cut: int, played: int) -> _Placed:
        """``placed`` with its mouth released from sample ``cut`` (a frame boundary) and its sound
        faded out from sample ``played`` on."""
        keep_frames = (cut - placed.start) // SAMPLES_PER_FRAME
        n_frames = min(placed.part.n_frames, keep_frames + RELEASE_FRAMES)
        mouth = placed.part.mouth[:n_frames].copy()
        last = placed.part.mouth[max(keep_frames - 1, 0)]
        for i in range(keep_frames, n_frames):
            mouth[i] = last * (1.0 - (i - keep_frames + 1) / (RELEASE_FRAMES + 1))
        samples = placed.part.samples[: n_frames * SAMPLES_PER_FRAME].copy()
        fade_from = max(0, played - placed.start)
        fade = min(FADE_SAMPLES, len(samples) - fade_from)
        if fade > 0:
            samples[fade_from : fade_from + fade] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        samples[fade_from + max(fade, 0) :] = 0.0
        return _Placed(placed.utterance, placed.start, LivePart(samples=samples, mouth=mouth))
