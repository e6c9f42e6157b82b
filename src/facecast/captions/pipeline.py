"""Captioning a video end to end: probe it, get its words (given, or recognised), lay them out with
a template, and burn them in. Progress runs 0..1 across recognition (first 40% when it runs) and
burning; a cancel stops either stage and leaves nothing behind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from facecast.captions.ass import ass_script
from facecast.captions.burn import burn
from facecast.captions.fonts import FontFace
from facecast.captions.layout import layout
from facecast.captions.recognize import transcribe
from facecast.captions.templates import CaptionTemplate
from facecast.captions.transcript import NoSpeechFound, Transcript, from_speech
from facecast.errors import InvalidInput, UnreadableVideo
from facecast.speech.models import TimedWord

log = logging.getLogger(__name__)

#: Share of the progress bar recognition takes when it runs.
RECOGNITION_SHARE = 0.4

Progress = Callable[[float], None]
Cancel = Callable[[], bool]


class NoAudioTrack(InvalidInput):
    """A video to caption from its speech has no audio track."""

    field = "video"


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    duration: float
    audio_codec: str | None


@dataclass(frozen=True)
class CaptionResult:
    path: Path
    transcript: Transcript
    width: int
    height: int
    duration: float
    audio_copied: bool


def probe_media(path: Path) -> MediaInfo:
    """Size, duration and audio codec of a video; ``UnreadableVideo`` if it is not one."""
    import av

    name = Path(path).name
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UnreadableVideo(f"'{name}' has no video track")
            stream = container.streams.video[0]
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            duration = float(container.duration or 0) / 1e6
            if not duration and stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
    except UnreadableVideo:
        raise
    except Exception as exc:
        log.debug("probe of %s failed: %s", path, exc)
        raise UnreadableVideo(f"'{name}' is not a video that can be read (expected MP4 or MOV)") from None
    if width <= 0 or height <= 0 or duration <= 0:
        raise UnreadableVideo(f"'{name}' is not a video that can be read (no frames or no duration)")
    return MediaInfo(width, height, duration, audio)


def _scaled(report: Progress | None, start: float, end: float) -> Progress | None:
    if report is None:
        return None
    return lambda f: report(start + (end - start) * max(0.0, min(1.0, f)))


def transcript_for(
    video: Path,
    *,
    words: Sequence[TimedWord] | None = None,
    language: str = "",
    engine: str = "auto",
    max_seconds: float | None = None,
    on_progress: Progress | None = None,
    should_cancel: Cancel | None = None,
) -> Transcript:
    """The words of ``video``: ``words`` as given (synthesised speech), else recognised from its
    audio. Raises ``NoAudioTrack``, ``NoSpeechFound``, ``UnreadableVideo``."""
    from facecast.engine.audio import load_audio

    info = probe_media(video)
    if words is not None:
        return from_speech(words, info.duration, language)
    if info.audio_codec is None:
        raise NoAudioTrack(f"'{Path(video).name}' has no audio track: there is no speech to caption")
    audio = load_audio(video, max_seconds=max_seconds)
    if audio.duration <= 0:
        raise NoSpeechFound("no speech found: the audio track is empty")
    return transcribe(audio, engine=engine, on_progress=on_progress, should_cancel=should_cancel)


def caption_video(
    video: Path,
    output: Path,
    template: CaptionTemplate,
    *,
    transcript: Transcript | None = None,
    words: Sequence[TimedWord] | None = None,
    engine: str = "auto",
    max_seconds: float | None = None,
    on_progress: Progress | None = None,
    should_cancel: Cancel | None = None,
) -> CaptionResult:
    """Caption ``video`` into ``output`` with ``template``: from ``transcript`` or ``words`` when
    given (no recognition), else from speech recognised in its audio."""
    info = probe_media(video)
    burn_from = 0.0
    if transcript is None:
        recognising = words is None
        burn_from = RECOGNITION_SHARE if recognising else 0.0
        transcript = transcript_for(
            video,
            words=words,
            engine=engine,
            max_seconds=max_seconds,
            on_progress=_scaled(on_progress, 0.0, burn_from),
            should_cancel=should_cancel,
        )
    lay = layout(transcript.words, template, info.width, info.height)
    times = [(w.start, w.end) for w in transcript.words]
    script = ass_script(lay, template, times)
    faces: list[FontFace] = [lay.face]
    result = burn(
        video,
        script,
        output,
        faces=faces,
        duration=info.duration,
        audio_codec=info.audio_codec,
        on_progress=_scaled(on_progress, burn_from, 1.0),
        should_cancel=should_cancel,
    )
    return CaptionResult(result.path, transcript, info.width, info.height, info.duration, result.audio_copied)
