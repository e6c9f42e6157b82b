"""Opaque ids for the things the API hands out, in the style the hosted services use.

Miraflow ids look like cuids (``c`` + time + randomness, 25 lower-case characters); Mirage video ids
are ``video_`` + 20 characters. Both sort roughly by creation time and are unguessable.
"""

from __future__ import annotations

import secrets
import string
import time

_ALPHABET = string.digits + string.ascii_lowercase


def _base36(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 36)
        digits.append(_ALPHABET[rem])
    return "".join(reversed(digits))


def _random(width: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(width))


def new_id() -> str:
    """A cuid-like id: ``c`` + 8 characters of milliseconds + 16 random characters."""
    return "c" + _base36(int(time.time() * 1000), 8) + _random(16)


def new_video_id() -> str:
    """A Mirage-style video id."""
    return "video_" + _base36(int(time.time() * 1000), 8) + _random(12)
