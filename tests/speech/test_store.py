"""Stored speeches: deterministic ids, cached, atomic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from facecast.errors import InvalidText, UnknownSpeech
from facecast.speech import SpeechStore
from facecast.speech import store as store_module
from tests.speech.helpers import assert_well_formed

VOICE = "espeak-en-us"


def test_get_or_create_stores_and_reuses(tmp_path, monkeypatch) -> None:
    store = SpeechStore(tmp_path)
    speech_id, speech = store.get_or_create(VOICE, "Hello there, Mom.")
    assert_well_formed(speech)
    assert store.exists(speech_id)
    wav = store.audio_path(speech_id)
    meta = json.loads(wav.with_suffix(".json").read_text())
    assert meta["voice_id"] == VOICE and meta["text"] == "Hello there, Mom."
    assert [w[0] for w in meta["words"]] == ["Hello", "there,", "Mom."]

    # Second time: no synthesis at all, the same speech.
    def boom(*args, **kwargs):
        raise AssertionError("synthesised again")

    monkeypatch.setattr(store_module, "synthesize", boom)
    again_id, again = store.get_or_create(VOICE, "  Hello there, Mom.  ")
    assert again_id == speech_id
    assert np.array_equal(again.audio.samples, speech.audio.samples)
    assert again.phones == speech.phones and again.words == speech.words
    loaded = SpeechStore(tmp_path).load(speech_id)
    assert np.array_equal(loaded.audio.samples, again.audio.samples) and loaded.words == again.words
    assert not [p for p in tmp_path.rglob(".*")], "temporary files left behind"


def test_ids_are_deterministic_and_distinct(tmp_path) -> None:
    a, b = SpeechStore(tmp_path / "a"), SpeechStore(tmp_path / "b")
    assert a.speech_id(VOICE, "Hi.") == b.speech_id(VOICE, "Hi.")
    assert a.speech_id(VOICE, "Hi.") != a.speech_id(VOICE, "Hi!")
    assert a.speech_id(VOICE, "Hi.") != a.speech_id("flite-slt", "Hi.")
    # Two stores making the same speech independently make identical files.
    id_a, _ = a.get_or_create("flite-slt", "Same words.")
    id_b, _ = b.get_or_create("flite-slt", "Same words.")
    assert id_a == id_b
    assert a.audio_path(id_a).read_bytes() == b.audio_path(id_b).read_bytes()


def test_unknown_and_malicious_ids(tmp_path) -> None:
    store = SpeechStore(tmp_path)
    for bad in ("0" * 32, "../../etc/passwd", "", "ABC"):
        with pytest.raises(UnknownSpeech):
            store.load(bad)
        assert not store.exists(bad)


def test_bad_text_is_refused_before_anything_is_written(tmp_path) -> None:
    store = SpeechStore(tmp_path)
    with pytest.raises(InvalidText):
        store.get_or_create(VOICE, " ")
    with pytest.raises(InvalidText, match="limit"):
        store.get_or_create(VOICE, "x" * 30, max_chars=20)
    assert not any(tmp_path.iterdir())
