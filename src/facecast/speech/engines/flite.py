"""CMU flite voices (awb, rms, slt, kal, kal16), spoken through libflite in a helper process.

flite's utterance keeps a Segment relation with each phone's end time, and each segment leads
(through syllable and word) to the text token it came from, so phone and word times are exactly
the engine's. (The command line's ``flite -psdur`` prints the same phone times but no words.)
The helper (``_flite_worker.py``) runs once per chunk, which keeps the output deterministic.
"""

from __future__ import annotations

import functools
import logging
import subprocess
from pathlib import Path

import numpy as np

from facecast.speech.arpabet import SIL, radio_to_arpabet
from facecast.speech.engines.base import Engine, EngineOutput, run_worker
from facecast.speech.models import Voice
from facecast.speech.text import Chunk

log = logging.getLogger(__name__)

# (catalog id, flite voice, human name, language, gender, sample rate)
_VOICES: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("flite-slt", "slt", "SLT (US English, flite)", "en-US", "female", 16000),
    ("flite-rms", "rms", "RMS (US English, flite)", "en-US", "male", 16000),
    ("flite-awb", "awb", "AWB (Scottish English, flite)", "en-GB-scotland", "male", 16000),
    ("flite-kal", "kal", "Kal (US English, flite diphone, 8 kHz)", "en-US", "male", 8000),
    ("flite-kal16", "kal16", "Kal (US English, flite diphone)", "en-US", "male", 16000),
)
_WORKER = Path(__file__).with_name("_flite_worker.py")


@functools.lru_cache(maxsize=1)
def _installed() -> frozenset[str]:
    """The flite voices that load on this machine (none when libflite is missing)."""
    try:
        info, _ = run_worker(_WORKER, ["info"])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.info("flite unavailable: %s", exc)
        return frozenset()
    return frozenset(info.get("voices", []))


class FliteEngine(Engine):
    name = "flite"
    ascii_only = True

    def available(self) -> bool:
        return bool(_installed())

    def version(self) -> str:
        return "flite 2.2 (libflite.so.1)"

    def stock_voices(self) -> list[Voice]:
        installed = _installed()
        return [
            Voice(vid, human, lang, gender, self.name, rate, available=fname in installed, engine_voice=fname)
            for vid, fname, human, lang, gender, rate in _VOICES
        ]

    def synthesize(self, voice: Voice, chunk: Chunk) -> EngineOutput:
        header, raw = run_worker(_WORKER, ["say", voice.engine_voice], chunk.spoken.encode("utf-8"))
        pcm = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        phones: list[tuple[str, float, float]] = []
        token_spans: dict[int, list[float]] = {}
        t = 0.0
        for name, end, token in header["segments"]:
            end = max(float(end), t)
            phone = radio_to_arpabet(str(name))
            phones.append((phone, t, end))
            if token >= 0 and phone != SIL:
                span = token_spans.setdefault(int(token), [t, end])
                span[1] = end
            t = end
        words = _map_tokens(chunk, int(header["tokens"]), token_spans)
        return EngineOutput(pcm, int(header["rate"]), phones, words)


def _map_tokens(chunk: Chunk, n_tokens: int, spans: dict[int, list[float]]) -> list[tuple[int, float, float]]:
    """flite's tokens are the whitespace-separated pieces of the spoken text: give each written
    word the span of its pieces."""
    owners: list[int] = []
    for i, w in enumerate(chunk.words):
        owners.extend([i] * len(w.spoken.split()))
    if len(owners) != n_tokens:
        log.debug("flite made %d tokens of %d pieces: words not timed", n_tokens, len(owners))
        return []
    merged: dict[int, list[float]] = {}
    for token, (a, b) in spans.items():
        owner = owners[token]
        m = merged.setdefault(owner, [a, b])
        m[0], m[1] = min(m[0], a), max(m[1], b)
    return [(i, a, b) for i, (a, b) in sorted(merged.items())]
