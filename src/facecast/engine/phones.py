"""Timed phones: the common currency between speech (TTS alignments, recognition) and mouth shapes.

OWNER: audio-to-mouth helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from dataclasses import dataclass

from facecast.engine.audio import Audio


@dataclass(frozen=True)
class TimedPhone:
    """One phone: ARPAbet symbol without stress digits, upper-case ("AA", "P", ...); "SIL" is silence."""

    phone: str
    start: float
    end: float


def recognize_phones(audio: Audio) -> list[TimedPhone] | None:
    """Recognise timed phones in speech audio (pocketsphinx), or None when it cannot follow the audio."""
    raise NotImplementedError
