"""core.display.voi against PS3.3 C.11.2.1.2 written out by hand, on chosen values."""

from __future__ import annotations

import numpy as np
import pytest
from io_samples import linear_window

from cxrviewer.core.display import (
    apply_voi,
    apply_voi_lut,
    apply_window,
    default_window,
    full_range_window,
)
from cxrviewer.core.image import VoiLut, WindowPreset

X = np.array([-10, 0, 99, 100, 101, 150, 199, 200, 201, 1000], dtype=np.float32)


def test_linear_window_matches_the_standard_piecewise_formula():
    out = apply_window(X, 150, 101)
    # c - 0.5 - (w-1)/2 = 99.5 → 0; c - 0.5 + (w-1)/2 = 199.5 → 1; in between (x - 149.5)/100 + 0.5.
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [0, 0, 0, 0.005, 0.015, 0.505, 0.995, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(out, linear_window(X, 150, 101), atol=1e-6)


def test_linear_window_of_width_one_is_a_threshold():
    np.testing.assert_array_equal(apply_window(X, 150, 1), (X > 149.5).astype(np.float32))


def test_linear_exact_window():
    out = apply_window(X, 150, 100, function="LINEAR_EXACT")
    np.testing.assert_allclose(out, np.clip((X - 150) / 100 + 0.5, 0, 1), atol=1e-6)
    assert out[3] == 0.0 and out[7] == 1.0  # the limits c ± w/2 land exactly on black and white


def test_sigmoid_window():
    out = apply_window(X, 150, 100, function="sigmoid")
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-4 * (X - 150) / 100)), rtol=1e-6)
    assert out[5] == pytest.approx(0.5)


def test_invert_flips_the_output():
    np.testing.assert_allclose(apply_window(X, 150, 101, invert=True), 1 - linear_window(X, 150, 101), atol=1e-6)


@pytest.mark.parametrize(
    ("function", "width"), [("LINEAR", 0.5), ("LINEAR", -3), ("LINEAR_EXACT", 0), ("SIGMOID", 0), ("GAMMA", 10)]
)
def test_invalid_windows_are_refused(function, width):
    with pytest.raises(ValueError):
        apply_window(X, 150, width, function=function)


def test_voi_lut_clamps_below_and_above_and_scales_by_its_bit_depth():
    lut = VoiLut(first_mapped=100, table=np.array([0, 1000, 4095], dtype=np.float32), output_bits=12)
    out = apply_voi_lut(np.array([50, 100, 101, 102, 103, 5000]), lut)
    np.testing.assert_allclose(out, [0, 0, 1000 / 4095, 1, 1, 1], atol=1e-7)
    np.testing.assert_allclose(apply_voi_lut(np.array([101]), lut, invert=True), [1 - 1000 / 4095], atol=1e-7)


def test_apply_voi_dispatches_on_the_kind_of_voi():
    lut = VoiLut(first_mapped=0, table=np.array([0, 255], dtype=np.float32), output_bits=8)
    np.testing.assert_array_equal(apply_voi(np.array([0, 1]), lut), [0, 1])
    window = WindowPreset(center=150, width=101)
    np.testing.assert_allclose(apply_voi(X, window), linear_window(X, 150, 101), atol=1e-6)


def test_full_range_window_maps_the_limits_to_black_and_white():
    window = full_range_window(-1024, 3071)
    out = apply_window(np.array([-1024, 1023.5, 3071]), window.center, window.width)
    np.testing.assert_allclose(out, [0, 0.5, 1], atol=1e-6)


def test_default_window_is_the_data_range_and_ignores_non_finite_values():
    window = default_window(np.array([[7, 20], [np.nan, 107]], dtype=np.float32))
    assert (window.center, window.width) == (57.5, 101.0)
    assert default_window(np.full((2, 2), 5.0)).width == 1.0
