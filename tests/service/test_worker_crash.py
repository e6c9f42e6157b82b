"""A worker killed mid-render (kill -9), on the shared test server: the server starts a new worker,
the reaper notices the silent heartbeat and re-queues the job, which then completes."""

from __future__ import annotations

import os
import signal

from tests.service.harness import Server, attempts, mirage_video, rendering, speech_wav, wait_for, wait_mirage


def test_a_worker_killed_mid_job_is_replaced_and_the_job_requeued(server: Server, png: bytes) -> None:
    with server.client(server.key("crash")) as api:
        video_id = mirage_video(api, png, speech_wav(25.0, seed=3))
        wait_for(lambda: rendering(api, video_id), timeout=120, what="rendering")
        victim = server.worker_pid()
        assert victim
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: server.worker_pid() not in (None, victim), timeout=30, what="a new worker")
        final = wait_mirage(api, video_id, timeout=180)
        assert final["status"] == "COMPLETE", final
        assert attempts(server.data_dir, video_id) == 2
    assert "stopped responding; retrying" in server.log()
