"""Captions: word-timed transcripts, caption templates, layout, burn-in, and SRT/VTT.

Pure like the engine (no web or database imports). The service and the command line use only the
names re-exported here: ``caption_video`` is the one call that turns a video plus words (or plus
recognition) into a captioned MP4.
"""

from __future__ import annotations

from facecast.captions.pipeline import CaptionResult, caption_video, probe_media, transcript_for
from facecast.captions.recognize import align_words, available_engines, transcribe
from facecast.captions.subtitles import to_srt, to_vtt
from facecast.captions.templates import (
    BUILTIN_TEMPLATES,
    DEFAULT_TEMPLATE,
    CaptionTemplate,
    InvalidTemplate,
    UnknownTemplate,
    builtin_template,
)
from facecast.captions.transcript import NoSpeechFound, Transcript, from_speech

__all__ = [
    "BUILTIN_TEMPLATES",
    "DEFAULT_TEMPLATE",
    "CaptionResult",
    "CaptionTemplate",
    "InvalidTemplate",
    "NoSpeechFound",
    "Transcript",
    "UnknownTemplate",
    "align_words",
    "available_engines",
    "builtin_template",
    "caption_video",
    "from_speech",
    "probe_media",
    "to_srt",
    "to_vtt",
    "transcribe",
    "transcript_for",
]
