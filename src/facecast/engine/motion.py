"""Life besides the mouth: seeded blinks and small head motion, per video frame.

Blinks come at random 2-6 s intervals with the usual close/hold/open timing; the head drifts on
smooth seeded noise (sums of slow sinusoids) and nods a little on loud, stressed syllables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Columns of ``MotionTrack.head``: roll in degrees (positive turns the head clockwise on screen),
#: shift x and y as fractions of the inter-ocular distance, and scale (1.0 = unchanged).
HEAD_PARAMS: tuple[str, ...] = ("roll", "dx", "dy", "scale")

#: Blink timing (seconds): first blink, the gaps between blinks, and the lid's course.
FIRST_BLINK = (1.0, 3.0)
BLINK_INTERVAL = (2.0, 6.0)
BLINK_CLOSING = 0.10
BLINK_CLOSED = 0.05
BLINK_OPENING = 0.15

#: Largest head excursions: roll in degrees, shifts in inter-ocular distances, relative scale.
MAX_ROLL = 2.5
MAX_SHIFT_X = 0.03
MAX_SHIFT_Y = 0.035
MAX_SCALE = 0.008
#: A nod: the head dips by this (inter-ocular distances) and comes back over ``NOD_DURATION`` s.
NOD_DEPTH = 0.018
NOD_DURATION = 0.35
#: The head settles from neutral into its drift over this long at the start of the clip.
SETTLE = 1.2


@dataclass(frozen=True)
class MotionTrack:
    """``blink`` float32 [n] (0 open .. 1 closed); ``head`` float32 [n, len(HEAD_PARAMS)]."""

    fps: float
    blink: np.ndarray
    head: np.ndarray


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def blink_times(duration: float, rng: np.random.Generator) -> list[float]:
    """Times (s) when the lid is fully closed: first in ``FIRST_BLINK``, then every ``BLINK_INTERVAL``."""
    times: list[float] = []
    t = float(rng.uniform(*FIRST_BLINK))
    while t < duration:
        times.append(t)
        t += float(rng.uniform(*BLINK_INTERVAL))
    return times


def blink_track(n_frames: int, fps: float, times: list[float]) -> np.ndarray:
    """The lid (0 open .. 1 closed) per frame for blinks fully closed around each of ``times``.

    Each blink is snapped so a frame falls in the middle of its closed phase: even at low frame
    rates every blink shows one fully closed frame.
    """
    lid = np.zeros(n_frames)
    frame_t = (np.arange(n_frames) + 0.5) / fps
    for t in times:
        centre = (math.floor(t * fps) + 0.5) / fps
        closed_from = centre - BLINK_CLOSED / 2
        closed_to = centre + BLINK_CLOSED / 2
        lo = max(0, int((closed_from - BLINK_CLOSING) * fps) - 1)
        hi = min(n_frames, int(math.ceil((closed_to + BLINK_OPENING) * fps)) + 1)
        if hi <= lo:
            continue
        tt = frame_t[lo:hi]
        closing = _smoothstep((tt - (closed_from - BLINK_CLOSING)) / BLINK_CLOSING)
        opening = 1.0 - _smoothstep((tt - closed_to) / BLINK_OPENING)
        shape = np.where(tt < closed_from, closing, np.where(tt <= closed_to, 1.0, opening))
        lid[lo:hi] = np.maximum(lid[lo:hi], shape)
    return lid


def _drift(t: np.ndarray, rng: np.random.Generator, periods: tuple[float, float], n: int = 3) -> np.ndarray:
    """Smooth noise in [-1, 1]: a sum of ``n`` sinusoids with random periods and phases."""
    out = np.zeros_like(t)
    weights = rng.uniform(0.5, 1.0, size=n)
    weights /= weights.sum()
    for w in weights:
        period = rng.uniform(*periods)
        phase = rng.uniform(0.0, 2.0 * math.pi)
        out += w * np.sin(2.0 * math.pi * t / period + phase)
    return out


def nod_times(loudness: np.ndarray, fps: float) -> list[float]:
    """Times of stressed syllables: loud peaks after a clear rise, at least 0.6 s apart."""
    loud = np.asarray(loudness, dtype=np.float64)
    if len(loud) < 3 or not loud.any():
        return []
    look = max(1, int(round(0.15 * fps)))
    spacing = 0.6
    out: list[float] = []
    for i in range(1, len(loud) - 1):
        if loud[i] < 0.7 or loud[i] < loud[i - 1] or loud[i] < loud[i + 1]:
            continue
        before = loud[max(0, i - look) : i]
        if len(before) == 0 or loud[i] - float(before.min()) < 0.35:
            continue
        t = i / fps
        if out and t - out[-1] < spacing:
            continue
        out.append(t)
    return out


def motion_track(n_frames: int, fps: float, *, seed: int, loudness: np.ndarray | None = None) -> MotionTrack:
    """Blinks every 2-6 s and slow 1-3 degree head motion with small nods on loud syllables."""
    n = max(0, int(n_frames))
    rng = np.random.default_rng(seed)
    # Separate streams so the blinks of a seed do not change with the clip's length or loudness.
    blink_rng, head_rng = (np.random.default_rng(s) for s in rng.integers(0, 2**63 - 1, size=2))
    duration = n / fps
    blink = blink_track(n, fps, blink_times(duration, blink_rng))

    t = np.arange(n) / fps
    settle = _smoothstep(t / SETTLE)
    roll = MAX_ROLL * _drift(t, head_rng, (5.0, 14.0))
    dx = MAX_SHIFT_X * _drift(t, head_rng, (5.0, 13.0))
    dy = MAX_SHIFT_Y * 0.5 * _drift(t, head_rng, (4.0, 10.0))
    scale = MAX_SCALE * _drift(t, head_rng, (6.0, 15.0))
    if loudness is not None and n:
        loud = np.zeros(n)
        given = np.asarray(loudness, dtype=np.float64).reshape(-1)[:n]
        loud[: len(given)] = np.clip(given, 0.0, 1.0)
        # Nods: the head dips a little on each stressed syllable and comes back.
        for start in nod_times(loud, fps):
            phase = (t - start + 0.05) / NOD_DURATION
            inside = (phase > 0) & (phase < 1)
            dy[inside] += NOD_DEPTH * 0.5 * (1.0 - np.cos(2.0 * math.pi * phase[inside]))
    dy = np.clip(dy, -MAX_SHIFT_Y, MAX_SHIFT_Y)
    head = np.stack([roll * settle, dx * settle, dy * settle, 1.0 + scale * settle], axis=1)
    return MotionTrack(
        fps=fps, blink=blink.astype(np.float32), head=head.astype(np.float32).reshape(n, len(HEAD_PARAMS))
    )
