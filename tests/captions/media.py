"""Test media for captions: speech from a real voice, videos made with the static ffmpeg, frames."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from facecast.engine.encode import ffmpeg_exe
from facecast.speech import synthesize
from facecast.speech.models import Speech

SENTENCE = "The quick brown fox jumps over the lazy dog. Captions make every video easier to follow."
VOICE = "piper-en_US-joe-medium"


@lru_cache(maxsize=4)
def speech(text: str = SENTENCE, voice: str = VOICE) -> Speech:
    return synthesize(text, voice)


def make_video(
    path: Path,
    width: int,
    height: int,
    *,
    audio: Path | None = None,
    seconds: float = 3.0,
    source: str = "color=c=black",
    audio_codec: str = "aac",
) -> Path:
    """A video of ``source`` (black by default) with ``audio`` (or none), ``seconds`` long without."""
    command = [
        ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"{source}:size={width}x{height}:rate=25",
    ]
    if audio is not None:
        command += ["-i", str(audio), "-shortest", "-c:a", audio_codec]
    else:
        command += ["-t", str(seconds)]
    command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(command, check=True)
    return path


def speech_video(folder: Path, width: int, height: int, text: str = SENTENCE) -> tuple[Path, Speech]:
    spoken = speech(text)
    wav = folder / f"speech-{abs(hash(text))}.wav"
    if not wav.exists():
        sf.write(wav, spoken.audio.samples, spoken.audio.sample_rate)
    return make_video(folder / f"in-{width}x{height}-{abs(hash(text))}.mp4", width, height, audio=wav), spoken


def frames(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame as RGB arrays, and the frame rate."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)], fps


def audio_md5(path: Path) -> str:
    out = subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-c",
            "copy",
            "-f",
            "md5",
            "-",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()
