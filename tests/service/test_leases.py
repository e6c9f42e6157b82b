"""The one lease (service/leases.py) over both kinds of long work, on a real SQLite database and
queue: claim once, beat, hand back (counted or not), stale rows, lost messages; the retry policy."""

from __future__ import annotations

import datetime as dt

from facecast.service import leases
from facecast.service.auth import Caller
from facecast.service.domain import Service
from facecast.service.leases import AVATARS, JOBS, RetryPolicy
from facecast.service.models import Avatar, AvatarStatus, Job, utcnow


def _avatar(service: Service, caller: Caller, avatar_id: str = "v1") -> str:
    with service.db.transaction() as session:
        session.add(
            Avatar(
                id=avatar_id,
                account_id=caller.account_id,
                name="clip",
                kind="video",
                status=AvatarStatus.QUEUED.value,
            )
        )
    return avatar_id


def test_an_avatar_lease_claims_beats_and_goes_back(service: Service, caller: Caller) -> None:
    avatar_id = _avatar(service, caller)
    claimed = leases.claim(service, AVATARS, avatar_id, "host:1")
    assert claimed is not None and claimed[0].status == "preparing" and claimed[0].attempts == 1
    token = claimed[1]
    assert leases.claim(service, AVATARS, avatar_id, "host:2") is None  # held
    assert leases.beat(service, AVATARS, avatar_id, token)
    assert not leases.beat(service, AVATARS, avatar_id, "another-token")
    later = utcnow() + dt.timedelta(seconds=service.settings.heartbeat_timeout + 1)
    assert [row.id for row in leases.stale(service, AVATARS, Avatar.id, now=later)] == [avatar_id]
    assert leases.stale(service, AVATARS, Avatar.id) == []  # the beat is fresh
    # a shutdown hands it back without counting the attempt
    assert leases.release(service, AVATARS, avatar_id, token, reason="shutdown", count_attempt=False)
    assert not leases.release(service, AVATARS, avatar_id, token, reason="again")  # no longer held
    with service.db.session() as session:
        row = session.get(Avatar, avatar_id)
        assert row is not None and row.status == "queued" and row.attempts == 0 and row.claim_token is None
    assert avatar_id in service.queue.pending_avatar_ids()  # type: ignore[union-attr]


def test_lost_messages_are_queued_again_for_both_kinds(service: Service, caller: Caller) -> None:
    avatar_id = _avatar(service, caller, "v2")
    assert service.queue is not None
    assert avatar_id not in service.queue.pending_avatar_ids()
    assert leases.requeue_lost(service, AVATARS) == [avatar_id]
    assert leases.requeue_lost(service, AVATARS) == []  # now it has its message
    assert leases.requeue_lost(service, JOBS) == []  # no job waits
    assert leases.stale(service, JOBS, Job.id) == []


def test_the_retry_policy() -> None:
    policy = RetryPolicy(max_attempts=3, storage_retry_delay=10.0)
    assert [policy.may_retry(n) for n in (1, 2, 3)] == [True, True, False]
    assert [policy.storage_delay(n) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
