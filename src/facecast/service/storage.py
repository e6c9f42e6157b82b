"""The media store: uploads, avatar packs and finished videos on the local disk, written atomically.

Every file lands under a temporary name in its final folder and is renamed into place, so a reader
never sees half a file. Paths handed around are relative to the root (``videos/<id>.mp4``); media
URLs are signed with an HMAC so a player can fetch a video without the API key.

With an object store (``FACECAST_STORAGE_URL=s3://...``, service/objects.py) the store holds the
media and the local folder is a cache and scratch space: every write is uploaded once complete
(``publish``), readers ``fetch`` what they need, deletes remove the objects too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import BinaryIO

from facecast.errors import InvalidInput, PayloadTooLarge
from facecast.service.objects import ObjectStore

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


class MediaStore:
    """Files under one root folder, addressed by relative paths."""

    def __init__(self, root: Path, remote: ObjectStore | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        #: The object store holding the media, or None when the local folder is the store.
        self.remote = remote

    # --- naming -----------------------------------------------------------------------------------
    def path(self, rel: str) -> Path:
        """The absolute path of ``rel``; refuses paths that would leave the root."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise InvalidInput(f"bad media path {rel!r}")
        return path

    @staticmethod
    def avatar_dir(avatar_id: str) -> str:
        return f"avatars/{avatar_id}"

    @staticmethod
    def video_file(video_id: str) -> str:
        return f"videos/{video_id}.mp4"

    @staticmethod
    def upload_dir(owner_id: str) -> str:
        return f"uploads/{owner_id}"

    def work_dir(self, name: str) -> Path:
        """A fresh scratch folder ``tmp/<name>`` (emptied if a previous attempt left one)."""
        path = self.path(f"tmp/{name}")
        try:  # errors propagate: a read-only or full disk must be reported as what it is
            shutil.rmtree(path)
        except FileNotFoundError:
            pass
        path.mkdir(parents=True)
        return path

    def drop_work_dir(self, name: str) -> None:
        shutil.rmtree(self.path(f"tmp/{name}"), ignore_errors=True)

    # --- writing ------------------------------------------------------------------------------------
    def _temp_beside(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        return path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")

    def save_stream(
        self, rel: str, source: BinaryIO, *, max_bytes: int | None = None, field: str = "file"
    ) -> int:
        """Copy ``source`` to ``rel`` atomically; returns the size. Refuses more than ``max_bytes``."""
        final = self.path(rel)
        tmp = self._temp_beside(final)
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := source.read(CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise PayloadTooLarge(
                            f"{field} is larger than the limit of {max_bytes // (1024 * 1024)} MB",
                            field=field,
                        )
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        self.publish(rel)
        return size

    def write_bytes(self, rel: str, data: bytes) -> None:
        final = self.path(rel)
        tmp = self._temp_beside(final)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        self.publish(rel)

    def commit(self, produced: Path, rel: str) -> Path:
        """Move a finished file (written elsewhere under the root) into place at ``rel`` atomically."""
        final = self.path(rel)
        final.parent.mkdir(parents=True, exist_ok=True)
        if produced.stat().st_dev != final.parent.stat().st_dev:
            tmp = self._temp_beside(final)
            shutil.copyfile(produced, tmp)
            os.replace(tmp, final)
            produced.unlink(missing_ok=True)
        else:
            os.replace(produced, final)
        self.publish(rel)
        return final

    # --- the object store -----------------------------------------------------------------------------
    def publish(self, rel: str) -> None:
        """Upload the file ``rel`` (or every file in the folder ``rel``) to the object store; the
        scratch folder ``tmp/`` stays local. Nothing to do without a store."""
        if self.remote is None or rel.startswith("tmp/"):
            return
        path = self.path(rel)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if file.name.startswith(".") and file.name.endswith((".part", ".download")):
                continue  # another writer's unfinished file
            self.remote.put_file(str(file.relative_to(self.root.resolve())), file)

    def fetch(self, rel: str) -> Path:
        """The local path of the file ``rel``, downloaded from the object store when this machine
        does not have it (it may have been written on another). Missing everywhere: the path of a
        file that does not exist, for the caller to report."""
        path = self.path(rel)
        if self.remote is not None and not path.is_file():
            self.remote.get_file(rel, path)
        return path

    def fetch_dir(self, rel: str) -> Path:
        """The local path of the folder ``rel`` with every file the object store has under it."""
        path = self.path(rel)
        if self.remote is not None:
            for key in self.remote.keys(rel.rstrip("/") + "/"):
                local = self.path(key)
                if not local.is_file():
                    self.remote.get_file(key, local)
        return path

    def exists(self, rel: str) -> bool:
        """Whether the file ``rel`` is stored (locally, or in the object store)."""
        if self.path(rel).is_file():
            return True
        return self.remote is not None and self.remote.info(rel) is not None

    def evict(self, rel: str) -> None:
        """Drop the local copy of ``rel`` when the object store holds the media (the cache is
        only scratch space); without a store the local file is the media and stays."""
        if self.remote is None:
            return
        path = self.path(rel)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    # --- removing -----------------------------------------------------------------------------------
    def delete(self, rel: str | None) -> None:
        """Remove a file or folder, best-effort: on a read-only or failing disk what is left is
        logged, and the sweeper removes it once the disk can be written again."""
        if not rel:
            return
        path = self.path(rel)
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("could not remove %s (the sweeper will): %s", rel, exc)
        if self.remote is not None:
            try:
                self.remote.delete_prefix(rel)
            except Exception as exc:  # StorageUnavailable: the store is down; logged, left
                log.warning("could not remove %s from the object store: %s", rel, exc)


class UrlSigner:
    """HMAC signatures for media paths with an expiry time (0: no expiry)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def signature(self, rel: str, expires: int) -> str:
        digest = hmac.new(self._secret, f"{rel}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")

    def sign(self, rel: str, ttl: int) -> tuple[int, str]:
        """A signature valid ``ttl`` seconds, or for as long as the file exists when ``ttl`` is 0
        (the same link every time: a stored link keeps working)."""
        expires = int(time.time()) + ttl if ttl > 0 else 0
        return expires, self.signature(rel, expires)

    def verify(self, rel: str, expires: int, signature: str, *, ttl: int = 0) -> bool:
        """Whether the signature is right and the link still valid under the current ``ttl``: when
        the operator shortens the lifetime, links made under a longer one end with it."""
        now = time.time()
        if ttl > 0 and (expires == 0 or expires > now + ttl):
            return False
        if expires and expires < now:
            return False
        return hmac.compare_digest(self.signature(rel, expires), signature)
