"""Live streams end to end: a real ``facecast serve`` and an aiortc peer of the test's own over
loopback, receiving the stream's video and audio while the test speaks, interrupts and closes."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from facecast.engine import AvatarPack
from facecast.live.receiver import LiveReceiver
from tests.service.harness import ROOT, Server, speech_wav

#: Settings small enough for the tests to reach: one stream per account, two per machine.
LIVE = {
    "FACECAST_START_WORKER": "false",  # live streams need no job worker (and the stock clip stays unready)
    "FACECAST_LIVE_WORKERS": "1",
    "FACECAST_LIVE_MAX_STREAMS": "2",
    "FACECAST_LIVE_MAX_STREAMS_PER_ACCOUNT": "1",
    "FACECAST_LIVE_CONNECT_TIMEOUT": "6",
    "FACECAST_LIVE_IDLE_TIMEOUT": "15",
    "FACECAST_MAX_TEXT_CHARS": "400",
}
#: Received audio quieter than this (RMS, full scale) is silence.
SILENT = 1e-3
SENTENCE = "Hello there! I am speaking to you live, over a real peer connection."
LONG = " ".join(["This is a long answer that keeps going so that it can be interrupted."] * 5)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("live") / "data", **LIVE).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def live_key(live: Server) -> str:
    assert live.default_key
    return live.default_key


def mouth_box(data_dir: Path) -> tuple[slice, slice]:
    """The stock portrait's mouth (rows, columns) in its 512² frames, from its prepared pack."""
    pack = AvatarPack.load(data_dir / "media" / "avatars" / "astronaut" / "face.npz")
    lips = np.asarray(pack.landmarks)[[61, 291, 0, 17], :2]  # corners, top of upper, bottom of lower lip
    (x0, y0), (x1, y1) = lips.min(axis=0), lips.max(axis=0)
    pad = 0.25 * (x1 - x0)
    return slice(int(y0 - pad), int(y1 + pad)), slice(int(x0 - pad), int(x1 + pad))


def window(times: list[float], items: list[Any], start: float, end: float) -> list[Any]:
    return [x for t, x in zip(times, items, strict=False) if start <= t < end]


def rms(chunks: list[np.ndarray]) -> float:
    if not chunks:
        return 0.0
    a = np.concatenate(chunks)
    return float(np.sqrt(np.mean(a * a)))


def mouth_motion(frames: list[np.ndarray], box: tuple[slice, slice]) -> float:
    """Mean change of the mouth region between consecutive frames (0-255)."""
    crops = [f[box].astype(np.float32) for f in frames]
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(crops, crops[1:], strict=False)]))


async def wait_state(http: httpx.AsyncClient, stream_id: str, states: set[str], timeout: float = 30) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        body = (await http.get(f"/v1/streams/{stream_id}")).json()
        if body["state"] in states:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"stream {stream_id} never reached {states}: {body}")


async def wait_utterance(http: httpx.AsyncClient, stream_id: str, utterance_id: str, state: str) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        queue = (await http.get(f"/v1/streams/{stream_id}")).json()["queue"]
        if any(u["id"] == utterance_id and u["state"] == state for u in queue):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"utterance {utterance_id} never became {state}: {queue}")


async def connect(http: httpx.AsyncClient, **create: Any) -> tuple[dict, LiveReceiver]:
    r = await http.post("/v1/streams", json={"avatar_id": "astronaut", **create})
    assert r.status_code == 201, r.text
    created = r.json()
    receiver = LiveReceiver()
    answer = await receiver.accept(created["offer"]["sdp"])
    r = await http.post(f"/v1/streams/{created['id']}/answer", json={"type": "answer", "sdp": answer})
    assert r.status_code == 200, r.text
    await asyncio.wait_for(receiver.connected.wait(), 30)
    return created, receiver


def test_connect_idle_speak_interrupt_close(live: Server, live_key: str) -> None:
    box = mouth_box(live.data_dir)

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=live.url, headers={"x-api-key": live_key}, timeout=60) as http:
            created, rx = await connect(http)
            sid = created["id"]
            sdp = created["offer"]["sdp"]
            assert "m=video" in sdp and "m=audio" in sdp and "VP8/90000" in sdp and "opus/48000" in sdp
            assert created["state"] == "connecting" and created["ice_servers"] == []
            got = rx.received

            # Idle: the face is alive (frames at 25 fps, blinks and breath move it) but silent and
            # the mouth rests.
            await asyncio.sleep(2.5)
            idle_from, idle_to = time.monotonic() - 2.0, time.monotonic()
            assert (await http.get(f"/v1/streams/{sid}")).json()["state"] == "idle"
            idle_frames = window(got.video_times, got.video, idle_from, idle_to)
            assert len(idle_frames) >= 40, len(idle_frames)  # 50 expected in 2 s
            assert rms(window(got.audio_times, got.audio, idle_from, idle_to)) < SILENT
            idle_motion = mouth_motion(idle_frames, box)

            # Speak: answered at once; the audio turns non-silent and the mouth moves.
            asked = time.monotonic()
            r = await http.post(f"/v1/streams/{sid}/speak", json={"text": SENTENCE})
            assert r.status_code == 202, r.text
            assert time.monotonic() - asked < 2.0
            utt = r.json()
            assert utt["id"].startswith("utt_") and utt["state"] in ("queued", "speaking")
            await wait_state(http, sid, {"speaking"})
            done = await wait_state(http, sid, {"idle"}, timeout=40)
            assert [u["state"] for u in done["queue"]] == ["done"]
            spoken = done["queue"][0]["duration"]
            assert 2.0 < spoken < 10.0, spoken
            await asyncio.sleep(0.3)
            loud_at = [
                t for t, a in zip(got.audio_times, got.audio, strict=False) if t > asked and rms([a]) > 0.01
            ]
            assert loud_at, "no sound arrived after speak"
            first, last = loud_at[0], loud_at[-1]
            assert first - asked < 3.0
            assert last - first > 0.5 * spoken
            speaking_frames = window(got.video_times, got.video, first, last)
            speak_motion = mouth_motion(speaking_frames, box)
            assert speak_motion > 2.0 * idle_motion, (speak_motion, idle_motion)
            # The rest of the face hardly changes more while speaking than at idle (only the mouth
            # speaks): the forehead band well above the mouth.
            forehead = (slice(box[0].start - 200, box[0].start - 150), box[1])
            assert mouth_motion(speaking_frames, forehead) < 2.0 * mouth_motion(idle_frames, forehead) + 1.0

            # Frame pacing: about 25 frames a second arrive while speaking too (a loaded machine may drop a few).
            assert len(speaking_frames) >= 0.8 * 25 * (last - first)

            # Interrupt a long utterance: the sound stops within 200 ms (plus one audio packet).
            r = await http.post(f"/v1/streams/{sid}/speak", json={"text": LONG})
            assert r.status_code == 202
            await wait_utterance(http, sid, r.json()["id"], "speaking")  # its sound is playing
            await asyncio.sleep(1.0)
            before = time.monotonic()
            r = await http.post(f"/v1/streams/{sid}/interrupt")
            assert r.status_code == 200, r.text
            stopped = time.monotonic()
            assert r.json()["interrupted"] == [r.json()["queue"][-1]["id"]]
            assert rms(window(got.audio_times, got.audio, before - 0.8, before)) > 0.01
            await asyncio.sleep(1.0)
            after = window(got.audio_times, got.audio, stopped + 0.22, stopped + 1.0)
            assert after and rms(after) < SILENT, rms(after)
            state = (await http.get(f"/v1/streams/{sid}")).json()
            assert state["state"] == "idle" and state["queue"][-1]["state"] == "interrupted"
            # The mouth is back at rest: the last frames look like the idle ones there.
            rest = window(got.video_times, got.video, stopped + 0.5, stopped + 1.0)
            assert np.abs(rest[-1][box].astype(float) - idle_frames[0][box]).mean() < 12.0

            # Close: the stream ends, speaking is refused, its slot is free for a new stream.
            r = await http.delete(f"/v1/streams/{sid}")
            assert r.status_code == 200 and r.json()["state"] == "closed"
            r = await http.post(f"/v1/streams/{sid}/speak", json={"text": "Anyone there?"})
            assert r.status_code == 409, r.text
            assert (await http.get(f"/v1/streams/{sid}")).json()["state"] == "closed"
            assert (await http.get("/v1/streams")).json()["data"] == []
            await rx.close()
            again = await http.post("/v1/streams", json={"avatar_id": "astronaut"})
            assert again.status_code == 201, again.text
            await http.delete(f"/v1/streams/{again.json()['id']}")

    asyncio.run(scenario())


def test_bad_input_is_refused_and_leaves_nothing_running(live: Server, live_key: str) -> None:
    other = live.key("live-other")
    third = live.key("live-third")
    fourth = live.key("live-fourth")
    with live.client(live_key) as http, live.client(other) as http2:
        r = http.post("/v1/streams", json={"avatar_id": "nobody"})
        assert r.status_code == 404 and "nobody" in r.json()["detail"], r.text
        r = http.post("/v1/streams", json={"avatar_id": "astronaut-video"})
        assert r.status_code == 409 and "being prepared" in r.json()["detail"], r.text
        r = http.post("/v1/streams", json={"avatar_id": "astronaut", "voice_id": "no-such-voice"})
        assert r.status_code == 404, r.text
        r = http.post("/v1/streams", json={})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "avatar_id"]
        assert http.get("/v1/streams").json()["data"] == []

        created = http.post("/v1/streams", json={"avatar_id": "astronaut"})
        assert created.status_code == 201, created.text
        sid = created.json()["id"]
        # Another account does not see it.
        assert http2.get(f"/v1/streams/{sid}").status_code == 404
        assert http2.post(f"/v1/streams/{sid}/speak", json={"text": "hi"}).status_code == 404
        assert http2.delete(f"/v1/streams/{sid}").status_code == 404
        # A malformed answer names the field; the stream is still usable.
        r = http.post(f"/v1/streams/{sid}/answer", json={"type": "answer", "sdp": "v=0\r\nnonsense"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "sdp"], r.text
        r = http.post(f"/v1/streams/{sid}/answer", json={"type": "offer", "sdp": "v=0"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "type"], r.text
        r = http.post(f"/v1/streams/{sid}/ice", json={"candidate": "candidate:garbage"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "candidate"], r.text
        r = http.post(f"/v1/streams/{sid}/speak", json={"text": "   "})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "text"], r.text
        r = http.post(f"/v1/streams/{sid}/speak", json={"text": "x" * 401})
        assert r.status_code == 422 and "limit" in r.json()["detail"][0]["msg"], r.text
        # One stream per account here: a second is a 429; the machine's two: then a 503.
        r = http.post("/v1/streams", json={"avatar_id": "astronaut"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_streams", r.text
        assert r.headers.get("retry-after")
        second = http2.post("/v1/streams", json={"avatar_id": "astronaut"})
        assert second.status_code == 201, second.text
        with live.client(third) as http3:
            r = http3.post("/v1/streams", json={"avatar_id": "astronaut"})
            assert r.status_code == 503 and "live streams" in r.json()["detail"], r.text
        assert http2.delete(f"/v1/streams/{second.json()['id']}").status_code == 200

        # Never answered: closed after the connect timeout, and the slot is free again.
        deadline = time.monotonic() + 20
        while http.get(f"/v1/streams/{sid}").json()["state"] != "closed":
            assert time.monotonic() < deadline, "an unanswered stream was never closed"
            time.sleep(0.25)
        assert "did not connect" in http.get(f"/v1/streams/{sid}").json()["close_reason"]
        assert http.get("/v1/streams").json()["data"] == []
        with live.client(fourth) as http4:
            r = http4.post("/v1/streams", json={"avatar_id": "astronaut"})
            assert r.status_code == 201, r.text
            assert http4.delete(f"/v1/streams/{r.json()['id']}").status_code == 200


@pytest.mark.slow
def test_example_script_records_the_stream_to_mp4(live: Server, tmp_path: Path) -> None:
    """examples/live_to_mp4.py (the Python client + aiortc) writes what it received to an MP4 that
    has moving pictures and speech."""
    key = live.key("live-example")
    output = tmp_path / "live.mp4"
    env = {**live.env, "FACECAST_URL": live.url, "FACECAST_API_KEY": key}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "live_to_mp4.py"), "-o", str(output), SENTENCE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(output)
    probe = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name,width,height",
            "-of",
            "json",
            str(output),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(probe.stdout)
    codecs = sorted(s["codec_name"] for s in info["streams"])
    assert codecs == ["aac", "h264"], info
    assert float(info["format"]["duration"]) > 3.0, info
    video = next(s for s in info["streams"] if s["codec_name"] == "h264")
    assert (video["width"], video["height"]) == (512, 512)
    # The speech is in the recording: loud for seconds, not a silent track.
    from facecast.engine import load_audio

    audio = load_audio(output)
    loud = np.abs(audio.samples) > 0.05
    assert loud.sum() / audio.sample_rate > 0.3, loud.sum() / audio.sample_rate
    # The stream was closed by the script: nothing left running for that account.
    with live.client(key) as http:
        assert http.get("/v1/streams").json()["data"] == []


def test_client_streams_speaks_and_reports_errors(live: Server) -> None:
    from facecast import Client
    from facecast.client import BadRequestError, ConflictError, NotFoundError

    with Client(live.url, live.key("live-client"), max_retries=0) as client:
        with pytest.raises(NotFoundError):
            client.streams.create("nobody")
        stream = client.streams.create("astronaut")
        assert stream.state == "connecting" and stream.offer and stream.offer["type"] == "offer"
        assert [s.id for s in client.streams.list()] == [stream.id]
        utterance = client.streams.speak(stream.id, "Queued before anyone listens.")
        assert utterance.state == "queued"
        clip = client.streams.speak_audio(stream.id, io.BytesIO(speech_wav(2.0)))
        assert clip.state == "queued" and clip.text is None
        with pytest.raises(BadRequestError) as refused:
            client.streams.speak_audio(stream.id, io.BytesIO(b"not audio at all"))
        assert "audio" in str(refused.value).lower()
        queue = client.streams.retrieve(stream.id).queue
        assert [u.id for u in queue] == [utterance.id, clip.id]
        closed = client.streams.close(stream.id)
        assert closed.state == "closed"
        with pytest.raises(ConflictError):
            client.streams.speak(stream.id, "Too late.")
        assert client.streams.list() == []


@pytest.mark.slow
def test_an_idle_stream_times_out_and_its_peer_sees_the_end(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", **{**LIVE, "FACECAST_LIVE_IDLE_TIMEOUT": "3"}).start()
    try:

        async def scenario() -> None:
            headers = {"x-api-key": srv.default_key or ""}
            async with httpx.AsyncClient(base_url=srv.url, headers=headers, timeout=60) as http:
                created, rx = await connect(http)
                state = await wait_state(http, created["id"], {"closed"}, timeout=20)
                assert state["close_reason"] == "idle timeout"
                count = len(rx.received.video)
                await asyncio.sleep(1.0)
                assert len(rx.received.video) <= count + 1  # no more frames come
                assert (await http.get("/v1/streams")).json()["data"] == []
                await rx.close()

        asyncio.run(scenario())
    finally:
        srv.stop()
