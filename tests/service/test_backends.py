"""The scaled back ends for real: PostgreSQL for the database and the queue, Redis for the queue.

Skipped with a reason when 127.0.0.1:5432 (trust auth, database ``test``) or 127.0.0.1:6379 is
not reachable. Each test works in its own schema / queue name and removes it afterwards."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.harness import PG_BASE, Server, speech_wav, wait_for, wait_miraflow, wait_mirage

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture()
def redis_queue() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    name = f"facecast-test-{secrets.token_hex(4)}"
    yield name
    from huey import RedisHuey

    RedisHuey(name, url=REDIS_URL).flush()


def _run_both_dialects(srv: Server, png: bytes) -> None:
    with srv.client(srv.default_key) as api:
        job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Scaled out."}).json()[
            "jobId"
        ]
        files = {"image_reference": ("p.png", png), "audio_reference": ("a.wav", speech_wav(1.0))}
        video = api.post("/v1/videos", files=files).json()["id"]
        assert wait_miraflow(api, job)["status"] == "inference_complete"
        assert wait_mirage(api, video)["status"] == "COMPLETE"
        listed = api.get("/v1/videos", params={"limit": 1}).json()
        assert [v["id"] for v in listed] == [video]


def test_postgresql_database_and_queue(tmp_path: Path, pg_schema: str, png: bytes) -> None:
    import psycopg

    url = f"{PG_BASE}?options=-csearch_path%3D{pg_schema}"
    srv = Server(tmp_path / "data", FACECAST_DATABASE_URL=url, FACECAST_QUEUE_BACKEND="postgres").start()
    try:
        _run_both_dialects(srv, png)
        # a worker killed mid-job is recovered the same way on PostgreSQL
        with srv.client(srv.default_key) as api:
            files = {"image_reference": ("p.png", png), "audio_reference": ("a.wav", speech_wav(40.0))}
            video = api.post("/v1/videos", files=files).json()["id"]
            wait_for(
                lambda: api.get(f"/v1/videos/{video}").json()["progress"] >= 5, timeout=120, what="rendering"
            )
            victim = srv.worker_pid()
            assert victim
            os.kill(victim, signal.SIGKILL)
            assert wait_mirage(api, video, timeout=240)["status"] == "COMPLETE"
    finally:
        srv.stop()
    with psycopg.connect(PG_BASE) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s", (pg_schema,)
            )
        }
        attempts = conn.execute(f'select max(attempts) from "{pg_schema}".jobs').fetchone()
    assert {"accounts", "api_keys", "jobs", "alembic_version", "huey_task"} <= tables
    assert attempts is not None and attempts[0] == 2
    assert not (tmp_path / "data" / "facecast.db").exists() and not (tmp_path / "data" / "queue.db").exists()


def test_redis_queue(tmp_path: Path, redis_queue: str, png: bytes) -> None:
    srv = Server(
        tmp_path / "data",
        FACECAST_QUEUE_BACKEND="redis",
        FACECAST_QUEUE_URL=REDIS_URL,
        FACECAST_QUEUE_NAME=redis_queue,
    ).start()
    try:
        _run_both_dialects(srv, png)
    finally:
        srv.stop()
    assert not (tmp_path / "data" / "queue.db").exists()
