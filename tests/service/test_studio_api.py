"""The Studio endpoints over real HTTP against the real server and worker: portrait previews, thumbnails,
voice samples, the job history, videos from an uploaded recording, the caller's own keys; and the
pages' security headers (no inline script, nothing from another host)."""

from __future__ import annotations

import io
import re

import httpx
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from tests.service.harness import Server, blank_png, mp4_info, speech_wav, wait_for


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def _astronaut(scale: float = 1.0) -> np.ndarray:
    from skimage import data

    image = Image.fromarray(np.asarray(data.astronaut()))
    if scale != 1.0:
        image = image.resize((round(512 * scale), round(512 * scale)), Image.Resampling.LANCZOS)
    return np.asarray(image)


def _wait_job(api: httpx.Client, job_id: str) -> dict:
    def done() -> dict | None:
        job = api.get(f"/api/job/{job_id}").json()
        return job if job["status"] not in ("queued", "running") else None

    result: dict = wait_for(done, timeout=120, what=f"job {job_id}")
    return result


# --- portrait previews ------------------------------------------------------------------------------------
def test_preview_finds_the_face_and_stores_nothing(api: httpx.Client, server: Server) -> None:
    # The astronaut on a wider canvas, shifted right: the box must follow the face.
    canvas = np.full((512, 900, 3), 90, np.uint8)
    canvas[:, 300:812] = _astronaut()
    avatars_before = api.get("/api/avatars").json()["avatars"]
    response = api.post("/api/avatar/preview", files={"image": ("p.png", _png(canvas), "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "success" and (body["width"], body["height"]) == (900, 512)
    face = body["face"]
    centre = (face["x"] + face["width"] / 2, face["y"] + face["height"] / 2)
    assert 300 + 190 < centre[0] < 300 + 260 and 90 < centre[1] < 160, face
    assert 60 < face["width"] < 140 and body["eyeDistance"] > 24
    assert api.get("/api/avatars").json()["avatars"] == avatars_before
    assert not any((server.data_dir / "media" / "tmp").glob("preview-*"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (blank_png(320), "No face found"),
        (b"GIF89a not really", "must be a PNG/JPEG/WebP image"),
        (_png(np.full((40, 40, 3), 128, np.uint8)), "too small"),
        (_png(_astronaut(0.22)), "face is too small"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "'x.png' is not a picture"),
    ],
    ids=["no-face", "not-an-image", "tiny-picture", "tiny-face", "truncated"],
)
def test_preview_refusals_name_the_image_field(api: httpx.Client, content: bytes, expected: str) -> None:
    response = api.post("/api/avatar/preview", files={"image": ("x.png", content, "image/png")})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["result"] == "failure"
    assert expected in body["error"] and body["error"].startswith("image")


def test_preview_needs_a_key(server: Server) -> None:
    response = httpx.post(f"{server.url}/api/avatar/preview", files={"image": ("p.png", blank_png())})
    assert response.status_code == 401


# --- thumbnails and samples ---------------------------------------------------------------------------------
def test_avatar_thumbnail_is_a_small_jpeg_and_private(
    api: httpx.Client, server: Server, other_key: str
) -> None:
    response = api.get("/api/avatar/astronaut/thumbnail")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert max(image.size) <= 320 and image.format == "JPEG"
    made = api.post("/api/avatar/create", files={"image": ("p.png", _png(_astronaut()), "image/png")}).json()
    own = made["avatarId"]
    gallery = {a["id"]: a for a in api.get("/api/avatars/gallery").json()["avatars"]}
    assert gallery[own]["stock"] is False and gallery["astronaut"]["stock"] is True
    assert gallery[own]["status"] == "ready" and gallery[own]["isPhoto"] is True
    assert api.get(f"/api/avatar/{own}/thumbnail").status_code == 200
    with server.client(other_key) as other:
        assert other.get(f"/api/avatar/{own}/thumbnail").status_code == 404
    assert api.get("/api/avatar/nope/thumbnail").status_code == 404
    api.delete(f"/api/avatar/{own}")


def test_voice_sample_is_speech(api: httpx.Client) -> None:
    response = api.get("/api/voice/flite-slt/sample")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    samples, rate = sf.read(io.BytesIO(response.content))
    assert len(samples) / rate > 2.0 and np.abs(samples).max() > 0.05
    missing = api.get("/api/voice/no-such-voice/sample")
    assert missing.status_code == 404 and missing.json()["result"] == "failure"


# --- history and videos from a recording ---------------------------------------------------------------------
def test_video_from_an_uploaded_recording(api: httpx.Client) -> None:
    audio = speech_wav(2.0)
    response = api.post(
        "/api/video/create-from-audio",
        data={"avatarId": "astronaut", "name": "From a recording"},
        files={"audio": ("s.wav", audio, "audio/wav")},
    )
    assert response.status_code == 200, response.text
    job = _wait_job(api, response.json()["jobId"])
    assert job["status"] == "complete" and job["name"] == "From a recording"
    assert abs(job["duration"] - 2.0) < 0.15
    video = api.get(f"/api/video/{job['videoId']}/download")
    info = mp4_info(video.content)
    assert info["streams"] == {"video": "h264", "audio": "aac"} and abs(info["duration"] - 2.0) < 0.2
    thumb = api.get(f"/api/video/{job['videoId']}/thumbnail")
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (320, 320)


@pytest.mark.parametrize(
    ("data", "files", "status", "expected"),
    [
        ({"avatarId": "astronaut"}, {"audio": ("a.wav", blank_png(), "audio/wav")}, 400, "audio must be"),
        ({"avatarId": "nope"}, {"audio": ("a.wav", speech_wav(0.5), "audio/wav")}, 404, "Avatar not found"),
        ({}, {"audio": ("a.wav", speech_wav(0.5), "audio/wav")}, 400, "avatarId"),
        ({"avatarId": "astronaut"}, None, 400, "audio"),
    ],
    ids=["not-audio", "unknown-avatar", "no-avatar", "no-audio"],
)
def test_video_from_a_recording_refusals(
    api: httpx.Client, data: dict, files: dict | None, status: int, expected: str
) -> None:
    response = api.post("/api/video/create-from-audio", data=data, files=files)
    assert response.status_code == status, response.text
    assert expected in response.json()["error"]


def test_history_lists_every_state_and_filters(api: httpx.Client, server: Server, other_key: str) -> None:
    started = api.post(
        "/api/video/create", json={"avatarId": "astronaut", "text": "Short history entry.", "name": "H1"}
    ).json()
    job = _wait_job(api, started["jobId"])
    assert job["status"] == "complete"
    queued = api.post(
        "/api/video/create", json={"avatarId": "astronaut", "text": "To be cancelled at once.", "name": "H2"}
    ).json()
    api.post(f"/api/video/{queued['jobId']}/cancel")
    _wait_job(api, queued["jobId"])
    jobs = api.get("/api/jobs").json()["jobs"]
    by_id = {j["jobId"]: j for j in jobs}
    assert by_id[started["jobId"]]["status"] == "complete" and by_id[started["jobId"]]["duration"] > 0.5
    assert by_id[queued["jobId"]]["status"] == "cancelled" and "cancelled" in by_id[queued["jobId"]]["error"]
    assert [j["createdAt"] for j in jobs] == sorted((j["createdAt"] for j in jobs), reverse=True)
    complete = api.get("/api/jobs", params={"status": "complete"}).json()["jobs"]
    assert complete and {j["status"] for j in complete} == {"complete"}
    assert queued["jobId"] not in {j["jobId"] for j in complete}
    bad = api.get("/api/jobs", params={"status": "done"})
    assert bad.status_code == 400 and "status" in bad.json()["error"]
    assert len(api.get("/api/jobs", params={"limit": 1}).json()["jobs"]) == 1
    with server.client(other_key) as other:
        assert started["jobId"] not in {j["jobId"] for j in other.get("/api/jobs").json()["jobs"]}
        assert other.get(f"/api/job/{started['jobId']}").status_code == 404


# --- keys ---------------------------------------------------------------------------------------------------------
def test_own_keys_create_list_revoke(server: Server) -> None:
    first = server.key("keyholder")
    other = server.key("someone-else")
    with server.client(first) as api:
        me = api.get("/api/me").json()
        assert me["account"] == "keyholder" and first.startswith(me["keyPrefix"])
        made = api.post("/api/keys", json={"name": "laptop"})
        assert made.status_code == 200, made.text
        assert made.headers["cache-control"] == "no-store"
        second = made.json()["key"]
        assert second.startswith("fc_") and made.json()["keyInfo"]["name"] == "laptop"
        listed = api.get("/api/keys").json()
        assert listed["account"] == "keyholder"
        assert [k["current"] for k in listed["keys"]] == [True, False]
        assert all(second not in str(k) and first not in str(k) for k in listed["keys"])
        second_id = made.json()["keyInfo"]["id"]
    with server.client(other) as stranger:
        assert stranger.delete(f"/api/keys/{second_id}").status_code == 404
        assert second_id not in {k["id"] for k in stranger.get("/api/keys").json()["keys"]}
    with server.client(second) as api:
        assert api.get("/api/me").status_code == 200
        assert api.delete(f"/api/keys/{second_id}").json() == {"result": "success"}
        assert api.get("/api/me").status_code == 401
    with server.client(first) as api:
        revoked = next(k for k in api.get("/api/keys").json()["keys"] if k["id"] == second_id)
        assert revoked["revokedAt"]
        assert api.post("/api/keys", json={"name": 5}).status_code == 400
    assert first not in server.log() and second not in server.log()  # no key in the logs


# --- pages ------------------------------------------------------------------------------------------------------
def test_studio_page_has_a_strict_policy_and_no_inline_script(server: Server) -> None:
    response = httpx.get(f"{server.url}/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", policy)
    assert script_src and script_src.group(1).strip() == "'self'"
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    html = response.text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers"
    assert not re.search(r"https?://", html.replace(server.url, "")), "a reference to another host"
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert httpx.get(server.url + asset).status_code == 200, asset


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_reference_pages_load_only_local_files(server: Server, page: str) -> None:
    response = httpx.get(server.url + page)
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert "cdn" not in html.lower() and "http" not in html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(assets) >= 2
    for asset in assets:
        served = httpx.get(server.url + asset)
        assert served.status_code == 200 and len(served.content) > 100, asset


def test_openapi_documents_the_studio_endpoints(server: Server) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    paths = document["paths"]
    for path, method in (
        ("/api/avatar/preview", "post"),
        ("/api/avatars/gallery", "get"),
        ("/api/avatar/{avatarId}/thumbnail", "get"),
        ("/api/voice/{voiceId}/sample", "get"),
        ("/api/jobs", "get"),
        ("/api/job/{jobId}", "get"),
        ("/api/video/create-from-audio", "post"),
        ("/api/video/{videoId}/thumbnail", "get"),
        ("/api/me", "get"),
        ("/api/keys", "get"),
        ("/api/keys", "post"),
        ("/api/keys/{keyId}", "delete"),
    ):
        assert "Studio" in paths[path][method]["tags"], path
    assert "/" not in paths and "/docs" not in paths
