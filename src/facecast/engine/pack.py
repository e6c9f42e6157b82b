"""The avatar pack: everything computed once from a portrait, cached and reused by every render.

``prepare_avatar`` reads and checks the picture, frames it (a head-and-shoulders square, or the
whole picture in full-background mode), and finds the landmarks and the person mask in that framing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facecast.engine import face
from facecast.errors import ImageTooLarge, ImageTooSmall, InvalidInput, NoFaceFound, UnreadableImage

log = logging.getLogger(__name__)

#: Smallest face (inter-ocular distance in source pixels) the animator can work with.
MIN_EYE_DISTANCE_PX = 24
#: Refuse images with more pixels than this before decoding them fully (decompression bombs).
MAX_SOURCE_PIXELS = 50_000_000
#: Smallest picture side accepted.
MIN_IMAGE_SIDE_PX = 64
#: Bumped when the file layout or the meaning of a field changes; older packs fail to load.
PACK_VERSION = 2

#: Face-cropped framing: face-oval width as a fraction of the square, and the eyes' height in it.
CROP_FACE_WIDTH = 0.42
CROP_EYE_LEVEL = 0.40
#: A framing moved or shrunk to stay inside the picture keeps this margin (eye distances) around
#: the face oval.
FIT_FACE_MARGIN = 0.25


@dataclass
class AvatarPack:
    """A prepared photo avatar, in the framing of the output video.

    ``image`` uint8 [H, W, 3] RGB (H and W even); ``landmarks`` float32 [478, 3] in its pixels;
    ``person_mask`` float32 [H, W] in [0, 1]; ``crop_box`` (x0, y0, x1, y1) of the framing in the
    source picture's pixels (in face-cropped mode it may reach past the picture, whose edges were
    then extended); ``full_background`` says which generation mode it was prepared for;
    ``source_size`` is the (width, height) of the picture after EXIF orientation.
    """

    image: np.ndarray
    landmarks: np.ndarray
    person_mask: np.ndarray
    full_background: bool
    crop_box: tuple[int, int, int, int]
    source_size: tuple[int, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the output frames."""
        return int(self.image.shape[1]), int(self.image.shape[0])

    def save(self, path: str | Path) -> None:
        """Write the pack to one ``.npz`` file, atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(
                    fh,
                    version=np.int32(PACK_VERSION),
                    image=np.ascontiguousarray(self.image, dtype=np.uint8),
                    landmarks=np.asarray(self.landmarks, dtype=np.float32),
                    person_mask=np.asarray(self.person_mask, dtype=np.float32),
                    full_background=np.bool_(self.full_background),
                    crop_box=np.asarray(self.crop_box, dtype=np.int64),
                    source_size=np.asarray(self.source_size, dtype=np.int64),
                    warnings=np.array(json.dumps(list(self.warnings))),
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path: str | Path) -> AvatarPack:
        """Read a pack written by ``save``; ``ValueError`` if it is not one (or an older version)."""
        try:
            with np.load(path, allow_pickle=False) as z:
                version = int(z["version"])
                if version != PACK_VERSION:
                    raise ValueError(f"avatar pack {path} has version {version}, expected {PACK_VERSION}")
                crop = tuple(int(v) for v in z["crop_box"])
                src = tuple(int(v) for v in z["source_size"])
                return cls(
                    image=z["image"],
                    landmarks=z["landmarks"],
                    person_mask=z["person_mask"],
                    full_background=bool(z["full_background"]),
                    crop_box=(crop[0], crop[1], crop[2], crop[3]),
                    source_size=(src[0], src[1]),
                    warnings=[str(w) for w in json.loads(str(z["warnings"]))],
                )
        except (KeyError, OSError, EOFError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path} is not a readable avatar pack: {exc}") from exc


# =================================================================================================
# Reading pictures
# =================================================================================================
def _too_large(w: int, h: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"The picture is too large ({w}x{h} = {w * h / 1e6:.0f} megapixels); the limit is "
        f"{MAX_SOURCE_PIXELS / 1e6:.0f} megapixels. Scale it down and try again."
    )


def _pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Any PIL mode as RGB uint8; transparency is composited over white."""
    mode = im.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        return np.asarray(white.convert("RGB"))
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im).astype(np.float64)
        if mode.startswith("I;16"):
            top = 65535.0
        else:
            hi = float(np.nanmax(a)) if a.size else 1.0
            top = (
                1.0
                if (mode == "F" and hi <= 1.0)
                else 255.0
                if hi <= 255.0
                else 65535.0
                if hi <= 65535.0
                else hi
            )
        g = np.clip(np.nan_to_num(a) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(g[:, :, None], 3, axis=2)
    if mode == "RGB":
        return np.asarray(im)
    if mode == "1":
        im = im.convert("L")
    return np.asarray(im.convert("RGB"))


def read_image(path: str | Path) -> np.ndarray:
    """A picture file as RGB uint8 [H, W, 3], upright (EXIF orientation applied).

    The pixel count is checked from the header before decoding (``ImageTooLarge``); anything PIL
    cannot decode is ``UnreadableImage`` naming the file.
    """
    p = Path(path)
    name = p.name or str(p)
    if not p.is_file():
        raise UnreadableImage(f"Cannot read the picture '{name}': there is no such file.")
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                w, h = im.size
                if w * h > MAX_SOURCE_PIXELS:
                    raise _too_large(w, h)
                im.load()
                upright = ImageOps.exif_transpose(im) or im
                rgb = _pil_to_rgb(upright)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(
            f"The picture '{name}' is too large to decode safely; the limit is "
            f"{MAX_SOURCE_PIXELS / 1e6:.0f} megapixels."
        ) from exc
    except UnidentifiedImageError as exc:
        raise UnreadableImage(
            f"'{name}' is not a picture Facecast can read; use a JPEG, PNG or WebP photo."
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError, TypeError) as exc:
        raise UnreadableImage(f"The picture '{name}' is damaged or truncated and cannot be decoded.") from exc
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _array_to_rgb(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or a.size == 0:
        raise UnreadableImage(f"The picture must be an RGB array of shape [H, W, 3]; got shape {a.shape}.")
    if a.shape[0] * a.shape[1] > MAX_SOURCE_PIXELS:
        raise _too_large(a.shape[1], a.shape[0])
    if a.dtype == np.bool_:
        f = a.astype(np.float64)
    elif a.dtype == np.uint8:
        f = a
    elif a.dtype == np.uint16:
        f = a.astype(np.float64) / 65535.0
    elif np.issubdtype(a.dtype, np.floating):
        f = np.nan_to_num(a.astype(np.float64))
        if f.max(initial=0.0) > 1.0:
            f = f / 255.0
    elif np.issubdtype(a.dtype, np.integer):
        f = a.astype(np.float64) / 255.0
    else:
        raise UnreadableImage(f"The picture array has an unsupported type {a.dtype}.")
    if f.dtype != np.uint8:
        f = np.clip(f * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if f.ndim == 2:
        f = np.repeat(f[:, :, None], 3, axis=2)
    if f.shape[2] == 4:
        alpha = f[:, :, 3:4].astype(np.float32) / 255.0
        f = (f[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(f)


# =================================================================================================
# Framing
# =================================================================================================
def _check_size(size: int, name: str) -> None:
    if not (64 <= size <= 4096) or size % 2:
        raise InvalidInput(
            f"The {name} must be an even number of pixels from 64 to 4096; got {size}.", field=name
        )


def crop_box_for(points: np.ndarray) -> tuple[int, int, int, int]:
    """The square head-and-shoulders framing (x0, y0, x1, y1) in the pixels of ``points``.

    The face oval spans ``CROP_FACE_WIDTH`` of the square's width, measured along the eye line,
    and centred; the eyes sit at ``CROP_EYE_LEVEL`` of its height from the top.
    """
    p = np.asarray(points, dtype=np.float64)
    left, right = face.eye_centers(p)
    mid = (left + right) / 2
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    c, s = math.cos(angle), math.sin(angle)
    oval = p[list(face.FACE_OVAL), :2] - mid
    along = oval @ np.array([c, s])  # coordinate along the eye line
    width = float(along.max() - along.min())
    centre_x = float(mid[0] + c * (along.max() + along.min()) / 2)
    side = max(int(round(width / CROP_FACE_WIDTH)), 2)
    x0 = int(round(centre_x - side / 2))
    y0 = int(round(mid[1] - CROP_EYE_LEVEL * side))
    return x0, y0, x0 + side, y0 + side


def fit_inside(
    box: tuple[int, int, int, int], points: np.ndarray, width: int, height: int
) -> tuple[int, int, int, int]:
    """``box`` (a square framing) shrunk to fit a ``width`` x ``height`` picture and moved inside it,
    as near its place as the picture allows and keeping the face (its oval with a margin) in view
    where it can: a face near the edge is framed tighter or off-centre, never padded past the
    picture (a padded border reads as a picture in a picture, and mirrors or smears what it fills)."""
    x0, y0, x1, y1 = box
    side = min(x1 - x0, width, height)
    oval = np.asarray(points, dtype=np.float64)[list(face.FACE_OVAL), :2]
    margin = FIT_FACE_MARGIN * float(face.eye_distance(points))
    lo = oval.min(axis=0) - margin
    hi = oval.max(axis=0) + margin

    def place(centre: float, lo_face: float, hi_face: float, limit: int) -> int:
        start = int(round(centre - side / 2.0))
        start = min(start, int(math.floor(lo_face)))  # the face in view ...
        start = max(start, int(math.ceil(hi_face)) - side)
        return min(max(start, 0), limit - side)  # ... inside the picture

    nx0 = place((x0 + x1) / 2.0, lo[0], hi[0], width)
    ny0 = place((y0 + y1) / 2.0, lo[1], hi[1], height)
    return nx0, ny0, nx0 + side, ny0 + side


def _valid_rect(box: tuple[int, int, int, int], w: int, h: int, size: int) -> tuple[int, int, int, int]:
    """Where the picture itself lands in the ``size`` x ``size`` output of ``render_crop``."""
    x0, y0, x1, y1 = box
    scale = size / (x1 - x0)
    vx0, vy0, vx1, vy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if vx1 <= vx0 or vy1 <= vy0:
        raise ValueError("the framing does not overlap the picture")
    px0, py0 = int(round((vx0 - x0) * scale)), int(round((vy0 - y0) * scale))
    px1, py1 = int(round((vx1 - x0) * scale)), int(round((vy1 - y0) * scale))
    return px0, py0, max(min(px1, size), px0 + 1), max(min(py1, size), py0 + 1)


def render_crop(rgb: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """The square ``box`` of ``rgb`` at ``size`` x ``size``. Parts past the picture (only when
    ``fit_inside`` could not avoid them) continue it by reflection: its own texture and light, with
    no blur band, no flat bar and no seam."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    scale = size / (x1 - x0)
    px0, py0, px1, py1 = rect = _valid_rect(box, w, h, size)
    sub = rgb[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    inner = cv2.resize(sub, (px1 - px0, py1 - py0), interpolation=interp)
    if rect == (0, 0, size, size):
        return np.ascontiguousarray(inner)
    top, bottom, left, right = py0, size - py1, px0, size - px1
    out = inner
    # Reflection cannot reach further than the picture is long: repeat it until it covers the pad.
    while top or bottom or left or right:
        ih, iw = out.shape[:2]
        t, b_, lt, r = min(top, ih - 1), min(bottom, ih - 1), min(left, iw - 1), min(right, iw - 1)
        out = cv2.copyMakeBorder(out, t, b_, lt, r, cv2.BORDER_REFLECT_101)
        top, bottom, left, right = top - t, bottom - b_, left - lt, right - r
    return np.ascontiguousarray(out)


def _full_frame(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, tuple[int, int, int, int], float]:
    """The whole picture, long side at most ``max_side``, even dimensions. Returns image, box, scale."""
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(w, h))
    if scale >= 1.0:
        ew, eh = w - w % 2, h - h % 2
        return np.ascontiguousarray(rgb[:eh, :ew]), (0, 0, ew, eh), 1.0
    ow = max(2, 2 * int(round(w * scale / 2)))
    oh = max(2, 2 * int(round(h * scale / 2)))
    out = cv2.resize(rgb, (ow, oh), interpolation=cv2.INTER_AREA)
    return out, (0, 0, w, h), ow / w


def _to_frame(
    points: np.ndarray, box: tuple[int, int, int, int], scale_x: float, scale_y: float
) -> np.ndarray:
    p = np.array(points, dtype=np.float32)
    p[:, 0] = (p[:, 0] - box[0]) * scale_x
    p[:, 1] = (p[:, 1] - box[1]) * scale_y
    p[:, 2] *= scale_x
    return p


def _landmarks_in_frame(image: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Landmarks measured on the output framing itself, of the face expected at ``expected``."""
    try:
        faces = face.find_faces(image)
    except NoFaceFound:  # pragma: no cover - find_faces does not raise; kept for safety
        faces = []
    target = expected[:468, :2].mean(axis=0)
    iod = float(face.eye_distance(expected))
    best = min(faces, key=lambda f: float(np.linalg.norm(f[:468, :2].mean(axis=0) - target)), default=None)
    if best is None or np.linalg.norm(best[:468, :2].mean(axis=0) - target) > 0.5 * iod:
        log.info("face not found again in the output framing; using the transformed landmarks")
        return expected.astype(np.float32)
    return best


def _usable_face(rgb: np.ndarray) -> face.FaceLandmarks:
    """The largest face of a picture, if the animator can work with it; else the typed reason."""
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE_PX:
        raise ImageTooSmall(
            f"The picture is too small ({w}x{h} pixels); it must be at least {MIN_IMAGE_SIDE_PX} pixels "
            f"on its short side, with the eyes at least {MIN_EYE_DISTANCE_PX} pixels apart."
        )
    found = face.face_landmarks(rgb)
    iod = float(face.eye_distance(found.points))
    if iod < MIN_EYE_DISTANCE_PX:
        raise ImageTooSmall(
            f"The face is too small: the eyes are {iod:.0f} pixels apart, and at least "
            f"{MIN_EYE_DISTANCE_PX} are needed. Use a larger photo or one taken closer to the face."
        )
    return found


@dataclass(frozen=True)
class PortraitCheck:
    """What ``check_portrait`` found: the picture's upright size, the face used (its landmarks'
    bounding box, x0, y0, x1, y1 in picture pixels), how far apart its eyes are, and notes."""

    width: int
    height: int
    face_box: tuple[float, float, float, float]
    eye_distance: float
    warnings: tuple[str, ...]


def check_portrait(image: str | Path | np.ndarray) -> PortraitCheck:
    """Whether a portrait can become an avatar, without preparing it: the face ``prepare_avatar``
    would use, or the error it would raise (``UnreadableImage``, ``ImageTooLarge``,
    ``ImageTooSmall``, ``NoFaceFound``). Cheap enough for a preview before upload."""
    rgb = _array_to_rgb(image) if isinstance(image, np.ndarray) else read_image(image)
    h, w = rgb.shape[:2]
    found = _usable_face(rgb)
    xy = found.points[:, :2]
    x0, y0 = (float(v) for v in np.clip(xy.min(axis=0), 0, None))
    x1, y1 = float(min(xy[:, 0].max(), w)), float(min(xy[:, 1].max(), h))
    return PortraitCheck(
        width=w,
        height=h,
        face_box=(x0, y0, x1, y1),
        eye_distance=float(face.eye_distance(found.points)),
        warnings=found.warnings,
    )


def prepare_avatar(
    image: str | Path | np.ndarray,
    *,
    full_background: bool = False,
    size: int = 512,
    max_side: int = 1920,
) -> AvatarPack:
    """Prepare a portrait for rendering.

    Face-cropped (default): a ``size`` x ``size`` square of head and shoulders around the face.
    Full background: the whole picture, long side capped at ``max_side``, dimensions made even.
    Raises ``UnreadableImage``, ``ImageTooLarge``, ``ImageTooSmall`` (the message says the
    minimum), ``NoFaceFound``; several faces use the largest and add a warning.
    """
    if full_background:
        if not 64 <= max_side <= 8192:
            raise InvalidInput(
                f"The max_side must be from 64 to 8192 pixels; got {max_side}.", field="max_side"
            )
    else:
        _check_size(size, "size")
    rgb = _array_to_rgb(image) if isinstance(image, np.ndarray) else read_image(image)
    h, w = rgb.shape[:2]
    found = _usable_face(rgb)
    notes = list(found.warnings)
    iod = float(face.eye_distance(found.points))

    if full_background:
        out, box, scale = _full_frame(rgb, max_side)
        sy = out.shape[0] / (box[3] - box[1])
        if iod * scale < MIN_EYE_DISTANCE_PX:
            raise ImageTooSmall(
                f"The face is too small in the whole picture at {out.shape[1]}x{out.shape[0]}: the eyes "
                f"would be {iod * scale:.0f} pixels apart, and at least {MIN_EYE_DISTANCE_PX} are needed. "
                f"Use the face-cropped mode, or a picture in which the face is larger."
            )
        expected = _to_frame(found.points, box, scale, sy)
    else:
        box = fit_inside(crop_box_for(found.points), found.points, w, h)
        side = box[2] - box[0]
        out = render_crop(rgb, box, size)
        scale = size / side
        expected = _to_frame(found.points, box, scale, scale)
        if scale > 2.5:  # up to 2.5x an upscale stays acceptably sharp at 512²
            notes.append(
                f"The face is small in the picture (eyes {iod:.0f} pixels apart); it was enlarged "
                f"{scale:.1f}x, so the video will look soft. A larger photo gives a sharper result."
            )

    # Landmarks measured on the output framing itself (more accurate than transforming them),
    # unless the framing is the picture itself.
    points = found.points if full_background and scale == 1.0 else _landmarks_in_frame(out, expected)
    mask = face.person_mask(out, points)
    return AvatarPack(
        image=out,
        landmarks=points.astype(np.float32),
        person_mask=mask.astype(np.float32),
        full_background=full_background,
        crop_box=(int(box[0]), int(box[1]), int(box[2]), int(box[3])),
        source_size=(w, h),
        warnings=notes,
    )
