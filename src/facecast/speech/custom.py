"""Bring-your-own Piper voices: validate an uploaded .onnx + .json, copy it into a voices folder.

A voices folder (one per account on the server) holds one sub-folder per voice, named by the
voice id, with ``model.onnx``, ``model.onnx.json`` and ``voice.json`` (the catalog entry). The id
is made from the voice's name and its model's hash, so uploading the same model again is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from facecast.errors import InvalidVoiceModel
from facecast.speech.models import Voice

log = logging.getLogger(__name__)

MAX_MODEL_BYTES = 500 * 1024 * 1024
MAX_CONFIG_BYTES = 2 * 1024 * 1024
_REQUIRED_INPUTS = {"input", "input_lengths", "scales"}
_SUPPORTED_PHONEME_TYPES = {"espeak", "text"}
_GENDERS = {"male", "female", "unknown"}
_MODEL, _CONFIG, _ENTRY = "model.onnx", "model.onnx.json", "voice.json"


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].strip("-") or "voice"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_piper_config(json_path: str | Path) -> dict[str, Any]:
    """The parsed Piper voice config, or ``InvalidVoiceModel`` saying what is wrong with it."""
    path = Path(json_path)
    if not path.is_file():
        raise InvalidVoiceModel(f"The voice config {path.name!r} does not exist.")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InvalidVoiceModel("The voice config is too large to be a Piper .onnx.json file.")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidVoiceModel(f"The voice config is not valid JSON: {exc}.") from None
    if not isinstance(config, dict):
        raise InvalidVoiceModel("The voice config must be a JSON object (a Piper .onnx.json file).")
    rate = (config.get("audio") or {}).get("sample_rate") if isinstance(config.get("audio"), dict) else None
    if not isinstance(rate, int) or not 8000 <= rate <= 96000:
        raise InvalidVoiceModel("The voice config has no valid audio.sample_rate (8000..96000 Hz).")
    id_map = config.get("phoneme_id_map")
    if not isinstance(id_map, dict) or not id_map:
        raise InvalidVoiceModel("The voice config has no phoneme_id_map.")
    if not all(isinstance(v, list) and v and all(isinstance(i, int) for i in v) for v in id_map.values()):
        raise InvalidVoiceModel("The voice config's phoneme_id_map must map phonemes to lists of ids.")
    for symbol, what in (("^", "sentence start"), ("$", "sentence end"), ("_", "padding")):
        if symbol not in id_map:
            raise InvalidVoiceModel(f"The voice config's phoneme_id_map lacks {symbol!r} ({what}).")
    if "phoneme_map" in config and not isinstance(config["phoneme_map"], dict):
        raise InvalidVoiceModel("The voice config's phoneme_map must be an object.")
    for key in ("num_symbols", "num_speakers"):
        if not isinstance(config.get(key), int) or config[key] < 1:
            raise InvalidVoiceModel(f"The voice config has no valid {key}.")
    phoneme_type = config.get("phoneme_type", "espeak")
    if phoneme_type not in _SUPPORTED_PHONEME_TYPES:
        raise InvalidVoiceModel(
            f"Voices with phoneme_type {phoneme_type!r} are not supported here (only espeak and text)."
        )
    if phoneme_type == "espeak" and not isinstance((config.get("espeak") or {}).get("voice"), str):
        raise InvalidVoiceModel("The voice config has no espeak.voice (the language it speaks).")
    return config


def validate_piper_model(onnx_path: str | Path, config: dict[str, Any]) -> None:
    """``InvalidVoiceModel`` unless the file loads in onnxruntime with Piper's inputs."""
    import onnxruntime

    path = Path(onnx_path)
    if not path.is_file():
        raise InvalidVoiceModel(f"The voice model {path.name!r} does not exist.")
    size = path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise InvalidVoiceModel(f"The voice model is larger than {MAX_MODEL_BYTES // (1024 * 1024)} MB.")
    try:
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 4
        session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types for every kind of bad file
        raise InvalidVoiceModel(f"The voice model is not a loadable ONNX model: {str(exc)[:200]}") from None
    names = {i.name for i in session.get_inputs()}
    missing = _REQUIRED_INPUTS - names
    if missing:
        raise InvalidVoiceModel(
            f"The ONNX model is not a Piper voice: it lacks the input(s) {', '.join(sorted(missing))}."
        )
    if config.get("num_speakers", 1) > 1 and "sid" not in names:
        raise InvalidVoiceModel("The config says several speakers but the model has no 'sid' input.")
    if not session.get_outputs():
        raise InvalidVoiceModel("The ONNX model has no outputs.")


def _language(config: dict[str, Any]) -> str:
    code = (config.get("language") or {}).get("code") if isinstance(config.get("language"), dict) else None
    if not isinstance(code, str) or not code:
        code = (config.get("espeak") or {}).get("voice") or "und"
    return str(code).replace("_", "-")


def register_piper_voice(
    onnx_path: str | Path,
    json_path: str | Path,
    voices_dir: str | Path,
    *,
    name: str | None = None,
    gender: str = "unknown",
) -> Voice:
    """Validate an uploaded Piper voice, copy it into ``voices_dir`` and return its catalog entry.

    Raises ``InvalidVoiceModel`` (with what is wrong) for a config that does not parse or lacks
    the sample rate or phoneme map, a model onnxruntime cannot load or that lacks Piper's inputs,
    or a voice that fails to speak a test word.
    """
    from facecast.speech.engines.piper import PiperEngine
    from facecast.speech.text import Chunk, Word

    if gender not in _GENDERS:
        raise InvalidVoiceModel(f"gender must be one of {', '.join(sorted(_GENDERS))}.", field="gender")
    config = validate_piper_config(json_path)
    validate_piper_model(onnx_path, config)
    label = (name or "").strip() or str(config.get("dataset") or Path(onnx_path).name.split(".")[0])
    label = label[:80]
    digest = _sha256(Path(onnx_path))
    voice_id = f"custom-{_slug(label)}-{digest[:8]}"
    root = Path(voices_dir)
    root.mkdir(parents=True, exist_ok=True)
    final = root / voice_id
    entry = {
        "id": voice_id,
        "name": label,
        "language": _language(config),
        "gender": gender,
        "engine": "piper",
        "sample_rate": int(config["audio"]["sample_rate"]),
        "model_sha256": digest,
    }
    if (final / _ENTRY).is_file():
        existing = _read_entry(final)
        if existing is not None and existing.name == label and existing.gender == gender:
            return existing
    staging = Path(tempfile.mkdtemp(prefix=".upload-", dir=root))
    try:
        shutil.copyfile(onnx_path, staging / _MODEL)
        shutil.copyfile(json_path, staging / _CONFIG)
        (staging / _ENTRY).write_text(json.dumps(entry, indent=2, ensure_ascii=False), encoding="utf-8")
        voice = _entry_voice(staging, entry)
        try:
            PiperEngine().synthesize(voice, Chunk((Word("a", "a"),)))
        except Exception as exc:
            raise InvalidVoiceModel(f"The voice does not speak: {str(exc)[:200]}") from None
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("registered Piper voice %s in %s", voice_id, root)
    return _entry_voice(final, entry)


def unregister_voice(voice_id: str, voices_dir: str | Path) -> bool:
    """Remove an uploaded voice from its folder; False when there was none with that id."""
    if not re.fullmatch(r"custom-[a-z0-9-]+", voice_id):
        return False
    folder = Path(voices_dir) / voice_id
    if not (folder / _ENTRY).is_file():
        return False
    shutil.rmtree(folder)
    return True


def _entry_voice(folder: Path, entry: dict[str, Any]) -> Voice:
    from facecast.speech.engines.piper import PiperEngine

    return Voice(
        id=str(entry["id"]),
        name=str(entry["name"]),
        language=str(entry["language"]),
        gender=str(entry.get("gender", "unknown")),
        engine="piper",
        sample_rate=int(entry["sample_rate"]),
        available=PiperEngine().available(),
        custom=True,
        engine_voice="",
        model_path=str(folder / _MODEL),
        config_path=str(folder / _CONFIG),
    )


def _read_entry(folder: Path) -> Voice | None:
    try:
        entry = json.loads((folder / _ENTRY).read_text(encoding="utf-8"))
        if entry.get("id") != folder.name or not (folder / _MODEL).is_file():
            return None
        return _entry_voice(folder, entry)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring broken voice folder %s: %s", folder, exc)
        return None


def custom_voices(voices_dir: str | Path) -> list[Voice]:
    """The voices registered in a folder (none when it does not exist)."""
    root = Path(voices_dir)
    if not root.is_dir():
        return []
    voices = []
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and (folder / _ENTRY).is_file():
            voice = _read_entry(folder)
            if voice is not None:
                voices.append(voice)
    return voices
