"""Facecast scaled out on one machine: a web-only node (``serve --workers 0``) and a worker with its
own, empty data folder, sharing only the database, the queue and an S3 store (moto's server mode).
Both dialects render through the store; downloads stream from it with ranges or redirect to a
presigned URL; deletes reach it; and a store that goes down delays a job without losing it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.harness import (
    ROOT,
    Server,
    attempts,
    facecast_env,
    mp4_info,
    speech_wav,
    wait_for,
    wait_miraflow,
    wait_mirage,
)
from tests.service.s3 import S3Server

pytestmark = pytest.mark.slow


class Node:
    """The machines of the test: a web node and worker processes, each with its own data folder."""

    def __init__(self, tmp: Path, s3: S3Server, bucket: str) -> None:
        self.tmp = tmp
        web_dir = tmp / "web"
        self.shared = {
            **s3.env(bucket),
            "FACECAST_DATABASE_URL": f"sqlite:///{web_dir / 'facecast.db'}",
            "FACECAST_QUEUE_URL": str(web_dir / "queue.db"),
            "FACECAST_STORAGE_RETRY_DELAY": "1",
            "FACECAST_CAPTION_PREVIEWS": "false",
        }
        self.web = Server(web_dir, no_worker=True, FACECAST_STORAGE_REDIRECT="1", **self.shared)
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self, name: str, **extra: str) -> Path:
        data = self.tmp / name
        data.mkdir(exist_ok=True)
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "facecast", "worker"],
            env=facecast_env(data, **self.shared, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        log.close()
        self.workers.append(proc)
        return data

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        self.workers.clear()


@pytest.fixture()
def s3() -> Iterator[S3Server]:
    server = S3Server().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def node(tmp_path: Path, s3: S3Server) -> Iterator[tuple[Node, str]]:
    bucket = s3.new_bucket()
    cluster = Node(tmp_path, s3, bucket)
    cluster.web.start()
    try:
        yield cluster, bucket
    finally:
        cluster.stop_workers()
        cluster.web.stop()


def _local_media(data: Path) -> list[str]:
    """Media files a worker left on its own disk (stock avatar caches aside)."""
    media = data / "media"
    return sorted(
        str(p.relative_to(media))
        for folder in ("uploads", "videos")
        for p in (media / folder).rglob("*")
        if p.is_file()
    )


def test_web_node_and_worker_share_only_the_store(node: tuple[Node, str], s3: S3Server, png: bytes) -> None:
    cluster, bucket = node
    worker_dir = cluster.start_worker("worker-a")
    with cluster.web.client(cluster.web.default_key) as api:
        job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Stored far away."})
        assert job.status_code == 200, job.text
        files = {"image_reference": ("p.png", png), "audio_reference": ("a.wav", speech_wav(1.0))}
        video = api.post("/v1/videos", files=files).json()["id"]
        done = wait_miraflow(api, job.json()["jobId"])
        assert done["status"] == "inference_complete", (done, cluster.web.log()[-3000:])
        assert wait_mirage(api, video)["status"] == "COMPLETE"
        video_id = done["videoId"]

        keys = s3.keys(bucket, "media/")
        assert f"media/videos/{video_id}.mp4" in keys and f"media/videos/{video}.mp4" in keys
        assert any(k.startswith("media/speeches/") and k.endswith(".wav") for k in keys)
        assert any(k.startswith("media/avatars/astronaut/") for k in keys)
        stored = s3.client().get_object(Bucket=bucket, Key=f"media/videos/{video_id}.mp4")["Body"].read()

        # Miraflow's download streams from the store, whole or by range
        whole = api.get(f"/api/video/{video_id}/download")
        assert whole.status_code == 200 and whole.content == stored
        assert whole.headers["accept-ranges"] == "bytes"
        assert mp4_info(whole.content)["streams"] == {"video": "h264", "audio": "aac"}
        part = api.get(f"/api/video/{video_id}/download", headers={"Range": "bytes=100-299"})
        assert part.status_code == 206 and part.content == stored[100:300]
        assert part.headers["content-range"] == f"bytes 100-299/{len(stored)}"
        beyond = api.get(f"/api/video/{video_id}/download", headers={"Range": f"bytes={len(stored)}-"})
        assert beyond.status_code == 416
        head = api.head(f"/api/video/{video_id}/download")
        assert head.status_code == 200 and head.headers["content-length"] == str(len(stored))

        # Miraflow's downloadUrl is a Facecast link (the studio plays it) streaming from the store
        link = api.get(f"/api/video/{video_id}").json()["downloadUrl"]
        assert link.startswith(cluster.web.url + "/media/")
        assert httpx.get(link, headers={"Range": "bytes=0-9"}).content == stored[:10]

        # Mirage's content redirects to a presigned URL of the store (FACECAST_STORAGE_REDIRECT)
        content = api.get(f"/v1/videos/{video}/content")
        assert content.status_code == 302
        location = content.headers["location"]
        assert location.startswith(s3.endpoint) and "Signature" in location
        fetched = httpx.get(location)
        assert fetched.status_code == 200
        assert mp4_info(fetched.content)["streams"] == {"video": "h264", "audio": "aac"}

        # nothing of the jobs stays on the worker's disk; the web node never rendered
        assert _local_media(worker_dir) == []
        assert not list((cluster.web.data_dir / "media" / "videos").glob("*.mp4"))

        # deleting a video removes its object
        assert api.delete(f"/api/video/{video_id}").status_code == 200
        assert f"media/videos/{video_id}.mp4" not in s3.keys(bucket, "media/videos/")


def test_a_store_that_is_down(node: tuple[Node, str], s3: S3Server, png: bytes) -> None:
    cluster, bucket = node
    with cluster.web.client(cluster.web.default_key) as api:
        files = {"image_reference": ("p.png", png), "audio_reference": ("a.wav", speech_wav(1.0))}
        video = api.post("/v1/videos", files=files).json()["id"]  # queued: no worker yet
        s3.stop()
        ready = api.get("/readyz")
        assert ready.status_code == 503 and "object store" in ready.json()["checks"]["storage"]
        refused = api.post("/v1/videos", files=files)
        assert refused.status_code == 503, refused.text
        assert "object store cannot be reached" in refused.json()["error"]["message"]

        # a worker meets the store down: the job waits and is tried again, nothing lost
        cluster.start_worker("worker-b", FACECAST_LOG_FORMAT="json")
        log = cluster.tmp / "worker-b.log"
        job_id = _job_of(cluster, video)
        wait_for(lambda: f"job {job_id}: storage_unavailable" in log.read_text(), what="a retry")
        assert attempts(cluster.web.data_dir, video) == 1
        # the worker's log is one JSON object a line; the lines about the job carry its id
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        retry = next(
            line for line in lines if line["message"].startswith(f"job {job_id}: storage_unavailable")
        )
        assert retry["job_id"] == job_id and retry["level"] == "warning"
        store_lines = [line for line in lines if "object store: could not" in line["message"]]
        assert store_lines and all(
            line.get("job_id") == job_id for line in store_lines if "uploads/" in line["message"]
        )
        assert api.get(f"/v1/videos/{video}").json()["status"] == "PROCESSING"
        s3.start()
        assert wait_mirage(api, video)["status"] == "COMPLETE"
        assert attempts(cluster.web.data_dir, video) >= 2
        assert f"media/videos/{video}.mp4" in s3.keys(bucket, "media/videos/")
        assert api.get("/readyz").status_code == 200


def _job_of(cluster: Node, video_id: str) -> str:
    import sqlite3

    with sqlite3.connect(cluster.web.data_dir / "facecast.db") as db:
        return str(db.execute("select id from jobs where video_id = ?", (video_id,)).fetchone()[0])
