"""Face landmarks, index sets, tracking and person masks on the scikit-image astronaut portrait."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest
import skimage.data
from mediapipe.python.solutions import face_mesh_connections as conn

from facecast.engine import face
from facecast.engine.geometry import apply_affine
from facecast.errors import FaceLost, NoFaceFound


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def points(astronaut: np.ndarray) -> np.ndarray:
    return face.face_landmarks(astronaut).points


def _undirected(edges: frozenset[tuple[int, int]]) -> set[frozenset[int]]:
    return {frozenset(e) for e in edges}


# --- index sets -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("loop", "edges", "length"),
    [
        (face.OUTER_LIPS, conn.FACEMESH_LIPS, 20),
        (face.INNER_LIPS, conn.FACEMESH_LIPS, 20),
        (face.LEFT_EYE, conn.FACEMESH_LEFT_EYE, 16),
        (face.RIGHT_EYE, conn.FACEMESH_RIGHT_EYE, 16),
        (face.FACE_OVAL, conn.FACEMESH_FACE_OVAL, 36),
    ],
)
def test_contours_are_ordered_closed_loops(loop: tuple[int, ...], edges: frozenset, length: int) -> None:
    assert len(loop) == len(set(loop)) == length
    und = _undirected(edges)
    for a, b in zip(loop, loop[1:] + loop[:1], strict=True):
        assert frozenset((a, b)) in und


def test_named_points_match_the_mesh_conventions() -> None:
    assert face.OUTER_MOUTH_CORNERS == (61, 291)
    assert face.INNER_MOUTH_CORNERS == (78, 308)
    assert (face.RIGHT_EYE[0], face.RIGHT_EYE_UPPER[-1]) == (33, 133)
    assert (face.LEFT_EYE[0], face.LEFT_EYE_UPPER[-1]) == (362, 263)
    assert face.FACE_OVAL[0] == 10 and 152 in face.FACE_OVAL
    assert 13 in face.UPPER_INNER_LIP and 14 in face.LOWER_INNER_LIP
    assert 0 in face.UPPER_OUTER_LIP and 17 in face.LOWER_OUTER_LIP
    for upper, lower, loop in [
        (face.UPPER_INNER_LIP, face.LOWER_INNER_LIP, face.INNER_LIPS),
        (face.UPPER_OUTER_LIP, face.LOWER_OUTER_LIP, face.OUTER_LIPS),
        (face.LEFT_EYE_UPPER, face.LEFT_EYE_LOWER, face.LEFT_EYE),
    ]:
        assert upper[0] == lower[0] and upper[-1] == lower[-1]
        assert set(upper) | set(lower) == set(loop)
    assert (face.LEFT_IRIS_CENTER, face.RIGHT_IRIS_CENTER) == (473, 468)
    assert set(face.RIGID_POINTS).isdisjoint(face.LIPS)


def test_triangles_cover_the_mesh_consistently() -> None:
    tris = face.TRIANGLES
    assert tris.dtype == np.int32 and tris.shape[1] == 3
    assert set(np.unique(tris)) == set(range(468))
    und = _undirected(conn.FACEMESH_TESSELATION)
    directed: Counter[tuple[int, int]] = Counter()
    for a, b, c in tris.tolist():
        for e in ((a, b), (b, c), (c, a)):
            assert frozenset(e) in und
            directed[e] += 1
    assert max(directed.values()) == 1  # every edge used once each way: one consistent winding
    covered = {frozenset(e) for e in directed}
    assert covered == und


# --- landmarks ------------------------------------------------------------------------------------
def test_landmarks_lie_on_the_astronauts_face(points: np.ndarray) -> None:
    assert points.shape == (478, 3) and points.dtype == np.float32
    left, right = face.eye_centers(points)
    mouth = points[list(face.INNER_LIPS), :2].mean(axis=0)
    assert right[0] < left[0]  # the subject's left eye is on the right of the photo
    assert max(left[1], right[1]) < mouth[1]  # eyes above the mouth
    assert 170 < mouth[0] < 280 and 110 < mouth[1] < 180
    assert 30 < face.eye_distance(points) < 60
    for iris, eye in ((face.LEFT_IRIS_CENTER, face.LEFT_EYE), (face.RIGHT_IRIS_CENTER, face.RIGHT_EYE)):
        contour = points[list(eye), :2].astype(np.float32)
        assert cv2.pointPolygonTest(contour, tuple(map(float, points[iris, :2])), False) > 0
    upper = points[list(face.UPPER_OUTER_LIP), 1].mean()
    lower = points[list(face.LOWER_OUTER_LIP), 1].mean()
    assert upper < lower
    p0, p1, p2 = (points[face.TRIANGLES[:, k], :2] for k in range(3))
    cross = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])
    assert (cross > 0).mean() > 0.95
    assert abs(face.roll_degrees(points)) < 10
    assert 0.02 < face.mouth_opening(points) < 0.4  # she smiles with teeth
    assert 0.15 < face.eye_aspect_ratio(points) < 0.45


def test_geometry_helpers_take_batches(points: np.ndarray) -> None:
    batch = np.stack([points, points])
    assert np.asarray(face.eye_distance(batch)).shape == (2,)
    closed = points.copy()
    closed[list(face.LOWER_INNER_LIP), :2] = closed[list(face.UPPER_INNER_LIP), :2]
    assert face.mouth_opening(closed) == pytest.approx(0.0, abs=1e-6)


def test_face_frame_puts_the_eyes_at_unit_distance(points: np.ndarray) -> None:
    left, right = face.eye_centers(points)
    eyes = apply_affine(face.face_frame(points), np.stack([right, left]))  # image-left eye first
    assert np.allclose(eyes, [[-0.5, 0.0], [0.5, 0.0]], atol=1e-9)


def test_blank_image_has_no_face() -> None:
    with pytest.raises(NoFaceFound, match="No face"):
        face.face_landmarks(np.full((320, 320, 3), 200, np.uint8))


def test_several_faces_use_the_largest_with_a_warning(astronaut: np.ndarray, points: np.ndarray) -> None:
    two = np.full((512, 1024, 3), 128, np.uint8)
    two[:, :512] = astronaut
    two[64:448, 600:984] = cv2.resize(astronaut, (384, 384), interpolation=cv2.INTER_AREA)
    found = face.face_landmarks(two)
    assert found.warnings and "2 faces" in found.warnings[0]
    assert np.abs(found.points[:, :2] - points[:, :2]).mean() < 2.0
    assert not face.face_landmarks(astronaut).warnings


def test_small_face_in_a_wide_picture(astronaut: np.ndarray, points: np.ndarray) -> None:
    wide = np.full((1080, 1920, 3), 90, np.uint8)
    wide[500:1012, 1200:1712] = astronaut
    found = face.face_landmarks(wide).points
    assert np.abs(found[:, :2] - points[:, :2] - (1200, 500)).mean() < 1.5


# --- tracking -------------------------------------------------------------------------------------
def test_tracker_follows_the_face_and_reports_losses(astronaut: np.ndarray, points: np.ndarray) -> None:
    frames = [np.roll(astronaut, 2 * k, axis=1) for k in range(8)]
    tracked = face.track_landmarks(frames)
    assert tracked.shape == (8, 478, 3)
    shift = tracked[:, list(face.RIGID_POINTS), 0].mean(axis=1) - points[list(face.RIGID_POINTS), 0].mean()
    assert np.abs(shift - 2 * np.arange(8)).max() < 1.5
    frames[3] = np.full_like(astronaut, 30)
    with pytest.raises(FaceLost, match="frame 4"):
        face.track_landmarks(frames)
    gappy = face.track_landmarks(frames, allow_missing=True)
    assert np.isnan(gappy[3]).all() and np.isfinite(gappy[4]).all()


# --- person mask ----------------------------------------------------------------------------------
def test_person_mask_covers_the_person_not_the_corners(astronaut: np.ndarray, points: np.ndarray) -> None:
    for mask in (face.person_mask(astronaut), face.person_mask(astronaut, points)):
        assert mask.shape == astronaut.shape[:2] and mask.dtype == np.float32
        assert 0.0 <= mask.min() and mask.max() <= 1.0
        nose = points[1, :2].round().astype(int)
        assert mask[nose[1], nose[0]] > 0.9
        assert mask[30, 225] > 0.8  # hair on top of the head
        assert mask[300, 200] > 0.8  # the suit (shoulders)
        assert mask[:20, :20].max() < 0.1 and mask[:20, -20:].max() < 0.1


def test_small_face_in_a_large_photo_is_found(astronaut: np.ndarray) -> None:
    large = np.full((2400, 3600, 3), 90, np.uint8)
    large[1800:2120, 2400:2720] = cv2.resize(astronaut, (320, 320), interpolation=cv2.INTER_AREA)
    found = face.face_landmarks(large).points
    nose = found[1, :2]
    assert 2400 < nose[0] < 2720 and 1800 < nose[1] < 2120


def test_shared_graphs_are_safe_across_threads(astronaut: np.ndarray, points: np.ndarray) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: face.face_landmarks(astronaut).points, range(4)))
    for r in results:
        assert np.abs(r - points).max() < 1e-3
