"""Reading what the canvas really drew, in view coordinates (the turned image), to compare exports
with the screen (imported by name, not from conftest)."""

from __future__ import annotations

import numpy as np

from cxrviewer.gui.canvas import Canvas


def screen_at_view(canvas: Canvas, rows, columns) -> np.ndarray:
    """(n, 3) int RGB grabbed from the canvas at the centres of view pixels (rows[i], columns[i]):
    only the zoom and pan are undone here, never the rotation or flips, so the screen's own
    transform decides which image pixel appears there."""
    shown = canvas.film_text.enabled
    canvas.film_text.set_enabled(False)  # the corner text would cover the pixels compared here
    picture = canvas.grab().toImage()
    canvas.film_text.set_enabled(shown)
    ratio = picture.devicePixelRatio()
    state = canvas.state
    width, height = canvas.viewport_size()
    cx, cy = state.center
    out = []
    for row, column in zip(rows, columns, strict=True):
        x = width / 2 + (column + 0.5 - cx) * state.zoom
        y = height / 2 + (row + 0.5 - cy) * state.zoom
        colour = picture.pixelColor(int(x * ratio), int(y * ratio))
        out.append((colour.red(), colour.green(), colour.blue()))
    return np.array(out)


def inner_pixels(rgb: np.ndarray, stride: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) on a `stride` grid of pixels whose 3 x 3 neighbourhood in `rgb` (H, W, 3) is
    one colour, so sampling a screen that straddles a pixel edge cannot pick a neighbour's colour."""
    rgb = rgb.astype(np.int32)
    height, width = rgb.shape[:2]
    same = np.ones((height - 2, width - 2), bool)
    centre = rgb[1:-1, 1:-1]
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            same &= (rgb[dy:dy + height - 2, dx:dx + width - 2] == centre).all(axis=-1)
    rows, columns = np.nonzero(same)
    keep = (rows % stride == 0) & (columns % stride == 0)
    return rows[keep] + 1, columns[keep] + 1
