"""Phone recognition and alignment with pocketsphinx (src/facecast/engine/phones.py).

Speech comes from flite, whose ``-psdur`` prints the true end time of every phone it speaks, so
the recogniser's timing is checked against ground truth; espeak-ng is a second, rougher voice.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from facecast.engine import phones as phones_module
from facecast.engine.audio import Audio, load_audio, resample
from facecast.engine.phones import (
    ARPABET,
    FIRST_PIECE,
    MIN_PIECE,
    PhoneStream,
    TimedPhone,
    align_phones,
    normalize_phone,
    piece_bounds,
    recognize_phones,
    transcript_words,
)

SENTENCE = "Bob bought my map. Maybe the baby bear wants more pie."
BILABIALS = {"P", "B", "M"}

needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite is not installed")


@pytest.fixture(scope="module")
def flite_speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Audio, list[TimedPhone]]:
    """16 kHz speech of ``SENTENCE`` and the phones flite says it spoke."""
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    path = tmp_path_factory.mktemp("flite") / "speech.wav"
    printed = subprocess.run(
        ["flite", "-voice", "kal16", "-psdur", "-t", SENTENCE, "-o", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    truth, previous = [], 0.0
    for token in printed.split():
        name, end = token.rsplit(":", 1)
        truth.append(TimedPhone(normalize_phone(name), previous, float(end)))
        previous = float(end)
    return resample(load_audio(path), 16000), truth


def overlaps(p: TimedPhone, q: TimedPhone, slack: float) -> bool:
    return p.start < q.end + slack and q.start < p.end + slack


def check_well_formed(phones: list[TimedPhone], duration: float) -> None:
    assert phones
    for p in phones:
        assert p.phone in ARPABET or p.phone == "SIL"
        assert 0.0 <= p.start < p.end <= duration + 1e-6
    for a, b in zip(phones, phones[1:], strict=False):
        assert a.end <= b.start + 1e-6


def test_normalize_phone() -> None:
    assert normalize_phone("aa1") == "AA"
    assert normalize_phone("AH0") == "AH"
    assert normalize_phone("+NSN+") == "SIL"
    assert normalize_phone("+SPN+") == "SIL"
    assert normalize_phone("<sil>") == "SIL"
    assert normalize_phone("pau") == "SIL"
    assert normalize_phone("ax") == "AH"
    assert transcript_words("Don\u2019t stop, Bob!") == ["don't", "stop", "bob"]


@needs_flite
def test_recognised_bilabials_are_where_they_were_spoken(
    flite_speech: tuple[Audio, list[TimedPhone]],
) -> None:
    audio, truth = flite_speech
    phones = recognize_phones(audio)
    assert phones is not None
    check_well_formed(phones, audio.duration)
    spoken = [p for p in truth if p.phone in BILABIALS]
    found = [p for p in phones if p.phone in BILABIALS]
    hits = sum(any(overlaps(s, f, 0.06) for f in found) for s in spoken)
    false = sum(not any(overlaps(f, s, 0.06) for s in spoken) for f in found)
    assert hits >= len(spoken) - 3, (hits, len(spoken))
    assert false <= 2
    # It hears vowels too, and silence at the start and the sentence break.
    names = {p.phone for p in phones}
    assert names & {"AA", "AO", "AY", "EY", "IY", "AH"}
    assert phones[0].phone == "SIL"
    pause = next(p for p in truth[1:] if p.phone == "SIL")
    assert any(p.phone == "SIL" and overlaps(p, pause, 0.0) for p in phones)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_recognises_another_voice(tmp_path: Path) -> None:
    path = tmp_path / "espeak.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(path), "Please pass me the bread and butter."], check=True, timeout=60
    )
    audio = load_audio(path)  # 22.05 kHz: recognize_phones resamples
    phones = recognize_phones(audio)
    assert phones is not None
    check_well_formed(phones, audio.duration)
    spoken = [p for p in phones if p.phone != "SIL"]
    assert len(spoken) >= 10
    assert any(p.phone in BILABIALS for p in spoken)


def test_silence_and_noise_are_not_followed() -> None:
    sr = 16000
    assert recognize_phones(Audio(np.zeros(sr * 2, np.float32), sr)) is None
    noise = (np.random.default_rng(0).standard_normal(sr * 2) * 0.2).astype(np.float32)
    assert recognize_phones(Audio(noise, sr)) is None
    t = np.arange(sr * 2) / sr
    assert recognize_phones(Audio((0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr)) is None
    assert recognize_phones(Audio(np.zeros(0, np.float32), sr)) is None


@needs_flite
def test_alignment_follows_the_transcript(flite_speech: tuple[Audio, list[TimedPhone]]) -> None:
    audio, truth = flite_speech
    phones = align_phones(audio, SENTENCE)
    assert phones is not None
    check_well_formed(phones, audio.duration)
    spoken = [p for p in truth if p.phone in BILABIALS]
    aligned = [p for p in phones if p.phone in BILABIALS]
    assert len(aligned) == len(spoken)
    for s, a in zip(spoken, aligned, strict=True):
        assert overlaps(s, a, 0.03)
    # Words outside the dictionary cannot be aligned.
    assert align_phones(audio, "Bob bought my zzqxv") is None
    assert align_phones(audio, "  ...  ") is None


# --- recognition in pieces ------------------------------------------------------------------------
def sentences_with_pauses(seconds_of_pause: float = 0.5) -> Audio:
    """Two espeak-ng sentences, each three seconds or more, with a clear pause between them."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    import soundfile as sf

    pieces = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, text in enumerate(
            (
                "Bob bought a big map, and Mom paid for the maple pie at the fair.",
                "Maybe the baby bear wants more pie, but the bakery is closed today.",
            )
        ):
            path = Path(tmp) / f"{index}.wav"
            subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), text], check=True, timeout=60)
            samples, rate = sf.read(path, dtype="float32")
            pieces += [samples, np.zeros(int(seconds_of_pause * rate), np.float32)]
    return resample(Audio(np.concatenate(pieces), rate), 16000)


def test_pieces_are_cut_in_pauses() -> None:
    audio = sentences_with_pauses()
    bounds = piece_bounds(audio)
    assert bounds[0] == 0 and bounds[-1] == len(audio.samples)
    assert len(bounds) == 3  # one cut, in the pause between the sentences
    cut = bounds[1]
    assert np.abs(audio.samples[cut - 1600 : cut + 1600]).max() < 0.01
    assert cut / 16000 >= FIRST_PIECE and (len(audio.samples) - cut) / 16000 >= MIN_PIECE
    # Too short to cut, or no pause at all: one piece.
    assert piece_bounds(Audio(audio.samples[: 16000 * 2], 16000)) == [0, 32000]
    t = np.arange(16000 * 8) / 16000
    hum = (0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32)
    assert piece_bounds(Audio(hum, 16000)) == [0, len(hum)]


def test_recognition_does_not_depend_on_what_was_recognised_before() -> None:
    audio = sentences_with_pauses()
    first = recognize_phones(audio)
    other = sentences_with_pauses(0.2)
    recognize_phones(Audio(other.samples[::-1].copy(), 16000))
    assert recognize_phones(audio) == first


def test_a_phone_stream_gives_what_recognize_phones_gives() -> None:
    audio = sentences_with_pauses()
    expected = recognize_phones(audio)
    assert expected is not None
    with PhoneStream(audio) as stream:
        assert stream.n_pieces == 2
        assert stream.known_until() == 0.0
        known = stream.next_piece()
        assert known == stream.bounds[1] / 16000
        assert stream.plausible()
        first = stream.phones()
        assert first and first[-1].end <= known + 1e-6
        assert first == [p for p in expected if p.end <= known + 1e-6][: len(first)]
        assert stream.next_piece() == float("inf") and stream.done
        assert stream.result() == expected


def test_a_phone_stream_recognises_here_when_its_worker_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    audio = sentences_with_pauses()
    expected = recognize_phones(audio)
    monkeypatch.setattr(phones_module, "_WORKER", "import sys; sys.exit(3)")
    with PhoneStream(audio) as stream:
        assert stream.result() == expected
    monkeypatch.setattr(phones_module.sys, "executable", "/nonexistent/python")
    with PhoneStream(audio) as stream:
        assert stream.result() == expected


def test_a_phone_stream_of_noise_is_not_followed() -> None:
    noise = (np.random.default_rng(0).standard_normal(16000 * 3) * 0.2).astype(np.float32)
    with PhoneStream(Audio(noise, 16000)) as stream:
        assert stream.result() is None
