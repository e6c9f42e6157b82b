"""The server's settings: one pydantic-settings class read from ``FACECAST_*`` environment variables.

Everything has a default that works on a fresh machine: SQLite and media under ``FACECAST_DATA_DIR``
(a per-user data folder), a SQLite-backed Huey queue beside them, a worker started with the server.
The web process, the worker and the ``facecast keys`` command all read the same settings.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from facecast.limits import DEFAULT_LIMITS


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("facecast", appauthor=False))


class Settings(BaseSettings):
    """Server configuration. Each field ``name`` is read from ``FACECAST_NAME``."""

    model_config = SettingsConfigDict(env_prefix="FACECAST_", extra="ignore")

    #: Folder holding the database, the queue, the media and the signing secret.
    data_dir: Path = Field(default_factory=default_data_dir)
    #: SQLAlchemy URL; default ``sqlite:///<data_dir>/facecast.db`` (WAL mode). ``postgresql://…`` works.
    database_url: str = ""
    #: Folder for uploads, avatar packs, speeches and finished videos; default ``<data_dir>/media``.
    media_dir: Path | None = None

    #: Where jobs are queued: ``sqlite`` (embedded, default), ``redis`` or ``postgres``.
    queue_backend: Literal["sqlite", "redis", "postgres"] = "sqlite"
    #: Queue location: a file for sqlite (default ``<data_dir>/queue.db``), ``redis://…`` for redis,
    #: a PostgreSQL DSN for postgres (default: the database URL when it is PostgreSQL).
    queue_url: str = ""
    #: Queue name (lets several deployments share one Redis or PostgreSQL).
    queue_name: str = "facecast"
    #: Render threads in each worker process.
    workers: int = Field(default=1, ge=1, le=64)
    #: Whether ``facecast serve`` starts (and supervises) a worker process beside the web server.
    start_worker: bool = True

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: Base URL clients reach the server at (behind a proxy). Signed links (``downloadUrl``, the
    #: Mirage content redirect) are built on it; when unset, on the request's host only if it is
    #: trusted (loopback, the address the request arrived at, ``allowed_hosts``), else on that address.
    public_url: str = ""
    #: Host names the server answers to, comma-separated (``*.example.com`` for sub-domains); when
    #: set, requests naming any other ``Host`` are refused (400). Loopback names are always allowed.
    allowed_hosts: str = ""
    #: Secret for signing media URLs; default: generated once into ``<data_dir>/secret.key``.
    secret_key: str = ""
    #: Lifetime of signed media (download) URLs, seconds; 0 (default): valid for the life of the
    #: video (a stored Miraflow ``downloadUrl`` keeps working until the video is deleted).
    media_url_ttl: int = Field(default=0, ge=0)

    #: Largest request body accepted (uploads), bytes.
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    #: Largest request body that is not a multipart upload (the JSON requests), bytes.
    max_json_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Longest script text, characters.
    max_text_chars: int = Field(default=DEFAULT_LIMITS.max_text_chars, ge=1)
    #: Longest speech audio, seconds.
    max_audio_seconds: float = Field(default=DEFAULT_LIMITS.max_audio_seconds, gt=0)
    #: Longest clip a video avatar may be made from, seconds.
    max_clip_seconds: float = Field(default=DEFAULT_LIMITS.max_clip_seconds, gt=0)
    #: Largest picture (its long side, pixels) of a clip a video avatar may be made from. Video
    #: avatars are rendered at the clip's size, downscaled to at most 1280 pixels on the long side.
    max_clip_side: int = Field(default=DEFAULT_LIMITS.max_clip_side, ge=64)

    #: Requests per minute per API key (0: unlimited).
    rate_limit_per_minute: int = Field(default=600, ge=0)
    #: Video/avatar/speech creations per minute per API key (0: unlimited).
    create_rate_limit_per_minute: int = Field(default=60, ge=0)
    #: Videos an account may have queued or rendering at once (0: unlimited).
    max_pending_jobs: int = Field(default=50, ge=0)

    #: Seconds between a worker's heartbeats on the job row it renders.
    heartbeat_interval: float = Field(default=5.0, gt=0)
    #: A running job whose heartbeat is older than this is re-queued or failed by the reaper.
    heartbeat_timeout: float = Field(default=60.0, gt=0)
    #: Seconds between reaper passes in the server.
    reaper_interval: float = Field(default=5.0, gt=0)
    #: Times a job is tried before it fails (worker crashes count, bad input does not retry).
    max_attempts: int = Field(default=3, ge=1)
    #: A job running longer than this is stopped and failed, seconds.
    job_timeout: float = Field(default=3600.0, gt=0)
    #: A cancel request waits up to this long (seconds) for a running job to stop, so it can answer
    #: the final state; past it the answer is the running state (HTTP 202: still stopping).
    cancel_wait: float = Field(default=5.0, ge=0)
    #: Seconds between sweeper passes (media no row accounts for; also one pass at start).
    sweep_interval: float = Field(default=600.0, gt=0)
    #: Orphaned media younger than this (seconds) is left alone: it may belong to a create in flight.
    sweep_grace: float = Field(default=600.0, ge=0)
    #: First delay (seconds) before a job that met a storage fault (disk full, read-only) is tried
    #: again; it doubles with each attempt, so a full disk does not burn the attempts in seconds.
    storage_retry_delay: float = Field(default=10.0, ge=0)
    #: Where media lives: unset for the local media folder; ``s3://BUCKET/PREFIX`` for an
    #: S3-compatible store (credentials and region from the standard ``AWS_*`` variables). With a
    #: store, the local media folder is scratch space only.
    storage_url: str | None = None
    #: Endpoint of a non-AWS S3 store (MinIO, Ceph RGW, R2, ...), e.g. ``http://minio:9000``.
    s3_endpoint_url: str | None = None
    #: With a store: Mirage's ``/content``, ``downloadUrl`` and share files redirect to a presigned
    #: URL of the store (valid ``FACECAST_STORAGE_REDIRECT_TTL`` s) instead of streaming through.
    storage_redirect: bool = False
    storage_redirect_ttl: int = Field(default=3600, gt=0, le=7 * 24 * 3600)
    #: Webhook URLs may resolve to loopback, private and link-local addresses (tests, private networks).
    webhook_allow_private: bool = False
    #: Seconds one webhook delivery may take (connect, send, answer).
    webhook_timeout: float = Field(default=10.0, gt=0, le=60)
    #: Multiplies the retry schedule of webhook deliveries (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h);
    #: tests shrink it.
    webhook_retry_scale: float = Field(default=1.0, gt=0)
    #: Files larger than this are uploaded to the store in parts of this size.
    s3_multipart_bytes: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024)

    #: Frames per second of rendered videos.
    render_fps: float = Field(default=25.0, gt=0, le=60)
    #: Mirage renders use the whole picture (True) or a face-cropped square (False).
    mirage_full_background: bool = True
    #: Finished videos get a public, unguessable, revocable link (``share_link_url``) that plays
    #: them in a page without a key. FACECAST_SHARE_LINKS=false turns every link off.
    share_links: bool = True
    #: The worker makes a short preview clip of each built-in caption template at its first start.
    caption_previews: bool = True
    #: Seed stock avatars and voices at start-up.
    seed_stock: bool = True
    #: Name of the account created (with a printed key) on the first start.
    default_account: str = "default"

    @field_validator("data_dir", "media_dir", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @model_validator(mode="after")
    def _derive(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'facecast.db'}"
        if self.media_dir is None:
            self.media_dir = self.data_dir / "media"
        if not self.queue_url:
            if self.queue_backend == "sqlite":
                self.queue_url = str(self.data_dir / "queue.db")
            elif self.queue_backend == "redis":
                self.queue_url = "redis://127.0.0.1:6379/0"
            elif self.is_postgres:
                self.queue_url = libpq_dsn(self.database_url)
            else:
                raise ValueError(
                    "FACECAST_QUEUE_URL is required for the postgres queue with a non-PostgreSQL database"
                )
        return self

    @property
    def allowed_host_list(self) -> list[str]:
        return [h.strip() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def media_root(self) -> Path:
        assert self.media_dir is not None
        return self.media_dir

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the driver SQLAlchemy should use (psycopg 3 for PostgreSQL)."""
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url

    @property
    def is_postgres(self) -> bool:
        return self.sqlalchemy_url.startswith("postgresql")

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.media_root.mkdir(parents=True, exist_ok=True)

    def signing_secret(self) -> bytes:
        """The media URL secret: the setting, else one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            import secrets

            self.ensure_dirs()
            tmp = path.with_name(f".secret.{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_urlsafe(48))
            tmp.chmod(0o600)
            try:
                # A link, not a rename: when two processes start at once, the first secret wins.
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return path.read_text().strip().encode()


def libpq_dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a libpq connection string (drops the ``+driver`` part)."""
    scheme, sep, rest = url.partition("://")
    return "postgresql://" + rest if sep else url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
