"""Indexing modality values once and windowing by table (pure numpy, no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer.core.display.indexed_image import MAX_LEVELS, display_table, index_image
from cxrviewer.core.display.voi import apply_voi_lut, apply_window
from cxrviewer.core.image import VoiLut, WindowPreset


def test_integer_data_is_indexed_exactly_with_the_smallest_dtype():
    values = np.array([[-1024, 0], [1, 3071]], dtype=np.float32)
    indexed = index_image(values)
    assert indexed.exact and indexed.indices.dtype == np.uint16
    np.testing.assert_array_equal(indexed.levels[indexed.indices], values)
    assert indexed.value_range == 4095
    eight_bit = index_image(np.array([[0, 17, 255]], dtype=np.float32))
    assert eight_bit.indices.dtype == np.uint8 and len(eight_bit.levels) == 256


def test_fractional_or_huge_ranges_round_to_65536_levels():
    values = np.linspace(-0.5, 3.25, 1000, dtype=np.float32).reshape(20, 50)
    indexed = index_image(values)
    assert not indexed.exact and len(indexed.levels) == MAX_LEVELS
    step = 3.75 / (MAX_LEVELS - 1)
    assert np.abs(indexed.levels[indexed.indices] - values).max() <= step / 2 + 1e-6


def test_non_finite_values_take_the_minimum():
    indexed = index_image(np.array([[np.nan, 5, 9, np.inf]], dtype=np.float32))
    np.testing.assert_array_equal(indexed.levels[indexed.indices], [[5, 5, 9, 5]])


def test_table_lookup_equals_windowing_every_pixel():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 4096, (64, 48)).astype(np.float32)
    indexed = index_image(values)
    for window in (WindowPreset(1000, 600), WindowPreset(2000, 300, function="SIGMOID")):
        for invert in (False, True):
            table = display_table(indexed, window, invert=invert)
            direct = apply_window(values, window.center, window.width, function=window.function, invert=invert)
            np.testing.assert_array_equal(table[indexed.indices], np.rint(direct * 255).astype(np.uint8))


def test_voi_lut_table_matches_apply_voi_lut():
    values = np.arange(0, 100, dtype=np.float32).reshape(10, 10)
    lut = VoiLut(first_mapped=20.0, table=np.linspace(0, 1023, 50, dtype=np.float32), output_bits=10)
    indexed = index_image(values)
    shown = display_table(indexed, lut, invert=False)[indexed.indices]
    np.testing.assert_array_equal(shown, np.rint(apply_voi_lut(values, lut) * 255).astype(np.uint8))
    assert shown[0, 0] == 0 and shown[-1, -1] == 255


@pytest.mark.parametrize("shape", [(1, 1), (3, 2)])
def test_constant_images_index_to_one_level(shape):
    indexed = index_image(np.full(shape, 7.0, dtype=np.float32))
    assert len(indexed.levels) == 1 and indexed.value_range == 0
