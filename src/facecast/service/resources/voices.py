"""Voices: the stock catalog and an account's own Piper voices."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facecast.errors import (
    InvalidInput,
    UnknownVoice,
)
from facecast.service.auth import Caller
from facecast.service.ids import new_id
from facecast.service.models import Voice, utcnow
from facecast.service.resources.base import ServiceCore, heavy
from facecast.service.uploads import (
    Upload,
    plausible_id,
    shown_id,
    storable,
)


class VoiceResource(ServiceCore):
    """Listing, creating and deleting voices."""

    def list_voices(self, caller: Caller) -> list[Voice]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Voice)
                .where(self._visible(Voice, caller))
                .order_by(Voice.account_id.is_not(None), Voice.created_at, Voice.name)
            )
            return list(rows)

    def _voice(self, session: Session, caller: Caller, voice_id: str) -> Voice:
        voice = None
        if plausible_id(voice_id):
            voice = session.scalar(select(Voice).where(Voice.id == voice_id, self._visible(Voice, caller)))
        if voice is None:
            raise UnknownVoice(f"Voice not found: {shown_id(voice_id)}")
        return voice

    def get_voice(self, caller: Caller, voice_id: str) -> Voice:
        with self.db.session() as session:
            return self._voice(session, caller, voice_id)

    def default_voice_id(self, session: Session | None = None) -> str | None:
        """The catalog's default voice if it is a stock voice here, else any stock voice."""
        if session is None:
            with self.db.session() as own:
                return self.default_voice_id(own)
        ids = set(
            session.scalars(select(Voice.id).where(Voice.account_id.is_(None), Voice.deleted_at.is_(None)))
        )
        preferred = self.speech.default_voice_id()
        if preferred in ids:
            return preferred
        return min(ids) if ids else None

    def create_voice(self, caller: Caller, *, name: str | None, model: Upload, config: Upload) -> Voice:
        """An account voice from an uploaded Piper model (``.onnx``) and its config (``.json``)."""
        scratch = f"voice-{new_id()}"
        staging = self.media.work_dir(scratch)
        try:
            limit = self.settings.max_upload_bytes
            self.media.save_stream(
                f"tmp/{scratch}/voice.onnx", model.file, max_bytes=limit, field=model.field
            )
            self.media.save_stream(
                f"tmp/{scratch}/voice.onnx.json", config.file, max_bytes=limit, field=config.field
            )
            with heavy:
                registered = self.speech.register_voice(
                    caller.account_id,
                    staging / "voice.onnx",
                    staging / "voice.onnx.json",
                    name=storable(name),
                )
        finally:
            self.media.drop_work_dir(scratch)
        voice = Voice(
            id=new_id(),
            account_id=caller.account_id,
            name=registered.name,
            language=registered.language,
            gender=registered.gender,
            engine=registered.engine,
            engine_voice_id=registered.id,
        )
        with self.db.transaction() as session:
            session.add(voice)
        return voice

    def delete_voice(self, caller: Caller, voice_id: str) -> None:
        with self.db.transaction() as session:
            voice = self._voice(session, caller, voice_id)
            if voice.account_id is None:
                raise InvalidInput("Stock voices cannot be deleted", field="voiceId")
            voice.deleted_at = utcnow()
            still_used = session.scalar(
                select(func.count())
                .select_from(Voice)
                .where(
                    Voice.account_id == caller.account_id,
                    Voice.engine_voice_id == voice.engine_voice_id,
                    Voice.deleted_at.is_(None),
                    Voice.id != voice.id,
                )
            )
        if not still_used:
            self.speech.unregister_voice(caller.account_id, voice.engine_voice_id)
