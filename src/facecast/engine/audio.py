"""Speech audio in memory: decoding any file PyAV can read, resampling, loudness per video frame.

Everything downstream (phone recognition, mouth and head motion, the encoder) works on the mono
float32 ``Audio`` this module produces; ``loudness_envelope`` is the one measure of "is it speaking".
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facecast.errors import AudioTooLong, UnreadableAudio

if TYPE_CHECKING:
    import av.container

log = logging.getLogger(__name__)

#: Frames quieter than this (RMS, dB relative to full scale) are silence whatever the clip's level.
ABSOLUTE_FLOOR_DB = -55.0
#: Frames this far below the clip's speech level are pauses (breath, room noise).
RELATIVE_GATE_DB = 30.0
#: The gate never sits closer to the speech level than this, even in a noisy clip.
MIN_DYNAMIC_RANGE_DB = 12.0


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def _describe_seconds(seconds: float) -> str:
    """A duration as a person says it: "45 s", "10 min", "1 min 30 s", "2 h 5 min"."""
    if seconds < 59.95:
        return f"{seconds:.0f} s" if abs(seconds - round(seconds)) < 0.05 else f"{seconds:.1f} s"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if secs and not hours:
        parts.append(f"{secs} s")
    return " ".join(parts)


def _too_long(name: str, max_seconds: float, known: float | None) -> AudioTooLong:
    length = f" is {_describe_seconds(known)} long;" if known is not None else " is too long;"
    return AudioTooLong(
        f"The audio '{name}'{length} the limit is {_describe_seconds(max_seconds)}. "
        "Use a shorter recording or split it."
    )


def load_audio(path: str | Path, *, max_seconds: float | None = None) -> Audio:
    """Decode an audio file (WAV, MP3, FLAC, OGG, M4A, or a video's audio track) to mono float32.

    Raises ``UnreadableAudio`` (missing, not audio, no audio stream, zero samples) and
    ``AudioTooLong`` (longer than ``max_seconds``; the message names the limit).
    """
    import av  # PyAV pulls in FFmpeg; import it only when decoding.

    path = Path(path)
    name = path.name
    if not path.exists():
        raise UnreadableAudio(f"The audio file '{name}' does not exist.")
    if not path.is_file():
        raise UnreadableAudio(f"'{name}' is not a file, so it cannot be read as audio.")
    if path.stat().st_size == 0:
        raise UnreadableAudio(f"The audio file '{name}' is empty.")
    try:
        container = av.open(str(path), mode="r")
    except Exception as exc:  # FFmpeg's many ways of saying "not a media file"
        log.debug("av.open(%s) failed: %s", path, exc)
        raise UnreadableAudio(
            f"'{name}' is not an audio file that can be read (expected WAV, MP3, FLAC, OGG, M4A or a video "
            "with sound)."
        ) from None
    try:
        return _decode(container, name, max_seconds)
    finally:
        container.close()


def _decode(container: av.container.InputContainer, name: str, max_seconds: float | None) -> Audio:
    import av

    if not container.streams.audio:
        raise UnreadableAudio(f"'{name}' has no audio track.")
    stream = container.streams.audio[0]
    if max_seconds is not None:
        estimate = _container_duration(container, stream)
        # Container durations of VBR files are estimates: refuse early only when clearly over; the
        # exact check on decoded samples below catches the rest.
        if estimate is not None and estimate > max_seconds * 1.02 + 0.5:
            raise _too_long(name, max_seconds, estimate)

    chunks: list[np.ndarray] = []
    n_samples = 0
    rate: int | None = None
    limit_samples: int | None = None
    resampler: av.AudioResampler | None = None
    try:
        for frame in container.decode(stream):
            if rate is None:
                rate = int(frame.sample_rate or stream.rate or 0)
                if rate <= 0:
                    raise UnreadableAudio(f"'{name}' has an audio track without a sample rate.")
                # Planar float keeps every channel apart so they can be mixed with equal weight.
                resampler = av.AudioResampler(format="fltp", rate=rate)
                if max_seconds is not None:
                    limit_samples = int(math.floor(max_seconds * rate)) + 1
            assert resampler is not None
            for out in resampler.resample(frame):
                data = out.to_ndarray()
                mono = data.mean(axis=0, dtype=np.float32) if data.ndim == 2 else data.astype(np.float32)
                chunks.append(mono)
                n_samples += len(mono)
            if limit_samples is not None and n_samples > limit_samples:
                assert max_seconds is not None
                raise _too_long(name, max_seconds, None)
        if resampler is not None:
            for out in resampler.resample(None):
                data = out.to_ndarray()
                chunks.append(
                    data.mean(axis=0, dtype=np.float32) if data.ndim == 2 else data.astype(np.float32)
                )
                n_samples += len(chunks[-1])
    except (UnreadableAudio, AudioTooLong):
        raise
    except Exception as exc:
        if n_samples == 0:
            log.debug("decoding %s failed: %s", name, exc)
            raise UnreadableAudio(
                f"The audio in '{name}' could not be decoded: the file is damaged."
            ) from None
        log.warning("decoding %s stopped early after %d samples: %s", name, n_samples, exc)

    if rate is None or n_samples == 0:
        raise UnreadableAudio(f"The audio file '{name}' contains no sound samples.")
    if max_seconds is not None and n_samples / rate > max_seconds + 1e-6:
        raise _too_long(name, max_seconds, n_samples / rate)
    samples = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(samples, -1.0, 1.0, out=samples)
    return Audio(samples=np.ascontiguousarray(samples, dtype=np.float32), sample_rate=rate)


def _container_duration(container: object, stream: object) -> float | None:
    """The audio's duration from the container headers, when they state one."""
    stream_duration = getattr(stream, "duration", None)
    time_base = getattr(stream, "time_base", None)
    if stream_duration is not None and time_base is not None and stream_duration > 0:
        return float(stream_duration * time_base)
    container_duration = getattr(container, "duration", None)
    if container_duration is not None and container_duration > 0:
        return float(container_duration) / 1_000_000.0  # av.time_base
    return None


def resample(audio: Audio, sample_rate: int) -> Audio:
    """The same audio at another sample rate (band-limited, not nearest-sample)."""
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, not {sample_rate}")
    if sample_rate == audio.sample_rate:
        return audio
    if len(audio.samples) == 0:
        return Audio(samples=np.zeros(0, dtype=np.float32), sample_rate=sample_rate)
    # A rational ratio with small terms keeps the filter table small; odd rates (44 099 Hz) are
    # approximated to well under a millisecond per minute.
    ratio = Fraction(sample_rate, audio.sample_rate).limit_denominator(1000)
    expected = int(round(len(audio.samples) * sample_rate / audio.sample_rate))
    out = _polyphase(audio.samples, ratio.numerator, ratio.denominator, expected)
    np.clip(out, -1.0, 1.0, out=out)
    return Audio(samples=out, sample_rate=sample_rate)


#: Zero crossings of the windowed-sinc kernel on each side, and its Kaiser window's beta.
_SINC_ZEROS = 16
_KAISER_BETA = 8.6


def _polyphase(x: np.ndarray, up: int, down: int, n_out: int) -> np.ndarray:
    """Resample ``x`` by ``up / down`` with a Kaiser-windowed sinc (a polyphase FIR filter).

    Plain numpy on purpose: ``scipy.signal`` costs half a second to import, more than resampling
    a minute of audio, and start-up time counts for short renders.
    """
    # Low-pass just below the lower of the two Nyquist frequencies, in input-sample units.
    cutoff = 0.94 * min(1.0, up / down)
    half = int(math.ceil(_SINC_ZEROS / cutoff))
    offsets = np.arange(-half + 1, half + 1)
    # One kernel per output phase: output m sits at input position m * down / up.
    phases = np.arange(up)[:, None] / up
    distance = offsets[None, :] - phases
    window = np.kaiser(2 * half + 1, _KAISER_BETA)
    # Sample the (continuous) Kaiser window at each tap's distance by interpolating its table.
    taper = np.interp(distance, np.arange(-half, half + 1), window)
    table = (cutoff * np.sinc(cutoff * distance) * taper).astype(np.float32)
    padded = np.concatenate(
        [np.zeros(half, np.float32), x.astype(np.float32), np.zeros(half + 1, np.float32)]
    )
    out = np.empty(n_out, dtype=np.float32)
    step = max(1, 4_000_000 // (2 * half))  # outputs per block: ~16 MB of gathered samples
    for lo in range(0, n_out, step):
        m = np.arange(lo, min(n_out, lo + step), dtype=np.int64)
        position = m * down
        base = position // up
        phase = position % up
        index = np.clip(base[:, None] + offsets[None, :] + half, 0, len(padded) - 1)
        out[lo : lo + len(m)] = np.einsum("ij,ij->i", padded[index], table[phase])
    return out


def frame_levels_db(audio: Audio, fps: float, n_frames: int, window: float = 1.5) -> np.ndarray:
    """RMS level in dBFS of each video frame (window ``window`` frames long, centred on the frame).

    Frames past the end of the audio get -inf-like levels (-200 dB). Low rumble (DC offset,
    handling noise) is removed first so it does not count as speech.
    """
    out = np.full(n_frames, -200.0, dtype=np.float64)
    x = audio.samples
    if n_frames <= 0 or len(x) == 0:
        return out
    sr = audio.sample_rate
    # Remove rumble and DC (handling noise, a mains hum's fundamental barely): subtract a 12 ms
    # moving average, a cheap high-pass around 40 Hz.
    x = x.astype(np.float64)
    width = max(1, int(round(0.012 * sr)))
    if len(x) > width:
        running = np.concatenate(([0.0], np.cumsum(x)))
        mean = (running[width:] - running[:-width]) / width
        x = x - np.pad(mean, (width // 2, len(x) - len(mean) - width // 2), mode="edge")
    else:
        x = x - float(np.mean(x))
    energy = np.concatenate(([0.0], np.cumsum(x * x)))
    centres = (np.arange(n_frames) + 0.5) / fps * sr
    half = max(1.0, 0.5 * window * sr / fps)
    lo = np.clip(np.round(centres - half).astype(np.int64), 0, len(x))
    hi = np.clip(np.round(centres + half).astype(np.int64), 0, len(x))
    count = hi - lo
    valid = count > 0
    mean_square = np.zeros(n_frames)
    mean_square[valid] = (energy[hi[valid]] - energy[lo[valid]]) / count[valid]
    out[valid] = 10.0 * np.log10(np.maximum(mean_square[valid], 1e-20))
    return out


def loudness_envelope(audio: Audio, fps: float, n_frames: int) -> np.ndarray:
    """Per video frame loudness, float32 [n_frames] in [0, 1]: 0 is silence, ~1 is loud speech.

    The scale is relative to the clip's own speech level (its loud frames are ~1) with a noise gate
    that sits ``RELATIVE_GATE_DB`` below that level, above the clip's noise floor, and never below
    the absolute floor ``ABSOLUTE_FLOOR_DB``: silence and faint hiss are exactly 0.
    """
    if n_frames <= 0:
        return np.zeros(0, dtype=np.float32)
    levels = frame_levels_db(audio, fps, n_frames)
    audible = levels > ABSOLUTE_FLOOR_DB
    if not audible.any():
        return np.zeros(n_frames, dtype=np.float32)
    speech_level = float(np.percentile(levels[audible], 95))
    noise_floor = float(np.percentile(levels[levels > -199.0], 10))
    gate = max(ABSOLUTE_FLOOR_DB, speech_level - RELATIVE_GATE_DB, noise_floor + 6.0)
    gate = min(gate, speech_level - MIN_DYNAMIC_RANGE_DB)
    gate = max(gate, ABSOLUTE_FLOOR_DB)
    loud = np.clip((levels - gate) / max(speech_level - gate, 1e-6), 0.0, 1.0)
    # A touch of smoothing: one frame either side, without letting gated frames leak above 0 by
    # more than the neighbouring speech justifies.
    if n_frames >= 3:
        padded = np.pad(loud, 1, mode="edge")
        loud = 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
    loud[levels <= ABSOLUTE_FLOOR_DB] = 0.0
    return np.clip(loud, 0.0, 1.0).astype(np.float32)
