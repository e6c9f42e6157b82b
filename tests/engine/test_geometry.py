"""Similarity and affine fits of 2D point sets, and applying the 2x3 maps they give."""

from __future__ import annotations

import numpy as np

from facecast.engine.geometry import apply_affine, fit_affine, fit_similarity


def _points() -> np.ndarray:
    return np.random.default_rng(0).uniform(-50, 50, (20, 2))


def test_similarity_fit_recovers_a_rotation_scale_and_shift() -> None:
    angle, scale = np.radians(12.0), 1.7
    truth = np.array([[np.cos(angle), -np.sin(angle), 5.0], [np.sin(angle), np.cos(angle), -3.0]])
    truth[:, :2] *= scale
    src = _points()
    dst = apply_affine(truth, src)
    assert np.allclose(fit_similarity(src, dst), truth)


def test_affine_fit_recovers_a_shear() -> None:
    truth = np.array([[1.2, 0.3, 4.0], [-0.1, 0.9, 2.0]])
    src = _points()
    assert np.allclose(fit_affine(src, apply_affine(truth, src)), truth)


def test_apply_affine_keeps_float32_and_takes_batches() -> None:
    m = np.array([[2.0, 0.0, 1.0], [0.0, 2.0, -1.0]])
    points = np.ones((3, 4, 3), np.float32)  # x, y, z: z is dropped
    out = apply_affine(m, points)
    assert out.shape == (3, 4, 2) and out.dtype == np.float32
    assert np.array_equal(out[0, 0], [3.0, 1.0])
    assert apply_affine(m, points.astype(np.float64)).dtype == np.float64
