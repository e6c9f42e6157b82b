"""``facecast video create|status|download|list``: the client side of a Facecast server.

The server and key come from ``--url`` / ``--api-key`` or ``FACECAST_URL`` / ``FACECAST_API_KEY``.
``create`` speaks Miraflow for an avatar (``--avatar`` with ``--text`` or ``--speech``) and Mirage
for an uploaded portrait and audio (``--image`` + ``--audio``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    video = subparsers.add_parser(
        "video", help="create, follow and fetch videos on a server", description="Talk to a Facecast server."
    )
    url_help = "server URL (default: FACECAST_URL or http://127.0.0.1:8000)"
    key_help = "API key (default: FACECAST_API_KEY)"
    video.add_argument("--url", help=url_help)
    video.add_argument("--api-key", help=key_help)
    # --url and --api-key also work after the action (`facecast video status ID --url ...`).
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--url", default=argparse.SUPPRESS, help=url_help)
    server.add_argument("--api-key", default=argparse.SUPPRESS, help=key_help)
    sub = video.add_subparsers(dest="video_command", metavar="ACTION")

    create = sub.add_parser(
        "create",
        help="start a video",
        parents=[server],
        description="Start a video: --avatar with --text (and --voice) or --speech, or --image with --audio.",
    )
    create.add_argument("--avatar", help="avatar id (see `facecast video avatars`)")
    create.add_argument("--text", help="what the avatar says")
    create.add_argument("--voice", help="voice id (default: the avatar's voice)")
    create.add_argument("--speech", help="id of a speech made earlier")
    create.add_argument("--name", help="a name for the video")
    create.add_argument("--full-background", action="store_true", help="whole picture instead of a face crop")
    create.add_argument("--image", help="portrait (JPEG/PNG): Mirage-style, with --audio")
    create.add_argument("--audio", help="speech audio (WAV/MP3): Mirage-style, with --image")
    create.add_argument("--wait", action="store_true", help="wait for the video and show progress")
    create.add_argument("--output", "-o", help="with --wait: save the MP4 here")
    create.set_defaults(handler=_create)

    status = sub.add_parser(
        "status",
        help="show a video job's state",
        parents=[server],
        description="Show a job's (or video's) state.",
    )
    status.add_argument("id", help="job id (Miraflow) or video id (Mirage, video_…)")
    status.add_argument("--wait", action="store_true", help="follow it until it ends")
    status.set_defaults(handler=_status)

    download = sub.add_parser(
        "download", help="save a finished video", parents=[server], description="Save a finished video's MP4."
    )
    download.add_argument("id", help="video id")
    download.add_argument("--output", "-o", help="file to write (default: <id>.mp4)")
    download.set_defaults(handler=_download)

    listing = sub.add_parser(
        "list", help="list videos", parents=[server], description="List your videos, newest first."
    )
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    listing.add_argument("--after", help="continue after this video id")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    avatars = sub.add_parser(
        "avatars", help="list avatars", parents=[server], description="List the avatars you can use."
    )
    avatars.set_defaults(handler=_avatars)
    video.set_defaults(handler=lambda args: (video.print_help(), 2)[1])


def _client(args: argparse.Namespace) -> Any:
    from facecast.client import Client

    return Client(args.url, args.api_key)


def _reaching_server(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command that talks to the server: a server that cannot be reached is an error message
    (after the client's retries), not a traceback."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        import httpx

        from facecast.errors import FacecastError

        try:
            return handler(args)
        except httpx.TransportError as exc:
            where = args.url or os.environ.get("FACECAST_URL") or "http://127.0.0.1:8000"
            raise FacecastError(f"cannot reach the server at {where}: {exc}") from exc

    return run


class _Progress:
    """One updating line on a terminal, a line per change otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = ""

    def __call__(self, state: Any) -> None:
        status = getattr(state, "status", "")
        progress = getattr(state, "progress", None)
        line = f"{status} {progress or 0:3d}%"
        if line == self.last:
            return
        self.last = line
        if self.tty:
            sys.stderr.write(f"\r{line:<40}")
            if getattr(state, "done", False):
                sys.stderr.write("\n")
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()


@_reaching_server
def _create(args: argparse.Namespace) -> int:
    from facecast.errors import InvalidInput

    mirage = bool(args.image or args.audio)
    if mirage and not (args.image and args.audio):
        raise InvalidInput("--image and --audio go together")
    if not mirage and not args.avatar:
        raise InvalidInput("give --avatar (with --text or --speech), or --image and --audio")
    if not mirage and not (args.text or args.speech):
        raise InvalidInput("give --text (and optionally --voice) or --speech")
    with _client(args) as client:
        if mirage:
            video = client.mirage.create(args.image, args.audio)
            print(video.id)
            if args.wait:
                video = client.mirage.wait(video.id, on_progress=_Progress())
                if args.output:
                    client.mirage.content(video.id, args.output)
                    print(f"saved {args.output}", file=sys.stderr)
            return 0
        job_id = client.create_video(
            args.avatar,
            text=args.text,
            voice_id=args.voice,
            speech_id=args.speech,
            name=args.name,
            full_background=args.full_background,
        )
        print(job_id)
        if args.wait:
            done = client.wait(job_id, on_progress=_Progress())
            print(done.video_id)
            if args.output:
                client.download(done.video_id, args.output)
                print(f"saved {args.output}", file=sys.stderr)
    return 0


@_reaching_server
def _status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        if args.id.startswith("video_"):
            video = (
                client.mirage.wait(args.id, on_progress=_Progress())
                if args.wait
                else client.mirage.retrieve(args.id)
            )
            print(json.dumps({k: v for k, v in video.__dict__.items()}, indent=2))
            return 0
        state = client.wait(args.id, on_progress=_Progress()) if args.wait else client.status(args.id)
        print(json.dumps(state.__dict__, indent=2))
    return 0


@_reaching_server
def _download(args: argparse.Namespace) -> int:
    with _client(args) as client:
        path = client.download(args.id, args.output or f"{args.id}.mp4")
    print(path)
    return 0


@_reaching_server
def _list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        videos = client.mirage.list(after=args.after, limit=args.limit)
    if args.json:
        print(json.dumps([v.__dict__ for v in videos], indent=2))
        return 0
    for v in videos:
        progress = "" if v.status == "COMPLETE" else f" {v.progress or 0}%"
        print(f"{v.id}  {v.status}{progress}  created {v.created_at}")
    return 0


@_reaching_server
def _avatars(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for a in client.avatars():
            print(f"{a.id}  {'photo' if a.is_photo else 'video'}  {a.name}  (voice {a.voice_id})")
    return 0
