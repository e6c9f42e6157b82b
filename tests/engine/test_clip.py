"""Video-avatar preparation: streaming decode, tracking, smoothing, loop points, errors, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecast.engine import face
from facecast.engine.clip import (
    VideoAvatarPack,
    closed_frames,
    output_size,
    prepare_video_avatar,
    smooth_landmarks,
    turn_points,
)
from facecast.engine.clip_render import bounce_positions, walk
from facecast.errors import FaceLost, NoFaceFound, UnreadableVideo, VideoTooLong
from tests.engine.test_clip_inputs import faceless_clip, moving_clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return moving_clip(tmp_path_factory.mktemp("clip") / "moving.mp4", seconds=3.0)


@pytest.fixture(scope="module")
def pack(clip: Path) -> VideoAvatarPack:
    return prepare_video_avatar(clip)


def test_prepare_tracks_every_frame(pack: VideoAvatarPack) -> None:
    assert pack.size == (512, 512)
    assert pack.fps == 25.0
    assert pack.n_frames == 75 and (pack.start, pack.end) == (0, 75)
    assert pack.landmarks.shape == (75, 478, 3)
    assert np.isfinite(pack.landmarks).all()
    assert pack.closed.any()
    assert pack.rest_mouth.shape == (478, 2)
    assert pack.warnings == []
    # The head sways by a few pixels: the tracked nose tip follows it.
    nose = pack.landmarks[:, 1, :2]
    assert 2.0 < float(np.ptp(nose[:, 0])) < 30.0


def test_landmarks_are_smooth(pack: VideoAvatarPack) -> None:
    # Second differences (jitter) of the smoothed track stay well under a pixel for a slow sway.
    accel = np.abs(np.diff(pack.landmarks[:, :468, :2], n=2, axis=0))
    assert float(np.median(accel)) < 0.3


def test_smoothing_removes_jitter(pack: VideoAvatarPack) -> None:
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 50)[:, None, None]
    clean = (pack.landmarks[0][None] + np.array([20.0, 10.0, 0.0]) * t).astype(np.float32)
    noisy = clean + rng.normal(0, 1.0, clean.shape).astype(np.float32)
    error = np.abs(smooth_landmarks(noisy, 25.0) - clean).mean(axis=(0, 2))
    before = np.abs(noisy - clean).mean(axis=(0, 2))
    rigid = list(face.RIGID_POINTS)
    assert error[rigid].mean() < 0.6 * before[rigid].mean()
    assert error.mean() < 0.8 * before.mean()


def test_output_size_is_even_and_capped() -> None:
    assert output_size((1920, 1080), size=None, max_side=1280) == (1280, 720)
    assert output_size((641, 481), size=None, max_side=1280) == (640, 480)
    assert output_size((1080, 1920), size=640, max_side=1280) == (360, 640)
    assert output_size((320, 240), size=1000, max_side=1280) == (320, 240)  # never upscaled


def test_prepare_downscales_while_decoding(clip: Path) -> None:
    small = prepare_video_avatar(clip, max_side=320)
    assert small.size == (320, 320)
    assert small.frame(10).shape == (320, 320, 3)
    assert np.all(small.landmarks[..., :2] < 320)


def test_closed_frames_need_a_still_closed_mouth() -> None:
    gap = np.array([0.0] * 10 + [0.2, 0.3, 0.2] + [0.0] * 10, np.float32)
    closed = closed_frames(gap, 25.0)
    assert closed[:8].all() and not closed[10:13].any()


def test_save_and_load(pack: VideoAvatarPack, tmp_path: Path) -> None:
    path = tmp_path / "avatar.fcvideo"
    pack.save(path)
    loaded = VideoAvatarPack.load(path)
    try:
        assert loaded.n_frames == pack.n_frames and loaded.size == pack.size and loaded.fps == pack.fps
        np.testing.assert_allclose(loaded.landmarks, pack.landmarks)
        assert loaded.loop == pack.loop
        assert np.array_equal(loaded.frame(5), pack.frame(5))
        assert len(loaded.interiors) == len(pack.interiors)
    finally:
        loaded.close()


def test_load_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "x.fcvideo"
    path.write_bytes(b"not a zip")
    with pytest.raises(UnreadableVideo):
        VideoAvatarPack.load(path)


def test_bounce_walk_is_continuous_and_eases_at_turns() -> None:
    positions = bounce_positions(0, 50, 300, 1.0, 8.0)
    assert positions.min() >= 0 and positions.max() <= 49
    steps = np.abs(np.diff(positions))
    assert steps.max() <= 1.0 + 1e-6
    turns = np.flatnonzero(np.diff(np.sign(np.diff(positions))) != 0)
    assert len(turns) >= 4
    assert all(steps[t] < 0.2 for t in turns)


def test_walk_covers_long_speech(pack: VideoAvatarPack) -> None:
    steps = walk(pack, 400, 25.0)
    assert len(steps) == 400
    for step in steps:
        assert abs(sum(w for _, w in step.sources) - 1.0) < 1e-6
        assert all(pack.start <= i < pack.end for i, _ in step.sources)


# --- refusals --------------------------------------------------------------------------------------
def test_garbage_file_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(UnreadableVideo):
        prepare_video_avatar(path)
    with pytest.raises(UnreadableVideo):
        prepare_video_avatar(tmp_path / "missing.mp4")


def test_audio_only_file_is_unreadable(tmp_path: Path) -> None:
    import soundfile as sf

    path = tmp_path / "speech.wav"
    sf.write(path, np.zeros(16000, np.float32), 16000)
    with pytest.raises(UnreadableVideo, match="no video"):
        prepare_video_avatar(path)


def test_too_long_clip(clip: Path) -> None:
    with pytest.raises(VideoTooLong, match="2 s"):
        prepare_video_avatar(clip, max_seconds=2.0)


def test_clip_without_a_face(tmp_path: Path) -> None:
    with pytest.raises(NoFaceFound):
        prepare_video_avatar(faceless_clip(tmp_path / "noface.mp4"))


def test_too_short_clip(tmp_path: Path) -> None:
    with pytest.raises(UnreadableVideo, match="at least 1 s"):
        prepare_video_avatar(moving_clip(tmp_path / "short.mp4", seconds=0.6, side=320))


def test_face_leaving_the_frame(tmp_path: Path) -> None:
    clip = moving_clip(tmp_path / "leaving.mp4", seconds=3.0, side=320, leave_at=1.0)
    with pytest.raises(FaceLost):
        prepare_video_avatar(clip)


def test_fast_clips_are_stored_at_most_30_fps(tmp_path: Path) -> None:
    clip = moving_clip(tmp_path / "fast.mp4", seconds=1.6, fps=60, side=320)
    fast = prepare_video_avatar(clip)
    assert fast.fps == 30.0
    assert abs(fast.n_frames - 48) <= 1


def test_turn_points_avoid_blinks_and_head_motion(pack: VideoAvatarPack) -> None:
    n = 100
    landmarks = np.repeat(pack.landmarks[:1], n, axis=0).copy()
    sway = np.sin(np.linspace(0, 6 * np.pi, n)) * 5.0  # still where the sine turns round
    landmarks[..., 0] += sway[:, None].astype(np.float32)
    eye = np.full(n, 0.3, np.float32)
    eye[95:99] = 0.05  # a blink at the very end
    first, last = turn_points(landmarks, eye, 0, n, 25.0)
    assert 0 <= first < 15 and 85 <= last < 88
    speed = np.abs(np.gradient(sway))
    assert speed[first] < 0.5 * speed.max()


def test_rotated_phone_clip_is_turned_upright(tmp_path: Path) -> None:
    """A clip stored sideways with display-rotation metadata (as phones record) comes out upright."""
    import subprocess

    import imageio_ffmpeg

    from tests.engine.test_clip_inputs import astronaut, write_clip

    upright = astronaut(320)[:, 40:280]  # 240 wide, 320 tall
    stored = np.ascontiguousarray(np.rot90(upright, k=-1))  # turned clockwise: 320 wide, 240 tall
    sideways = write_clip(tmp_path / "sideways.mp4", [stored] * 30)
    tagged = tmp_path / "phone.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-display_rotation", "90", "-i", str(sideways),
         "-c", "copy", str(tagged)],
        check=True,
    )  # fmt: skip
    phone = prepare_video_avatar(tagged)
    assert phone.size == (240, 320)
    points = phone.landmarks[0]
    assert points[13, 1] > points[list(face.LEFT_EYE), 1].max()  # mouth below the eyes


def test_absurd_resolution_is_refused(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from facecast.engine import clip as clip_module
    from facecast.errors import VideoTooLarge

    monkeypatch.setattr(clip_module, "MAX_SOURCE_PIXELS", 100_000)
    with pytest.raises(VideoTooLarge, match="512x512") as error:
        prepare_video_avatar(clip)
    assert error.value.field == "video"


def test_several_faces_give_a_warning(tmp_path: Path) -> None:
    from tests.engine.test_clip_inputs import astronaut, write_clip

    big, small = astronaut(320), astronaut(320)
    small[:] = 230
    small[60:260, 60:260] = astronaut(200)
    two = write_clip(tmp_path / "two.mp4", [np.hstack([big, small])] * 30)
    pack = prepare_video_avatar(two)
    assert any("several faces" in warning for warning in pack.warnings)
    assert float(pack.landmarks[0, 1, 0]) < 320  # the larger face (on the left) is the one tracked
