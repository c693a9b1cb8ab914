"""Named lung / mediastinum / bone windows of a radiograph, from its own brightness (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer.core.named_presets import BANDS, named_presets


def ramp() -> np.ndarray:
    return np.tile(np.arange(1000, dtype=np.float32), (400, 1))  # values 0..999, uniform


def test_each_window_spans_its_band_of_the_films_brightness():
    lung, mediastinum, bone = named_presets(ramp(), inverted=False, modality="CR")
    assert [p.name for p in (lung, mediastinum, bone)] == list(BANDS)
    for preset, (low, high) in zip((lung, mediastinum, bone), BANDS.values(), strict=True):
        assert preset.center - preset.width / 2 == pytest.approx(low * 999, abs=5)
        assert preset.center + preset.width / 2 == pytest.approx(high * 999, abs=5)
    assert lung.center < mediastinum.center < bone.center  # lungs dark, bone bright (MONOCHROME2)


def test_monochrome1_takes_the_bands_from_the_other_end():
    """Stored MONOCHROME1 values are shown inverted: bright (bone) is the low values."""
    lung, _, bone = named_presets(ramp(), inverted=True, modality="DX")
    assert lung.center > bone.center
    plain_lung = named_presets(ramp(), inverted=False, modality="DX")[0]
    assert lung.center == pytest.approx(999 - plain_lung.center, abs=5) and lung.width == pytest.approx(plain_lung.width, abs=5)


def test_only_radiographs_get_them():
    assert named_presets(ramp(), inverted=False, modality="CT") == ()
    assert len(named_presets(ramp(), inverted=False, modality="")) == 3  # a PNG film
