"""Stock content every account sees: the avatars listed here and every catalog voice.

Seeding is idempotent and runs at server start. To ship another stock avatar, append a
``StockAvatar`` to ``STOCK_AVATARS``. Photo avatars are prepared at start (under a second); video
avatars are made and prepared by the worker, and are listed once ready.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from facecast.service.avatars import AVATAR_KINDS, handler_for
from facecast.service.models import Avatar, AvatarKind, AvatarStatus, Voice, utcnow
from facecast.service.resources.avatars import AvatarResource

log = logging.getLogger(__name__)


def _write_astronaut(path: Path) -> None:
    """The scikit-image astronaut portrait (Eileen Collins, public domain), as a PNG."""
    import numpy as np
    from PIL import Image
    from skimage import data

    Image.fromarray(np.asarray(data.astronaut())).save(path, format="PNG")


#: What the stock video avatar says in its clip (about 3.5 s with the default voice).
STOCK_CLIP_TEXT = "Hello! I am the Facecast astronaut. Give me something to say."


def _write_astronaut_clip(path: Path) -> None:
    """A short clip of the astronaut speaking, made offline with the engine itself: a stock voice
    speaks ``STOCK_CLIP_TEXT`` and the photo animator moves the portrait (lips, blinks, head motion).
    The clip's own audio does not matter: video avatars discard it."""
    import secrets
    import tempfile

    from facecast.engine import RenderOptions, prepare_avatar, render
    from facecast.errors import FacecastError
    from facecast.speech import DEFAULT_VOICE_ID, stock_voices, synthesize

    voices = [DEFAULT_VOICE_ID] + [v.id for v in stock_voices() if v.id != DEFAULT_VOICE_ID and v.available]
    speech = None
    for voice_id in voices:
        try:
            speech = synthesize(STOCK_CLIP_TEXT, voice_id)
            break
        except FacecastError:
            continue
    if speech is None:
        raise RuntimeError("no stock voice can speak on this machine; the stock video avatar needs one")
    with tempfile.TemporaryDirectory(prefix="facecast-stock-") as tmp:
        portrait = Path(tmp) / "astronaut.png"
        _write_astronaut(portrait)
        pack = prepare_avatar(portrait, size=512)
    # Rendered beside its final name and renamed into place: never half a clip under that name.
    part = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")
    try:
        render(pack, speech.audio, part, phones=speech.phones, options=RenderOptions(seed=3))
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


@dataclass(frozen=True)
class StockAvatar:
    id: str
    name: str
    kind: AvatarKind
    #: The source file's name inside the avatar's folder, and how to write it.
    filename: str
    write_source: Callable[[Path], None]
    #: Its default voice (a catalog voice id); None: the catalog's default voice.
    voice_id: str | None = None


STOCK_AVATARS: list[StockAvatar] = [
    StockAvatar(
        id="astronaut",
        name="Astronaut",
        kind=AvatarKind.PHOTO,
        filename="source.png",
        write_source=_write_astronaut,
    ),
    StockAvatar(
        id="astronaut-video",
        name="Astronaut (video)",
        kind=AvatarKind.VIDEO,
        filename="source.mp4",
        write_source=_write_astronaut_clip,
    ),
]


class StockSeeding(AvatarResource):
    """Seeding the stock voices and avatars into the database (and media) at start."""

    def seed_stock(self) -> None:
        """Stock voices (the catalog) and stock avatars (``STOCK_AVATARS``); safe to run every start."""
        try:
            catalog = self.speech.catalog()
        except Exception:
            log.exception("the voice catalog is unavailable; no stock voices")
            catalog = []
        with self.db.transaction() as session:
            known = {v.id: v for v in session.scalars(select(Voice).where(Voice.account_id.is_(None)))}
            for position, entry in enumerate(catalog):
                row = known.get(entry.id)
                if row is None:
                    row = Voice(id=entry.id, engine_voice_id=entry.id)
                    session.add(row)
                row.name, row.language, row.gender, row.engine = (
                    entry.name,
                    entry.language,
                    entry.gender,
                    entry.engine,
                )
                row.position, row.deleted_at = position, None
            available = {e.id for e in catalog}
            for voice_id, row in known.items():
                if voice_id not in available and row.deleted_at is None and catalog:
                    row.deleted_at = utcnow()
        default_voice = self.default_voice_id()
        for stock in STOCK_AVATARS:
            handler = AVATAR_KINDS.get(stock.kind.value)
            if handler is None or handler.unavailable:
                log.info("stock avatar %s skipped: %s avatars are not available", stock.id, stock.kind.value)
                continue
            with self.db.session() as session:
                existing = session.get(Avatar, stock.id)
            folder = self.media.fetch_dir(self.media.avatar_dir(stock.id))
            if handler.prepared_by_worker:
                self._seed_in_worker(stock, existing, folder, default_voice)
                continue
            if existing is not None and all(handler.has_mode(folder, m) for m in (False, True)):
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
                source = folder / stock.filename
                if not source.exists():
                    stock.write_source(source)
                handler.prepare(source, folder)
                self.media.publish(self.media.avatar_dir(stock.id))
            except Exception:
                log.exception("could not prepare stock avatar %s", stock.id)
                continue
            self._upsert_stock(stock, default_voice, AvatarStatus.READY)
            log.info("stock avatar %s ready", stock.id)

    def _seed_in_worker(
        self, stock: StockAvatar, existing: Avatar | None, folder: Path, default_voice: str | None
    ) -> None:
        """A stock avatar the worker prepares (it takes seconds): queue it unless it is ready or on
        its way (the reaper looks after queued and preparing avatars); listed once ready."""
        handler = handler_for(stock.kind.value)
        if existing is not None and existing.deleted_at is None:
            if existing.avatar_status is AvatarStatus.READY and handler.has_mode(folder, False):
                return
            if existing.avatar_status in (AvatarStatus.QUEUED, AvatarStatus.PREPARING):
                return
        if self.queue is None:
            log.info("stock avatar %s not queued: no job queue here", stock.id)
            return
        avatar = self._upsert_stock(stock, default_voice, AvatarStatus.QUEUED)
        try:
            self._enqueue_avatar(avatar)
        except Exception:
            return  # logged; marked failed, tried again at the next start
        log.info("stock avatar %s queued for preparation by the worker", stock.id)

    def _upsert_stock(self, stock: StockAvatar, default_voice: str | None, status: AvatarStatus) -> Avatar:
        with self.db.transaction() as session:
            row = session.get(Avatar, stock.id)
            if row is None:
                row = Avatar(
                    id=stock.id,
                    account_id=None,
                    name=stock.name,
                    kind=stock.kind.value,
                    voice_id=stock.voice_id or default_voice,
                )
                session.add(row)
            row.deleted_at, row.status, row.error_message = None, status.value, None
            row.attempts, row.claim_token, row.heartbeat_at = 0, None, None
        return row
