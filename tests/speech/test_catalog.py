"""The voice catalog."""

from __future__ import annotations

import pytest

from facecast.errors import UnknownVoice
from facecast.speech import DEFAULT_VOICE_ID, get_voice, list_voices

EXPECTED = [
    "piper-en_US-joe-medium",
    "flite-awb",
    "flite-rms",
    "flite-slt",
    "flite-kal",
    "festival-kal",
    "festival-slt-hts",
    "espeak-en-us",
    "espeak-fr",
    "espeak-de",
    "espeak-es",
    "espeak-cmn",
    "espeak-ar",
]


def test_catalog_has_the_stock_voices_with_unique_ids() -> None:
    voices = list_voices()
    ids = [v.id for v in voices]
    assert len(ids) == len(set(ids))
    assert set(EXPECTED) <= set(ids)
    assert sum(v.engine == "espeak-ng" for v in voices) >= 40
    assert voices[0].id == DEFAULT_VOICE_ID


def test_entries_are_complete() -> None:
    for v in list_voices():
        assert v.name and v.language and v.engine
        assert v.gender in ("male", "female", "unknown")
        assert v.sample_rate >= 8000
        assert set(v.to_dict()) == {
            "id",
            "name",
            "language",
            "gender",
            "engine",
            "sample_rate",
            "available",
            "custom",
        }


def test_default_and_lookup() -> None:
    assert get_voice().id == "piper-en_US-joe-medium"
    assert get_voice("flite-slt").gender == "female"
    with pytest.raises(UnknownVoice, match="no-such-voice"):
        get_voice("no-such-voice")


def test_available_only_filters() -> None:
    assert all(v.available for v in list_voices(available_only=True))
