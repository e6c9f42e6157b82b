"""A transcript: the spoken words with start and end times, and which engine produced them.

Words come from the Speech that was synthesised (``speech``: exact, no recognition), from
faster-whisper (``faster-whisper``) or from pocketsphinx (``pocketsphinx``, recognition or forced
alignment). ``check_words`` holds every source to the same rules: non-empty words, times inside the
audio, monotonic.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from facecast.errors import InvalidInput
from facecast.speech.models import TimedWord

#: Engines a transcript can come from.
ENGINES = ("speech", "faster-whisper", "pocketsphinx")


class NoSpeechFound(InvalidInput):
    """The audio has no recognisable speech (music, silence): nothing to caption."""

    field = "video"


@dataclass(frozen=True)
class Transcript:
    words: list[TimedWord]
    #: Which engine produced the words (one of ``ENGINES``).
    engine: str
    #: BCP-47 language of the words ("en" for the English-only recognisers).
    language: str = "en"
    duration: float = 0.0
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return join_words(w.word for w in self.words)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "language": self.language,
            "duration": round(self.duration, 3),
            "text": self.text,
            "words": [
                {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)} for w in self.words
            ],
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            words=[TimedWord(str(w["word"]), float(w["start"]), float(w["end"])) for w in data["words"]],
            engine=str(data["engine"]),
            language=str(data.get("language", "en")),
            duration=float(data.get("duration", 0.0)),
            warnings=[str(x) for x in data.get("warnings", [])],
        )


def join_words(words: Iterable[str]) -> str:
    """Words as one line of text: spaces between words, none around CJK words (written without)."""
    from facecast.captions.fonts import is_cjk_word

    out = ""
    previous_cjk = False
    for word in words:
        cjk = is_cjk_word(word)
        if out and not (cjk and previous_cjk):
            out += " "
        out += word
        previous_cjk = cjk
    return out


def check_words(words: Sequence[TimedWord], duration: float) -> list[TimedWord]:
    """``words`` cleaned to the transcript rules: blank words dropped, times clipped to
    ``[0, duration]``, each word starting no earlier than the previous one ends, end > start."""
    out: list[TimedWord] = []
    floor = 0.0
    limit = max(0.0, duration)
    for word in words:
        text = word.word.strip()
        if not text:
            continue
        start = min(max(word.start, floor), limit)
        end = min(max(word.end, start), limit)
        if end <= start:  # zero-length (or squeezed against the end): give it a sliver if there is room
            end = min(start + 0.02, limit)
            if end <= start:
                continue
        out.append(TimedWord(text, start, end))
        floor = end
    return out


def from_speech(words: Sequence[TimedWord], duration: float, language: str = "") -> Transcript:
    """The transcript of synthesised speech: its own word times, no recognition."""
    checked = check_words(words, duration)
    if not checked:
        raise NoSpeechFound("no speech found: the speech has no words")
    return Transcript(checked, "speech", language=language, duration=duration)
