"""The photo animator: mouth, eyelids and head move where they should, and nothing else does."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from facecast.engine import face
from facecast.engine.animate import FaceWarper, PhotoAnimator, resync_mouth
from facecast.engine.face import FaceFrame
from facecast.engine.mouth import MouthLook
from facecast.engine.pack import AvatarPack
from facecast.engine.rig import FaceRig
from facecast.engine.visemes import MOUTH_PARAMS
from facecast.engine.warp import STILL_PX, MeshWarp

REST = np.zeros(len(MOUTH_PARAMS), np.float32)
STILL = np.array([0.0, 0.0, 0.0, 1.0], np.float32)


def _mouth(**values: float) -> np.ndarray:
    m = REST.copy()
    for name, value in values.items():
        m[MOUTH_PARAMS.index(name)] = value
    return m


def _pack(image: np.ndarray, *, full_background: bool) -> AvatarPack:
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    return AvatarPack(
        image=image,
        landmarks=face.face_landmarks(image).points,
        person_mask=face.person_mask(image),
        full_background=full_background,
        crop_box=(0, 0, w, h),
        source_size=(w, h),
    )


@pytest.fixture(scope="module")
def astronaut() -> AvatarPack:
    """Face-cropped framing: the astronaut's head and shoulders at 512 x 512 (she smiles with teeth)."""
    return _pack(
        cv2.resize(data.astronaut()[0:300, 75:375], (512, 512), interpolation=cv2.INTER_CUBIC),
        full_background=False,
    )


@pytest.fixture(scope="module")
def animator(astronaut: AvatarPack) -> PhotoAnimator:
    return PhotoAnimator(astronaut)


@pytest.fixture(scope="module")
def wide() -> AvatarPack:
    """Full-background framing: the astronaut picture padded out to 16:9."""
    image = cv2.copyMakeBorder(data.astronaut(), 0, 0, 200, 200, cv2.BORDER_REFLECT)
    return _pack(image, full_background=True)


def _inner_gap(points: np.ndarray, rig: FaceRig) -> float:
    """Largest vertical gap between the inner lips, in inter-ocular distances."""
    fr = FaceFrame.of(points)
    q = fr.to_face(points[:, :2])
    upper = q[rig.inner_upper]
    lower = q[rig.inner_lower]
    lower_at_upper = np.interp(upper[:, 0], lower[:, 0], lower[:, 1])
    return float((lower_at_upper - upper[:, 1]).max())


def _mouth_box(animator: PhotoAnimator, mouth: np.ndarray) -> tuple[slice, slice]:
    dst = animator.face.target_points(mouth)
    inner = dst[animator.rig.inner_upper + animator.rig.inner_lower]
    x0, y0 = np.floor(inner.min(axis=0)).astype(int)
    x1, y1 = np.ceil(inner.max(axis=0)).astype(int)
    return slice(y0, y1 + 1), slice(x0, x1 + 1)


def test_frame_shape_dtype_and_size(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    frame = animator.frame(_mouth(jaw=0.5), 0.3, np.array([1.0, 0.02, 0.0, 1.01]))
    assert frame.shape == astronaut.image.shape
    assert frame.dtype == np.uint8
    assert animator.size == (astronaut.image.shape[1], astronaut.image.shape[0])


def test_rest_pose_is_the_portrait(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    frame = animator.frame(REST, 0.0, STILL)
    assert np.array_equal(frame, astronaut.image)
    # A whisper of motion changes the picture only a little, and only near the face.
    frame = animator.frame(_mouth(jaw=0.02), 0.0, STILL)
    diff = np.abs(frame.astype(np.int16) - astronaut.image.astype(np.int16))
    assert diff.mean() < 0.5


def test_jaw_opens_the_mouth_and_darkens_inside(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    rig = animator.rig
    rest_gap = _inner_gap(animator.face.target_points(REST), rig)
    open_gap = _inner_gap(animator.face.target_points(_mouth(jaw=1.0)), rig)
    # An absolute opening (inter-ocular distances), not the smile's own gap plus the jaw's drop.
    assert open_gap > rest_gap + 0.08
    assert 0.25 < open_gap < 0.36
    # The pixels between the lips' new edges got darker: a cavity, not stretched teeth or lips.
    frame = animator.frame(_mouth(jaw=1.0), 0.0, STILL)
    dst = animator.face.target_points(_mouth(jaw=1.0))
    poly = dst[rig.inner_upper + rig.inner_lower[::-1][1:-1]]
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(poly).astype(np.int32)], (1,))
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)).astype(bool)
    luma = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    src_luma = astronaut.image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    assert inside.sum() > 200
    assert luma[inside].mean() < src_luma[inside].mean() - 30
    # ... but not a flat black hole.
    assert luma[inside].std() > 5
    # The chin moved down with the jaw; the eyes did not move.
    diff = np.abs(frame.astype(np.int16) - astronaut.image.astype(np.int16)).max(axis=2)
    pts = astronaut.landmarks
    chin = pts[list(face.FACE_OVAL), 1].max()
    eyes = pts[list(face.LEFT_EYE) + list(face.RIGHT_EYE)]
    ex0, ey0 = eyes[:, :2].min(axis=0).astype(int) - 5
    ex1, ey1 = eyes[:, :2].max(axis=0).astype(int) + 5
    assert diff[ey0:ey1, ex0:ex1].max() == 0
    assert diff[int(chin) - 3 : int(chin) + 3].max() > 20


def test_upper_teeth_stay_with_the_upper_jaw(animator: PhotoAnimator) -> None:
    """Opening the jaw moves the lower lip, not the upper teeth: the band under the upper lip keeps its pixels."""
    rig = animator.rig
    pts = animator.face.landmarks
    upper = pts[rig.inner_upper[3:-3], :2]
    a = animator.frame(_mouth(jaw=0.4), 0.0, STILL)
    b = animator.frame(_mouth(jaw=1.0), 0.0, STILL)
    iod = FaceFrame.of(pts).iod
    xs = np.round(upper[:, 0]).astype(int)
    ys = np.round(upper[:, 1] + 0.05 * iod).astype(int)  # on the teeth just under the upper lip
    pa = a[ys, xs].astype(np.int16)
    pb = b[ys, xs].astype(np.int16)
    assert np.abs(pa - pb).mean() < 12


def test_press_closes_a_parted_mouth(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    rig = animator.rig
    assert _inner_gap(animator.face.landmarks, rig) > 0.05  # the portrait shows her teeth
    assert _inner_gap(animator.face.target_points(_mouth(press=1.0)), rig) <= 0.0
    # Pixels: the teeth that showed between the lips are covered by the lips.
    pts = animator.face.landmarks
    poly = pts[rig.inner_upper + rig.inner_lower[::-1][1:-1], :2]
    opening = np.zeros(astronaut.image.shape[:2], np.uint8)
    cv2.fillPoly(opening, [np.round(poly).astype(np.int32)], (1,))
    opening = opening.astype(bool)

    def teeth(image: np.ndarray) -> int:
        px = image[opening].astype(np.float32)
        luma = px @ np.array([0.299, 0.587, 0.114], np.float32)
        sat = (px.max(axis=1) - px.min(axis=1)) / np.maximum(px.max(axis=1), 1.0)
        return int(((luma > 200) & (sat < 0.12)).sum())

    assert teeth(astronaut.image) > 60
    assert teeth(animator.frame(_mouth(press=1.0), 0.0, STILL)) < 0.15 * teeth(astronaut.image)


def test_blink_covers_the_eyes(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    pts = astronaut.landmarks
    frame_open = animator.frame(REST, 0.0, STILL)
    frame_shut = animator.frame(REST, 1.0, STILL)
    for centre in (pts[face.LEFT_IRIS_CENTER, :2], pts[face.RIGHT_IRIS_CENTER, :2]):
        x, y = np.round(centre).astype(int)
        r = 3
        iris_open = frame_open[y - r : y + r + 1, x - r : x + r + 1].astype(np.float32).mean()
        iris_shut = frame_shut[y - r : y + r + 1, x - r : x + r + 1].astype(np.float32).mean()
        # The dark iris is hidden under the (lighter) lid skin.
        assert iris_shut > iris_open + 25
    half = animator.frame(REST, 0.5, STILL)
    assert not np.array_equal(half, frame_open) and not np.array_equal(half, frame_shut)


def test_pixels_far_from_the_face_do_not_move(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    fr = FaceFrame.of(astronaut.landmarks)
    frame = animator.frame(_mouth(jaw=0.8, width=-0.5, upper_lip=0.3, lower_lip=0.4), 0.7, STILL)
    diff = np.abs(frame.astype(np.int16) - astronaut.image.astype(np.int16)).max(axis=2)
    ys, xs = np.mgrid[: diff.shape[0], : diff.shape[1]]
    q = fr.to_face(np.stack([xs, ys], axis=-1).astype(np.float64))
    far = (np.abs(q[..., 0]) > 2.0) | (q[..., 1] < -0.6) | (q[..., 1] > 3.5)
    assert diff[far].max() == 0


@pytest.mark.parametrize(
    "head",
    [
        [3.0, 0.0, 0.0, 1.0],
        [-3.0, 0.05, -0.04, 1.0],
        [6.0, 0.3, 0.3, 1.1],
        [-6.0, -0.3, -0.2, 0.9],
        [0.0, 0.1, 0.0, 1.0],
    ],
)
@pytest.mark.parametrize("framing", ["wide", "astronaut"])
def test_only_the_person_changes_in_either_framing(
    framing: str, head: list[float], request: pytest.FixtureRequest
) -> None:
    # Face-cropped too: the head sways without bending the background beside it (issue 8).
    wide: AvatarPack = request.getfixturevalue(framing)
    animator = PhotoAnimator(wide)
    outside = cv2.dilate((wide.person_mask > 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
    assert outside.mean() > 0.15
    for mouth, blink in (
        (REST, 0.0),
        (_mouth(jaw=1.0, lower_lip=1.0), 1.0),
        (_mouth(width=-1.0, press=1.0), 0.5),
    ):
        frame = animator.frame(mouth, blink, np.array(head, np.float32))
        assert np.array_equal(frame[outside], wide.image[outside])
    # ... and the head did move.
    assert not np.array_equal(frame, wide.image)


def test_head_roll_turns_the_head(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    pts = astronaut.landmarks
    forehead = pts[list(face.FACE_OVAL)][np.argmin(pts[list(face.FACE_OVAL), 1]), :2]
    x, y = np.round(forehead).astype(int)
    patch = astronaut.image[y - 6 : y + 6, x - 30 : x + 30].astype(np.float32)

    def best_shift(frame: np.ndarray) -> int:
        errs = [
            np.abs(frame[y - 6 : y + 6, x - 30 + s : x + 30 + s].astype(np.float32) - patch).mean()
            for s in range(-8, 9)
        ]
        return int(np.argmin(errs)) - 8

    # Positive roll is clockwise on screen: the top of the head goes right.
    assert best_shift(animator.frame(REST, 0.0, np.array([3.0, 0, 0, 1.0]))) > 0
    assert best_shift(animator.frame(REST, 0.0, np.array([-3.0, 0, 0, 1.0]))) < 0


def test_deterministic(animator: PhotoAnimator) -> None:
    args = (_mouth(jaw=0.6, width=0.4, tongue=1.0), 0.4, np.array([2.0, 0.05, -0.02, 1.01]))
    assert np.array_equal(animator.frame(*args), animator.frame(*args))
    again = PhotoAnimator(animator.pack)
    assert np.array_equal(again.frame(*args), animator.frame(*args))


def test_resync_mouth_for_video_frames(astronaut: AvatarPack) -> None:
    """A clip frame whose mouth is open is re-synced to a closed mouth given the neutral shape."""
    rig = FaceRig(astronaut.landmarks)
    warper = FaceWarper(astronaut.image, astronaut.landmarks, rig=rig)
    talking = warper.target_points(_mouth(jaw=1.0, lower_lip=1.0))[: len(astronaut.landmarks)]
    frame = warper.render(_mouth(jaw=1.0, lower_lip=1.0))
    points = astronaut.landmarks.copy()
    points[:, :2] = talking
    look = MouthLook.sample(astronaut.image, astronaut.landmarks, rig)  # once per person
    closed = resync_mouth(frame, points, REST, neutral=warper.landmarks, rig=rig, look=look)
    # The re-synced frame is much closer to the closed portrait than the open-mouthed frame was.
    rows, cols = _mouth_box(PhotoAnimator(astronaut), _mouth(jaw=1.0, lower_lip=1.0))
    err_open = np.abs(frame[rows, cols].astype(np.float32) - astronaut.image[rows, cols]).mean()
    err_closed = np.abs(closed[rows, cols].astype(np.float32) - astronaut.image[rows, cols]).mean()
    assert err_closed < 0.5 * err_open


def _reference_maps(
    warp: MeshWarp, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]] | None:
    """The backward piecewise-affine maps the plain way: solve each triangle's affine map, draw
    its id, evaluate per pixel (what ``MeshWarp.maps`` computes faster)."""
    ts, td = src[warp.triangles], dst[warp.triangles]
    sel = np.flatnonzero(np.abs(td - ts).max(axis=(1, 2)) > STILL_PX)
    if sel.size == 0:
        return None
    ts, td = ts[sel], td[sel]
    bx0, by0, bx1, by1 = warp.box
    lo = np.floor(np.minimum(td.min(axis=(0, 1)), ts.min(axis=(0, 1)))).astype(int) - 1
    hi = np.ceil(np.maximum(td.max(axis=(0, 1)), ts.max(axis=(0, 1)))).astype(int) + 2
    x0, y0, x1, y1 = max(lo[0], bx0), max(lo[1], by0), min(hi[0], bx1), min(hi[1], by1)
    n = len(sel)
    table = np.zeros((n + 1, 6))
    table[n] = (1, 0, 0, 1, 0, 0)
    idx = np.full((y1 - y0, x1 - x0), n, np.int32)
    for k in range(n):
        e = np.stack([td[k, 1] - td[k, 0], td[k, 2] - td[k, 0]], axis=1)
        if abs(np.linalg.det(e)) <= 2e-2:
            continue
        a = np.stack([ts[k, 1] - ts[k, 0], ts[k, 2] - ts[k, 0]], axis=1) @ np.linalg.inv(e)
        c = ts[k, 0] - a @ td[k, 0]
        table[k] = (a[0, 0], a[1, 0], a[0, 1], a[1, 1], c[0], c[1])
        corners = np.round((td[k] - (x0, y0)) * 16.0).astype(np.int32)
        cv2.fillConvexPoly(idx, corners, (k,), cv2.LINE_8, 4)
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    t = table[idx]
    return (
        t[..., 0] * gx + t[..., 2] * gy + t[..., 4],
        t[..., 1] * gx + t[..., 3] * gy + t[..., 5],
        (x0, y0, x1, y1),
    )


def test_mesh_warp_maps_are_the_piecewise_affine_inverse(animator: PhotoAnimator) -> None:
    warper = animator.face
    rng = np.random.default_rng(5)
    for _ in range(6):
        mouth = rng.uniform([0, -1, 0, -1, 0, 0], [1, 1, 1, 1, 1, 1]).astype(np.float32)
        dst = warper.target_points(mouth, float(rng.uniform()))
        for warp in [warper.mouth_warp, *warper.eye_warps]:
            got, want = warp.maps(warper.src, dst), _reference_maps(warp, warper.src, dst)
            assert (got is None) == (want is None)
            if got is None or want is None:
                continue
            assert got[2] == want[2]
            # float32 maps: well within cv2.remap's 1/32 pixel steps
            assert np.abs(got[0] - want[0]).max() < 1 / 64 and np.abs(got[1] - want[1]).max() < 1 / 64
    assert warper.mouth_warp.maps(warper.src, warper.src) is None


def test_head_motion_skips_only_pixels_that_would_not_move(animator: PhotoAnimator, wide: AvatarPack) -> None:
    for anim in (animator, PhotoAnimator(wide)):
        head = anim.head
        for row in ([2.5, 0.03, -0.02, 1.008], [-6.0, -0.3, 0.2, 0.9]):
            frame = anim.pack.image.copy()
            head.apply(frame, np.array(row, np.float32))
            maps = head.maps(np.array(row, np.float32))
            assert maps is not None
            x0, y0, x1, y1 = head.box
            full = anim.pack.image.copy()
            full[y0:y1, x0:x1] = cv2.remap(
                anim.pack.image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            assert np.array_equal(frame, full)


def test_keeping_the_static_layers_paints_the_same(animator: PhotoAnimator, astronaut: AvatarPack) -> None:
    """The portrait's painter keeps what depends on the pixel alone; a clip frame's computes it."""
    once = FaceWarper(astronaut.image, astronaut.landmarks, rig=animator.rig, gate=animator.face.gate)
    assert animator.face.painter._static is not None and once.painter._static is None
    rng = np.random.default_rng(2)
    for _ in range(12):
        mouth = rng.uniform([0, -1, 0, -1, 0, 0], [1, 1, 1, 1, 1, 1]).astype(np.float32)
        blink = float(rng.uniform())
        assert np.array_equal(animator.face.render(mouth, blink), once.render(mouth, blink))
