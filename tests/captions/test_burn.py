"""Captions burnt into real videos: text inside the frame at every aspect ratio, the highlight
changing on the word's start frame, CJK glyphs drawn, the audio copied bit for bit, and bad input
refused with nothing left behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facecast.captions import NoSpeechFound, Transcript, builtin_template, caption_video, transcript_for
from facecast.captions.pipeline import NoAudioTrack
from facecast.engine.encode import probe
from facecast.errors import RenderCancelled, UnreadableVideo
from facecast.speech.models import TimedWord

from .media import audio_md5, frames, make_video, speech_video


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("captions")


def _ink(frame: np.ndarray) -> np.ndarray:
    return frame.max(axis=2) > 40  # captions on a black video: anything bright is caption


@pytest.mark.parametrize("size", [(640, 360), (360, 640), (480, 480)])
@pytest.mark.parametrize("slug", ["clean-subtitle", "bold-highlight", "lower-third", "vertical-social"])
def test_caption_pixels_stay_inside_the_frame(work: Path, size: tuple[int, int], slug: str) -> None:
    width, height = size
    video, spoken = speech_video(work, width, height)
    # A very long word too: it must shrink the text rather than leave the frame.
    words = list(spoken.words)
    words[3] = TimedWord("Pneumonoultramicroscopicsilicovolcanoconiosis", words[3].start, words[3].end)
    out = work / f"{slug}-{width}x{height}.mp4"
    caption_video(video, out, builtin_template(slug), words=words)
    shown, _ = frames(out)
    ink = np.zeros((height, width), bool)
    for frame in shown[::3]:
        ink |= _ink(frame)
    ys, xs = np.nonzero(ink)
    assert xs.size > 200, "no caption drawn"
    margin = 2  # the template margin is far larger; text must not touch the edges
    assert xs.min() >= margin and xs.max() < width - margin
    assert ys.min() >= margin and ys.max() < height - margin


def _highlight_x(frame: np.ndarray) -> float | None:
    r, g, b = (frame[..., i].astype(int) for i in range(3))
    yellow = (r > 180) & (g > 150) & (b < 90)
    return float(np.nonzero(yellow)[1].mean()) if yellow.sum() > 30 else None


def test_highlight_moves_on_the_word_start_frame(work: Path) -> None:
    video, spoken = speech_video(work, 640, 360)
    out = work / "highlight.mp4"
    result = caption_video(video, out, builtin_template("bold-highlight"), words=spoken.words)
    shown, fps = frames(out)
    xs = [_highlight_x(f) for f in shown]
    words = result.transcript.words
    checked = 0
    for prev, word in zip(words[:-1], words[1:], strict=True):
        if prev.word.endswith(".") or word.start - prev.end > 0.5:
            continue  # a page change, not a move within the page
        frame = int(round(word.start * fps))
        before, after = xs[max(0, frame - 2)], xs[min(len(xs) - 1, frame + 1)]
        assert before is not None and after is not None
        assert abs(after - before) > 10, f"highlight did not move to {word.word!r} at {word.start:.2f}s"
        checked += 1
    assert checked >= 4


def test_cjk_text_is_drawn_with_glyphs(work: Path) -> None:
    video = make_video(work / "cjk.mp4", 640, 360, seconds=2.0)
    crops = []
    for text in ("你好", "世界", "□□"):
        words = [TimedWord(text, 0.0, 1.9)]
        out = work / f"cjk-{len(crops)}.mp4"
        caption_video(
            video, out, builtin_template("bold-highlight"), transcript=Transcript(words, "speech", "zh", 2.0)
        )
        shown, _ = frames(out)
        crops.append(_ink(shown[10]))
    glyphs_a, glyphs_b, boxes = crops
    assert glyphs_a.sum() > 150 and glyphs_b.sum() > 150
    # Different characters look different, and neither looks like two empty boxes.
    assert (glyphs_a ^ glyphs_b).sum() > 0.3 * glyphs_a.sum()
    assert (glyphs_a ^ boxes).sum() > 0.3 * glyphs_a.sum()


def test_audio_is_copied_not_reencoded(work: Path) -> None:
    video, spoken = speech_video(work, 480, 480)
    out = work / "copied.mp4"
    result = caption_video(video, out, builtin_template("karaoke"), words=spoken.words)
    assert result.audio_copied
    assert audio_md5(out) == audio_md5(video)
    info = probe(out)
    assert info["video"]["width"] == 480 and info["audio"]["codec_name"] == "aac"
    assert abs(info["format"]["duration"] - probe(video)["format"]["duration"]) < 0.1


def test_recognised_words_are_timed_inside_the_audio(work: Path) -> None:
    video, spoken = speech_video(work, 320, 240)
    transcript = transcript_for(video)
    assert transcript.engine == "faster-whisper"
    starts = [w.start for w in transcript.words]
    assert starts == sorted(starts)
    assert all(w.end > w.start >= 0 for w in transcript.words)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(transcript.words, transcript.words[1:], strict=False))
    assert transcript.words[-1].end <= spoken.audio.duration + 0.05
    said = {w.word.strip(".,!?").lower() for w in transcript.words}
    expected = {w.strip(".,").lower() for w in spoken.text.split()}
    assert len(expected - said) <= 1, expected - said


def test_no_audio_track_is_refused_and_leaves_nothing(work: Path) -> None:
    video = make_video(work / "mute.mp4", 320, 240, seconds=1.0)
    out = work / "never-mute.mp4"
    with pytest.raises(NoAudioTrack, match="no audio track"):
        caption_video(video, out, builtin_template("clean-subtitle"))
    assert not out.exists() and not list(work.glob(".captions-*"))


def test_silence_is_no_speech_found(work: Path) -> None:
    import soundfile as sf

    silent = work / "silent.wav"
    sf.write(silent, np.zeros(16000 * 2, np.float32), 16000)
    video = make_video(work / "silent.mp4", 320, 240, audio=silent)
    out = work / "never-silent.mp4"
    with pytest.raises(NoSpeechFound, match="no speech found"):
        caption_video(video, out, builtin_template("clean-subtitle"))
    assert not out.exists()


def test_corrupt_video_is_refused(work: Path) -> None:
    bad = work / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    with pytest.raises(UnreadableVideo):
        caption_video(bad, work / "never-corrupt.mp4", builtin_template("clean-subtitle"))
    assert not (work / "never-corrupt.mp4").exists()


def test_cancel_leaves_nothing(work: Path) -> None:
    video, spoken = speech_video(work, 640, 360)
    out = work / "cancelled.mp4"
    with pytest.raises(RenderCancelled):
        caption_video(video, out, builtin_template("pop-in"), words=spoken.words, should_cancel=lambda: True)
    assert not out.exists() and not list(work.glob(".captions-*"))
