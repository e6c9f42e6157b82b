"""Frames + audio -> MP4 (H.264 yuv420p, AAC, +faststart): the only module that talks to the encoder.

Frames stream into the static ffmpeg that ``imageio-ffmpeg`` ships, running as a child process on
the other core; ``probe()`` reads back what a file holds (ffprobe when installed, PyAV otherwise).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from facecast.engine.audio import Audio
from facecast.errors import EncoderError

log = logging.getLogger(__name__)

#: x264 speed/quality trade-off; ``veryfast`` keeps the encoder well above the renderer at 1080p on
#: one core (see bench/encoder_floor.py) at a quality close to ``medium`` for talking heads.
X264_PRESET = "veryfast"
#: Frame threads for x264. One: ffmpeg already runs reading, colour conversion and encoding in
#: threads of their own, and the other core renders (and recognises speech). Measured with
#: bench/encoder_floor.py: 975 instead of 890 frames/s at 512², 137 instead of 143 at 1080p, where
#: a 30 s render is as fast with one thread as with two; a 512² render gains ~8 %.
X264_THREADS = 1
#: AAC bit rate for the (mono) speech track.
AAC_BITRATE = "128k"
#: ffmpeg's AAC coder: "fast" costs a third of the CPU of the default "twoloop" (0.09 s instead of
#: 0.27 s for 30 s of speech, CPU the renderer needs) and at 128 kbit/s sounds as good or better
#: (ffmpeg made it the default in 2018 for that reason: "at higher bitrates [twoloop] sounds worse
#: than the fast coder ... and needs quite a lot more CPU").
AAC_CODER = "fast"
#: Frames waiting for the encoder at most; bounds memory whatever the length of the clip.
QUEUE_FRAMES = 4
#: Size asked for the pipe that carries frames to ffmpeg (the Linux default is 64 KiB).
PIPE_BYTES = 1 << 20
#: Lines of ffmpeg's stderr quoted in an ``EncoderError``.
STDERR_LINES = 15

# Sample rates the AAC encoder accepts; anything else is resampled by ffmpeg to 48 kHz.
_AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000})
_STOP = None  # end-of-stream marker on the frame queue


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary shipped by ``imageio-ffmpeg``."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _rate(fps: float) -> str:
    """``fps`` as an exact ffmpeg rate string (``25``, ``30000/1001``)."""
    fraction = Fraction(fps).limit_denominator(1001)
    return (
        str(fraction.numerator)
        if fraction.denominator == 1
        else f"{fraction.numerator}/{fraction.denominator}"
    )


def _write_wav(path: str, audio: Audio) -> None:
    """16-bit PCM mono WAV of ``audio`` (samples clipped to [-1, 1])."""
    pcm = np.clip(np.asarray(audio.samples, dtype=np.float32), -1.0, 1.0)
    pcm16 = np.round(pcm * 32767.0).astype("<i2")
    with wave.open(path, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(int(audio.sample_rate))
        wav.writeframes(pcm16.tobytes())


def _grow_pipe(pipe: IO[bytes] | None) -> None:
    """Enlarge the pipe to ffmpeg (Linux) so a frame crosses in fewer, larger writes."""
    if pipe is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return
    try:
        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: keep the default


def _remove(path: str | None) -> None:
    if path is None:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class VideoWriter:
    """Streams RGB frames into an encoder running beside us; memory does not grow with length.

    Writes to a temporary file next to ``path`` and renames it into place only when ``close()``
    succeeds; on an exception inside the ``with`` block (or ``abort()``) nothing is left behind.
    Frames are copied on ``write()``, so the caller may reuse its buffer for the next frame.
    """

    #: Extra ffmpeg output arguments, placed just before the output file (a hook for tests).
    _extra_args: Sequence[str] = ()

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float, audio: Audio | None, *, crf: int = 20
    ) -> None:
        for name, value in (("width", width), ("height", height)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{name} must be an integer, not {value!r}")
            if value <= 0 or value % 2:
                raise ValueError(f"{name} must be even and positive for yuv420p, not {value}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, not {fps!r}")
        if not 0 <= crf <= 51:
            raise ValueError(f"crf must be in 0..51, not {crf!r}")
        if audio is not None:
            if np.ndim(audio.samples) != 1:
                raise ValueError("audio must be mono (one-dimensional samples)")
            if len(audio.samples) == 0:
                raise ValueError("audio has no samples (pass audio=None for a silent video)")
            if int(audio.sample_rate) <= 0:
                raise ValueError(f"audio sample rate must be positive, not {audio.sample_rate!r}")

        self.path = Path(path)
        self.width = int(width)
        self.height = int(height)
        self.fps = float(fps)
        self.audio = audio
        self.crf = int(crf)
        self.frames_written = 0
        self._shape = (self.height, self.width, 3)
        self._done = False
        self._broken: BaseException | None = None  # set by the feeder thread when the pipe breaks
        self._wav: str | None = None
        self._tmp: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_FRAMES)

        directory = self.path.parent
        stem = self.path.name
        try:
            fd, self._tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".part.mp4", dir=directory)
            os.close(fd)
            if audio is not None:
                fd, self._wav = tempfile.mkstemp(prefix=f".{stem}.", suffix=".wav", dir=directory)
                os.close(fd)
                _write_wav(self._wav, audio)
            self._stderr = tempfile.TemporaryFile()
            command = self._command()
            log.debug("encoder: %s", " ".join(command))
            self._proc = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr
            )
        except BaseException:
            self._cleanup()
            raise
        _grow_pipe(self._proc.stdin)
        self._feeder = threading.Thread(target=self._feed, name="facecast-encoder-feed", daemon=True)
        self._feeder.start()

    # --- the ffmpeg command ------------------------------------------------------------------------
    def _command(self) -> list[str]:
        assert self._tmp is not None
        command = [
            ffmpeg_exe(), "-hide_banner", "-nostats", "-loglevel", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{self.width}x{self.height}",
            "-framerate", _rate(self.fps), "-i", "pipe:0",
        ]  # fmt: skip
        if self._wav is not None:
            command += ["-i", self._wav]
        command += [
            "-map", "0:v:0",
            # RGB -> BT.709 limited-range YUV, tagged so players convert back with the same matrix.
            "-vf", "scale=out_color_matrix=bt709:out_range=tv,"
            "setparams=color_primaries=bt709:color_trc=bt709",
            "-c:v", "libx264", "-preset", X264_PRESET, "-crf", str(self.crf),
            "-pix_fmt", "yuv420p", "-profile:v", "high",
            "-threads", str(X264_THREADS),
            "-fps_mode", "passthrough",
        ]  # fmt: skip
        if self._wav is not None:
            assert self.audio is not None
            command += ["-map", "1:a:0", "-c:a", "aac", "-aac_coder", AAC_CODER]
            command += ["-b:a", AAC_BITRATE, "-ac", "1"]
            if int(self.audio.sample_rate) not in _AAC_RATES:
                command += ["-ar", "48000"]
        command += [*self._extra_args, "-movflags", "+faststart", "-f", "mp4", self._tmp]
        return command

    # --- streaming ----------------------------------------------------------------------------------
    def _feed(self) -> None:
        """Feeder thread: move frames from the queue into ffmpeg's stdin; drain after a failure."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        stdin = proc.stdin
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            if self._broken is not None:
                continue  # keep draining so write() never blocks on a dead encoder
            try:
                stdin.write(item)
            except (OSError, ValueError) as exc:  # BrokenPipeError, or stdin closed by abort()
                self._broken = exc
        try:
            stdin.close()
        except OSError as exc:
            if self._broken is None:
                self._broken = exc

    def write(self, frame: np.ndarray) -> None:
        """Queue one RGB frame (uint8, ``height × width × 3``); blocks while the encoder catches up."""
        if self._done:
            raise RuntimeError("write() on a VideoWriter that is closed or aborted")
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be a uint8 numpy array, not {getattr(frame, 'dtype', type(frame))}")
        if frame.shape != self._shape:
            raise ValueError(f"frame must have shape {self._shape} (height, width, RGB), not {frame.shape}")
        if self._broken is not None:
            self._fail("the encoder stopped reading frames")
        self._queue.put(frame.tobytes())  # a copy: the caller may reuse its buffer
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it into place; raises ``EncoderError`` if ffmpeg failed."""
        if self._done:
            return
        if self.frames_written == 0:
            self.abort()
            raise ValueError("no frames were written; nothing to encode")
        self._queue.put(_STOP)
        self._feeder.join()
        assert self._proc is not None
        code = self._proc.wait()
        if code != 0:
            self._fail(f"ffmpeg exited with status {code}")
        if self._broken is not None:
            self._fail("the encoder stopped reading frames")
        assert self._tmp is not None
        try:
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._tmp = None
        self._done = True
        self._cleanup()

    def abort(self) -> None:
        """Stop ffmpeg and remove every temporary file; ``path`` is left as it was. Idempotent."""
        if self._done:
            return
        self._done = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
        if self._feeder.is_alive():
            self._queue.put(_STOP)  # the feeder drains (the pipe is broken), so this cannot hang
            self._feeder.join()
        if proc is not None:
            proc.wait()
        self._cleanup()

    def _fail(self, what: str) -> None:
        """Abort, then raise ``EncoderError`` quoting the end of ffmpeg's stderr."""
        tail = self._stderr_tail()
        self.abort()
        raise EncoderError(f"video encoding failed: {what}" + (f"\n{tail}" if tail else ""))

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.wait(timeout=5)  # give ffmpeg a moment to say why it stopped
            except subprocess.TimeoutExpired:
                pass
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(text.strip().splitlines()[-STDERR_LINES:])

    def _cleanup(self) -> None:
        _remove(self._tmp)
        _remove(self._wav)
        self._tmp = self._wav = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# --- reading back -------------------------------------------------------------------------------------
def probe(path: str | Path) -> dict[str, Any]:
    """What an MP4 (or any media file) holds, for tests and the evaluator.

    Returns ``{"format": {...}, "streams": [{...}, ...], "video": {...} | None, "audio": {...} | None}``
    where each stream has ``codec_type``, ``codec_name`` and, as numbers, ``duration`` (s) and
    ``nb_frames``; video streams ``width``, ``height``, ``pix_fmt``, ``fps``; audio streams
    ``sample_rate``, ``channels``. Uses Debian's ``ffprobe`` when on PATH, PyAV otherwise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    ffprobe = shutil.which("ffprobe")
    info = _probe_ffprobe(ffprobe, path) if ffprobe else _probe_pyav(path)
    info["video"] = next((s for s in info["streams"] if s["codec_type"] == "video"), None)
    info["audio"] = next((s for s in info["streams"] if s["codec_type"] == "audio"), None)
    return info


def _number(value: Any, kind: type[int] | type[float]) -> int | float | None:
    try:
        return kind(value) if value not in (None, "", "N/A") else None
    except (TypeError, ValueError):
        return None


def _fraction(value: Any) -> float | None:
    try:
        fraction = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return float(fraction) if fraction else None


def _probe_ffprobe(ffprobe: str, path: Path) -> dict[str, Any]:
    result = subprocess.run(
        [ffprobe, "-v", "error", "-of", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise EncoderError(
            f"ffprobe could not read {path}: {result.stderr.decode('utf-8', 'replace').strip()}"
        )
    raw = json.loads(result.stdout)
    fmt = raw.get("format", {})
    streams = []
    for s in raw.get("streams", []):
        stream: dict[str, Any] = {
            "index": s.get("index"),
            "codec_type": s.get("codec_type"),
            "codec_name": s.get("codec_name"),
            "duration": _number(s.get("duration"), float),
            "nb_frames": _number(s.get("nb_frames"), int),
            "bit_rate": _number(s.get("bit_rate"), int),
        }
        if s.get("codec_type") == "video":
            stream.update(
                width=s.get("width"),
                height=s.get("height"),
                pix_fmt=s.get("pix_fmt"),
                profile=s.get("profile"),
                fps=_fraction(s.get("avg_frame_rate")) or _fraction(s.get("r_frame_rate")),
                color_space=s.get("color_space"),
            )
        elif s.get("codec_type") == "audio":
            stream.update(sample_rate=_number(s.get("sample_rate"), int), channels=s.get("channels"))
        streams.append(stream)
    return {
        "format": {
            "format_name": fmt.get("format_name"),
            "duration": _number(fmt.get("duration"), float),
            "size": _number(fmt.get("size"), int),
            "bit_rate": _number(fmt.get("bit_rate"), int),
        },
        "streams": streams,
        "tool": "ffprobe",
    }


def _probe_pyav(path: Path) -> dict[str, Any]:
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise EncoderError(f"PyAV could not read {path}: {exc}") from exc
    with container:
        streams = []
        for s in container.streams:
            ctx = s.codec_context
            duration = float(s.duration * s.time_base) if s.duration is not None and s.time_base else None
            stream: dict[str, Any] = {
                "index": s.index,
                "codec_type": s.type,
                "codec_name": ctx.name if ctx is not None else None,
                "duration": duration,
                "nb_frames": int(s.frames) if s.frames else None,
                "bit_rate": int(ctx.bit_rate) if ctx is not None and ctx.bit_rate else None,
            }
            if isinstance(s, av.VideoStream):
                rate = s.average_rate or s.guessed_rate
                vctx = s.codec_context
                stream.update(
                    width=vctx.width,
                    height=vctx.height,
                    pix_fmt=vctx.format.name if vctx.format is not None else None,
                    profile=vctx.profile,
                    fps=float(rate) if rate else None,
                    color_space=None,
                )
            elif isinstance(s, av.AudioStream):
                actx = s.codec_context
                stream.update(sample_rate=int(actx.sample_rate), channels=actx.layout.nb_channels)
            streams.append(stream)
        fmt_duration = container.duration / 1_000_000 if container.duration is not None else None
        return {
            "format": {
                "format_name": container.format.name,
                "duration": fmt_duration,
                "size": path.stat().st_size,
                "bit_rate": int(container.bit_rate) if container.bit_rate else None,
            },
            "streams": streams,
            "tool": "pyav",
        }
