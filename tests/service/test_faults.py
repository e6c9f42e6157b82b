"""Failure paths that tell the truth, over real HTTP with real faults: a media folder that turns
read-only or fills up (a tmpfs the test mounts), a database that refuses writes, a job queue that
goes away (a Redis server the test stops), a data folder ``facecast`` cannot write."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from facecast.service.auth import create_key
from facecast.service.domain import Service
from tests.service.harness import ROOT, Server, mirage_video, run_cli, wait_for, wait_mirage
from tests.service.mounts import Redis, fill, set_read_only, tmpfs

QUIET = {"FACECAST_SEED_STOCK": "false"}


@contextlib.contextmanager
def worker(srv: Server) -> Iterator[subprocess.Popen[bytes]]:
    """A ``facecast worker`` for a server started without one."""
    log = open(srv.log_path, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "facecast", "worker"],
        env=srv.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    log.close()
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_database_that_refuses_writes_does_not_fail_authentication(service: Service) -> None:
    """Noting a key's last use is best-effort: a request that only reads works when the database
    refuses the write (here a trigger answers like a full disk)."""
    with service.db.transaction() as session:
        key, _ = create_key(session, "reader")
        session.execute(
            text(
                "CREATE TRIGGER full_disk BEFORE UPDATE ON api_keys "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )
        )
    caller = service.authenticate(key)  # the key's first use: it tries to write last_used_at
    assert caller.account_name == "reader"
    assert [a.id for a in service.list_avatars(caller)] == []


def test_read_only_media_fails_the_job_with_the_true_reason(tmp_path: Path, png: bytes, wav: bytes) -> None:
    """A worker that cannot make its work folder fails the job as storage_unavailable after backing
    off, never leaves it "running" for the reaper to call "worker lost"."""
    with tmpfs(tmp_path / "media") as media:
        srv = Server(
            tmp_path / "data",
            no_worker=True,
            FACECAST_MEDIA_DIR=str(media),
            FACECAST_MAX_ATTEMPTS="2",
            FACECAST_STORAGE_RETRY_DELAY="0.5",
            **QUIET,
        ).start()
        try:
            assert srv.default_key
            with srv.client(srv.default_key) as api:
                video_id = mirage_video(api, png, wav)
                set_read_only(media, True)
                # Reads keep working on a read-only disk.
                assert api.get(f"/v1/videos/{video_id}").status_code == 200
                with worker(srv):
                    final = wait_mirage(api, video_id, timeout=60)
                assert final["status"] == "FAILED", final
                assert final["error"]["code"] == "storage_unavailable", final
                assert "read-only" in final["error"]["message"].lower(), final
                assert final["progress"] is None
                # Writes answer 503 in the dialect's shape, not a bare 500.
                refused = api.post(
                    "/v1/videos", files={"image_reference": ("p.png", png), "audio_reference": ("a.wav", wav)}
                )
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "storage_unavailable"
                ready = api.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["storage"] != "ok", ready.text
                assert api.get("/healthz").status_code == 200
                set_read_only(media, False)
                assert api.get("/readyz").json() == {
                    "status": "ready",
                    "checks": {"database": "ok", "queue": "ok", "storage": "ok"},
                }
        finally:
            srv.stop()


def test_a_full_disk_answers_507_in_each_dialect(tmp_path: Path, png: bytes, wav: bytes) -> None:
    with tmpfs(tmp_path / "media", size="16m") as media:
        srv = Server(tmp_path / "data", no_worker=True, FACECAST_MEDIA_DIR=str(media), **QUIET).start()
        try:
            assert srv.default_key
            fill(media)
            with srv.client(srv.default_key) as api:
                mirage = api.post(
                    "/v1/videos", files={"image_reference": ("p.png", png), "audio_reference": ("a.wav", wav)}
                )
                assert mirage.status_code == 507, mirage.text
                body = mirage.json()
                assert body["error"]["code"] == "insufficient_storage" and "full" in body["detail"], body
                assert mirage.headers["retry-after"]
                miraflow = api.post("/api/avatar/create", files={"image": ("p.png", png)})
                assert miraflow.status_code == 507, miraflow.text
                assert miraflow.json()["result"] == "failure" and "full" in miraflow.json()["error"]
                assert api.get("/api/avatars").status_code == 200
                assert api.get("/v1/videos").json() == []
        finally:
            srv.stop()


def test_queue_down_answers_503_and_lists_nothing(tmp_path: Path, png: bytes, wav: bytes) -> None:
    redis = Redis(tmp_path / "redis").start()
    try:
        srv = Server(
            tmp_path / "data", FACECAST_QUEUE_BACKEND="redis", FACECAST_QUEUE_URL=redis.url, **QUIET
        ).start()
        try:
            assert srv.default_key
            with srv.client(srv.default_key) as api:
                assert api.get("/readyz").status_code == 200
                redis.stop()
                refused = api.post(
                    "/v1/videos", files={"image_reference": ("p.png", png), "audio_reference": ("a.wav", wav)}
                )
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "queue_unavailable"
                assert "queue" in refused.json()["detail"]
                assert api.get("/v1/videos").json() == []  # no half-made video whose id nobody got
                ready = api.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["queue"] != "ok"
                assert ready.json()["checks"]["database"] == "ok"
                assert api.get("/healthz").status_code == 200
                assert not list((srv.data_dir / "media" / "uploads").glob("*"))  # its upload went too
                redis.start()
                wait_for(lambda: api.get("/readyz").status_code == 200, timeout=30, what="ready again")
                video_id = mirage_video(api, png, wav)
                assert wait_mirage(api, video_id)["status"] == "COMPLETE"
                assert [v["id"] for v in api.get("/v1/videos").json()] == [video_id]
        finally:
            srv.stop()
    finally:
        redis.stop()


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"], ["keys", "list"]])
def test_a_data_folder_that_cannot_be_written_is_one_line(tmp_path: Path, command: list[str]) -> None:
    with tmpfs(tmp_path / "ro", size="1m") as mount:
        set_read_only(mount, True)
        env = {"FACECAST_DATA_DIR": str(mount / "data"), "FACECAST_QUEUE_BACKEND": "sqlite"}
        from tests.service.harness import facecast_env

        done = run_cli(facecast_env(mount / "data", **env), *command, timeout=60)
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facecast: error: "), done.stderr
    assert "Read-only file system" in lines[0] and "Traceback" not in done.stderr


def test_healthz_stays_liveness(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz", timeout=30).json()["status"] == "ok"
    ready = httpx.get(f"{server.url}/readyz", timeout=30)
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text


@pytest.mark.slow
def test_jobs_tell_the_truth_while_storage_and_queue_come_and_go(tmp_path: Path, png: bytes) -> None:
    """A batch of jobs while the media folder flips read-only and back and the queue goes away and
    comes back: every request is answered (never 500), every job ends complete or failed with a
    true reason, and nothing is left on disk."""
    import threading
    import time

    from tests.service.harness import speech_wav

    redis = Redis(tmp_path / "redis", durable=True).start()
    with tmpfs(tmp_path / "media") as media:
        srv = Server(
            tmp_path / "data",
            FACECAST_MEDIA_DIR=str(media),
            FACECAST_QUEUE_BACKEND="redis",
            FACECAST_QUEUE_URL=redis.url,
            FACECAST_MAX_ATTEMPTS="4",
            FACECAST_STORAGE_RETRY_DELAY="1",
            FACECAST_SWEEP_GRACE="2",
            FACECAST_SWEEP_INTERVAL="2",
            **QUIET,
        ).start()
        stop = threading.Event()
        faults: list[str] = []

        def chaos() -> None:
            while not stop.wait(1.0):
                set_read_only(media, True)
                faults.append("media read-only")
                stop.wait(2.0)
                set_read_only(media, False)
                if stop.wait(1.0):
                    return
                redis.stop()
                faults.append("queue gone")
                stop.wait(2.0)
                redis.start()

        try:
            assert srv.default_key
            answers: list[int] = []
            created: list[str] = []
            with srv.client(srv.default_key) as api:
                flipper = threading.Thread(target=chaos)
                flipper.start()
                try:
                    for seed in range(14):
                        answer = api.post(
                            "/v1/videos",
                            files={
                                "image_reference": ("p.png", png),
                                "audio_reference": ("a.wav", speech_wav(1.0, seed=seed)),
                            },
                        )
                        answers.append(answer.status_code)
                        if answer.status_code == 200:
                            created.append(answer.json()["id"])
                        else:
                            assert answer.status_code in (503, 507), answer.text
                        assert api.get("/v1/videos").status_code == 200
                        time.sleep(0.7)
                finally:
                    stop.set()
                    flipper.join(30)
                    set_read_only(media, False)
                    if redis.proc is None:
                        redis.start()
                assert faults, "no fault was injected"
                assert created, answers
                finals = [wait_mirage(api, video_id, timeout=240) for video_id in created]
                for final in finals:
                    assert final["status"] in ("COMPLETE", "FAILED"), final
                    if final["status"] == "FAILED":
                        assert final["error"]["code"] in ("storage_unavailable", "insufficient_storage"), (
                            final
                        )
                listed = {v["id"] for v in api.get("/v1/videos", params={"limit": 100}).json()}
                assert listed == set(created), (listed, created)
                complete = {f["id"] for f in finals if f["status"] == "COMPLETE"}

                def clean() -> bool:
                    leftovers = [
                        p for p in media.rglob("*") if p.is_file() and not p.name.startswith(".probe")
                    ]
                    videos = {p.stem for p in leftovers if p.parent.name == "videos"}
                    return videos == complete and all(p.parent.name == "videos" for p in leftovers)

                wait_for(clean, timeout=30, what="nothing but the finished videos left on disk")
            assert "Internal server error" not in srv.log()
        finally:
            stop.set()
            srv.stop()
    redis.stop()
