"""Voices and speech: the catalog, text-to-speech with engine-exact phone and word times, stored
speeches, and uploaded Piper voices.

The render command and the API use only the names re-exported here.
"""

from __future__ import annotations

from facecast.speech.catalog import DEFAULT_VOICE_ID, get_voice, list_voices, stock_voices
from facecast.speech.custom import custom_voices, register_piper_voice, unregister_voice
from facecast.speech.models import Speech, TimedWord, Voice
from facecast.speech.store import SpeechStore
from facecast.speech.synthesis import iter_synthesize, join_speeches, preload, synthesize
from facecast.speech.text import DEFAULT_MAX_CHARS

__all__ = [
    "DEFAULT_MAX_CHARS",
    "DEFAULT_VOICE_ID",
    "Speech",
    "SpeechStore",
    "TimedWord",
    "Voice",
    "custom_voices",
    "get_voice",
    "iter_synthesize",
    "join_speeches",
    "list_voices",
    "preload",
    "register_piper_voice",
    "stock_voices",
    "synthesize",
    "unregister_voice",
]
