"""Webhook endpoints, the same for both dialects: ``/api/webhooks`` (Miraflow) and ``/v1/webhooks``
(Mirage) register, list and remove an account's endpoints and show each one's delivery log. Errors
come in the shape of the dialect the path belongs to."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from facecast.service import webhooks
from facecast.service.api.deps import CallerDep, ServiceDep
from facecast.service.webhook_models import WebhookDelivery, WebhookEndpoint


class EndpointIn(BaseModel):
    url: str = Field(description="Where events are POSTed (http or https, a public address)")
    events: list[str] | None = Field(
        default=None, description=f"Events to receive (default all): {', '.join(webhooks.EVENTS)}"
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    events: list[str]
    created_at: dt.datetime
    #: Only in the answer to the creation: the signing secret (``whsec_...``), shown once.
    secret: str | None = None


class DeliveryOut(BaseModel):
    id: str
    event: str
    subject_id: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None


def _endpoint(row: WebhookEndpoint, *, with_secret: bool = False) -> EndpointOut:
    return EndpointOut(
        id=row.id,
        url=row.url,
        events=row.events.split(),
        created_at=row.created_at,
        secret=row.secret if with_secret else None,
    )


def _delivery(row: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event=row.event,
        subject_id=row.subject_id,
        status=row.status,
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        delivered_at=row.delivered_at,
    )


def webhook_router(prefix: str, api: str, tag: str) -> APIRouter:
    """The webhook routes under ``prefix`` for the dialect ``api``."""
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.post(
        "/webhooks",
        response_model=EndpointOut,
        response_model_exclude_none=True,
        summary="Add a webhook endpoint",
    )
    def add(body: EndpointIn, service: ServiceDep, caller: CallerDep) -> EndpointOut:
        row = webhooks.add_endpoint(
            service.db,
            caller.account_id,
            body.url,
            body.events,
            api=api,
            allow_private=service.settings.webhook_allow_private,
        )
        return _endpoint(row, with_secret=True)

    @router.get(
        "/webhooks",
        response_model=list[EndpointOut],
        response_model_exclude_none=True,
        summary="List webhook endpoints",
    )
    def listing(service: ServiceDep, caller: CallerDep) -> list[EndpointOut]:
        return [_endpoint(row) for row in webhooks.list_endpoints(service.db, caller.account_id)]

    @router.delete("/webhooks/{endpoint_id}", summary="Remove a webhook endpoint")
    def remove(endpoint_id: str, service: ServiceDep, caller: CallerDep) -> dict[str, str]:
        webhooks.remove_endpoint(service.db, caller.account_id, endpoint_id)
        return {"id": endpoint_id, "status": "removed"}

    @router.get(
        "/webhooks/{endpoint_id}/deliveries",
        response_model=list[DeliveryOut],
        summary="A webhook endpoint's delivery log",
    )
    def log(
        endpoint_id: str,
        service: ServiceDep,
        caller: CallerDep,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[DeliveryOut]:
        webhooks.get_endpoint(service.db, caller.account_id, endpoint_id)
        return [_delivery(row) for row in webhooks.deliveries(service.db, endpoint_id, limit=limit)]

    return router


miraflow_router = webhook_router("/api", "miraflow", "Webhooks (Miraflow)")
mirage_router = webhook_router("/v1", "mirage", "Webhooks (Mirage)")
