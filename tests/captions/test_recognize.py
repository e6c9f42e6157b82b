"""Recognition with word times: the pocketsphinx fallback, forced alignment, transcripts as data,
subtitle files."""

from __future__ import annotations

import numpy as np
import pytest

from facecast.captions import (
    NoSpeechFound,
    Transcript,
    align_words,
    available_engines,
    to_srt,
    to_vtt,
    transcribe,
)
from facecast.captions.recognize import ENGLISH_ONLY
from facecast.engine.audio import Audio
from facecast.speech.models import TimedWord

from .media import speech


def test_faster_whisper_is_installed_with_its_model() -> None:
    assert available_engines() == ["faster-whisper", "pocketsphinx"]


def test_pocketsphinx_fallback_finds_most_words() -> None:
    spoken = speech()
    transcript = transcribe(spoken.audio, engine="pocketsphinx")
    assert transcript.engine == "pocketsphinx" and ENGLISH_ONLY in transcript.warnings
    said = {w.word.lower() for w in transcript.words}
    expected = {w.strip(".,").lower() for w in spoken.text.split()}
    assert len(expected & said) >= 0.6 * len(expected)
    assert all(a.end <= b.start + 1e-9 for a, b in zip(transcript.words, transcript.words[1:], strict=False))


def test_forced_alignment_keeps_the_texts_spelling_and_order() -> None:
    spoken = speech()
    aligned = align_words(spoken.audio, spoken.text)
    assert aligned is not None
    assert [w.word for w in aligned.words] == spoken.text.split()
    # Close to the voice's own word times (Piper's alignment): within a tenth of a second on average.
    gaps = [abs(a.start - b.start) for a, b in zip(aligned.words, spoken.words, strict=True)]
    assert float(np.mean(gaps)) < 0.1


def test_noise_and_silence_are_no_speech() -> None:
    with pytest.raises(NoSpeechFound):
        transcribe(Audio(np.zeros(16000, np.float32), 16000))
    hum = (0.3 * np.sin(2 * np.pi * 50 * np.arange(32000) / 16000)).astype(np.float32)
    with pytest.raises(NoSpeechFound):
        transcribe(Audio(hum, 16000), engine="faster-whisper")


def test_transcript_round_trip_and_subtitles() -> None:
    words = [TimedWord("Hello", 0.1, 0.5), TimedWord("world.", 0.6, 1.0), TimedWord("Again", 2.5, 3.0)]
    transcript = Transcript(words, "speech", "en", 3.2)
    assert Transcript.from_dict(transcript.to_dict()) == transcript
    srt = to_srt(transcript)
    assert srt == "1\n00:00:00,100 --> 00:00:01,600\nHello world.\n\n2\n00:00:02,500 --> 00:00:03,600\nAgain\n"
    assert to_vtt(transcript).startswith("WEBVTT\n\n00:00:00.100 --> 00:00:01.600\nHello world.\n")
