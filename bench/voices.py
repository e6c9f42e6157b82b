"""Time to first audio and real-time factor per speech engine, on this machine.

    .venv/bin/python bench/voices.py [--runs 3] [--voices id,id,...]

TTFA is the time from the call to the first sentence's audio (``iter_synthesize``), with the
voice already loaded; the cold column adds loading it (the Piper model, once per process). RTF
is synthesis time over audio duration for the whole text (below 1 is faster than real time).
Prints a Markdown table, like the render benchmark (``bench/run.py``).
"""

from __future__ import annotations

import argparse
import statistics
import time

from facecast.speech import get_voice, iter_synthesize, join_speeches

TEXT = (
    "Good morning, and welcome to the quarterly update from the product team. "
    "Today we will look at what shipped, what slipped, and what we are building next."
)
VOICES = [
    "piper-en_US-joe-medium",
    "flite-slt",
    "flite-kal",
    "festival-kal",
    "festival-slt-hts",
    "espeak-en-us",
]


def measure(voice_id: str, runs: int) -> tuple[float, float, float, float]:
    """(cold first-audio seconds, median warm TTFA, median RTF, audio seconds)."""
    started = time.perf_counter()
    cold = None
    parts = []
    for part in iter_synthesize(TEXT, voice_id):
        if cold is None:
            cold = time.perf_counter() - started
        parts.append(part)
    ttfas, rtfs = [], []
    duration = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        first = None
        parts = []
        for part in iter_synthesize(TEXT, voice_id):
            if first is None:
                first = time.perf_counter() - started
            parts.append(part)
        total = time.perf_counter() - started
        duration = join_speeches(parts).duration
        ttfas.append(first or total)
        rtfs.append(total / duration)
    return cold or 0.0, statistics.median(ttfas), statistics.median(rtfs), duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--voices", default=",".join(VOICES))
    args = parser.parse_args()
    rows = []
    for voice_id in args.voices.split(","):
        voice = get_voice(voice_id)
        if not voice.available:
            rows.append((voice_id, voice.engine, "-", "-", "-", "-", "not installed"))
            continue
        cold, ttfa, rtf, duration = measure(voice_id, args.runs)
        rows.append(
            (
                voice_id,
                voice.engine,
                f"{cold * 1000:.0f}",
                f"{ttfa * 1000:.0f}",
                f"{rtf:.3f}",
                f"{duration:.1f}",
                "",
            )
        )
    header = ("voice", "engine", "cold first audio ms", "TTFA ms", "RTF", "audio s", "note")
    print(f"Speech engines: {len(TEXT)} characters in 2 sentences, median of {args.runs} warm runs\n")
    for row in [header, tuple("---" for _ in header), *rows]:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
