"""Speeches: a voice speaking a text, stored once and usable by many videos."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facecast.errors import (
    InvalidText,
    NotFound,
)
from facecast.service.auth import Caller
from facecast.service.ids import new_id
from facecast.service.models import Speech, utcnow
from facecast.service.resources.base import heavy
from facecast.service.resources.voices import VoiceResource
from facecast.service.uploads import (
    plausible_id,
    shown_id,
)


class SpeechResource(VoiceResource):
    """Creating, reading and deleting speeches."""

    # --- speeches ----------------------------------------------------------------------------------
    def _check_text(self, text: str | None) -> str:
        text = (text or "").strip()
        if not text:
            raise InvalidText("text is empty", field="text")
        if len(text) > self.settings.max_text_chars:
            raise InvalidText(
                f"text is {len(text)} characters long; the limit is {self.settings.max_text_chars}",
                field="text",
            )
        return text

    def create_speech(self, caller: Caller, *, voice_id: str, text: str) -> Speech:
        text = self._check_text(text)
        voice = self.get_voice(caller, voice_id)
        with heavy:
            stored = self.speech.make(voice.engine_voice_id, text, account_id=voice.account_id)
        speech = Speech(
            id=new_id(),
            account_id=caller.account_id,
            voice_id=voice.id,
            text=text,
            store_id=stored.store_id,
            duration=stored.duration,
        )
        with self.db.transaction() as session:
            session.add(speech)
        return speech

    def _speech_row(self, session: Session, caller: Caller, speech_id: str) -> Speech:
        speech = None
        if plausible_id(speech_id):
            speech = session.scalar(
                select(Speech).where(
                    Speech.id == speech_id,
                    Speech.account_id == caller.account_id,
                    Speech.deleted_at.is_(None),
                )
            )
        if speech is None:
            raise NotFound(f"Speech not found: {shown_id(speech_id)}", field="speechId")
        return speech

    def get_speech(self, caller: Caller, speech_id: str) -> Speech:
        with self.db.session() as session:
            return self._speech_row(session, caller, speech_id)

    def list_speeches(self, caller: Caller) -> list[Speech]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(Speech)
                    .where(Speech.account_id == caller.account_id, Speech.deleted_at.is_(None))
                    .order_by(Speech.created_at.desc(), Speech.id.desc())
                )
            )

    def delete_speech(self, caller: Caller, speech_id: str) -> None:
        # The audio stays in the content-addressed store: other speeches may share it.
        with self.db.transaction() as session:
            self._speech_row(session, caller, speech_id).deleted_at = utcnow()
