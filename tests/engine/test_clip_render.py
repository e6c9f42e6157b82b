"""Video-avatar rendering end to end: the engine makes the astronaut speak one text (the recording),
the clip is prepared as a video avatar and re-synced to other speech."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facecast.engine import face, load_audio
from facecast.engine.audio import Audio, loudness_envelope
from facecast.engine.clip import VideoAvatarPack, prepare_video_avatar, render_clip_avatar
from facecast.engine.clip_render import ClipAnimator, Step, render_video_avatar, walk
from facecast.engine.encode import probe
from facecast.engine.evaluate import evaluate_video, lagged_correlation
from facecast.engine.motion import MotionTrack
from facecast.engine.visemes import MOUTH_PARAMS, MouthTrack
from facecast.errors import RenderCancelled
from tests.engine.test_clip_inputs import moving_clip, speaking_clip, speech

RECORDING_TEXT = "Good morning. Apples and pears grow in our garden, all summer long."
NEW_TEXT = "Bob bought a big map. Then Mom paid for the maple pie, with five old coins."


@dataclasses.dataclass
class Resync:
    recording: Path
    recording_audio: np.ndarray
    pack: VideoAvatarPack
    new_wav: Path
    output: Path


@pytest.fixture(scope="module")
def resync(tmp_path_factory: pytest.TempPathFactory) -> Resync:
    tmp = tmp_path_factory.mktemp("resync")
    recording, samples = speaking_clip(tmp / "recording.mp4", tmp, RECORDING_TEXT)
    pack = prepare_video_avatar(recording)
    new_wav = tmp / "new.wav"
    speech(new_wav, NEW_TEXT, voice="en-us", speed=150)
    output = tmp / "resynced.mp4"
    render_video_avatar(pack, load_audio(new_wav), output)
    return Resync(recording, samples, pack, new_wav, output)


def test_output_has_the_new_speech_only(resync: Resync) -> None:
    info = probe(resync.output)
    new_audio = load_audio(resync.new_wav)
    assert info["video"]["codec_name"] == "h264"
    assert (info["video"]["width"], info["video"]["height"]) == resync.pack.size
    assert info["audio"]["codec_name"] == "aac"
    assert len([s for s in info["streams"] if s["codec_type"] == "audio"]) == 1
    assert info["format"]["duration"] == pytest.approx(new_audio.duration, abs=0.1)
    # The new speech is longer than the recording: the walk turned round at least once.
    assert new_audio.duration > resync.pack.duration


def test_mouth_follows_the_new_speech_not_the_recording(resync: Resync) -> None:
    report = evaluate_video(resync.output, resync.new_wav)
    assert report.lip_sync_best_correlation is not None and report.lip_sync_best_correlation >= 0.4
    # What the recording's own audio and mouth did at the frames shown.
    pack = resync.pack
    steps = walk(pack, report.n_frames, report.fps)
    shown = np.array([int(round(step.position)) for step in steps])
    old_loudness = loudness_envelope(Audio(resync.recording_audio, 16000), pack.fps, pack.n_frames)[shown]
    _, r_old, _ = lagged_correlation(report.mouth_opening, old_loudness)
    _, r_old_mouth, _ = lagged_correlation(report.mouth_opening, pack.gap[shown])
    assert r_old is not None and r_old_mouth is not None
    assert r_old < 0.35 and r_old_mouth < 0.35
    assert report.lip_sync_best_correlation > r_old + 0.25
    # Pauses close the mouth more than speech opens it.
    assert report.mouth_open_silence is not None and report.mouth_open_speech is not None
    assert report.mouth_open_silence < report.mouth_open_speech


def test_recording_mouth_is_neutralised(resync: Resync) -> None:
    """With a closed mouth asked for, the output barely moves where the recording speaks."""
    pack = resync.pack
    animator = ClipAnimator(pack)
    rest = np.zeros(len(MOUTH_PARAMS), np.float32)
    frames = range(pack.start, pack.end, 3)
    opening = []
    with face.FaceTracker() as tracker:
        for index in frames:
            points = tracker.track(animator.frame(Step(((float(index), 1.0),)), rest))
            assert points is not None
            opening.append(float(face.mouth_opening(points)))
    recorded = pack.gap[list(frames)]
    assert float(np.ptp(recorded)) > 0.1  # the recording speaks
    assert float(np.std(opening)) < 0.3 * float(np.std(recorded))


def test_identity_and_background_are_the_recordings(resync: Resync) -> None:
    """Away from the mouth and jaw, output frames are the recording's frames (eyes, hair, background)."""
    import av

    pack = resync.pack
    with av.open(str(resync.output)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    steps = walk(pack, len(frames), 25.0)
    for k in range(0, len(frames), 10):
        if len(steps[k].sources) != 1:
            continue
        index = int(steps[k].sources[0][0])
        source = pack.frame(index).astype(np.float32)
        out = frames[k].astype(np.float32)
        points = pack.landmarks[index]
        iod = float(face.eye_distance(points))
        nose_y = float(points[2, 1])
        keep = np.ones(out.shape[:2], bool)
        mouth = points[list(face.LIPS), :2].mean(axis=0)
        yy, xx = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
        keep &= ~((yy > nose_y - 0.1 * iod) & (np.abs(xx - mouth[0]) < 1.6 * iod) & (yy < mouth[1] + 1.6 * iod))
        difference = float(np.abs(out - source)[keep].mean())
        assert difference < 4.0, f"output frame {k} differs from clip frame {index} away from the mouth"


def test_motion_track_is_ignored(resync: Resync) -> None:
    """Blinks and head motion come from the recording, not from the motion track."""
    animator = ClipAnimator(resync.pack)
    mouth = MouthTrack(25.0, np.tile(np.array([0.5, 0, 0.2, 0.3, 0, 0], np.float32), (4, 1)))
    still = MotionTrack(25.0, np.zeros(4, np.float32), np.tile(np.array([0, 0, 0, 1], np.float32), (4, 1)))
    lively = MotionTrack(25.0, np.ones(4, np.float32), np.tile(np.array([3, 0.2, 0.1, 1.1], np.float32), (4, 1)))
    for a, b in zip(animator.frames(mouth, still), animator.frames(mouth, lively), strict=True):
        assert np.array_equal(a, b)


def test_silence_gives_a_still_closed_mouth(resync: Resync, tmp_path: Path) -> None:
    output = tmp_path / "silent.mp4"
    result = render_video_avatar(resync.pack, Audio(np.zeros(32000, np.float32), 16000), output)
    assert result.n_frames == 50
    report = evaluate_video(output)
    rest = float(np.median(resync.pack.gap[resync.pack.closed]))
    assert float(np.nanmax(report.mouth_opening)) < rest + 0.08


def test_cancel_leaves_no_file(resync: Resync, tmp_path: Path) -> None:
    output = tmp_path / "cancelled.mp4"
    with pytest.raises(RenderCancelled):
        render_video_avatar(resync.pack, load_audio(resync.new_wav), output, should_cancel=lambda: True)
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []


def test_saved_pack_renders_the_same(resync: Resync, tmp_path: Path) -> None:
    path = tmp_path / "avatar.fcvideo"
    resync.pack.save(path)
    loaded = VideoAvatarPack.load(path)
    try:
        mouth = np.array([0.6, 0.2, 0.3, 0.4, 0.0, 0.0], np.float32)
        for index in (0, 17, loaded.n_frames - 1):
            a = ClipAnimator(resync.pack).frame(Step(((float(resync.pack.start + index), 1.0),)), mouth)
            b = ClipAnimator(loaded).frame(Step(((float(index), 1.0),)), mouth)
            assert np.array_equal(a, b)
    finally:
        loaded.close()


def test_loop_walk_cross_fades_at_the_cut(resync: Resync) -> None:
    pack = dataclasses.replace(resync.pack, loop=(10, resync.pack.end - 5))
    steps = walk(pack, 300, 25.0, mode="loop")
    fades = [step for step in steps if step.blend == "fade"]
    assert fades and all(len(step.sources) == 2 for step in fades)
    positions = [step.position for step in steps]
    assert min(positions) >= pack.start and max(positions) < pack.end
    frame = ClipAnimator(pack, mode="loop").frame(fades[len(fades) // 2], np.zeros(6, np.float32))
    assert frame.shape == (pack.size[1], pack.size[0], 3)


def test_one_call_for_the_command_line(tmp_path: Path) -> None:
    clip = moving_clip(tmp_path / "clip.mp4", seconds=1.6, side=320)
    audio = Audio(np.zeros(16000, np.float32), 16000)
    progress: list[float] = []
    result = render_clip_avatar(clip, audio, tmp_path / "out.mp4", on_progress=progress.append)
    assert result.size == (320, 320) and result.n_frames == 25
    assert progress[-1] == pytest.approx(1.0) and progress == sorted(progress)


@pytest.mark.slow
def test_full_hd_clip_is_prepared_at_the_working_size(tmp_path: Path) -> None:
    """A 1080p, 30 fps clip: decoded and downscaled frame by frame, rendered at 1280x720."""
    import subprocess
    import sys

    import cv2

    from tests.engine.test_clip_inputs import astronaut, write_clip

    scene = cv2.copyMakeBorder(astronaut(1080), 0, 0, 420, 420, cv2.BORDER_REFLECT_101)

    def frames() -> Iterator[np.ndarray]:
        for k in range(180):
            matrix = cv2.getRotationMatrix2D((960, 420), 2.0 * np.sin(k / 11.0), 1.0)
            matrix[0, 2] += 8 * np.sin(k / 8.0)
            yield cv2.warpAffine(scene, matrix, (1920, 1080), borderMode=cv2.BORDER_REFLECT)

    clip = write_clip(tmp_path / "hd.mp4", frames(), fps=30)
    # Peak memory of a fresh process preparing it: 180 full-HD RGB frames alone would be 1.1 GB.
    script = (
        "import resource, sys; from facecast.engine.clip import prepare_video_avatar; "
        "prepare_video_avatar(sys.argv[1]); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", script, str(clip)], capture_output=True, text=True, check=True)
    assert int(done.stdout.split()[-1]) / 1024 < 700
    pack = prepare_video_avatar(clip)
    assert pack.size == (1280, 720) and pack.fps == 30.0 and pack.n_frames == 180
    wav = tmp_path / "speech.wav"
    speech(wav, NEW_TEXT + " " + NEW_TEXT)
    output = tmp_path / "hd_out.mp4"
    result = render_video_avatar(pack, load_audio(wav), output)
    info = probe(output)
    assert (info["video"]["width"], info["video"]["height"]) == (1280, 720)
    assert info["format"]["duration"] == pytest.approx(result.duration, abs=0.1)
