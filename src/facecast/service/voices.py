"""The service's bridge to the speech layer (``facecast.speech``): catalog, speeches, uploaded voices.

Everything the service needs from text-to-speech goes through ``SpeechBackend``: the domain never
depends on how the speech layer names or stores things. Speeches live (content-addressed, cached)
under ``<media>/speeches``; an account's uploaded Piper voices under ``<media>/voices/<account>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facecast.errors import InvalidVoiceModel
from facecast.service.storage import MediaStore
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
    def __init__(self, media_root: Path, *, max_chars: int = 5000, media: MediaStore | None = None) -> None:
        self.voices_root = media_root / "voices"
        self.store = SpeechStore(media_root / "speeches")
        self.max_chars = max_chars
        #: With an object store, speeches and account voices are published to it and fetched from it.
        self.media = media

    def account_voices_dir(self, account_id: str) -> Path:
        if self.media is not None:
            return self.media.fetch_dir(f"voices/{account_id}")
        return self.voices_root / account_id

    def _speech_rels(self, store_id: str) -> tuple[str, str]:
        return f"speeches/{store_id[:2]}/{store_id}.wav", f"speeches/{store_id[:2]}/{store_id}.json"

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
        if self.media is not None:
            for rel in self._speech_rels(store_id):  # the JSON last: it marks a complete speech
                self.media.publish(rel)
        return StoredSpeech(store_id=store_id, speech=speech)

    def check_speakable(self, engine_voice_id: str, text: str, *, account_id: str | None = None) -> None:
        """``InvalidText`` now, in the request, when nothing of ``text`` can be spoken by the voice.

        Cheap (text rules only, no synthesis), so a job is never queued just to fail in the worker.
        """
        from facecast.speech.synthesis import plan

        extra = (self.account_voices_dir(account_id),) if account_id else ()
        plan(text, get_voice(engine_voice_id, extra), max_chars=self.max_chars)

    def load(self, store_id: str) -> Speech:
        self._fetch(store_id)
        return self.store.load(store_id)

    def audio_path(self, store_id: str) -> Path:
        self._fetch(store_id)
        return self.store.audio_path(store_id)

    def _fetch(self, store_id: str) -> None:
        if self.media is not None and self.media.remote is not None and len(store_id) > 2:
            for rel in self._speech_rels(store_id):
                self.media.fetch(rel)

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
        entry = _entry(register_piper_voice(model, config, self.account_voices_dir(account_id), name=name))
        self._publish_voices(account_id)
        return entry

    def unregister_voice(self, account_id: str, engine_voice_id: str) -> None:
        unregister_voice(engine_voice_id, self.account_voices_dir(account_id))
        self._publish_voices(account_id, replace=True)

    def _publish_voices(self, account_id: str, *, replace: bool = False) -> None:
        """The account's voice folder to the object store (after a removal: replaced whole)."""
        if self.media is None or self.media.remote is None:
            return
        if replace:
            self.media.remote.delete_prefix(f"voices/{account_id}")
        self.media.publish(f"voices/{account_id}")
