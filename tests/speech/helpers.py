"""Shared helpers for the speech tests: checks every Speech must pass."""

from __future__ import annotations

import numpy as np

from facecast.speech import Speech
from facecast.speech.arpabet import ARPABET


def assert_well_formed(speech: Speech, *, min_words: int = 1) -> None:
    """Non-silent audio; ARPAbet phones, monotonic, gap-free, covering the audio; timed words."""
    audio = speech.audio
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert audio.duration > 0.2
    assert float(np.max(np.abs(audio.samples))) <= 1.0
    assert float(np.sqrt(np.mean(audio.samples**2))) > 0.005, "audio is silent"
    phones = speech.phones
    assert phones, "no phones"
    assert all(p.phone in ARPABET for p in phones), sorted({p.phone for p in phones} - ARPABET)
    assert any(p.phone != "SIL" for p in phones)
    assert phones[0].start == 0.0
    assert abs(phones[-1].end - audio.duration) < 1e-6
    for p, q in zip(phones, phones[1:], strict=False):
        assert p.start < p.end
        assert abs(p.end - q.start) < 1e-6, (p, q)
    words = speech.words
    assert len(words) >= min_words
    for a, b in zip(words, words[1:], strict=False):
        assert a.end <= b.start + 1e-6, (a, b)
    for w in words:
        assert 0.0 <= w.start <= w.end <= audio.duration + 1e-6
        assert w.word.strip()
