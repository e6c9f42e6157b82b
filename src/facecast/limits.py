"""The limits on what Facecast accepts, in one place: the engine and the voices use them as their
defaults, and the server's settings and the command line's options read their defaults from here.

A dependency-free module (like ``errors.py``) so reading a default costs no engine import.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Largest inputs accepted, by default; each deployment may lower or raise them."""

    #: Longest speech audio, seconds.
    max_audio_seconds: float = 600.0
    #: Longest script text, characters.
    max_text_chars: int = 5000
    #: Longest clip a video avatar may be made from, seconds.
    max_clip_seconds: float = 60.0
    #: Largest picture (long side, pixels) of a clip a video avatar may be made from.
    max_clip_side: int = 1920


DEFAULT_LIMITS = Limits()
