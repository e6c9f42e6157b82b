"""2D point-set geometry shared by the engine: least-squares similarity and affine fits as 2x3
matrices, and applying such a matrix to points. Nothing here knows about faces or landmarks.
"""

from __future__ import annotations

import numpy as np


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (2x3) mapping points ``src`` onto ``dst`` (Umeyama)."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    s, d = src - ms, dst - md
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rot = u @ sign @ vt
    var = (s**2).sum() / len(src)
    scale = float(np.trace(np.diag(sig) @ sign) / var) if var > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = md - m[:, :2] @ ms
    return m


def fit_affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 affine map taking ``src`` [k, 2] onto ``dst`` [k, 2]."""
    ones = np.ones((len(src), 1))
    solution, *_ = np.linalg.lstsq(np.hstack([src, ones]), dst, rcond=None)
    return np.asarray(solution.T, np.float64)


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The 2x3 ``matrix`` applied to the x, y of ``points`` [..., >=2]: [..., 2], in the points'
    float precision (float32 stays float32; float64 and integers give float64)."""
    dtype = np.result_type(points.dtype, np.float32)
    return np.asarray(points[..., :2] @ matrix[:, :2].T + matrix[:, 2], dtype)
