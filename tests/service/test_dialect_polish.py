"""Conformance polish over real HTTP: invalid Range headers are ignored (RFC 9110), Mirage answers
validation errors as published (422, FastAPI's shape) and the OpenAPI document says what each
dialect answers, cancel answers the state now, links last for the life of the video, HEAD on
content, failed progress, clipped ids in not-found messages, and Mirage's several-faces warning."""

from __future__ import annotations

import contextlib
import io
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest

from facecast.service.api.mirage import video_object
from facecast.service.models import Job, JobStatus
from facecast.service.storage import UrlSigner
from tests.service.harness import Server, mirage_video, rendering, wait_for, wait_mirage


@pytest.fixture(scope="module")
def finished(server: Server, key: str, png: bytes, wav: bytes) -> str:
    with server.client(key) as api:
        video_id = mirage_video(api, png, wav)
        assert wait_mirage(api, video_id)["status"] == "COMPLETE"
    return video_id


@pytest.mark.parametrize("dialect", ["mirage", "miraflow"])
def test_an_invalid_range_is_ignored(api: httpx.Client, finished: str, dialect: str) -> None:
    if dialect == "mirage":
        url = api.get(f"/v1/videos/{finished}/content").headers["location"]
        fetch = httpx.Client(timeout=60)
    else:
        url, fetch = f"/api/video/{finished}/download", api
    with contextlib.closing(fetch):
        whole = fetch.get(url).content
        for invalid in ("bytes=abc", "bytes=100-50", "items=0-5", "bytes=", "bytes=-"):
            answer = fetch.get(url, headers={"Range": invalid})
            assert answer.status_code == 200 and answer.content == whole, (invalid, answer.status_code)
        assert fetch.get(url, headers={"Range": f"bytes={len(whole) + 5}-"}).status_code == 416
        assert fetch.get(url, headers={"Range": "bytes=0-9"}).content == whole[:10]


def test_mirage_validation_errors_are_422_in_fastapis_shape(api: httpx.Client, png: bytes) -> None:
    for answer, loc in (
        (api.get("/v1/videos", params={"limit": "many"}), ["query", "limit"]),
        (api.get("/v1/videos", params={"order": "sideways"}), ["query", "order"]),
        (api.post("/v1/videos", files={"image_reference": ("p.png", png)}), ["body", "audio_reference"]),
        (api.post("/v1/videos", json={"image_reference": "x"}), ["body", "image_reference"]),
    ):
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"]
        assert any(d["loc"] == loc for d in detail), detail
        assert all(set(d) == {"loc", "msg", "type"} for d in detail)
    # Miraflow keeps its own: 400, {"result": "failure", "error": ...} naming the field.
    miraflow = api.post("/api/video/create", json={"name": "no avatar"})
    assert miraflow.status_code == 400 and "avatarId" in miraflow.json()["error"]


def test_openapi_describes_what_each_dialect_answers(server: Server) -> None:
    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    schemas = document["components"]["schemas"]
    assert {"MiraflowError", "MirageError", "HTTPValidationError"} <= set(schemas)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path.startswith("/api/"):
                assert "422" not in responses, (method, path)
                for status, answer in responses.items():
                    if status.startswith(("4", "5")):
                        ref = answer["content"]["application/json"]["schema"]["$ref"]
                        assert ref.endswith("/MiraflowError"), (method, path, status)
            elif path.startswith("/v1/"):
                assert "400" not in responses, (method, path)
                for status, answer in responses.items():
                    if status.startswith(("4", "5")):
                        ref = answer["content"]["application/json"]["schema"]["$ref"]
                        wanted = "/HTTPValidationError" if status == "422" else "/MirageError"
                        assert ref.endswith(wanted), (method, path, status)
    create = document["paths"]["/v1/videos"]["post"]["responses"]
    assert {"422", "401", "503", "507"} <= set(create)
    assert {"400", "401", "404"} <= set(document["paths"]["/api/video/{jobId}/status"]["get"]["responses"])
    assert "202" in document["paths"]["/v1/videos/{video_id}/cancel"]["post"]["responses"]


def test_cancel_answers_the_state_now_and_again(server: Server, png: bytes, long_wav: bytes) -> None:
    with server.client(server.key("cancel-now")) as api:
        running = mirage_video(api, png, long_wav)
        queued = mirage_video(api, png, long_wav)  # one worker thread: it waits behind the first
        wait_for(lambda: rendering(api, running), timeout=120, what="the first render")
        first = api.post(f"/v1/videos/{queued}/cancel")
        assert first.status_code == 200 and first.json()["status"] == "CANCELLED"
        again = api.post(f"/v1/videos/{queued}/cancel")
        assert again.status_code == 200 and again.json() == first.json()

        asked = time.monotonic()
        stopped = api.post(f"/v1/videos/{running}/cancel")
        # The worker checks between frames: within the cancel's wait, the answer is the new state.
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["status"] == "CANCELLED" and time.monotonic() - asked < 10
        assert api.get(f"/v1/videos/{running}").json() == stopped.json()
        assert api.post(f"/v1/videos/{running}/cancel").json() == stopped.json()


def test_miraflow_cancel_is_idempotent(api: httpx.Client) -> None:
    created = api.post(
        "/api/video/create",
        json={"avatarId": "astronaut", "text": "Cancel me before I start, please. " * 6, "name": "c"},
    )
    assert created.status_code == 200, created.text
    job_id = created.json()["jobId"]
    first = api.post(f"/api/video/{job_id}/cancel")
    if first.status_code == 202:  # still stopping: running, with the cancel recorded
        assert first.json()["status"] == "inference_working"
        wait_for(lambda: api.get(f"/api/video/{job_id}/status").json()["status"] != "inference_working")
        first = api.post(f"/api/video/{job_id}/cancel")
    assert first.status_code == 200 and first.json() == {
        "result": "success",
        "status": "inference_failed",
        "error": "The video was cancelled",
    }
    assert api.post(f"/api/video/{job_id}/cancel").json() == first.json()


def test_download_url_lasts_for_the_life_of_the_video(api: httpx.Client, finished: str) -> None:
    first = api.get(f"/api/video/{finished}").json()["downloadUrl"]
    assert parse_qs(urlsplit(first).query)["expires"] == ["0"]
    assert api.get(f"/api/video/{finished}").json()["downloadUrl"] == first  # the stored link is stable
    assert httpx.get(first, timeout=60).status_code == 200


def test_an_operator_can_shorten_link_lifetimes() -> None:
    signer = UrlSigner(b"secret")
    rel = "videos/video_x.mp4"
    expires, signature = signer.sign(rel, 0)
    assert expires == 0 and signer.verify(rel, expires, signature)
    assert not signer.verify(rel, expires, signature, ttl=3600)  # permanent links end when shortened
    expires, signature = signer.sign(rel, 7200)
    assert signer.verify(rel, expires, signature, ttl=7200)
    assert not signer.verify(rel, expires, signature, ttl=60)
    assert not signer.verify(rel, expires, signature + "x", ttl=7200)


def test_head_on_content_answers_like_get(api: httpx.Client, finished: str) -> None:
    get = api.get(f"/v1/videos/{finished}/content")
    head = api.head(f"/v1/videos/{finished}/content")
    assert head.status_code == get.status_code == 302
    assert head.headers["location"] == get.headers["location"] and head.content == b""
    assert api.head("/v1/videos/video_nope/content").status_code == 404


def test_a_failed_videos_progress_is_null() -> None:
    job = Job(id="j", video_id="video_j", api="mirage", status=JobStatus.FAILED.value, progress=0.19)
    job.error_code, job.error_message = "no_face_found", "No face"
    failed = video_object(job)
    assert failed.progress is None and failed.error is not None
    job.status, job.progress = JobStatus.RUNNING.value, 0.19
    assert video_object(job).progress == 19


def test_not_found_quotes_at_most_64_characters(api: httpx.Client) -> None:
    long_id = "video_" + "x" * 190
    for path in (f"/v1/videos/{long_id}", f"/api/video/{long_id}/status", f"/api/video/{long_id}"):
        answer = api.get(path)
        assert answer.status_code == 404, answer.text
        assert "x" * 59 not in answer.text and "x" * 50 in answer.text and "…" in answer.text, answer.text


def test_mirage_warns_about_several_faces(api: httpx.Client, wav: bytes) -> None:
    from PIL import Image
    from skimage import data

    face = data.astronaut()
    pair = np.concatenate([face, face[:, ::-1]], axis=1)
    buf = io.BytesIO()
    Image.fromarray(pair).save(buf, format="PNG")
    created = api.post(
        "/v1/videos",
        files={"image_reference": ("two.png", buf.getvalue()), "audio_reference": ("a.wav", wav)},
    )
    assert created.status_code == 200, created.text
    warnings = created.json()["warnings"]
    assert any("2 faces" in w and "largest" in w for w in warnings), warnings
    single = api.post(
        "/v1/videos",
        files={"image_reference": ("one.png", png_bytes(face)), "audio_reference": ("a.wav", wav)},
    )
    assert "warnings" not in single.json()  # nothing to say: the Video object as published


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()
