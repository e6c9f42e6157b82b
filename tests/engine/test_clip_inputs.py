"""Clips the video-avatar tests make for themselves from the scikit-image astronaut.

``moving_clip`` slides and turns the portrait a little frame by frame (no engine needed);
``speaking_clip`` has the engine's photo animator make the astronaut speak (blinks, head motion).
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import soundfile as sf


def astronaut(side: int = 512) -> np.ndarray:
    from skimage import data

    image = data.astronaut()
    return image if side == 512 else cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: int = 25, *, preset: str = "veryfast") -> Path:
    """Encode RGB frames (any iterable, consumed one at a time) to an H.264 MP4 with PyAV (crf 18)."""
    stream_of_frames = iter(frames)
    first = next(stream_of_frames)
    height, width = first.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": preset}
        for frame in itertools.chain([first], stream_of_frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def moving_clip(path: Path, seconds: float = 3.0, fps: int = 25, *, side: int = 512, leave_at: float | None = None
                ) -> Path:
    """The astronaut turning (about 2 degrees) and sliding a few pixels; leaves the frame after ``leave_at`` s."""
    image = astronaut(side)
    frames = []
    scale = side / 512
    for k in range(int(seconds * fps)):
        t = k / fps
        matrix = cv2.getRotationMatrix2D((256 * scale, 200 * scale), 2.0 * np.sin(2 * np.pi * t / 2.3), 1.0)
        matrix[0, 2] += scale * 4 * np.sin(2 * np.pi * t / 1.7)
        matrix[1, 2] += scale * 3 * np.sin(2 * np.pi * t / 2.9)
        if leave_at is not None and t > leave_at:
            matrix[0, 2] += side * min(1.0, (t - leave_at) * 2.0)
        border = cv2.BORDER_REFLECT if leave_at is None else cv2.BORDER_CONSTANT
        frames.append(cv2.warpAffine(image, matrix, (side, side), borderMode=border))
    return write_clip(path, frames, fps)


def faceless_clip(path: Path, seconds: float = 2.0, fps: int = 25) -> Path:
    """A moving colour gradient: no face anywhere."""
    y, x = np.mgrid[0:240, 0:320]
    frames = [
        np.stack([(x + 4 * k) % 256, (y + 2 * k) % 256, np.full_like(x, 128)], axis=-1).astype(np.uint8)
        for k in range(int(seconds * fps))
    ]
    return write_clip(path, frames, fps)


def speech(path: Path, text: str, *, rate: int = 16000, speed: int = 165, voice: str = "en") -> np.ndarray:
    """Speech made with espeak-ng (mono float32 at ``rate``), also written to ``path`` as WAV."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.skip("espeak-ng is not installed")
    raw = path.with_suffix(".raw.wav")
    subprocess.run([espeak, "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
    samples, source_rate = sf.read(raw, dtype="float32")
    raw.unlink()
    if source_rate != rate:
        from scipy.signal import resample_poly

        samples = resample_poly(samples, rate, source_rate).astype(np.float32)
    sf.write(path, samples, rate, subtype="PCM_16")
    return np.asarray(samples, np.float32)


def speaking_clip(path: Path, workdir: Path, text: str, *, seed: int = 3) -> tuple[Path, np.ndarray]:
    """The astronaut speaking ``text`` (with head motion and blinks), rendered by the photo engine.

    Returns the clip and its speech samples (16 kHz), i.e. the recording's own audio.
    """
    from facecast.engine import load_audio, prepare_avatar, render
    from facecast.engine.render import RenderOptions

    portrait = workdir / "astronaut.png"
    cv2.imwrite(str(portrait), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR))
    wav = workdir / "recording.wav"
    samples = speech(wav, text)
    pack = prepare_avatar(portrait, size=384)
    render(pack, load_audio(wav), path, options=RenderOptions(seed=seed))
    return path, samples


def test_moving_clip_is_a_readable_video(tmp_path: Path) -> None:
    clip = moving_clip(tmp_path / "clip.mp4", seconds=0.4, side=128)
    with av.open(str(clip)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10
