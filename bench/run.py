"""The render benchmark: speed, memory and quality of photo-avatar renders on this machine.

Run with `make bench` (or `.venv/bin/python bench/run.py`). Each render is a separate
`facecast render` process timed from launch to exit, so start-up is included; peak memory is the
largest summed RSS of that process and its encoder child, sampled every 20 ms. Prints a Markdown
table (paste it into the README) and writes it to bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inputs import astronaut_png, speech_wav  # noqa: E402

FACECAST = str(Path(sys.executable).with_name("facecast"))


@dataclass
class Run:
    label: str
    seconds: float
    frames: int
    wall: float
    peak_mb: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall


def _tree_rss_mb(pid: int) -> float:
    """Summed resident memory of a process and its descendants, in MiB (Linux /proc)."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{current}/task/{current}/children") as children:
                pids.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total / 1024.0


def timed_render(label: str, args: list[str], seconds: float, fps: float = 25.0) -> Run:
    started = time.perf_counter()
    process = subprocess.Popen([FACECAST, "render", "--quiet", *args], stderr=subprocess.PIPE)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_mb(process.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{label}: facecast render failed: {stderr.decode(errors='replace')}")
    return Run(label, seconds, int(round(seconds * fps)), wall, peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 5-minute memory run")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "latest.md")
    args = parser.parse_args()

    from encoder_floor import encoder_floor

    work = Path(tempfile.mkdtemp(prefix="facecast-bench-"))
    env_cache = work / "cache"
    os.environ["FACECAST_CACHE_DIR"] = str(env_cache)
    portrait = astronaut_png(work / "astronaut.png")
    wide = astronaut_png(work / "astronaut-1080p.png", size=(1920, 1080))
    speech10 = speech_wav(work / "speech10.wav", 10.0)
    speech30 = speech_wav(work / "speech30.wav", 30.0)

    runs: list[tuple[Run, float | None]] = []
    # A cold run prepares the avatar pack (face mesh + segmentation) and fills the cache.
    cold = timed_render("face-cropped 512², 10 s, cold (prepares the avatar)",
                        ["--image", str(portrait), "--audio", str(speech10), "-o", str(work / "c10.mp4")], 10.0)
    runs.append((cold, None))
    warm = timed_render("face-cropped 512², 10 s, avatar cached",
                        ["--image", str(portrait), "--audio", str(speech10), "-o", str(work / "w10.mp4")], 10.0)
    runs.append((warm, None))
    floor_512 = encoder_floor(512, 512, 750)
    crop30 = timed_render("face-cropped 512², 30 s",
                          ["--image", str(portrait), "--audio", str(speech30), "-o", str(work / "c30.mp4")], 30.0)
    runs.append((crop30, floor_512))
    timed_render("(prepare 1080p avatar)", ["--image", str(wide), "--audio", str(speech10), "--full-background",
                                             "-o", str(work / "prep.mp4")], 10.0)
    floor_1080 = encoder_floor(1920, 1080, 750)
    full30 = timed_render("full-background 1920×1080, 30 s",
                          ["--image", str(wide), "--audio", str(speech30), "--full-background",
                           "-o", str(work / "f30.mp4")], 30.0)
    runs.append((full30, floor_1080))
    if not args.quick:
        speech300 = speech_wav(work / "speech300.wav", 300.0)
        long_run = timed_render("face-cropped 512², 5 min",
                                ["--image", str(portrait), "--audio", str(speech300), "-o", str(work / "c300.mp4")],
                                300.0)
        runs.append((long_run, floor_512))

    lines = [
        "| render | frames | wall s | frames/s | real-time factor | encoder-only frames/s | × floor | peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run, floor in runs:
        floor_cells = f"{floor:.0f} | {floor / run.fps:.2f}" if floor else "– | –"
        lines.append(
            f"| {run.label} | {run.frames} | {run.wall:.2f} | {run.fps:.0f} | {run.wall / run.seconds:.3f} | "
            f"{floor_cells} | {run.peak_mb:.0f} |"
        )

    from facecast.engine.evaluate import evaluate_video, format_report

    quality_crop = evaluate_video(work / "c30.mp4", speech30, portrait)
    quality_full = evaluate_video(work / "f30.mp4", speech30, wide, full_background=True)
    table = "\n".join(lines)
    text = (
        f"{table}\n\nQuality, face-cropped 30 s:\n\n{format_report(quality_crop)}\n\n"
        f"Quality, full-background 30 s:\n\n{format_report(quality_full)}\n"
    )
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
