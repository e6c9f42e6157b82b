"""The reference documents' own Python scripts, run with ``requests`` as written, against the
test server: only the base URL and the key change."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.service.harness import Server, mp4_info

requests = pytest.importorskip("requests")


class MiraflowPhotoAvatarAPI:
    """The photo-avatar guide's client (001): a session sending ``Content-Type: application/json``
    on every request, GETs included, and ``raise_for_status()`` after each."""

    def __init__(self, api_key: str, base_url: str) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({"x-api-key": self.api_key, "Content-Type": "application/json"})

    def get_avatars(self) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}/avatars")
        response.raise_for_status()
        return dict(response.json())

    def create_video(
        self, avatar_id: str, name: str, text: str, is_photo: bool, use_full_background: bool = False
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"avatarId": avatar_id, "name": name, "text": text}
        if is_photo:
            payload["im2vid_full"] = use_full_background
        response = self.session.post(f"{self.base_url}/video/create", json=payload)
        response.raise_for_status()
        return dict(response.json())

    def check_job_status(self, job_id: str) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}/video/{job_id}/status")
        response.raise_for_status()
        return dict(response.json())

    def wait_for_completion(
        self, job_id: str, polling_interval: float = 10, max_wait_time: int = 600
    ) -> dict[str, Any]:
        start_time = time.time()
        while time.time() - start_time < max_wait_time:
            status = self.check_job_status(job_id)
            if status.get("status") in ("inference_complete", "inference_failed"):
                return status
            time.sleep(polling_interval)
        raise TimeoutError(f"Job {job_id} did not complete within {max_wait_time} seconds")


def test_the_photo_avatar_guides_client_and_the_api_guides_download(
    server: Server, key: str, tmp_path: Path
) -> None:
    api = MiraflowPhotoAvatarAPI(key, f"{server.url}/api")
    photo_avatars = [a for a in api.get_avatars()["avatars"] if a.get("isPhoto")]
    result = api.create_video(
        avatar_id=photo_avatars[0]["id"],
        name="Marketing Preview - Face Cropped",
        text="Hi there! This is a quick preview.",
        is_photo=True,
        use_full_background=False,
    )
    assert result.get("result") == "success"
    final = api.wait_for_completion(result["jobId"], polling_interval=0.3, max_wait_time=180)
    assert final["status"] == "inference_complete", final

    # The API guide's download_video(): Bearer auth, stream=True, iter_content.
    response = requests.get(
        f"{server.url}/api/video/{final['videoId']}/download",
        headers={"Authorization": f"Bearer {key}"},
        stream=True,
    )
    output_path = tmp_path / "output.mp4"
    with open(output_path, "wb") as f:
        for chunk in response.iter_content(chunk_size=8192):
            f.write(chunk)
    assert mp4_info(output_path.read_bytes())["streams"] == {"video": "h264", "audio": "aac"}

    # handle_video_creation_errors(): the error text is what the guide looks for.
    failed = api.session.post(
        f"{server.url}/api/video/create", json={"avatarId": "cmdms9d3s001no401kqwbr0q5", "text": "Hi"}
    )
    assert failed.status_code == 404 and "Avatar not found" in failed.json()["error"]


def test_the_mirage_overviews_requests_example(
    server: Server, key: str, tmp_path: Path, jpeg: bytes, wav: bytes
) -> None:
    (tmp_path / "portrait.jpg").write_bytes(jpeg)
    (tmp_path / "voice.wav").write_bytes(wav)
    url = f"{server.url}/v1/videos"
    headers = {"x-api-key": key}
    with open(tmp_path / "portrait.jpg", "rb") as image, open(tmp_path / "voice.wav", "rb") as audio:
        files = {"image_reference": image, "audio_reference": audio}
        data = {"model": "mirage-video-1-latest"}
        response = requests.post(url, headers=headers, files=files, data=data)
    assert response.status_code == 200, response.text
    video_id = response.json()["id"]

    deadline = time.monotonic() + 180
    while (status := requests.get(f"{url}/{video_id}", headers=headers).json())["status"] == "PROCESSING":
        assert time.monotonic() < deadline, status
        time.sleep(0.3)
    assert status["status"] == "COMPLETE", status

    response = requests.get(f"{url}/{video_id}/content", headers=headers, allow_redirects=True)
    assert [r.status_code for r in response.history] == [302] and response.status_code == 200
    with open(tmp_path / "output.mp4", "wb") as f:
        f.write(response.content)
    assert mp4_info((tmp_path / "output.mp4").read_bytes())["streams"]["audio"] == "aac"
