"""Readiness: ``/readyz`` answers 200 when the database, the job queue and the media storage all
work, else 503 naming what does not. (``/healthz`` stays liveness: the process answers.)"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from facecast.service.domain import Service
from facecast.service.faults import probe_writable

router = APIRouter(tags=["Server"])


class Readiness(BaseModel):
    status: str
    #: Each dependency: "ok", or why it is not.
    checks: dict[str, str]


def _database(service: Service) -> None:
    with service.db.session() as session:
        session.execute(text("select 1"))


def _queue(service: Service) -> None:
    if service.queue is None:
        raise RuntimeError("no job queue configured")
    service.queue.huey.pending_count()


def _storage(service: Service) -> None:
    fault = probe_writable(service.media.root / "tmp")  # scratch space, also with an object store
    if fault is not None:
        raise fault
    if service.media.remote is not None:
        service.media.remote.check()


CHECKS: dict[str, Callable[[Service], None]] = {"database": _database, "queue": _queue, "storage": _storage}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency does not work"}},
    summary="Readiness (database, queue, storage)",
)
def readyz(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
    checks: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check(service)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"{type(exc).__name__}: {exc}"[:300]
    ready = all(value == "ok" for value in checks.values())
    body = Readiness(status="ready" if ready else "unavailable", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
