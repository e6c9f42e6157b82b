"""The speech layer's data: a catalog ``Voice``, a ``TimedWord`` and a finished ``Speech``.

A ``Speech`` is what the render command and the API consume: audio plus the phones (ARPAbet, for
the viseme stage) and words (for captions) with times taken from the engine that spoke them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from facecast.engine.audio import Audio
from facecast.engine.phones import TimedPhone


@dataclass(frozen=True)
class Voice:
    """One entry of the voice catalog."""

    #: Stable id, e.g. "piper-en_US-joe-medium", "flite-slt", "espeak-fr".
    id: str
    #: Human name, e.g. "Joe (US English, neural)".
    name: str
    #: BCP-47 language tag, e.g. "en-US".
    language: str
    #: "male", "female" or "unknown".
    gender: str
    #: "piper", "flite", "festival" or "espeak-ng".
    engine: str
    sample_rate: int
    #: Whether the engine (and this voice's data) is installed on this machine.
    available: bool = True
    #: An account's own uploaded voice rather than a stock one.
    custom: bool = False
    #: The engine's own name for the voice (espeak-ng voice, flite voice, festival voice function).
    engine_voice: str = field(default="", repr=False)
    #: Piper model files (stock or uploaded); empty for the other engines.
    model_path: str = field(default="", repr=False)
    config_path: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The public fields, as the CLI's ``--json`` and the API show them."""
        return {
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "gender": self.gender,
            "engine": self.engine,
            "sample_rate": self.sample_rate,
            "available": self.available,
            "custom": self.custom,
        }


@dataclass(frozen=True)
class TimedWord:
    """A written word of the script (as the caption shows it) and when it is spoken, in seconds."""

    word: str
    start: float
    end: float


@dataclass(frozen=True, eq=False)
class Speech:
    """Spoken text: the audio, its timed phones and words, and what made it. (Compared by
    identity: compare ``audio.samples`` with numpy, and ``phones``/``words`` as lists.)"""

    audio: Audio
    phones: list[TimedPhone]
    words: list[TimedWord]
    voice_id: str
    text: str

    @property
    def duration(self) -> float:
        return self.audio.duration
