"""Cleaning the lung probability: the two largest regions stay, stray ones go."""

from __future__ import annotations

import numpy as np

from cxrviewer.core.lung_mask import keep_largest_regions


def test_two_lungs_stay_and_a_stray_patch_goes():
    p = np.zeros((100, 120), np.float32)
    p[20:80, 10:50] = 0.9   # right lung, 2400 px
    p[20:75, 70:110] = 0.8  # left lung, 2200 px
    p[2:8, 112:118] = 0.95  # a patch in the air by the shoulder, 36 px
    p[19, 10:50] = 0.3      # a soft edge below the level, beside a kept lung
    out = keep_largest_regions(p)
    assert out[50, 30] == np.float32(0.9) and out[50, 90] == np.float32(0.8)
    assert out[5, 115] == 0.0
    assert out[19, 30] == np.float32(0.3)
    assert out.dtype == np.float32 and out.shape == p.shape


def test_nothing_to_drop_returns_an_equal_copy():
    p = np.zeros((40, 40), np.float32)
    p[5:30, 5:15] = 0.7
    out = keep_largest_regions(p)
    np.testing.assert_array_equal(out, p)
    assert out is not p
