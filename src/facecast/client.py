"""The Python client for a Facecast server, in both dialects (httpx, synchronous).

    client = Client("http://127.0.0.1:8000", api_key="fc_...")   # or FACECAST_URL / FACECAST_API_KEY
    job_id = client.create_video("astronaut", text="Hello there")  # Miraflow dialect
    done = client.wait(job_id, on_progress=print)
    client.download(done.video_id, "hello.mp4")

    video = client.mirage.create("portrait.jpg", "speech.wav")     # Mirage dialect
    video = client.mirage.wait(video.id)
    client.mirage.content(video.id, "out.mp4")

One base client owns the connection, the key, retries (429 and, for reads, 5xx and connection
errors) and the mapping of error bodies to typed exceptions; results are small dataclasses.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from facecast.client_streams import Streams
from facecast.errors import Conflict, FacecastError, InvalidInput, NotFound, RateLimited, Unauthorized

DEFAULT_URL = "http://127.0.0.1:8000"
MIRAGE_MODEL = "mirage-video-1-latest"

__all__ = [
    "APIError",
    "AuthenticationError",
    "Avatar",
    "BadRequestError",
    "Client",
    "ConflictError",
    "JobStatus",
    "MirageVideo",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "Speech",
    "Video",
    "VideoFailed",
    "Voice",
]


# --- errors ---------------------------------------------------------------------------------------
class APIError(FacecastError):
    """The server answered with an error. ``status_code`` and the decoded ``body`` are kept."""

    def __init__(self, message: str, *, status_code: int, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class BadRequestError(APIError, InvalidInput):
    """400 (or 413): the request was refused as invalid."""


class AuthenticationError(APIError, Unauthorized):
    """401: missing, unknown or revoked key."""


class NotFoundError(APIError, NotFound):
    """404"""


class ConflictError(APIError, Conflict):
    """409: e.g. the video is not complete yet, or can no longer be cancelled."""


class RateLimitError(APIError, RateLimited):
    """429: ``retry_after`` seconds to wait."""

    def __init__(self, message: str, *, status_code: int, body: Any = None, retry_after: int = 1) -> None:
        APIError.__init__(self, message, status_code=status_code, body=body)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx"""


class VideoFailed(FacecastError):
    """A video ended FAILED or CANCELLED; ``status`` is its last state."""

    def __init__(self, message: str, status: JobStatus | MirageVideo) -> None:
        super().__init__(message)
        self.status = status


def _error_message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail
        if isinstance(detail, list) and detail and isinstance(detail[0], dict):
            # Mirage's 422: FastAPI's validation shape; name the field as the server did.
            first = detail[0]
            field = ".".join(str(p) for p in first.get("loc", [])[1:])
            message = str(first.get("msg", "invalid request"))
            return f"{field}: {message}" if field and field not in message else message
    return fallback


def _raise_for(response: httpx.Response) -> None:
    if response.is_success or response.is_redirect:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text
    status = response.status_code
    message = _error_message(
        body, f"HTTP {status} from {response.request.method} {response.request.url.path}"
    )
    if status == 429:
        raise RateLimitError(
            message,
            status_code=status,
            body=body,
            retry_after=int(response.headers.get("retry-after", "1") or 1),
        )
    cls: type[APIError] = {
        400: BadRequestError,
        401: AuthenticationError,
        404: NotFoundError,
        409: ConflictError,
        413: BadRequestError,
        422: BadRequestError,
    }.get(status, ServerError if status >= 500 else APIError)
    raise cls(message, status_code=status, body=body)


# --- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Avatar:
    id: str
    name: str
    created_at: str
    voice_id: str | None
    is_photo: bool
    #: "ready", or "queued"/"preparing" while a video avatar's clip is prepared, or "failed".
    status: str = "ready"
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Avatar:
        return cls(
            d["id"],
            d.get("name", ""),
            d.get("createdAt", ""),
            d.get("voiceId"),
            bool(d.get("isPhoto")),
            d.get("status", "ready"),
            d.get("error"),
        )


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    created_at: str
    language: str = ""
    gender: str = ""

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Voice:
        return cls(
            d["id"], d.get("name", ""), d.get("createdAt", ""), d.get("language", ""), d.get("gender", "")
        )


@dataclass(frozen=True)
class Speech:
    id: str
    voice_id: str
    text: str
    duration: float
    created_at: str

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Speech:
        return cls(
            d["id"],
            d.get("voiceId", ""),
            d.get("text", ""),
            float(d.get("duration", 0.0)),
            d.get("createdAt", ""),
        )


@dataclass(frozen=True)
class JobStatus:
    """A Miraflow job's state: ``status`` is one of the ``inference_*`` values."""

    job_id: str
    status: str
    progress: int
    video_id: str | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("inference_complete", "inference_failed", "inference_error")

    @property
    def ok(self) -> bool:
        return self.status == "inference_complete"

    @classmethod
    def from_json(cls, job_id: str, d: dict[str, Any]) -> JobStatus:
        status = d.get("status", "")
        progress = (
            str(d.get("progress") or ("100" if status == "inference_complete" else "0")).rstrip("%") or "0"
        )
        return cls(job_id, status, int(float(progress)), d.get("videoId"), d.get("error"))


@dataclass(frozen=True)
class Video:
    """A completed Miraflow video; ``download_url`` only from ``Client.video``."""

    id: str
    name: str
    source_avatar_id: str
    created_at: str
    download_url: str | None = None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Video:
        return cls(
            d["id"],
            d.get("name", ""),
            d.get("sourceAvatarId", ""),
            d.get("createdAt", ""),
            d.get("downloadUrl"),
        )


@dataclass(frozen=True)
class MirageVideo:
    """The Mirage Video object."""

    id: str
    status: str
    created_at: int
    completed_at: int | None = None
    progress: int | None = None
    error: dict[str, Any] | None = None
    model: str | None = None
    source_video_id: str | None = None
    caption_template_id: str | None = None
    share_link_url: str | None = None
    object: str = "video"

    @property
    def done(self) -> bool:
        return self.status in ("COMPLETE", "FAILED", "CANCELLED")

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETE"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MirageVideo:
        return cls(
            id=d.get("id") or d["video_id"],
            status=d["status"],
            created_at=int(d.get("created_at") or 0),
            completed_at=d.get("completed_at"),
            progress=d.get("progress"),
            error=d.get("error"),
            model=d.get("model"),
            source_video_id=d.get("source_video_id"),
            caption_template_id=d.get("caption_template_id"),
            share_link_url=d.get("share_link_url"),
            object=d.get("object", "video"),
        )


def _poll(
    fetch: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    timeout: float | None,
    interval: float,
    max_interval: float,
    on_progress: Callable[[Any], None] | None,
) -> Any:
    """Fetch until ``done``, sleeping ``interval`` growing by half each time up to ``max_interval``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    last = None
    while True:
        state = fetch()
        if on_progress is not None and state != last:
            on_progress(state)
        last = state
        if done(state):
            return state
        if deadline is not None and time.monotonic() + interval > deadline:
            raise TimeoutError(f"still not finished after {timeout:.0f} s: {state}")
        time.sleep(interval)
        interval = min(max_interval, interval * 1.5)


def _file(source: str | Path | BinaryIO) -> tuple[str, BinaryIO, bool]:
    if isinstance(source, str | Path):
        path = Path(source)
        return path.name, open(path, "rb"), True  # noqa: SIM115 - closed by the caller
    return getattr(source, "name", "upload"), source, False


# --- the client -----------------------------------------------------------------------------------
class Client:
    """A Facecast server, spoken to in the Miraflow dialect (methods here) or Mirage (``.mirage``)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("FACECAST_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("FACECAST_API_KEY")
        if not key:
            raise AuthenticationError("No API key: pass api_key= or set FACECAST_API_KEY", status_code=401)
        self.api_key = key
        self.max_retries = max_retries
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"x-api-key": key, "user-agent": "facecast-client"},
            timeout=timeout,
            transport=transport,
        )
        self.mirage = Mirage(self)
        self.streams = Streams(self)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call with retries: 429 always (the server did nothing), 502/503/504 and connection
        errors only for reads. Raises the typed ``APIError`` for error answers."""
        idempotent = method in ("GET", "HEAD", "DELETE")
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError:
                if not idempotent or attempt > self.max_retries:
                    raise
                time.sleep(min(8.0, 0.5 * 2**attempt))
                continue
            if attempt <= self.max_retries:
                if response.status_code == 429:
                    time.sleep(min(30.0, float(response.headers.get("retry-after", "1") or 1)))
                    continue
                if idempotent and response.status_code in (502, 503, 504):
                    time.sleep(min(8.0, 0.5 * 2**attempt))
                    continue
            _raise_for(response)
            return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def _upload(self, path: str, files: dict[str, str | Path | BinaryIO], data: dict[str, str]) -> Any:
        opened: list[BinaryIO] = []
        parts = {}
        try:
            for field, source in files.items():
                name, handle, owned = _file(source)
                if owned:
                    opened.append(handle)
                parts[field] = (name, handle)
            return self._json("POST", path, files=parts, data=data)
        finally:
            for handle in opened:
                handle.close()

    def _save(self, response_path: str, output: str | Path, *, anonymous: bool = False) -> Path:
        """Stream a GET into ``output`` (under a temporary name, renamed once complete; removed if
        the transfer fails). ``anonymous``: without the API key (signed URLs need none)."""
        output = Path(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_name(f".{output.name}.part")
        request = self._http.build_request("GET", response_path)
        if anonymous:
            del request.headers["x-api-key"]
        response = self._http.send(request, stream=True)
        try:
            if not response.is_success:
                response.read()
                _raise_for(response)
            with open(tmp, "wb") as f:
                for chunk in response.iter_bytes(1 << 16):
                    f.write(chunk)
            os.replace(tmp, output)
        finally:
            response.close()
            tmp.unlink(missing_ok=True)
        return output

    # --- Miraflow: avatars, voices, speeches ------------------------------------------------------------
    def avatars(self) -> list[Avatar]:
        return [Avatar.from_json(a) for a in self._json("GET", "/api/avatars")["avatars"]]

    def avatar(self, avatar_id: str) -> Avatar:
        return Avatar.from_json(self._json("GET", f"/api/avatar/{avatar_id}"))

    def create_avatar(
        self, image: str | Path | BinaryIO, *, name: str | None = None, voice_id: str | None = None
    ) -> Avatar:
        """A photo avatar from a portrait (prepared on the server, once)."""
        data = {k: v for k, v in (("name", name), ("voiceId", voice_id)) if v}
        return Avatar.from_json(self._upload("/api/avatar/create", {"image": image}, data)["avatar"])

    def create_video_avatar(
        self, video: str | Path | BinaryIO, *, name: str | None = None, voice_id: str | None = None
    ) -> Avatar:
        data = {k: v for k, v in (("name", name), ("voiceId", voice_id)) if v}
        return Avatar.from_json(self._upload("/api/avatar/create", {"video": video}, data)["avatar"])

    def delete_avatar(self, avatar_id: str) -> None:
        self.request("DELETE", f"/api/avatar/{avatar_id}")

    def voices(self) -> list[Voice]:
        return [Voice.from_json(v) for v in self._json("GET", "/api/voices")["voices"]]

    def create_voice(
        self, model: str | Path | BinaryIO, config: str | Path | BinaryIO, *, name: str | None = None
    ) -> Voice:
        """Add a Piper voice (``.onnx`` + ``.onnx.json``) to the account."""
        data = {"name": name} if name else {}
        return Voice.from_json(
            self._upload("/api/voice/create", {"model": model, "config": config}, data)["voice"]
        )

    def delete_voice(self, voice_id: str) -> None:
        self.request("DELETE", f"/api/voice/{voice_id}")

    def create_speech(self, voice_id: str, text: str) -> Speech:
        return Speech.from_json(
            self._json("POST", "/api/speech/create", json={"voiceId": voice_id, "text": text})["speech"]
        )

    def speeches(self) -> list[Speech]:
        return [Speech.from_json(s) for s in self._json("GET", "/api/speeches")["speeches"]]

    def speech(self, speech_id: str) -> Speech:
        return Speech.from_json(self._json("GET", f"/api/speech/{speech_id}"))

    def delete_speech(self, speech_id: str) -> None:
        self.request("DELETE", f"/api/speech/{speech_id}")

    # --- Miraflow: videos ---------------------------------------------------------------------------
    def create_video(
        self,
        avatar_id: str,
        *,
        text: str | None = None,
        voice_id: str | None = None,
        speech_id: str | None = None,
        name: str | None = None,
        full_background: bool = False,
    ) -> str:
        """Start a video job; returns the job id (the video id comes with completion)."""
        body: dict[str, Any] = {"avatarId": avatar_id, "im2vid_full": full_background}
        for key, value in (("name", name), ("text", text), ("voiceId", voice_id), ("speechId", speech_id)):
            if value is not None:
                body[key] = value
        return str(self._json("POST", "/api/video/create", json=body)["jobId"])

    def status(self, job_id: str) -> JobStatus:
        return JobStatus.from_json(job_id, self._json("GET", f"/api/video/{job_id}/status"))

    def cancel(self, job_id: str) -> JobStatus:
        return JobStatus.from_json(job_id, self._json("POST", f"/api/video/{job_id}/cancel"))

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        max_interval: float = 10.0,
        on_progress: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        """Poll until the job ends (backing off from ``poll_interval`` to ``max_interval``).
        Returns the complete status; raises ``VideoFailed`` if it failed, ``TimeoutError``."""
        final: JobStatus = _poll(
            lambda: self.status(job_id),
            lambda s: s.done,
            timeout=timeout,
            interval=poll_interval,
            max_interval=max_interval,
            on_progress=on_progress,
        )
        if not final.ok:
            raise VideoFailed(f"video job {job_id} {final.status}: {final.error or 'no reason given'}", final)
        return final

    def videos(self) -> list[Video]:
        return [Video.from_json(v) for v in self._json("GET", "/api/videos")["videos"]]

    def video(self, video_id: str) -> Video:
        return Video.from_json(self._json("GET", f"/api/video/{video_id}"))

    def download(self, video_id: str, output: str | Path) -> Path:
        """Save a finished video's MP4 (written under a temporary name, then renamed)."""
        return self._save(f"/api/video/{video_id}/download", output)

    def delete_video(self, video_id: str) -> None:
        self.request("DELETE", f"/api/video/{video_id}")


class Mirage:
    """The Mirage dialect: ``/v1/videos``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self, image: str | Path | BinaryIO, audio: str | Path | BinaryIO, *, model: str = MIRAGE_MODEL
    ) -> MirageVideo:
        body = self._client._upload(
            "/v1/videos", {"image_reference": image, "audio_reference": audio}, {"model": model}
        )
        return MirageVideo.from_json(body)

    def retrieve(self, video_id: str) -> MirageVideo:
        return MirageVideo.from_json(self._client._json("GET", f"/v1/videos/{video_id}"))

    def list(self, *, after: str | None = None, limit: int = 20, order: str = "desc") -> list[MirageVideo]:
        params: dict[str, Any] = {"limit": limit, "order": order}
        if after:
            params["after"] = after
        return [MirageVideo.from_json(v) for v in self._client._json("GET", "/v1/videos", params=params)]

    def iter_all(self, *, page_size: int = 100, order: str = "desc") -> Iterator[MirageVideo]:
        """Every video, following the ``after`` cursor page by page."""
        after = None
        while True:
            page = self.list(after=after, limit=page_size, order=order)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].id

    def cancel(self, video_id: str) -> MirageVideo:
        return MirageVideo.from_json(self._client._json("POST", f"/v1/videos/{video_id}/cancel"))

    def delete(self, video_id: str) -> None:
        self._client.request("DELETE", f"/v1/videos/{video_id}")

    def content_url(self, video_id: str) -> str:
        """Where ``/content`` redirects: a signed URL that needs no key until it expires."""
        response = self._client.request("GET", f"/v1/videos/{video_id}/content", follow_redirects=False)
        return str(response.headers["location"])

    def content(self, video_id: str, output: str | Path) -> Path:
        """Save a finished video: ``/content`` redirects to a signed URL, fetched without the key
        (the URL may be on another host, e.g. behind ``FACECAST_PUBLIC_URL``; the key stays here)."""
        return self._client._save(self.content_url(video_id), output, anonymous=True)

    def wait(
        self,
        video_id: str,
        *,
        timeout: float | None = None,
        poll_interval: float = 1.0,
        max_interval: float = 10.0,
        on_progress: Callable[[MirageVideo], None] | None = None,
    ) -> MirageVideo:
        final: MirageVideo = _poll(
            lambda: self.retrieve(video_id),
            lambda v: v.done,
            timeout=timeout,
            interval=poll_interval,
            max_interval=max_interval,
            on_progress=on_progress,
        )
        if not final.ok:
            reason = (final.error or {}).get("message", "no reason given")
            raise VideoFailed(f"video {video_id} {final.status}: {reason}", final)
        return final
