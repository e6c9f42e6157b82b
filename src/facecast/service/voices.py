"""The service's bridge to the speech layer (``facecast.speech``): catalog, speeches, uploaded voices.

Everything the service needs from text-to-speech goes through ``SpeechBackend``: the domain never
depends on how the speech layer names or stores things. Speeches live (content-addressed, cached)
under ``<media>/speeches``; an account's uploaded Piper voices under ``<media>/voices/<account>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facecast.errors import InvalidVoiceModel
from facecast.speech import (
    DEFAULT_VOICE_ID,
    Speech,
    SpeechStore,
    get_voice,
    list_voices,
    register_piper_voice,
    unregister_voice,
)
from facecast.speech import Voice as SpeechVoice
from facecast.speech.custom import validate_piper_config


@dataclass(frozen=True)
class CatalogVoice:
    id: str
    name: str
    language: str
    gender: str
    engine: str


@dataclass(frozen=True)
class StoredSpeech:
    store_id: str
    speech: Speech

    @property
    def duration(self) -> float:
        return float(self.speech.duration)


def _entry(voice: SpeechVoice) -> CatalogVoice:
    return CatalogVoice(
        id=voice.id, name=voice.name, language=voice.language, gender=voice.gender, engine=voice.engine
    )


class SpeechBackend:
    def __init__(self, media_root: Path, *, max_chars: int = 5000) -> None:
        self.voices_root = media_root / "voices"
        self.store = SpeechStore(media_root / "speeches")
        self.max_chars = max_chars

    def account_voices_dir(self, account_id: str) -> Path:
        return self.voices_root / account_id

    @staticmethod
    def catalog() -> list[CatalogVoice]:
        """The stock voices this machine can speak with, the default first."""
        return [_entry(v) for v in list_voices(available_only=True)]

    @staticmethod
    def default_voice_id() -> str:
        return DEFAULT_VOICE_ID

    def make(self, engine_voice_id: str, text: str, *, account_id: str | None = None) -> StoredSpeech:
        """Speak ``text`` (cached: the same voice and text give the same stored speech)."""
        extra = (self.account_voices_dir(account_id),) if account_id else ()
        store_id, speech = self.store.get_or_create(
            engine_voice_id, text, max_chars=self.max_chars, extra_dirs=extra
        )
        return StoredSpeech(store_id=store_id, speech=speech)

    def check_speakable(self, engine_voice_id: str, text: str, *, account_id: str | None = None) -> None:
        """``InvalidText`` now, in the request, when nothing of ``text`` can be spoken by the voice.

        Cheap (text rules only, no synthesis), so a job is never queued just to fail in the worker.
        """
        from facecast.speech.synthesis import plan

        extra = (self.account_voices_dir(account_id),) if account_id else ()
        plan(text, get_voice(engine_voice_id, extra), max_chars=self.max_chars)

    def load(self, store_id: str) -> Speech:
        return self.store.load(store_id)

    def audio_path(self, store_id: str) -> Path:
        return self.store.audio_path(store_id)

    def register_voice(self, account_id: str, model: Path, config: Path, *, name: str | None) -> CatalogVoice:
        """Check an uploaded Piper voice and add it to the account's voices. Problems with the
        config name the ``config`` field, problems with the model the ``model`` field."""
        try:
            validate_piper_config(config)
        except InvalidVoiceModel as exc:
            exc.field = "config"
            raise
        except (RecursionError, ValueError):  # e.g. JSON nested thousands of levels deep
            raise InvalidVoiceModel(
                "The voice config is not a Piper .onnx.json file (it cannot be read as one).", field="config"
            ) from None
        return _entry(register_piper_voice(model, config, self.account_voices_dir(account_id), name=name))

    def unregister_voice(self, account_id: str, engine_voice_id: str) -> None:
        unregister_voice(engine_voice_id, self.account_voices_dir(account_id))
