"""The FastAPI application: both dialects, media URLs, errors, and the start-up work.

At start-up the app migrates the database, seeds stock content and starts the reaper; the worker
process is ``facecast serve``'s business (see ``facecast.service.server``), not the app's.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from facecast import __version__
from facecast.service.api import media, miraflow, miraflow_captions, mirage, mirage_captions, share
from facecast.service.api.errors import UploadLimit, install_error_handlers
from facecast.service.domain import Service
from facecast.service.jobs import Reaper
from facecast.service.queue import JobQueue
from facecast.service.settings import Settings, get_settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Self-hosted talking-head videos from a portrait and speech, on the CPU.

Two dialects over the same data: **Miraflow** (`/api/...`, `{"result": ...}` bodies) and
**Mirage** (`/v1/videos...`). Authenticate with `x-api-key: <key>` or `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = Service(settings, queue=JobQueue(settings))
        await run_in_threadpool(service.db.migrate)
        if settings.seed_stock:
            await run_in_threadpool(service.seed_stock)
        reaper = Reaper(service)
        reaper.start()
        app.state.service = service
        log.info(
            "facecast app ready (database %s, queue %s)",
            settings.sqlalchemy_url.split("://")[0],
            settings.queue_backend,
        )
        try:
            yield
        finally:
            reaper.stop()
            if service.queue is not None:
                service.queue.close()
            service.db.dispose()

    app = FastAPI(
        title="Facecast",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        strict_content_type=False,
    )
    install_error_handlers(app)
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes, json_limit=settings.max_json_bytes)
    app.include_router(miraflow.router)
    app.include_router(miraflow_captions.router)
    app.include_router(mirage_captions.router)  # before mirage's /v1/videos/{video_id} routes
    app.include_router(mirage.router)
    app.include_router(media.router)
    app.include_router(share.router)
    app.add_middleware(share.ShareBase, enabled=settings.share_links, public_url=settings.public_url)

    @app.get("/healthz", tags=["Server"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
