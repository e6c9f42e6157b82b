"""Timed phones (or bare loudness) to a per-frame mouth shape, with coarticulation.

Phones map to 15 visemes (rest plus the Preston Blair / MPEG-4 classes), each a target vector over
``MOUTH_PARAMS``. Targets are blended with Cohen-Massaro dominance functions on a 5 ms grid, led a
little ahead of the sound, scaled by loudness; p/b/m always close fully and pauses return to rest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facecast.engine.audio import Audio, loudness_envelope
from facecast.engine.phones import TimedPhone, normalize_phone

#: Columns of ``MouthTrack.values``. All 0 is the closed, relaxed mouth at rest.
#: jaw: 0 closed .. 1 wide open; width: -1 rounded (oo) .. +1 spread (ee);
#: upper_lip: 0 .. 1 raise of the upper lip (shows upper teeth); lower_lip: -1 tucked under the
#: upper teeth (f, v) .. +1 dropped away from them; press: 0 .. 1 lips pressed together (p, b, m);
#: tongue: 0 .. 1 tongue tip visible behind the upper teeth (t, d, l, th).
MOUTH_PARAMS: tuple[str, ...] = ("jaw", "width", "upper_lip", "lower_lip", "press", "tongue")

#: Lower and upper bound of each column.
PARAM_MIN = np.array([0.0, -1.0, 0.0, -1.0, 0.0, 0.0], dtype=np.float32)
PARAM_MAX = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], dtype=np.float32)

_JAW, _WIDTH, _UPPER, _LOWER, _PRESS, _TONGUE = range(6)


@dataclass(frozen=True)
class MouthTrack:
    """Mouth shape for every video frame: ``values`` is float32 [n_frames, len(MOUTH_PARAMS)]."""

    fps: float
    values: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray:
        return self.values[:, MOUTH_PARAMS.index(name)]


# --- visemes -------------------------------------------------------------------------------------
#: Target shape of each viseme:      jaw  width  upper  lower  press  tongue
VISEMES: dict[str, tuple[float, float, float, float, float, float]] = {
    "rest": (0.00, 0.00, 0.00, 0.00, 0.0, 0.0),
    "PBM": (0.00, 0.00, 0.00, 0.00, 1.0, 0.0),  # lips pressed together
    "FV": (0.08, 0.15, 0.30, -1.00, 0.0, 0.0),  # lower lip under the upper teeth
    "TH": (0.12, 0.15, 0.25, 0.25, 0.0, 1.0),  # tongue tip between the teeth
    "TDNL": (0.12, 0.20, 0.25, 0.25, 0.0, 0.6),  # tongue tip on the ridge
    "KG": (0.18, 0.15, 0.20, 0.30, 0.0, 0.0),  # back of the tongue, slightly open
    "CHSH": (0.08, -0.55, 0.50, 0.45, 0.0, 0.0),  # lips pushed out, teeth close
    "SZ": (0.04, 0.45, 0.35, 0.30, 0.0, 0.0),  # teeth together, lips apart
    "R": (0.15, -0.45, 0.25, 0.20, 0.0, 0.0),  # r, er: a little rounded
    "AA": (1.00, 0.15, 0.35, 0.60, 0.0, 0.0),  # wide open: father
    "AH": (0.72, 0.10, 0.30, 0.45, 0.0, 0.0),  # open, neutral: but, about
    "EH": (0.66, 0.50, 0.40, 0.45, 0.0, 0.0),  # mid, spread: bed, cat
    "IH": (0.28, 0.80, 0.40, 0.30, 0.0, 0.0),  # small, spread: sit, see
    "AO": (0.72, -0.60, 0.20, 0.40, 0.0, 0.0),  # round, open: law, go
    "UW": (0.20, -1.00, 0.15, 0.15, 0.0, 0.0),  # round, small: boot, w
}

#: Each phone's viseme; a diphthong glides through two (the first takes 60% of its time).
PHONE_VISEMES: dict[str, tuple[str, ...]] = {
    "SIL": ("rest",),
    **{p: ("PBM",) for p in ("B", "P", "M")},
    **{p: ("FV",) for p in ("F", "V")},
    **{p: ("TH",) for p in ("TH", "DH")},
    **{p: ("TDNL",) for p in ("T", "D", "N", "L")},
    **{p: ("KG",) for p in ("K", "G", "NG")},
    "HH": ("AH",),  # takes its shape from the vowel around it (low dominance below)
    **{p: ("CHSH",) for p in ("CH", "JH", "SH", "ZH")},
    **{p: ("SZ",) for p in ("S", "Z")},
    **{p: ("R",) for p in ("R", "ER")},
    "Y": ("IH",),
    "W": ("UW",),
    "AA": ("AA",),
    "AH": ("AH",),
    "AE": ("EH",),
    "EH": ("EH",),
    "IH": ("IH",),
    "IY": ("IH",),
    "AO": ("AO",),
    "UH": ("UW",),
    "UW": ("UW",),
    "OW": ("AO", "UW"),
    "AY": ("AA", "IH"),
    "AW": ("AA", "UW"),
    "EY": ("EH", "IH"),
    "OY": ("AO", "IH"),
}

#: Dominance strength of each viseme over each column (Cohen & Massaro's alpha): who wins where
#: neighbours disagree. Lip consonants rule the lips, vowels the jaw, rounding spreads widely.
_VOWEL_DOMINANCE = (1.0, 0.8, 0.7, 0.7, 2.0, 0.5)
_DOMINANCE: dict[str, tuple[float, float, float, float, float, float]] = {
    "rest": (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "PBM": (1.2, 1.0, 1.5, 1.5, 1.0, 1.0),
    "FV": (1.5, 0.8, 2.0, 4.0, 1.0, 1.0),
    "TH": (0.6, 0.3, 0.6, 0.8, 0.5, 3.0),
    "TDNL": (0.5, 0.3, 0.5, 0.5, 0.5, 2.0),
    "KG": (0.5, 0.3, 0.4, 0.4, 0.5, 1.0),
    "CHSH": (0.8, 3.0, 2.0, 1.5, 0.5, 1.0),
    "SZ": (1.2, 1.5, 1.5, 1.2, 0.5, 1.0),
    "R": (0.6, 2.0, 0.8, 0.8, 0.5, 1.0),
    "AA": _VOWEL_DOMINANCE,
    "AH": _VOWEL_DOMINANCE,
    "EH": _VOWEL_DOMINANCE,
    "IH": _VOWEL_DOMINANCE,
    "AO": (1.0, 1.5, 0.7, 0.7, 2.0, 0.5),
    "UW": (0.8, 2.5, 0.8, 0.8, 2.0, 0.5),
}
#: Phones that borrow their shape from their neighbours (aspiration, glides).
_WEAK_PHONES = {"HH": 0.15}

#: How fast a segment's dominance decays outside it, per second: slower towards the future
#: (anticipation: the mouth prepares the next sound) than into the past (carry-over).
THETA_ANTICIPATION = 30.0
THETA_CARRYOVER = 40.0
#: Articulation leads the sound: the whole phone timeline is drawn this much earlier.
LEAD = 0.02
#: A pause shorter than this is a stop closure or a breath inside a word, not a rest.
MIN_PAUSE = 0.10
#: After a pause starts, the mouth reaches rest within this; it leaves rest this long before speech.
PAUSE_RELEASE = 0.12
PAUSE_ANTICIPATION = 0.08
#: Closure on p/b/m holds at least this many frames.
MIN_CLOSURE_FRAMES = 2
#: A long p/b/m closure drops end frames that are this much louder than its quietest frame.
CLOSURE_EDGE_LOUDER = 0.25
#: Loudness scaling of the opening: a whisper opens to this fraction of a loud vowel.
QUIET_OPENING = 0.3
#: Share of the jaw opening that follows the loudness directly rather than the phones.
JAW_FROM_LOUDNESS = 0.75

#: That share's jaw opening at the faintest and at the loudest sound.
SYLLABLE_JAW = (0.1, 0.95)

#: Largest jaw movement between a p/b/m closure and the frame next to it.
MAX_JAW_STEP = 0.5

#: How far the frame next to a p/b/m closure is pulled towards it, per column.
_CLOSURE_EASE = np.array([0.2, 0.2, 0.2, 0.2, 0.3, 0.2])

_GRID = 0.005  # seconds per dominance-grid sample
_REACH = 0.35  # seconds beyond a segment where its dominance is still computed


def _viseme_arrays() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    targets = {k: np.asarray(v, dtype=np.float64) for k, v in VISEMES.items()}
    dominance = {k: np.asarray(v, dtype=np.float64) for k, v in _DOMINANCE.items()}
    return targets, dominance


_TARGETS, _ALPHAS = _viseme_arrays()


def _segments(phones: Sequence[TimedPhone]) -> list[tuple[str, float, float, float]]:
    """(viseme, start, end, strength) for each phone, diphthongs split, times led by ``LEAD``."""
    out: list[tuple[str, float, float, float]] = []
    for p in sorted(phones, key=lambda p: p.start):
        if p.end <= p.start:
            continue
        name = normalize_phone(p.phone)
        visemes = PHONE_VISEMES.get(name, ("AH",))
        strength = _WEAK_PHONES.get(name, 1.0)
        start, end = p.start - LEAD, p.end - LEAD
        if len(visemes) == 1:
            out.append((visemes[0], start, end, strength))
        else:
            split = start + 0.6 * (end - start)
            out.append((visemes[0], start, split, strength))
            out.append((visemes[1], split, end, strength))
    return out


def _blend(
    segments: Sequence[tuple[str, float, float, float]], duration: float
) -> tuple[np.ndarray, np.ndarray]:
    """Dominance-weighted targets on a ``_GRID`` time grid: values [n, 6] and the grid times."""
    n = max(1, int(math.ceil(duration / _GRID)))
    times = (np.arange(n) + 0.5) * _GRID
    # A faint rest everywhere so stretches no phone covers settle to rest.
    num = np.zeros((n, 6))
    den = np.full((n, 6), 1e-4)
    for viseme, start, end, strength in segments:
        lo = max(0, int((start - _REACH) / _GRID))
        hi = min(n, int(math.ceil((end + _REACH) / _GRID)))
        if hi <= lo:
            continue
        t = times[lo:hi]
        before = np.clip(start - t, 0.0, None)
        after = np.clip(t - end, 0.0, None)
        decay = np.exp(-THETA_ANTICIPATION * before - THETA_CARRYOVER * after)[:, None]
        d = decay * (_ALPHAS[viseme] * strength)[None, :]
        num[lo:hi] += d * _TARGETS[viseme][None, :]
        den[lo:hi] += d
    return num / den, times


def _to_frames(grid_values: np.ndarray, fps: float, n_frames: int) -> np.ndarray:
    """Average grid samples over each video frame's time span (a box filter, no aliasing)."""
    n_grid = grid_values.shape[0]
    edges = np.round(np.arange(n_frames + 1) / fps / _GRID).astype(np.int64)
    edges = np.clip(edges, 0, n_grid)
    cums = np.vstack([np.zeros((1, grid_values.shape[1])), np.cumsum(grid_values, axis=0)])
    counts = (edges[1:] - edges[:-1]).astype(np.float64)
    out = np.zeros((n_frames, grid_values.shape[1]))
    ok = counts > 0
    out[ok] = (cums[edges[1:]][ok] - cums[edges[:-1]][ok]) / counts[ok, None]
    # Frames shorter than a grid step (very high fps): nearest sample.
    if not ok.all():
        idx = np.clip(((np.arange(n_frames) + 0.5) / fps / _GRID).astype(np.int64), 0, n_grid - 1)
        out[~ok] = grid_values[idx[~ok]]
    return out


def _fit_length(x: np.ndarray | None, n: int) -> np.ndarray:
    if x is None:
        return np.zeros(n)
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if len(x) >= n:
        return x[:n]
    return np.pad(x, (0, n - len(x)))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    if not mask.any():
        return []
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    diff = np.diff(padded)
    return list(zip(np.flatnonzero(diff == 1).tolist(), np.flatnonzero(diff == -1).tolist(), strict=True))


def rest_weight(pause: np.ndarray, fps: float) -> np.ndarray:
    """How far each frame is pulled to rest (1 = exactly rest) for a mask of pause frames.

    Pauses shorter than ``MIN_PAUSE`` are ignored; the pull ramps in over ``PAUSE_RELEASE`` after a
    pause starts and out over ``PAUSE_ANTICIPATION`` before speech resumes (not at the clip's ends).
    """
    n = len(pause)
    weight = np.zeros(n)
    min_frames = max(1, int(round(MIN_PAUSE * fps)))
    n_in = max(1, int(round(PAUSE_RELEASE * fps)))
    n_out = max(1, int(round(PAUSE_ANTICIPATION * fps)))
    for a, b in _runs(pause):
        if b - a < min_frames and not (a == 0 or b == n):
            continue
        k = np.arange(a, b)
        ramp_in = np.ones(b - a) if a == 0 else np.minimum(1.0, (k - a + 1) / n_in)
        ramp_out = np.ones(b - a) if b == n else np.minimum(1.0, (b - 1 - k) / n_out)
        weight[a:b] = np.minimum(ramp_in, ramp_out)
    return weight


def _smooth3(x: np.ndarray) -> np.ndarray:
    if len(x) < 3:
        return x.copy()
    padded = np.pad(x, [(1, 1)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]


def _opening_gain(loudness: np.ndarray) -> np.ndarray:
    """Loudness (held over short dips such as stop closures) to a gain on the mouth opening."""
    held = _smooth3(loudness)
    return QUIET_OPENING + (1.0 - QUIET_OPENING) * np.clip(held, 0.0, 1.0) ** 0.7


def _frame_coverage(phones: Sequence[TimedPhone], fps: float, n_frames: int, names: set[str]) -> np.ndarray:
    """Fraction of each frame covered by phones in ``names`` (uncovered time counts as "SIL")."""
    cover = np.zeros(n_frames)
    speech = np.zeros(n_frames)
    for p in phones:
        a, b = (p.start - LEAD) * fps, (p.end - LEAD) * fps
        if b <= 0 or a >= n_frames:
            continue
        lo, hi = max(0, int(math.floor(a))), min(n_frames, int(math.ceil(b)))
        idx = np.arange(lo, hi)
        overlap = np.clip(np.minimum(idx + 1, b) - np.maximum(idx, a), 0.0, 1.0)
        if normalize_phone(p.phone) in names:
            cover[lo:hi] += overlap
        else:
            speech[lo:hi] += overlap
    if "SIL" in names:
        cover = np.maximum(cover, 1.0 - speech)
    return np.clip(cover, 0.0, 1.0)


def _closure_frames(
    phones: Sequence[TimedPhone], fps: float, n_frames: int, loudness: np.ndarray | None = None
) -> list[list[int]]:
    """For each p/b/m, the frames that show the full closure (at least ``MIN_CLOSURE_FRAMES``)."""
    out: list[list[int]] = []
    for p in phones:
        if normalize_phone(p.phone) not in ("P", "B", "M") or p.end <= p.start:
            continue
        a, b = (p.start - LEAD) * fps, (p.end - LEAD) * fps
        # Frames whose centre lies inside the (led) phone...
        frames = [
            i
            for i in range(max(0, int(math.floor(a))), min(n_frames, int(math.ceil(b)) + 1))
            if a <= i + 0.5 < b
        ]
        if len(frames) < MIN_CLOSURE_FRAMES:
            # ...or the frames nearest its middle when it is shorter than that.
            centre = 0.5 * (a + b) - 0.5
            first = int(math.floor(centre - (MIN_CLOSURE_FRAMES - 1) / 2.0 + 0.5))
            first = min(max(0, first), max(0, n_frames - MIN_CLOSURE_FRAMES))
            frames = list(range(first, min(n_frames, first + MIN_CLOSURE_FRAMES)))
        if frames and loudness is not None:
            # Phone boundaries are only good to a frame or so; the lips are shut while the sound
            # is (a stop's silence, an m's murmur), so slide the closure a frame towards the
            # quietest place.
            # A long closure whose ends are much louder than its middle: the phone's edges are
            # the neighbouring vowels', not the lips' closure.
            # Whatever slides or shrinks, the lips stay shut at the middle of the phone.
            mid = min(n_frames - 1, int((p.start + p.end) / 2 * fps))
            keep = mid if frames[0] <= mid <= frames[-1] else None
            while len(frames) > MIN_CLOSURE_FRAMES:
                quiet = min(float(loudness[i]) for i in frames)
                end = 0 if loudness[frames[0]] >= loudness[frames[-1]] else -1
                if float(loudness[frames[end]]) <= quiet + CLOSURE_EDGE_LOUDER or frames[end] == keep:
                    break
                frames.pop(end)
            k = len(frames)
            best = min(
                (
                    s
                    for s in (0, -1, 1)
                    if s == 0
                    or (
                        max(0, int(p.start * fps)) <= frames[0] + s
                        and frames[-1] + s <= min(n_frames - 1, int(p.end * fps) + 1)
                        and (keep is None or frames[0] + s <= keep <= frames[-1] + s)
                    )
                ),
                key=lambda s: (float(loudness[frames[0] + s : frames[0] + s + k].sum()), abs(s)),
            )
            frames = [i + best for i in frames]
        if frames:
            out.append(frames)
    return out


def mouth_track_from_phones(
    phones: Sequence[TimedPhone], loudness: np.ndarray, fps: float, n_frames: int
) -> MouthTrack:
    """Visemes from timed phones, blended with coarticulation, scaled by per-frame loudness."""
    if n_frames <= 0:
        return MouthTrack(fps=fps, values=np.zeros((0, len(MOUTH_PARAMS)), dtype=np.float32))
    loud = np.clip(_fit_length(loudness, n_frames), 0.0, 1.0)
    duration = n_frames / fps

    grid, _ = _blend(_segments(phones), duration + _GRID)
    values = _to_frames(grid, fps, n_frames)

    # Loudness: shouting opens wider than whispering, a quiet vowel still opens visibly.
    gain = _opening_gain(loud)
    values[:, _JAW] *= gain
    values[:, _LOWER] = np.where(values[:, _LOWER] > 0, values[:, _LOWER] * gain, values[:, _LOWER])
    values[:, _UPPER] *= 0.3 + 0.7 * gain
    values[:, _WIDTH] *= 0.7 + 0.3 * gain
    # A share of the jaw follows the syllable rhythm of the sound itself: robust to recognition
    # errors, and what a viewer checks first.
    energy_shape = _energy_shape(loud, fps)
    syllables = _attack_release(
        np.where(loud > 0, SYLLABLE_JAW[0] + (SYLLABLE_JAW[1] - SYLLABLE_JAW[0]) * loud, 0.0),
        fps,
        attack=0.025,
        release=0.06,
    )
    # (Only where the phones open the jaw at all: closures and pauses stay closed.)
    opened = np.clip(values[:, _JAW] / 0.15, 0.0, 1.0)
    # (And only where there is sound: before it the phones' anticipation leads the jaw.)
    share = JAW_FROM_LOUDNESS * np.clip(loud / 0.1, 0.0, 1.0)
    values[:, _JAW] = (1.0 - share) * values[:, _JAW] + share * syllables * opened

    # Sound where the recogniser heard silence (a missed word): follow the loudness instead.
    silent_phone = _frame_coverage(phones, fps, n_frames, {"SIL"})
    murmur = _smooth3(np.clip(silent_phone * (loud - 0.15) / 0.35, 0.0, 1.0))
    if murmur.any():
        values = values * (1.0 - murmur[:, None]) + energy_shape * murmur[:, None]

    # Lips cannot press together while the jaw hangs open: press fades as the jaw opens.
    values[:, _PRESS] *= np.clip(1.0 - 2.0 * values[:, _JAW], 0.0, 1.0)

    # p, b, m: full closure, eased in and out by the frame either side (the lips there are half
    # way to contact, the jaw a quarter of the way to closed).
    closures = _closure_frames(phones, fps, n_frames, loud)
    closed = np.zeros(n_frames, dtype=bool)
    hold = np.zeros((n_frames, len(MOUTH_PARAMS)))
    for frames in closures:
        closed[frames] = True
        for i in (frames[0] - 1, frames[-1] + 1):
            if 0 <= i < n_frames:
                hold[i] = np.maximum(hold[i], _CLOSURE_EASE)
    hold[closed] = 1.0
    values = values * (1.0 - hold) + _TARGETS["PBM"][None, :] * hold
    # The jaw cannot swing further than ``MAX_JAW_STEP`` in a frame out of or into a closure.
    eased = (hold > 0).any(axis=1) & ~closed
    values[eased, _JAW] = np.minimum(values[eased, _JAW], MAX_JAW_STEP)

    # Pauses: silence in the phones (while quiet) or in the audio -> rest, exactly.
    pause = (loud <= 0.0) | ((silent_phone >= 0.5) & (loud < 0.1))
    pause &= ~closed
    rest = rest_weight(pause, fps)
    values *= (1.0 - rest)[:, None]
    values[rest >= 1.0] = 0.0
    values[closed, _PRESS] = 1.0
    values[closed, _JAW] = 0.0
    return MouthTrack(fps=fps, values=_finish(values))


def settled_frames(known_until: float, fps: float, n_frames: int) -> int:
    """How many leading rows of ``mouth_track_from_phones`` stay as they are when phones are added
    that start at or after ``known_until`` seconds (and a pause that ends there runs on).

    A phone reaches ``_REACH`` s ahead of its (led) start through its dominance and a few frames
    more through pauses, closures and smoothing; the rows before that are final, bit for bit, so
    a render can show them while the rest of the speech is still being recognised.
    """
    if math.isinf(known_until):
        return max(0, n_frames)
    reach = LEAD + _REACH + 2.0 * _GRID
    guard = max(round(MIN_PAUSE * fps), round(PAUSE_ANTICIPATION * fps), 1) + 3
    first = math.floor((known_until - reach) * fps) - 1 - guard
    return int(min(max(first, 0), max(0, n_frames)))


def _finish(values: np.ndarray) -> np.ndarray:
    out = np.clip(values, PARAM_MIN[None, :], PARAM_MAX[None, :]).astype(np.float32)
    out[np.abs(out) < 1e-6] = 0.0
    return out


def _attack_release(target: np.ndarray, fps: float, attack: float, release: float) -> np.ndarray:
    """One-pole follower: rises with time constant ``attack`` s, falls with ``release`` s."""
    a_up = 1.0 - math.exp(-1.0 / max(fps * attack, 1e-6))
    a_down = 1.0 - math.exp(-1.0 / max(fps * release, 1e-6))
    out = np.empty_like(target)
    y = 0.0
    for i, x in enumerate(target.tolist()):
        y += (a_up if x > y else a_down) * (x - y)
        out[i] = y
    return out


def _energy_shape(loudness: np.ndarray, fps: float, width: np.ndarray | None = None) -> np.ndarray:
    """A plausible mouth for sound of this loudness: jaw follows it, lips with the jaw."""
    n = len(loudness)
    target = np.where(loudness > 0, 0.12 + 0.63 * np.clip(loudness, 0, 1) ** 0.8, 0.0)
    jaw = _attack_release(target, fps, attack=0.025, release=0.06)
    values = np.zeros((n, len(MOUTH_PARAMS)))
    values[:, _JAW] = jaw
    values[:, _LOWER] = 0.6 * jaw
    values[:, _UPPER] = 0.3 * jaw
    if width is not None:
        values[:, _WIDTH] = width
        values[:, _UPPER] += 0.15 * np.clip(width, 0.0, None)
    return values


def spectral_centroid(audio: Audio, fps: float, n_frames: int) -> np.ndarray:
    """Spectral centroid in Hz (100 Hz - 6 kHz band) of each video frame's audio; 0 where silent."""
    out = np.zeros(n_frames)
    x = audio.samples
    sr = audio.sample_rate
    if len(x) == 0 or n_frames <= 0:
        return out
    nfft = 1 << max(6, int(math.ceil(math.log2(0.032 * sr))))
    starts = np.round((np.arange(n_frames) + 0.5) / fps * sr - nfft / 2).astype(np.int64)
    padded = np.pad(x.astype(np.float32), (nfft, nfft))
    idx = np.clip(starts + nfft, 0, len(padded) - nfft)
    windows = np.lib.stride_tricks.sliding_window_view(padded, nfft)[idx] * np.hanning(nfft).astype(
        np.float32
    )
    spectrum = np.abs(np.fft.rfft(windows, axis=1)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    band = (freqs >= 100.0) & (freqs <= min(6000.0, sr / 2))
    power = spectrum[:, band]
    total = power.sum(axis=1)
    ok = total > 1e-10
    out[ok] = (power[ok] * freqs[band][None, :]).sum(axis=1) / total[ok]
    return out


def mouth_track_from_energy(audio: Audio, fps: float, n_frames: int) -> MouthTrack:
    """Fallback for audio the recogniser cannot follow: a mouth driven by loudness and spectrum."""
    if n_frames <= 0:
        return MouthTrack(fps=fps, values=np.zeros((0, len(MOUTH_PARAMS)), dtype=np.float32))
    loud = loudness_envelope(audio, fps, n_frames).astype(np.float64)
    if not loud.any():
        return MouthTrack(fps=fps, values=np.zeros((n_frames, len(MOUTH_PARAMS)), dtype=np.float32))
    # Brighter than this voice usually is (ee, s) spreads the lips, darker (oo, w) rounds them.
    centroid = spectral_centroid(audio, fps, n_frames)
    voiced = (loud > 0.2) & (centroid > 0)
    reference = float(np.median(centroid[voiced])) if voiced.any() else 1500.0
    width = np.where(
        (loud > 0) & (centroid > 0),
        np.clip(0.8 * np.log2(np.maximum(centroid, 1.0) / reference), -0.7, 0.7),
        0.0,
    )
    width = _smooth3(_smooth3(width)) * np.minimum(1.0, loud / 0.2)
    values = _energy_shape(loud, fps, width)
    rest = rest_weight(loud <= 0.0, fps)
    values *= (1.0 - rest)[:, None]
    values[rest >= 1.0] = 0.0
    return MouthTrack(fps=fps, values=_finish(values))
