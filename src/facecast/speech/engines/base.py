"""What every text-to-speech engine provides: its stock voices, and one chunk of text spoken with
the engine's own phone and word timings."""

from __future__ import annotations

import json
import subprocess
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facecast.speech.models import Voice
from facecast.speech.text import Chunk


@dataclass
class EngineOutput:
    """One chunk spoken: mono float32 audio, ARPAbet phones and word spans, times in seconds from
    the start of this audio. ``words`` holds (index into ``chunk.words``, start, end) for the
    words the engine timed; the rest are placed between their neighbours afterwards."""

    samples: np.ndarray
    sample_rate: int
    phones: list[tuple[str, float, float]]
    words: list[tuple[int, float, float]] = field(default_factory=list)


class Engine(ABC):
    #: The engine's name as ``Voice.engine`` gives it.
    name: str = ""
    #: The engine reads ASCII only (accents are dropped from the text it is given).
    ascii_only: bool = False

    @abstractmethod
    def available(self) -> bool:
        """Whether the engine is installed and usable on this machine."""

    @abstractmethod
    def version(self) -> str:
        """A string that changes whenever the engine's output may change (part of speech ids)."""

    @abstractmethod
    def stock_voices(self) -> list[Voice]:
        """The engine's catalog entries, with ``available`` set for this machine."""

    @abstractmethod
    def synthesize(self, voice: Voice, chunk: Chunk) -> EngineOutput:
        """Speak one chunk. Must be deterministic for the same voice and chunk."""

    def voice_version(self, voice: Voice) -> str:
        """The version of the engine plus, where it matters, of the voice's own data."""
        return self.version()


WORKER_TIMEOUT = 120.0


def run_worker(script: Path, args: list[str], stdin: bytes = b"") -> tuple[dict[str, Any], bytes]:
    """Run one of the engines' helper scripts in a fresh ``python -I -S`` process.

    The C libraries (libespeak-ng, libflite) keep global state between syntheses and are not
    thread-safe; a process per synthesis (20-60 ms) makes their output deterministic and keeps
    a crash in them away from the caller. The script writes one JSON line, then raw bytes.
    """
    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(script), *args],
        input=stdin,
        capture_output=True,
        timeout=WORKER_TIMEOUT,
    )
    head, _, rest = proc.stdout.partition(b"\n")
    if proc.returncode != 0 or not head:
        detail = proc.stderr.decode("utf-8", "replace").strip()[-300:] or f"exit code {proc.returncode}"
        raise OSError(f"{script.stem} failed: {detail}")
    return json.loads(head), rest
