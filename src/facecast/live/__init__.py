"""Live avatars: a portrait speaking text as it arrives, frame by frame in real time.

Pure of web imports: ``timeline`` places planned speech on a session's audio clock, ``planner``
turns a spoken sentence into audio and mouth rows at the live rates, ``motion`` keeps an idle face
alive, ``workers`` is what the render and speech processes run. The service wraps these in WebRTC
sessions (``facecast.service.streams``).
"""

from __future__ import annotations

from facecast.live.motion import IdleMotion
from facecast.live.planner import (
    FPS,
    SAMPLE_RATE,
    SAMPLES_PER_FRAME,
    LivePart,
    plan_audio,
    plan_speech,
)
from facecast.live.timeline import Timeline, Utterance, UtteranceState

__all__ = [
    "FPS",
    "SAMPLES_PER_FRAME",
    "SAMPLE_RATE",
    "IdleMotion",
    "LivePart",
    "Timeline",
    "Utterance",
    "UtteranceState",
    "plan_audio",
    "plan_speech",
]
