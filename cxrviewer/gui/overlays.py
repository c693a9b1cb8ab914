"""The overlay layers on the canvas: one pyqtgraph ImageItem per layer kind, plus one for its contour.

Each layer item shows its map's uint8 `IndexedMap.index` through the layer's 256-entry RGBA table
(`core.layers.drawn_layer`), levels off, item opacity 1: pyqtgraph then builds an indexed QImage
whose colour table is that LUT, so a threshold, opacity, colour-map or scale change replaces 256
table entries and never touches the index array. The contour is a second item: the rim mask viewed as
uint8 through a two-entry table (transparent, contour colour). The `Layer`s drawn are kept, so an
export composes exactly them with `core.display.compose.compose`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtGui import QImage

from cxrviewer.core.display.compose import IndexedMap, Layer, compose
from cxrviewer.core.layers import KINDS, LayerState, drawn_layer
from cxrviewer.gui.canvas import Canvas

# Above the base image (z 0) and below the ruler (z 1000); each kind gets a layer and a contour slot.
FIRST_Z = 10.0


class LutImageItem(pg.ImageItem):
    """An ImageItem whose indexed image is turned into premultiplied ARGB once per table change.

    Qt's raster engine has no scaled blend for an indexed image with alpha: it converted the whole
    image at every paint, and every layer is painted again whenever any one changes. Converting in
    `render` (which pyqtgraph runs only after a new image or table) makes the other layers' paints
    cheap; measured in bench/interaction.py.
    """

    def render(self):
        super().render()
        if self.qimage is not None and self.qimage.format() == QImage.Format.Format_Indexed8:
            self.qimage = self.qimage.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)


class OverlayItems:
    """The canvas items of every layer kind, and the compose `Layer` each currently draws."""

    def __init__(self, canvas: Canvas):
        self.canvas = canvas
        self.items: dict[str, pg.ImageItem] = {}
        self.contour_items: dict[str, pg.ImageItem] = {}
        self.maps: dict[str, IndexedMap] = {}
        self.drawn: dict[str, Layer] = {}
        for order, kind in enumerate(KINDS):
            item, rim = LutImageItem(axisOrder="row-major"), LutImageItem(axisOrder="row-major")
            canvas.add_overlay(item, FIRST_Z + 2 * order)
            canvas.add_overlay(rim, FIRST_Z + 2 * order + 1)
            item.setVisible(False)
            rim.setVisible(False)
            self.items[kind], self.contour_items[kind] = item, rim

    def set_map(self, kind: str, indexed: IndexedMap | None, state: LayerState) -> None:
        """Give a layer its map (None: it has none for this study) and draw it under `state`."""
        if indexed is None:
            self.maps.pop(kind, None)
        elif self.maps.get(kind) is not indexed:
            self.maps[kind] = indexed
            self.items[kind].setImage(indexed.index, autoLevels=False, levels=None)
        self.apply(state)

    def clear(self) -> None:
        """Forget every map (another study is shown)."""
        for kind in KINDS:
            self.maps.pop(kind, None)
            self.drawn.pop(kind, None)
            self.items[kind].setVisible(False)
            self.contour_items[kind].setVisible(False)

    def apply(self, state: LayerState) -> None:
        """Show a layer's state: visibility, its table, its contour. The index array is not touched."""
        kind, indexed = state.kind, self.maps.get(state.kind)
        item, rim_item = self.items[kind], self.contour_items[kind]
        if indexed is None or not state.visible:
            self.drawn.pop(kind, None)
            item.setVisible(False)
            rim_item.setVisible(False)
            return
        drawn = drawn_layer(state, indexed)
        self.drawn[kind] = drawn
        item.setLookupTable(drawn.lut)
        # A contour-only layer (opacity 0) has nothing to blend: not drawing it saves a full paint.
        item.setVisible(state.style.opacity > 0)
        rim = drawn.contour
        if rim is None or not rim.mask.size:
            rim_item.setVisible(False)
            return
        rim_lut = np.zeros((256, 4), np.uint8)
        rim_lut[1:] = (*drawn.contour_rgb, 255)
        # Only the rim's box: placed at its top-left pixel in image space, it is all Qt converts and paints.
        rim_item.setImage(rim.mask.view(np.uint8), autoLevels=False, levels=None, lut=rim_lut)
        rim_item.setPos(rim.left, rim.top)
        rim_item.setVisible(True)

    def composed(self, base_grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """(H, W, 3) uint8: `base_grey` with the layers drawn now, in canvas order, by `compose`."""
        return compose(base_grey, [self.drawn[kind] for kind in KINDS if kind in self.drawn])
