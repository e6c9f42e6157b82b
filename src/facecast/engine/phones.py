"""Timed phones: the common currency between speech (TTS alignments, recognition) and mouth shapes.

``recognize_phones`` finds phones in any English speech with pocketsphinx's all-phone search (the
approach of Rhubarb Lip Sync); ``align_phones`` aligns a known transcript. Both return ARPAbet
phones without stress digits, with "SIL" for silence, breaths and noise.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from facecast.engine.audio import Audio, frame_levels_db, resample

log = logging.getLogger(__name__)

#: pocketsphinx's acoustic model works on 16 kHz audio at 100 feature frames per second.
SAMPLE_RATE = 16000
FRAME_RATE = 100

#: The 39 ARPAbet phones of CMUdict (the acoustic model's phone set, without SIL).
ARPABET: frozenset[str] = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)

#: Search settings for the all-phone recogniser. Measured on 30 s of TTS speech against forced
#: alignments: narrower beams and 2 Gaussians per senone (``topn``) run ~36x real time on one core
#: (defaults: ~28x) with the same viseme agreement (~69% of 10 ms frames) and bilabial recall
#: (94%); ``ds=2`` or beams of 1e-10 are faster but start to miss p/b/m. The phone LM weight
#: balances fluttering phones (too low) against sticky ones (too high).
RECOGNIZER_SETTINGS: dict[str, Any] = {
    "lw": 2.0,
    "beam": 1e-15,
    "pbeam": 1e-15,
    "topn": 2,
}

#: A forced-aligned consonant longer than this swallowed a pause the aligner did not model.
_MAX_CONSONANT = 0.25
_MAX_VOWEL = 0.45

_lock = threading.Lock()


@dataclass(frozen=True)
class TimedPhone:
    """One phone: ARPAbet symbol without stress digits, upper-case ("AA", "P", ...); "SIL" is silence."""

    phone: str
    start: float
    end: float


#: Symbols of the wider ARPAbet (TIMIT, festival/flite) folded into CMUdict's set.
PHONE_ALIASES: dict[str, str] = {
    "AX": "AH",
    "AXR": "ER",
    "IX": "IH",
    "UX": "UW",
    "DX": "D",
    "NX": "N",
    "EL": "L",
    "EM": "M",
    "EN": "N",
    "HV": "HH",
}


def normalize_phone(symbol: str) -> str:
    """An ARPAbet phone without stress, upper-case; silences, fillers and unknown symbols -> "SIL"."""
    name = re.sub(r"[0-9]", "", symbol.strip().upper())
    if "(" in name:
        name = name.split("(", 1)[0]
    name = PHONE_ALIASES.get(name, name)
    return name if name in ARPABET else "SIL"


def merge_phones(phones: Iterable[TimedPhone], min_duration: float = 0.0) -> list[TimedPhone]:
    """Sorted phones with adjacent silences merged and zero-length entries dropped."""
    out: list[TimedPhone] = []
    for p in sorted(phones, key=lambda p: (p.start, p.end)):
        if p.end - p.start <= min_duration:
            continue
        if out and p.start < out[-1].end:  # overlap: trim the newcomer
            p = TimedPhone(p.phone, out[-1].end, p.end)
            if p.end <= p.start:
                continue
        if out and p.phone == "SIL" and out[-1].phone == "SIL" and p.start - out[-1].end < 1e-6:
            out[-1] = TimedPhone("SIL", out[-1].start, p.end)
        else:
            out.append(p)
    return out


def _model_dir() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


@lru_cache(maxsize=1)
def _recognizer() -> Any:
    import pocketsphinx

    model = _model_dir()
    return pocketsphinx.Decoder(
        hmm=str(model / "en-us"),
        allphone=str(model / "en-us-phone.lm.bin"),
        samprate=SAMPLE_RATE,
        loglevel="FATAL",
        **RECOGNIZER_SETTINGS,
    )


@lru_cache(maxsize=1)
def _aligner() -> Any:
    import pocketsphinx

    model = _model_dir()
    return pocketsphinx.Decoder(
        hmm=str(model / "en-us"),
        dict=str(model / "cmudict-en-us.dict"),
        lm=None,
        samprate=SAMPLE_RATE,
        loglevel="FATAL",
    )


def _pcm16(audio: Audio) -> bytes:
    """16 kHz signed 16-bit PCM, with a whisper of fixed noise so digital silence has a spectrum.

    (Exact zeros give -inf log energies in the front end; Rhubarb dithers for the same reason.)
    """
    if audio.sample_rate != SAMPLE_RATE:
        audio = resample(audio, SAMPLE_RATE)
    noise = np.random.default_rng(0).standard_normal(len(audio.samples)) * 2.0
    pcm = np.clip(np.round(audio.samples.astype(np.float64) * 32767.0 + noise), -32768, 32767)
    return pcm.astype("<i2").tobytes()


def _speech_seconds(audio: Audio) -> float:
    """How long the audio has clearly audible sound (frames within 30 dB of its loud parts)."""
    n = max(1, int(np.ceil(audio.duration * FRAME_RATE)))
    levels = frame_levels_db(audio, FRAME_RATE, n, window=2.5)
    audible = levels > -50.0
    if not audible.any():
        return 0.0
    peak = float(np.percentile(levels[audible], 95))
    return float(np.count_nonzero(levels > max(-50.0, peak - 30.0))) / FRAME_RATE


def recognize_phones(audio: Audio) -> list[TimedPhone] | None:
    """Recognise timed phones in speech audio (pocketsphinx), or None when it cannot follow the audio."""
    if len(audio.samples) == 0:
        return None
    try:
        pcm = _pcm16(audio)
        with _lock:
            decoder = _recognizer()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            segments = [(s.word, s.start_frame, s.end_frame) for s in decoder.seg()]
    except Exception:
        log.warning("phone recognition failed", exc_info=True)
        return None
    phones = merge_phones(
        TimedPhone(normalize_phone(word), start / FRAME_RATE, (end + 1) / FRAME_RATE)
        for word, start, end in segments
    )
    if not _plausible(phones, audio):
        return None
    return _clip_to(phones, audio.duration)


def _plausible(phones: Sequence[TimedPhone], audio: Audio) -> bool:
    """Whether recognised phones look like speech the recogniser followed."""
    speech = _speech_seconds(audio)
    spoken = [p for p in phones if p.phone != "SIL"]
    voiced = sum(p.end - p.start for p in spoken)
    if speech < 0.15:
        # Next to nothing audible: any phones found are noise.
        return False
    if voiced < 0.25 * speech:
        log.info("recogniser found %.2f s of phones in %.2f s of sound: not following", voiced, speech)
        return False
    rate = len(spoken) / max(voiced, 1e-6)
    if rate > 30.0:  # phones faster than anyone speaks: noise or music
        log.info("recogniser produced %.0f phones/s: not following", rate)
        return False
    return True


def _clip_to(phones: Sequence[TimedPhone], duration: float) -> list[TimedPhone]:
    out = []
    for p in phones:
        if p.start >= duration:
            break
        out.append(TimedPhone(p.phone, p.start, min(p.end, duration)))
    return out


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def transcript_words(transcript: str) -> list[str]:
    """Lower-case words of a transcript, punctuation dropped ("Don't stop!" -> ["don't", "stop"])."""
    text = transcript.lower().replace("\u2019", "'")
    return _WORD.findall(text)


def align_phones(audio: Audio, transcript: str) -> list[TimedPhone] | None:
    """Force-align a known transcript to speech (pocketsphinx), or None when it cannot.

    Every word must be in CMUdict (digits and unusual names are not); a transcript that does not
    match the audio gives None or a poor alignment, so use it for TTS output and the like.
    """
    words = transcript_words(transcript)
    if not words or len(audio.samples) == 0:
        return None
    try:
        pcm = _pcm16(audio)
        with _lock:
            decoder = _aligner()
            missing = [w for w in words if decoder.lookup_word(w) is None]
            if missing:
                log.info("cannot align: words not in the dictionary: %s", ", ".join(missing[:5]))
                return None
            decoder.set_align_text(" ".join(words))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            decoder.set_alignment()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            alignment = decoder.get_alignment()
            # (Iterate the flat phone list: walking the word entries' children crashes pocketsphinx 5.)
            entries = [(e.name, e.start, e.duration) for e in alignment.phones()] if alignment else []
    except Exception:
        log.warning("forced alignment failed", exc_info=True)
        return None
    if not entries:
        return None
    phones: list[TimedPhone] = []
    for name, start, duration in entries:
        phone = normalize_phone(name)
        begin = start / FRAME_RATE
        end = (start + duration) / FRAME_RATE
        # The aligner has no optional pauses between most words: a stop or vowel that lasts far
        # longer than any real one has swallowed a pause. Keep a plausible length, the rest is SIL.
        longest = _MAX_VOWEL if phone in _VOWELS else _MAX_CONSONANT
        if phone != "SIL" and end - begin > longest:
            phones.append(TimedPhone(phone, begin, begin + longest))
            phones.append(TimedPhone("SIL", begin + longest, end))
        else:
            phones.append(TimedPhone(phone, begin, end))
    return _clip_to(merge_phones(phones), audio.duration)


_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
