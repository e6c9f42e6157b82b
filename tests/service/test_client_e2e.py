"""``facecast.client.Client`` and the ``facecast video`` commands against the real test server."""

from __future__ import annotations

from pathlib import Path

import pytest

from facecast.client import (
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    NotFoundError,
    VideoFailed,
)
from tests.service.harness import Server, facecast_env, free_port, mp4_info, run_cli


def test_client_speaks_both_dialects(server: Server, key: str, workdir: Path, png: bytes, wav: bytes) -> None:
    (workdir / "p.png").write_bytes(png)
    (workdir / "a.wav").write_bytes(wav)
    with Client(server.url, key) as client:
        assert any(a.id == "astronaut" and a.is_photo for a in client.avatars())
        assert client.voices()[0].id == "piper-en_US-joe-medium"
        speech = client.create_speech("piper-en_US-joe-medium", "Hello from the client.")
        job_id = client.create_video("astronaut", speech_id=speech.id, name="client")
        seen = []
        done = client.wait(job_id, poll_interval=0.2, on_progress=seen.append)
        assert done.ok and done.video_id and seen[-1].status == "inference_complete"
        assert all(0 <= s.progress <= 100 for s in seen)
        path = client.download(done.video_id, workdir / "out.mp4")
        assert mp4_info(path.read_bytes())["streams"]["audio"] == "aac"
        assert client.video(done.video_id).download_url
        assert done.video_id in {v.id for v in client.videos()}

        video = client.mirage.create(workdir / "p.png", workdir / "a.wav")
        assert video.status == "PROCESSING" and video.object == "video"
        finished = client.mirage.wait(video.id, poll_interval=0.2)
        assert finished.ok and finished.progress == 100
        assert "/media/" in client.mirage.content_url(video.id)
        client.mirage.content(video.id, workdir / "m.mp4")
        assert mp4_info((workdir / "m.mp4").read_bytes())["streams"]["video"] == "h264"
        assert video.id in {v.id for v in client.mirage.iter_all(page_size=1)}

        with pytest.raises(NotFoundError):
            client.status("nope")
        with pytest.raises(BadRequestError, match="text"):
            client.create_video("astronaut")
        with pytest.raises(ConflictError):
            client.mirage.cancel(video.id)
        failing = client.mirage.create(workdir / "p.png", workdir / "a.wav")
        client.mirage.cancel(failing.id)
        with pytest.raises(VideoFailed, match="CANCELLED"):
            client.mirage.wait(failing.id, poll_interval=0.2)
    with Client(server.url, "fc_wrong") as bad, pytest.raises(AuthenticationError):
        bad.avatars()


def test_video_commands(server: Server, key: str, workdir: Path) -> None:
    env = dict(server.env, FACECAST_URL=server.url, FACECAST_API_KEY=key)
    output = workdir / "cli.mp4"
    created = run_cli(
        env,
        "video",
        "create",
        "--avatar",
        "astronaut",
        "--text",
        "From the shell.",
        "--wait",
        "-o",
        str(output),
    )
    assert created.returncode == 0, created.stderr
    job_id, video_id = created.stdout.split()
    assert mp4_info(output.read_bytes())["streams"]["video"] == "h264"
    assert "inference_complete" in created.stderr  # the progress lines
    status = run_cli(env, "video", "status", job_id)
    assert status.returncode == 0 and '"inference_complete"' in status.stdout
    listing = run_cli(env, "video", "list", "--limit", "50")
    assert video_id in listing.stdout and "COMPLETE" in listing.stdout
    again = run_cli(env, "video", "download", video_id, "-o", str(workdir / "again.mp4"))
    assert again.returncode == 0 and (workdir / "again.mp4").read_bytes() == output.read_bytes()
    missing = run_cli(env, "video", "status", "nope")
    assert missing.returncode == 2 and "Job not found" in missing.stderr and "Traceback" not in missing.stderr
    no_key = run_cli({k: v for k, v in env.items() if k != "FACECAST_API_KEY"}, "video", "list")
    assert no_key.returncode != 0 and "API key" in no_key.stderr


def test_video_commands_take_the_server_options_anywhere_and_report_an_unreachable_one(
    server: Server, key: str, tmp_path: Path
) -> None:
    env = facecast_env(tmp_path)
    after = run_cli(env, "video", "status", "nope", "--url", server.url, "--api-key", key)
    assert after.returncode == 2 and "Job not found" in after.stderr, after.stderr
    down = f"http://127.0.0.1:{free_port()}"
    unreachable = run_cli(
        env, "video", "--url", down, "--api-key", key, "create", "--avatar", "a", "--text", "hi"
    )
    assert unreachable.returncode == 1, unreachable.stderr
    assert "cannot reach the server" in unreachable.stderr and "Traceback" not in unreachable.stderr
