"""Frames + audio -> MP4 (H.264 yuv420p, AAC, +faststart): the only module that talks to the encoder.

OWNER: encoder helper. Interface fixed; bodies to implement.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import numpy as np

from facecast.engine.audio import Audio


class VideoWriter:
    """Streams RGB frames into an encoder running beside us; memory does not grow with length.

    Writes to a temporary file next to ``path`` and renames it into place only when ``close()``
    succeeds; on an exception inside the ``with`` block (or ``abort()``) nothing is left behind.
    """

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float, audio: Audio | None, *, crf: int = 20
    ) -> None:
        raise NotImplementedError

    def write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
