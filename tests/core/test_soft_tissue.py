"""The soft-tissue view: suppressed lungs set into the original with a feathered seam; bones layer."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer.core.soft_tissue import bones_view, lung_weight, soft_tissue_view


def _band() -> np.ndarray:
    """A 'lung' in columns 3..10 of a 5x14 image, touching the top and bottom edges."""
    mask = np.zeros((5, 14), bool)
    mask[:, 3:11] = True
    return mask


def test_weight_ramps_inside_the_border_by_distance():
    # Distances to the nearest non-lung pixel along a row: 1, 2, 3, 4, 4, 3, 2, 1 (the image edges
    # count as lung). With feather 4, t = d / 4 and smoothstep t^2 (3 - 2t):
    # d=1: 0.15625, d=2: 0.5, d=3: 0.84375, d>=4: 1.
    w = lung_weight(_band(), 4)
    expected = [0, 0, 0, 0.15625, 0.5, 0.84375, 1, 1, 0.84375, 0.5, 0.15625, 0, 0, 0]
    np.testing.assert_allclose(w, np.tile(expected, (5, 1)), atol=1e-6)
    np.testing.assert_array_equal(lung_weight(_band(), 0), _band().astype(np.float32))


def test_soft_tissue_keeps_the_original_outside_and_bones_are_the_difference():
    original = np.full((5, 14), 0.6, np.float32)
    suppressed = np.full((5, 14), 0.4, np.float32)
    suppressed[:, :3] = 0.0  # the model's output outside the lungs is never shown
    soft = soft_tissue_view(original, suppressed, _band(), 4)
    np.testing.assert_array_equal(soft[:, :3], np.float32(0.6))
    np.testing.assert_array_equal(soft[:, 11:], np.float32(0.6))
    np.testing.assert_allclose(soft[:, 6:8], 0.4, atol=1e-7)
    assert soft[0, 4] == pytest.approx(0.6 - 0.2 * 0.5)
    bones = bones_view(original, soft)
    np.testing.assert_allclose(bones[0], 0.2 * lung_weight(_band(), 4)[0], atol=1e-7)
    np.testing.assert_allclose(soft + bones, original, atol=1e-7)


def test_probability_masks_are_read_at_one_half_and_shapes_must_agree():
    prob = _band().astype(np.float32) * 0.7 + 0.2  # 0.9 inside, 0.2 outside
    np.testing.assert_array_equal(lung_weight(prob, 0), _band().astype(np.float32))
    with pytest.raises(ValueError, match="equal shapes"):
        soft_tissue_view(np.zeros((5, 14)), np.zeros((5, 13)), _band(), 2)
