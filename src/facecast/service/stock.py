"""Stock content every account sees: the avatars listed here and every catalog voice.

Seeding is idempotent and runs at server start. To ship another stock avatar, append a
``StockAvatar`` to ``STOCK_AVATARS``. Photo avatars are prepared at start (under a second); video
avatars are made and prepared by the worker, and are listed once ready.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facecast.service.models import AvatarKind


def _write_astronaut(path: Path) -> None:
    """The scikit-image astronaut portrait (Eileen Collins, public domain), as a PNG."""
    import numpy as np
    from PIL import Image
    from skimage import data

    Image.fromarray(np.asarray(data.astronaut())).save(path, format="PNG")


#: What the stock video avatar says in its clip (about 3.5 s with the default voice).
STOCK_CLIP_TEXT = "Hello! I am the Facecast astronaut. Give me something to say."


def _write_astronaut_clip(path: Path) -> None:
    """A short clip of the astronaut speaking, made offline with the engine itself: a stock voice
    speaks ``STOCK_CLIP_TEXT`` and the photo animator moves the portrait (lips, blinks, head motion).
    The clip's own audio does not matter: video avatars discard it."""
    import secrets
    import tempfile

    from facecast.engine import RenderOptions, prepare_avatar, render
    from facecast.errors import FacecastError
    from facecast.speech import DEFAULT_VOICE_ID, stock_voices, synthesize

    voices = [DEFAULT_VOICE_ID] + [v.id for v in stock_voices() if v.id != DEFAULT_VOICE_ID and v.available]
    speech = None
    for voice_id in voices:
        try:
            speech = synthesize(STOCK_CLIP_TEXT, voice_id)
            break
        except FacecastError:
            continue
    if speech is None:
        raise RuntimeError("no stock voice can speak on this machine; the stock video avatar needs one")
    with tempfile.TemporaryDirectory(prefix="facecast-stock-") as tmp:
        portrait = Path(tmp) / "astronaut.png"
        _write_astronaut(portrait)
        pack = prepare_avatar(portrait, size=512)
    # Rendered beside its final name and renamed into place: never half a clip under that name.
    part = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")
    try:
        render(pack, speech.audio, part, phones=speech.phones, options=RenderOptions(seed=3))
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


@dataclass(frozen=True)
class StockAvatar:
    id: str
    name: str
    kind: AvatarKind
    #: The source file's name inside the avatar's folder, and how to write it.
    filename: str
    write_source: Callable[[Path], None]
    #: Its default voice (a catalog voice id); None: the catalog's default voice.
    voice_id: str | None = None


STOCK_AVATARS: list[StockAvatar] = [
    StockAvatar(
        id="astronaut",
        name="Astronaut",
        kind=AvatarKind.PHOTO,
        filename="source.png",
        write_source=_write_astronaut,
    ),
    StockAvatar(
        id="astronaut-video",
        name="Astronaut (video)",
        kind=AvatarKind.VIDEO,
        filename="source.mp4",
        write_source=_write_astronaut_clip,
    ),
]
