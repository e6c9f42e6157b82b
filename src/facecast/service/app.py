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
from starlette.middleware.trustedhost import TrustedHostMiddleware

from facecast import __version__
from facecast.service import web
from facecast.service.api import (
    health,
    media,
    metrics,
    miraflow,
    miraflow_captions,
    mirage,
    mirage_captions,
    share,
    streams,
    studio,
    webhook_payloads,
    webhooks,
)
from facecast.service.api.errors import UploadLimit, install_error_handlers
from facecast.service.api.links import LOOPBACK_HOSTS
from facecast.service.api.openapi import install_dialect_openapi
from facecast.service.domain import Service
from facecast.service.jobs import Reaper
from facecast.service.queue import JobQueue
from facecast.service.settings import Settings, get_settings
from facecast.service.streams import StreamManager
from facecast.service.webhook_delivery import Deliverer

log = logging.getLogger(__name__)

DESCRIPTION = """\
Self-hosted talking-head videos from a portrait and speech, on the CPU.

Two dialects over the same data: **Miraflow** (`/api/...`, `{"result": ...}` bodies) and
**Mirage** (`/v1/videos...`). The web studio at `/` uses this same API (its extra endpoints are
tagged *Studio*). Authenticate with `x-api-key: <key>` or `Authorization: Bearer <key>`.
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
        deliverer = Deliverer(service.db, settings)  # the webhook outbox
        deliverer.start()
        app.state.service = service
        app.state.streams = StreamManager()  # its helper processes start with the first stream
        log.info(
            "facecast app ready (database %s, queue %s)",
            settings.sqlalchemy_url.split("://")[0],
            settings.queue_backend,
        )
        try:
            yield
        finally:
            await app.state.streams.shutdown()
            reaper.stop()
            deliverer.stop()
            if service.queue is not None:
                service.queue.close()
            service.db.dispose()

    app = FastAPI(
        title="Facecast",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        strict_content_type=False,
        # FastAPI's own /docs and /redoc load their files from a CDN; ``web`` serves them offline.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_dialect_openapi(app)
    app.add_middleware(UploadLimit, limit=settings.max_upload_bytes, json_limit=settings.max_json_bytes)
    if settings.allowed_host_list:
        # Outermost: a request naming a host the operator did not list is refused before anything.
        app.add_middleware(
            TrustedHostMiddleware, allowed_hosts=[*settings.allowed_host_list, *LOOPBACK_HOSTS]
        )
    app.include_router(miraflow.router)
    app.include_router(miraflow_captions.router)
    app.include_router(mirage_captions.router)  # before mirage's /v1/videos/{video_id} routes
    app.include_router(mirage.router)
    app.include_router(media.router)
    app.include_router(webhooks.miraflow_router)
    app.include_router(webhooks.mirage_router)
    webhook_payloads.install(settings)
    app.include_router(streams.router)
    app.include_router(studio.router)
    web.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(share.router)
    app.add_middleware(share.ShareBase, settings=settings)

    @app.get("/healthz", tags=["Server"], summary="Liveness")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app
