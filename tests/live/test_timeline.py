"""The live schedule, planner and idle motion: pure functions on arrays, checked exactly."""

from __future__ import annotations

import numpy as np

from facecast.engine.audio import Audio
from facecast.engine.phones import TimedPhone
from facecast.live import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME, IdleMotion, LivePart, Timeline, UtteranceState
from facecast.live.planner import LEAD_FRAMES, SILENCE_LEVEL, plan_audio, plan_speech
from facecast.live.timeline import FADE_SAMPLES, RELEASE_FRAMES


def part(n_frames: int, level: float = 0.5, jaw: float = 0.8) -> LivePart:
    mouth = np.zeros((n_frames, 6), dtype=np.float32)
    mouth[1:-1, 0] = jaw
    return LivePart(samples=np.full(n_frames * SAMPLES_PER_FRAME, level, dtype=np.float32), mouth=mouth)


def test_rates_share_one_clock() -> None:
    assert SAMPLES_PER_FRAME * FPS == SAMPLE_RATE


def test_parts_play_in_order_with_silence_around() -> None:
    tl = Timeline()
    u = tl.add("hello")
    assert tl.place(u, part(10), earliest_frame=5) == 5 * SAMPLES_PER_FRAME
    assert tl.place(u, part(4, level=0.25), earliest_frame=0) == 15 * SAMPLES_PER_FRAME  # after the first
    u.complete = True
    assert not tl.audio(0, 5 * SAMPLES_PER_FRAME).any()  # silence before
    assert u.state is UtteranceState.QUEUED
    first = tl.audio(5 * SAMPLES_PER_FRAME, 10 * SAMPLES_PER_FRAME)
    assert np.all(first == 0.5) and u.state is UtteranceState.SPEAKING
    assert np.all(tl.audio(15 * SAMPLES_PER_FRAME, 4 * SAMPLES_PER_FRAME) == 0.25)
    assert u.state is UtteranceState.DONE
    assert not tl.audio(19 * SAMPLES_PER_FRAME, 100).any()
    assert tl.mouth(6)[0] == np.float32(0.8) and tl.mouth(30)[0] == 0.0


def test_a_part_never_starts_in_what_was_played() -> None:
    tl = Timeline()
    tl.audio(0, 3 * SAMPLES_PER_FRAME + 7)
    u = tl.add("late")
    assert tl.place(u, part(3), earliest_frame=1) == 4 * SAMPLES_PER_FRAME


def test_interrupt_releases_the_mouth_and_silences_the_rest() -> None:
    tl = Timeline()
    u = tl.add("long")
    tl.place(u, part(50), earliest_frame=0)
    v = tl.add("next")
    tl.place(v, part(20), earliest_frame=0)
    tl.audio(0, 10 * SAMPLES_PER_FRAME + 100)  # into frame 10
    stopped = tl.interrupt()
    assert [s.id for s in stopped] == [u.id, v.id]
    assert u.state is UtteranceState.INTERRUPTED and v.state is UtteranceState.INTERRUPTED
    # The sound fades out within 5 ms of where it was; the mouth follows from frame 11.
    assert not tl.audio(10 * SAMPLES_PER_FRAME + 100 + FADE_SAMPLES, 60 * SAMPLES_PER_FRAME).any()
    # The mouth eases to rest over the release frames, then rests; the next utterance is gone.
    jaws = [float(tl.mouth(k)[0]) for k in range(10, 11 + RELEASE_FRAMES + 2)]
    assert jaws[0] > jaws[1] > jaws[RELEASE_FRAMES] >= 0.0
    assert all(j == 0.0 for j in jaws[RELEASE_FRAMES + 1 :])
    assert tl.pending() == []


def test_planned_speech_is_frame_aligned_with_a_short_lead() -> None:
    rate = 22050
    t = np.arange(int(1.6 * rate)) / rate
    samples = np.where((t > 0.6) & (t < 1.3), 0.3 * np.sin(2 * np.pi * 180 * t), 0.0).astype(np.float32)
    phones = [TimedPhone("SIL", 0.0, 0.6), TimedPhone("AA", 0.6, 1.3), TimedPhone("SIL", 1.3, 1.6)]
    planned = plan_speech(Audio(samples=samples, sample_rate=rate), phones)
    assert len(planned.samples) == planned.n_frames * SAMPLES_PER_FRAME
    first_sound = int(np.flatnonzero(np.abs(planned.samples) > SILENCE_LEVEL)[0]) // SAMPLES_PER_FRAME
    assert first_sound == LEAD_FRAMES  # 0.6 s of leading silence cut to the lead
    assert planned.mouth[0].tolist() == [0.0] * 6 and planned.mouth[-1].tolist() == [0.0] * 6
    assert planned.mouth[first_sound + 5, 0] > 0.3  # the open vowel opens the jaw
    energy = plan_audio(Audio(samples=samples, sample_rate=rate))
    assert energy.mouth[:, 0].max() > 0.2 and energy.n_frames == planned.n_frames


def test_idle_motion_loops_without_a_jump_and_breathes() -> None:
    motion = IdleMotion(FPS, seed=3)
    heads = np.array([motion.row(k)[1] for k in range(0, 6000)])
    blinks = np.array([motion.row(k)[0] for k in range(0, 6000)])
    steps = np.abs(np.diff(heads, axis=0)).max(axis=0)
    assert steps[0] < 0.2  # roll, degrees per frame: smooth across the loop's turns
    assert steps[1:].max() < 0.005
    assert blinks.max() > 0.95 and (blinks > 0.5).sum() < 0.1 * len(blinks)
    assert np.ptp(heads[:200, 2]) > 0.004  # the breath moves the head a little
