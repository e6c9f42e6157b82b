"""Webhooks (Standard Webhooks): an account's endpoints, the events written to the outbox with the
change they report, and the signature every delivery carries.

An event becomes one ``WebhookDelivery`` row per subscribed endpoint inside the transaction that
changes the job or avatar, so it is sent at least once even if the server stops right after.
Sending is service/webhook_delivery.py's job.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from facecast.errors import InvalidInput, NotFound
from facecast.service.db import Database
from facecast.service.ids import new_id
from facecast.service.models import utcnow
from facecast.service.webhook_models import WebhookDelivery, WebhookEndpoint

#: The events an endpoint can receive.
EVENTS = ("video.completed", "video.failed", "video.cancelled", "avatar.ready", "avatar.failed")
#: How many endpoints one account may have.
MAX_ENDPOINTS = 20
#: Longest accepted endpoint URL.
MAX_URL_CHARS = 2000


# --- signing ------------------------------------------------------------------------------------------
def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


# --- where a webhook may go ---------------------------------------------------------------------------
def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if a webhook may be sent there: http(s), a host that resolves, and (unless
    ``allow_private``) only to public addresses: never loopback, private, link-local (the cloud
    metadata service), multicast or reserved ones. ``InvalidInput`` naming ``url`` otherwise."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL_CHARS:
        raise InvalidInput(f"url must be an http(s) URL of at most {MAX_URL_CHARS} characters", field="url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("url must be an http:// or https:// URL with a host", field="url")
    if parts.username or parts.password:
        raise InvalidInput("url must not carry a user name or password", field="url")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"url's host {parts.hostname!r} cannot be resolved: {exc}", field="url") from None
    if not allow_private:
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if not address.is_global or address.is_multicast:
                raise InvalidInput(
                    f"url resolves to {address}, a loopback, private, link-local or reserved address; "
                    "webhooks go only to public addresses (FACECAST_WEBHOOK_ALLOW_PRIVATE=1 allows others)",
                    field="url",
                )
    return url


def check_events(events: Sequence[str] | None) -> list[str]:
    """The events asked for (all when none are named); ``InvalidInput`` naming ``events`` for others."""
    if not events:
        return list(EVENTS)
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise InvalidInput(f"unknown events {unknown}; known: {', '.join(EVENTS)}", field="events")
    return sorted(set(events), key=EVENTS.index)


# --- endpoints ----------------------------------------------------------------------------------------
def add_endpoint(
    db: Database, account_id: str, url: str, events: Sequence[str] | None, *, api: str, allow_private: bool
) -> WebhookEndpoint:
    """Register an endpoint; the returned row carries its secret (shown to the caller once)."""
    chosen = check_events(events)
    url = check_url(url, allow_private=allow_private)
    with db.transaction() as session:
        count = len(list(session.scalars(_endpoints(account_id))))
        if count >= MAX_ENDPOINTS:
            raise InvalidInput(f"an account may have at most {MAX_ENDPOINTS} webhook endpoints", field="url")
        endpoint = WebhookEndpoint(
            id="wh_" + new_id(),
            account_id=account_id,
            url=url,
            secret=new_secret(),
            events=" ".join(chosen),
            api=api,
            created_at=utcnow(),
        )
        session.add(endpoint)
        session.flush()
        session.expunge(endpoint)
    return endpoint


def list_endpoints(db: Database, account_id: str | None) -> list[WebhookEndpoint]:
    with db.session() as session:
        query = _endpoints(account_id)
        return list(session.scalars(query.order_by(WebhookEndpoint.created_at)))


def get_endpoint(db: Database, account_id: str, endpoint_id: str) -> WebhookEndpoint:
    with db.session() as session:
        found = session.scalar(_endpoints(account_id).where(WebhookEndpoint.id == endpoint_id))
    if found is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}", field="id")
    return found


def remove_endpoint(db: Database, account_id: str | None, endpoint_id: str) -> None:
    """Stop sending to an endpoint (its pending deliveries are dropped; its log stays)."""
    with db.transaction() as session:
        found = session.scalar(_endpoints(account_id).where(WebhookEndpoint.id == endpoint_id))
        if found is None:
            raise NotFound(f"No webhook endpoint {endpoint_id}", field="id")
        found.deleted_at = utcnow()


def deliveries(db: Database, endpoint_id: str, *, limit: int = 100) -> list[WebhookDelivery]:
    """An endpoint's delivery log, newest first."""
    with db.session() as session:
        query = (
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(limit)
        )
        return list(session.scalars(query))


def _endpoints(account_id: str | None):  # type: ignore[no-untyped-def]
    query = select(WebhookEndpoint).where(WebhookEndpoint.deleted_at.is_(None))
    if account_id is not None:
        query = query.where(WebhookEndpoint.account_id == account_id)
    return query


# --- events into the outbox ---------------------------------------------------------------------------
def record_event(session: Session, account_id: str | None, event: str, subject_id: str) -> int:
    """Write ``event`` about ``subject_id`` to the outbox for each of the account's endpoints that
    takes it, in the caller's transaction. Returns how many deliveries were queued."""
    if account_id is None:  # stock content belongs to nobody
        return 0
    targets: Iterable[WebhookEndpoint] = session.scalars(_endpoints(account_id))
    count = 0
    now = utcnow()
    for endpoint in targets:
        if event not in endpoint.events.split():
            continue
        session.add(
            WebhookDelivery(
                id="msg_" + new_id(),
                endpoint_id=endpoint.id,
                event=event,
                subject_id=subject_id,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        count += 1
    return count
