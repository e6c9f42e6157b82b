"""``facecast caption``, ``facecast templates`` and ``facecast render --captions``.

Captions a video with a template (words recognised from its audio, or taken from the speech when
``render --text`` made it), writes SRT/WebVTT subtitles, and lists the caption templates.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from facecast.errors import InvalidInput


def register(subparsers: argparse._SubParsersAction) -> None:
    from facecast.captions.templates import DEFAULT_TEMPLATE

    caption = subparsers.add_parser(
        "caption",
        help="burn captions into a video, or write its subtitles (SRT/WebVTT)",
        description=(
            "Recognise the speech in a video (faster-whisper with Whisper tiny.en, English; pocketsphinx "
            "as the fallback) and burn word-timed captions into a copy of it with a template, or write "
            "the words as SRT/WebVTT subtitles. The audio is copied as it is."
        ),
    )
    caption.add_argument("video", type=Path, help="the video to caption (MP4, MOV, ...)")
    caption.add_argument("--output", "-o", type=Path, help="captioned MP4 to write")
    caption.add_argument(
        "--template",
        "-t",
        default=None,
        help=f"caption template (see `facecast templates`; default {DEFAULT_TEMPLATE})",
    )
    caption.add_argument("--srt", type=Path, help="write SubRip subtitles to this file")
    caption.add_argument("--vtt", type=Path, help="write WebVTT subtitles to this file")
    caption.add_argument("--transcript", type=Path, help="write the timed words as JSON to this file")
    caption.add_argument(
        "--engine",
        choices=("auto", "faster-whisper", "pocketsphinx"),
        default="auto",
        help="speech recogniser (default auto: faster-whisper, else pocketsphinx)",
    )
    caption.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    caption.set_defaults(handler=run_caption)

    templates = subparsers.add_parser(
        "templates", help="list the caption templates", description="List the built-in caption templates."
    )
    templates.add_argument("--json", action="store_true", help="print JSON (every field of each template)")
    templates.set_defaults(handler=run_templates)

    render = subparsers.choices.get("render")
    if render is not None:
        render.add_argument(
            "--captions",
            metavar="TEMPLATE",
            help="burn captions into the video with this template (words from --text, or recognised)",
        )
        render.set_defaults(handler=run_render_captioned)


def _progress_bar(args: argparse.Namespace, label: str) -> Any:
    if getattr(args, "quiet", False) or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=100, unit="%", desc=label, file=sys.stderr, leave=False)


def _follow(bar: Any) -> Callable[[float], None]:
    def on_progress(fraction: float) -> None:
        if bar is not None:
            bar.n = round(fraction * 100)
            bar.refresh()

    return on_progress


def run_caption(args: argparse.Namespace) -> int:
    from facecast.captions import (
        DEFAULT_TEMPLATE,
        builtin_template,
        caption_video,
        to_srt,
        to_vtt,
        transcript_for,
    )

    if not args.video.is_file():
        raise InvalidInput(f"no such video: {args.video}", field="video")
    if args.output is None and not (args.srt or args.vtt or args.transcript):
        raise InvalidInput(
            "give --output (a captioned MP4) and/or --srt, --vtt or --transcript", field="output"
        )
    if args.output is not None and args.output.suffix.lower() != ".mp4":
        raise InvalidInput(f"--output must end in .mp4, not {args.output.name!r}", field="output")
    if args.output is None and args.template:
        raise InvalidInput("--template goes with --output (subtitle files have no style)", field="template")
    for path in (args.output, args.srt, args.vtt, args.transcript):
        if path is not None and not path.parent.exists():
            raise InvalidInput(f"the folder {path.parent} does not exist", field="output")
    template = builtin_template(args.template or DEFAULT_TEMPLATE)
    bar = _progress_bar(args, "captioning")
    on_progress = _follow(bar)
    try:
        if args.output is not None:
            result = caption_video(
                args.video, args.output, template, engine=args.engine, on_progress=on_progress
            )
            transcript = result.transcript
        else:
            transcript = transcript_for(args.video, engine=args.engine, on_progress=on_progress)
    finally:
        if bar is not None:
            bar.close()
    if args.srt:
        args.srt.write_text(to_srt(transcript), encoding="utf-8")
    if args.vtt:
        args.vtt.write_text(to_vtt(transcript), encoding="utf-8")
    if args.transcript:
        args.transcript.write_text(
            json.dumps(transcript.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
        )
    if not args.quiet:
        for warning in transcript.warnings:
            print(f"facecast: note: {warning}", file=sys.stderr)
        written = [str(p) for p in (args.output, args.srt, args.vtt, args.transcript) if p is not None]
        print(
            f"wrote {', '.join(written)} ({len(transcript.words)} words, recognised by {transcript.engine})",
            file=sys.stderr,
        )
    return 0


def run_templates(args: argparse.Namespace) -> int:
    from facecast.captions import BUILTIN_TEMPLATES

    if args.json:
        print(json.dumps([t.to_dict() for t in BUILTIN_TEMPLATES], indent=2))
        return 0
    print(f"{'SLUG':<18} {'ID':<22} {'NAME':<20} STYLE")
    for t in BUILTIN_TEMPLATES:
        style = f"{t.position}, {t.words_per_line} words/line, highlight {t.highlight}"
        if t.animation != "none":
            style += f", {t.animation}"
        print(f"{t.slug:<18} {t.id:<22} {t.name:<20} {style}")
    return 0


def run_render_captioned(args: argparse.Namespace) -> int:
    """``render`` as usual, then captions burnt into its output in the same run."""
    from facecast.cli.render import run_render

    if not args.captions:
        return run_render(args)
    from facecast.captions import builtin_template, caption_video

    template = builtin_template(args.captions)  # an unknown template fails before rendering
    final = args.output
    if not final.parent.exists():
        return run_render(args)  # its own check names the problem
    with tempfile.TemporaryDirectory(prefix=".facecast-", dir=final.parent) as scratch:
        args.output = Path(scratch) / "uncaptioned.mp4"
        code = run_render(args)
        if code:
            return code
        words = getattr(args, "speech_words", None)
        bar = _progress_bar(args, "captioning")
        try:
            result = caption_video(
                args.output,
                final,
                template,
                words=words,
                on_progress=_follow(bar),
            )
        finally:
            if bar is not None:
                bar.close()
    if not args.quiet:
        print(f"captioned {final} ({template.slug}, words from {result.transcript.engine})", file=sys.stderr)
    return 0
