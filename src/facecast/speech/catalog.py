"""The voice catalog: every engine's stock voices plus the uploaded voices of given folders.

Stock voices are listed once per process (which engines are installed does not change while it
runs); an account's uploaded voices are read from its folder on every call, so a new upload shows
up at once.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from pathlib import Path

from facecast.errors import UnknownVoice
from facecast.speech.engines import all_engines
from facecast.speech.engines.piper import DEFAULT_VOICE_ID
from facecast.speech.models import Voice

__all__ = ["DEFAULT_VOICE_ID", "get_voice", "list_voices", "stock_voices"]

VoiceDirs = Iterable[str | Path]


@functools.lru_cache(maxsize=1)
def _stock() -> tuple[Voice, ...]:
    voices: list[Voice] = []
    for engine in all_engines().values():
        voices.extend(engine.stock_voices())
    ids = [v.id for v in voices]
    assert len(ids) == len(set(ids)), "duplicate stock voice ids"
    # The default voice first, then by engine in registration order, then by id.
    order = {name: i for i, name in enumerate(all_engines())}
    voices.sort(key=lambda v: (v.id != DEFAULT_VOICE_ID, order.get(v.engine, 99), v.id))
    return tuple(voices)


def stock_voices() -> list[Voice]:
    """The voices every account has (whether or not their engine is installed here)."""
    return list(_stock())


def list_voices(extra_dirs: VoiceDirs = (), *, available_only: bool = False) -> list[Voice]:
    """Stock voices, then the uploaded voices found in ``extra_dirs`` (see ``register_piper_voice``)."""
    from facecast.speech.custom import custom_voices

    voices = stock_voices()
    for folder in extra_dirs:
        voices.extend(custom_voices(folder))
    if available_only:
        voices = [v for v in voices if v.available]
    return voices


def get_voice(voice_id: str | None = None, extra_dirs: VoiceDirs = ()) -> Voice:
    """The catalog entry with this id (the default voice for None); ``UnknownVoice`` otherwise."""
    wanted = voice_id or DEFAULT_VOICE_ID
    for voice in _stock():
        if voice.id == wanted:
            return voice
    from facecast.speech.custom import custom_voices

    for folder in extra_dirs:
        for voice in custom_voices(folder):
            if voice.id == wanted:
                return voice
    raise UnknownVoice(f"Unknown voice {wanted!r}; `facecast voices` lists the voices.")
