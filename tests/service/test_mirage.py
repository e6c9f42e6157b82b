"""The Mirage dialect over real HTTP: the documented requests example, the Video object, content
redirects, cursor pagination, cancellation and refusals."""

from __future__ import annotations

import contextlib
import time

import httpx
import pytest

from tests.service.harness import Server, blank_png, mp4_info, speech_wav, wait_for, wait_mirage

VIDEO_KEYS = {
    "id",
    "object",
    "status",
    "created_at",
    "completed_at",
    "progress",
    "error",
    "model",
    "source_video_id",
    "caption_template_id",
    "share_link_url",
    "video_id",
}


def create(api: httpx.Client, image: bytes, audio: bytes, **data: str) -> httpx.Response:
    files = {"image_reference": ("portrait.jpg", image), "audio_reference": ("voice.wav", audio)}
    return api.post("/v1/videos", files=files, data={"model": "mirage-video-1-latest", **data})


def test_the_requests_example(server: Server, key: str, jpeg: bytes, wav: bytes) -> None:
    """Create with files + data, poll until COMPLETE, follow the content redirect."""
    headers = {"x-api-key": key}
    with httpx.Client(base_url=server.url, timeout=120) as requests:
        created = requests.post(
            "/v1/videos",
            headers=headers,
            files={"image_reference": jpeg, "audio_reference": wav},
            data={"model": "mirage-video-1-latest"},
        )
        assert created.status_code == 200, created.text
        video = created.json()
        assert set(video) == VIDEO_KEYS
        assert (
            video["object"] == "video"
            and video["status"] == "PROCESSING"
            and video["video_id"] == video["id"]
        )
        assert video["id"].startswith("video_") and isinstance(video["created_at"], int)
        assert (
            video["completed_at"] is None
            and video["error"] is None
            and video["model"] == "mirage-video-1-latest"
        )
        assert 0 <= video["progress"] <= 100
        assert video["source_video_id"] is None and video["caption_template_id"] is None

        with server.client(key) as poller:
            done = wait_mirage(poller, video["id"])
        assert done["status"] == "COMPLETE" and done["progress"] == 100, done
        assert done["completed_at"] >= done["created_at"] and done["error"] is None

        redirect = requests.get(f"/v1/videos/{video['id']}/content", headers=headers)
        assert redirect.status_code == 302 and "/media/videos/" in redirect.headers["location"]
        followed = requests.get(f"/v1/videos/{video['id']}/content", headers=headers, follow_redirects=True)
        assert followed.status_code == 200 and followed.headers["content-type"] == "video/mp4"
    info = mp4_info(followed.content)
    assert info["streams"] == {"video": "h264", "audio": "aac"} and 1.0 < info["duration"] < 2.5


def test_refusals_name_the_field(api: httpx.Client, jpeg: bytes, png: bytes, wav: bytes) -> None:
    def refused(response: httpx.Response, param: str) -> None:
        """Mirage's published validation answer: 422, FastAPI's shape, the field in ``loc``."""
        assert response.status_code == 422, response.text
        body = response.json()
        assert set(body) == {"detail"} and isinstance(body["detail"], list), body
        first = body["detail"][0]
        assert set(first) == {"loc", "msg", "type"} and first["loc"][-1] == param, body
        assert first["loc"][0] in ("body", "query", "path") and first["msg"] and first["type"], body

    refused(create(api, jpeg, wav, model="mirage-video-2"), "model")
    refused(api.post("/v1/videos", files={"audio_reference": ("a.wav", wav)}), "image_reference")
    refused(api.post("/v1/videos", files={"image_reference": ("p.png", png)}), "audio_reference")
    refused(api.post("/v1/videos", json={"image_reference": "x"}), "image_reference")
    refused(create(api, b"GIF89a not allowed", wav), "image_reference")
    refused(create(api, blank_png(), wav), "image_reference")  # no face
    refused(create(api, png, b"RIFF\x00\x00\x00\x00WAVEfmt garbage"), "audio_reference")  # unreadable
    refused(create(api, png, b"just some text"), "audio_reference")
    assert api.get("/v1/videos/video_nope").status_code == 404
    assert api.get("/v1/videos/video_nope").json()["error"]["code"] == "not_found"


def test_cursor_pagination(server: Server, png: bytes) -> None:
    with server.client(server.key("pager")) as api:
        ids = []
        for seed in range(3):
            response = create(api, png, speech_wav(0.5, seed=seed))
            assert response.status_code == 200, response.text
            ids.append(response.json()["id"])
        newest_first = list(reversed(ids))
        first = api.get("/v1/videos", params={"limit": 2})
        page = first.json()
        assert [v["id"] for v in page] == newest_first[:2] and first.headers["x-has-more"] == "true"
        assert f"after={page[-1]['id']}" in first.headers["link"] and 'rel="next"' in first.headers["link"]
        last = api.get("/v1/videos", params={"limit": 2, "after": page[-1]["id"]})
        assert [v["id"] for v in last.json()] == newest_first[2:]
        assert last.headers["x-has-more"] == "false" and "link" not in last.headers
        assert [v["id"] for v in api.get("/v1/videos", params={"order": "asc"}).json()] == ids
        assert [
            v["id"] for v in api.get("/v1/videos", params={"order": "asc", "after": ids[0]}).json()
        ] == ids[1:]
        assert api.get("/v1/videos", params={"limit": 0}).status_code == 422
        assert api.get("/v1/videos", params={"limit": 101}).json()["detail"][0]["loc"] == ["query", "limit"]
        assert api.get("/v1/videos", params={"after": "video_unknown"}).json()["detail"][0]["loc"] == [
            "query",
            "after",
        ]
        for video_id in ids:
            assert wait_mirage(api, video_id)["status"] == "COMPLETE"
        # Miraflow sees the same videos
        assert set(ids) <= {v["id"] for v in api.get("/api/videos").json()["videos"]}


def test_cancel_queued_and_running(server: Server, png: bytes, long_wav: bytes) -> None:
    with server.client(server.key("canceller")) as api:
        running = create(api, png, long_wav).json()
        queued = create(api, png, long_wav).json()  # one worker thread: waits behind the first

        def rendering() -> bool:
            body = api.get(f"/v1/videos/{running['id']}").json()
            return body["status"] == "PROCESSING" and body["progress"] >= 5

        wait_for(rendering, timeout=120, what="the first render to make progress")
        cancelled = api.post(f"/v1/videos/{queued['id']}/cancel").json()
        assert "status" in cancelled, (cancelled, api.get(f"/v1/videos/{queued['id']}").json())
        assert cancelled["status"] == "CANCELLED" and cancelled["error"] is None
        asked = time.monotonic()
        api.post(f"/v1/videos/{running['id']}/cancel").raise_for_status()
        final = wait_mirage(api, running["id"], timeout=60)
        assert final["status"] == "CANCELLED" and time.monotonic() - asked < 20
        assert 5 <= final["progress"] < 100
        for video_id in (running["id"], queued["id"]):
            assert api.get(f"/v1/videos/{video_id}/content").status_code == 409
        again = api.post(f"/v1/videos/{running['id']}/cancel")  # idempotent: the same answer
        assert again.status_code == 200 and again.json() == final


@pytest.mark.parametrize("dialect", ["mirage", "miraflow"])
def test_range_requests(api: httpx.Client, jpeg: bytes, wav: bytes, dialect: str) -> None:
    video = create(api, jpeg, wav).json()
    assert wait_mirage(api, video["id"])["status"] == "COMPLETE"
    if dialect == "mirage":
        url = api.get(f"/v1/videos/{video['id']}/content").headers["location"]
        fetch = httpx.Client(timeout=60)  # the signed URL needs no key
    else:
        url = f"/api/video/{video['id']}/download"
        fetch = api
    with contextlib.closing(fetch):
        whole = fetch.get(url)
        assert whole.headers["accept-ranges"] == "bytes"
        head = fetch.head(url)
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole.content)
        part = fetch.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        tail = fetch.get(url, headers={"Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == whole.content[-50:]
        beyond = fetch.get(url, headers={"Range": f"bytes={len(whole.content) + 10}-"})
        assert beyond.status_code == 416
