"""The shipped colour-map table equals OpenCV's maps (scripts/make_colormap_table.py regenerates it)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cxrviewer.core.display.colormaps import OPENCV_TABLES, colormap

CODES = {"jet": cv2.COLORMAP_JET, "viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO}


@pytest.mark.parametrize("name", OPENCV_TABLES)
def test_table_equals_apply_color_map(name):
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], CODES[name])[:, 0, :]
    table = colormap(name)
    assert table.shape == (256, 4) and table.dtype == np.uint8
    np.testing.assert_array_equal(table[:, :3], bgr[:, ::-1])
    assert (table[:, 3] == 255).all()
