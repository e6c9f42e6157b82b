"""``facecast voices`` (the catalog) and ``facecast say`` (a speech on its own, as a WAV file)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from facecast.errors import InvalidInput


def register(subparsers: argparse._SubParsersAction) -> None:
    voices = subparsers.add_parser("voices", help="list the voices (id, name, language, gender, engine)")
    voices.add_argument("--json", action="store_true", help="print JSON instead of a table")
    voices.add_argument("--available", action="store_true", help="only voices whose engine is installed")
    voices.add_argument(
        "--voices-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="also list the uploaded voices in DIR",
    )
    voices.set_defaults(handler=_voices)

    say = subparsers.add_parser("say", help="speak text to a WAV file (with its word and phone times)")
    say.add_argument("--voice", default=None, metavar="ID", help="voice id (default: the Piper voice 'joe')")
    say.add_argument("--text", required=True, help='the words to say; "-" reads them from stdin')
    say.add_argument("--output", "-o", required=True, type=Path, help="the WAV file to write")
    say.add_argument("--timings", type=Path, default=None, metavar="JSON", help="also write words and phones")
    say.add_argument("--max-chars", type=int, default=5000, help="refuse longer text (default 5000)")
    say.add_argument(
        "--voices-dir", action="append", default=[], metavar="DIR", help="uploaded voices in DIR"
    )
    say.set_defaults(handler=_say)


def _voices(args: argparse.Namespace) -> int:
    from facecast.speech import list_voices

    voices = list_voices(args.voices_dir, available_only=args.available)
    if args.json:
        print(json.dumps([v.to_dict() for v in voices], indent=2, ensure_ascii=False))
        return 0
    header = ("ID", "NAME", "LANGUAGE", "GENDER", "ENGINE", "RATE", "AVAILABLE")
    rows = [
        (v.id, v.name, v.language, v.gender, v.engine, str(v.sample_rate), "yes" if v.available else "no")
        for v in voices
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _say(args: argparse.Namespace) -> int:
    import soundfile as sf

    from facecast.speech import synthesize

    text = sys.stdin.read() if args.text == "-" else args.text
    if args.output.suffix.lower() != ".wav":
        raise InvalidInput("--output must be a .wav file.", field="output")
    speech = synthesize(text, args.voice, max_chars=args.max_chars, extra_dirs=args.voices_dir)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(args.output), speech.audio.samples, speech.audio.sample_rate, subtype="PCM_16")
    if args.timings is not None:
        args.timings.write_text(
            json.dumps(
                {
                    "voice_id": speech.voice_id,
                    "duration": speech.duration,
                    "words": [[w.word, round(w.start, 4), round(w.end, 4)] for w in speech.words],
                    "phones": [[p.phone, round(p.start, 4), round(p.end, 4)] for p in speech.phones],
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    print(f"{args.output}: {speech.duration:.2f} s, {len(speech.words)} words, voice {speech.voice_id}")
    return 0
