"""The job machinery in-process, on a real SQLite database and a real SqliteHuey queue: claims,
heartbeats, the reaper's bounded retries, lost queue messages, cancellation; plus settings, keys,
signed URLs and rate limits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select, update

from facecast.errors import Conflict, InvalidInput, NotFound, RateLimited, Unauthorized
from facecast.service.auth import (
    Caller,
    RateLimiter,
    authenticate,
    create_key,
    hash_key,
    list_keys,
    revoke_key,
)
from facecast.service.domain import RenderedVideo, Service
from facecast.service.jobs import Worker, reap, requeue_lost_messages
from facecast.service.models import Account, Avatar, Job, JobStatus, utcnow
from facecast.service.settings import Settings
from facecast.service.storage import UrlSigner
from tests.service.harness import PG_BASE


def _job(service: Service, caller: Caller, status: JobStatus = JobStatus.QUEUED) -> Job:
    with service.db.transaction() as session:
        if session.get(Avatar, "a1") is None:
            session.add(Avatar(id="a1", account_id=caller.account_id, name="a", kind="photo"))
            session.flush()
        job = Job(
            id=f"job{len(list(session.scalars(select(Job.id))))}",
            video_id=f"video_{utcnow().timestamp()}",
            account_id=caller.account_id,
            api="mirage",
            avatar_id="a1",
            status=status.value,
        )
        session.add(job)
    return job


def _row(service: Service, job_id: str) -> Job:
    with service.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_settings_defaults_derive_from_the_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACECAST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FACECAST_RATE_LIMIT_PER_MINUTE", "7")
    settings = Settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'facecast.db'}"
    assert settings.media_root == tmp_path / "media"
    assert settings.queue_backend == "sqlite" and settings.queue_url == str(tmp_path / "queue.db")
    assert settings.rate_limit_per_minute == 7
    pg = Settings(data_dir=tmp_path, database_url="postgresql://u@h/db", queue_backend="postgres")
    assert pg.sqlalchemy_url == "postgresql+psycopg://u@h/db" and pg.queue_url == "postgresql://u@h/db"


def test_sqlite_runs_in_wal_mode_and_migrations_are_idempotent(service: Service) -> None:
    service.db.migrate()
    with service.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_keys_are_stored_hashed_and_can_be_revoked(service: Service) -> None:
    with service.db.transaction() as session:
        key, account = create_key(session, "bob", name="ci")
    with service.db.session() as session:
        stored = [k for k in list_keys(session, "bob")]
        assert len(stored) == 1 and stored[0].prefix == key[:10]
        from facecast.service.models import ApiKey

        row = session.scalar(select(ApiKey))
        assert row is not None and row.key_hash == hash_key(key) and key not in (row.key_hash, row.prefix)
    with service.db.transaction() as session:
        assert authenticate(session, key).account_name == "bob"
        revoke_key(session, key[:10])
    with service.db.transaction() as session, pytest.raises(Unauthorized):
        authenticate(session, key)
    with service.db.session() as session:
        assert session.scalar(select(Account).where(Account.name == "bob")) is not None


def test_signed_urls_expire_and_resist_tampering() -> None:
    signer = UrlSigner(b"secret")
    expires, signature = signer.sign("videos/v.mp4", 60)
    assert signer.verify("videos/v.mp4", expires, signature)
    assert not signer.verify("videos/w.mp4", expires, signature)
    assert not signer.verify("videos/v.mp4", expires + 1, signature)
    old = signer.signature("videos/v.mp4", 1000)
    assert not signer.verify("videos/v.mp4", 1000, old)


def test_rate_limiter_refuses_with_retry_after() -> None:
    limiter = RateLimiter()
    for _ in range(3):
        limiter.hit("k", "requests", 3)
    with pytest.raises(RateLimited) as err:
        limiter.hit("k", "requests", 3)
    assert err.value.retry_after >= 1
    limiter.hit("other key", "requests", 3)


def test_a_job_is_claimed_once(service: Service, caller: Caller) -> None:
    job = _job(service, caller)
    worker = Worker(service)
    first = worker.claim(job.id)
    assert first is not None and first[0].status == "running" and first[0].attempts == 1
    assert worker.claim(job.id) is None  # a duplicate message is skipped


def test_reaper_requeues_a_silent_job_then_gives_up_with_a_reason(service: Service, caller: Caller) -> None:
    job = _job(service, caller)
    worker = Worker(service)
    later = utcnow() + dt.timedelta(seconds=60)
    assert worker.claim(job.id) is not None
    assert reap(service) == []  # heartbeat fresh
    assert reap(service, now=later) == [(job.id, "requeued")]
    row = _row(service, job.id)
    assert (
        row.status == "queued"
        and row.claim_token is None
        and "stopped responding" in (row.error_message or "")
    )
    assert job.id in service.queue.pending_job_ids()  # type: ignore[union-attr]
    assert worker.claim(job.id) is not None  # attempt 2 of 2
    assert reap(service, now=later) == [(job.id, "failed")]
    row = _row(service, job.id)
    assert row.status == "failed" and row.error_code == "worker_lost"
    assert "stopped responding 2 times" in (row.error_message or "")


def test_a_stale_claim_cannot_overwrite_a_reassigned_job(service: Service, caller: Caller) -> None:
    job = _job(service, caller)
    worker = Worker(service)
    claimed = worker.claim(job.id)
    assert claimed is not None
    reap(service, now=utcnow() + dt.timedelta(seconds=60))
    assert not service.finish_job(job.id, claimed[1], JobStatus.COMPLETE)
    assert _row(service, job.id).status == "queued"


def test_cancel_while_queued_and_while_running(service: Service, caller: Caller) -> None:
    queued = _job(service, caller)
    assert service.cancel(caller, queued).status == "cancelled"
    assert Worker(service).claim(queued.id) is None
    running = _job(service, caller)
    Worker(service).claim(running.id)
    still = service.cancel(caller, running, wait=0)
    assert still.cancel_requested and still.status == "running"
    # the worker died before noticing: the reaper finishes the cancellation
    assert reap(service, now=utcnow() + dt.timedelta(seconds=60)) == [(running.id, "cancelled")]
    # cancelling again answers the same; a finished video cannot be cancelled
    assert service.cancel(caller, _row(service, running.id)).status == "cancelled"
    with service.db.transaction() as session:
        session.execute(update(Job).where(Job.id == running.id).values(status="complete"))
    with pytest.raises(Conflict):
        service.cancel(caller, _row(service, running.id))


def test_lost_queue_messages_are_requeued_at_start(service: Service, caller: Caller) -> None:
    job = _job(service, caller)
    assert requeue_lost_messages(service) == [job.id]
    assert requeue_lost_messages(service) == []
    with service.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job.id).values(status="complete"))
    assert requeue_lost_messages(service) == []


def test_a_video_deleted_while_it_renders_leaves_no_file(service: Service, caller: Caller) -> None:
    job = _job(service, caller)
    claimed = Worker(service).claim(job.id)
    assert claimed is not None
    service.delete_video(caller, claimed[0])  # asks the render to stop, hides the video
    # ...but the render finished first: its file was committed, then the job completed
    rel = service.media.video_file(job.video_id)
    service.media.write_bytes(rel, b"an mp4")
    video = RenderedVideo(path=rel, duration=1.0, width=8, height=8, size_bytes=6)
    assert service.finish_job(job.id, claimed[1], JobStatus.COMPLETE, video=video)
    assert not service.media.path(rel).exists()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_ids_no_database_could_hold_are_simply_not_found(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = ""
    if backend == "postgresql":  # refuses NUL characters in a query with an error, not no rows
        url = f"{PG_BASE}?options=-csearch_path%3D{request.getfixturevalue('pg_schema')}"
    svc = Service(Settings(data_dir=tmp_path, database_url=url))
    try:
        svc.db.migrate()
        with svc.db.transaction() as session:
            caller = authenticate(session, create_key(session, "alice")[0])
        for bad in ("a\x00b", "\ud800", "x" * 1000):
            for lookup in (svc.get_job, svc.get_video, svc.get_avatar, svc.get_voice, svc.get_speech):
                with pytest.raises(NotFound):
                    lookup(caller, bad)
            with pytest.raises(InvalidInput):
                svc.list_videos(caller, after=bad)
    finally:
        svc.db.dispose()
