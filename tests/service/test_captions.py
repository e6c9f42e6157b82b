"""Captions over real HTTP (``facecast serve`` + its worker): Mirage's captioning, templates, text
to speech, transcripts and subtitles in both dialects, and every refusal the issue lists."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf

from facecast.captions import BUILTIN_TEMPLATES
from tests.captions.media import make_video, speech_video
from tests.service.harness import Server, mp4_info, wait_for, wait_miraflow, wait_mirage

BOLD = "bold-highlight"
BUILTIN_IDS = {t.id for t in BUILTIN_TEMPLATES}


def assert_invalid(response: httpx.Response, field: str) -> None:
    """The Mirage dialect's validation error naming ``field``: the one place its shape is spelt out
    (400 with ``error.param`` today; FastAPI's 422 ``{"detail": [{"loc", "msg", "type"}]}`` if the
    dialect moves to it)."""
    body = response.json()
    if isinstance(body.get("detail"), list):
        assert response.status_code == 422, response.text
        assert field in [str(p) for p in body["detail"][0]["loc"]], body
    else:
        assert response.status_code == 400, response.text
        assert body["error"]["param"] == field, body


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("caption-media")


@pytest.fixture(scope="module")
def spoken_mp4(media: Path) -> bytes:
    video, _ = speech_video(media, 360, 640)
    return video.read_bytes()


@pytest.fixture(scope="module")
def template_id(server: Server, key: str) -> str:
    with server.client(key) as api:
        listed = api.get("/v1/videos/captions/templates", params={"limit": 100}).json()
    return next(t["id"] for t in listed["data"] if t["slug"] == BOLD)


def uploads(server: Server) -> set[str]:
    folder = server.data_dir / "media" / "uploads"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def caption(api: httpx.Client, template: str | None, **kw: Any) -> httpx.Response:
    data = {"caption_template_id": template} if template is not None else {}
    files = None
    if "video" in kw:
        files = {"video": ("in.mp4", kw.pop("video"), "video/mp4")}
    data.update(kw)
    return api.post("/v1/videos/captions", data=data, files=files)


# --- templates ----------------------------------------------------------------------------------------
def test_templates_list_envelope_and_cursor(api: httpx.Client) -> None:
    first = api.get("/v1/videos/captions/templates", params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert body["object"] == "list" and body["has_more"] is True and len(body["data"]) == 2
    for t in body["data"]:
        assert t["object"] == "caption_template" and t["id"].startswith("ctpl_")
        assert isinstance(t["created_at"], int) and "preview_url" in t
    rest = api.get("/v1/videos/captions/templates", params={"after": body["data"][-1]["id"], "limit": 100}).json()
    ids = [t["id"] for t in body["data"] + rest["data"]]
    assert len(ids) == len(set(ids)) >= 6 and rest["has_more"] is False
    one = api.get(f"/v1/videos/captions/templates/{ids[3]}")
    assert one.status_code == 200 and one.json()["id"] == ids[3]
    assert api.get("/v1/videos/captions/templates/ctpl_nothinghere0000").status_code == 404
    assert_invalid(api.get("/v1/videos/captions/templates", params={"limit": 0}), "limit")


def test_builtin_templates_have_preview_clips_that_play(api: httpx.Client) -> None:
    def previews() -> list[str] | None:
        data = api.get("/v1/videos/captions/templates", params={"limit": 100}).json()["data"]
        urls = [t["preview_url"] for t in data if t["style"] and t["id"] in BUILTIN_IDS]
        return urls if urls and all(urls) else None

    urls = wait_for(previews, timeout=180, what="template previews made by the worker")
    assert len(urls) == len(BUILTIN_IDS)
    with httpx.Client(timeout=60) as anonymous:  # a signed URL: no key needed
        clip = anonymous.get(urls[1])
    assert clip.status_code == 200
    info = mp4_info(clip.content)
    assert (info["width"], info["height"]) == (540, 960) and info["duration"] > 2


def test_account_templates_are_validated_and_private(server: Server, api: httpx.Client, other_key: str) -> None:
    made = api.post("/v1/videos/captions/templates", json={"name": "Big Red", "color": "#FF2020", "size": 0.08})
    assert made.status_code == 200, made.text
    tid = made.json()["id"]
    assert made.json()["style"]["color"] == "#FF2020"
    assert api.get(f"/v1/videos/captions/templates/{tid}").status_code == 200
    with server.client(other_key) as other:
        assert other.get(f"/v1/videos/captions/templates/{tid}").status_code == 404
    assert_invalid(api.post("/v1/videos/captions/templates", json={"name": "x", "color": "red"}), "color")
    assert_invalid(api.post("/v1/videos/captions/templates", json={"color": "#FFFFFF"}), "name")
    listed = api.get("/api/caption-templates").json()
    assert tid in {t["id"] for t in listed["templates"]}


# --- captioning ---------------------------------------------------------------------------------------
def test_caption_an_upload(api: httpx.Client, spoken_mp4: bytes, template_id: str) -> None:
    created = caption(api, template_id, video=spoken_mp4)
    assert created.status_code == 200, created.text
    video = created.json()
    assert video["status"] == "PROCESSING" and video["caption_template_id"] == template_id
    assert video["source_video_id"] is None and video["model"] is None and video["share_link_url"] is None
    done = wait_mirage(api, video["id"])
    assert done["status"] == "COMPLETE", done
    content = api.get(f"/v1/videos/{video['id']}/content", follow_redirects=True)
    info = mp4_info(content.content)
    assert info["width"] == 360 and info["streams"].get("audio") == "aac"
    transcript = api.get(f"/v1/videos/{video['id']}/transcript").json()
    assert transcript["engine"] == "faster-whisper"
    said = {w["word"].strip(".,").lower() for w in transcript["words"]}
    assert {"quick", "brown", "fox", "captions", "video"} <= said
    srt = api.get(f"/v1/videos/{video['id']}/captions.srt")
    assert srt.status_code == 200 and srt.text.startswith("1\n00:00:0")
    vtt = api.get(f"/v1/videos/{video['id']}/captions.vtt")
    assert vtt.text.startswith("WEBVTT") and "text/vtt" in vtt.headers["content-type"]
    check_share_link(api, done)


def check_share_link(api: httpx.Client, video: dict[str, Any]) -> None:
    """A COMPLETE video's public link plays without a key, and stops at once when revoked."""
    link = video["share_link_url"]
    assert link and link.startswith("http") and len(link.rsplit("/", 1)[-1]) >= 32
    with httpx.Client(timeout=60) as anonymous:
        page = anonymous.get(link)
        assert page.status_code == 200 and "<video" in page.text
        part = anonymous.get(link + "/video.mp4", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100 and part.content[4:8] == b"ftyp"
        revoked = api.delete(f"/v1/videos/{video['id']}/share").json()
        assert revoked["share_link_url"] is None
        assert anonymous.get(link).status_code == 404
        assert anonymous.get(link + "/video.mp4").status_code == 404
        again = api.post(f"/v1/videos/{video['id']}/share").json()["share_link_url"]
        assert again and again != link and anonymous.get(again).status_code == 200


def test_caption_a_finished_video_by_id_uses_its_speech(api: httpx.Client, template_id: str) -> None:
    avatar = api.get("/api/avatars").json()["avatars"][0]["id"]
    job = api.post("/api/video/create", json={"avatarId": avatar, "text": "Hello there, captions are ready."})
    assert job.status_code == 200, job.text
    status = wait_miraflow(api, job.json()["jobId"])
    assert status["status"] == "inference_complete", status
    video_id = status["videoId"]
    created = caption(api, template_id, video_id=video_id)
    assert created.status_code == 200, created.text
    assert created.json()["source_video_id"] == video_id
    done = wait_mirage(api, created.json()["id"])
    assert done["status"] == "COMPLETE", done
    transcript = api.get(f"/api/video/{created.json()['id']}/transcript").json()
    assert transcript["engine"] == "speech"
    assert [w["word"] for w in transcript["words"]] == ["Hello", "there,", "captions", "are", "ready."]


def test_miraflow_create_with_a_caption_template(api: httpx.Client) -> None:
    avatar = api.get("/api/avatars").json()["avatars"][0]["id"]
    bad = api.post("/api/video/create", json={"avatarId": avatar, "text": "Hi.", "captionTemplateId": "ctpl_nope"})
    assert bad.status_code == 404 and "ctpl_nope" in bad.json()["error"]
    job = api.post("/api/video/create", json={"avatarId": avatar, "text": "Captions in one go.", "captionTemplateId": BOLD})
    assert job.status_code == 200, job.text
    status = wait_miraflow(api, job.json()["jobId"])
    assert status["status"] == "inference_complete", status
    words = api.get(f"/api/video/{status['videoId']}/transcript").json()["words"]
    assert [w["word"] for w in words] == ["Captions", "in", "one", "go."]
    assert api.get(f"/api/video/{status['videoId']}/captions.srt").text.startswith("1\n")


def test_silent_video_fails_with_no_speech_found(api: httpx.Client, media: Path, template_id: str) -> None:
    silent = media / "silent.wav"
    sf.write(silent, [0.0] * 32000, 16000)
    video = make_video(media / "silent.mp4", 320, 240, audio=silent)
    created = caption(api, template_id, video=video.read_bytes())
    assert created.status_code == 200, created.text
    done = wait_mirage(api, created.json()["id"])
    assert done["status"] == "FAILED" and "no speech found" in done["error"]["message"]
    assert api.get(f"/v1/videos/{done['id']}/content").status_code == 409


def test_refusals_name_the_field_and_leave_nothing(
    server: Server, api: httpx.Client, other_key: str, media: Path, spoken_mp4: bytes, template_id: str
) -> None:
    before = uploads(server)
    mute = make_video(media / "mute.mp4", 320, 240, seconds=1.0).read_bytes()
    assert_invalid(caption(api, template_id, video=mute), "video")
    assert_invalid(caption(api, template_id, video=b"\x00\x00\x00\x18ftypmp42" + b"x" * 500), "video")
    assert_invalid(caption(api, template_id, video=b"just some text, not a video"), "video")
    assert_invalid(caption(api, template_id), "video")  # neither
    finished = api.get("/v1/videos", params={"limit": 100}).json()
    complete = next(v["id"] for v in finished if v["status"] == "COMPLETE")
    assert_invalid(caption(api, template_id, video=spoken_mp4, video_id=complete), "video")  # both
    assert_invalid(caption(api, None, video=spoken_mp4), "caption_template_id")
    unknown = caption(api, "ctpl_doesnotexist0000", video=spoken_mp4)
    assert unknown.status_code == 404 and "ctpl_doesnotexist0000" in unknown.text
    with server.client(other_key) as other:
        assert caption(other, template_id, video_id=complete).status_code == 404
    big = caption(api, template_id, video=b"\x00\x00\x00\x18ftypmp42" + b"0" * (7 * 1024 * 1024))
    assert big.status_code == 413
    assert uploads(server) == before


def test_video_id_that_is_not_complete(api: httpx.Client, png: bytes, long_wav: bytes, template_id: str) -> None:
    files = {"image_reference": ("p.png", png), "audio_reference": ("a.wav", long_wav)}
    running = api.post("/v1/videos", files=files).json()["id"]
    try:
        assert_invalid(caption(api, template_id, video_id=running), "video_id")
    finally:
        api.post(f"/v1/videos/{running}/cancel")


# --- text to speech -----------------------------------------------------------------------------------
def test_text_to_speech(api: httpx.Client) -> None:
    voice = api.get("/api/voices").json()["voices"][0]["id"]
    spoken = api.post(f"/v1/audio/text-to-speech/{voice}", json={"text": "Hello from Facecast.", "model": "mirage-audio-1"})
    assert spoken.status_code == 200, spoken.text
    assert spoken.headers["content-type"] == "audio/wav" and spoken.content[:4] == b"RIFF"
    samples, rate = sf.read(io.BytesIO(spoken.content))
    assert len(samples) / rate > 0.5
    assert_invalid(api.post(f"/v1/audio/text-to-speech/{voice}", json={"text": "Hi", "model": "tts-9"}), "model")
    assert_invalid(api.post(f"/v1/audio/text-to-speech/{voice}", json={"model": "mirage-audio-1"}), "text")
    assert api.post("/v1/audio/text-to-speech/nobody", json={"text": "Hi", "model": "mirage-audio-1"}).status_code == 404


# --- a client written against the published shapes ---------------------------------------------------
SCRIPT = '''
import sys, time, requests
base, key, path = sys.argv[1], sys.argv[2], sys.argv[3]
headers = {"x-api-key": key}
templates = requests.get(f"{base}/v1/videos/captions/templates", headers=headers).json()
template_id = templates["data"][0]["id"]
with open(path, "rb") as f:
    r = requests.post(f"{base}/v1/videos/captions", headers=headers,
                      files={"video": ("clip.mp4", f, "video/mp4")}, data={"caption_template_id": template_id})
r.raise_for_status()
video = r.json()
while video["status"] == "PROCESSING":
    time.sleep(1)
    video = requests.get(f"{base}/v1/videos/{video['id']}", headers=headers).json()
assert video["status"] == "COMPLETE", video
content = requests.get(f"{base}/v1/videos/{video['id']}/content", headers=headers)
content.raise_for_status()
print(video["caption_template_id"] == template_id, len(content.content) > 1000)
'''


def test_a_requests_script_runs_unchanged(server: Server, key: str, media: Path, spoken_mp4: bytes) -> None:
    clip = media / "script.mp4"
    clip.write_bytes(spoken_mp4)
    import sys

    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, server.url, key, str(clip)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


