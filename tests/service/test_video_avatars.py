"""Video avatars over real HTTP: made from an uploaded clip (made here with the engine from the
astronaut), checked in the request, prepared by the worker, then rendered like photo avatars; bad
clips; isolation between accounts; the stock video avatar. Plus the preparation machinery in-process
(claims, the reaper, lost queue messages, 409 before an avatar is ready)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest

from facecast.engine.encode import probe
from facecast.errors import Conflict
from facecast.service.auth import Caller
from facecast.service.domain import Service, VideoRequest
from facecast.service.jobs import Worker, reap_avatars, requeue_lost_avatars
from facecast.service.models import Avatar, AvatarStatus, utcnow
from tests.service.harness import (
    Server,
    faceless_clip,
    portrait_png,
    speaking_clip,
    wait_for,
    wait_miraflow,
)

VOICE = "piper-en_US-joe-medium"
CLIP_SIDE = 320


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 3 s clip of the astronaut speaking, 320x320."""
    return speaking_clip(tmp_path_factory.mktemp("clip") / "astronaut.mp4", seconds=3.0, side=CLIP_SIDE)


def wait_avatar(api: httpx.Client, avatar_id: str, timeout: float = 120) -> dict[str, Any]:
    def settled() -> dict[str, Any] | None:
        avatar: dict[str, Any] = api.get(f"/api/avatar/{avatar_id}").json()
        return avatar if avatar.get("status") in ("ready", "failed") else None

    result: dict[str, Any] = wait_for(settled, timeout=timeout, what=f"avatar {avatar_id}")
    return result


def render_and_probe(api: httpx.Client, body: dict[str, Any], path: Path) -> dict[str, Any]:
    """Create a Miraflow video, wait for it, download it to ``path``; what ffprobe says of it."""
    created = api.post("/api/video/create", json=body)
    assert created.status_code == 200, created.text
    status = wait_miraflow(api, created.json()["jobId"])
    assert status["status"] == "inference_complete", status
    download = api.get(f"/api/video/{status['videoId']}/download")
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    path.write_bytes(download.content)
    return probe(path)


def test_a_video_avatar_from_an_uploaded_clip(
    server: Server, api: httpx.Client, other_key: str, clip: bytes, tmp_path: Path
) -> None:
    created = api.post(
        "/api/avatar/create",
        files={"video": ("presenter.mp4", clip, "video/mp4")},
        data={"name": "Presenter", "voiceId": VOICE},
    )
    assert created.status_code == 200, created.text
    avatar = created.json()["avatar"]
    assert avatar["isPhoto"] is False and avatar["name"] == "Presenter" and avatar["voiceId"] == VOICE
    assert avatar["status"] in ("queued", "preparing", "ready") and "error" not in avatar
    avatar_id = avatar["id"]
    assert wait_avatar(api, avatar_id)["status"] == "ready"
    listed = {a["id"]: a for a in api.get("/api/avatars").json()["avatars"]}
    assert listed[avatar_id]["isPhoto"] is False and listed[avatar_id]["status"] == "ready"
    folder = server.data_dir / "media" / "avatars" / avatar_id
    assert (folder / "clip.zip").is_file()

    # Another account sees nothing of it.
    with server.client(other_key) as other:
        assert other.get(f"/api/avatar/{avatar_id}").status_code == 404
        assert avatar_id not in {a["id"] for a in other.get("/api/avatars").json()["avatars"]}
        assert other.post("/api/video/create", json={"avatarId": avatar_id, "text": "Hi."}).status_code == 404
        assert other.delete(f"/api/avatar/{avatar_id}").status_code == 404

    # A stored speech, and the same words from voice + text: both as long as the speech, at the
    # clip's own size (im2vid_full does not apply to video avatars).
    text = "A video avatar speaks new words."
    speech = api.post("/api/speech/create", json={"voiceId": VOICE, "text": text}).json()["speech"]
    bodies = [
        {"avatarId": avatar_id, "speechId": speech["id"], "name": "from a speech"},
        {"avatarId": avatar_id, "voiceId": VOICE, "text": text, "im2vid_full": True},
    ]
    for number, body in enumerate(bodies):
        info = render_and_probe(api, body, tmp_path / f"out{number}.mp4")
        assert info["video"]["codec_name"] == "h264" and info["audio"]["codec_name"] == "aac"
        assert (info["video"]["width"], info["video"]["height"]) == (CLIP_SIDE, CLIP_SIDE)
        assert info["format"]["duration"] == pytest.approx(speech["duration"], abs=0.1)

    assert api.delete(f"/api/avatar/{avatar_id}").json() == {"result": "success"}
    assert not folder.exists()
    assert api.get(f"/api/avatar/{avatar_id}").status_code == 404
    assert avatar_id not in {a["id"] for a in api.get("/api/avatars").json()["avatars"]}


def test_bad_clips_are_refused_naming_the_video_field(
    server: Server, api: httpx.Client, tmp_path: Path
) -> None:
    avatars_dir = server.data_dir / "media" / "avatars"
    before = set(avatars_dir.iterdir())

    def refused(name: str, data: bytes) -> str:
        response = api.post("/api/avatar/create", files={"video": (name, data, "video/mp4")})
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["result"] == "failure" and "video" in body["error"], body
        return str(body["error"])

    assert "MP4" in refused("garbage.mp4", bytes(range(256)) * 64)
    assert "MP4" in refused("portrait.png", portrait_png())
    assert "face" in refused("wall.mp4", faceless_clip(tmp_path / "wall.mp4", seconds=1.0))
    # The session server allows clips of at most 8 s and 640 pixels (FACECAST_MAX_CLIP_*).
    assert "8 s" in refused("long.mp4", faceless_clip(tmp_path / "long.mp4", seconds=9.0, size=(64, 48)))
    assert "640" in refused("big.mp4", faceless_clip(tmp_path / "big.mp4", seconds=0.2, size=(720, 400)))
    assert set(avatars_dir.iterdir()) == before  # nothing left behind


def test_the_stock_video_avatar_is_listed_and_renders(api: httpx.Client, tmp_path: Path) -> None:
    def stock() -> dict[str, Any] | None:
        listed = {a["id"]: a for a in api.get("/api/avatars").json()["avatars"]}
        return listed.get("astronaut-video")

    avatar = wait_for(stock, timeout=180, what="the stock video avatar")
    assert (
        avatar["name"] == "Astronaut (video)" and avatar["isPhoto"] is False and avatar["status"] == "ready"
    )
    info = render_and_probe(api, {"avatarId": "astronaut-video", "text": "Hello there."}, tmp_path / "s.mp4")
    assert (info["video"]["width"], info["video"]["height"]) == (512, 512)
    assert 0.4 < info["format"]["duration"] < 3.0
    assert api.delete("/api/avatar/astronaut-video").status_code == 400  # stock


# --- the preparation machinery, in-process ---------------------------------------------------------
def _avatar(service: Service, caller: Caller, status: AvatarStatus, error: str | None = None) -> str:
    avatar_id = f"clip-{status.value}"
    with service.db.transaction() as session:
        session.add(
            Avatar(
                id=avatar_id,
                account_id=caller.account_id,
                name="clip",
                kind="video",
                status=status.value,
                error_message=error,
            )
        )
    return avatar_id


def _status(service: Service, avatar_id: str) -> Avatar:
    with service.db.session() as session:
        row = session.get(Avatar, avatar_id)
        assert row is not None
        return row


def test_an_avatar_makes_videos_only_once_ready(service: Service, caller: Caller) -> None:
    queued = _avatar(service, caller, AvatarStatus.QUEUED)
    failed = _avatar(service, caller, AvatarStatus.FAILED, "no face was found in the video")
    with pytest.raises(Conflict, match="still being prepared"):
        service.create_video(caller, VideoRequest(avatar_id=queued, text="Hi.", voice_id=None))
    with pytest.raises(Conflict, match="no face was found"):
        service.create_video(caller, VideoRequest(avatar_id=failed, text="Hi."))
    # Your own avatars are listed in every state, with it.
    assert {a.id: a.status for a in service.list_avatars(caller)} == {queued: "queued", failed: "failed"}


def test_a_preparation_is_claimed_once_and_reaped_when_its_worker_is_silent(
    service: Service, caller: Caller
) -> None:
    avatar_id = _avatar(service, caller, AvatarStatus.QUEUED)
    assert requeue_lost_avatars(service) == [avatar_id]  # its queue message was never sent
    assert requeue_lost_avatars(service) == []
    worker = Worker(service)
    claimed = worker.claim_avatar(avatar_id)
    assert claimed is not None and claimed[0].status == "preparing" and claimed[0].attempts == 1
    assert worker.claim_avatar(avatar_id) is None  # a duplicate message is skipped
    later = utcnow() + dt.timedelta(seconds=60)
    assert reap_avatars(service) == []  # heartbeat fresh
    assert reap_avatars(service, now=later) == [(avatar_id, "requeued")]
    assert _status(service, avatar_id).status == "queued"
    assert avatar_id in service.queue.pending_avatar_ids()  # type: ignore[union-attr]
    assert worker.claim_avatar(avatar_id) is not None  # attempt 2 of 2
    assert reap_avatars(service, now=later) == [(avatar_id, "failed")]
    row = _status(service, avatar_id)
    assert row.status == "failed" and "stopped responding 2 times" in (row.error_message or "")


def test_a_deleted_avatar_is_not_prepared(service: Service, caller: Caller) -> None:
    avatar_id = _avatar(service, caller, AvatarStatus.QUEUED)
    service.delete_avatar(caller, avatar_id)
    assert Worker(service).claim_avatar(avatar_id) is None
    assert requeue_lost_avatars(service) == []


@pytest.mark.slow
def test_avatars_queued_without_a_worker_are_prepared_after_a_restart(tmp_path: Path, clip: bytes) -> None:
    """Uploaded while no worker runs: 409 when used; the next start's worker prepares it, and the
    stock video avatar, with nothing lost."""
    data_dir = tmp_path / "data"
    first = Server(data_dir, no_worker=True).start()
    try:
        key = first.default_key
        assert key
        with first.client(key) as api:
            created = api.post("/api/avatar/create", files={"video": ("me.mp4", clip)}).json()["avatar"]
            assert created["status"] == "queued"
            early = api.post("/api/video/create", json={"avatarId": created["id"], "text": "Too soon."})
            assert early.status_code == 409 and "still being prepared" in early.json()["error"]
            assert "astronaut-video" not in {a["id"] for a in api.get("/api/avatars").json()["avatars"]}
            stock_early = api.post("/api/video/create", json={"avatarId": "astronaut-video", "text": "Hi."})
            assert stock_early.status_code == 409
    finally:
        first.stop()
    second = Server(data_dir).start()
    try:
        with second.client(key) as api:
            assert wait_avatar(api, created["id"])["status"] == "ready"
            assert wait_avatar(api, "astronaut-video", timeout=180)["status"] == "ready"
            info = render_and_probe(
                api, {"avatarId": created["id"], "text": "Now it works."}, tmp_path / "o.mp4"
            )
            assert info["video"]["width"] == CLIP_SIDE
    finally:
        second.stop()
