"""Engine timings made safe to use: phones monotonic, gap-free and covering the audio exactly;
every written word given a span (words an engine did not time are placed between neighbours)."""

from __future__ import annotations

from collections.abc import Sequence

from facecast.engine.phones import TimedPhone
from facecast.speech.arpabet import ARPABET, SIL
from facecast.speech.models import TimedWord
from facecast.speech.text import Chunk

_EPS = 1e-6
#: A trailing gap shorter than this is given to the last phone rather than made a silence.
_SNAP = 0.02


def tidy_phones(phones: Sequence[tuple[str, float, float]], duration: float) -> list[TimedPhone]:
    """Phones from 0 to ``duration`` without gaps or overlaps: gaps become "SIL", overlaps are cut,
    times past the audio are clamped, neighbouring silences merge, unknown symbols become "SIL"."""
    out: list[list] = []
    t = 0.0
    for phone, start, end in phones:
        phone = phone if phone in ARPABET else SIL
        start = min(max(start, t), duration)
        end = min(max(end, start), duration)
        if start > t + _EPS:
            _add(out, SIL, t, start)
        if end - start > _EPS:
            _add(out, phone, start, end)
            t = end
        else:
            t = start
    if duration - t > _EPS:
        if out and out[-1][0] != SIL and duration - t < _SNAP:
            out[-1][2] = duration
        else:
            _add(out, SIL, t, duration)
    if not out:
        out = [[SIL, 0.0, max(duration, 0.0)]]
    out[-1][2] = duration
    return [TimedPhone(p, float(a), float(b)) for p, a, b in out]


def _add(out: list[list], phone: str, start: float, end: float) -> None:
    if out and out[-1][0] == SIL and phone == SIL:
        out[-1][2] = end
    else:
        out.append([phone, start, end])


def tidy_words(
    chunk: Chunk, spans: Sequence[tuple[int, float, float]], phones: Sequence[TimedPhone], duration: float
) -> list[TimedWord]:
    """One ``TimedWord`` per written word of the chunk, in order, never overlapping.

    Words the engine timed keep their times (clamped to stay in order); the others share the
    time between their timed neighbours, or, when the engine timed none, the speech between the
    first and last non-silent phone in proportion to their spoken length.
    """
    n = len(chunk.words)
    if n == 0:
        return []
    times: list[tuple[float, float] | None] = [None] * n
    for i, a, b in spans:
        if 0 <= i < n:
            times[i] = (a, b)
    if all(t is None for t in times):
        voiced = [p for p in phones if p.phone != SIL]
        lo = voiced[0].start if voiced else 0.0
        hi = voiced[-1].end if voiced else duration
        weights = [max(1, len(w.spoken)) for w in chunk.words]
        total = float(sum(weights))
        acc = 0.0
        for i, w in enumerate(weights):
            times[i] = (lo + (hi - lo) * acc / total, lo + (hi - lo) * (acc + w) / total)
            acc += w
    # Clamp the timed words into order.
    last = 0.0
    for i, t in enumerate(times):
        if t is not None:
            a = min(max(t[0], last), duration)
            b = min(max(t[1], a), duration)
            times[i] = (a, b)
            last = b
    # Fill runs of untimed words between their neighbours.
    i = 0
    while i < n:
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < n and times[j] is None:
            j += 1
        prev_t = times[i - 1] if i > 0 else None
        next_t = times[j] if j < n else None
        lo = prev_t[1] if prev_t is not None else 0.0
        hi = next_t[0] if next_t is not None else duration
        step = (hi - lo) / (j - i)
        for k in range(i, j):
            times[k] = (lo + step * (k - i), lo + step * (k - i + 1))
        i = j
    return [
        TimedWord(w.written, float(t[0]), float(t[1])) for w, t in zip(chunk.words, times, strict=True) if t
    ]
