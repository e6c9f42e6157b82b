"""espeak-ng voices (dozens of languages), spoken through libespeak-ng in a helper process.

The library reports an event for every phoneme (in IPA, with its first sample) and every word
(with its character position in the text), so phone and word times are exactly the engine's:
a phone lasts until the next phoneme event, a word from its event to the end of its last phone.
(``espeak-ng --pho`` only works with mbrola voices, and ``-x`` gives phonemes without times.)
"""

from __future__ import annotations

import functools
import logging
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from facecast.speech.arpabet import SIL, ipa_to_arpabet
from facecast.speech.engines.base import Engine, EngineOutput, run_worker
from facecast.speech.models import Voice
from facecast.speech.text import Chunk

log = logging.getLogger(__name__)

# (id suffix, espeak-ng voice name, BCP-47 language, human name)
_VOICES: tuple[tuple[str, str, str, str], ...] = (
    ("af", "af", "af", "Afrikaans"),
    ("am", "am", "am", "Amharic"),
    ("ar", "ar", "ar", "Arabic"),
    ("as", "as", "as", "Assamese"),
    ("az", "az", "az", "Azerbaijani"),
    ("be", "be", "be", "Belarusian"),
    ("bg", "bg", "bg", "Bulgarian"),
    ("bn", "bn", "bn", "Bengali"),
    ("bs", "bs", "bs", "Bosnian"),
    ("ca", "ca", "ca", "Catalan"),
    ("cmn", "cmn", "cmn", "Chinese (Mandarin)"),
    ("cs", "cs", "cs", "Czech"),
    ("cy", "cy", "cy", "Welsh"),
    ("da", "da", "da", "Danish"),
    ("de", "de", "de", "German"),
    ("el", "el", "el", "Greek"),
    ("en-gb", "en", "en-GB", "English (UK)"),
    ("en-gb-scotland", "en-gb-scotland", "en-GB-scotland", "English (Scotland)"),
    ("en-gb-x-rp", "en-gb-x-rp", "en-GB", "English (Received Pronunciation)"),
    ("en-029", "en-029", "en-029", "English (Caribbean)"),
    ("en-us", "en-us", "en-US", "English (US)"),
    ("eo", "eo", "eo", "Esperanto"),
    ("es", "es", "es-ES", "Spanish (Spain)"),
    ("es-419", "es-419", "es-419", "Spanish (Latin America)"),
    ("et", "et", "et", "Estonian"),
    ("eu", "eu", "eu", "Basque"),
    ("fa", "fa", "fa", "Persian"),
    ("fi", "fi", "fi", "Finnish"),
    ("fr", "fr", "fr-FR", "French (France)"),
    ("fr-be", "fr-be", "fr-BE", "French (Belgium)"),
    ("fr-ch", "fr-ch", "fr-CH", "French (Switzerland)"),
    ("ga", "ga", "ga", "Irish"),
    ("gd", "gd", "gd", "Scottish Gaelic"),
    ("gu", "gu", "gu", "Gujarati"),
    ("he", "he", "he", "Hebrew"),
    ("hi", "hi", "hi", "Hindi"),
    ("hr", "hr", "hr", "Croatian"),
    ("ht", "ht", "ht", "Haitian Creole"),
    ("hu", "hu", "hu", "Hungarian"),
    ("hy", "hy", "hy", "Armenian"),
    ("id", "id", "id", "Indonesian"),
    ("is", "is", "is", "Icelandic"),
    ("it", "it", "it", "Italian"),
    ("ja", "ja", "ja", "Japanese"),
    ("ka", "ka", "ka", "Georgian"),
    ("kk", "kk", "kk", "Kazakh"),
    ("kn", "kn", "kn", "Kannada"),
    ("ko", "ko", "ko", "Korean"),
    ("ku", "ku", "ku", "Kurdish"),
    ("ky", "ky", "ky", "Kyrgyz"),
    ("la", "la", "la", "Latin"),
    ("lb", "lb", "lb", "Luxembourgish"),
    ("lt", "lt", "lt", "Lithuanian"),
    ("lv", "lv", "lv", "Latvian"),
    ("mi", "mi", "mi", "Maori"),
    ("mk", "mk", "mk", "Macedonian"),
    ("ml", "ml", "ml", "Malayalam"),
    ("mr", "mr", "mr", "Marathi"),
    ("ms", "ms", "ms", "Malay"),
    ("mt", "mt", "mt", "Maltese"),
    ("my", "my", "my", "Burmese"),
    ("nb", "nb", "nb", "Norwegian (Bokmål)"),
    ("ne", "ne", "ne", "Nepali"),
    ("nl", "nl", "nl", "Dutch"),
    ("or", "or", "or", "Odia"),
    ("pa", "pa", "pa", "Punjabi"),
    ("pl", "pl", "pl", "Polish"),
    ("pt", "pt", "pt-PT", "Portuguese (Portugal)"),
    ("pt-br", "pt-br", "pt-BR", "Portuguese (Brazil)"),
    ("ro", "ro", "ro", "Romanian"),
    ("ru", "ru", "ru", "Russian"),
    ("si", "si", "si", "Sinhala"),
    ("sk", "sk", "sk", "Slovak"),
    ("sl", "sl", "sl", "Slovenian"),
    ("sq", "sq", "sq", "Albanian"),
    ("sr", "sr", "sr", "Serbian"),
    ("sv", "sv", "sv", "Swedish"),
    ("sw", "sw", "sw", "Swahili"),
    ("ta", "ta", "ta", "Tamil"),
    ("te", "te", "te", "Telugu"),
    ("th", "th", "th", "Thai"),
    ("tr", "tr", "tr", "Turkish"),
    ("tt", "tt", "tt", "Tatar"),
    ("uk", "uk", "uk", "Ukrainian"),
    ("ur", "ur", "ur", "Urdu"),
    ("uz", "uz", "uz", "Uzbek"),
    ("vi", "vi", "vi", "Vietnamese"),
    ("yue", "yue", "yue", "Chinese (Cantonese)"),
)

_EV_WORD, _EV_PHONEME = 1, 7
_WORKER = Path(__file__).with_name("_espeak_worker.py")


def _run_worker(args: list[str], stdin: bytes = b"") -> tuple[dict[str, Any], bytes]:
    # libespeak-ng keeps pitch-flutter and echo state between syntheses: a fresh process each.
    return run_worker(_WORKER, args, stdin)


@functools.lru_cache(maxsize=1)
def _info() -> dict[str, Any] | None:
    """Sample rate, version and voice files of the installed espeak-ng, or None when missing."""
    try:
        info, _ = _run_worker(["info"])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.info("espeak-ng unavailable: %s", exc)
        return None
    return info


class EspeakEngine(Engine):
    name = "espeak-ng"
    ascii_only = False

    def available(self) -> bool:
        return _info() is not None

    def version(self) -> str:
        info = _info()
        return f"espeak-ng {info['version'] if info else 'missing'}"

    def stock_voices(self) -> list[Voice]:
        info = _info()
        rate = int(info["rate"]) if info else 22050
        installed = set(info["voices"]) if info else set()
        return [
            Voice(
                f"espeak-{suffix}",
                f"{human}, eSpeak NG",
                lang,
                "male",
                self.name,
                rate,
                available=ename.lower() in installed,
                engine_voice=ename,
            )
            for suffix, ename, lang, human in _VOICES
        ]

    def synthesize(self, voice: Voice, chunk: Chunk) -> EngineOutput:
        header, raw = _run_worker(["say", voice.engine_voice], chunk.spoken.encode("utf-8"))
        rate = int(header["rate"])
        events = [(int(k), int(s), int(p), str(i)) for k, s, p, i in header["events"]]
        pcm = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        n = len(pcm)
        # Phones: each phoneme event lasts until the next phoneme event (or the end of the audio).
        phon = [(min(max(s, 0), n), ipa) for kind, s, _, ipa in events if kind == _EV_PHONEME]
        units: list[tuple[str, float]] = []
        if phon and phon[0][0] > 0:
            units.append(("", phon[0][0] / rate))
        bounds: list[tuple[int, int]] = []
        for i, (s, _ipa) in enumerate(phon):
            e = phon[i + 1][0] if i + 1 < len(phon) else n
            bounds.append((s, max(s, e)))
        _share_empty(phon, bounds)
        units.extend((ipa, (e - s) / rate) for (_, ipa), (s, e) in zip(phon, bounds, strict=True))
        phones: list[tuple[str, float, float]] = []
        t = 0.0
        for p, d in ipa_to_arpabet(units):
            phones.append((p, t, t + d))
            t += d
        if not phones and n:
            phones = [(SIL, 0.0, n / rate)]
        return EngineOutput(pcm, rate, phones, _words(chunk, events, bounds, rate))


def _share_empty(phon: list[tuple[int, str]], bounds: list[tuple[int, int]]) -> None:
    """espeak-ng sometimes reports a phoneme at the same sample as the next one (the "l" of
    "bill" before the pause): let such phonemes share the time of the sounding phoneme before."""
    i = 0
    while i < len(bounds):
        if phon[i][1] and bounds[i][0] == bounds[i][1] and i > 0 and phon[i - 1][1]:
            j = i
            while j < len(bounds) and phon[j][1] and bounds[j][0] == bounds[j][1]:
                j += 1
            start, end = bounds[i - 1][0], bounds[i - 1][1]
            parts = j - i + 1
            for k in range(parts):
                bounds[i - 1 + k] = (
                    start + (end - start) * k // parts,
                    start + (end - start) * (k + 1) // parts,
                )
            i = j
        else:
            i += 1


def _words(
    chunk: Chunk,
    events: list[tuple[int, int, int, str]],
    bounds: list[tuple[int, int]],
    rate: int,
) -> list[tuple[int, float, float]]:
    """Word events (1-based character positions in the spoken text) -> written words' spans."""
    # Character offset of each written word in the spoken text.
    starts: list[int] = []
    pos = 0
    for w in chunk.words:
        starts.append(pos)
        pos += len(w.spoken) + 1

    def owner(char_pos: int) -> int:
        k = 0
        for i, s in enumerate(starts):
            if s <= char_pos - 1:
                k = i
        return k

    spans: dict[int, list[float]] = {}
    current: int | None = None
    ph_index = 0
    for kind, _sample, text_pos, ipa in events:
        if kind == _EV_WORD:
            current = owner(text_pos)
            continue
        if kind != _EV_PHONEME:
            continue
        if ph_index < len(bounds):
            s, e = bounds[ph_index]
            ph_index += 1
            if current is None or not ipa.strip():
                continue
            span = spans.setdefault(current, [s / rate, e / rate])
            span[0] = min(span[0], s / rate)
            span[1] = max(span[1], e / rate)
    return [(i, a, b) for i, (a, b) in sorted(spans.items())]
