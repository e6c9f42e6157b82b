"""Subtitle files from a transcript: SubRip (.srt) and WebVTT (.vtt), lines of at most 42 characters."""

from __future__ import annotations

from collections.abc import Sequence

from facecast.captions.layout import subtitle_pages
from facecast.captions.transcript import Transcript, join_words


def _stamp(seconds: float, separator: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _cues(transcript: Transcript) -> Sequence[tuple[float, float, str]]:
    words = transcript.words
    cues = []
    for page in subtitle_pages(words):
        text = "\n".join(join_words(words[i].word for i in line) for line in page.lines)
        cues.append((page.start, page.end, text))
    return cues


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{n}\n{_stamp(start, ',')} --> {_stamp(end, ',')}\n{text}\n"
        for n, (start, end, text) in enumerate(_cues(transcript), 1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = [
        f"{_stamp(start, '.')} --> {_stamp(end, '.')}\n{text.replace('-->', '->')}\n"
        for start, end, text in _cues(transcript)
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)
