"""Stored speeches: the audio (16-bit WAV) and a JSON of its words, phones, voice and text, kept
under an id derived from (voice, text, engine version), so asking twice speaks once.

Files are written to a temporary name and renamed into place, the JSON last: a speech whose JSON
exists is complete, and two processes making the same speech at once cannot corrupt it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from facecast.engine.audio import Audio
from facecast.engine.phones import TimedPhone
from facecast.errors import UnknownSpeech
from facecast.speech.catalog import VoiceDirs
from facecast.speech.engines import get_engine
from facecast.speech.models import Speech, TimedWord, Voice
from facecast.speech.synthesis import resolve_voice, synthesize
from facecast.speech.text import DEFAULT_MAX_CHARS, check_text

#: Bump when stored speeches made by the same engine would now come out differently.
STORE_FORMAT = 1
_ID = re.compile(r"[0-9a-f]{32}")
_STRIPES = 16


class SpeechStore:
    """A folder of speeches, keyed by ``speech_id(voice, text)``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        # Striped locks: the same speech is never made twice at once in this process.
        self._locks = tuple(threading.Lock() for _ in range(_STRIPES))

    # --- ids and paths ----------------------------------------------------------------------------
    def speech_id(self, voice: str | Voice | None, text: str, *, extra_dirs: VoiceDirs = ()) -> str:
        """The id the speech of this text by this voice has (or will have)."""
        resolved = resolve_voice(voice, extra_dirs)
        return self._key(resolved, text.strip())

    def _key(self, voice: Voice, text: str) -> str:
        version = get_engine(voice.engine).voice_version(voice)
        material = json.dumps([STORE_FORMAT, voice.id, version, text], ensure_ascii=False)
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]

    def _paths(self, speech_id: str) -> tuple[Path, Path]:
        folder = self.root / speech_id[:2]
        return folder / f"{speech_id}.wav", folder / f"{speech_id}.json"

    def audio_path(self, speech_id: str) -> Path:
        """The stored WAV of a speech (``UnknownSpeech`` when there is none)."""
        self._check_id(speech_id)
        wav, meta = self._paths(speech_id)
        if not meta.is_file():
            raise UnknownSpeech(f"No speech with id {speech_id!r}.")
        return wav

    def exists(self, speech_id: str) -> bool:
        return bool(_ID.fullmatch(speech_id)) and self._paths(speech_id)[1].is_file()

    @staticmethod
    def _check_id(speech_id: str) -> None:
        if not isinstance(speech_id, str) or not _ID.fullmatch(speech_id):
            raise UnknownSpeech(f"No speech with id {speech_id!r}.")

    # --- use --------------------------------------------------------------------------------------
    def get_or_create(
        self,
        voice_id: str | Voice | None,
        text: str,
        *,
        max_chars: int = DEFAULT_MAX_CHARS,
        extra_dirs: VoiceDirs = (),
    ) -> tuple[str, Speech]:
        """The stored speech of ``text`` by the voice, made (and stored) if it is not there yet."""
        checked = check_text(text, max_chars=max_chars)
        voice = resolve_voice(voice_id, extra_dirs)
        speech_id = self._key(voice, checked)
        with self._lock_for(speech_id):
            if self.exists(speech_id):
                return speech_id, self.load(speech_id)
            speech = synthesize(checked, voice, max_chars=max_chars, extra_dirs=extra_dirs)
            self._write(speech_id, speech, version=get_engine(voice.engine).voice_version(voice))
        return speech_id, self.load(speech_id)

    def load(self, speech_id: str) -> Speech:
        """A stored speech by id (``UnknownSpeech`` when there is none)."""
        self._check_id(speech_id)
        wav, meta_path = self._paths(speech_id)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            samples, rate = sf.read(str(wav), dtype="float32", always_2d=False)
        except FileNotFoundError:
            raise UnknownSpeech(f"No speech with id {speech_id!r}.") from None
        if samples.ndim > 1:
            samples = samples.mean(axis=1)
        return Speech(
            audio=Audio(samples=np.ascontiguousarray(samples, dtype=np.float32), sample_rate=int(rate)),
            phones=[TimedPhone(p, float(a), float(b)) for p, a, b in meta["phones"]],
            words=[TimedWord(w, float(a), float(b)) for w, a, b in meta["words"]],
            voice_id=meta["voice_id"],
            text=meta["text"],
        )

    def _lock_for(self, speech_id: str) -> threading.Lock:
        return self._locks[int(speech_id[:4], 16) % _STRIPES]

    def _write(self, speech_id: str, speech: Speech, *, version: str) -> None:
        wav, meta_path = self._paths(speech_id)
        wav.parent.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "format": STORE_FORMAT,
            "id": speech_id,
            "voice_id": speech.voice_id,
            "engine_version": version,
            "text": speech.text,
            "sample_rate": speech.audio.sample_rate,
            "duration": speech.audio.duration,
            "words": [[w.word, round(w.start, 6), round(w.end, 6)] for w in speech.words],
            "phones": [[p.phone, round(p.start, 6), round(p.end, 6)] for p in speech.phones],
        }
        _atomic(
            wav,
            lambda f: sf.write(
                f, speech.audio.samples, speech.audio.sample_rate, subtype="PCM_16", format="WAV"
            ),
        )
        data = json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8")
        _atomic(meta_path, lambda f: f.write(data))


def _atomic(path: Path, write: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
