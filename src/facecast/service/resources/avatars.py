"""Avatars: photo avatars prepared in the request, video avatars queued for the worker, and the
end of a preparation (ready or failed).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from facecast.errors import (
    Conflict,
    FacecastError,
    InvalidInput,
    NotFound,
    NotSupported,
    QueueUnavailable,
    UnreadableImage,
    UnreadableVideo,
)
from facecast.service.auth import Caller
from facecast.service.avatars import handler_for
from facecast.service.ids import new_id
from facecast.service.models import Avatar, AvatarKind, AvatarStatus, utcnow
from facecast.service.resources.base import heavy
from facecast.service.resources.voices import VoiceResource
from facecast.service.uploads import (
    IMAGE_TYPES,
    VIDEO_TYPES,
    Upload,
    check_type,
    plausible_id,
    shown_id,
    storable,
)
from facecast.service.webhooks import record_event

log = logging.getLogger(__name__)


class AvatarResource(VoiceResource):
    """Listing, creating, checking and deleting avatars."""

    # --- avatars ---------------------------------------------------------------------------------
    def list_avatars(self, caller: Caller) -> list[Avatar]:
        with self.db.session() as session:
            rows = session.scalars(
                select(Avatar)
                .where(
                    self._visible(Avatar, caller),
                    Avatar.hidden.is_(False),
                    # Your own avatars in every state (with their status); stock ones once ready.
                    or_(Avatar.account_id.is_not(None), Avatar.status == AvatarStatus.READY.value),
                )
                .order_by(Avatar.account_id.is_not(None), Avatar.created_at, Avatar.id)
            )
            return list(rows)

    def _avatar(self, session: Session, caller: Caller, avatar_id: str) -> Avatar:
        avatar = None
        if plausible_id(avatar_id):
            avatar = session.scalar(
                select(Avatar).where(
                    Avatar.id == avatar_id, self._visible(Avatar, caller), Avatar.hidden.is_(False)
                )
            )
        if avatar is None:
            raise NotFound(f"Avatar not found: {shown_id(avatar_id)}", field="avatarId")
        return avatar

    def get_avatar(self, caller: Caller, avatar_id: str) -> Avatar:
        with self.db.session() as session:
            return self._avatar(session, caller, avatar_id)

    def _prepare_avatar(
        self, avatar_id: str, kind: AvatarKind, source: Upload, *, modes: Sequence[bool] = (False, True)
    ) -> list[str]:
        """Store ``source`` in the avatar's folder, check it, and prepare it unless the worker does
        (``prepared_by_worker``); on any failure leave nothing."""
        handler = handler_for(kind.value)
        if kind is AvatarKind.PHOTO:
            ext = check_type(source, IMAGE_TYPES, "image", UnreadableImage)
        else:
            ext = check_type(source, VIDEO_TYPES, "video", UnreadableVideo)
        folder_rel = self.media.avatar_dir(avatar_id)
        try:
            self.media.save_stream(
                f"{folder_rel}/source.{ext}",
                source.file,
                max_bytes=self.settings.max_upload_bytes,
                field=source.field,
            )
            stored = self.media.path(f"{folder_rel}/source.{ext}")
            with heavy:
                handler.check(stored, self.source_limits)
                if handler.prepared_by_worker:
                    return []
                warnings = handler.prepare(stored, self.media.path(folder_rel), modes=modes)
            self.media.publish(folder_rel)
            return warnings
        except BaseException as exc:
            self.media.delete(folder_rel)
            if isinstance(exc, FacecastError) and exc.field in ("image", "video"):
                exc.field = source.field  # name the field as the request did
            raise

    def create_avatar(
        self,
        caller: Caller,
        *,
        name: str | None,
        source: Upload,
        kind: AvatarKind,
        voice_id: str | None = None,
    ) -> tuple[Avatar, list[str]]:
        """A photo avatar from a portrait (prepared now: ready at once) or a video avatar from a
        clip (checked now, then queued: the worker prepares it, and it is usable once ready)."""
        if voice_id:
            self.get_voice(caller, voice_id)
        handler = handler_for(kind.value)
        if handler.unavailable:
            raise NotSupported(handler.unavailable)
        avatar_id = new_id()
        warnings = self._prepare_avatar(avatar_id, kind, source)
        avatar = Avatar(
            id=avatar_id,
            account_id=caller.account_id,
            name=storable(name).strip()[:200] or "My avatar",
            kind=kind.value,
            voice_id=voice_id or self.default_voice_id(),
            status=(AvatarStatus.QUEUED if handler.prepared_by_worker else AvatarStatus.READY).value,
        )
        with self.db.transaction() as session:
            session.add(avatar)
        if handler.prepared_by_worker:
            try:
                self._enqueue_avatar(avatar)
            except QueueUnavailable:  # withdrawn: the caller never got its id
                with self.db.transaction() as session:
                    session.execute(update(Avatar).where(Avatar.id == avatar.id).values(deleted_at=utcnow()))
                raise
        return avatar, warnings

    def _enqueue_avatar(self, avatar: Avatar) -> None:
        if self.queue is None:
            raise RuntimeError("no job queue configured")
        try:
            self.queue.enqueue_avatar(avatar.id)
        except Exception as exc:
            log.error("could not queue the preparation of avatar %s: %s", avatar.id, exc)
            message = "The job queue is unavailable; the avatar could not be queued for preparation"
            self.finish_avatar(avatar.id, None, AvatarStatus.FAILED, message=message)
            raise QueueUnavailable(message) from exc

    @staticmethod
    def check_ready(avatar: Avatar) -> None:
        """Refuse (409) to render an avatar that is not prepared (yet)."""
        status = avatar.avatar_status
        if status is AvatarStatus.READY:
            return
        if status is AvatarStatus.FAILED:
            raise Conflict(
                f"Avatar {avatar.id} could not be prepared and cannot make videos: "
                f"{avatar.error_message or 'unknown error'}"
            )
        raise Conflict(
            f"Avatar {avatar.id} is still being prepared (status: {status.value}); "
            "create videos with it once its status is ready"
        )

    def delete_avatar(self, caller: Caller, avatar_id: str) -> None:
        with self.db.transaction() as session:
            avatar = self._avatar(session, caller, avatar_id)
            if avatar.account_id is None:
                raise InvalidInput("Stock avatars cannot be deleted", field="avatarId")
            avatar.deleted_at = utcnow()
        self.media.delete(self.media.avatar_dir(avatar_id))

    def finish_avatar(
        self, avatar_id: str, claim_token: str | None, status: AvatarStatus, *, message: str | None = None
    ) -> bool:
        """Move an avatar's preparation to ready or failed; with ``claim_token`` only if that claim
        still owns it. A failed avatar's files go (the row stays, with the reason)."""
        query = update(Avatar).where(Avatar.id == avatar_id)
        if claim_token is not None:
            query = query.where(Avatar.claim_token == claim_token)
        with self.db.transaction() as session:
            done = session.execute(
                query.values(status=status.value, claim_token=None, heartbeat_at=None, error_message=message)
            ).rowcount  # type: ignore[attr-defined]
            if done:
                account = session.scalar(select(Avatar.account_id).where(Avatar.id == avatar_id))
                record_event(session, account, f"avatar.{status.value}", avatar_id)
        if done and status is AvatarStatus.FAILED:
            self.media.delete(self.media.avatar_dir(avatar_id))
        return bool(done)
