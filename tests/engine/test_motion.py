"""Blinks and head motion (src/facecast/engine/motion.py)."""

from __future__ import annotations

import numpy as np

from facecast.engine.motion import HEAD_PARAMS, motion_track

FPS = 25.0


def closed_frames(blink: np.ndarray) -> list[int]:
    """The first fully closed frame of each blink."""
    closed = blink >= 0.999
    return [int(i) for i in np.flatnonzero(closed & ~np.concatenate(([False], closed[:-1])))]


def test_blinks_come_every_two_to_six_seconds() -> None:
    n = int(60 * FPS)
    for seed in range(5):
        blink = motion_track(n, FPS, seed=seed).blink
        assert blink.dtype == np.float32 and blink.shape == (n,)
        assert blink.min() >= 0.0 and blink.max() <= 1.0
        starts = np.array(closed_frames(blink)) / FPS
        assert 1.0 - 0.05 <= starts[0] <= 3.0 + 0.05
        gaps = np.diff(starts)
        assert len(gaps) >= 9
        assert gaps.min() >= 2.0 - 0.05 and gaps.max() <= 6.0 + 0.05
        # Open most of the time: each blink lasts about 300 ms.
        assert np.mean(blink > 0.05) < 0.15


def test_blink_timing() -> None:
    fps = 100.0
    blink = motion_track(int(10 * fps), fps, seed=3).blink
    first = closed_frames(blink)[0]
    moving = np.flatnonzero(blink[: first + 40] > 0.02)
    closing = first - moving[0]
    opening_end = first + int(np.argmax(blink[first:] < 0.02))
    assert 6 <= closing <= 12  # ~100 ms to close
    assert 3 <= np.count_nonzero(blink[first - 5 : first + 10] >= 0.999) <= 7  # ~50 ms closed
    assert 17 <= opening_end - first <= 24  # ~50 ms closed + ~150 ms to open
    assert np.abs(np.diff(blink)).max() < 0.2


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    loud = np.abs(np.sin(np.arange(500) / 7.0)).astype(np.float32)
    a = motion_track(500, FPS, seed=11, loudness=loud)
    b = motion_track(500, FPS, seed=11, loudness=loud)
    c = motion_track(500, FPS, seed=12, loudness=loud)
    assert np.array_equal(a.blink, b.blink) and np.array_equal(a.head, b.head)
    assert not np.array_equal(a.head, c.head)
    assert not np.array_equal(a.blink, c.blink)
    # A longer clip with the same seed starts the same way.
    longer = motion_track(800, FPS, seed=11)
    shorter = motion_track(500, FPS, seed=11)
    assert np.array_equal(longer.blink[:500], shorter.blink)
    assert np.allclose(longer.head[:500], shorter.head)


def test_head_moves_a_little_and_smoothly() -> None:
    n = int(60 * FPS)
    for seed in range(4):
        head = motion_track(n, FPS, seed=seed).head
        assert head.dtype == np.float32 and head.shape == (n, len(HEAD_PARAMS))
        roll, dx, dy, scale = head.T
        assert np.abs(roll).max() <= 3.0
        assert 0.5 <= np.ptp(roll) and np.abs(roll).max() >= 0.8  # it does move
        assert np.abs(dx).max() <= 0.05 and np.abs(dy).max() <= 0.05
        assert np.abs(scale - 1.0).max() <= 0.01
        # Starts at neutral, no jumps.
        assert np.allclose(head[0], [0.0, 0.0, 0.0, 1.0], atol=1e-6)
        step = np.abs(np.diff(head, axis=0)).max(axis=0)
        assert step[0] < 0.15 and step[1] < 0.003 and step[2] < 0.005 and step[3] < 0.001


def test_loud_syllables_nod() -> None:
    n = int(10 * FPS)
    loud = np.zeros(n, np.float32)
    for k in range(8):  # a stressed syllable every second
        start = int((1.0 + k) * FPS)
        loud[start : start + 5] = [0.3, 0.8, 1.0, 0.8, 0.4]
    quiet = motion_track(n, FPS, seed=5)
    nodding = motion_track(n, FPS, seed=5, loudness=loud)
    extra = nodding.head[:, 2] - quiet.head[:, 2]
    assert extra.max() > 0.01  # the head dips (y down) on the syllables
    assert extra.min() >= -1e-6
    assert np.array_equal(quiet.blink, nodding.blink)
    assert np.abs(np.diff(nodding.head[:, 2])).max() < 0.01
