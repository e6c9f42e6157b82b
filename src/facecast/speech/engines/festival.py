"""Festival voices (kal diphone, the HTS "slt" voice), run as a ``festival --pipe`` process.

A short Scheme script synthesises the chunk, saves the wave, and prints the utterance's Segment
relation (phone, end time, the word it belongs to) and its top-level tokens with their words, so
phone and word times are exactly festival's.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from facecast.speech.arpabet import SIL, radio_to_arpabet
from facecast.speech.engines.base import Engine, EngineOutput
from facecast.speech.models import Voice
from facecast.speech.text import Chunk

log = logging.getLogger(__name__)

# (catalog id, festival voice, human name, language, gender, sample rate)
_VOICES: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("festival-kal", "kal_diphone", "Kal (US English, festival diphone)", "en-US", "male", 16000),
    ("festival-slt-hts", "cmu_us_slt_arctic_hts", "SLT (US English, festival HTS)", "en-US", "female", 32000),
)
_TIMEOUT = 120.0

_SCRIPT = """
(voice_{voice})
(set! fc_utt (utt.synth (Utterance Text "{text}")))
(utt.save.wave fc_utt "{wav}" 'riff)
(mapcar (lambda (s)
  (format t "SEG\\t%s\\t%f\\t%s\\n" (item.name s) (item.feat s 'end)
          (item.feat s "R:SylStructure.parent.parent.id")))
  (utt.relation.items fc_utt 'Segment))
(set! fc_tok (utt.relation.first fc_utt 'Token))
(while fc_tok
  (format t "TOK")
  (mapcar (lambda (w) (format t "\\t%s" (item.feat w 'id))) (item.daughters fc_tok))
  (format t "\\n")
  (set! fc_tok (item.next fc_tok)))
"""


def _scheme_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


@functools.lru_cache(maxsize=1)
def _installed() -> tuple[str, frozenset[str]]:
    """festival's version line and its voices ("" and nothing when festival is missing)."""
    exe = shutil.which("festival")
    if exe is None:
        return "", frozenset()
    try:
        version = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        listing = subprocess.run(
            [exe, "--pipe"], input="(print (voice.list))\n", capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("festival unavailable: %s", exc)
        return "", frozenset()
    names = listing.replace("(", " ").replace(")", " ").split()
    return version, frozenset(names)


class FestivalEngine(Engine):
    name = "festival"
    ascii_only = True

    def available(self) -> bool:
        return bool(_installed()[0])

    def version(self) -> str:
        return _installed()[0] or "festival missing"

    def stock_voices(self) -> list[Voice]:
        version, voices = _installed()
        return [
            Voice(
                vid,
                human,
                lang,
                gender,
                self.name,
                rate,
                available=bool(version) and fname in voices,
                engine_voice=fname,
            )
            for vid, fname, human, lang, gender, rate in _VOICES
        ]

    def synthesize(self, voice: Voice, chunk: Chunk) -> EngineOutput:
        exe = shutil.which("festival")
        if exe is None:
            raise OSError("festival is not installed")
        with tempfile.TemporaryDirectory(prefix="facecast-festival-") as tmp:
            wav = Path(tmp) / "out.wav"
            script = _SCRIPT.format(voice=voice.engine_voice, text=_scheme_string(chunk.spoken), wav=wav)
            proc = subprocess.run(
                [exe, "--pipe"],
                input=script,
                capture_output=True,
                text=True,
                timeout=_TIMEOUT,
                errors="replace",
            )
            if not wav.is_file():
                raise OSError(f"festival failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
            samples, rate = sf.read(str(wav), dtype="float32", always_2d=True)
        pcm = np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32)
        phones: list[tuple[str, float, float]] = []
        word_spans: dict[str, list[float]] = {}
        tokens: list[list[str]] = []
        t = 0.0
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if parts[0] == "SEG" and len(parts) >= 4:
                end = max(float(parts[2]), t)
                phone = radio_to_arpabet(parts[1])
                phones.append((phone, t, end))
                if phone != SIL and parts[3] not in ("0", ""):
                    span = word_spans.setdefault(parts[3], [t, end])
                    span[1] = end
                t = end
            elif parts[0] == "TOK":
                tokens.append(parts[1:])
        return EngineOutput(pcm, int(rate), phones, _map_tokens(chunk, tokens, word_spans))


def _map_tokens(
    chunk: Chunk, tokens: list[list[str]], spans: dict[str, list[float]]
) -> list[tuple[int, float, float]]:
    """festival's top-level tokens are the whitespace-separated pieces of the spoken text."""
    owners: list[int] = []
    for i, w in enumerate(chunk.words):
        owners.extend([i] * len(w.spoken.split()))
    if len(owners) != len(tokens):
        log.debug("festival made %d tokens of %d pieces: words not timed", len(tokens), len(owners))
        return []
    merged: dict[int, list[float]] = {}
    for owner, word_ids in zip(owners, tokens, strict=True):
        for wid in word_ids:
            if wid in spans:
                a, b = spans[wid]
                m = merged.setdefault(owner, [a, b])
                m[0], m[1] = min(m[0], a), max(m[1], b)
    return [(i, a, b) for i, (a, b) in sorted(merged.items())]
