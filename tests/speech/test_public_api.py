"""The speech layer's public names: what the render command and the service may use."""

from __future__ import annotations

import facecast.speech as speech


def test_public_names_are_pinned() -> None:
    assert sorted(speech.__all__) == [
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
    for name in speech.__all__:
        assert getattr(speech, name) is not None
