"""Timed phones: the common currency between speech (TTS alignments, recognition) and mouth shapes.

``recognize_phones`` finds phones in any English speech with pocketsphinx's all-phone search (the
approach of Rhubarb Lip Sync); ``align_phones`` aligns a known transcript. Both return ARPAbet
phones without stress digits, with "SIL" for silence, breaths and noise. ``PhoneStream`` recognises
the same phones piece by piece in a worker process, so a render can start on the first piece.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from facecast.engine.audio import Audio, frame_levels_db, resample

log = logging.getLogger(__name__)

#: pocketsphinx's acoustic model works on 16 kHz audio at 100 feature frames per second.
SAMPLE_RATE = 16000
FRAME_RATE = 100

#: The 39 ARPAbet phones of CMUdict (the acoustic model's phone set, without SIL).
ARPABET: frozenset[str] = frozenset(
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH".split()
)

#: Search settings for the all-phone recogniser. Measured on 30 s of TTS speech against forced
#: alignments: narrower beams and 2 Gaussians per senone (``topn``) run ~36x real time on one core
#: (defaults: ~28x) with the same viseme agreement (~69% of 10 ms frames) and bilabial recall
#: (94%); ``ds=2`` or beams of 1e-10 are faster but start to miss p/b/m. The phone LM weight
#: balances fluttering phones (too low) against sticky ones (too high).
RECOGNIZER_SETTINGS: dict[str, Any] = {
    "lw": 2.0,
    "beam": 1e-15,
    "pbeam": 1e-15,
    "topn": 2,
}

#: Recognition runs piece by piece, each piece cut in the middle of a pause, so that a render can
#: start on the first piece while a worker process recognises the rest (pocketsphinx holds the GIL
#: while it decodes). The pieces are consecutive utterances of one decoder, whose cepstral mean
#: carries over from one to the next as within one long utterance; every recognition starts from
#: the decoder's initial mean, so its result does not depend on what the process heard before.
#: The phones differ here and there from one-utterance decoding (which is as sensitive to where the
#: audio ends), not in quality: on 10 flite clips of 30-35 s (5 voices x 2 texts) against flite's
#: own phone timings, viseme agreement 71.1 % in one piece and 71.2 % in pieces, bilabial recall
#: 85.8 % and 84.7 % (a handful of p/b/m out of 460, none near a cut); on 16 espeak-ng clips the
#: mouth opening follows the loudness as well (correlation 0.756 and 0.759). A cut goes into a
#: pause at least ``PAUSE_CUT`` s long; the first piece lasts at least ``FIRST_PIECE`` s (a render
#: waits for it), the others and the rest at least ``MIN_PIECE`` s.
PAUSE_CUT = 0.25
FIRST_PIECE = 1.5
MIN_PIECE = 3.0

#: A forced-aligned consonant longer than this swallowed a pause the aligner did not model.
_MAX_CONSONANT = 0.25
_MAX_VOWEL = 0.45

_lock = threading.Lock()


@dataclass(frozen=True)
class TimedPhone:
    """One phone: ARPAbet symbol without stress digits, upper-case ("AA", "P", ...); "SIL" is silence."""

    phone: str
    start: float
    end: float


#: Symbols of the wider ARPAbet (TIMIT, festival/flite) folded into CMUdict's set.
PHONE_ALIASES: dict[str, str] = {
    "AX": "AH",
    "AXR": "ER",
    "IX": "IH",
    "UX": "UW",
    "DX": "D",
    "NX": "N",
    "EL": "L",
    "EM": "M",
    "EN": "N",
    "HV": "HH",
}


def normalize_phone(symbol: str) -> str:
    """An ARPAbet phone without stress, upper-case; silences, fillers and unknown symbols -> "SIL"."""
    name = re.sub(r"[0-9]", "", symbol.strip().upper())
    if "(" in name:
        name = name.split("(", 1)[0]
    name = PHONE_ALIASES.get(name, name)
    return name if name in ARPABET else "SIL"


def merge_phones(phones: Iterable[TimedPhone], min_duration: float = 0.0) -> list[TimedPhone]:
    """Sorted phones with adjacent silences merged and zero-length entries dropped."""
    out: list[TimedPhone] = []
    for p in sorted(phones, key=lambda p: (p.start, p.end)):
        if p.end - p.start <= min_duration:
            continue
        if out and p.start < out[-1].end:  # overlap: trim the newcomer
            p = TimedPhone(p.phone, out[-1].end, p.end)
            if p.end <= p.start:
                continue
        if out and p.phone == "SIL" and out[-1].phone == "SIL" and p.start - out[-1].end < 1e-6:
            out[-1] = TimedPhone("SIL", out[-1].start, p.end)
        else:
            out.append(p)
    return out


def _model_dir() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


def _recognizer_config() -> dict[str, Any]:
    model = _model_dir()
    return {
        "hmm": str(model / "en-us"),
        "allphone": str(model / "en-us-phone.lm.bin"),
        "samprate": SAMPLE_RATE,
        "loglevel": "FATAL",
        **RECOGNIZER_SETTINGS,
    }


@lru_cache(maxsize=1)
def _recognizer() -> Any:
    import pocketsphinx

    return pocketsphinx.Decoder(**_recognizer_config())


@lru_cache(maxsize=1)
def _aligner() -> Any:
    import pocketsphinx

    model = _model_dir()
    return pocketsphinx.Decoder(
        hmm=str(model / "en-us"),
        dict=str(model / "cmudict-en-us.dict"),
        lm=None,
        samprate=SAMPLE_RATE,
        loglevel="FATAL",
    )


def _pcm16(audio: Audio) -> bytes:
    """16 kHz signed 16-bit PCM, with a whisper of fixed noise so digital silence has a spectrum.

    (Exact zeros give -inf log energies in the front end; Rhubarb dithers for the same reason.)
    """
    if audio.sample_rate != SAMPLE_RATE:
        audio = resample(audio, SAMPLE_RATE)
    noise = np.random.default_rng(0).standard_normal(len(audio.samples)) * 2.0
    pcm = np.clip(np.round(audio.samples.astype(np.float64) * 32767.0 + noise), -32768, 32767)
    return pcm.astype("<i2").tobytes()


def _audible(audio: Audio) -> np.ndarray:
    """Per 10 ms frame: clearly audible sound (within 30 dB of the audio's loud parts)."""
    n = max(1, int(np.ceil(audio.duration * FRAME_RATE)))
    levels = frame_levels_db(audio, FRAME_RATE, n, window=2.5)
    audible = levels > -50.0
    if not audible.any():
        return audible
    peak = float(np.percentile(levels[audible], 95))
    return np.asarray(levels > max(-50.0, peak - 30.0))


def _speech_seconds(audio: Audio) -> float:
    """How long the audio has clearly audible sound (frames within 30 dB of its loud parts)."""
    return float(np.count_nonzero(_audible(audio))) / FRAME_RATE


def piece_bounds(audio: Audio) -> list[int]:
    """Sample indices that cut ``audio`` into the pieces recognition decodes one after another:
    ``[0, cut, ..., len(samples)]``, each cut in the middle of a pause (see ``PAUSE_CUT``)."""
    n = len(audio.samples)
    quiet = ~_audible(audio)
    padded = np.concatenate(([False], quiet, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    duration = audio.duration
    cuts: list[float] = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if (b - a) / FRAME_RATE < PAUSE_CUT or a == 0 or b >= quiet.size:
            continue
        cut = (a + b) / 2.0 / FRAME_RATE
        since = cut - (cuts[-1] if cuts else 0.0)
        if since >= (MIN_PIECE if cuts else FIRST_PIECE) and duration - cut >= MIN_PIECE:
            cuts.append(cut)
    inner = [min(max(int(round(c * audio.sample_rate)), 1), n - 1) for c in cuts]
    return [0, *inner, n]


def _decode_pieces(decoder: Any, pcm: bytes, bounds: Sequence[int]) -> list[list[tuple[str, int, int]]]:
    """Segments (word, first frame, last frame) of each piece, decoded one after another."""
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=False):
        decoder.start_utt()
        decoder.process_raw(pcm[2 * a : 2 * b], full_utt=True)
        decoder.end_utt()
        out.append([(s.word, s.start_frame, s.end_frame) for s in decoder.seg()])
    return out


def _timed(segments: Sequence[tuple[str, int, int]], offset: float) -> list[TimedPhone]:
    return [
        TimedPhone(normalize_phone(word), offset + start / FRAME_RATE, offset + (end + 1) / FRAME_RATE)
        for word, start, end in segments
    ]


def _recognize_pieces(pcm: bytes, bounds: Sequence[int]) -> list[list[tuple[str, int, int]]]:
    """Decode the pieces in this process, from the decoder's initial state (so the result does
    not depend on what the process recognised before)."""
    with _lock:
        decoder = _recognizer()
        decoder.reinit_feat()  # a fresh cepstral mean, as in a new decoder
        return _decode_pieces(decoder, pcm, bounds)


def _phones_of(
    pieces: Sequence[Sequence[tuple[str, int, int]]], bounds: Sequence[int], duration: float
) -> list[TimedPhone]:
    timed: list[TimedPhone] = []
    for segments, start in zip(pieces, bounds, strict=False):
        timed += _timed(segments, start / SAMPLE_RATE)
    return _clip_to(merge_phones(timed), duration)


def recognize_phones(audio: Audio) -> list[TimedPhone] | None:
    """Recognise timed phones in speech audio (pocketsphinx), or None when it cannot follow the audio."""
    if len(audio.samples) == 0:
        return None
    try:
        if audio.sample_rate != SAMPLE_RATE:
            audio = resample(audio, SAMPLE_RATE)
        bounds = piece_bounds(audio)
        pieces = _recognize_pieces(_pcm16(audio), bounds)
    except Exception:
        log.warning("phone recognition failed", exc_info=True)
        return None
    phones = _phones_of(pieces, bounds, audio.duration)
    if not _plausible(phones, audio):
        return None
    return phones


#: The worker process: a fresh decoder reads pieces (8-byte little-endian length, then 16-bit PCM;
#: length 0 ends) from stdin and writes each piece's segments as a JSON line. It imports nothing
#: but pocketsphinx, so it is up before the parent has resampled the audio.
_WORKER = """
import json, sys
import pocketsphinx
decoder = pocketsphinx.Decoder(**json.loads(sys.argv[1]))
source, sink = sys.stdin.buffer, sys.stdout
while True:
    header = source.read(8)
    size = int.from_bytes(header, "little") if len(header) == 8 else 0
    if size == 0:
        break
    decoder.start_utt()
    decoder.process_raw(source.read(size), full_utt=True)
    decoder.end_utt()
    sink.write(json.dumps([[s.word, s.start_frame, s.end_frame] for s in decoder.seg()]) + "\\n")
    sink.flush()
"""
#: How long to wait for the worker's next piece beyond twice its duration before giving up on it.
WORKER_PATIENCE = 30.0


class PhoneStream:
    """``recognize_phones`` piece by piece in a worker process, for a render that starts on the first
    piece while the worker decodes the next ones on the other core.

    ``next_piece()`` waits for the next piece and returns the time up to which phones are known;
    ``phones()`` are those known so far (merged and clipped as ``recognize_phones`` returns them) and
    ``plausible()`` says whether they follow the audio. When all pieces are in, ``phones()`` equals
    what ``recognize_phones`` returns for the same audio (or the worker failed and the pieces were
    decoded in this process: the same phones, later). Close it (or use ``with``) to stop the worker.
    """

    def __init__(self, audio: Audio) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._results: queue.Queue[list[list[Any]] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER, json.dumps(_recognizer_config())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            log.warning("cannot start the phone recogniser process; recognising in this one", exc_info=True)
        if audio.sample_rate != SAMPLE_RATE:
            audio = resample(audio, SAMPLE_RATE)
        self.audio = audio
        self.bounds = piece_bounds(audio)
        self._pcm = _pcm16(audio)
        self._pieces: list[list[tuple[str, int, int]]] = []
        self._local = self._proc is None  # no worker: the pieces are decoded here
        if self._proc is not None:
            self._threads = [
                threading.Thread(target=self._send, name="facecast-phones-send", daemon=True),
                threading.Thread(target=self._receive, name="facecast-phones-receive", daemon=True),
            ]
            for thread in self._threads:
                thread.start()

    # --- the worker's pipes --------------------------------------------------------------------------
    def _send(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        try:
            for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=False):
                proc.stdin.write((2 * (b - a)).to_bytes(8, "little"))
                proc.stdin.write(self._pcm[2 * a : 2 * b])
            proc.stdin.write(bytes(8))
            proc.stdin.close()
        except (OSError, ValueError):
            pass  # the worker died or was stopped: the receiver reports it

    def _receive(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        try:
            for line in proc.stdout:
                self._results.put(json.loads(line))
        except (OSError, ValueError):
            pass
        self._results.put(None)

    # --- pieces ---------------------------------------------------------------------------------------
    @property
    def n_pieces(self) -> int:
        return len(self.bounds) - 1

    @property
    def done(self) -> bool:
        return len(self._pieces) == self.n_pieces

    def known_until(self) -> float:
        """Seconds of audio whose phones are known: every later phone starts at or after it."""
        return self.bounds[len(self._pieces)] / SAMPLE_RATE if not self.done else float("inf")

    def ready(self) -> bool:
        """Whether the next piece has arrived (``next_piece`` would not wait)."""
        return not self.done and not self._local and not self._results.empty()

    def next_piece(self) -> float:
        """Wait for the next piece; returns ``known_until()`` (infinite once all are in)."""
        if self.done:
            return self.known_until()
        k = len(self._pieces)
        got: list[list[Any]] | None = None
        if not self._local:
            seconds = (self.bounds[k + 1] - self.bounds[k]) / SAMPLE_RATE
            try:
                got = self._results.get(timeout=WORKER_PATIENCE + 2.0 * seconds)
            except queue.Empty:
                got = None
        if got is not None:
            self._pieces.append([(str(w), int(a), int(b)) for w, a, b in got])
        else:
            if not self._local:
                if self._proc is not None:
                    log.warning("the phone recogniser process stopped; recognising in this one")
                self._stop()
                self._local = True
            # The pieces from the first, so the decoder's state follows the same course.
            self._pieces = _recognize_pieces(self._pcm, self.bounds)
        return self.known_until()

    def phones(self) -> list[TimedPhone]:
        return _phones_of(self._pieces, self.bounds, self.audio.duration)

    def plausible(self) -> bool:
        """Whether the phones known so far follow the audio they cover."""
        end = self.bounds[len(self._pieces)]
        covered = Audio(self.audio.samples[:end], SAMPLE_RATE)
        return _plausible(self.phones(), covered)

    def result(self) -> list[TimedPhone] | None:
        """All phones (waiting for the rest), or None when they do not follow the audio."""
        while not self.done:
            self.next_piece()
        return self.phones() if _plausible(self.phones(), self.audio) else None

    # --- life -----------------------------------------------------------------------------------------
    def _stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for thread in self._threads:
            thread.join(timeout=5.0)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> PhoneStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plausible(phones: Sequence[TimedPhone], audio: Audio) -> bool:
    """Whether recognised phones look like speech the recogniser followed."""
    speech = _speech_seconds(audio)
    spoken = [p for p in phones if p.phone != "SIL"]
    voiced = sum(p.end - p.start for p in spoken)
    if speech < 0.15:
        # Next to nothing audible: any phones found are noise.
        return False
    if voiced < 0.25 * speech:
        log.info("recogniser found %.2f s of phones in %.2f s of sound: not following", voiced, speech)
        return False
    rate = len(spoken) / max(voiced, 1e-6)
    if rate > 30.0:  # phones faster than anyone speaks: noise or music
        log.info("recogniser produced %.0f phones/s: not following", rate)
        return False
    return True


def _clip_to(phones: Sequence[TimedPhone], duration: float) -> list[TimedPhone]:
    out = []
    for p in phones:
        if p.start >= duration:
            break
        out.append(TimedPhone(p.phone, p.start, min(p.end, duration)))
    return out


_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def transcript_words(transcript: str) -> list[str]:
    """Lower-case words of a transcript, punctuation dropped ("Don't stop!" -> ["don't", "stop"])."""
    text = transcript.lower().replace("\u2019", "'")
    return _WORD.findall(text)


def align_phones(audio: Audio, transcript: str) -> list[TimedPhone] | None:
    """Force-align a known transcript to speech (pocketsphinx), or None when it cannot.

    Every word must be in CMUdict (digits and unusual names are not); a transcript that does not
    match the audio gives None or a poor alignment, so use it for TTS output and the like.
    """
    words = transcript_words(transcript)
    if not words or len(audio.samples) == 0:
        return None
    try:
        pcm = _pcm16(audio)
        with _lock:
            decoder = _aligner()
            missing = [w for w in words if decoder.lookup_word(w) is None]
            if missing:
                log.info("cannot align: words not in the dictionary: %s", ", ".join(missing[:5]))
                return None
            decoder.set_align_text(" ".join(words))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            decoder.set_alignment()
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            alignment = decoder.get_alignment()
            # (Iterate the flat phone list: walking the word entries' children crashes pocketsphinx 5.)
            entries = [(e.name, e.start, e.duration) for e in alignment.phones()] if alignment else []
    except Exception:
        log.warning("forced alignment failed", exc_info=True)
        return None
    if not entries:
        return None
    phones: list[TimedPhone] = []
    for name, start, duration in entries:
        phone = normalize_phone(name)
        begin = start / FRAME_RATE
        end = (start + duration) / FRAME_RATE
        # The aligner has no optional pauses between most words: a stop or vowel that lasts far
        # longer than any real one has swallowed a pause. Keep a plausible length, the rest is SIL.
        longest = _MAX_VOWEL if phone in _VOWELS else _MAX_CONSONANT
        if phone != "SIL" and end - begin > longest:
            phones.append(TimedPhone(phone, begin, begin + longest))
            phones.append(TimedPhone("SIL", begin + longest, end))
        else:
            phones.append(TimedPhone(phone, begin, end))
    return _clip_to(merge_phones(phones), audio.duration)


_VOWELS = frozenset("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW".split())
