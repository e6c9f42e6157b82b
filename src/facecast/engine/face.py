"""Face landmarks and person segmentation: the only module that imports mediapipe.

Gives the 478-point face mesh (with irises) of the largest face in a picture, a tracker for the
frames of a video, a soft person mask, and named landmark index sets (ordered lip, eye and face
contours, mesh triangles) derived once from mediapipe's ``face_mesh_connections`` constants.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from facecast.errors import FaceLost, NoFaceFound


def _load_connections() -> Any:
    """mediapipe's ``face_mesh_connections`` (plain index sets), without importing mediapipe itself.

    Importing the ``mediapipe`` package loads its whole graph runtime (about half a second); a render
    from a cached avatar pack needs only these constants, so the file is loaded on its own.
    """
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("mediapipe is not installed: run scripts/setup.sh")
    path = Path(next(iter(spec.submodule_search_locations))) / "python/solutions/face_mesh_connections.py"
    module_spec = importlib.util.spec_from_file_location("_facecast_face_mesh_connections", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


_conn = _load_connections()

log = logging.getLogger(__name__)

#: Number of points of the refined face mesh (468 mesh points + 2 x 5 iris points).
N_LANDMARKS = 478


# =================================================================================================
# Named landmark index sets, derived once at import from mediapipe's edge sets.
#
# Conventions: "left" and "right" are the subject's, as in mediapipe (the subject's left eye is on
# the right of an unmirrored photo). Ordered contours are closed loops (the first point is not
# repeated at the end) that run clockwise on screen (image y pointing down): lips and eyes start
# at their image-left corner and go over the upper edge first; the face oval starts at the top of
# the forehead. ``UPPER_*``/``LOWER_*`` run from the image-left corner to the image-right corner.
# =================================================================================================
Edges = Iterable[tuple[int, int]]


def _loops(edges: Edges) -> list[list[int]]:
    """Chain an edge set in which every vertex has degree 2 into its closed loops."""
    adj: dict[int, list[int]] = defaultdict(list)
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    if any(len(n) != 2 for n in adj.values()):
        raise ValueError("edge set is not a union of simple loops")
    seen: set[int] = set()
    loops: list[list[int]] = []
    for start in sorted(adj):
        if start in seen:
            continue
        loop, prev, cur = [start], start, adj[start][0]
        seen.add(start)
        while cur != start:
            loop.append(cur)
            seen.add(cur)
            a, b = adj[cur]
            prev, cur = cur, (b if a == prev else a)
        loops.append(loop)
    return loops


def _points_of(edges: Edges) -> tuple[int, ...]:
    return tuple(sorted({i for e in edges for i in e}))


def _mesh_triangles(edges: Edges) -> np.ndarray:
    """The faces of the tesselation: its 3-cycles, minus the few that enclose other faces."""
    und = {(min(a, b), max(a, b)) for a, b in edges}
    adj: dict[int, set[int]] = defaultdict(set)
    for a, b in und:
        adj[a].add(b)
        adj[b].add(a)
    tris = {tuple(sorted((a, b, c))) for a, b in und for c in adj[a] & adj[b]}
    count: dict[tuple[int, int], int] = defaultdict(int)
    for t in tris:
        for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])):
            count[e] += 1
    # A separating 3-cycle (not a face) has each of its edges shared by two real faces as well.
    faces = [t for t in tris if not all(count[e] > 2 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]
    return np.array(sorted(faces), dtype=np.int32)


def _tutte_layout(edges: Edges, boundary: list[int], n: int) -> np.ndarray:
    """A planar 2D embedding of the mesh (Tutte): boundary on a circle, others at neighbours' mean."""
    und = {(min(a, b), max(a, b)) for a, b in edges}
    lap = np.zeros((n, n))
    for a, b in und:
        lap[a, b] = lap[b, a] = -1.0
        lap[a, a] += 1.0
        lap[b, b] += 1.0
    xy = np.zeros((n, 2))
    angles = 2.0 * np.pi * np.arange(len(boundary)) / len(boundary)
    xy[boundary] = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    fixed = np.zeros(n, dtype=bool)
    fixed[boundary] = True
    free = ~fixed
    xy[free] = np.linalg.solve(lap[np.ix_(free, free)], -lap[np.ix_(free, fixed)] @ xy[fixed])
    return xy


def _shoelace(xy: np.ndarray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return float(0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def _orient_loop(loop: list[int], layout: np.ndarray, *, start: str) -> list[int]:
    """Clockwise on screen (positive shoelace with y down), starting at the top, leftmost or left
    corner point. The mesh is left-right symmetric and so is the layout; "corner" is the point
    halfway round the loop between the top and the bottom ones (on the mirror axis), which holds
    for the lips where the hole makes the layout too round to pick the corners by x."""
    if _shoelace(layout[loop]) < 0:
        loop = loop[::-1]
    if start == "corner":
        top, bottom = int(np.argmin(layout[loop, 1])), int(np.argmax(layout[loop, 1]))
        n = len(loop)
        half = (top - bottom) % n  # steps from the bottom point round to the top one (left side)
        if half % 2 == 0:
            i = (bottom + half // 2) % n
            return loop[i:] + loop[:i]
        start = "left"
    key = layout[loop, 0] if start == "left" else layout[loop, 1]
    i = int(np.argmin(key))
    return loop[i:] + loop[:i]


def _split_loop(loop: list[int], layout: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(upper, lower) halves of a loop that starts at its left corner, both left to right.

    The right corner is the mirror image of the left one: the point opposite along the loop when
    the loop is symmetric (as the lips and eyes of the mesh are), else the rightmost point."""
    j = len(loop) // 2 if len(loop) % 2 == 0 else int(np.argmax(layout[loop, 0]))
    upper = tuple(loop[: j + 1])
    lower = tuple([loop[0]] + loop[j:][::-1])
    return upper, lower


def _derive() -> dict[str, Any]:
    oval = _loops(_conn.FACEMESH_FACE_OVAL)[0]
    tess = list(_conn.FACEMESH_TESSELATION)
    layout = _tutte_layout(tess, oval, 468)
    # Turn the layout upright (mouth below the eyes) and unmirrored (subject's left eye on the right).
    left_c = layout[list(_points_of(_conn.FACEMESH_LEFT_EYE))].mean(axis=0)
    right_c = layout[list(_points_of(_conn.FACEMESH_RIGHT_EYE))].mean(axis=0)
    lips_c = layout[list(_points_of(_conn.FACEMESH_LIPS))].mean(axis=0)
    down = lips_c - (left_c + right_c) / 2
    rot = math.pi / 2 - math.atan2(down[1], down[0])
    c, s = math.cos(rot), math.sin(rot)
    layout = layout @ np.array([[c, s], [-s, c]])
    if (
        layout[list(_points_of(_conn.FACEMESH_LEFT_EYE))].mean(axis=0)[0]
        < layout[list(_points_of(_conn.FACEMESH_RIGHT_EYE))].mean(axis=0)[0]
    ):
        layout[:, 0] *= -1.0

    lip_loops = _loops(_conn.FACEMESH_LIPS)
    # The outer lip contour encloses the inner one: the larger area in the layout.
    lip_loops.sort(key=lambda lp: abs(_shoelace(layout[lp])), reverse=True)
    outer = _orient_loop(lip_loops[0], layout, start="corner")
    inner = _orient_loop(lip_loops[1], layout, start="corner")
    left_eye = _orient_loop(_loops(_conn.FACEMESH_LEFT_EYE)[0], layout, start="left")
    right_eye = _orient_loop(_loops(_conn.FACEMESH_RIGHT_EYE)[0], layout, start="left")
    face_oval = _orient_loop(oval, layout, start="top")

    tris = _mesh_triangles(tess)
    p0, p1, p2 = (layout[tris[:, k]] for k in range(3))
    cross = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p2[:, 0] - p0[:, 0]) * (p1[:, 1] - p0[:, 1])
    tris[cross < 0] = tris[cross < 0][:, [0, 2, 1]]

    eye_y = (layout[left_eye, 1].mean() + layout[right_eye, 1].mean()) / 2
    nose = _points_of(_conn.FACEMESH_NOSE)
    corners = (
        left_eye[0],
        _split_loop(left_eye, layout)[0][-1],
        right_eye[0],
        _split_loop(right_eye, layout)[0][-1],
    )
    upper_oval = tuple(i for i in face_oval if layout[i, 1] < eye_y)
    rigid = tuple(sorted(set(nose) | set(corners) | set(upper_oval)))
    return {
        "layout": layout.astype(np.float32),
        "outer": outer,
        "inner": inner,
        "left_eye": left_eye,
        "right_eye": right_eye,
        "face_oval": face_oval,
        "triangles": tris,
        "rigid": rigid,
    }


_D = _derive()

#: A flat 2D layout of the 468 mesh points (Tutte embedding of the tesselation; y down, unit scale).
#: Only topology is meaningful: use it to reason about neighbourhoods, not as a face shape.
MESH_LAYOUT: np.ndarray = _D["layout"]

OUTER_LIPS: tuple[int, ...] = tuple(_D["outer"])
INNER_LIPS: tuple[int, ...] = tuple(_D["inner"])
UPPER_OUTER_LIP, LOWER_OUTER_LIP = _split_loop(_D["outer"], MESH_LAYOUT)
UPPER_INNER_LIP, LOWER_INNER_LIP = _split_loop(_D["inner"], MESH_LAYOUT)
#: Mouth corners on the outer and inner lip contours: (image-left, image-right).
OUTER_MOUTH_CORNERS: tuple[int, int] = (UPPER_OUTER_LIP[0], UPPER_OUTER_LIP[-1])
INNER_MOUTH_CORNERS: tuple[int, int] = (UPPER_INNER_LIP[0], UPPER_INNER_LIP[-1])
LIPS: tuple[int, ...] = _points_of(_conn.FACEMESH_LIPS)

LEFT_EYE: tuple[int, ...] = tuple(_D["left_eye"])
RIGHT_EYE: tuple[int, ...] = tuple(_D["right_eye"])
LEFT_EYE_UPPER, LEFT_EYE_LOWER = _split_loop(_D["left_eye"], MESH_LAYOUT)
RIGHT_EYE_UPPER, RIGHT_EYE_LOWER = _split_loop(_D["right_eye"], MESH_LAYOUT)
LEFT_EYEBROW: tuple[int, ...] = _points_of(_conn.FACEMESH_LEFT_EYEBROW)
RIGHT_EYEBROW: tuple[int, ...] = _points_of(_conn.FACEMESH_RIGHT_EYEBROW)
LEFT_IRIS: tuple[int, ...] = _points_of(_conn.FACEMESH_LEFT_IRIS)
RIGHT_IRIS: tuple[int, ...] = _points_of(_conn.FACEMESH_RIGHT_IRIS)
#: Iris centres (only in the refined 478-point mesh).
LEFT_IRIS_CENTER = 473
RIGHT_IRIS_CENTER = 468
NOSE: tuple[int, ...] = _points_of(_conn.FACEMESH_NOSE)

FACE_OVAL: tuple[int, ...] = tuple(_D["face_oval"])
#: Mesh triangles int32 [T, 3] (the eyes and the mouth are holes), all wound the same way:
#: cross(p1 - p0, p2 - p0) > 0 in pixel coordinates (clockwise on screen) for an upright face.
TRIANGLES: np.ndarray = _D["triangles"]
#: Points that move neither with the mouth, the jaw, blinks nor the brows: the nose, the eye
#: corners and the face oval above the eyes. Use them to align or stabilise faces.
RIGID_POINTS: tuple[int, ...] = _D["rigid"]
del _D


# =================================================================================================
# Geometry on landmark arrays (any leading batch dimensions: [..., 478, 2 or 3]).
# =================================================================================================
def _xy(points: np.ndarray, idx: Iterable[int]) -> np.ndarray:
    return np.asarray(points, dtype=np.float64)[..., list(idx), :2]


def _area(poly: np.ndarray) -> np.ndarray:
    x, y = poly[..., 0], poly[..., 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=-1) - np.roll(x, -1, axis=-1) * y, axis=-1))


def eye_centers(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left, right) eye centres [..., 2]: the mean of each eye contour (stable under gaze)."""
    return _xy(points, LEFT_EYE).mean(axis=-2), _xy(points, RIGHT_EYE).mean(axis=-2)


def eye_distance(points: np.ndarray) -> np.ndarray | float:
    """Inter-ocular distance in pixels: between the eye centres of ``eye_centers``."""
    left, right = eye_centers(points)
    d = np.linalg.norm(left - right, axis=-1)
    return float(d) if np.ndim(d) == 0 else d


def roll_degrees(points: np.ndarray) -> np.ndarray | float:
    """Head roll from the eye line, degrees; positive is clockwise on screen (as ``motion.HEAD_PARAMS``)."""
    left, right = eye_centers(points)
    d = left - right
    r = np.degrees(np.arctan2(d[..., 1], d[..., 0]))
    return float(r) if np.ndim(r) == 0 else r


@dataclass(frozen=True)
class FaceFrame:
    """A face-aligned frame: origin between the eyes, x along the eye line (image-right for an
    upright face), y toward the mouth, unit = inter-ocular distance ``iod`` (pixels)."""

    origin: np.ndarray
    axes: np.ndarray  # rows: x axis, y axis (unit vectors in image pixels)
    iod: float

    @classmethod
    def of(cls, landmarks: np.ndarray) -> FaceFrame:
        p = np.asarray(landmarks, dtype=np.float64)
        left, right = eye_centers(p)
        mid = (left + right) / 2.0
        ex = left - right  # the subject's left eye is on the image right of an unmirrored picture
        iod = float(np.hypot(ex[0], ex[1]))
        if iod < 1e-6:
            raise ValueError("degenerate landmarks: the eyes coincide")
        ex = ex / iod
        ey = np.array([-ex[1], ex[0]])
        if float(ey @ (p[list(LIPS), :2].mean(axis=0) - mid)) < 0:  # mirrored picture
            ex, ey = -ex, -ey
        return cls(mid, np.stack([ex, ey]), iod)

    def to_face(self, xy: np.ndarray) -> np.ndarray:
        return ((np.asarray(xy, dtype=np.float64)[..., :2] - self.origin) @ self.axes.T) / self.iod

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        return self.origin + (np.asarray(uv, dtype=np.float64) * self.iod) @ self.axes

    def vectors_to_image(self, d: np.ndarray) -> np.ndarray:
        return (np.asarray(d, dtype=np.float64) * self.iod) @ self.axes


    @property
    def matrix(self) -> np.ndarray:
        """The 2x3 map from image pixels to this frame (apply with ``geometry.apply_affine``)."""
        rot = self.axes / self.iod
        return np.hstack([rot, -(rot @ self.origin)[:, None]])


def face_frame(points: np.ndarray) -> np.ndarray:
    """The 2x3 similarity map from image pixels to the face-aligned frame (``FaceFrame``) of one
    face's landmarks [478, >=2]. Apply it with ``geometry.apply_affine``."""
    return FaceFrame.of(points).matrix


def _opening(points: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]) -> np.ndarray:
    loop = list(upper) + list(lower[1:-1][::-1])
    poly = _xy(points, loop)
    width = np.linalg.norm(poly[..., len(upper) - 1, :] - poly[..., 0, :], axis=-1)
    return _area(poly) / np.maximum(width, 1e-6)


def mouth_opening(points: np.ndarray) -> np.ndarray | float:
    """Mean gap between the inner lips (inner-contour area / its width) over the inter-ocular distance.

    About 0 for a closed mouth, 0.1-0.2 for speech, 0.3+ wide open.
    """
    v = _opening(points, UPPER_INNER_LIP, LOWER_INNER_LIP) / np.maximum(eye_distance(points), 1e-6)
    return float(v) if np.ndim(v) == 0 else v


def eye_aspect_ratio(points: np.ndarray) -> np.ndarray | float:
    """Mean lid gap over eye width, averaged over both eyes: ~0.3 open, under ~0.1 closed."""
    v = 0.0
    for upper, lower in ((LEFT_EYE_UPPER, LEFT_EYE_LOWER), (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER)):
        poly_w = np.linalg.norm(_xy(points, [upper[-1]]) - _xy(points, [upper[0]]), axis=-1)[..., 0]
        v = v + _opening(points, upper, lower) / np.maximum(poly_w, 1e-6) / 2.0
    return float(v) if np.ndim(v) == 0 else np.asarray(v)


# =================================================================================================
# mediapipe graphs, created once and shared (a graph runs one image at a time: one lock each).
# =================================================================================================
_graphs: dict[tuple[Any, ...], tuple[Any, threading.Lock]] = {}
_graphs_lock = threading.Lock()


def _graph(kind: str, **params: Any) -> tuple[Any, threading.Lock]:
    key = (kind, *sorted(params.items()))
    with _graphs_lock:
        entry = _graphs.get(key)
        if entry is None:
            with _native_stderr_muted():
                entry = (_new_graph(kind, **params), threading.Lock())
            _graphs[key] = entry
        return entry


def _quiet_native_logs() -> None:
    """Keep mediapipe's native (glog/TFLite) chatter off the user's terminal; set before it loads."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _new_graph(kind: str, **params: Any) -> Any:
    _quiet_native_logs()
    from mediapipe.python.solutions import face_detection, face_mesh, selfie_segmentation

    if kind == "detect":
        return face_detection.FaceDetection(min_detection_confidence=0.5, **params)
    if kind == "mesh":
        return face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, min_detection_confidence=0.5, **params
        )
    if kind == "segment":
        return selfie_segmentation.SelfieSegmentation(**params)
    raise ValueError(kind)


@contextlib.contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while mediapipe builds or first runs a graph.

    Its C++ side prints absl/TFLite notes ("Created TensorFlow Lite XNNPACK delegate", "Feedback
    manager requires ...") from its own threads, before any Python logging setting can reach it;
    they mean nothing to a user.
    """
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _process(graph: Any, image: np.ndarray) -> Any:
    """``graph.process``; its first call runs with native stderr muted."""
    if getattr(graph, "_facecast_warm", False):
        return graph.process(image)
    with _native_stderr_muted():
        result = graph.process(image)
    graph._facecast_warm = True
    return result


def _run(kind: str, image: np.ndarray, **params: Any) -> Any:
    graph, lock = _graph(kind, **params)
    with lock:
        return _process(graph, image)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    """A C-contiguous RGB uint8 [H, W, 3] view or copy of an image array."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"expected an RGB image array [H, W, 3], got shape {a.shape}")
    if a.shape[2] == 4:
        a = a[:, :, :3]
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating):
            a = np.clip(a * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            a = np.clip(a, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


# =================================================================================================
# Face detection and landmarks
# =================================================================================================
@dataclass(frozen=True)
class FaceBox:
    """A detected face: box in pixels and detector score."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    @property
    def side(self) -> float:
        return max(self.x1 - self.x0, self.y1 - self.y0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


def _iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    union = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter
    return inter / union if union > 0 else 0.0


def _windows(w: int, h: int, side: int) -> list[tuple[int, int, int]]:
    """Square windows (x0, y0, side) of ``side`` that tile a w x h picture with half overlap."""
    side = min(side, w, h)

    def offsets(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = math.ceil((length - side) / (side / 2)) + 1
        return [round(k * (length - side) / (n - 1)) for k in range(n)]

    return [(x, y, side) for y in offsets(h) for x in offsets(w)]


#: Long side of the views handed to the face detector (it works at 128 or 192 px anyway).
DETECT_VIEW_SIDE = 1024
#: Smallest window of the detection pyramid, in picture pixels.
DETECT_MIN_WINDOW = 256


def _detect_in(rgb: np.ndarray, views: list[tuple[int, int, int, int]]) -> list[FaceBox]:
    h, w = rgb.shape[:2]
    boxes: list[FaceBox] = []
    for vx, vy, vw, vh in views:
        view = rgb if (vw, vh) == (w, h) else rgb[vy : vy + vh, vx : vx + vw]
        if max(vw, vh) > DETECT_VIEW_SIDE:
            k = DETECT_VIEW_SIDE / max(vw, vh)
            view = cv2.resize(
                view, (max(1, round(vw * k)), max(1, round(vh * k))), interpolation=cv2.INTER_AREA
            )
        view = np.ascontiguousarray(view)
        for model in (0, 1):
            res = _run("detect", view, model_selection=model)
            for det in res.detections or []:
                bb = det.location_data.relative_bounding_box
                x0, y0 = vx + bb.xmin * vw, vy + bb.ymin * vh
                box = FaceBox(x0, y0, x0 + bb.width * vw, y0 + bb.height * vh, float(det.score[0]))
                if box.x1 - box.x0 > 2 and box.y1 - box.y0 > 2:
                    boxes.append(box)
    return boxes


def detect_faces(image: np.ndarray) -> list[FaceBox]:
    """Faces in an RGB image, largest first.

    Runs mediapipe's short- and full-range detectors on the whole picture and on square tiles of
    it (wide or tall shots); when that finds nothing, on a pyramid of smaller tiles, so that small
    faces in large pictures are found too. Boxes may be false detections: ``find_faces`` confirms
    them with the mesh.
    """
    rgb = _as_rgb(image)
    h, w = rgb.shape[:2]
    side = min(w, h)
    views = [(0, 0, w, h)]
    if max(w, h) >= 1.25 * side:
        views += [(x, y, s, s) for x, y, s in _windows(w, h, side)]
    boxes = _detect_in(rgb, views)
    side //= 2
    while not boxes and side >= DETECT_MIN_WINDOW:
        boxes = _detect_in(rgb, [(x, y, s, s) for x, y, s in _windows(w, h, side)])
        side //= 2
    boxes.sort(key=lambda b: b.score, reverse=True)
    kept: list[FaceBox] = []
    for b in boxes:
        if all(_iou(b, k) < 0.3 for k in kept):
            kept.append(b)
    kept.sort(key=lambda b: b.side, reverse=True)
    return kept


def _square_crop(
    rgb: np.ndarray, cx: float, cy: float, side: float, out: int
) -> tuple[np.ndarray, float, float, float]:
    """A square of ``side`` source pixels centred at (cx, cy), edges replicated, resized to ``out``.

    Returns the crop and (x0, y0, scale) such that source = crop / scale + (x0, y0).
    """
    h, w = rgb.shape[:2]
    s = max(int(round(side)), 8)
    x0, y0 = int(round(cx - s / 2)), int(round(cy - s / 2))
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
    if cx1 <= cx0 or cy1 <= cy0:
        raise ValueError("crop outside the image")
    sub = rgb[cy0:cy1, cx0:cx1]
    if (cx0, cy0, cx1, cy1) != (x0, y0, x0 + s, y0 + s):
        sub = cv2.copyMakeBorder(sub, cy0 - y0, y0 + s - cy1, cx0 - x0, x0 + s - cx1, cv2.BORDER_REPLICATE)
    if out != s:
        sub = cv2.resize(sub, (out, out), interpolation=cv2.INTER_AREA if out < s else cv2.INTER_CUBIC)
    return np.ascontiguousarray(sub), float(x0), float(y0), out / s


def _mesh_points(res: Any, width: int, height: int) -> list[np.ndarray]:
    faces = []
    for face in res.multi_face_landmarks or []:
        p = np.array([(lm.x, lm.y, lm.z) for lm in face.landmark], dtype=np.float64)
        p[:, 0] *= width
        p[:, 1] *= height
        p[:, 2] *= width
        faces.append(p)
    return faces


def _landmarks_in_box(rgb: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """The mesh of the face in ``box``: run on a square crop around it (accurate for any face size)."""
    cx, cy = box.center
    for factor in (2.5, 1.8, 3.5):
        side = box.side * factor
        out = int(np.clip(round(side), 256, 384))
        crop, x0, y0, scale = _square_crop(rgb, cx, cy, side, out)
        faces = _mesh_points(_run("mesh", crop, max_num_faces=3), out, out)
        if not faces:
            continue
        # The face nearest the crop centre is the one detected.
        best = min(faces, key=lambda p: float(np.hypot(*(p[:468, :2].mean(axis=0) - out / 2))))
        best = best / scale
        best[:, 0] += x0
        best[:, 1] += y0
        return best.astype(np.float32)
    return None


@dataclass(frozen=True)
class FaceLandmarks:
    """The 478-point face mesh (with irises) of one face, in pixel coordinates of the image given.

    ``points`` is float32 [478, 3]: x, y in pixels, z in the same pixel scale (smaller is nearer).
    ``warnings`` carries notes a user should see (e.g. several faces found, the largest was used).
    """

    points: np.ndarray
    warnings: tuple[str, ...] = field(default_factory=tuple)


def find_faces(image: np.ndarray, *, limit: int = 8) -> list[np.ndarray]:
    """Meshes (float32 [478, 3]) of the faces in an RGB image, largest (inter-ocular distance) first.

    Every detection is confirmed by the mesh, so false detections (a helmet, a pattern) drop out.
    """
    rgb = _as_rgb(image)
    found: list[np.ndarray] = []
    for box in detect_faces(rgb)[:limit]:
        points = _landmarks_in_box(rgb, box)
        if points is None:
            continue
        centre = points[:468, :2].mean(axis=0)
        if math.hypot(*(centre - np.array(box.center))) > 0.5 * box.side:
            continue  # the mesh found another face near this box
        iod = float(eye_distance(points))
        if any(np.linalg.norm(centre - f[:468, :2].mean(axis=0)) < 0.5 * iod for f in found):
            continue  # the same face, detected twice
        found.append(points)
    found.sort(key=lambda p: float(eye_distance(p)), reverse=True)
    return found


def face_landmarks(image: np.ndarray) -> FaceLandmarks:
    """Landmarks of the largest face in an RGB uint8 image; ``NoFaceFound`` when there is none."""
    faces = find_faces(image)
    if not faces:
        raise NoFaceFound(
            "No face found in the picture. Use a photo in which a face is clearly visible, "
            "lit, and turned towards the camera."
        )
    main = faces[0]
    big = float(eye_distance(main))
    others = [f for f in faces[1:] if float(eye_distance(f)) >= 0.2 * big]
    warnings: tuple[str, ...] = ()
    if others:
        warnings = (f"{len(others) + 1} faces found in the picture; the largest one was used.",)
    return FaceLandmarks(points=main, warnings=warnings)


class FaceTracker:
    """Landmarks on consecutive frames of one video (mediapipe video mode: tracks, detects rarely).

    One tracker per video and per thread. ``track(frame)`` returns float32 [478, 3] in the
    frame's pixels, or None when no face is visible. The mesh runs on a fixed square window
    around the face found in the first frame, so small faces in large frames track well too.
    """

    #: Working size of the window fed to the mesh (bigger windows are scaled down to it).
    WORK_SIZE = 512

    def __init__(self) -> None:
        self._mesh: Any = None
        self._window: tuple[float, float, float] | None = None  # cx, cy, side
        self._input_size: int | None = None

    def _new_mesh(self) -> None:
        _quiet_native_logs()
        from mediapipe.python.solutions import face_mesh

        if self._mesh is not None:
            self._mesh.close()
        with _native_stderr_muted():
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=False,
                max_num_faces=1,
                refine_landmarks=True,
                min_detection_confidence=0.5,
                min_tracking_confidence=0.5,
            )

    def _find_window(self, rgb: np.ndarray) -> tuple[float, float, float] | None:
        boxes = detect_faces(rgb)
        if not boxes:
            return None
        h, w = rgb.shape[:2]
        cx, cy = boxes[0].center
        side = boxes[0].side * 3.0
        if w == h and side >= 0.7 * w:
            return w / 2, h / 2, float(w)  # the whole (square) frame
        return cx, cy, side

    def _run_window(self, rgb: np.ndarray) -> np.ndarray | None:
        assert self._window is not None
        cx, cy, side = self._window
        h, w = rgb.shape[:2]
        if (cx, cy, side) == (w / 2, h / 2, float(w)) and w <= self.WORK_SIZE:
            crop, x0, y0, scale = rgb, 0.0, 0.0, 1.0
        else:
            out = int(min(round(side), self.WORK_SIZE))
            crop, x0, y0, scale = _square_crop(rgb, cx, cy, side, out)
        size = crop.shape[0]
        if self._mesh is None or self._input_size != size:
            self._new_mesh()
            self._input_size = size
        faces = _mesh_points(_process(self._mesh, crop), size, size)
        if not faces:
            return None
        p = faces[0] / scale
        p[:, 0] += x0
        p[:, 1] += y0
        return p.astype(np.float32)

    #: Extra mesh passes on the frame where a face is (re)acquired: the first pass starts from the
    #: detector's box, later ones from the mesh's own landmarks, as on every following frame.
    WARM_UP = 2

    def track(self, frame: np.ndarray) -> np.ndarray | None:
        """Landmarks float32 [478, 3] of the face in this frame, or None when none is visible."""
        rgb = _as_rgb(frame)
        for attempt in range(2):
            warm = 0
            if self._window is None:
                self._window = self._find_window(rgb)
                if self._window is None:
                    return None
                warm = self.WARM_UP
            points = self._run_window(rgb)
            for _ in range(warm):
                points = self._run_window(rgb) if points is not None else None
            if points is not None:
                cx, cy, side = self._window
                fx, fy = points[:468, :2].mean(axis=0)
                if math.hypot(fx - cx, fy - cy) > 0.2 * side:
                    self._window = None  # drifting out of the window: re-centre on the next frame
                return points
            self._window = None  # lost: detect again (once more on this frame)
            if attempt == 0:
                continue
        return None

    __call__ = track

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def iter_landmarks(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray | None]:
    """Track landmarks lazily over frames: [478, 3] float32 per frame, None where no face is seen."""
    with FaceTracker() as tracker:
        for frame in frames:
            yield tracker.track(frame)


def track_landmarks(
    frames: Iterable[np.ndarray],
    *,
    allow_missing: bool = False,
    on_frame: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Landmarks of every frame of a video: float32 [N, 478, 3].

    Raises ``FaceLost`` (naming the frame) when a frame shows no face, unless ``allow_missing``,
    in which case that frame's row is NaN.
    """
    rows: list[np.ndarray] = []
    missing = np.full((N_LANDMARKS, 3), np.nan, dtype=np.float32)
    for i, points in enumerate(iter_landmarks(frames)):
        if points is None:
            if not allow_missing:
                raise FaceLost(
                    f"The face cannot be found in frame {i + 1} of the clip; keep the face in view."
                )
            points = missing
        rows.append(points)
        if on_frame is not None:
            on_frame(i)
    if not rows:
        return np.zeros((0, N_LANDMARKS, 3), dtype=np.float32)
    return np.stack(rows)


# =================================================================================================
# Person segmentation
# =================================================================================================
def _raw_mask(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    model = 1 if w > 1.3 * h else 0
    # The models run at 256x256 (144x256); feeding a modest picture saves conversion time.
    scale = min(1.0, 640.0 / max(h, w))
    small = (
        rgb
        if scale == 1.0
        else cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    )
    m = _run("segment", np.ascontiguousarray(small), model_selection=model).segmentation_mask
    m = np.asarray(m, dtype=np.float32)
    if m.shape != (h, w):
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(m, 0.0, 1.0)


def _refine(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Edge-aware refinement (guided filter on the picture) and removal of stray blobs and holes."""
    h, w = mask.shape
    r = max(2, round(max(h, w) / 200))
    guide = rgb.astype(np.float32) / 255.0
    try:
        mask = cv2.ximgproc.guidedFilter(guide, mask, r, 1e-3)
    except AttributeError:  # pragma: no cover - opencv without contrib
        mask = cv2.GaussianBlur(mask, (0, 0), r / 2)
    mask = np.clip(mask, 0.0, 1.0)
    binary = (mask > 0.5).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n > 1:
        areas = stats[1:, cv2.CC_STAT_AREA]
        keep_ids = 1 + np.flatnonzero(areas >= 0.05 * areas.max())
        keep = np.isin(labels, keep_ids).astype(np.uint8)
        # Fill holes: background not reachable from the border.
        inv = (1 - keep).astype(np.uint8)
        ff = np.zeros((h + 4, w + 4), np.uint8)
        padded = cv2.copyMakeBorder(inv, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=(1,))
        cv2.floodFill(padded, ff, (0, 0), (2,))
        holes = (padded[1:-1, 1:-1] == 1).astype(np.float32)
        k = 2 * r + 1
        near = cv2.dilate(keep, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(np.float32)
        near = np.asarray(cv2.GaussianBlur(near, (0, 0), r), np.float32)
        mask = np.maximum(mask * near, np.asarray(cv2.GaussianBlur(holes, (0, 0), r), np.float32))
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def _face_region(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """A soft mask covering the face oval, grown a little."""
    h, w = shape
    pts = np.asarray(landmarks, dtype=np.float64)[list(FACE_OVAL), :2]
    c = pts.mean(axis=0)
    iod = max(float(eye_distance(landmarks)), 1.0)
    grown = c + (pts - c) * 1.05
    region = np.zeros((h, w), np.uint8)
    cv2.fillPoly(region, [np.round(grown).astype(np.int32)], (1,))
    return cv2.GaussianBlur(region.astype(np.float32), (0, 0), max(1.0, 0.08 * iod))


def _feather(n: int, feather: int, *, at_start: bool, at_end: bool) -> np.ndarray:
    """Weights float32 [n] along one axis of a window: ramping from 0 to 1 over ``feather`` pixels
    at each end, except at an end that is the picture's border (``at_start``, ``at_end``)."""
    if at_start and at_end:
        return np.ones(n, np.float32)
    ramp = np.minimum(np.arange(n) + 1, np.arange(n)[::-1] + 1) / feather
    weight = np.clip(ramp, 0, 1).astype(np.float32)
    if at_start:
        weight[: n // 2] = 1
    if at_end:
        weight[n // 2 :] = 1
    return weight


def person_mask(image: np.ndarray, landmarks: np.ndarray | None = None) -> np.ndarray:
    """Soft person segmentation of an RGB uint8 image: float32 [H, W] in [0, 1], 1 on the person.

    With ``landmarks`` (of the main face), the face is always inside the mask, and when the face
    is small in a large picture the head and shoulders are segmented again at a finer scale.
    """
    rgb = _as_rgb(image)
    h, w = rgb.shape[:2]
    mask = _refine(rgb, _raw_mask(rgb))
    if landmarks is None:
        return mask
    pts = np.asarray(landmarks, dtype=np.float64)
    iod = max(float(eye_distance(pts)), 1.0)
    side = 9.0 * iod  # head and shoulders
    if side < 0.6 * min(h, w):
        cx, cy = pts[:468, :2].mean(axis=0)
        cy += 1.5 * iod
        s = int(round(side))
        x0, y0 = int(round(cx - s / 2)), int(round(cy - s / 2))
        ax0, ay0, ax1, ay1 = max(x0, 0), max(y0, 0), min(x0 + s, w), min(y0 + s, h)
        sub = np.ascontiguousarray(rgb[ay0:ay1, ax0:ax1])
        fine = _refine(sub, _raw_mask(sub))
        # Feathered window: the fine mask inside, the global one towards the window's edges.
        # Edges that are the picture's border need no feathering.
        sh, sw = fine.shape
        feather = max(2, s // 8)
        wy = _feather(sh, feather, at_start=ay0 == 0, at_end=ay1 == h)
        wx = _feather(sw, feather, at_start=ax0 == 0, at_end=ax1 == w)
        weight = wy[:, None] * wx[None, :]
        region = mask[ay0:ay1, ax0:ax1]
        mask[ay0:ay1, ax0:ax1] = region * (1 - weight) + fine * weight
    mask = np.maximum(mask, _face_region((h, w), pts))
    return np.clip(mask, 0.0, 1.0).astype(np.float32)
