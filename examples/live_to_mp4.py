"""Try a live avatar without a browser: open a stream, say some sentences, and write what arrives
over WebRTC (video and audio) to an MP4.

    FACECAST_URL=http://127.0.0.1:8000 FACECAST_API_KEY=fc_... \
        python examples/live_to_mp4.py --avatar astronaut --output live.mp4 "Hello there!" "How are you?"

The stream is received by aiortc (a dependency of Facecast) and recorded by its MediaRecorder
(H.264 + AAC). Each text is spoken in turn; the recording ends a second after the last one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder

from facecast import Client, FacecastError


async def record(client: Client, avatar: str, voice: str | None, texts: list[str], output: str) -> None:
    stream = client.streams.create(avatar, voice)
    assert stream.offer is not None
    # ICE servers as the server advertises them (an empty list: never a public STUN server).
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[RTCIceServer(**s) for s in stream.ice_servers]))
    recorder = MediaRecorder(output)
    pc.on("track", recorder.addTrack)
    try:
        await pc.setRemoteDescription(RTCSessionDescription(**stream.offer))
        await pc.setLocalDescription(await pc.createAnswer())
        client.streams.answer(stream.id, pc.localDescription.sdp)
        await recorder.start()
        deadline = time.monotonic() + 30
        while client.streams.retrieve(stream.id).state == "connecting":
            if time.monotonic() > deadline:
                raise FacecastError("the stream did not connect within 30 s")
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a moment of the idle face first
        for text in texts:
            utterance = client.streams.speak(stream.id, text)
            print(f"speaking {utterance.id}: {text}", file=sys.stderr)
        while client.streams.retrieve(stream.id).state != "idle":
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
    finally:
        await recorder.stop()
        await pc.close()
        client.streams.close(stream.id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", nargs="+", help="what to say, one argument per utterance")
    parser.add_argument("--avatar", default="astronaut", help="a ready photo avatar (default: astronaut)")
    parser.add_argument("--voice", default=None, help="a voice id (default: the avatar's voice)")
    parser.add_argument("--output", "-o", default="live.mp4", help="the MP4 to write (default: live.mp4)")
    args = parser.parse_args()
    try:
        with Client() as client:
            asyncio.run(record(client, args.avatar, args.voice, args.texts, args.output))
    except FacecastError as exc:
        print(f"live_to_mp4: error: {exc}", file=sys.stderr)
        return 2
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
