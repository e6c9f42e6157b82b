"""Sending the outbox: a thread in each web node takes due deliveries, signs them (Standard
Webhooks) and POSTs them; a failure is retried on a schedule of more than a day, then marked
failed (visible in the endpoint's delivery log).

Each attempt's time is bounded, redirects are not followed, only the first bytes of an answer are
read, and the endpoint's host is resolved again before each attempt: a name that now points at a
private address is refused (unless ``FACECAST_WEBHOOK_ALLOW_PRIVATE``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import func, select, update

from facecast import __version__
from facecast.errors import InvalidInput
from facecast.service.db import Database
from facecast.service.models import Avatar, Job, utcnow
from facecast.service.settings import Settings
from facecast.service.webhook_models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from facecast.service.webhooks import check_url, sign

log = logging.getLogger(__name__)

#: Seconds to wait before each retry (Standard Webhooks' suggested schedule): 27.5 h in all.
RETRY_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
#: Bytes of an endpoint's answer read (and kept for the log) at most.
MAX_ANSWER_BYTES = 4096
#: Deliveries taken per pass, and how long one is reserved for the node that took it.
BATCH = 20
LEASE_SECONDS = 120.0
POLL_SECONDS = 1.0

#: The dialect's object of a job or avatar, by (kind, api): registered by the API modules, so the
#: payload is exactly what the dialect's own GET answers.
PayloadBuilder = Callable[[Any], dict[str, Any]]
PAYLOADS: dict[tuple[str, str], PayloadBuilder] = {}


def register_payload(kind: str, api: str, builder: PayloadBuilder) -> None:
    PAYLOADS[(kind, api)] = builder


class Outcome:
    """What one attempt came to, for metrics and the log."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


#: Called with each attempt's outcome (the metrics module counts them).
on_outcome: list[Callable[[str], None]] = []


class Deliverer:
    """The outbox sender of one process."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="facecast-webhooks", daemon=True)
        self._http = httpx.Client(
            timeout=settings.webhook_timeout,
            follow_redirects=False,
            headers={"user-agent": f"Facecast-Webhooks/{__version__}"},
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.settings.webhook_timeout + 2)
        self._http.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except Exception:
                log.exception("webhook pass failed")
                sent = 0
            if not sent:
                self._stop.wait(POLL_SECONDS)

    # --- one pass -----------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Send the deliveries that are due; returns how many were attempted."""
        taken = self._claim()
        for delivery_id in taken:
            if self._stop.is_set():
                break
            self._attempt(delivery_id)
        return len(taken)

    def _claim(self) -> list[str]:
        """Reserve due deliveries for this node (another node skips them until the lease ends)."""
        now = utcnow()
        lease = now + dt.timedelta(seconds=LEASE_SECONDS)
        with self.db.transaction() as session:
            due = list(
                session.scalars(
                    select(WebhookDelivery.id)
                    .where(
                        WebhookDelivery.status == DeliveryStatus.PENDING.value,
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .order_by(WebhookDelivery.next_attempt_at)
                    .limit(BATCH)
                )
            )
            taken = []
            for delivery_id in due:
                done = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.status == DeliveryStatus.PENDING.value,
                        WebhookDelivery.next_attempt_at <= now,
                    )
                    .values(next_attempt_at=lease)
                ).rowcount  # type: ignore[attr-defined]
                if done:
                    taken.append(delivery_id)
        return taken

    def _attempt(self, delivery_id: str) -> None:
        with self.db.session() as session:
            delivery = session.get(WebhookDelivery, delivery_id)
            endpoint = session.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
        if delivery is None or endpoint is None:
            return
        if endpoint.deleted_at is not None:
            self._finish(delivery, DeliveryStatus.FAILED, None, "the endpoint was removed", counted=False)
            return
        body = delivery.payload or self._payload(delivery)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(endpoint.secret, delivery.id, timestamp, body),
        }
        code: int | None = None
        try:
            check_url(endpoint.url, allow_private=self.settings.webhook_allow_private)
            with self._http.stream("POST", endpoint.url, content=body.encode(), headers=headers) as answer:
                code = answer.status_code
                excerpt = _read_some(answer)
            error = None if 200 <= code < 300 else f"HTTP {code}: {excerpt}"
        except InvalidInput as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self._finish(delivery, DeliveryStatus.DELIVERED, code, None, payload=body)
        else:
            self._retry_or_fail(delivery, code, error, body)

    def _payload(self, delivery: WebhookDelivery) -> str:
        """The body: ``type``, ``timestamp`` and ``data``, the dialect's own object of the subject."""
        kind = delivery.event.split(".")[0]
        with self.db.session() as session:
            subject: Job | Avatar | None = (
                session.get(Job, delivery.subject_id)
                if kind == "video"
                else session.get(Avatar, delivery.subject_id)
            )
        api = getattr(subject, "api", "miraflow") if subject is not None else "miraflow"
        builder = PAYLOADS.get((kind, api)) or PAYLOADS.get((kind, "miraflow"))
        data = (
            builder(subject) if builder is not None and subject is not None else {"id": delivery.subject_id}
        )
        envelope = {"type": delivery.event, "timestamp": utcnow().isoformat(), "data": data}
        return json.dumps(envelope, separators=(",", ":"), default=str)

    def _retry_or_fail(self, delivery: WebhookDelivery, code: int | None, error: str, body: str) -> None:
        attempt = delivery.attempts + 1
        if attempt > len(RETRY_SCHEDULE):
            log.warning("webhook %s: failed for good after %d attempts: %s", delivery.id, attempt, error)
            self._finish(delivery, DeliveryStatus.FAILED, code, error, payload=body)
            return
        wait = RETRY_SCHEDULE[attempt - 1] * self.settings.webhook_retry_scale
        log.info("webhook %s: attempt %d failed (%s); again in %.1f s", delivery.id, attempt, error, wait)
        with self.db.transaction() as session:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery.id)
                .values(
                    attempts=attempt,
                    payload=body,
                    last_status_code=code,
                    last_error=error[:1000],
                    next_attempt_at=utcnow() + dt.timedelta(seconds=wait),
                )
            )
        _report(Outcome.RETRY)

    def _finish(
        self,
        delivery: WebhookDelivery,
        status: DeliveryStatus,
        code: int | None,
        error: str | None,
        *,
        payload: str | None = None,
        counted: bool = True,
    ) -> None:
        values: dict[str, object] = {
            "status": status.value,
            "attempts": delivery.attempts + (1 if counted else 0),
            "last_status_code": code,
            "last_error": error[:1000] if error else None,
        }
        if payload is not None:
            values["payload"] = payload
        if status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = utcnow()
        with self.db.transaction() as session:
            session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery.id).values(**values))
        _report(Outcome.DELIVERED if status is DeliveryStatus.DELIVERED else Outcome.FAILED)


def _read_some(answer: httpx.Response) -> str:
    """The start of an answer's body (the rest is never read)."""
    kept = b""
    for chunk in answer.iter_raw():
        kept += chunk
        if len(kept) >= MAX_ANSWER_BYTES:
            break
    return kept[:MAX_ANSWER_BYTES].decode("utf-8", "replace")[:300]


def _report(outcome: str) -> None:
    for callback in on_outcome:
        callback(outcome)


def pending_count(db: Database) -> int:
    """Deliveries waiting to be sent (for the metrics)."""
    with db.session() as session:
        query = select(func.count()).where(WebhookDelivery.status == DeliveryStatus.PENDING.value)
        return int(session.scalar(query.select_from(WebhookDelivery)) or 0)
