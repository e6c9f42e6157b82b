"""Stock content every account sees: the avatars listed here and every catalog voice.

Seeding is idempotent and runs at server start. To ship another stock avatar, append a
``StockAvatar`` to ``STOCK_AVATARS`` (a video avatar for issue 5 goes here too, with kind VIDEO).
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
]
