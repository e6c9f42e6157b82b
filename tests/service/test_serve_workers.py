"""``facecast serve --workers N``: N supervised worker processes beside the server, 0 for a
web-only node; a bad count is refused on the command line."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.service.harness import Server, facecast_env, run_cli, wait_for, wait_miraflow


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_workers_beside_the_server(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", serve_args=("--workers", "2"), FACECAST_CAPTION_PREVIEWS="false").start()
    try:
        wait_for(lambda: len(list(srv.data_dir.glob("worker*.pid"))) == 2, what="two workers")
        pids = sorted(int(p.read_text()) for p in srv.data_dir.glob("worker*.pid"))
        assert len(set(pids)) == 2 and all(_alive(pid) for pid in pids)
        with srv.client(srv.default_key) as api:
            ids = [
                api.post("/api/video/create", json={"avatarId": "astronaut", "text": f"Number {n}."}).json()[
                    "jobId"
                ]
                for n in range(2)
            ]
            assert all(wait_miraflow(api, job)["status"] == "inference_complete" for job in ids)
    finally:
        srv.stop()
    assert not any(_alive(pid) for pid in pids)  # stopped with the server
    assert not list(srv.data_dir.glob("worker*.pid"))


def test_web_only_node_starts_no_worker(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", serve_args=("--workers", "0")).start()
    try:
        with srv.client(srv.default_key) as api:
            job = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "Anyone?"}).json()[
                "jobId"
            ]
            time.sleep(3)  # long enough for a worker, had one been started, to claim it
            assert api.get(f"/api/job/{job}").json()["status"] == "queued"
        assert not list(srv.data_dir.glob("worker*.pid"))
    finally:
        srv.stop()


def test_a_bad_worker_count_is_refused(tmp_path: Path) -> None:
    done = run_cli(facecast_env(tmp_path), "serve", "--workers", "-1")
    assert done.returncode == 2 and "--workers" in done.stderr and "between 0 and 64" in done.stderr
