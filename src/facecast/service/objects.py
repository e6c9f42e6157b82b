"""Object storage behind the media store: an S3-compatible bucket (boto3) that holds every upload,
avatar pack, speech, caption asset and finished video, so workers on other machines share them.

Objects are addressed by the media store's relative paths (``videos/<id>.mp4``) under a prefix.
An upload is atomic: a single PUT, or a multipart upload that becomes visible only when completed.
Every failure to reach the store is a ``StorageUnavailable`` (HTTP 503; a job meeting it is tried
again later), never a bare boto error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from facecast.errors import InvalidInput, StorageUnavailable

log = logging.getLogger(__name__)

#: Bytes read from the store per chunk of a streamed download.
STREAM_CHUNK = 256 * 1024
#: Seconds to wait for the store to accept a connection / answer; a down store fails fast.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 60.0


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str


class ObjectStore(Protocol):
    """What the media store needs of a remote store (``S3Objects``; tests may add an in-memory one)."""

    def put_file(self, rel: str, path: Path) -> None: ...
    def get_file(self, rel: str, dest: Path) -> bool: ...
    def keys(self, prefix: str) -> list[str]: ...
    def info(self, rel: str) -> ObjectInfo | None: ...
    def read_range(self, rel: str, start: int, end: int) -> Iterator[bytes]: ...
    def delete_prefix(self, rel: str) -> int: ...
    def presigned_url(self, rel: str, ttl: int, *, filename: str | None = None) -> str: ...
    def check(self) -> None: ...


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix/")."""
    parts = urlparse(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise InvalidInput(
            f"FACECAST_STORAGE_URL must be s3://BUCKET[/PREFIX], not {url!r}", field="storage_url"
        )
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


class S3Objects:
    """Objects in one bucket under one prefix, through boto3's S3 client."""

    def __init__(self, url: str, *, endpoint_url: str | None = None, multipart_bytes: int = 16 << 20) -> None:
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket, self.prefix = parse_s3_url(url)
        config = Config(
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            retries={"max_attempts": 3, "mode": "standard"},
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self.client: Any = boto3.session.Session().client("s3", endpoint_url=endpoint_url, config=config)
        self.transfer = TransferConfig(
            multipart_threshold=multipart_bytes, multipart_chunksize=multipart_bytes, max_concurrency=4
        )

    def key(self, rel: str) -> str:
        return self.prefix + rel.strip("/")

    # --- writing -------------------------------------------------------------------------------------
    def put_file(self, rel: str, path: Path) -> None:
        """Upload a local file; a large one in parts (the object appears when the last is in)."""
        with _store_errors(f"upload {rel}"):
            self.client.upload_file(str(path), self.bucket, self.key(rel), Config=self.transfer)

    def delete_prefix(self, rel: str) -> int:
        """Remove the object ``rel`` and every object under ``rel/``; returns how many."""
        keys = [self.key(rel)] + [self.key(k) for k in self.keys(rel.rstrip("/") + "/")]
        removed = 0
        with _store_errors(f"delete {rel}"):
            for start in range(0, len(keys), 1000):  # S3 takes at most 1000 keys per call
                batch = [{"Key": k} for k in keys[start : start + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                removed += len(batch)
        return removed

    # --- reading -------------------------------------------------------------------------------------
    def get_file(self, rel: str, dest: Path) -> bool:
        """Download ``rel`` to ``dest`` (written beside and renamed); False when there is no such object."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.download")
        try:
            with _store_errors(f"download {rel}"):
                try:
                    self.client.download_file(self.bucket, self.key(rel), str(tmp), Config=self.transfer)
                except Exception as exc:
                    if _is_missing(exc):
                        return False
                    raise
            tmp.replace(dest)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def keys(self, prefix: str) -> list[str]:
        """Relative paths of the objects under ``prefix``."""
        found: list[str] = []
        with _store_errors(f"list {prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix.lstrip("/")
            )
            for page in pages:
                found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return found

    def info(self, rel: str) -> ObjectInfo | None:
        with _store_errors(f"look up {rel}"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=self.key(rel))
            except Exception as exc:
                if _is_missing(exc):
                    return None
                raise
        return ObjectInfo(size=int(head["ContentLength"]), etag=str(head.get("ETag", "")).strip('"'))

    def read_range(self, rel: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start..end`` (inclusive) of an object, in chunks as they arrive."""
        with _store_errors(f"read {rel}"):
            answer = self.client.get_object(
                Bucket=self.bucket, Key=self.key(rel), Range=f"bytes={start}-{end}"
            )
        body = answer["Body"]
        try:
            while chunk := body.read(STREAM_CHUNK):
                yield chunk
        finally:
            body.close()

    def presigned_url(self, rel: str, ttl: int, *, filename: str | None = None) -> str:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self.key(rel)}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        with _store_errors(f"sign {rel}"):
            return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl))

    def check(self) -> None:
        """Raise ``StorageUnavailable`` unless the bucket answers."""
        with _store_errors("reach the bucket"):
            self.client.head_bucket(Bucket=self.bucket)


def _is_missing(exc: BaseException) -> bool:
    response = getattr(exc, "response", None)
    code = str((response or {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class _store_errors:
    """Turns boto and connection errors into ``StorageUnavailable`` naming the operation."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, StorageUnavailable) or _is_missing(exc):
            return
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, BotoCoreError | ClientError | Boto3Error | ConnectionError):
            log.warning("object store: could not %s: %s", self.what, exc)
            raise StorageUnavailable(f"The object store cannot be reached ({self.what}): {exc}") from exc


def open_object_store(
    url: str | None, *, endpoint_url: str | None = None, multipart_bytes: int = 16 << 20
) -> ObjectStore | None:
    """The remote store ``FACECAST_STORAGE_URL`` names, or None for the local media folder."""
    if not url or url.startswith("file:"):
        return None
    return S3Objects(url, endpoint_url=endpoint_url, multipart_bytes=multipart_bytes)
