"""What a live session's helper processes run: rendering frames of a photo avatar (its animator
built once per process and kept) and speaking sentences (the voice's model loaded once).

Plain functions of picklable arguments, for a ``ProcessPoolExecutor``: the web process's event
loop never renders or synthesises.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from facecast.live.planner import LivePart, plan_audio, plan_speech

log = logging.getLogger(__name__)

#: Animators each render process keeps (one per avatar it serves; a 512² one holds ~30 MB).
ANIMATORS_KEPT = 4

_animators: OrderedDict[str, object] = OrderedDict()

FrameRow = tuple[np.ndarray, float, np.ndarray]


def _animator(pack_path: str) -> object:
    from facecast.engine import AvatarPack, PhotoAnimator

    found = _animators.get(pack_path)
    if found is None:
        found = PhotoAnimator(AvatarPack.load(pack_path))
        _animators[pack_path] = found
        while len(_animators) > ANIMATORS_KEPT:
            _animators.popitem(last=False)
    _animators.move_to_end(pack_path)
    return found


def warm_renderer(pack_path: str) -> tuple[int, int]:
    """Build (and keep) the animator of ``pack_path`` in this process; (width, height) of its frames."""
    animator = _animator(pack_path)
    size: tuple[int, int] = animator.size  # type: ignore[attr-defined]
    return size


def render_frames(pack_path: str, rows: Sequence[FrameRow]) -> list[np.ndarray]:
    """RGB uint8 frames, one per (mouth row, blink, head row)."""
    animator = _animator(pack_path)
    return [animator.frame(mouth, blink, head) for mouth, blink, head in rows]  # type: ignore[attr-defined]


def process_id() -> int:
    return os.getpid()


def preload_voice(voice_id: str, extra_dirs: Sequence[str] = ()) -> None:
    """Load a voice's model in this process (the Piper model takes a second or two)."""
    from facecast.speech.synthesis import preload

    preload(voice_id, tuple(Path(d) for d in extra_dirs))


def split_sentences(text: str, voice_id: str, max_chars: int, extra_dirs: Sequence[str] = ()) -> list[str]:
    """The sentences the voice will speak one by one; raises ``InvalidText``/``UnknownVoice`` now."""
    from facecast.speech.synthesis import plan, resolve_voice

    voice = resolve_voice(voice_id, tuple(Path(d) for d in extra_dirs))
    return [chunk.spoken for chunk in plan(text, voice, max_chars=max_chars)]


def speak_sentence(sentence: str, voice_id: str, extra_dirs: Sequence[str] = ()) -> LivePart:
    """One sentence spoken and planned for the live stream."""
    from facecast.speech.synthesis import iter_synthesize, join_speeches

    parts = list(iter_synthesize(sentence, voice_id, extra_dirs=tuple(Path(d) for d in extra_dirs)))
    speech = join_speeches(parts)
    return plan_speech(speech.audio, speech.phones)


def plan_uploaded_audio(path: str, max_seconds: float) -> LivePart:
    """An uploaded clip decoded and planned (its mouth follows the loudness)."""
    from facecast.engine import load_audio

    return plan_audio(load_audio(path, max_seconds=max_seconds))
