"""Live streams' figures, measured at a receiver over loopback (an aiortc peer in this process):

* latency from ``POST speak`` to the first audible sample and to the first frame whose mouth moves
  (p50 / p95 over a number of sentences, Piper voice);
* lip-audio offset: the lag that best lines up the received mouth movement with the received
  loudness (positive: the picture is late);
* interrupt latency: from ``POST interrupt`` to the last audible sample, and to the mouth at rest;
* sustained real time: one stream speaking for ``--sustain`` seconds, frames per second per 10 s
  window and the drift of arrival time against the frames' own timestamps;
* concurrency: N streams at once, all speaking: the frame rate each receives.

Starts a real ``facecast serve`` (fresh data folder). Run: ``.venv/bin/python bench/live.py``
(``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.service.harness import Server  # noqa: E402

from facecast.engine import AvatarPack  # noqa: E402
from facecast.live.receiver import LiveReceiver, audio_mono  # noqa: E402

SENTENCES = [
    "Hello, how can I help you today?",
    "Your order shipped this morning.",
    "The meeting starts at three.",
    "Please hold on for a moment.",
    "That is a great question.",
    "Let me check that for you.",
    "Thank you for waiting.",
    "It will be sunny tomorrow.",
]
LONG = (
    "Live avatars speak as the text arrives. Each sentence is spoken by the voice, planned into "
    "mouth shapes, and played against the audio clock. The face keeps blinking and breathing. "
)
AUDIBLE = 0.01  # RMS of a 20 ms packet


@dataclass
class Trace:
    """What one receiver saw: per video frame (arrival, pts s, mouth change); per audio packet (arrival, rms)."""

    box: tuple[slice, slice]
    reference: np.ndarray | None = None
    video: list[tuple[float, float, float]] = field(default_factory=list)
    audio: list[tuple[float, float]] = field(default_factory=list)

    def on_video(self, frame: Any, t: float) -> None:
        rgb = frame.to_ndarray(format="rgb24")
        crop = rgb[self.box].astype(np.float32)
        if self.reference is None:
            self.reference = crop
        self.video.append(
            (t, float(frame.pts * frame.time_base), float(np.abs(crop - self.reference).mean()))
        )

    def on_audio(self, frame: Any, t: float) -> None:
        a = audio_mono(frame)
        self.audio.append((t, float(np.sqrt(np.mean(a * a)))))

    def video_between(self, a: float, b: float) -> np.ndarray:
        return np.array([v for v in self.video if a <= v[0] < b]).reshape(-1, 3)

    def audio_between(self, a: float, b: float) -> np.ndarray:
        return np.array([x for x in self.audio if a <= x[0] < b]).reshape(-1, 2)


def mouth_box(data_dir: Path) -> tuple[slice, slice]:
    pack = AvatarPack.load(data_dir / "media" / "avatars" / "astronaut" / "face.npz")
    lips = np.asarray(pack.landmarks)[[61, 291, 0, 17], :2]
    (x0, y0), (x1, y1) = lips.min(axis=0), lips.max(axis=0)
    pad = 0.25 * (x1 - x0)
    return slice(int(y0 - pad), int(y1 + pad)), slice(int(x0 - pad), int(x1 + pad))


async def open_stream(http: httpx.AsyncClient, box: tuple[slice, slice]) -> tuple[str, LiveReceiver, Trace]:
    r = await http.post("/v1/streams", json={"avatar_id": "astronaut"})
    r.raise_for_status()
    created = r.json()
    trace = Trace(box)
    rx = LiveReceiver(keep_video=False, on_video=trace.on_video, on_audio=trace.on_audio)
    answer = await rx.accept(created["offer"]["sdp"])
    (
        await http.post(f"/v1/streams/{created['id']}/answer", json={"type": "answer", "sdp": answer})
    ).raise_for_status()
    await asyncio.wait_for(rx.connected.wait(), 30)
    return created["id"], rx, trace


async def wait_idle(http: httpx.AsyncClient, sid: str) -> None:
    while (await http.get(f"/v1/streams/{sid}")).json()["state"] != "idle":
        await asyncio.sleep(0.05)


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds (user + system) used so far by process ``root`` and all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    total = 0.0
    for pid, seconds in used.items():
        p = pid
        while p and p != root:
            p = parents.get(p, 0)
        if p == root:
            total += seconds
    return total


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def first_run(mask: np.ndarray, length: int) -> int:
    """Index of the first of ``length`` consecutive True values (head motion or a blink can pass
    a threshold for a frame; a moving or resting mouth stays there)."""
    run = 0
    for i, value in enumerate(mask):
        run = run + 1 if value else 0
        if run == length:
            return i - length + 1
    return len(mask) - 1  # not found in the window: its end


def offset_ms(trace: Trace, start: float, end: float) -> float:
    """The lag (ms) of the mouth signal behind the loudness that correlates best, on a 5 ms grid."""
    v = trace.video_between(start, end)
    a = trace.audio_between(start, end)
    grid = np.arange(start, end, 0.005)
    mouth = np.interp(grid, v[:, 0], v[:, 2])
    loud = np.interp(grid, a[:, 0], a[:, 1])
    mouth = (mouth - mouth.mean()) / (mouth.std() + 1e-9)
    loud = (loud - loud.mean()) / (loud.std() + 1e-9)
    lags = range(-60, 61)  # +-300 ms
    scores = [
        float(np.mean(mouth[max(0, k) : len(grid) + min(0, k)] * loud[max(0, -k) : len(grid) - max(0, k)]))
        for k in lags
    ]
    return 5.0 * list(lags)[int(np.argmax(scores))]


async def latency(http: httpx.AsyncClient, box: tuple[slice, slice], runs: int) -> dict[str, Any]:
    sid, rx, trace = await open_stream(http, box)
    await asyncio.sleep(3.0)
    idle = trace.video_between(time.monotonic() - 2.5, time.monotonic())[:, 2]
    resting = float(np.percentile(idle, 99))
    to_audio, to_mouth, offsets, synthesized, scheduled = [], [], [], [], []
    for i in range(runs):
        asked = time.monotonic()
        (
            await http.post(f"/v1/streams/{sid}/speak", json={"text": SENTENCES[i % len(SENTENCES)]})
        ).raise_for_status()
        await wait_idle(http, sid)
        await asyncio.sleep(0.6)
        ended = time.monotonic()
        a = trace.audio_between(asked, ended)
        v = trace.video_between(asked, ended)
        to_audio.append(1000 * (a[a[:, 1] > AUDIBLE][0, 0] - asked))
        # Moving: past half way from the idle level to this sentence's widest opening.
        moving = resting + 0.5 * (float(np.percentile(v[:, 2], 95)) - resting)
        to_mouth.append(1000 * (v[first_run(v[:, 2] > moving, 2)][0] - asked))
        offsets.append(offset_ms(trace, asked, ended))
        timings = (await http.get(f"/v1/streams/{sid}")).json()["queue"][-1]["timings_ms"]
        synthesized.append(timings["synthesized"])
        scheduled.append(timings["sounds"])
    # Interrupt: a long text, stopped after a second of speech.
    stops, rests = [], []
    for _ in range(max(3, runs // 4)):
        (await http.post(f"/v1/streams/{sid}/speak", json={"text": LONG})).raise_for_status()
        while (await http.get(f"/v1/streams/{sid}")).json()["state"] != "speaking":
            await asyncio.sleep(0.02)
        await asyncio.sleep(1.5)
        asked = time.monotonic()
        (await http.post(f"/v1/streams/{sid}/interrupt")).raise_for_status()
        await asyncio.sleep(1.5)
        a = trace.audio_between(asked, asked + 1.5)
        v = trace.video_between(asked, asked + 1.5)
        loud = a[a[:, 1] > AUDIBLE]
        stops.append(1000 * (loud[-1, 0] - asked) if len(loud) else 0.0)
        rests.append(1000 * (v[first_run(v[:, 2] <= resting + 1.0, 5)][0] - asked))
    await http.delete(f"/v1/streams/{sid}")
    await rx.close()
    return {
        "audio": to_audio,
        "mouth": to_mouth,
        "offset": offsets,
        "stop": stops,
        "rest": rests,
        "synthesized": synthesized,
        "scheduled": scheduled,
    }


async def sustain(
    http: httpx.AsyncClient, box: tuple[slice, slice], seconds: float, streams: int, server_pid: int
) -> list[dict[str, float]]:
    opened = [await open_stream(http, box) for _ in range(streams)]
    await asyncio.sleep(1.0)
    start = time.monotonic()
    cpu_start = tree_cpu_seconds(server_pid)
    end = start + seconds
    while time.monotonic() < end:
        for sid, _, _ in opened:
            state = (await http.get(f"/v1/streams/{sid}")).json()
            if len([u for u in state["queue"] if u["state"] in ("queued", "speaking")]) < 2:
                (await http.post(f"/v1/streams/{sid}/speak", json={"text": LONG})).raise_for_status()
        await asyncio.sleep(1.0)
    cores = (tree_cpu_seconds(server_pid) - cpu_start) / (time.monotonic() - start)
    out = []
    for sid, rx, trace in opened:
        v = trace.video_between(start, end)
        windows = [len(trace.video_between(t, t + 10.0)) / 10.0 for t in np.arange(start, end - 9.99, 10.0)]
        delay = v[:, 0] - v[:, 1]  # arrival minus the frame's own timestamp: flat when on time
        first, last = delay[: len(delay) // 10], delay[-len(delay) // 10 :]
        audible = trace.audio_between(start, end)
        out.append(
            {
                "fps": len(v) / seconds,
                "min_window_fps": min(windows) if windows else float("nan"),
                "drift_ms": 1000 * float(np.median(last) - np.median(first)),
                "audible_share": float((audible[:, 1] > AUDIBLE).mean()),
                "server_cores": cores,
            }
        )
        await http.delete(f"/v1/streams/{sid}")
        await rx.close()
    return out


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        server = Server(
            Path(folder) / "data",
            FACECAST_START_WORKER="false",
            FACECAST_LIVE_MAX_STREAMS="8",
            FACECAST_LIVE_MAX_STREAMS_PER_ACCOUNT="8",
            FACECAST_RATE_LIMIT_PER_MINUTE="0",
            FACECAST_CREATE_RATE_LIMIT_PER_MINUTE="0",
        ).start()
        try:
            box = mouth_box(server.data_dir)
            headers = {"x-api-key": server.default_key or ""}
            async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=120) as http:
                lat = await latency(http, box, args.runs) if args.runs else None
                if lat is not None:
                    print(
                        f"## Latency over {args.runs} sentences (Piper joe), interrupts over {len(lat['stop'])}\n"
                    )
                    print("| figure | p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|")
                    for name, key in (
                        ("server: speak -> first sentence spoken and planned", "synthesized"),
                        ("server: speak -> its first audible sample due to play", "scheduled"),
                        ("speak -> first audible sample", "audio"),
                        ("speak -> first frame with the mouth moving", "mouth"),
                        ("lip-audio offset (picture behind sound)", "offset"),
                        ("interrupt -> last audible sample", "stop"),
                        ("interrupt -> mouth at rest", "rest"),
                    ):
                        values = lat[key]
                        print(
                            f"| {name} | {pct(values, 50):.0f} | {pct(values, 95):.0f} | {max(values):.0f} |"
                        )
                for n in [1, *args.concurrent]:
                    seconds = args.sustain if n == 1 else args.concurrent_seconds
                    assert server.proc is not None
                    rows = await sustain(http, box, seconds, n, server.proc.pid)
                    print(f"\n## {n} stream(s) speaking for {seconds:.0f} s\n")
                    print(f"server CPU (all its processes): {rows[0]['server_cores']:.2f} cores\n")
                    print(
                        "| stream | fps | worst 10 s fps | delay drift ms | audible share |\n|---|---:|---:|---:|---:|"
                    )
                    for i, row in enumerate(rows):
                        print(
                            f"| {i + 1} | {row['fps']:.2f} | {row['min_window_fps']:.1f} | "
                            f"{row['drift_ms']:.0f} | {row['audible_share']:.2f} |"
                        )
        finally:
            server.stop()
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
    print(f"\nload average at the end: {' '.join(load)}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Live stream figures")
    parser.add_argument("--runs", type=int, default=20, help="sentences for the latency figures")
    parser.add_argument("--sustain", type=float, default=120.0, help="seconds of the one-stream run")
    parser.add_argument("--concurrent", type=int, nargs="*", default=[2, 3], help="stream counts to try")
    parser.add_argument("--concurrent-seconds", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="5 sentences, 20 s runs")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.sustain, args.concurrent_seconds = 5, 20.0, 20.0
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
