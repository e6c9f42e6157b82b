"""A contact sheet of a rendered video: frames spread over the clip plus mouth close-ups, as one PNG.

    .venv/bin/python bench/contact_sheet.py out.mp4 sheet.png [--frames 12] [--source portrait.jpg]

The close-up row shows the mouth of the source picture (when given), of the frame with the widest
opening, of the frame with the tightest closure while the mouth is moving, and of a blink (the eyes
close-up), each labelled with its frame number and opening. For looking at the output after every
engine change (ENGINE.md: look at the frames).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

TILE = 256


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    cv2.putText(tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
    cv2.putText(tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1)
    return tile


def _fit(image: np.ndarray, width: int = TILE) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (width, max(1, int(round(width * h / w)))), interpolation=cv2.INTER_AREA)


def _closeup(frame: np.ndarray, centre: np.ndarray, half: float) -> np.ndarray:
    """A square of side ``2 * half`` around ``centre``, scaled to a tile (edges replicated)."""
    x, y = float(centre[0]), float(centre[1])
    m = np.array([[TILE / (2 * half), 0, -(x - half) * TILE / (2 * half)],
                  [0, TILE / (2 * half), -(y - half) * TILE / (2 * half)]], np.float64)
    return cv2.warpAffine(frame, m, (TILE, TILE), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def read_frames(video: Path) -> list[np.ndarray]:
    with av.open(str(video)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def contact_sheet(
    video: Path, output: Path, n: int = 12, columns: int = 6, source: np.ndarray | None = None
) -> dict[str, int]:
    """Write the sheet; returns the frame indices used for the close-ups."""
    from facecast.engine import face

    frames = read_frames(video)
    picks = np.linspace(0, len(frames) - 1, n).round().astype(int)
    tiles = [_label(_fit(frames[i]), str(i)) for i in picks]
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]

    points = face.track_landmarks(frames, allow_missing=True)
    ok = ~np.isnan(points[:, 0, 0])
    opening = np.where(ok, face.mouth_opening(np.nan_to_num(points)), np.nan)
    ear = np.where(ok, face.eye_aspect_ratio(np.nan_to_num(points)), np.nan)
    used: dict[str, int] = {}
    closeups: list[np.ndarray] = []
    ref = points[int(np.flatnonzero(ok)[0])] if ok.any() else None
    if ref is not None:
        iod = float(face.eye_distance(ref))
        mouth_c = ref[list(face.LIPS), :2].mean(axis=0)
        left, right = face.eye_centers(ref)
        eyes_c = (left + right) / 2.0
        if source is not None:
            src_pts = face.face_landmarks(source).points
            s_iod = float(face.eye_distance(src_pts))
            c = src_pts[list(face.LIPS), :2].mean(axis=0)
            tile = _closeup(source, c, 0.75 * s_iod)
            closeups.append(_label(tile, f"source {face.mouth_opening(src_pts):.2f}"))
        closeups.append(_label(_closeup(frames[0], mouth_c, 0.75 * iod), f"0 rest {opening[0]:.2f}"))
        widest = int(np.nanargmax(opening))
        used["widest"] = widest
        closeups.append(_label(_closeup(frames[widest], mouth_c, 0.75 * iod), f"{widest} widest {opening[widest]:.2f}"))
        # The tightest closure among frames where the mouth moved around it (a p/b/m, not a pause).
        moving = np.convolve(np.nan_to_num(opening) > np.nanmedian(opening), np.ones(9), "same") > 2
        cand = np.flatnonzero(moving & ok)
        if cand.size:
            closed = int(cand[np.nanargmin(opening[cand])])
            used["closed"] = closed
            closeups.append(_label(_closeup(frames[closed], mouth_c, 0.75 * iod), f"{closed} closed {opening[closed]:.2f}"))
        mid = int(np.flatnonzero(ok)[len(np.flatnonzero(ok)) // 2])
        closeups.append(_label(_closeup(frames[mid], mouth_c, 0.75 * iod), f"{mid} mid {opening[mid]:.2f}"))
        blink = int(np.nanargmin(ear))
        used["blink"] = blink
        closeups.append(_label(_closeup(frames[blink], eyes_c, 0.9 * iod), f"{blink} blink {ear[blink]:.2f}"))
        closeups.append(_label(_closeup(frames[blink], mouth_c + np.array([0, 0.6 * iod]), 1.3 * iod), f"{blink} chin"))
        rows.append(np.hstack(closeups[:columns]) if len(closeups) >= columns else np.hstack(closeups))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    output.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(output), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR))
    return used


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--source", type=Path, help="the portrait, for a close-up of its own mouth")
    a = parser.parse_args()
    src = None
    if a.source is not None:
        from facecast.engine.pack import read_image

        src = read_image(a.source)
    print(contact_sheet(a.video, a.output, a.frames, source=src))
