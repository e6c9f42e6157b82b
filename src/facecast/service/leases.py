"""One lease for every kind of long work (a video job, an avatar preparation): claim a waiting row
with a token, beat a heartbeat while working, hand it back to the queue, find the stale ones the
reaper deals with, queue again those whose message was lost; and one retry policy for all of them.

The row in the database is the lease: ``status`` (waiting or working), ``claim_token``,
``heartbeat_at`` and ``attempts``. A worker owns the work only while its token is on the row, so
a worker that lost its lease (reaped, cancelled) cannot overwrite what another did.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from facecast.service.models import Avatar, AvatarStatus, Job, JobStatus, utcnow
from facecast.service.settings import Settings

if TYPE_CHECKING:
    from facecast.service.domain import Service
    from facecast.service.queue import JobQueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseKind:
    """How one table holds leases."""

    #: The word log lines use ("job", "avatar").
    name: str
    model: Any
    waiting: str
    working: str
    #: Puts an id on the queue, after ``delay`` seconds.
    enqueue: Callable[[JobQueue, str, float], None]
    #: Ids the queue holds for this kind.
    pending: Callable[[JobQueue], set[str]]
    #: The column whose age says a waiting row's message may be lost.
    waiting_since: str
    #: Values set when a worker claims a row, besides the lease's own.
    on_claim: Callable[[str, dt.datetime], dict[str, object]] = lambda worker, now: {}
    #: Values reset when the work goes back to the queue, besides the lease's own.
    on_release: dict[str, object] = field(default_factory=dict)


JOBS = LeaseKind(
    name="job",
    model=Job,
    waiting=JobStatus.QUEUED.value,
    working=JobStatus.RUNNING.value,
    enqueue=lambda queue, job_id, delay: queue.enqueue(job_id, delay=delay),
    pending=lambda queue: queue.pending_job_ids(),
    waiting_since="updated_at",
    on_claim=lambda worker, now: {"worker": worker, "started_at": now, "progress": 0.0},
    on_release={"worker": None, "progress": 0.0},
)
AVATARS = LeaseKind(
    name="avatar",
    model=Avatar,
    waiting=AvatarStatus.QUEUED.value,
    working=AvatarStatus.PREPARING.value,
    enqueue=lambda queue, avatar_id, delay: queue.enqueue_avatar(avatar_id, delay=delay),
    pending=lambda queue: queue.pending_avatar_ids(),
    waiting_since="created_at",
)


@dataclass(frozen=True)
class RetryPolicy:
    """The one place that says whether work is tried again, and when."""

    max_attempts: int
    storage_retry_delay: float

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        return cls(max_attempts=settings.max_attempts, storage_retry_delay=settings.storage_retry_delay)

    def may_retry(self, attempts: int) -> bool:
        """Whether work that has been tried ``attempts`` times may be tried again."""
        return attempts < self.max_attempts

    def storage_delay(self, attempts: int) -> float:
        """The wait after a storage fault (disk full, store down): doubling with each attempt, so
        a fault that lasts a while does not burn the attempts in seconds."""
        return float(self.storage_retry_delay * 2 ** max(0, attempts - 1))


def claim(service: Service, kind: LeaseKind, row_id: str, worker: str) -> tuple[Any, str] | None:
    """Take a waiting row (not deleted) for ``worker``: the row, as claimed, and its token; None
    when it is not waiting any more (cancelled, done, or another worker took it)."""
    token = secrets.token_hex(12)
    now = utcnow()
    model = kind.model
    with service.db.transaction() as session:
        claimed = session.execute(
            update(model)
            .where(model.id == row_id, model.status == kind.waiting, model.deleted_at.is_(None))
            .values(
                status=kind.working,
                claim_token=token,
                attempts=model.attempts + 1,
                heartbeat_at=now,
                **kind.on_claim(worker, now),
            )
        ).rowcount  # type: ignore[attr-defined]
        row = session.get(model, row_id) if claimed else None
    return (row, token) if row is not None else None


def release(
    service: Service,
    kind: LeaseKind,
    row_id: str,
    token: str | None,
    *,
    reason: str,
    count_attempt: bool = True,
    delay: float = 0.0,
) -> bool:
    """Hand work back to the queue (if ``token`` still holds it, when given), to run again after
    ``delay`` seconds; with ``count_attempt`` False the attempt does not count (a shutdown)."""
    model = kind.model
    query = update(model).where(model.id == row_id, model.status == kind.working)
    if token is not None:
        query = query.where(model.claim_token == token)
    values: dict[str, object] = {
        "status": kind.waiting,
        "claim_token": None,
        "heartbeat_at": None,
        "error_message": reason,
        **kind.on_release,
    }
    if not count_attempt:
        values["attempts"] = model.attempts - 1
    with service.db.transaction() as session:
        done = session.execute(query.values(**values)).rowcount  # type: ignore[attr-defined]
    if done and service.queue is not None:
        try:
            kind.enqueue(service.queue, row_id, delay)
        except Exception as exc:  # the row says "waiting": the reaper queues it again once it can
            log.warning("%s %s: the queue is unavailable (%s); queued again later", kind.name, row_id, exc)
    return bool(done)


def stale(service: Service, kind: LeaseKind, *columns: Any, now: dt.datetime | None = None) -> list[Any]:
    """Rows being worked on whose heartbeat is older than ``FACECAST_HEARTBEAT_TIMEOUT``: the
    selected ``columns`` of each."""
    deadline = (now or utcnow()) - dt.timedelta(seconds=service.settings.heartbeat_timeout)
    model = kind.model
    with service.db.session() as session:
        return list(
            session.execute(
                select(*columns).where(model.status == kind.working, model.heartbeat_at < deadline)
            )
        )


def requeue_lost(service: Service, kind: LeaseKind, *, older_than: float = 0.0) -> list[str]:
    """Queue again the waiting rows that have no message in the queue (enqueued into a queue that
    was lost, or a crash between the commit and the enqueue). Duplicates are harmless: a worker
    claims the row before it works."""
    if service.queue is None:
        return []
    model = kind.model
    with service.db.session() as session:
        query = select(model.id).where(model.status == kind.waiting, model.deleted_at.is_(None))
        if older_than:
            since = getattr(model, kind.waiting_since)
            query = query.where(since < utcnow() - dt.timedelta(seconds=older_than))
        waiting = list(session.scalars(query))
    if not waiting:
        return []
    pending = kind.pending(service.queue)
    lost = [row_id for row_id in waiting if row_id not in pending]
    for row_id in lost:
        kind.enqueue(service.queue, row_id, 0.0)
        log.warning("%s %s: its queue message was missing; queued again", kind.name, row_id)
    return lost


def beat(service: Service, kind: LeaseKind, row_id: str, token: str, **values: object) -> bool:
    """Renew the lease (heartbeat now, plus ``values`` such as progress); False when the token no
    longer holds it (reaped, or taken by another worker): the work must stop."""
    model = kind.model
    with service.db.transaction() as session:
        done = session.execute(
            update(model)
            .where(model.id == row_id, model.claim_token == token)
            .values(heartbeat_at=utcnow(), **values)
        ).rowcount  # type: ignore[attr-defined]
    return bool(done)
