"""Benchmark inputs made on the spot: the astronaut portrait at two framings, and real speech.

Speech comes from espeak-ng (a Debian package the setup installs), looped to the length asked for,
with short pauses between sentences so mouth-in-pause figures mean something.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

SENTENCES = [
    "Hello, my name is Facecast and I turn a single photo into a talking video.",
    "Bob bought a big map, and Mom paid for the maple pie.",
    "The quick brown fox jumps over the lazy dog while we wait.",
    "Five wise women fixed the very old violin for the village fair.",
    "She sells sea shells by the sea shore, and the shells she sells are surely sea shells.",
]


def astronaut_png(path: Path, *, size: tuple[int, int] | None = None) -> Path:
    """The scikit-image astronaut, optionally placed in a wider scene of ``size`` (w, h) by reflection."""
    import cv2
    from skimage import data

    image = data.astronaut()
    if size is not None:
        width, height = size
        scaled = cv2.resize(image, (height, height), interpolation=cv2.INTER_CUBIC)
        pad = (width - height) // 2
        image = cv2.copyMakeBorder(scaled, 0, 0, pad, width - height - pad, cv2.BORDER_REFLECT_101)
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


def speech_wav(path: Path, seconds: float, *, sample_rate: int = 22050) -> Path:
    """About ``seconds`` of English speech with 0.4 s pauses between sentences (espeak-ng)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed: run scripts/setup.sh")
    pieces: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, sentence in enumerate(SENTENCES):
            wav = Path(tmp) / f"{index}.wav"
            subprocess.run([espeak, "-s", "160", "-w", str(wav), sentence], check=True)
            samples, rate = sf.read(wav, dtype="float32")
            if rate != sample_rate:
                from scipy.signal import resample_poly

                samples = resample_poly(samples, sample_rate, rate).astype(np.float32)
            pieces.append(samples)
            pieces.append(np.zeros(int(0.4 * sample_rate), np.float32))
    one_round = np.concatenate(pieces)
    repeats = int(np.ceil(seconds * sample_rate / len(one_round)))
    audio = np.tile(one_round, repeats)[: int(seconds * sample_rate)]
    sf.write(path, audio, sample_rate, subtype="PCM_16")
    return path
