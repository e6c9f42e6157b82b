"""Quality figures on short synthetic videos made from the astronaut portrait."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import soundfile as sf

from facecast.engine import face
from facecast.engine.evaluate import count_blinks, evaluate_video, format_report, lagged_correlation
from facecast.errors import UnreadableVideo
from tests.engine.test_clip_inputs import write_clip

FPS = 25


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


def _write(path: Path, frames: list[np.ndarray]) -> Path:
    return write_clip(path, frames, FPS, preset="ultrafast")


def _open_mouth(image: np.ndarray, points: np.ndarray, amount: float) -> np.ndarray:
    """Drop the chin and lower lip by up to 14 px, showing a dark gap: a crude jaw opening."""
    d = int(round(14 * amount))
    if d == 0:
        return image
    mx, my = points[list(face.INNER_LIPS), :2].mean(axis=0).round().astype(int)
    out = image.copy()
    x0, x1 = mx - 45, mx + 45
    out[my + d : my + 80, x0:x1] = image[my : my + 80 - d, x0:x1]
    out[my : my + d, mx - 18 : mx + 18] = (60, 20, 25)
    weight = np.clip(1 - np.abs(np.arange(x0, x1) - mx) / 45, 0, 1)[None, :, None]
    out[my : my + 80, x0:x1] = (
        out[my : my + 80, x0:x1] * weight + image[my : my + 80, x0:x1] * (1 - weight)
    ).astype(np.uint8)
    return out


def test_still_video_is_still(tmp_path: Path, astronaut: np.ndarray) -> None:
    video = _write(tmp_path / "still.mp4", [astronaut] * 25)
    r = evaluate_video(video, full_background=True)
    assert (r.n_frames, r.width, r.height, r.face_frames) == (25, 512, 512, 25)
    assert r.fps == pytest.approx(FPS)
    assert r.blink_count == 0
    assert r.head_roll_std_deg < 0.3 and r.head_translation_std_pct < 1.0
    assert r.background_change is not None and r.background_change < 0.8
    assert r.identity_landmark_drift < 2.0 and r.identity_similarity > 0.95
    assert r.lip_sync_correlation is None and any("audio" in w for w in r.warnings)
    text = format_report(r)
    assert "lip sync" in text and "background change" in text


def test_moving_video_shows_head_motion_and_background_change(tmp_path: Path, astronaut: np.ndarray) -> None:
    shifts = np.round(8 * np.sin(np.arange(25) / 4)).astype(int)
    frames = [
        cv2.warpAffine(
            astronaut, np.float32([[1, 0, s], [0, 1, 0]]), (512, 512), borderMode=cv2.BORDER_REFLECT
        )
        for s in shifts
    ]
    r = evaluate_video(_write(tmp_path / "moving.mp4", frames), full_background=True)
    assert r.head_translation_std_pct > 5.0
    assert r.background_change is not None and r.background_change > 2.0
    assert r.identity_similarity > 0.9  # the face itself does not change


def test_mouth_following_loudness_correlates(tmp_path: Path, astronaut: np.ndarray) -> None:
    points = face.face_landmarks(astronaut).points
    n = 50
    pattern = np.clip(1.2 * np.sin(np.arange(n) / FPS * 2 * np.pi * 1.3), 0, 1)
    pattern[30:42] = 0
    video = _write(tmp_path / "talk.mp4", [_open_mouth(astronaut, points, a) for a in pattern])
    sr = 16000
    t = np.arange(int(n / FPS * sr)) / sr
    envelope = np.interp(t * FPS, np.arange(n), pattern)
    sf.write(tmp_path / "talk.wav", (0.5 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)
    r = evaluate_video(
        video, tmp_path / "talk.wav", astronaut_path(tmp_path, astronaut), full_background=False
    )
    assert r.loudness is not None and len(r.loudness) == n
    assert r.lip_sync_best_correlation is not None and r.lip_sync_best_correlation > 0.3
    assert r.lip_sync_lag_frames is not None and abs(r.lip_sync_lag_frames) <= 1
    assert r.mouth_open_speech is not None and r.mouth_open_silence is not None
    assert r.mouth_open_speech > r.mouth_open_silence + 0.02
    assert r.background_change is None
    assert r.identity_landmark_drift_portrait is not None and r.identity_landmark_drift_portrait < 4.0
    assert r.identity_similarity_portrait is not None and r.identity_similarity_portrait > 0.8


def astronaut_path(tmp_path: Path, astronaut: np.ndarray) -> Path:
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), astronaut[:, :, ::-1])
    return path


def test_lagged_correlation_finds_the_lag() -> None:
    rng = np.random.default_rng(1)
    loud = rng.random(200)
    mouth = np.roll(loud, 2)  # the mouth follows two frames late
    at0, best, lag = lagged_correlation(mouth, loud)
    assert lag == 2 and best == pytest.approx(1.0, abs=0.05) and at0 is not None and at0 < 0.5
    assert lagged_correlation(np.zeros(50), loud[:50])[0] is None  # no variation: undefined


def test_count_blinks() -> None:
    ear = np.full(100, 0.3)
    ear[10:14] = [0.2, 0.05, 0.04, 0.2]
    ear[60:63] = [0.1, 0.05, 0.12]
    ear[80] = 0.22  # a flicker, not a blink
    ear[90] = np.nan
    assert count_blinks(ear) == 2


def test_unreadable_video(tmp_path: Path) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_text("nope")
    with pytest.raises(UnreadableVideo, match="clip.mp4"):
        evaluate_video(bogus)


def test_a_changing_face_lowers_identity_similarity(tmp_path: Path, astronaut: np.ndarray) -> None:
    smeared = cv2.GaussianBlur(astronaut, (0, 0), 2.5)
    r = evaluate_video(_write(tmp_path / "smear.mp4", [astronaut] * 5 + [smeared] * 5), full_background=False)
    assert r.identity_similarity_min < 0.8 < r.identity_similarity
