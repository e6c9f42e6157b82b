"""The client's own logic with a scripted transport: error mapping, retries, polling, pagination.
(It is exercised against a real server in tests/service/test_client_e2e.py.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import facecast.client as client_module
from facecast.client import (
    AuthenticationError,
    BadRequestError,
    Client,
    JobStatus,
    NotFoundError,
    RateLimitError,
    ServerError,
    VideoFailed,
)
from facecast.errors import InvalidInput, NotFound


def scripted(handler: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client("http://facecast.test", "fc_key", transport=httpx.MockTransport(handler), max_retries=2)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    return slept


def test_key_header_and_env_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"avatars": [{"id": "a", "name": "A", "createdAt": "t", "voiceId": "v", "isPhoto": True}]},
        )

    monkeypatch.setenv("FACECAST_API_KEY", "fc_env")
    monkeypatch.setenv("FACECAST_URL", "http://env.test:9")
    client = Client(transport=httpx.MockTransport(handler))
    assert client.avatars()[0].is_photo
    assert seen[0].headers["x-api-key"] == "fc_env" and str(seen[0].url) == "http://env.test:9/api/avatars"
    monkeypatch.delenv("FACECAST_API_KEY")
    with pytest.raises(AuthenticationError):
        Client("http://x")


@pytest.mark.parametrize(
    ("status", "body", "error", "family"),
    [
        (400, {"result": "failure", "error": "Missing required field: text"}, BadRequestError, InvalidInput),
        (
            404,
            {"detail": "Video not found", "error": {"code": "not_found", "message": "Video not found"}},
            NotFoundError,
            NotFound,
        ),
        (401, {"result": "failure", "error": "Invalid API key"}, AuthenticationError, Exception),
        (500, "oops", ServerError, Exception),
    ],
)
def test_error_bodies_of_both_dialects_become_typed_errors(
    status: int, body: Any, error: type, family: type
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return (
            httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
        )

    with pytest.raises(error) as raised:
        scripted(handler).create_video("a", text="hi")
    assert isinstance(raised.value, family) and raised.value.status_code == status
    if isinstance(body, dict):
        assert str(raised.value) in json.dumps(body)


def test_429_is_retried_after_retry_after_then_raised(no_sleep: list[float]) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            429, headers={"Retry-After": "3"}, json={"result": "failure", "error": "Rate limit"}
        )

    with pytest.raises(RateLimitError) as raised:
        scripted(handler).create_video("a", text="hi")
    assert len(calls) == 3 and no_sleep == [3.0, 3.0] and raised.value.retry_after == 3


def test_reads_are_retried_on_503_and_connection_errors_but_creates_are_not() -> None:
    answers = iter(
        [
            httpx.Response(503),
            httpx.Response(200, json={"result": "success", "status": "inference_started", "progress": "0%"}),
        ]
    )
    assert scripted(lambda r: next(answers)).status("j").status == "inference_started"

    posts = []

    def refuse(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        raise httpx.ConnectError("down", request=request)

    with pytest.raises(httpx.ConnectError):
        scripted(refuse).create_video("a", text="hi")
    assert len(posts) == 1


def test_wait_backs_off_reports_progress_and_raises_on_failure(no_sleep: list[float]) -> None:
    states = iter(
        [
            {"status": "inference_started", "progress": "0%"},
            {"status": "inference_working", "progress": "45%"},
            {"status": "inference_working", "progress": "45%"},
            {"status": "inference_complete", "videoId": "v1"},
        ]
    )
    client = scripted(lambda r: httpx.Response(200, json={"result": "success", **next(states)}))
    seen: list[JobStatus] = []
    final = client.wait("j", poll_interval=1.0, max_interval=2.0, on_progress=seen.append)
    assert final.ok and final.video_id == "v1"
    assert [s.progress for s in seen] == [0, 45, 100]  # unchanged states are reported once
    assert no_sleep == [1.0, 1.5, 2.0]
    failed = scripted(
        lambda r: httpx.Response(200, json={"status": "inference_failed", "error": "No face found"})
    )
    with pytest.raises(VideoFailed, match="No face found"):
        failed.wait("j")


def test_mirage_pagination_follows_the_cursor() -> None:
    videos = [
        {"id": f"video_{i}", "status": "COMPLETE", "created_at": i, "video_id": f"video_{i}"}
        for i in range(5)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("after")
        limit = int(request.url.params["limit"])
        start = 0 if after is None else [v["id"] for v in videos].index(after) + 1
        return httpx.Response(200, json=videos[start : start + limit])

    assert [v.id for v in scripted(handler).mirage.iter_all(page_size=2)] == [v["id"] for v in videos]


def test_avatars_carry_their_preparation_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "avatars": [
                    {"id": "a", "name": "A", "createdAt": "t", "voiceId": None, "isPhoto": True},
                    {"id": "v", "name": "V", "createdAt": "t", "voiceId": None, "isPhoto": False,
                     "status": "failed", "error": "the face leaves the frame"},
                ]
            },
        )

    photo, clip = scripted(handler).avatars()
    assert photo.ready and photo.status == "ready"  # the documented shape has no status: ready
    assert not clip.ready and clip.error == "the face leaves the frame"


def test_a_failed_download_leaves_no_partial_file(tmp_path: Path) -> None:
    class Dropped(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"the first part of an mp4"
            raise httpx.ReadError("connection lost")

    client = scripted(lambda r: httpx.Response(200, stream=Dropped()))
    with pytest.raises(httpx.ReadError):
        client.download("video_1", tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_mirage_content_follows_the_redirect_without_the_key(tmp_path: Path) -> None:
    """The signed URL needs no key; it may be on another host, which must not receive it."""
    fetched: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/videos/video_1/content":
            assert request.headers["x-api-key"] == "fc_key"
            return httpx.Response(302, headers={"location": "http://media.test/media/videos/video_1.mp4?s=1"})
        fetched.append(request)
        return httpx.Response(200, content=b"an mp4")

    out = scripted(handler).mirage.content("video_1", tmp_path / "v.mp4")
    assert out.read_bytes() == b"an mp4"
    assert [r.url.host for r in fetched] == ["media.test"] and "x-api-key" not in fetched[0].headers
