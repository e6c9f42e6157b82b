"""What every resource shares: the settings, database, media, queue, speech back end, URL signer
and rate limiter of one process, and the callers (keys, rate limits).
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from facecast.service.auth import Caller, RateLimiter, authenticate, touch_key
from facecast.service.avatars import SourceLimits
from facecast.service.db import Database
from facecast.service.models import Avatar, Voice
from facecast.service.objects import open_object_store
from facecast.service.queue import JobQueue
from facecast.service.settings import Settings
from facecast.service.storage import MediaStore, UrlSigner
from facecast.service.voices import SpeechBackend

log = logging.getLogger(__name__)

#: CPU-heavy work done in the web process (preparing avatars, speaking texts) runs two at a time.
heavy = threading.BoundedSemaphore(2)


class ServiceCore:
    """The state one process's service holds; the resources add operations on top."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        queue: JobQueue | None = None,
        speech: SpeechBackend | None = None,
    ) -> None:
        self.settings = settings
        settings.ensure_dirs()
        self.db = db or Database(settings)
        remote = open_object_store(
            settings.storage_url,
            endpoint_url=settings.s3_endpoint_url,
            multipart_bytes=settings.s3_multipart_bytes,
        )
        self.media = MediaStore(settings.media_root, remote)
        self.queue = queue
        self._speech = speech
        self.signer = UrlSigner(settings.signing_secret())
        self.limiter = RateLimiter()

    @property
    def source_limits(self) -> SourceLimits:
        return SourceLimits(
            max_clip_seconds=self.settings.max_clip_seconds, max_clip_side=self.settings.max_clip_side
        )

    @property
    def speech(self) -> SpeechBackend:
        if self._speech is None:
            self._speech = SpeechBackend(
                self.settings.media_root, max_chars=self.settings.max_text_chars, media=self.media
            )
        return self._speech

    # --- callers ---------------------------------------------------------------------------------
    def authenticate(self, raw_key: str | None) -> Caller:
        """The caller of a key. Noting the key's use is best-effort: with the disk full or the
        database read-only, requests still authenticate (and those that only read still work)."""
        with self.db.session() as session:
            caller = authenticate(session, raw_key)
        try:
            with self.db.transaction() as session:
                touch_key(session, caller)
        except Exception as exc:  # never fail a request over an informational timestamp
            log.warning("could not record the use of key %s: %s", caller.key_id, exc)
        return caller

    def check_rate(self, caller: Caller, *, creation: bool = False) -> None:
        self.limiter.hit(caller.key_id, "requests", self.settings.rate_limit_per_minute)
        if creation:
            self.limiter.hit(caller.key_id, "creations", self.settings.create_rate_limit_per_minute)

    @staticmethod
    def _visible(model: type[Voice] | type[Avatar], caller: Caller) -> ColumnElement[bool]:
        """Stock rows and the caller's own, not deleted."""
        return and_(
            model.deleted_at.is_(None), or_(model.account_id.is_(None), model.account_id == caller.account_id)
        )
