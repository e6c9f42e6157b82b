"""The encoder-only floor: how fast VideoWriter turns ready-made frames + speech into an MP4.

No rendering happens here, so the figure is the physical floor the renderer's speed is compared
against. Run `.venv/bin/python bench/encoder_floor.py` for a table at 512² and 1920×1080.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from facecast.engine.audio import Audio  # noqa: E402
from facecast.engine.encode import X264_PRESET, VideoWriter  # noqa: E402

SAMPLE_RATE = 22050


def _frames(width: int, height: int, variants: int) -> list[np.ndarray]:
    """The astronaut scaled to ``width × height``; variants differ by a mouth-sized moving patch."""
    import cv2
    from skimage import data

    side = min(width, height)
    face = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    pad_x, pad_y = (width - side) // 2, (height - side) // 2
    base = cv2.copyMakeBorder(
        face, pad_y, height - side - pad_y, pad_x, width - side - pad_x, cv2.BORDER_REFLECT_101
    )
    frames = []
    cx, cy, r = width // 2, pad_y + side * 3 // 5, max(4, side // 16)
    for index in range(variants):
        frame = base.copy()
        opening = int(r * (0.2 + 0.8 * abs(np.sin(np.pi * index / max(variants, 1)))))
        cv2.ellipse(frame, (cx, cy), (r, opening), 0, 0, 360, (40, 10, 15), -1, cv2.LINE_AA)
        frames.append(frame)
    return frames


def _speech(seconds: float) -> Audio:
    """``seconds`` of espeak-ng speech (bench/inputs.py); a voiced, syllabic stand-in without it."""
    try:
        import soundfile as sf

        from inputs import speech_wav

        with tempfile.TemporaryDirectory() as tmp:
            samples, rate = sf.read(speech_wav(Path(tmp) / "speech.wav", seconds), dtype="float32")
        return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(rate))
    except (ImportError, RuntimeError, OSError):
        t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
        pitch = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
        noise = np.random.default_rng(0).standard_normal(t.size)
        voice = np.sin(2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE) + 0.3 * noise
        envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None)
        return Audio((0.3 * voice * envelope).astype(np.float32), SAMPLE_RATE)


def encoder_floor(
    width: int, height: int, n_frames: int, fps: float = 25, *, variants: int = 8, crf: int = 20
) -> float:
    """Frames per second of the encoder alone: pre-made frames in, a finished MP4 with speech out.

    The frames cycle through ``variants`` copies of one frame that differ only around the mouth
    (``variants=1`` repeats one frame exactly, which flatters x264). Timed from opening the
    writer to ``close()`` returning, so the WAV, ffmpeg start-up and +faststart are included.
    """
    frames = _frames(width, height, variants)
    audio = _speech(n_frames / fps)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with VideoWriter(Path(tmp) / "floor.mp4", width, height, fps, audio, crf=crf) as writer:
            for index in range(n_frames):
                writer.write(frames[index % variants])
        elapsed = time.perf_counter() - start
    return n_frames / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=750, help="frames per clip (default 750 = 30 s)")
    parser.add_argument("--fps", type=float, default=25)
    args = parser.parse_args()
    print(f"encoder alone (libx264 -preset {X264_PRESET}), {args.frames} frames at {args.fps:g} fps")
    print("| size | frames/s | x real time | seconds |")
    print("|---|---:|---:|---:|")
    for width, height in ((512, 512), (1920, 1080)):
        rate = encoder_floor(width, height, args.frames, args.fps)
        print(f"| {width}×{height} | {rate:.0f} | {rate / args.fps:.1f} | {args.frames / rate:.1f} |")


if __name__ == "__main__":
    main()
