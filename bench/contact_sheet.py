"""A contact sheet of a rendered video: frames spread over the clip plus mouth close-ups, as one PNG.

    .venv/bin/python bench/contact_sheet.py out.mp4 sheet.png [--frames 12]

For looking at the output after every engine change (ENGINE.md: look at the frames).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np


def contact_sheet(video: Path, output: Path, n: int = 12, columns: int = 6) -> None:
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    picks = np.linspace(0, len(frames) - 1, n).round().astype(int)
    tiles = []
    for index in picks:
        frame = frames[index]
        h, w = frame.shape[:2]
        tile = cv2.resize(frame, (256, int(256 * h / w)), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, str(index), (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1)
        tiles.append(tile)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    cv2.imwrite(str(output), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--frames", type=int, default=12)
    a = parser.parse_args()
    contact_sheet(a.video, a.output, a.frames)
