"""Every catalog voice speaks, with engine timings that cover the audio; bad and nasty input."""

from __future__ import annotations

import numpy as np
import pytest

from facecast.errors import InvalidText, UnknownVoice
from facecast.speech import iter_synthesize, join_speeches, list_voices, synthesize
from tests.speech.helpers import assert_well_formed

SENTENCE = "Hello, my name is Sam and I like maps."
ONE_PER_ENGINE = ["piper-en_US-joe-medium", "flite-slt", "festival-kal", "espeak-en-us"]
NASTY = [
    "I paid $1,234.56 on 3/4/2024 at 10:30 — 50% off!",
    "Dr. O'Neil said: \"hi\" (twice)… 'Really?'",
    "Emoji 😀👍🏽🇫🇷 and symbols © ™ ∑ ≠ § ¶ ← ★",
    "Mixed 中文 text, العربية text, Ελληνικά, русский.",
    "e.g. U.S.A. vs. U.K., i.e. etc. St. Louis No. 5",
    "1234567890123456789012345678901234567890",
    "<b>tags</b> & back\\slash {braces} [brackets] | ~ ^ ` @ # % *",
    "?!?!... ,,, ;;;",
    "a",
]


def _available(voice_id: str) -> bool:
    return any(v.id == voice_id and v.available for v in list_voices())


@pytest.mark.parametrize("voice", list_voices(), ids=lambda v: v.id)
def test_every_voice_speaks_a_sentence(voice) -> None:
    if not voice.available:
        pytest.skip(f"{voice.engine} is not installed here")
    speech = synthesize(SENTENCE, voice.id)
    assert_well_formed(speech, min_words=8)
    assert len(speech.words) == 9
    assert speech.voice_id == voice.id and speech.text == SENTENCE
    assert speech.audio.sample_rate == voice.sample_rate


@pytest.mark.parametrize("voice_id", ONE_PER_ENGINE)
@pytest.mark.parametrize("text", NASTY)
def test_nasty_text_does_not_crash(voice_id: str, text: str) -> None:
    if not _available(voice_id):
        pytest.skip(f"{voice_id} is not installed here")
    try:
        speech = synthesize(text, voice_id)
    except InvalidText as exc:
        assert "Nothing in the text" in str(exc)
    else:
        assert_well_formed(speech)


@pytest.mark.parametrize("voice_id", ["espeak-cmn", "espeak-ar", "espeak-ru", "espeak-ja", "espeak-hi"])
def test_non_latin_voices_read_their_script(voice_id: str) -> None:
    text = {
        "espeak-cmn": "你好，世界。今天天气很好。",
        "espeak-ar": "مرحبا بالعالم",
        "espeak-ru": "Привет, мир! Как дела?",
        "espeak-ja": "こんにちは、せかい。",
        "espeak-hi": "नमस्ते दुनिया",
    }[voice_id]
    if not _available(voice_id):
        pytest.skip(f"{voice_id} is not installed here")
    assert_well_formed(synthesize(text, voice_id))


@pytest.mark.parametrize("voice_id", ONE_PER_ENGINE)
def test_a_language_the_voice_does_not_read_is_refused(voice_id: str) -> None:
    if not _available(voice_id):
        pytest.skip(f"{voice_id} is not installed here")
    with pytest.raises(InvalidText, match="Nothing in the text can be spoken"):
        synthesize("你好，世界。مرحبا 😀", voice_id)


def test_bad_input() -> None:
    with pytest.raises(InvalidText, match="empty"):
        synthesize("   ")
    with pytest.raises(InvalidText, match="limit is 100 characters"):
        synthesize("word " * 30, max_chars=100)
    with pytest.raises(UnknownVoice):
        synthesize("hello", "no-such-voice")


def test_long_text_is_spoken_sentence_by_sentence() -> None:
    text = " ".join(f"This is sentence number {i}, and it is short." for i in range(1, 7))
    parts = list(iter_synthesize(text, "espeak-en-us"))
    assert len(parts) == 6
    joined = join_speeches(parts, text=text)
    assert_well_formed(joined, min_words=6 * 8)
    assert joined.audio.duration == pytest.approx(sum(p.audio.duration for p in parts))
    whole = synthesize(text, "espeak-en-us")
    assert np.array_equal(whole.audio.samples, joined.audio.samples)
    assert [w.word for w in whole.words] == text.split()


def test_same_input_same_output() -> None:
    for voice_id in [*ONE_PER_ENGINE, "flite-awb", "festival-slt-hts"]:
        if not _available(voice_id):
            continue
        a, b = synthesize(SENTENCE, voice_id), synthesize(SENTENCE, voice_id)
        assert np.array_equal(a.audio.samples, b.audio.samples), voice_id
        assert a.phones == b.phones and a.words == b.words


def _rms(speech, start: float, end: float) -> float:
    sr = speech.audio.sample_rate
    x = speech.audio.samples[int(start * sr) : max(int(end * sr), int(start * sr) + 1)]
    return float(np.sqrt(np.mean(x**2)))


@pytest.mark.parametrize(
    "voice_id", ["piper-en_US-joe-medium", "espeak-en-us", "flite-kal16", "festival-kal"]
)
def test_lip_closures_fall_on_energy_dips(voice_id: str) -> None:
    """The m/b/p of the text are where the audio is quiet: alignments line up with the sound."""
    if not _available(voice_id):
        pytest.skip(f"{voice_id} is not installed here")
    speech = synthesize("Mom paid a bill.", voice_id)
    phones = speech.phones
    labials = [i for i, p in enumerate(phones) if p.phone in ("M", "P", "B")]
    assert [phones[i].phone for i in labials] == ["M", "M", "P", "B"]
    vowels = [i for i, p in enumerate(phones) if p.phone in ("AA", "EY", "AH", "IH")]
    ratios = []
    for i in labials:
        p = phones[i]
        vowel = phones[min(v for v in vowels if v > i)]  # the vowel the lips open into
        mid = (p.start + p.end) / 2
        ratios.append(_rms(speech, mid - 0.01, mid + 0.01) / _rms(speech, vowel.start, vowel.end))
    # Each closure is quieter than the vowel after it; the stops nearly silent.
    assert max(ratios) < 1.0, ratios
    assert min(ratios) < 0.3, ratios
    # Words line up with their phones: "Mom" starts at its first M.
    assert speech.words[0].word == "Mom"
    assert abs(speech.words[0].start - phones[labials[0]].start) < 0.05
