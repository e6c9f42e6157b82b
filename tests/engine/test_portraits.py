"""Real portraits as people upload them (issue 8): smiles with teeth, a mouth caught mid-word, a
tongue out, greyscale and low-resolution photos, glasses, beards, turned heads, faces at the edge,
a painting and an illustration. Each is rendered speaking real speech with pauses, measured by the
evaluator, and left as a contact sheet (frames plus mouth, blink and chin close-ups) under
``test-output/portraits/`` for a person to look at.

Three portraits (a toothy smile, turned a little; a greyscale photo; a mouth caught mid-word) run in the default
suite, one of them from a text script; the whole set is marked slow.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from facecast.engine import TimedPhone, prepare_avatar
from facecast.engine.animate import PhotoAnimator
from facecast.engine.evaluate import QualityReport
from tests.portraits import PORTRAITS, Portrait, load_portrait, missing_portraits

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from inputs import speech_wav  # noqa: E402
from portraits import SCRIPT, render_and_measure, speak  # noqa: E402

OUTPUT = ROOT / "test-output" / "portraits"
#: Speaking opening (inner-lip gap over eye distance), as the issue asks: a human range.
SPEECH_MEDIAN_MAX, SPEECH_P95_MAX = 0.32, 0.42
#: Pauses return to the portrait's own rest, or to closed lips for a photo caught mid-word.
PAUSE_TOLERANCE = 0.04
DEFAULT_SET = ("smiling_man_turned", "takeo_kanade", "franck_mid_word")


def _params(names: tuple[str, ...] | None) -> list[object]:
    missing = missing_portraits()
    out: list[object] = []
    for p in PORTRAITS:
        if names is not None and p.name not in names:
            continue
        marks = [pytest.mark.skip(reason=missing[p.name])] if p.name in missing else []
        if names is None:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(p, id=p.name, marks=marks))
    return out


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return speech_wav(tmp_path_factory.mktemp("speech") / "speech.wav", 8.0)


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TimedPhone]]:
    """A text script spoken by the default voice, with the voice's own phone times."""
    path = tmp_path_factory.mktemp("script") / "script.wav"
    return path, speak(SCRIPT, path)


def _check(portrait: Portrait, report: QualityReport, rest_kind: str, *, pauses: bool = True) -> None:
    """The issue's figures for one render. ``pauses``: the speech has real pauses (the audio does;
    the text script's sentence breaks are shorter than the mouth's way back to rest and out again,
    so its quiet frames are transitions, not rest)."""
    name = portrait.name
    assert report.face_frames == report.n_frames, name
    assert report.mouth_open_speech_median is not None and report.mouth_open_speech_p95 is not None
    assert report.mouth_open_speech_median <= SPEECH_MEDIAN_MAX, name
    assert report.mouth_open_speech_p95 <= SPEECH_P95_MAX, name
    if "greyscale" in portrait.tags:
        assert report.mouth_saturated_pixels_added == 0, name
    # The evaluator's face mesh cannot follow the lids of a tiny, low-resolution or strongly turned
    # face, nor a drawing's (its eye opening barely changes there); elsewhere it must see blinks.
    hard_to_track = bool(portrait.tags & {"low-res", "small-face", "turned-45", "illustration"})
    if not hard_to_track:
        assert report.blink_count >= 1, name
    assert report.identity_landmark_drift < 5.0, name
    if portrait.tags & {"tongue-out", "small-face"}:
        # The face mesh cannot see a lower lip hidden under a tongue stuck out, nor the lips of a
        # face enlarged 4x from 30 pixels between the eyes: its opening (and so lip sync and pauses
        # measured on it) follows the tongue or the blur, not the lips. Look at the sheet.
        return
    # It speaks: the mouth moves with the sound and opens in speech more than in the pauses.
    assert report.lip_sync_correlation is not None and report.lip_sync_correlation >= 0.3, name
    assert report.mouth_open_silence is not None and report.portrait_mouth_opening is not None
    rest = 0.0 if rest_kind in ("open", "tongue") else report.portrait_mouth_opening
    if pauses:
        assert abs(report.mouth_open_silence - rest) <= PAUSE_TOLERANCE, (name, rest_kind)
    # Identity: the rigid landmarks stay put (above); the eyes-and-nose SSIM is low on faces that
    # fill a soft, upscaled frame (the region reaches the frame's edge): it only has to be sensible.
    if not hard_to_track:
        assert report.identity_similarity > 0.6, name
    if (
        "smile-teeth" in portrait.tags
        and rest_kind == "teeth"
        and report.upper_teeth_kept is not None
        and "low-res" not in portrait.tags  # a few pixels of faint teeth: no band to correlate
    ):
        assert report.upper_teeth_kept >= 0.5, name  # the photo's own upper teeth stay


@pytest.mark.parametrize("portrait", _params(DEFAULT_SET))
def test_portraits_people_upload_speak_believably(portrait: Portrait, speech: Path, tmp_path: Path) -> None:
    report, kind = render_and_measure(portrait.name, speech, tmp_path, OUTPUT)
    _check(portrait, report, kind)


@pytest.mark.parametrize("portrait", _params(DEFAULT_SET[:1]))
def test_a_smile_speaks_a_text_script(
    portrait: Portrait, script: tuple[Path, list[TimedPhone]], tmp_path: Path
) -> None:
    report, kind = render_and_measure(portrait.name, script[0], tmp_path, OUTPUT, script[1])
    _check(portrait, report, kind, pauses=False)


@pytest.mark.parametrize("portrait", _params(None))
def test_every_test_portrait_speaks_believably(portrait: Portrait, speech: Path, tmp_path: Path) -> None:
    report, kind = render_and_measure(portrait.name, speech, tmp_path, OUTPUT)
    _check(portrait, report, kind)


@pytest.mark.parametrize("portrait", _params(None))
def test_every_test_portrait_speaks_a_text_script(
    portrait: Portrait, script: tuple[Path, list[TimedPhone]], tmp_path: Path
) -> None:
    report, kind = render_and_measure(portrait.name, script[0], tmp_path, OUTPUT, script[1])
    _check(portrait, report, kind, pauses=False)


def test_a_greyscale_portrait_gets_a_grey_mouth() -> None:
    """Straight from the animator, before any encoding: not one coloured pixel in the mouth."""
    names = [p.name for p in PORTRAITS if "greyscale" in p.tags and p.name not in missing_portraits()]
    if not names:
        pytest.skip("no greyscale test portrait is installed")
    pack = prepare_avatar(load_portrait(names[0]))
    animator = PhotoAnimator(pack)
    wide = np.array([1.0, 0.2, 0.5, 0.6, 0.0, 0.6], np.float32)
    frame = animator.frame(wide, 0.0, np.array([0.0, 0.0, 0.0, 1.0], np.float32))
    spread = frame.max(axis=2).astype(int) - frame.min(axis=2).astype(int)
    assert spread.max() <= 2
