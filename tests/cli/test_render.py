"""End to end: the `facecast render` and `facecast eval` commands as a user runs them.

Real processes, real files: the scikit-image astronaut, speech made by espeak-ng or Piper, real
ffmpeg output checked with ffprobe, quality measured on the frames by the evaluator.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from facecast.engine.encode import probe

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from inputs import astronaut_png, speech_wav  # noqa: E402

FACECAST = str(Path(sys.executable).with_name("facecast"))
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def run(*args: str | Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {"FACECAST_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"}
    return subprocess.run([FACECAST, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("render")


@pytest.fixture(scope="module")
def portrait(work: Path) -> Path:
    return astronaut_png(work / "astronaut.png")


@pytest.fixture(scope="module")
def speech(work: Path) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    return speech_wav(work / "speech.wav", 8.0)


@pytest.fixture(scope="module")
def rendered(work: Path, portrait: Path, speech: Path) -> Path:
    out = work / "out.mp4"
    result = run("render", "--image", portrait, "--audio", speech, "-o", out, cache=work / "cache")
    assert result.returncode == 0, result.stderr
    return out


def test_render_writes_a_playable_mp4_as_long_as_the_audio(rendered: Path, speech: Path) -> None:
    info = probe(rendered)
    audio_seconds = sf.info(str(speech)).duration
    video, audio = info["video"], info["audio"]
    assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
    assert (video["width"], video["height"]) == (512, 512)
    assert audio["codec_name"] == "aac"
    assert video["nb_frames"] == int(np.ceil(audio_seconds * 25 - 1e-6))
    assert abs(audio["duration"] - audio_seconds) < 0.03
    assert rendered.read_bytes().find(b"moov") < rendered.read_bytes().find(b"mdat")  # +faststart


def test_eval_reports_lip_sync_blinks_and_a_stable_identity(rendered: Path, speech: Path, portrait: Path, work: Path) -> None:
    result = run("eval", rendered, "--audio", speech, "--image", portrait, "--json", cache=work / "cache")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["face_frames"] == report["n_frames"]
    assert report["lip_sync_correlation"] >= 0.45
    # The astronaut smiles with her teeth apart at rest: speech opens past that rest (its widest
    # frames), while on average a smile speaks around its own opening (issue 8).
    assert report["mouth_open_speech_p95"] > report["mouth_open_silence"] + 0.05
    assert report["mouth_open_speech_p95"] <= 0.42
    assert report["blink_count"] >= 1
    assert report["identity_similarity"] > 0.9
    assert 0.05 < report["head_roll_std_deg"] < 3.0


@needs_espeak
def test_full_background_keeps_the_background_still(work: Path, speech: Path) -> None:
    wide = astronaut_png(work / "wide.png", size=(960, 540))
    out = work / "full.mp4"
    result = run("render", "--image", wide, "--audio", speech, "--full-background", "-o", out, cache=work / "cache")
    assert result.returncode == 0, result.stderr
    assert (probe(out)["video"]["width"], probe(out)["video"]["height"]) == (960, 540)
    from facecast.engine.evaluate import evaluate_video

    report = evaluate_video(out, speech, wide, full_background=True)
    # Frames are bit-identical outside the person before encoding; what remains is x264 noise.
    assert report.background_change is not None and report.background_change < 1.0


def test_text_render_closes_the_lips_on_m_b_p_at_the_aligned_times(work: Path, portrait: Path) -> None:
    from facecast.engine import face
    from facecast.speech import DEFAULT_VOICE_ID, synthesize

    text = "Bob bought my map. Maybe Mom will pay for the apple pie."
    out = work / "text.mp4"
    result = run("render", "--image", portrait, "--text", text, "--voice", DEFAULT_VOICE_ID, "-o", out,
                 cache=work / "cache")
    assert result.returncode == 0, result.stderr
    assert "mouth from alignment" in result.stderr
    phones = synthesize(text, DEFAULT_VOICE_ID).phones  # deterministic: the same timings the render used

    import av

    with av.open(str(out)) as container, face.FaceTracker() as tracker:
        points = [tracker.track(frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    opening = np.array([face.mouth_opening(p) if p is not None else np.nan for p in points])
    open_vowels = [p for p in phones if p.phone in {"AA", "AE", "AH", "AO", "AW", "AY", "EY", "OW"}]
    bilabials = [p for p in phones if p.phone in {"P", "B", "M"}]
    assert len(bilabials) >= 8
    vowel_open = np.nanmedian([opening[int((p.start + p.end) / 2 * 25)] for p in open_vowels])
    closed = [np.nanmin(opening[max(0, int(p.start * 25)) : int(p.end * 25) + 2]) for p in bilabials]
    rest = face.mouth_opening(points[0])  # frame 0 is silence: the portrait's own closed mouth
    # Every bilabial closes the lips at least as far as rest, far below the open vowels around it.
    assert max(closed) < min(rest + 0.02, vowel_open * 0.5), (closed, rest, vowel_open)


@pytest.mark.parametrize(
    ("make_input", "flag", "message"),
    [
        (lambda d: d / "missing.png", "--image", "no such file"),
        (lambda d: (d / "text.png").write_text("not a picture") and d / "text.png", "--image", "not a picture"),
        (lambda d: astronaut_png(d / "ok.png"), "--audio-garbage", "audio"),
    ],
    ids=["missing-image", "text-as-image", "garbage-audio"],
)
def test_bad_input_is_one_line_exit_2_and_no_file(
    work: Path, speech: Path, make_input, flag: str, message: str  # type: ignore[no-untyped-def]
) -> None:
    out = work / f"bad-{flag}.mp4"
    image = make_input(work)
    audio = speech
    if flag == "--audio-garbage":
        audio = work / "garbage.wav"
        audio.write_bytes(b"RIFF\x00\x00garbage" * 10)
    result = run("render", "--image", image, "--audio", audio, "-o", out, cache=work / "cache")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facecast: error:"), result.stderr
    assert message in lines[0].lower() or message in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert not out.exists() and not list(work.glob("bad-*"))


def test_a_picture_without_a_face_is_refused(work: Path, speech: Path) -> None:
    import cv2

    blank = work / "sky.png"
    cv2.imwrite(str(blank), np.full((400, 400, 3), (235, 206, 135), np.uint8))
    result = run("render", "--image", blank, "--audio", speech, "-o", work / "sky.mp4", cache=work / "cache")
    assert result.returncode == 2 and "face" in result.stderr.lower()
    assert not (work / "sky.mp4").exists()


def test_silence_renders_a_still_closed_mouth(work: Path, portrait: Path) -> None:
    silence = work / "silence.wav"
    sf.write(silence, np.zeros(16000 * 2, np.float32), 16000)
    out = work / "silence.mp4"
    result = run("render", "--image", portrait, "--audio", silence, "-o", out, cache=work / "cache")
    assert result.returncode == 0, result.stderr
    from facecast.engine.evaluate import evaluate_video

    report = evaluate_video(out, silence, portrait)
    assert report.n_frames == 50
    opening = report.mouth_opening
    assert float(opening.max() - opening.min()) < 0.02  # the mouth never moves


def test_help_explains_every_option() -> None:
    result = subprocess.run([FACECAST, "render", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for option in ("--image", "--video", "--audio", "--text", "--voice", "--full-background", "--seed", "--size"):
        assert option in result.stdout


def test_the_same_seed_gives_the_same_file_and_another_seed_another(work: Path, portrait: Path, speech: Path) -> None:
    short = work / "short.wav"
    samples, rate = sf.read(speech, dtype="float32")
    sf.write(short, samples[: 3 * rate], rate)
    digests = []
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        out = work / f"seed-{name}.mp4"
        result = run("render", "--image", portrait, "--audio", short, "--seed", seed, "-o", out, cache=work / "cache")
        assert result.returncode == 0, result.stderr
        digests.append(out.read_bytes())
    assert digests[0] == digests[1]
    assert digests[0] != digests[2]  # blinks and head motion come from the seed
