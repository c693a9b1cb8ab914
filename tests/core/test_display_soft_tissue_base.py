"""The soft-tissue base windowed through the original's display table (pure numpy, no Qt): a soft
tissue equal to the study shows as the study does, whatever the first VOI's polarity."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer.core.display.indexed_image import display_table, index_image
from cxrviewer.core.display.soft_tissue_base import soft_tissue_base
from cxrviewer.core.display.voi import apply_window
from cxrviewer.core.image import WindowPreset

VALUES = np.arange(0, 4000, 2, dtype=np.float32).reshape(40, 50)


@pytest.mark.parametrize("inverted", [False, True])  # True: MONOCHROME1, the first VOI turns values down
def test_soft_tissue_equal_to_the_study_shows_as_the_study_under_any_window(inverted):
    indexed = index_image(VALUES)
    pixels = apply_window(VALUES, 2000, 4000, invert=inverted).astype(np.float32)
    base = soft_tissue_base(pixels, pixels, indexed)
    for window in (WindowPreset(2000, 4000), WindowPreset(1200, 800)):
        table = display_table(indexed, window, invert=inverted)
        original = table[indexed.indices]
        # The soft tissue holds 256 greys over the first VOI's range: half a step, magnified by how
        # much narrower this window is, plus the table's own rounding.
        tolerance = 0.5 * 4000 / window.width + 0.5
        assert np.abs(base.grey(table).astype(int) - original.astype(int)).max() <= tolerance
        assert base.table(table).shape == (256,) and base.table(table).dtype == np.uint8


def test_a_soft_tissue_of_another_shape_is_refused():
    indexed = index_image(VALUES)
    pixels = apply_window(VALUES, 2000, 4000).astype(np.float32)
    with pytest.raises(ValueError, match=r"does not match the study \(40, 50\)"):
        soft_tissue_base(pixels[:-1], pixels, indexed)
