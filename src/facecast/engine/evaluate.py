"""Quality figures of a rendered talking-head video: lip sync, stillness in pauses, identity, life.

Landmarks are tracked on every decoded frame; the figures are computed from them, the audio's
loudness envelope and the pixels. Used by ``facecast eval``, the tests and the benchmarks.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facecast.engine import face
from facecast.engine.geometry import apply_affine, fit_similarity
from facecast.errors import FacecastError, NoFaceFound, UnreadableAudio, UnreadableVideo

log = logging.getLogger(__name__)

#: Loudness (``audio.loudness_envelope``, 0..1) at or below which a frame counts as silence,
#: and at or above which it counts as speech.
SILENCE_LEVEL = 0.02
SPEECH_LEVEL = 0.25
#: Lags (frames) searched for the best lip-sync correlation, either way.
MAX_LAG = 3
#: A blink starts when the eye aspect ratio falls under this share of its median, and ends when
#: it is back above the second.
BLINK_CLOSE, BLINK_OPEN = 0.6, 0.8
#: Background comparison runs on frames scaled to at most this long side.
BACKGROUND_SIDE = 960
#: The upper-teeth band: the middle share of the mouth's width, and its top and bottom under the
#: upper inner lip (eye distances).
TEETH_BAND_HALF_WIDTH = 0.3
TEETH_BAND_TOP, TEETH_BAND_BOTTOM = 0.01, 0.05
#: Frames opened at least this much (eye distances) past the portrait's own opening are checked
#: for its upper teeth.
TEETH_CHECK_OPENING = 0.04


@dataclass
class QualityReport:
    """Quality figures of one video. Openings are in inter-ocular distances; drifts and shifts in %
    of the inter-ocular distance; ``None`` where a figure cannot be measured (no audio, no face)."""

    video: str
    n_frames: int
    fps: float
    width: int
    height: int
    face_frames: int
    #: Pearson correlation of mouth opening with loudness at lag 0, and the best one within
    #: +-``MAX_LAG`` frames; a positive lag means the mouth follows the sound late.
    lip_sync_correlation: float | None
    lip_sync_best_correlation: float | None
    lip_sync_lag_frames: int | None
    mouth_open_silence: float | None
    mouth_open_speech: float | None
    silence_frames: int
    speech_frames: int
    #: Similarity-aligned RMS error of the rigid upper-face points against the first frame (mean, max).
    identity_landmark_drift: float
    identity_landmark_drift_max: float
    #: The same against the portrait, when one is given.
    identity_landmark_drift_portrait: float | None
    #: SSIM of the aligned eyes-and-nose region against the first frame (mean, min) and the portrait.
    identity_similarity: float
    identity_similarity_min: float
    identity_similarity_portrait: float | None
    blink_count: int
    blinks_per_minute: float
    head_roll_std_deg: float
    head_translation_std_pct: float
    #: Mean absolute difference (0..255) from the first frame outside the dilated person mask:
    #: average over frames and worst frame. 0 is a perfectly still background.
    background_change: float | None
    background_change_max: float | None
    #: Mouth opening in speech frames: median and 95th percentile (inter-ocular distances).
    mouth_open_speech_median: float | None = None
    mouth_open_speech_p95: float | None = None
    #: The portrait's own mouth opening (when a portrait is given), measured the same way.
    portrait_mouth_opening: float | None = None
    #: Saturation (0..1, HSV) around the mouth: 99th percentile over the frames, and in the portrait;
    #: and the most pixels in one frame more saturated than anything around the portrait's mouth.
    mouth_saturation: float | None = None
    portrait_mouth_saturation: float | None = None
    mouth_saturated_pixels_added: int | None = None
    #: Median correlation of the band just under the upper lip (the upper teeth) between the
    #: portrait and the frames where the mouth opens wider than the portrait's: 1 = kept as it was.
    upper_teeth_kept: float | None = None
    warnings: list[str] = field(default_factory=list)
    mouth_opening: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    loudness: np.ndarray | None = field(default=None, repr=False)
    eye_aspect: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    roll: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps if self.fps > 0 else 0.0


# =================================================================================================
# Decoding
# =================================================================================================
def _frames(path: Path) -> tuple[float, Iterator[np.ndarray]]:
    """(fps, RGB uint8 frames) of the first video stream, decoded lazily."""
    import av

    name = path.name
    if not path.is_file():
        raise UnreadableVideo(f"Cannot read the video '{name}': there is no such file.")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnreadableVideo(f"'{name}' is not a video Facecast can read.") from exc
    if not container.streams.video:
        container.close()
        raise UnreadableVideo(f"'{name}' has no video stream.")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = stream.average_rate or stream.guessed_rate or 25
    fps = float(rate)

    def gen() -> Iterator[np.ndarray]:
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise UnreadableVideo(f"The video '{name}' is damaged and cannot be decoded.") from exc
        finally:
            container.close()

    return fps, gen()


# =================================================================================================
# Geometry
# =================================================================================================
def _aligned_rms(points: np.ndarray, ref: np.ndarray) -> float:
    """RMS error (% of the reference's inter-ocular distance) of the rigid points after alignment."""
    rigid = list(face.RIGID_POINTS)
    src, dst = points[rigid, :2].astype(np.float64), ref[rigid, :2].astype(np.float64)
    m = fit_similarity(src, dst)
    err = np.sqrt(np.mean(np.sum((apply_affine(m, src) - dst) ** 2, axis=1)))
    return float(100.0 * err / max(float(face.eye_distance(ref)), 1e-6))


_REGION = list(face.LEFT_EYE + face.RIGHT_EYE + face.LEFT_EYEBROW + face.RIGHT_EYEBROW + face.NOSE)


def _region_box(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    xy = points[_REGION, :2]
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    h, w = shape
    return (int(max(0, x0 - mx)), int(max(0, y0 - my)), int(min(w, x1 + mx + 1)), int(min(h, y1 + my + 1)))


def _to_patch(points: np.ndarray, ref: np.ndarray, box: tuple[int, int, int, int], margin: int) -> np.ndarray:
    """3x3 map from an image's pixels to the patch ``box`` (grown by ``margin``) of the reference
    framing, aligning the rigid landmarks ``points`` onto ``ref``."""
    rigid = list(face.RIGID_POINTS)
    m = np.eye(3)
    m[:2] = fit_similarity(points[rigid, :2].astype(np.float64), ref[rigid, :2].astype(np.float64))
    m[:2, 2] -= (box[0] - margin, box[1] - margin)
    return m


def _sample(
    grey: np.ndarray, patch_to_image: np.ndarray, box: tuple[int, int, int, int], margin: int
) -> np.ndarray:
    size = (box[2] - box[0] + 2 * margin, box[3] - box[1] + 2 * margin)
    flags = cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(grey, patch_to_image[:2], size, flags=flags, borderMode=cv2.BORDER_REPLICATE)


def _aligned_patch(
    image: np.ndarray, points: np.ndarray, ref: np.ndarray, box: tuple[int, int, int, int], margin: int = 0
) -> np.ndarray:
    """The grey region ``box`` (grown by ``margin``) of the reference framing, sampled from ``image``
    aligned onto ``ref`` by the rigid landmarks."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return _sample(grey, np.linalg.inv(_to_patch(points, ref, box, margin)), box, margin)


def _region_similarity(
    image: np.ndarray,
    points: np.ndarray,
    ref: np.ndarray,
    ref_patch: np.ndarray,
    box: tuple[int, int, int, int],
    margin: int,
) -> float:
    """SSIM of the eyes-and-nose region of ``image`` against ``ref_patch`` (grown by ``margin``):
    aligned by the landmarks, then refined by an image alignment (ECC, affine) so that landmark
    jitter does not count as a change of the face, sampled once; the margin is cut off."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    patch_to_image = np.linalg.inv(_to_patch(points, ref, box, margin))
    first = _sample(grey, patch_to_image, box, margin)
    warp: Any = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 60, 1e-5)
    try:
        _, warp = cv2.findTransformECC(
            ref_patch.astype(np.float32),
            first.astype(np.float32),
            warp,
            cv2.MOTION_AFFINE,
            criteria,
            np.ones(ref_patch.shape, np.uint8),
            3,
        )
        if np.abs(warp[:, 2]).max() < margin and np.abs(warp[:, :2] - np.eye(2)).max() < 0.1:
            refine = np.eye(3)
            refine[:2] = warp
            first = _sample(grey, patch_to_image @ refine, box, margin)
    except cv2.error:
        pass  # no convergence: keep the landmark alignment
    inner = (slice(margin, -margin or None), slice(margin, -margin or None))
    return _ssim(first[inner], ref_patch[inner])


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    side = min(a.shape)
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        return float("nan")
    return float(structural_similarity(a, b, data_range=255, win_size=win))


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return None
    x, y = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    den = math.sqrt(float((x * x).sum()) * float((y * y).sum()))
    return float((x * y).sum() / den) if den > 1e-12 else None


def lagged_correlation(
    opening: np.ndarray, loudness: np.ndarray, max_lag: int = MAX_LAG
) -> tuple[float | None, float | None, int | None]:
    """(correlation at lag 0, best correlation, its lag): opening[t] against loudness[t - lag]."""
    n = min(len(opening), len(loudness))
    o, ld = np.asarray(opening[:n], np.float64), np.asarray(loudness[:n], np.float64)
    at0 = _pearson(o, ld)
    best: tuple[float | None, int | None] = (None, None)
    for lag in range(-max_lag, max_lag + 1):
        if lag >= 0:
            r = _pearson(o[lag:], ld[: n - lag])
        else:
            r = _pearson(o[: n + lag], ld[-lag:])
        if r is not None and (best[0] is None or r > best[0]):
            best = (r, lag)
    return at0, best[0], best[1]


def count_blinks(ear: np.ndarray) -> int:
    """Dips of the eye aspect ratio under ``BLINK_CLOSE`` x its median (with hysteresis)."""
    valid = ear[np.isfinite(ear)]
    if len(valid) < 3:
        return 0
    base = float(np.median(valid))
    closed, count = False, 0
    for v in ear:
        if not np.isfinite(v):
            continue
        if not closed and v < BLINK_CLOSE * base:
            closed, count = True, count + 1
        elif closed and v > BLINK_OPEN * base:
            closed = False
    return count


# =================================================================================================
# The evaluation
# =================================================================================================
def _background_mask(frame: np.ndarray, points: np.ndarray, scale: float) -> np.ndarray:
    """True where the background is, well away from the person (head motion included)."""
    mask = face.person_mask(frame, points) > 0.05
    iod = float(face.eye_distance(points))
    k = max(3, int(round(0.8 * iod)) | 1)
    grown = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    small = _scaled(grown, scale, cv2.INTER_NEAREST)
    return small == 0


def _background_view(image: np.ndarray, scale: float) -> np.ndarray:
    """The frame as compared for background change: scaled, and blurred a little so that encoder
    noise (blocks, ringing) weighs less than real movement (a 1 px shift of a textured background
    still gives a change of 2-4, a still one 0.1-0.5 depending on the encoder preset)."""
    return cv2.GaussianBlur(_scaled(image, scale).astype(np.float32), (0, 0), 1.0)


def _scaled(image: np.ndarray, scale: float, interp: int = cv2.INTER_AREA) -> np.ndarray:
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def evaluate_video(
    video_path: str | Path,
    audio_path: str | Path | None = None,
    image_path: str | Path | None = None,
    *,
    full_background: bool | None = None,
) -> QualityReport:
    """Measure a rendered video. The audio defaults to the video's own audio track; the portrait,
    when given, adds identity figures against it. ``full_background=False`` skips the background
    figure (``None`` measures it anyway: a still background is expected in both modes)."""
    from facecast.engine.audio import load_audio, loudness_envelope

    video = Path(video_path)
    fps, frames = _frames(video)
    notes: list[str] = []

    rows: list[np.ndarray | None] = []
    ref_frame: np.ndarray | None = None
    ref_points: np.ndarray | None = None
    box: tuple[int, int, int, int] | None = None
    ref_patch: np.ndarray | None = None
    similarity: list[float] = []
    mouth_sat: list[np.ndarray] = []
    teeth_bands: list[tuple[int, np.ndarray]] = []
    bg_mask: np.ndarray | None = None
    bg_ref: np.ndarray | None = None
    bg_change: list[float] = []
    bg_scale = 1.0
    width = height = 0
    measure_bg = full_background is not False
    margin = 4
    with face.FaceTracker() as tracker:
        for image in frames:
            height, width = image.shape[:2]
            points = tracker.track(image)
            rows.append(points)
            if points is None:
                continue
            if ref_points is None:
                ref_frame, ref_points = image, points
                box = _region_box(points, (height, width))
                ref_patch = _aligned_patch(image, points, points, box, margin)
                if measure_bg:
                    bg_scale = min(1.0, BACKGROUND_SIDE / max(height, width))
                    bg_mask = _background_mask(image, points, bg_scale)
                    if bg_mask.mean() < 0.02:
                        notes.append("Hardly any background is visible; the background figure is left out.")
                        bg_mask = None
                    else:
                        bg_ref = _background_view(image, bg_scale)
            assert box is not None and ref_patch is not None
            rows_sl, cols_sl = _mouth_region(points, image.shape)
            mouth_sat.append(_saturation(image[rows_sl, cols_sl]).ravel())
            teeth_bands.append((len(rows) - 1, _upper_teeth_band(image, points)))
            similarity.append(_region_similarity(image, points, ref_points, ref_patch, box, margin))
            if bg_mask is not None and bg_ref is not None:
                diff = np.abs(_background_view(image, bg_scale) - bg_ref)
                bg_change.append(float(diff[bg_mask].mean()))

    n = len(rows)
    if n == 0:
        raise UnreadableVideo(f"The video '{video.name}' has no frames.")
    if ref_points is None or ref_frame is None:
        raise NoFaceFound(f"No face was found in any frame of '{video.name}'.", field="video")
    nan = np.full((face.N_LANDMARKS, 3), np.nan, np.float32)
    lm = np.stack([r if r is not None else nan for r in rows])
    found = np.isfinite(lm[:, 0, 0])
    if not found.all():
        notes.append(f"No face in {int((~found).sum())} of {n} frames.")

    opening = np.asarray(face.mouth_opening(lm), np.float32)
    ear = np.asarray(face.eye_aspect_ratio(lm), np.float32)
    roll = np.asarray(face.roll_degrees(lm), np.float32)
    iod = float(np.nanmedian(np.asarray(face.eye_distance(lm))))

    # Lip sync against the loudness envelope.
    loud: np.ndarray | None = None
    try:
        audio = load_audio(audio_path if audio_path is not None else video)
        loud = loudness_envelope(audio, fps, n)
    except UnreadableAudio as exc:
        notes.append(f"No audio to compare with: {exc}")
    corr0 = best = lag = None
    open_sil = open_speech = open_median = open_p95 = None
    n_sil = n_speech = 0
    if loud is not None:
        corr0, best, lag = lagged_correlation(opening, loud)
        sil = (loud <= SILENCE_LEVEL) & found
        speech = (loud >= SPEECH_LEVEL) & found
        n_sil, n_speech = int(sil.sum()), int(speech.sum())
        open_sil = float(opening[sil].mean()) if n_sil else None
        open_speech = float(opening[speech].mean()) if n_speech else None
        if n_speech:
            open_median = float(np.median(opening[speech]))
            open_p95 = float(np.percentile(opening[speech], 95))

    # Identity: rigid landmarks and the look of the eyes and nose.
    drift = np.array([_aligned_rms(lm[i], ref_points) for i in np.flatnonzero(found)])
    drift_portrait: float | None = None
    sim_portrait: float | None = None
    sat_all = np.concatenate(mouth_sat) if mouth_sat else np.zeros(1, np.float32)
    mouth_saturation = float(np.percentile(sat_all, 99))
    portrait_open = portrait_sat = teeth_kept = None
    sat_added: int | None = None
    if image_path is not None:
        from facecast.engine.pack import read_image

        portrait = read_image(Path(image_path))
        drift_portrait, sim_portrait = _against_portrait(portrait, lm[found], ref_frame, ref_points, box)
        if drift_portrait is None:
            notes.append("No face found in the portrait; the portrait figures are left out.")
        else:
            pp = face.face_landmarks(portrait).points
            portrait_open = float(face.mouth_opening(pp))
            rows_sl, cols_sl = _mouth_region(pp, portrait.shape)
            ps = _saturation(portrait[rows_sl, cols_sl])
            portrait_sat = float(np.percentile(ps, 99))
            limit = max(float(ps.max()) + 0.05, 0.12)
            sat_added = int(max(int((m > limit).sum()) for m in mouth_sat)) if mouth_sat else 0
            band = _upper_teeth_band(portrait, pp)
            wide = [b for i, b in teeth_bands if opening[i] > portrait_open + TEETH_CHECK_OPENING]
            if portrait_open > TEETH_CHECK_OPENING and wide:
                teeth_kept = float(np.median([_ncc(band, b) for b in wide]))

    # Head motion: roll and the position of the rigid points.
    centre = np.nanmean(lm[:, list(face.RIGID_POINTS), :2], axis=1)
    shift_std = float(np.hypot(*np.nanstd(centre[found], axis=0))) if found.any() else 0.0
    sims = np.array(similarity, np.float64)

    blinks = count_blinks(ear)
    duration = n / fps if fps > 0 else 0.0
    return QualityReport(
        video=str(video),
        n_frames=n,
        fps=fps,
        width=width,
        height=height,
        face_frames=int(found.sum()),
        lip_sync_correlation=corr0,
        lip_sync_best_correlation=best,
        lip_sync_lag_frames=lag,
        mouth_open_silence=open_sil,
        mouth_open_speech=open_speech,
        silence_frames=n_sil,
        speech_frames=n_speech,
        identity_landmark_drift=float(drift.mean()),
        identity_landmark_drift_max=float(drift.max()),
        identity_landmark_drift_portrait=drift_portrait,
        identity_similarity=float(np.nanmean(sims)),
        identity_similarity_min=float(np.nanmin(sims)),
        identity_similarity_portrait=sim_portrait,
        blink_count=blinks,
        blinks_per_minute=60.0 * blinks / duration if duration > 0 else 0.0,
        head_roll_std_deg=float(np.nanstd(roll[found])),
        head_translation_std_pct=100.0 * shift_std / max(iod, 1e-6),
        background_change=float(np.mean(bg_change)) if bg_change else None,
        background_change_max=float(np.max(bg_change)) if bg_change else None,
        mouth_open_speech_median=open_median,
        mouth_open_speech_p95=open_p95,
        portrait_mouth_opening=portrait_open,
        mouth_saturation=mouth_saturation,
        portrait_mouth_saturation=portrait_sat,
        mouth_saturated_pixels_added=sat_added,
        upper_teeth_kept=teeth_kept,
        warnings=notes,
        mouth_opening=opening,
        loudness=loud,
        eye_aspect=ear,
        roll=roll,
    )


def _mouth_region(points: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The lips with room around them (0.3 eye distances), as slices of an image of ``shape``."""
    lips = points[list(face.LIPS), :2]
    pad = 0.3 * float(face.eye_distance(points))
    x0, y0 = np.maximum(np.floor(lips.min(axis=0) - pad).astype(int), 0)
    x1, y1 = np.ceil(lips.max(axis=0) + pad).astype(int)
    return slice(int(y0), min(int(y1), shape[0])), slice(int(x0), min(int(x1), shape[1]))


def _saturation(image: np.ndarray) -> np.ndarray:
    """HSV saturation 0..1, counting only pixels bright enough for their colour to be seen."""
    rgb = image.astype(np.float32)
    top = rgb.max(axis=-1)
    return np.where(top > 40.0, (top - rgb.min(axis=-1)) / np.maximum(top, 1.0), 0.0)


def _upper_teeth_band(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The grey band just under the upper inner lip's middle, in face-aligned coordinates that ride
    the upper lip: where a portrait's upper teeth show, and where they must stay as the mouth opens."""
    fr = face.FaceFrame.of(points)
    upper = fr.to_face(points[list(face.UPPER_INNER_LIP), :2])
    upper = upper[np.argsort(upper[:, 0], kind="stable")]
    mid = float((upper[0, 0] + upper[-1, 0]) / 2.0)
    half = TEETH_BAND_HALF_WIDTH * float(upper[-1, 0] - upper[0, 0])
    us = np.linspace(mid - half, mid + half, 48)
    vs = np.linspace(TEETH_BAND_TOP, TEETH_BAND_BOTTOM, 8)
    lip = np.interp(us, upper[:, 0], upper[:, 1])
    grid = np.stack(np.meshgrid(us, vs), axis=-1)
    grid[..., 1] += lip[None, :]
    xy = fr.to_image(grid).astype(np.float32)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.remap(grey, xy[..., 0], xy[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else 0.0


def _against_portrait(
    portrait: np.ndarray,
    tracked: np.ndarray,
    ref_frame: np.ndarray,
    ref_points: np.ndarray,
    box: tuple[int, int, int, int] | None,
) -> tuple[float | None, float | None]:
    """(mean rigid-landmark drift of the frames against the portrait, SSIM of the first frame's
    eyes and nose against the portrait's, aligned)."""
    try:
        points = face.face_landmarks(portrait).points
    except NoFaceFound:
        return None, None
    drift = float(np.mean([_aligned_rms(p, points) for p in tracked]))
    if box is None:
        return drift, None
    # Bring the portrait to the video's scale first (warpAffine does not average when shrinking).
    k = float(face.eye_distance(ref_points)) / max(float(face.eye_distance(points)), 1e-6)
    if k < 0.75:
        old_w = portrait.shape[1]
        portrait = _scaled(portrait, k)
        points = points.copy()
        points[:, :2] *= portrait.shape[1] / old_w
    margin = 4
    ref_patch = _aligned_patch(ref_frame, ref_points, ref_points, box, margin)
    return drift, _region_similarity(portrait, points, ref_points, ref_patch, box, margin)


# =================================================================================================
# Printing
# =================================================================================================
def _fmt(value: float | int | None, spec: str) -> str:
    return (
        "-"
        if value is None or (isinstance(value, float) and not math.isfinite(value))
        else format(value, spec)
    )


def format_report(report: QualityReport) -> str:
    """A small table of the figures, with the targets of the engine issue next to them."""
    r = report
    lag = "" if r.lip_sync_lag_frames is None else f" (lag {r.lip_sync_lag_frames:+d})"
    rows = [
        ("video", f"{Path(r.video).name}  {r.width}x{r.height}  {r.n_frames} frames @ {r.fps:g} fps", ""),
        ("frames with a face", f"{r.face_frames}/{r.n_frames}", "all"),
        ("lip sync: correlation", _fmt(r.lip_sync_correlation, ".3f"), ">= 0.5"),
        ("lip sync: best within +-3 frames", _fmt(r.lip_sync_best_correlation, ".3f") + lag, ""),
        (
            "mouth opening in silence",
            _fmt(r.mouth_open_silence, ".3f") + f"  ({r.silence_frames} frames)",
            "~0 (closed)",
        ),
        (
            "mouth opening in speech",
            _fmt(r.mouth_open_speech, ".3f") + f"  ({r.speech_frames} frames)",
            "clearly > silence",
        ),
        (
            "mouth opening in speech: median / p95",
            _fmt(r.mouth_open_speech_median, ".3f") + " / " + _fmt(r.mouth_open_speech_p95, ".3f"),
            "<= 0.32 / <= 0.42",
        ),
        ("portrait's own mouth opening", _fmt(r.portrait_mouth_opening, ".3f"), "pauses within 0.04"),
        (
            "mouth saturation p99: video / portrait",
            _fmt(r.mouth_saturation, ".3f") + " / " + _fmt(r.portrait_mouth_saturation, ".3f"),
            "video <= portrait + noise",
        ),
        ("saturated pixels painted in (worst frame)", _fmt(r.mouth_saturated_pixels_added, "d"), "0"),
        ("portrait's upper teeth kept (NCC)", _fmt(r.upper_teeth_kept, ".3f"), "~1 (smiles)"),
        (
            "identity: landmark drift %iod",
            f"{r.identity_landmark_drift:.2f} (max {r.identity_landmark_drift_max:.2f})",
            "small",
        ),
        ("identity: drift vs portrait %iod", _fmt(r.identity_landmark_drift_portrait, ".2f"), "small"),
        (
            "identity: eyes+nose SSIM",
            f"{r.identity_similarity:.3f} (min {r.identity_similarity_min:.3f})",
            "~1",
        ),
        ("identity: SSIM vs portrait", _fmt(r.identity_similarity_portrait, ".3f"), "~1"),
        ("blinks", f"{r.blink_count}  ({r.blinks_per_minute:.1f}/min)", ">= 1 per 6 s (10/min)"),
        ("head roll std (deg)", f"{r.head_roll_std_deg:.2f}", "small, > 0"),
        ("head shift std %iod", f"{r.head_translation_std_pct:.2f}", "small, > 0"),
        (
            "background change (0-255)",
            _fmt(r.background_change, ".3f")
            + ("" if r.background_change_max is None else f" (max {r.background_change_max:.3f})"),
            "~0 in full mode",
        ),
    ]
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    lines = [f"{'figure':<{w0}}  {'value':<{w1}}  target", "-" * (w0 + w1 + 24)]
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c}".rstrip() for a, b, c in rows]
    lines += [f"note: {n}" for n in r.warnings]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m facecast.engine.evaluate VIDEO [--audio A] [--image P] [--full-background]``."""
    parser = argparse.ArgumentParser(prog="facecast-eval", description="Quality figures of a rendered video.")
    parser.add_argument("video")
    parser.add_argument("--audio", help="the speech (default: the video's own audio track)")
    parser.add_argument("--image", help="the portrait, for identity figures against it")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--full-background", dest="full_background", action="store_true", default=None)
    mode.add_argument("--face-cropped", dest="full_background", action="store_false")
    args = parser.parse_args(argv)
    try:
        report = evaluate_video(args.video, args.audio, args.image, full_background=args.full_background)
    except FacecastError as exc:
        print(f"facecast eval: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
