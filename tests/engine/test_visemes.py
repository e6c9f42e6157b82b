"""Phones and loudness to mouth shapes (src/facecast/engine/visemes.py)."""

from __future__ import annotations

import numpy as np
import pytest

from facecast.engine.audio import Audio
from facecast.engine.phones import ARPABET, TimedPhone, merge_phones
from facecast.engine.visemes import (
    MOUTH_PARAMS,
    PARAM_MAX,
    PARAM_MIN,
    PHONE_VISEMES,
    VISEMES,
    mouth_track_from_energy,
    mouth_track_from_phones,
    settled_frames,
)

FPS = 25.0


def seq(*items: tuple[str, float], start: float = 0.0) -> list[TimedPhone]:
    """Phones from (name, duration) pairs, back to back."""
    out, t = [], start
    for name, duration in items:
        out.append(TimedPhone(name, t, t + duration))
        t += duration
    return out


def loudness_for(phones: list[TimedPhone], n: int, level: float = 0.9, fps: float = FPS) -> np.ndarray:
    """Loudness ``level`` wherever a non-silent phone sounds, 0 elsewhere."""
    loud = np.zeros(n, np.float32)
    for p in phones:
        if p.phone != "SIL":
            loud[int(p.start * fps) : int(np.ceil(p.end * fps))] = level
    return loud


def random_speech(rng: np.random.Generator, seconds: float) -> list[TimedPhone]:
    names = sorted(ARPABET)
    items: list[tuple[str, float]] = [("SIL", 0.3)]
    total = 0.3
    while total < seconds - 0.5:
        name = "SIL" if rng.random() < 0.06 else names[rng.integers(len(names))]
        duration = float(rng.uniform(0.25, 0.6) if name == "SIL" else rng.uniform(0.03, 0.2))
        items.append((name, duration))
        total += duration
    items.append(("SIL", seconds - total))
    return seq(*items)


def test_every_phone_has_a_viseme() -> None:
    assert set(ARPABET) | {"SIL"} <= set(PHONE_VISEMES)
    assert 13 <= len(VISEMES) <= 16
    for target in VISEMES.values():
        assert np.all(np.asarray(target) >= PARAM_MIN) and np.all(np.asarray(target) <= PARAM_MAX)


@pytest.mark.parametrize("fps", [25.0, 30.0, 60.0])
@pytest.mark.parametrize("duration", [0.02, 0.06, 0.12])
def test_bilabials_always_close_fully(fps: float, duration: float) -> None:
    for bilabial in ("P", "B", "M"):
        phones = seq(("SIL", 0.4), ("AA", 0.15), (bilabial, duration), ("AA", 0.15), ("SIL", 0.5))
        n = int(np.ceil(1.5 * fps))
        track = mouth_track_from_phones(phones, loudness_for(phones, n, fps=fps), fps, n)
        closed = (track.column("press") >= 0.99) & (track.column("jaw") <= 0.01)
        # At least two consecutive closed frames, near the bilabial.
        runs = np.flatnonzero(closed[:-1] & closed[1:])
        assert len(runs) > 0, (bilabial, duration, fps)
        frames = np.flatnonzero(closed)
        assert frames.min() >= phones[2].start * fps - 2.5 and frames.max() <= phones[2].end * fps + 1.5
        # ...and the vowels around it open.
        assert track.column("jaw")[int(0.45 * fps)] > 0.3


def test_silence_is_rest_exactly() -> None:
    n = 100
    for phones in ([], seq(("SIL", 4.0))):
        track = mouth_track_from_phones(phones, np.zeros(n, np.float32), FPS, n)
        assert track.values.shape == (n, len(MOUTH_PARAMS))
        assert track.values.dtype == np.float32
        assert np.all(track.values == 0.0)


def test_pause_returns_to_rest_and_stays() -> None:
    phones = seq(("HH", 0.1), ("AA", 0.3), ("SIL", 1.0), ("W", 0.1), ("AA", 0.3), ("SIL", 0.5))
    n = int(2.3 * FPS)
    track = mouth_track_from_phones(phones, loudness_for(phones, n), FPS, n)
    pause_start, pause_end = phones[2].start, phones[2].end
    # At rest within 150 ms of the pause, and exactly still until just before speech resumes.
    still = track.values[int(np.ceil((pause_start + 0.15) * FPS)) : int((pause_end - 0.1) * FPS)]
    assert len(still) >= 15
    assert np.all(still == 0.0)
    assert track.column("jaw")[int(0.3 * FPS)] > 0.4


def test_mouth_does_not_jump() -> None:
    rng = np.random.default_rng(7)
    for _ in range(3):
        phones = random_speech(rng, 8.0)
        n = int(8.0 * FPS)
        loud = loudness_for(phones, n) * rng.uniform(0.3, 1.0, size=n).astype(np.float32)
        values = mouth_track_from_phones(phones, loud, FPS, n).values
        assert np.all(values >= PARAM_MIN) and np.all(values <= PARAM_MAX)
        step = np.abs(np.diff(values, axis=0)).max(axis=0)
        jaw = MOUTH_PARAMS.index("jaw")
        assert step[jaw] <= 0.55, step
        assert step.max() <= 1.0, step


def test_loud_vowel_opens_wider_than_quiet_one() -> None:
    phones = seq(("SIL", 0.3), ("AA", 0.4), ("SIL", 0.5))
    n = 30
    loud = mouth_track_from_phones(phones, loudness_for(phones, n, 1.0), FPS, n).column("jaw").max()
    quiet = mouth_track_from_phones(phones, loudness_for(phones, n, 0.15), FPS, n).column("jaw").max()
    assert loud > quiet + 0.2
    assert quiet > 0.25  # a whispered vowel still visibly opens


def test_lips_anticipate_the_sound() -> None:
    phones = seq(("SIL", 1.0), ("UW", 0.3), ("SIL", 0.5))
    n = int(1.8 * FPS)
    track = mouth_track_from_phones(phones, loudness_for(phones, n), FPS, n)
    onset = int(1.0 * FPS)  # the first frame of the sound
    assert np.all(track.values[: onset - 3] == 0.0)
    # The frame ending at the sound's start already rounds the lips and drops the jaw a little.
    assert track.column("width")[onset - 1] < -0.1
    assert track.column("jaw")[onset - 1] > 0.02


def test_visemes_differ_where_they_should() -> None:
    def shape(name: str) -> np.ndarray:
        phones = seq(("SIL", 0.3), (name, 0.3), ("SIL", 0.5))
        track = mouth_track_from_phones(phones, loudness_for(phones, 28), FPS, 28)
        return track.values[int(0.45 * FPS)]

    width = MOUTH_PARAMS.index("width")
    assert shape("IY")[width] > 0.4 > -0.4 > shape("UW")[width]
    assert shape("F")[MOUTH_PARAMS.index("lower_lip")] < -0.5
    assert shape("TH")[MOUTH_PARAMS.index("tongue")] > 0.5
    assert shape("AA")[0] > shape("EH")[0] > shape("IY")[0]


def test_speech_the_recogniser_missed_still_moves_the_mouth() -> None:
    n = 50
    loud = np.zeros(n, np.float32)
    loud[10:40] = 0.8
    track = mouth_track_from_phones([TimedPhone("SIL", 0.0, 2.0)], loud, FPS, n)
    assert track.column("jaw")[20:30].min() > 0.2
    assert np.all(track.values[:5] == 0.0) and np.all(track.values[-5:] == 0.0)


def bursts(sr: int = 16000) -> Audio:
    t = np.arange(sr * 3) / sr
    x = np.zeros_like(t)
    x[sr // 2 : sr] = 0.4 * np.sin(2 * np.pi * 180 * t[sr // 2 : sr])  # dark
    x[2 * sr : int(2.5 * sr)] = 0.4 * np.sin(2 * np.pi * 3000 * t[2 * sr : int(2.5 * sr)])  # bright
    return Audio(x.astype(np.float32), sr)


def test_energy_track_opens_on_sound_and_rests_in_silence() -> None:
    track = mouth_track_from_energy(bursts(), FPS, 75)
    jaw, width = track.column("jaw"), track.column("width")
    assert np.all(track.values[:10] == 0.0)
    assert np.all(track.values[int(1.25 * FPS) : int(1.9 * FPS)] == 0.0)
    assert jaw[16:24].min() > 0.3 and jaw[54:60].min() > 0.3
    assert width[56] > width[20] + 0.3  # bright sound spreads, dark sound rounds
    assert np.abs(np.diff(track.values, axis=0)).max() <= 0.6
    assert np.all(track.values >= PARAM_MIN) and np.all(track.values <= PARAM_MAX)


def test_energy_track_of_silence_is_all_rest() -> None:
    track = mouth_track_from_energy(Audio(np.zeros(32000, np.float32), 16000), FPS, 50)
    assert track.values.shape == (50, len(MOUTH_PARAMS)) and np.all(track.values == 0.0)


@pytest.mark.parametrize("fps", [5.0, 12.5, 25.0, 30.0, 60.0])
def test_rows_before_settled_frames_do_not_change_with_later_phones(fps: float) -> None:
    """A render shows rows while recognition goes on: phones found later must not change them."""
    rng = np.random.default_rng(int(fps * 10))
    for _ in range(40):
        seconds = float(rng.uniform(3.0, 12.0))
        phones = merge_phones(random_speech(rng, seconds))
        n = int(np.ceil(seconds * fps))
        loud = loudness_for(phones, n, fps=fps) * rng.uniform(0.3, 1.0, n).astype(np.float32)
        full = mouth_track_from_phones(phones, loud, fps, n).values
        pauses = [p for p in phones if p.phone == "SIL" and p.end - p.start > 0.2 and p.start > 0.3]
        if pauses and rng.random() < 0.7:  # cut in a pause, as recognition does
            cut = float(np.mean([pauses[rng.integers(len(pauses))].start, pauses[-1].end]))
            cut = min(cut, seconds - 0.2)
        else:
            cut = float(rng.uniform(0.5, seconds - 0.5))
        known = [TimedPhone(p.phone, p.start, min(p.end, cut)) for p in phones if p.start < cut]
        partial = mouth_track_from_phones(merge_phones(known), loud, fps, n).values
        settled = settled_frames(cut, fps, n)
        assert np.array_equal(partial[:settled], full[:settled]), (fps, cut, settled)
        assert settled >= min(n, int((cut - 1.5) * fps))  # and not much is held back
    assert settled_frames(float("inf"), fps, 17) == 17
    assert settled_frames(0.1, fps, 17) == 0
