"""The inside of the mouth: the person's look (teeth, gum, cavity, tongue colours), lips snapped to a
portrait's teeth, and the painter that draws teeth, cavity and tongue within the inner-lip contour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from facecast.engine.face import FaceFrame
from facecast.engine.rig import (
    _JAW,
    _LOWER,
    _TONGUE,
    _WIDTH,
    GUM_ABOVE,
    JAW_DROP,
    LOWER_DROP,
    TEETH_SHOW,
    FaceRig,
    _as_points,
    _interp_curve,
    _smoothstep,
    mouth_vector,
)

#: Lower teeth showing above the lower lip when the jaw opens wide / the lower lip drops.
LOWER_TEETH_SHOW = 0.03
#: Projected widths of the upper teeth from the middle out (incisors, lateral, canine, premolars)
#: and how much shorter each is than the front ones; the same for the lower teeth.
UPPER_TEETH_WIDTHS = (0.125, 0.095, 0.08, 0.065, 0.055, 0.05)
UPPER_TEETH_SHORTER = (0.0, 0.01, 0.004, 0.012, 0.016, 0.02)
LOWER_TEETH_WIDTHS = (0.075, 0.07, 0.07, 0.06, 0.055)
LOWER_TEETH_SHORTER = (0.0, 0.003, 0.0, 0.008, 0.012)
#: Light on the teeth by their distance from the middle: the side teeth turn away along the arch,
#: into the mouth's shadow.
TEETH_RECEDE_AT = (0.0, 0.1, 0.2, 0.28, 0.36, 0.44, 0.52)
TEETH_RECEDE = (1.0, 0.97, 0.87, 0.7, 0.5, 0.34, 0.2)
#: Median saturation of skin and lips at or under which a photo counts as greyscale, and from
#: which on it counts as a full colour photo (faded, sepia or tinted ones lie between).
GREY_SATURATION = 0.03
COLOUR_SATURATION = 0.12
#: Rest state of a portrait's mouth: under this gap (face units) it is closed; with more than this
#: share of its opening dark, or a gap over this, it was caught mid-word.
CLOSED_GAP = 0.03
OPEN_DARK_SHARE = 0.3
MID_WORD_GAP = 0.25
#: The lower teeth are in the upper ones' and the upper lip's shadow.
LOWER_TEETH_DIM = 0.62
#: Drawn teeth: warm ivory relative to the scene's white, and their brightness relative to the skin.
IVORY = (1.0, 0.94, 0.8)
TEETH_OVER_SKIN = 1.3


# =================================================================================================
# The inside of the mouth
# =================================================================================================
def _luma(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _poly_mask(shape: tuple[int, int], poly: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Anti-aliased filled polygon, uint8 0..255, in a rectangle whose top-left is ``origin``."""
    m = np.zeros(shape, dtype=np.uint8)
    pts = np.round((np.asarray(poly, dtype=np.float64) - origin) * 16.0).astype(np.int32)
    cv2.fillPoly(m, [pts], (255,), cv2.LINE_AA, 4)
    return m


def _teeth_shape(
    u: np.ndarray, widths: Sequence[float], shorter: Sequence[float], notch: float, iod: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A row of teeth symmetric about u = 0 (face units), per pixel column: the light on it (1 in
    front, falling off along the arch and on each tooth's rounded sides, 0 past the last tooth),
    where the gaps between the teeth are (1 on a gap, a soft line about a pixel wide) and how much
    shorter the tooth is than the front ones (rounded corners, so the edge shows small notches)."""
    au = np.abs(u)
    bounds = np.concatenate([[0.0], np.cumsum(widths)])
    k = np.clip(np.searchsorted(bounds, au, side="right") - 1, 0, len(widths) - 1)
    w = np.asarray(widths, dtype=np.float32)[k]
    s = np.clip(2.0 * (au - bounds[k]) / w - 1.0, -1.0, 1.0)
    gap = np.minimum(np.abs(au - bounds[k]), np.abs(bounds[k + 1] - au))
    seam = np.exp(-((gap / max(0.006, 0.6 / iod)) ** 2))
    beyond = _smoothstep(float(bounds[-1]) - 0.03, float(bounds[-1]) + 0.02, au)
    light = np.interp(au, TEETH_RECEDE_AT, TEETH_RECEDE) * (1.0 - 0.06 * s * s) * (1.0 - beyond)
    short = np.asarray(shorter, dtype=np.float32)[k] + notch * s**4
    return light.astype(np.float32), seam.astype(np.float32), short.astype(np.float32)


def colourfulness(pixels: np.ndarray) -> float:
    """How much colour painted parts may carry, 0 (a greyscale photo) .. 1 (a colour photo), from
    the saturation of ``pixels`` [N, 3] (skin and lips: in colour photos they are never grey)."""
    px = np.asarray(pixels, dtype=np.float32).reshape(-1, 3)
    top = px.max(axis=1)
    sat = float(np.median((top - px.min(axis=1)) / np.maximum(top, 1.0)))
    return float(np.clip((sat - GREY_SATURATION) / (COLOUR_SATURATION - GREY_SATURATION), 0.0, 1.0))


def _scene_white(image: np.ndarray, skin_luma: float) -> tuple[np.ndarray, float | None]:
    """The colour of white in this picture (chroma at luma 1) from its bright, nearly grey pixels
    (a collar, white hair, a wall), and their luma; a neutral guess and None when it has none."""
    h, w = image.shape[:2]
    f = min(1.0, 160.0 / max(h, w))
    small = image if f >= 1.0 else cv2.resize(image, (max(int(w * f), 1), max(int(h * f), 1)), interpolation=cv2.INTER_AREA)
    px = small.reshape(-1, 3).astype(np.float32)
    lum = _luma(px)
    top = px.max(axis=1)
    sat = (top - px.min(axis=1)) / np.maximum(top, 1.0)
    cand = (sat < 0.2) & (lum > max(1.1 * skin_luma, 60.0)) & (top < 250.0)
    if cand.sum() < max(20, 0.003 * len(px)):
        return np.ones(3, np.float32), None
    sel, sel_l = px[cand], lum[cand]
    bright = sel_l >= np.median(sel_l)
    chroma = np.median(sel[bright] / sel_l[bright, None], axis=0)
    return (chroma / float(_luma(chroma))).astype(np.float32), float(np.median(sel_l))


def _drawn_teeth_colour(skin: np.ndarray, white: np.ndarray, white_luma: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Warm ivory under the scene's light, and the neutral the mouth's shadows tend to.

    The skin's neutral is the skin's hue, mostly desaturated: teeth are never bluer or greener than
    it (a cold cast must not make them grey-blue), nor yellower than a warm ivory."""
    skin_l = max(float(_luma(skin)), 1.0)
    skin_c = np.maximum(np.asarray(skin, dtype=np.float64), 1.0) / skin_l
    neutral = skin_c**0.15
    neutral = neutral / float(_luma(neutral))
    c = (np.asarray(white, dtype=np.float64) * np.asarray(IVORY)) ** 0.85 * skin_c**0.15
    g = min(max(c[1] / c[0], 0.8), neutral[1] / neutral[0])
    b = min(max(c[2] / c[0], 0.62), neutral[2] / neutral[0], g)
    c = np.array([1.0, g, b])
    level = float(np.clip(TEETH_OVER_SKIN * skin_l, 45.0, 232.0))
    if white_luma is not None:
        level = min(level, max(0.95 * white_luma, skin_l))
    teeth = c / float(_luma(c)) * level
    return teeth.astype(np.float32), neutral.astype(np.float32)


@dataclass(frozen=True)
class MouthLook:
    """Colours of the inside of one person's mouth (RGB float) and whether the portrait shows teeth.

    ``neutral`` (chroma at luma 1) is what the mouth's colours tend to in shadow: the skin's hue,
    mostly desaturated."""

    teeth: np.ndarray
    gum: np.ndarray
    cavity_edge: np.ndarray
    cavity_deep: np.ndarray
    tongue: np.ndarray
    has_teeth: bool
    neutral: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))

    @classmethod
    def sample(cls, image: np.ndarray, landmarks: np.ndarray, rig: FaceRig) -> MouthLook:
        p = _as_points(landmarks)
        h, w = image.shape[:2]
        outer = p[rig.outer_upper + rig.outer_lower[::-1][1:-1], :2]
        inner = p[rig.inner_upper + rig.inner_lower[::-1][1:-1], :2]
        iod = FaceFrame.of(p).iod
        x0, y0 = np.maximum(np.floor(outer.min(axis=0) - 0.3 * iod).astype(int), 0)
        x1, y1 = np.ceil(outer.max(axis=0) + 0.3 * iod).astype(int)
        x1, y1 = min(int(x1), w), min(int(y1), h)
        crop = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32)
        shape = (y1 - y0, x1 - x0)
        m_out = _poly_mask(shape, outer, (x0, y0))
        m_in = _poly_mask(shape, inner, (x0, y0))
        k = np.ones((3, 3), np.uint8)
        lips = ((m_out > 128) & (cv2.dilate(m_in, k) < 20)).ravel()
        opening = (cv2.erode(m_in, k) > 200).ravel()
        around = cv2.dilate(m_out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.3 * iod) | 1,) * 2))
        skin = ((around > 128) & (m_out < 20)).ravel()
        skin_rgb = np.median(crop[skin], axis=0) if skin.sum() > 10 else np.array([190.0, 150.0, 130.0])
        lip_px = crop[lips] if lips.sum() > 10 else crop[skin] if skin.sum() > 10 else crop
        lip_l = _luma(lip_px)
        lip_mean = np.median(lip_px, axis=0)
        dark = lip_px[lip_l <= np.percentile(lip_l, 15)]
        lip_dark = dark.mean(axis=0) if len(dark) else lip_mean * 0.7
        # Keep the cavity warm whatever the lip colour: red >= green >= blue.
        warm = (
            np.array([1.0, 0.62, 0.55]) * float(_luma(lip_dark)) / float(_luma(np.array([1.0, 0.62, 0.55])))
        )
        lip_dark = 0.5 * lip_dark + 0.5 * warm
        skin_l = float(_luma(skin_rgb))
        white, white_l = _scene_white(image, skin_l)
        drawn, neutral = _drawn_teeth_colour(skin_rgb, white, white_l)
        has_teeth = False
        teeth = drawn
        if opening.sum() >= 15:
            px = crop[opening]
            lum = _luma(px)
            sat = (px.max(axis=1) - px.min(axis=1)) / np.maximum(px.max(axis=1), 1.0)
            cand = (lum > max(float(np.median(lip_l)) * 1.12, 0.75 * skin_l)) & (sat < 0.42)
            if cand.sum() >= max(12, 0.25 * opening.sum()):
                has_teeth = True
                bright = px[cand]
                teeth = np.median(bright[_luma(bright) >= np.median(_luma(bright))], axis=0)
        # The tongue: the lips' red, darker and a little greyed by the shadow it lies in.
        tongue = lip_mean * np.array([0.85, 0.6, 0.62])
        tongue = 0.85 * tongue + 0.15 * neutral * float(_luma(tongue))
        # What is painted has no more colour than the photo: a black-and-white portrait gets a grey
        # mouth, a faded one a faded mouth (the warm constants above would add colour it lacks).
        keep = colourfulness(crop[skin | lips]) if (skin | lips).sum() > 10 else 1.0

        def tone(c: np.ndarray) -> np.ndarray:
            c = np.asarray(c, dtype=np.float32)
            return np.asarray(_luma(c) + keep * (c - _luma(c)), dtype=np.float32)

        return cls(
            teeth=tone(teeth),
            gum=tone(0.8 * lip_mean + 0.2 * np.array([200.0, 110.0, 110.0])),
            cavity_edge=tone(lip_dark * 0.55),
            cavity_deep=tone(lip_dark * 0.3),
            tongue=tone(tongue),
            has_teeth=has_teeth,
            neutral=tone(neutral) / max(float(_luma(tone(neutral))), 1e-6),
        )


@dataclass(frozen=True)
class RestMouth:
    """What a portrait's mouth shows at rest: ``kind`` is "closed", "teeth" (a smile showing teeth),
    "parted" (lips a little apart, e.g. a laugh whose teeth are in shadow), "open" (caught mid-word:
    the dark inside shows) or "tongue"; ``gap`` the inner-lip gap at the
    middle (face units); the shares of the opening that are teeth, dark cavity and tongue."""

    kind: str
    gap: float
    teeth: float = 0.0
    dark: float = 0.0
    tongue: float = 0.0

    @property
    def speaking(self) -> bool:
        """The portrait was caught mid-word: at rest it closes its lips, rather than keep them open."""
        return self.kind in ("open", "tongue")


def rest_mouth(image: np.ndarray, landmarks: np.ndarray, rig: FaceRig) -> RestMouth:
    """Read the rest state of a portrait's mouth (landmarks as ``refine_lips`` leaves them)."""
    p = _as_points(landmarks)
    gap = rig.rest_gap(p)
    if gap < CLOSED_GAP:
        return RestMouth("closed", gap)
    h, w = image.shape[:2]
    inner = p[rig.inner_upper + rig.inner_lower[::-1][1:-1], :2]
    x0, y0 = np.maximum(np.floor(inner.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.ceil(inner.max(axis=0)).astype(int) + 3
    x1, y1 = min(int(x1), w), min(int(y1), h)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return RestMouth("closed", gap)
    opening = cv2.erode(_poly_mask((y1 - y0, x1 - x0), inner, (x0, y0)), np.ones((3, 3), np.uint8)) > 128
    if opening.sum() < 12:
        return RestMouth("closed", gap)
    px = image[y0:y1, x0:x1][opening].astype(np.float32)
    lum = _luma(px)
    top = px.max(axis=1)
    sat = (top - px.min(axis=1)) / np.maximum(top, 1.0)
    ref = float(np.percentile(_luma(image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32)), 90))
    teeth = float(((lum > 0.6 * ref) & (sat < 0.35)).mean())
    dark = float((lum < 0.3 * ref).mean())
    # A tongue is pink-red and lit (not the dark cavity), and fills much of the opening.
    red = (px[:, 0] > 1.15 * px[:, 1]) & (sat > 0.25) & (lum > 0.3 * ref) & (lum < 0.75 * ref)
    tongue = float(red.mean())
    if tongue > 0.45 and tongue > 2.0 * teeth:
        kind = "tongue"
    elif dark > OPEN_DARK_SHARE or gap > MID_WORD_GAP:
        # The dark inside shows, or the lips are apart wider than speech holds them: a photo
        # caught mid-word or mid-laugh, which pauses with relaxed, closed lips.
        kind = "open"
    elif teeth > 0.2:
        kind = "teeth"
    else:
        kind = "parted"
    return RestMouth(kind, gap, teeth, dark, tongue)


def refine_lips(image: np.ndarray, landmarks: np.ndarray, rig: FaceRig) -> np.ndarray:
    """Landmarks with the lips snapped to the teeth of a portrait that shows them.

    The face mesh often puts the inner-lip contours of a broad smile on the teeth rather than at
    the lips' edges; then the lips could never close over them. Column by column along the mouth,
    the bright, unsaturated run of teeth between the contours is followed up and down to the lips,
    and both lips move there (their outer contours too, the skin around by the rig's falloff).
    Dark pixels of the opening (its shadowed corners beside the teeth) count as the opening too,
    so pressed lips do not carry them along the closed seam."""
    p = _as_points(landmarks).copy()
    fr = FaceFrame.of(p)
    iod = fr.iod
    h, w = image.shape[:2]
    outer = p[rig.outer_upper + rig.outer_lower[::-1][1:-1], :2]
    x0, y0 = np.maximum(np.floor(outer.min(axis=0) - 0.2 * iod).astype(int), 0)
    x1, y1 = np.ceil(outer.max(axis=0) + 0.2 * iod).astype(int)
    x1, y1 = min(int(x1), w), min(int(y1), h)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return p
    crop = image[y0:y1, x0:x1].astype(np.float32)
    lum = _luma(crop)
    sat = (crop.max(axis=2) - crop.min(axis=2)) / np.maximum(crop.max(axis=2), 1.0)
    score = np.clip(lum * (1.0 - 1.5 * sat), 0, 255).astype(np.uint8)
    region = cv2.dilate(_poly_mask(score.shape, outer, (x0, y0)), np.ones((5, 5), np.uint8)) > 128
    if region.sum() < 30:
        return p
    vals = score[region]
    thr, _ = cv2.threshold(vals.reshape(-1, 1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    is_teeth = (score > thr) & region & (lum > 0.55 * float(np.percentile(lum[region], 95)))
    dark = region & (lum < 0.45 * float(np.median(lum[region])))
    teeth = is_teeth.astype(np.float32)
    opening = (is_teeth | dark).astype(np.float32)
    q = fr.to_face(p[:, :2])
    iu, il = rig.inner_upper, rig.inner_lower
    xs = q[iu[1:-1], 0]
    yu = q[iu[1:-1], 1]
    yl = _interp_curve(xs, q[il, 0], q[il, 1])
    step = 0.25 / iod
    offs = np.arange(-0.15, 0.15 + step, step)
    mids = (yu + yl) / 2.0
    grid = np.stack([np.repeat(xs[:, None], offs.size, 1), mids[:, None] + offs[None, :]], axis=-1)
    xy = fr.to_image(grid) - (x0, y0)
    mx, my = xy[..., 0].astype(np.float32), xy[..., 1].astype(np.float32)
    on_teeth = cv2.remap(teeth, mx, my, cv2.INTER_LINEAR) > 0.5
    samples = cv2.remap(opening, mx, my, cv2.INTER_LINEAR) > 0.5
    zero = int(np.argmin(np.abs(offs)))
    mid = slice(max(zero - 1, 0), zero + 2)
    if int(on_teeth[:, mid].all(axis=1).sum()) < 3:  # the opening must show teeth
        return p
    du = np.zeros(xs.size)
    dl = np.zeros(xs.size)
    for k in range(xs.size):
        col = samples[k]
        if not col[mid].all():
            continue
        up = zero
        while up > 0 and col[up - 1]:
            up -= 1
        down = zero
        while down < col.size - 1 and col[down + 1]:
            down += 1
        # Only outward: the contours are moved off the teeth, never onto them (the teeth's top,
        # shaded by the lip, can read as lip; a glint on the lower lip can read as teeth).
        # A small margin keeps the teeth's ragged edge out of the lips' texture.
        du[k] = np.clip(mids[k] + offs[up] - step - yu[k], -0.1, 0.0) - 0.006
        dl[k] = np.clip(mids[k] + offs[down] + step - yl[k], 0.0, 0.025) + 0.01
    if not (du.any() or dl.any()):
        return p
    kernel = np.array([0.25, 0.5, 0.25])
    du = np.convolve(np.pad(du, 1, mode="edge"), kernel, mode="valid")
    dl = np.convolve(np.pad(dl, 1, mode="edge"), kernel, mode="valid")
    d = np.zeros((len(rig.ctrl), 2))
    pos = rig._pos
    xs_full = np.concatenate([[q[iu[0], 0]], xs, [q[iu[-1], 0]]])
    du_full = np.concatenate([[0.0], du, [0.0]])
    dl_full = np.concatenate([[0.0], dl, [0.0]])
    for chain, corr in (
        (rig.inner_upper, du_full),
        (rig.outer_upper, du_full),
        (rig.inner_lower, dl_full),
        (rig.outer_lower, dl_full),
    ):
        for i in chain[1:-1]:
            d[pos[i], 1] = np.interp(q[i, 0], xs_full, corr)
    full = np.zeros((p.shape[0], 2))
    full[rig.ctrl] = d
    full[rig.free] = rig.spread(d)
    p[:, :2] += fr.vectors_to_image(full)
    return p


class MouthPainter:
    """Paints the inside of the mouth within the target inner-lip contour of a warped picture.

    Upper teeth are a layer fixed to the upper jaw: the picture's own where it shows teeth, or those
    of ``teeth`` = (image, landmarks), another picture of the person with the mouth open (a video
    avatar's), or drawn; the cavity darkens with the distance from the lips; the tongue and the
    lower teeth follow the lower lip. Light falls off into the mouth: under the upper lip, toward
    the corners and through a small or rounded opening.
    """

    def __init__(
        self,
        image: np.ndarray,
        landmarks: np.ndarray,
        rig: FaceRig,
        box: tuple[int, int, int, int],
        *,
        base: np.ndarray | None = None,
        look: MouthLook | None = None,
        teeth: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        p = _as_points(landmarks)
        base_p = p if base is None else _as_points(base)
        self.rig = rig
        self.look = look or (
            MouthLook.sample(image, p, rig) if teeth is None else MouthLook.sample(teeth[0], teeth[1], rig)
        )
        fr = FaceFrame.of(base_p)
        self.frame = fr
        iod = fr.iod
        self.iod = iod
        qb = fr.to_face(base_p[:, :2])
        self.center = (qb[rig.inner_upper[0]] + qb[rig.inner_upper[-1]]) / 2.0
        self.half_width = float(abs(qb[rig.outer_upper[-1], 0] - qb[rig.outer_upper[0], 0]) / 2.0)
        # Paint box: the lips with room for the jaw to open, inside the warp box.
        outer = p[rig.outer_upper + rig.outer_lower, :2]
        lo = outer.min(axis=0) - 0.15 * iod
        hi = outer.max(axis=0) + (JAW_DROP + LOWER_DROP + 0.1) * iod
        bx0, by0, bx1, by1 = box
        self.box = (
            max(int(np.floor(lo[0])), bx0),
            max(int(np.floor(lo[1])), by0),
            min(int(np.ceil(hi[0])) + 1, bx1),
            min(int(np.ceil(hi[1])) + 1, by1),
        )
        x0, y0, x1, y1 = self.box
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        uv = fr.to_face(np.stack([gx, gy], axis=-1)) - self.center
        self.u = uv[..., 0].astype(np.float32)
        self.v = uv[..., 1].astype(np.float32)
        self._teeth_layer(image, p, base_p, teeth)
        self._static: tuple[tuple[np.ndarray, ...], tuple[np.ndarray, np.ndarray]] | None = None

    def keep_static_layers(self) -> None:
        """Compute once, over the whole paint box, what depends on the pixel alone: the lower teeth
        along the row and the tongue's tip at the upper teeth. Worth it for a painter that paints
        many frames (a portrait's); a painter used once computes them where it paints."""
        self._static = (self._lower_teeth_layer(self.u), self._tip_layer(self.u, self.v))

    def _lower_teeth_layer(self, u: np.ndarray) -> tuple[np.ndarray, ...]:
        """Profile, light, gaps and shortening of the lower teeth at ``u``; where they show at all."""
        prof = np.clip(1.0 - (u / (0.55 * self.half_width)) ** 2, 0.0, 1.0) ** 0.8
        recede, seam, short = _teeth_shape(u, LOWER_TEETH_WIDTHS, LOWER_TEETH_SHORTER, 0.006, self.iod)
        return prof, recede, seam, short, prof > 0.05, _smoothstep(0.0, 0.25, recede)

    def _tip_layer(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coverage and colour of the tongue's tip behind the upper teeth."""
        cy = self._teeth_edge_mid + 0.015
        r2 = (u / 0.16) ** 2 + ((v - cy) / 0.045) ** 2
        tip = (np.clip((1.0 - r2) * 1.6, 0.0, 1.0) * 0.85)[..., None]
        return tip, self.look.tongue * (0.8 + 0.2 * np.clip((v - cy) / 0.045, -1.0, 1.0))[..., None]

    def _face_curve(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q = self.frame.to_face(pts) - self.center
        order = np.argsort(q[:, 0], kind="stable")
        return q[order, 0], q[order, 1]

    def _teeth_colour(self, light: np.ndarray, recede: np.ndarray) -> np.ndarray:
        """Drawn teeth under ``light``: darker and greyer toward the back, as they recede."""
        look = self.look
        lit = look.teeth * light[..., None]
        grey = look.neutral * _luma(lit)[..., None]
        return np.asarray(lit + (grey - lit) * (0.35 * (1.0 - recede))[..., None], dtype=np.float32)

    def _in_shadow(self, color: np.ndarray, light: np.ndarray) -> np.ndarray:
        """``color`` where only ``light`` (0..1) of the light reaches: what does is warmed by the
        mouth's own red walls."""
        warm = self._warm - 1.0
        return np.asarray(color * (1.0 + (0.6 * (1.0 - light))[..., None] * warm), dtype=np.float32)

    def _teeth_layer(
        self, image: np.ndarray, p: np.ndarray, base: np.ndarray, teeth: tuple[np.ndarray, np.ndarray] | None
    ) -> None:
        """The upper teeth (and gum above them), fixed to the upper jaw: colour and alpha.

        Drawn teeth hang from the rest line of the upper lip. Where a picture of the person shows
        teeth, its pixels are used instead: the portrait's own opening, stretched a little up
        (under a raised lip) and down (behind the lower lip, which hid the teeth's edge), or the
        upper teeth of the ``teeth`` picture down to their edge."""
        look, rig = self.look, self.rig
        u, v, iod, hw = self.u, self.v, self.iod, self.half_width
        rx, ry = self._face_curve(base[rig.inner_upper, :2])
        rest = np.interp(u, rx, ry).astype(np.float32)  # the upper lip's rest line
        corner = 1.0 - 0.75 * _smoothstep(0.3 * hw, 1.0 * hw, np.abs(u))
        recede, seam, short = _teeth_shape(u, UPPER_TEETH_WIDTHS, UPPER_TEETH_SHORTER, 0.012, iod)
        recede = recede * (1.0 - 0.6 * _smoothstep(0.7 * hw, 1.1 * hw, np.abs(u)))  # a narrow mouth
        edge = rest + TEETH_SHOW - short
        gum = rest - GUM_ABOVE
        # Down each tooth: its neck under the lip a little darker, the biting edge translucent;
        # the gaps between the teeth show most at the edge and at the gum.
        down = np.clip((v - gum) / np.maximum(edge - gum, 1e-3), 0.0, 1.0)
        vertical = (0.9 + 0.1 * _smoothstep(0.0, 0.4, down)) * (1.0 - 0.1 * _smoothstep(0.8, 1.0, down))
        gaps = seam * (0.08 + 0.2 * _smoothstep(0.7, 1.0, down) + 0.12 * (1.0 - _smoothstep(0.0, 0.25, down)))
        static = recede * vertical * (1.0 - gaps)
        color = self._teeth_colour(static, recede)
        is_gum = v < gum
        color[is_gum] = look.gum * (0.6 + 0.4 * corner[is_gum])[:, None]
        alpha = np.clip((edge - v) * iod + 0.5, 0.0, 1.0) * (np.abs(u) < 1.1 * hw) * (v > gum - 0.12)
        alpha = alpha * _smoothstep(0.0, 0.25, recede)  # past the back teeth: the cavity
        blend = np.zeros_like(u)
        edge_c = look.cavity_edge.astype(np.float64)
        self._warm = (np.maximum(edge_c, 1.0) / max(float(_luma(edge_c)), 1.0)).astype(np.float32)
        self._src_inner = None
        if look.has_teeth:
            if teeth is None:
                ux, uy = self._face_curve(p[rig.inner_upper, :2])
                lip_u = np.interp(u, ux, uy).astype(np.float32)
                own, own_alpha, own_edge, blend = self._picture_teeth(image, p, self.frame, self.center, lip_u)
                # A portrait showing its teeth: the paint fades in as the lips leave their place,
                # so the first frames of motion do not pop from the photo to the painted inside.
                self._src_inner = p[rig.inner_upper + rig.inner_lower, :2].copy()
            else:
                tp = _as_points(teeth[1])
                fs = FaceFrame.of(tp)
                qs = fs.to_face(tp[:, :2])
                cs = (qs[rig.inner_upper[0]] + qs[rig.inner_upper[-1]]) / 2.0
                own, own_alpha, own_edge, blend = self._picture_teeth(teeth[0], tp, fs, cs, rest)
            b3 = blend[..., None]
            color = color * (1.0 - b3) + own * b3
            alpha = alpha * (1.0 - blend) + own_alpha * blend
            edge = edge * (1.0 - blend) + own_edge * blend
        self._teeth_color = color.astype(np.float32)
        self._teeth_alpha = alpha.astype(np.float32)
        self._teeth_own = blend.astype(np.float32)[..., None]  # pixels of a picture: their own light
        self._teeth_light = (static * (1.0 - blend) + blend).astype(np.float32)
        mid = u.shape[0] // 2
        order = np.argsort(u[mid])
        self._teeth_edge_mid = float(np.interp(0.0, u[mid][order], edge[mid][order]))

    def _picture_teeth(
        self, image: np.ndarray, p: np.ndarray, frame: FaceFrame, center: np.ndarray, anchor: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The upper teeth of a picture of the person (landmarks ``p``, face frame ``frame`` with the
        mouth's middle at ``center``) hung from ``anchor`` (per pixel: our upper lip's line):
        colour, alpha, edge, and how much to use them (0 where that picture shows no teeth).

        Column by column the picture's teeth run down from its upper lip: to their visible edge,
        or on behind its lower lip (then the last row is carried down a little, where the teeth
        would end). Their top is stretched up a little (under a raised lip). Only the teeth are
        taken: not the dark corners or the cavity beside and below them."""
        rig, u, v, iod, hw = self.rig, self.u, self.v, self.iod, self.half_width
        q = frame.to_face(p[:, :2]) - center
        up, lo = q[rig.inner_upper], q[rig.inner_lower]
        up, lo = up[np.argsort(up[:, 0], kind="stable")], lo[np.argsort(lo[:, 0], kind="stable")]
        step = 0.5 / frame.iod
        cols = np.arange(-1.1 * hw, 1.1 * hw + 1e-9, max(1.0 / frame.iod, 0.004))
        a_c = np.interp(cols, up[:, 0], up[:, 1]) + 0.012
        b_c = np.interp(cols, lo[:, 0], lo[:, 1]) - 0.035
        rows = np.arange(0.0, 0.25, step)
        grid = np.stack([np.repeat(cols[:, None], rows.size, 1), a_c[:, None] + rows[None, :]], axis=-1)
        xy = frame.to_image(grid + center).astype(np.float32)
        px = cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        px = px.astype(np.float32)
        hi = px.max(axis=2)
        sat = (hi - px.min(axis=2)) / np.maximum(hi, 1.0)
        tooth = (_luma(px) > 0.38 * float(_luma(self.look.teeth))) & (sat < 0.5)
        inside = a_c[:, None] + rows[None, :] < b_c[:, None]
        n_run = np.cumprod(tooth & inside, axis=1).sum(axis=1)
        n_run = cv2.medianBlur(np.minimum(n_run, 255).astype(np.uint8).reshape(1, -1), 5).ravel()
        run = n_run * step
        # Where the teeth end: their edge, or a little past the lower lip when it hides the edge.
        reach = a_c + run >= b_c - 1.5 / frame.iod
        end_c = np.where(reach, np.maximum(b_c + 0.05, a_c + run), a_c + run) - a_c
        # Softly along the row: where the teeth give way to a dark corner, their edge slants up.
        sigma = 0.025 / float(cols[1] - cols[0]) if cols.size > 1 else 1.0

        def soft(x: np.ndarray) -> np.ndarray:
            return np.asarray(cv2.GaussianBlur(x.astype(np.float32).reshape(1, -1), (0, 0), sigma)).ravel()

        run, end_c = soft(run), soft(end_c)
        lip_s = np.interp(u, up[:, 0], up[:, 1]).astype(np.float32)
        a = lip_s + 0.012
        run_u = np.interp(u, cols, run).astype(np.float32)
        end_s = a + np.interp(u, cols, end_c).astype(np.float32)
        # Our band [top, knee] shows theirs [a, knee_s] (stretched); below the knee, one to one.
        knee, top = anchor + 0.06, anchor - 0.04
        knee_s = lip_s + 0.06
        v_src = np.where(v < knee, a + (v - top) * (knee_s - a) / (knee - top), lip_s + (v - anchor))
        v_src = np.minimum(v_src, np.maximum(a + run_u - 0.5 / frame.iod, a))
        xy = frame.to_image(np.stack([u, v_src], axis=-1) + center).astype(np.float32)
        own = cv2.remap(image, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        bottom = np.where(
            end_s >= knee_s, anchor + (end_s - lip_s), top + (end_s - a) * (knee - top) / (knee_s - a)
        ).astype(np.float32)
        own = own.astype(np.float32) * (1.0 - 0.12 * _smoothstep(-0.025, 0.0, v - bottom))[..., None]
        own_alpha = np.clip((bottom - v) * iod + 0.5, 0.0, 1.0) * (v > top - 0.02)
        use = np.interp(u, cols, _smoothstep(1.5, 3.0, run * frame.iod)).astype(np.float32)
        return own, own_alpha.astype(np.float32), bottom, use

    def paint(
        self,
        roi: np.ndarray,
        origin: tuple[int, int],
        dst: np.ndarray,
        mouth: np.ndarray,
        gate: np.ndarray | None = None,
        *,
        between: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        """Paint into ``roi`` (uint8 view whose top-left pixel is ``origin``) for target points ``dst``.

        ``between`` = (upper edge, lower edge), image points from corner to corner: paint only there,
        the gap between the two layers of a portrait's own open mouth (``layers.MouthLayers``),
        and only the cavity and the tongue in it: the portrait's teeth are in the layers."""
        rig, look, iod = self.rig, self.look, self.iod
        if between is None:
            upper_edge, lower_edge = dst[rig.inner_upper, :2], dst[rig.inner_lower, :2]
        else:
            upper_edge, lower_edge = between
        draw_teeth = between is None
        poly = np.concatenate([upper_edge, lower_edge[::-1][1:-1]]).astype(np.float64)
        ux, uy = self._face_curve(upper_edge)
        lx, ly = self._face_curve(lower_edge)
        gap = float((np.interp(lx, ux, uy) - ly).min())  # negative of the largest opening
        open_px = -gap * iod
        if open_px < 0.4:
            return
        bx0, by0, bx1, by1 = self.box
        ox, oy = origin
        lo = np.floor(poly.min(axis=0)).astype(int) - 2
        hi = np.ceil(poly.max(axis=0)).astype(int) + 3
        x0, y0 = max(int(lo[0]), bx0, ox), max(int(lo[1]), by0, oy)
        x1, y1 = min(int(hi[0]), bx1, ox + roi.shape[1]), min(int(hi[1]), by1, oy + roi.shape[0])
        if x1 <= x0 or y1 <= y0:
            return
        mask = _poly_mask((y1 - y0, x1 - x0), poly, (x0, y0))
        inside = (mask > 127).astype(np.uint8)
        # Grown by a pixel before softening, so the soft edge lies on the lips' edge, not inside.
        alpha = cv2.GaussianBlur(cv2.dilate(mask, np.ones((3, 3), np.uint8)), (3, 3), 0.7).astype(
            np.float32
        ) * (float(np.clip((open_px - 0.4) / 1.5, 0.0, 1.0)) / 255.0)
        if self._src_inner is not None and draw_teeth:
            moved = float(np.abs(dst[rig.inner_upper + rig.inner_lower, :2] - self._src_inner).max())
            alpha *= float(_smoothstep(0.0, 1.5, moved))
        sl = (slice(y0 - by0, y1 - by0), slice(x0 - bx0, x1 - bx0))
        u, v = self.u[sl], self.v[sl]
        m = mouth_vector(mouth)
        top = np.interp(u, ux, uy).astype(np.float32)
        bottom = np.interp(u, lx, ly).astype(np.float32)
        open_mid = float(np.interp(0.0, lx, ly) - np.interp(0.0, ux, uy))
        # Light inside: less through a small opening; the corners in the cheeks' shadow (a rounded,
        # narrow opening shows only the front teeth lit).
        mid_u, half = (ux[0] + ux[-1]) / 2.0, max((ux[-1] - ux[0]) / 2.0, 1e-3)
        side = _smoothstep(0.45 * half, 1.0 * half, np.abs(u - mid_u))
        through = 0.55 + 0.45 * float(_smoothstep(0.02, 0.16, open_mid))
        # Cavity: dark and warm, darkest away from the lips.
        dist = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
        depth = np.clip(dist / max(0.1 * iod, 1.0), 0.0, 1.0) ** 0.8
        col = look.cavity_edge + (look.cavity_deep - look.cavity_edge) * depth[..., None]
        # Tongue body low in the mouth, its top in shadow.
        if open_mid > 0.04:
            cy, ry, rx = float(np.interp(0.0, lx, ly)) + 0.04, 0.05 + 0.4 * open_mid, 0.75 * self.half_width
            r2 = (u / rx) ** 2 + ((v - cy) / ry) ** 2
            a = np.clip((1.0 - r2) * 2.5, 0.0, 1.0) * 0.85
            shade = 0.35 + 0.55 * np.clip((v - (cy - ry)) / ry, 0.0, 1.0) ** 0.6
            col = col + (look.tongue * shade[..., None] - col) * a[..., None]
        tip = None
        if m[_TONGUE] > 0.01 and draw_teeth:  # the tongue's tip at the upper teeth (behind them; between them for th)
            if self._static is None:
                tip, tip_col = self._tip_layer(u, v)
            else:
                tip, tip_col = self._static[1][0][sl], self._static[1][1][sl]
            col = col + (tip_col - col) * (tip * float(m[_TONGUE]))
        # Lower teeth, fixed to the lower jaw: only when it opens wide or the lower lip drops.
        show = LOWER_TEETH_SHOW * float(_smoothstep(0.45, 1.0, m[_JAW])) + 0.025 * max(float(m[_LOWER]), 0.0)
        if show > 0.012:
            if self._static is None:
                lower = self._lower_teeth_layer(u)
            else:
                lower = tuple(x[sl] for x in self._static[0])
            prof, recede, seam, short, wide, visible = lower
            edge_l = bottom - show * prof + short
            down = np.clip((v - edge_l) / max(show, 1e-3), 0.0, 1.0)
            light = LOWER_TEETH_DIM * through * recede * (1.0 - 0.3 * down) * (1.0 - 0.7 * side)
            light = light * (1.0 - seam * (0.06 + 0.1 * (1.0 - _smoothstep(0.0, 0.3, down))))
            fade = float(_smoothstep(0.012, 0.03, show))
            a = np.clip((v - edge_l) * iod + 0.5, 0.0, 1.0) * wide * fade
            a = a * visible
            lower_col = self._in_shadow(self._teeth_colour(light, recede), light)
            a = a * _smoothstep(0.05, 0.35, light)  # deep in shadow: no brighter than the cavity
            col = col + (lower_col - col) * a[..., None]
        # The shadows the lips cast inside, then the upper teeth (the static layer) in their light:
        # drawn ones under the upper lip's soft shadow; a picture's own have theirs already.
        shadow = (0.8 + 0.2 * _smoothstep(0.0, 0.03, v - top)) * (
            0.88 + 0.12 * _smoothstep(0.0, 0.025, bottom - v)
        )
        col = col * shadow[..., None]
        if not draw_teeth:
            self._blend(roi, origin, (x0, y0, x1, y1), col, alpha, gate)
            return
        own = self._teeth_own[sl]
        ta = self._teeth_alpha[sl][..., None]
        drawn_light = (
            (0.45 + 0.55 * _smoothstep(-0.01, 0.05, v - top))
            * (0.85 + 0.15 * _smoothstep(0.0, 0.03, bottom - v))
            * through
            * (1.0 - 0.7 * side)
        )
        own_light = 1.0 - 0.45 * side
        light = drawn_light * (1.0 - own[..., 0]) + own_light * own[..., 0]
        light_all = light * self._teeth_light[sl]
        teeth_col = self._in_shadow(self._teeth_color[sl] * light[..., None], light_all)
        # Deep in shadow a tooth is no brighter than the cavity around it: it fades into it.
        ta = ta * (own + (1.0 - own) * _smoothstep(0.03, 0.3, light_all)[..., None])
        col = col + (teeth_col - col) * ta
        if tip is not None and m[_TONGUE] > 0.5:
            col = col + (tip_col * shadow[..., None] - col) * (tip * float(_smoothstep(0.5, 1.0, m[_TONGUE])) * 0.8)
        dim = 0.18 * max(-float(m[_WIDTH]), 0.0)  # behind rounded, pushed-out lips: in shadow
        if dim > 0:
            col = col + (look.cavity_edge - col) * (dim * ta)
        self._blend(roi, origin, (x0, y0, x1, y1), col, alpha, gate)

    @staticmethod
    def _blend(
        roi: np.ndarray,
        origin: tuple[int, int],
        box: tuple[int, int, int, int],
        col: np.ndarray,
        alpha: np.ndarray,
        gate: np.ndarray | None,
    ) -> None:
        ox, oy = origin
        x0, y0, x1, y1 = box
        if gate is not None:
            alpha = alpha * gate[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        target = roi[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        a3 = alpha[..., None]
        target[:] = np.clip(target * (1.0 - a3) + col * a3 + 0.5, 0, 255).astype(np.uint8)


