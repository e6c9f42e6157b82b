"""Captioning speed and recognition accuracy, on this machine.

    .venv/bin/python bench/captions.py [--seconds 30] [--skip-recognition] [--skip-burn]

1. Burn-in speed (x real time, higher is faster) of a ``--seconds`` long video at 1920x1080 and
   1080x1920 per template, with the words given (a video made from text: no recognition), next to
   the same ffmpeg re-encode without the subtitles filter (the floor libass adds to).
2. Recognition on speech made by the stock voices (the text is known): real-time factor (seconds
   of compute per second of audio, lower is faster) and word error rate, per recogniser.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from facecast.captions import BUILTIN_TEMPLATES, builtin_template, caption_video, transcribe
from facecast.engine.encode import ffmpeg_exe
from facecast.speech import synthesize
from facecast.speech.models import Speech

TEXT = (
    "Good morning, and welcome to the quarterly update from the product team. "
    "Today we will look at what shipped, what slipped, and what we are building next. "
    "Our customers asked for captions, so every video can now carry them. "
    "The words appear as they are spoken, and the current word is highlighted. "
    "Thank you for watching, and see you next quarter."
)
VOICES = ["piper-en_US-joe-medium", "flite-slt", "flite-kal", "festival-kal", "espeak-en-us"]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference length (case, punctuation ignored)."""
    ref = re.findall(r"[a-z0-9']+", reference.lower())
    hyp = re.findall(r"[a-z0-9']+", hypothesis.lower())
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def long_speech(seconds: float) -> Speech:
    """The default voice speaking TEXT, repeated until ``seconds`` long (one Speech, words retimed)."""
    from facecast.speech import join_speeches

    one = synthesize(TEXT, VOICES[0])
    parts = [one] * max(1, int(seconds // one.duration) + 1)
    return join_speeches(parts)


def backdrop(path: Path, width: int, height: int, wav: Path, seconds: float) -> None:
    subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25", "-i", str(wav),
            "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", str(path),
        ],  # fmt: skip
        check=True,
    )


def reencode_seconds(video: Path, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(video),
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "copy", str(out),
        ],  # fmt: skip
        check=True,
    )
    return time.perf_counter() - started


def burn_table(seconds: float, work: Path) -> None:
    speech = long_speech(seconds)
    wav = work / "speech.wav"
    sf.write(wav, speech.audio.samples, speech.audio.sample_rate)
    words = [w for w in speech.words if w.end <= seconds]
    print(f"\n### Burn-in, {seconds:.0f} s video, words given (x real time, higher is faster)\n")
    sizes = [(1920, 1080), (1080, 1920)]
    print("| template | " + " | ".join(f"{w}x{h}" for w, h in sizes) + " |")
    print("| --- | " + " | ".join("---:" for _ in sizes) + " |")
    videos = {}
    for w, h in sizes:
        videos[(w, h)] = work / f"in-{w}x{h}.mp4"
        backdrop(videos[(w, h)], w, h, wav, seconds)
    floor = [seconds / reencode_seconds(videos[s], work / "plain.mp4") for s in sizes]
    print("| (re-encode only, no captions) | " + " | ".join(f"{x:.2f}x" for x in floor) + " |")
    for template in BUILTIN_TEMPLATES:
        cells = []
        for size in sizes:
            started = time.perf_counter()
            caption_video(videos[size], work / "out.mp4", template, words=words)
            cells.append(f"{seconds / (time.perf_counter() - started):.2f}x")
        print(f"| {template.slug} | " + " | ".join(cells) + " |")
    started = time.perf_counter()
    result = caption_video(videos[(1080, 1920)], work / "out.mp4", builtin_template("vertical-social"))
    full = time.perf_counter() - started
    print(
        f"\nWith recognition (faster-whisper) as well, vertical-social 1080x1920: {seconds / full:.2f}x real time "
        f"({full:.1f} s; engine {result.transcript.engine})."
    )


def recognition_table() -> None:
    print("\n### Recognition on stock-voice speech (RTF: compute s per audio s; WER vs the known text)\n")
    print("| voice | audio s | faster-whisper RTF | faster-whisper WER | pocketsphinx RTF | pocketsphinx WER |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    transcribe(synthesize("Warm up.", VOICES[0]).audio, engine="faster-whisper")  # model load, not timed
    for voice in VOICES:
        try:
            speech = synthesize(TEXT, voice)
        except Exception as exc:  # a voice not installed here
            print(f"| {voice} | unavailable: {exc} | | | | |")
            continue
        cells = []
        for engine in ("faster-whisper", "pocketsphinx"):
            started = time.perf_counter()
            transcript = transcribe(speech.audio, engine=engine)
            elapsed = time.perf_counter() - started
            cells += [f"{elapsed / speech.duration:.3f}", f"{wer(TEXT, transcript.text):.1%}"]
        print(f"| {voice} | {speech.duration:.1f} | " + " | ".join(cells) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--skip-recognition", action="store_true")
    parser.add_argument("--skip-burn", action="store_true")
    args = parser.parse_args()
    if not args.skip_burn:
        with tempfile.TemporaryDirectory() as scratch:
            burn_table(args.seconds, Path(scratch))
    if not args.skip_recognition:
        recognition_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
