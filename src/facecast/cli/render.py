"""``facecast render`` and ``facecast eval``: the engine on the command line.

Renders a portrait (or a clip) speaking an audio file or text, with a progress bar on a terminal,
and prints quality figures for a rendered video.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from facecast.errors import InvalidInput
from facecast.limits import DEFAULT_LIMITS

if TYPE_CHECKING:  # the engine loads only when a command runs, so `facecast --help` stays quick
    from facecast.engine import Audio, AvatarPack, TimedPhone


def register(subparsers: argparse._SubParsersAction) -> None:
    render = subparsers.add_parser(
        "render",
        help="render a talking video from a portrait (or clip) and speech",
        description=(
            "Render an MP4 in which the person in the portrait (or the clip) speaks the audio or the text. "
            "Face-cropped 512x512 by default; --full-background keeps the whole picture."
        ),
    )
    source = render.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, help="portrait photo (JPEG, PNG, WebP, ...)")
    source.add_argument("--video", type=Path, help="short clip of the person (a video avatar)")
    speech = render.add_mutually_exclusive_group(required=True)
    speech.add_argument("--audio", type=Path, help="speech audio (WAV, MP3, FLAC, OGG, M4A, ...)")
    speech.add_argument("--text", help="text to speak with --voice ('-' reads standard input)")
    render.add_argument(
        "--voice", help="voice id for --text (see `facecast voices`); default: the default voice"
    )
    render.add_argument("--output", "-o", type=Path, required=True, help="MP4 file to write")
    render.add_argument(
        "--full-background", action="store_true", help="whole picture at its own resolution (photo avatars)"
    )
    render.add_argument("--size", type=int, default=512, help="side of the face-cropped square (default 512)")
    render.add_argument(
        "--max-side",
        type=int,
        default=1920,
        help="cap on the long side in full-background mode (default 1920)",
    )
    render.add_argument("--fps", type=float, default=25.0, help="frames per second (default 25)")
    render.add_argument("--seed", type=int, default=0, help="seed for blinks and head motion (default 0)")
    render.add_argument(
        "--max-audio-seconds",
        type=float,
        default=DEFAULT_LIMITS.max_audio_seconds,
        help=f"refuse longer speech (default {DEFAULT_LIMITS.max_audio_seconds:g})",
    )
    render.add_argument(
        "--no-cache", action="store_true", help="prepare the avatar afresh, do not reuse a cached one"
    )
    render.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    render.set_defaults(handler=run_render)

    evaluate = subparsers.add_parser(
        "eval",
        help="print quality figures for a rendered video",
        description="Measure lip sync, mouth in pauses, identity drift, blinks, head motion and background change.",
    )
    evaluate.add_argument("video", type=Path, help="rendered MP4")
    evaluate.add_argument(
        "--audio", type=Path, help="the speech it was rendered from (default: its own track)"
    )
    evaluate.add_argument("--image", type=Path, help="the portrait it was rendered from")
    evaluate.add_argument("--full-background", action="store_true", help="also measure background change")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(handler=run_eval)


def _cache_dir() -> Path:
    import os

    from platformdirs import user_cache_dir

    return Path(os.environ.get("FACECAST_CACHE_DIR") or user_cache_dir("facecast")) / "packs"


def _prepared_photo(args: argparse.Namespace) -> AvatarPack:
    """The avatar pack for ``--image``, from the cache when the same picture was prepared before."""
    from facecast.engine import AvatarPack, prepare_avatar
    from facecast.engine.pack import PACK_VERSION
    from facecast.errors import UnreadableImage

    path: Path = args.image
    if not path.is_file():
        raise UnreadableImage(f"cannot read the portrait {path}: no such file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    mode = f"full{args.max_side}" if args.full_background else f"crop{args.size}"
    cached = _cache_dir() / f"{digest}-{mode}-v{PACK_VERSION}.npz"
    if cached.is_file() and not args.no_cache:
        try:
            return AvatarPack.load(cached)
        except Exception:  # noqa: BLE001 - a stale or damaged cache entry is simply rebuilt
            cached.unlink(missing_ok=True)
    pack = prepare_avatar(path, full_background=args.full_background, size=args.size, max_side=args.max_side)
    if not args.no_cache:
        cached.parent.mkdir(parents=True, exist_ok=True)
        pack.save(cached)
    return pack


def _speech(args: argparse.Namespace) -> tuple[Audio, list[TimedPhone] | None]:
    """(audio, phones) from --audio, or synthesised from --text with --voice."""
    from facecast.engine import load_audio

    if args.audio is not None:
        if args.voice:
            raise InvalidInput("--voice goes with --text, not with --audio", field="voice")
        args.speech_words = None  # captions (render --captions) recognise the words
        return load_audio(args.audio, max_seconds=args.max_audio_seconds), None
    from facecast.speech import synthesize

    text = sys.stdin.read() if args.text == "-" else args.text
    speech = synthesize(text, args.voice)
    if speech.audio.duration > args.max_audio_seconds:
        from facecast.errors import AudioTooLong

        raise AudioTooLong(
            f"the speech lasts {speech.audio.duration:.0f} s, longer than the limit of {args.max_audio_seconds:.0f} s"
        )
    args.speech_words = speech.words  # for render --captions: the words as spoken, no recognition
    return speech.audio, speech.phones


def run_render(args: argparse.Namespace) -> int:
    from facecast.engine import RenderOptions, render

    if args.fps <= 0 or args.fps > 120:
        raise InvalidInput("--fps must be between 1 and 120", field="fps")
    if args.size < 64 or args.size > 2048 or args.size % 2:
        raise InvalidInput("--size must be an even number from 64 to 2048", field="size")
    if args.output.suffix.lower() != ".mp4":
        raise InvalidInput(f"--output must end in .mp4, not {args.output.name!r}", field="output")
    if not args.output.parent.exists():
        raise InvalidInput(f"the folder {args.output.parent} does not exist", field="output")
    started = time.perf_counter()
    audio, phones = _speech(args)
    options = RenderOptions(fps=args.fps, seed=args.seed)
    show_bar = not args.quiet and sys.stderr.isatty()
    bar = None
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(total=100, unit="%", desc="rendering", file=sys.stderr, leave=False)

    def on_progress(fraction: float) -> None:
        if bar is not None:
            bar.n = round(fraction * 100)
            bar.refresh()

    try:
        if args.video is not None:
            if args.full_background:
                print("facecast: note: --full-background does not apply to video avatars", file=sys.stderr)
            from facecast.engine.clip import render_clip_avatar

            result = render_clip_avatar(
                args.video, audio, args.output, phones=phones, options=options, on_progress=on_progress
            )
        else:
            pack = _prepared_photo(args)
            result = render(pack, audio, args.output, phones=phones, options=options, on_progress=on_progress)
    finally:
        if bar is not None:
            bar.close()
    for warning in result.warnings:
        print(f"facecast: warning: {warning}", file=sys.stderr)
    elapsed = time.perf_counter() - started
    if not args.quiet:
        print(
            f"wrote {result.path} ({result.size[0]}x{result.size[1]}, {result.duration:.2f} s, "
            f"{result.n_frames} frames, mouth from {result.mouth_source}) in {elapsed:.1f} s",
            file=sys.stderr,
        )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import dataclasses
    import json

    from facecast.engine.evaluate import evaluate_video, format_report

    if not args.video.is_file():
        raise InvalidInput(f"no such video: {args.video}", field="video")
    report = evaluate_video(
        args.video, args.audio, args.image, full_background=True if args.full_background else None
    )
    if args.json:
        # The figures only: the per-frame arrays (fields kept out of repr) stay out of the JSON too.
        figures = {f.name: getattr(report, f.name) for f in dataclasses.fields(report) if f.repr}
        print(json.dumps(figures, indent=2, default=float))
    else:
        print(format_report(report))
    return 0
