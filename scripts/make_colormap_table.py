"""Write resources/colormaps/opencv_luts.npz: OpenCV's jet, viridis and inferno colour maps as
(256, 3) uint8 RGB tables, so the viewer draws them without shipping OpenCV.

Run after an OpenCV upgrade (tests/maps/test_colormap_table.py fails if its maps change):
    .venv/bin/python scripts/make_colormap_table.py
"""

from __future__ import annotations

import cv2
import numpy as np

from cxrviewer.core.display.colormaps import OPENCV_TABLES, opencv_table_file

_CODES = {"jet": cv2.COLORMAP_JET, "viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO}


def opencv_tables() -> dict[str, np.ndarray]:
    """{name: (256, 3) uint8 RGB}: what cv2.applyColorMap paints for each grey level 0..255."""
    grey = np.arange(256, dtype=np.uint8)[:, None]
    return {name: np.ascontiguousarray(cv2.applyColorMap(grey, _CODES[name])[:, 0, ::-1]) for name in OPENCV_TABLES}


def main() -> None:
    opencv_table_file().parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(opencv_table_file(), **opencv_tables())


if __name__ == "__main__":
    main()
