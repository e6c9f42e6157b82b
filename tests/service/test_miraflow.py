"""The Miraflow dialect over real HTTP, following the API guide's own examples."""

from __future__ import annotations

import json
import re
import time

import httpx

from tests.service.harness import Server, blank_png, mp4_info, wait_miraflow

#: The documented fields, plus Facecast's preparation ``status`` (``error`` only when it failed).
AVATAR_KEYS = {"id", "name", "createdAt", "voiceId", "isPhoto", "status"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_the_guides_python_script_with_bearer_auth(server: Server, key: str) -> None:
    """The "Complete Example": Bearer auth, create from a speechId, poll, stream the download."""
    base = f"{server.url}/api"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(timeout=120) as requests:
        speech = requests.post(
            f"{base}/speech/create",
            headers=headers,
            json={"voiceId": "piper-en_US-joe-medium", "text": "Hello there."},
        ).json()
        assert speech["result"] == "success", speech
        response = requests.post(
            f"{base}/video/create",
            headers=headers,
            json={
                "avatarId": "astronaut",
                "speechId": speech["speechId"],
                "name": "Test Video",
                "im2vid_full": False,
            },
        )
        job_id = response.json()["jobId"]
        seen = []
        while True:
            status = requests.get(f"{base}/video/{job_id}/status", headers=headers).json()
            assert status["result"] == "success"
            seen.append(status["status"])
            if status["status"] == "inference_complete":
                video_id = status["videoId"]
                break
            assert status["status"] in ("inference_started", "inference_working"), status
            assert re.fullmatch(r"\d{1,3}%", status.get("progress", "0%"))
            time.sleep(0.3)
        assert video_id != job_id
        chunks = []
        with requests.stream("GET", f"{base}/video/{video_id}/download", headers=headers) as download:
            assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
            for chunk in download.iter_bytes(8192):
                chunks.append(chunk)
    info = mp4_info(b"".join(chunks))
    assert info["streams"] == {"video": "h264", "audio": "aac"}
    assert (info["width"], info["height"]) == (512, 512)
    assert 0.3 < info["duration"] < 3.0


def test_the_guides_curl_examples(api: httpx.Client) -> None:
    avatars = api.get("/api/avatars").json()["avatars"]
    astronaut = next(a for a in avatars if a["id"] == "astronaut")
    assert (
        set(astronaut) == AVATAR_KEYS and astronaut["isPhoto"] is True and ISO.match(astronaut["createdAt"])
    )
    assert astronaut["status"] == "ready"
    voices = api.get("/api/voices").json()["voices"]
    assert voices[0]["id"] == "piper-en_US-joe-medium"
    assert {"id", "name", "createdAt"} <= set(voices[0])
    assert astronaut["voiceId"] in {v["id"] for v in voices}
    other_voice = voices[1]["id"] if len(voices) > 1 else voices[0]["id"]

    # Full background, voice + text, as in Step 1 (x-api-key auth).
    created = api.post(
        "/api/video/create",
        json={
            "avatarId": "astronaut",
            "name": "Full background video",
            "voiceId": other_voice,
            "text": "This is a video with full background.",
            "im2vid_full": True,
        },
    ).json()
    assert created["result"] == "success" and set(created) == {"result", "jobId"}
    # No voiceId: the avatar's own voice speaks (the guide's video-avatar example).
    default_voice = api.post(
        "/api/video/create", json={"avatarId": "astronaut", "name": "My new video", "text": "Hi."}
    ).json()
    for job_id in (created["jobId"], default_voice["jobId"]):
        final = wait_miraflow(api, job_id)
        assert final["status"] == "inference_complete", final

    video_id = wait_miraflow(api, created["jobId"])["videoId"]
    listed = api.get("/api/videos").json()["videos"]
    entry = next(v for v in listed if v["id"] == video_id)
    assert entry == {
        "id": video_id,
        "name": "Full background video",
        "sourceAvatarId": "astronaut",
        "createdAt": entry["createdAt"],
    }
    meta = api.get(f"/api/video/{video_id}").json()
    assert set(meta) == {"id", "name", "sourceAvatarId", "createdAt", "downloadUrl"}
    # The downloadUrl works without the key, like the S3 URL in the guide.
    with httpx.Client(timeout=60) as anonymous:
        fetched = anonymous.get(meta["downloadUrl"])
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "video/mp4"
    assert mp4_info(fetched.content)["streams"]["audio"] == "aac"
    with httpx.Client(timeout=60) as anonymous:
        tampered = anonymous.get(meta["downloadUrl"].replace("signature=", "signature=x"))
    assert tampered.status_code == 404 and tampered.json()["result"] == "failure"


def test_validation_names_the_field(api: httpx.Client) -> None:
    cases = [
        ({}, "avatarId"),
        ({"avatarId": 12, "text": "hi"}, "avatarId"),
        ({"avatarId": "astronaut"}, "text"),
        ({"avatarId": "astronaut", "text": "hi", "im2vid_full": "maybe"}, "im2vid_full"),
        ({"avatarId": "astronaut", "text": "   "}, "text"),
        ({"avatarId": "astronaut", "text": "x" * 301}, "text"),
        ({"avatarId": "astronaut", "text": "hi", "speechId": "s"}, "speechId"),
        # Nothing the voice can speak: refused in the request, not queued to fail in the worker.
        ({"avatarId": "astronaut", "text": "\U0001f600 \U0001f389"}, "text"),
        ({"avatarId": "astronaut", "text": "\u4f60\u597d", "voiceId": "piper-en_US-joe-medium"}, "text"),
    ]
    for body, field in cases:
        response = api.post("/api/video/create", json=body)
        assert response.status_code == 400, (body, response.text)
        error = response.json()
        assert error["result"] == "failure" and field in error["error"], (body, error)
    assert (
        api.post(
            "/api/video/create", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    unknown = api.post("/api/video/create", json={"avatarId": "nope", "text": "hi"})
    assert unknown.status_code == 404 and "Avatar not found" in unknown.json()["error"]
    bad_voice = api.post("/api/video/create", json={"avatarId": "astronaut", "text": "hi", "voiceId": "nope"})
    assert bad_voice.status_code == 404 and "nope" in bad_voice.json()["error"]
    assert api.get("/api/video/nope/status").status_code == 404
    assert api.get("/api/video/nope/download").status_code == 404


def test_photo_avatars_are_created_prepared_and_deleted(api: httpx.Client, jpeg: bytes) -> None:
    created = api.post("/api/avatar/create", files={"image": ("me.jpg", jpeg)}, data={"name": "Me"})
    assert created.status_code == 200, created.text
    avatar = created.json()["avatar"]
    assert avatar["isPhoto"] is True and avatar["name"] == "Me" and avatar["voiceId"]
    assert avatar["status"] == "ready"  # photo avatars are prepared in the request
    assert avatar["id"] in {a["id"] for a in api.get("/api/avatars").json()["avatars"]}
    job = api.post(
        "/api/video/create", json={"avatarId": avatar["id"], "text": "Hi.", "im2vid_full": True}
    ).json()
    assert wait_miraflow(api, job["jobId"])["status"] == "inference_complete"

    assert api.delete(f"/api/avatar/{avatar['id']}").json() == {"result": "success"}
    assert api.get(f"/api/avatar/{avatar['id']}").status_code == 404
    assert avatar["id"] not in {a["id"] for a in api.get("/api/avatars").json()["avatars"]}
    assert api.delete("/api/avatar/astronaut").status_code == 400  # stock


def test_bad_avatar_uploads_are_refused(api: httpx.Client) -> None:
    no_face = api.post("/api/avatar/create", files={"image": ("wall.png", blank_png())})
    assert no_face.status_code == 400 and "face" in no_face.json()["error"].lower()
    not_image = api.post("/api/avatar/create", files={"image": ("notes.txt", b"hello, not a picture")})
    assert not_image.status_code == 400 and "image" in not_image.json()["error"]
    neither = api.post("/api/avatar/create", data={"name": "x"})
    assert neither.status_code == 400
    clip = api.post(
        "/api/avatar/create", files={"video": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)}
    )
    assert clip.status_code == 400 and "video" in clip.json()["error"]  # an MP4 header, no video


def test_speeches_and_voices(api: httpx.Client) -> None:
    voice = "piper-en_US-joe-medium"
    made = api.post("/api/speech/create", json={"voiceId": voice, "text": "Good morning."}).json()
    speech = made["speech"]
    assert made["speechId"] == speech["id"] and speech["duration"] > 0.3 and speech["voiceId"] == voice
    assert api.get(f"/api/speech/{speech['id']}").json()["text"] == "Good morning."
    assert speech["id"] in {s["id"] for s in api.get("/api/speeches").json()["speeches"]}
    assert api.post("/api/speech/create", json={"voiceId": "nope", "text": "x"}).status_code == 404
    assert api.post("/api/speech/create", json={"voiceId": voice}).status_code == 400
    assert api.delete(f"/api/speech/{speech['id']}").status_code == 200
    assert api.get(f"/api/speech/{speech['id']}").status_code == 404
    gone = api.post("/api/video/create", json={"avatarId": "astronaut", "speechId": speech["id"]})
    assert gone.status_code == 404 and "Speech not found" in gone.json()["error"]

    broken = api.post(
        "/api/voice/create",
        files={"model": ("v.onnx", b"not a model"), "config": ("v.onnx.json", b"{}")},
        data={"name": "Mine"},
    )
    assert broken.status_code == 400 and broken.json()["result"] == "failure"
    assert api.delete(f"/api/voice/{voice}").status_code == 400  # stock


def _post_json(api: httpx.Client, path: str, body: dict[str, object]) -> httpx.Response:
    # json.dumps escapes what cannot be encoded (an unpaired surrogate becomes "\ud800"), as a
    # client in another language may send it.
    return api.post(path, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def test_text_no_database_can_store_is_refused_naming_the_field(api: httpx.Client) -> None:
    cases = [
        ("/api/video/create", {"avatarId": "astronaut", "text": "Hi \ud800 there"}, "text"),
        ("/api/video/create", {"avatarId": "astronaut", "text": "Hi \x00 there"}, "text"),
        ("/api/video/create", {"avatarId": "astronaut", "text": "Hi", "name": "odd \udfff"}, "name"),
        ("/api/speech/create", {"voiceId": "flite-awb", "text": "Hi \ud800"}, "text"),
    ]
    for path, body, field in cases:
        response = _post_json(api, path, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["result"] == "failure" and field in response.json()["error"], response.text
    # ids nothing could be named are simply not found
    assert _post_json(api, "/api/video/create", {"avatarId": "a\x00b", "text": "Hi"}).status_code in (
        400,
        404,
    )
    assert api.get("/api/video/a%00b/status").status_code == 404


def test_voice_uploads_name_the_file_at_fault(api: httpx.Client) -> None:
    nested = b'{"audio": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for config in (nested, b"{}", b"not json"):
        response = api.post(
            "/api/voice/create",
            files={"model": ("v.onnx", b"not a model"), "config": ("v.onnx.json", config)},
        )
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert "config" in error and not error.startswith("model"), error
