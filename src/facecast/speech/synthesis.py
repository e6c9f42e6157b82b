"""Text to ``Speech`` with any catalog voice: validate, cut into sentences, speak each with its
engine, tidy the timings, and join. ``iter_synthesize`` yields each sentence as soon as it is
spoken, so the first audio is ready after one sentence, not after the whole script."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence

import numpy as np

from facecast.engine.audio import Audio
from facecast.engine.phones import TimedPhone
from facecast.errors import FacecastError, InvalidText, SynthesisFailed, VoiceUnavailable
from facecast.speech.arpabet import SIL
from facecast.speech.catalog import VoiceDirs, get_voice
from facecast.speech.engines import get_engine
from facecast.speech.models import Speech, TimedWord, Voice
from facecast.speech.text import DEFAULT_MAX_CHARS, Chunk, check_text, scripts_for, split_chunks
from facecast.speech.timing import tidy_phones, tidy_words

log = logging.getLogger(__name__)


def resolve_voice(voice: str | Voice | None, extra_dirs: VoiceDirs = ()) -> Voice:
    """A catalog voice by id (default voice for None), checked to be usable on this machine."""
    resolved = voice if isinstance(voice, Voice) else get_voice(voice, extra_dirs)
    if not resolved.available:
        raise VoiceUnavailable(
            f"The voice {resolved.id!r} needs the {resolved.engine} engine, which is not installed here."
        )
    return resolved


def preload(voice: str | Voice | None = None, extra_dirs: VoiceDirs = ()) -> None:
    """Load a voice's model now (the Piper model takes a second or two) so the first speech is
    quick; a no-op for the engines that have nothing to load."""
    resolved = resolve_voice(voice, extra_dirs)
    engine = get_engine(resolved.engine)
    if hasattr(engine, "load"):
        engine.load(resolved)


def plan(text: str, voice: Voice, *, max_chars: int = DEFAULT_MAX_CHARS) -> list[Chunk]:
    """The chunks the voice will speak, or ``InvalidText`` when nothing of the text is speakable."""
    checked = check_text(text, max_chars=max_chars)
    engine = get_engine(voice.engine)
    chunks = split_chunks(checked, language=voice.language, ascii_only=engine.ascii_only)
    if not chunks:
        scripts = ", ".join(sorted(s.title() for s in scripts_for(voice.language)))
        raise InvalidText(
            f"Nothing in the text can be spoken by {voice.name} ({voice.language}): it reads "
            f"{scripts} script; choose a voice for the text's language."
        )
    return chunks


def iter_synthesize(
    text: str,
    voice: str | Voice | None = None,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    extra_dirs: VoiceDirs = (),
) -> Iterator[Speech]:
    """Speak the text sentence by sentence: one ``Speech`` per chunk, times relative to its start
    (``join_speeches`` joins them). All input errors are raised before the first chunk is spoken."""
    resolved = resolve_voice(voice, extra_dirs)
    chunks = plan(text, resolved, max_chars=max_chars)
    engine = get_engine(resolved.engine)
    for chunk in chunks:
        started = time.perf_counter()
        try:
            out = engine.synthesize(resolved, chunk)
        except FacecastError:
            raise
        except Exception as exc:
            log.exception("%s failed on %r", resolved.id, chunk.spoken)
            raise SynthesisFailed(f"The {resolved.engine} voice {resolved.id!r} failed: {exc}") from exc
        samples = np.clip(np.nan_to_num(np.asarray(out.samples, dtype=np.float32)), -1.0, 1.0)
        audio = Audio(samples=samples, sample_rate=int(out.sample_rate))
        phones = tidy_phones(out.phones, audio.duration)
        words = tidy_words(chunk, out.words, phones, audio.duration)
        log.debug(
            "%s spoke %d words (%.2f s audio) in %.3f s",
            resolved.id,
            len(chunk.words),
            audio.duration,
            time.perf_counter() - started,
        )
        yield Speech(
            audio=audio,
            phones=phones,
            words=words,
            voice_id=resolved.id,
            text=" ".join(w.written for w in chunk.words),
        )


def join_speeches(parts: Sequence[Speech], *, text: str | None = None) -> Speech:
    """Consecutive chunks as one speech: audio concatenated, times offset, silences merged."""
    if not parts:
        raise ValueError("nothing to join")
    rate = parts[0].audio.sample_rate
    if any(p.audio.sample_rate != rate for p in parts):
        raise ValueError("chunks have different sample rates")
    phones: list[TimedPhone] = []
    words: list[TimedWord] = []
    offset = 0.0
    for part in parts:
        for ph in part.phones:
            start, end = ph.start + offset, ph.end + offset
            if phones and phones[-1].phone == SIL and ph.phone == SIL:
                phones[-1] = TimedPhone(SIL, phones[-1].start, end)
            else:
                phones.append(TimedPhone(ph.phone, start, end))
        words.extend(TimedWord(w.word, w.start + offset, w.end + offset) for w in part.words)
        offset += part.audio.duration
    samples = np.concatenate([p.audio.samples for p in parts]).astype(np.float32)
    duration = len(samples) / float(rate)
    if phones:  # float offsets: make the end exact
        phones[-1] = TimedPhone(phones[-1].phone, phones[-1].start, duration)
    return Speech(
        audio=Audio(samples=samples, sample_rate=rate),
        phones=phones,
        words=words,
        voice_id=parts[0].voice_id,
        text=text if text is not None else " ".join(p.text for p in parts),
    )


def synthesize(
    text: str,
    voice_id: str | Voice | None = None,
    *,
    max_chars: int = DEFAULT_MAX_CHARS,
    extra_dirs: VoiceDirs = (),
) -> Speech:
    """Speak ``text`` with a catalog voice (the default voice for None).

    Raises ``InvalidText`` (empty, longer than ``max_chars``, nothing the voice can read),
    ``UnknownVoice``, ``VoiceUnavailable`` (engine not installed) and ``SynthesisFailed``.
    Phone times come from the engine, cover the audio exactly and are monotonic; every written
    word has a time. The same text and voice give the same result.
    """
    parts = list(iter_synthesize(text, voice_id, max_chars=max_chars, extra_dirs=extra_dirs))
    return join_speeches(parts, text=text.strip())
