"""A real Facecast server for the tests: ``facecast serve`` in a subprocess on a free loopback port,
with its own data folder and its real worker; plus test media (a portrait, speech-like audio)."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
#: The PostgreSQL the back-end tests use (trust auth, database ``test``); skipped when unreachable.
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
SAMPLE_RATE = 16000

#: Settings that make the job machinery quick to observe.
FAST_JOBS = {
    "FACECAST_HEARTBEAT_INTERVAL": "0.5",
    "FACECAST_HEARTBEAT_TIMEOUT": "6",
    "FACECAST_REAPER_INTERVAL": "0.5",
    "FACECAST_MAX_ATTEMPTS": "3",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def facecast_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACECAST_")}
    env.update(FAST_JOBS)
    env["FACECAST_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "facecast", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def create_key(env: dict[str, str], account: str) -> str:
    done = run_cli(env, "keys", "create", "--account", account)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


class Server:
    """``facecast serve`` with its own data folder."""

    def __init__(
        self, data_dir: Path, *, no_worker: bool = False, serve_args: tuple[str, ...] = (), **settings: str
    ) -> None:
        self.data_dir = data_dir
        self.serve_args = serve_args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = facecast_env(data_dir, **settings)
        self.no_worker = no_worker
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-server-{self.port}.log"
        self.default_key: str | None = None

    # --- life cycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        args = [sys.executable, "-m", "facecast", "serve", "--port", str(self.port)]
        if self.no_worker:
            args.append("--no-worker")
        args.extend(self.serve_args)
        self.proc = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if "Facecast is listening on" in text:
                match = re.search(r"API key \(shown only now\):\n(\S+)", text)
                if match and self.default_key is None:
                    self.default_key = match.group(1)
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{text[-4000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"server did not start:\n{self.log()[-4000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the server and its worker: no clean-up happens."""
        pid = self.worker_pid()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def worker_pid(self) -> int | None:
        try:
            return int((self.data_dir / "worker.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    # --- calls --------------------------------------------------------------------------------------
    def client(self, key: str | None = None, *, bearer: bool = False) -> httpx.Client:
        headers = {}
        if key:
            headers = {"Authorization": f"Bearer {key}"} if bearer else {"x-api-key": key}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def key(self, account: str) -> str:
        return create_key(self.env, account)


# --- waiting ------------------------------------------------------------------------------------------
def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 120, interval: float = 0.25, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate}: last {last!r}")


def wait_miraflow(http: httpx.Client, job_id: str, timeout: float = 180) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/api/video/{job_id}/status").json()
        return (
            body if body["status"] in ("inference_complete", "inference_failed", "inference_error") else None
        )

    result: dict[str, Any] = wait_for(done, timeout=timeout, what=f"job {job_id}")
    return result


def wait_mirage(http: httpx.Client, video_id: str, timeout: float = 180) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = http.get(f"/v1/videos/{video_id}").json()
        return body if body["status"] != "PROCESSING" else None

    result: dict[str, Any] = wait_for(done, timeout=timeout, what=f"video {video_id}")
    return result


def mirage_video(api: httpx.Client, image: bytes, audio: bytes) -> str:
    """Start a Mirage video; its id."""
    files = {"image_reference": ("p.png", image), "audio_reference": ("a.wav", audio)}
    response = api.post("/v1/videos", files=files)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def rendering(api: httpx.Client, video_id: str, at_least: int = 5) -> bool:
    """The video is being rendered and has made some progress."""
    body = api.get(f"/v1/videos/{video_id}").json()
    return body["status"] == "PROCESSING" and (body["progress"] or 0) >= at_least


def attempts(data_dir: Path, video_id: str) -> int:
    """How many times a worker claimed the job (read from the server's SQLite database)."""
    import sqlite3

    with sqlite3.connect(data_dir / "facecast.db") as db:
        return int(db.execute("select attempts from jobs where video_id = ?", (video_id,)).fetchone()[0])


# --- media ------------------------------------------------------------------------------------------
def portrait_png() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="PNG")
    return buf.getvalue()


def portrait_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def blank_png(size: int = 256) -> bytes:
    """A picture with no face in it."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (size, size), (120, 140, 160)).save(buf, format="PNG")
    return buf.getvalue()


def speech_wav(seconds: float = 1.5, seed: int = 0) -> bytes:
    """Speech-like audio: a voiced harmonic tone in syllable-rate bursts, 16 kHz mono WAV."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * np.cumsum(140 + 20 * np.sin(2 * np.pi * 0.5 * t)) / SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t), 0, None) ** 0.7
    signal_ = 0.25 * voiced * envelope + 0.01 * rng.standard_normal(len(t))
    buf = io.BytesIO()
    sf.write(buf, signal_.astype(np.float32), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def mp4_info(data: bytes) -> dict[str, Any]:
    """Streams and duration of an MP4 (PyAV)."""
    import av

    with av.open(io.BytesIO(data)) as container:
        streams = {s.type: s.codec_context.name for s in container.streams}
        video = container.streams.video[0]
        return {
            "streams": streams,
            "duration": float(container.duration or 0) / 1e6,
            "width": video.codec_context.width,
            "height": video.codec_context.height,
        }


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """RGB frames as an H.264 MP4 (PyAV)."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def speaking_clip(path: Path, seconds: float = 3.0, side: int = 320) -> bytes:
    """A clip of the astronaut speaking (lips, blinks, head motion), made with the engine's photo
    animator from ``speech_wav``: the tests' own input for video avatars. Returns the MP4's bytes."""
    from skimage import data

    from facecast.engine import RenderOptions, load_audio, prepare_avatar, render

    wav = path.with_suffix(".wav")
    wav.write_bytes(speech_wav(seconds, seed=2))
    render(prepare_avatar(data.astronaut(), size=side), load_audio(wav), path, options=RenderOptions(seed=3))
    return path.read_bytes()


def faceless_clip(path: Path, seconds: float = 2.0, size: tuple[int, int] = (160, 120)) -> bytes:
    """A moving colour gradient: a readable clip with no face in it."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    frames = [
        np.stack([(x + 4 * k) % 256, (y + 2 * k) % 256, np.full_like(x, 128)], axis=-1).astype(np.uint8)
        for k in range(int(seconds * 25))
    ]
    return write_clip(path, frames).read_bytes()
