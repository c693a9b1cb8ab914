"""The overlay layers: one pyqtgraph ImageItem per layer kind, plus one for its contour, under any
image-space parent (the canvas's, and each pane of the side-by-side compare).

Each layer item shows its map's uint8 `IndexedMap.index` through the layer's 256-entry RGBA table
(`core.layers.drawn_layer`), levels off, item opacity 1: pyqtgraph then builds an indexed QImage
whose colour table is that LUT, so a threshold, opacity, colour-map or scale change replaces 256
table entries and never touches the index array. The contour is a second item: the rim mask viewed as
uint8 through a two-entry table (transparent, contour colour). Zoomed out, Qt samples the image
without filtering, so a one-pixel rim would show broken: on screen the rim is as many image pixels
wide as one screen pixel spans (`rim_width`), while exports keep the `Layer`'s one-pixel rim at the
image's own resolution. The `Layer`s drawn are kept, so an
export composes exactly them with `core.display.compose.compose`, and every attached set of items
draws the same `Layer`s: the canvas and the compare panes share this one drawing path.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGraphicsItem

from cxrviewer.core.display.compose import IndexedMap, Layer, Rim, compose, contour_mask, threshold_index
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


class LayerItems:
    """A layer item and a contour item per kind, children of `parent` (an item whose coordinates are
    image pixels: x = column, y = row), all hidden until drawn."""

    def __init__(self, parent: QGraphicsItem):
        self.items: dict[str, LutImageItem] = {}
        self.contour_items: dict[str, LutImageItem] = {}
        for order, kind in enumerate(KINDS):
            item, rim = LutImageItem(axisOrder="row-major"), LutImageItem(axisOrder="row-major")
            for z, child in ((FIRST_Z + 2 * order, item), (FIRST_Z + 2 * order + 1, rim)):
                child.setZValue(z)
                child.setParentItem(parent)
                child.setVisible(False)
            self.items[kind], self.contour_items[kind] = item, rim

    def set_index(self, kind: str, index: npt.NDArray[np.uint8]) -> None:
        self.items[kind].setImage(index, autoLevels=False, levels=None)

    def hide(self, kind: str) -> None:
        self.items[kind].setVisible(False)
        self.contour_items[kind].setVisible(False)

    def draw(self, kind: str, drawn: Layer, fill: bool, rim: Rim | None, rim_lut: npt.NDArray[np.uint8] | None) -> None:
        """Show `drawn` (its index already set): its table, and `rim` through `rim_lut` (None: no
        contour). `fill` False leaves the layer item hidden (a contour-only layer)."""
        item, rim_item = self.items[kind], self.contour_items[kind]
        item.setLookupTable(drawn.lut)
        # A contour-only layer (opacity 0) has nothing to blend: not drawing it saves a full paint.
        item.setVisible(fill)
        if rim is None or rim_lut is None:
            rim_item.setVisible(False)
            return
        # Only the rim's box: placed at its top-left pixel in image space, it is all Qt converts and paints.
        rim_item.setImage(rim.mask.view(np.uint8), autoLevels=False, levels=None, lut=rim_lut)
        rim_item.setPos(rim.left, rim.top)
        rim_item.setVisible(True)

    def remove(self) -> None:
        """Take every item out of its parent and scene (the view they were drawn on is going)."""
        for item in (*self.items.values(), *self.contour_items.values()):
            scene = item.scene()
            item.setParentItem(None)
            if scene is not None:
                scene.removeItem(item)


class OverlayItems:
    """Every layer kind's items on the canvas and on any other attached image-space parent, and the
    compose `Layer` each currently draws."""

    def __init__(self, canvas: Canvas):
        self.canvas = canvas
        self.maps: dict[str, IndexedMap] = {}
        self.drawn: dict[str, Layer] = {}
        self._fill: dict[str, bool] = {}
        self._states: dict[str, LayerState] = {}  # each drawn layer's state, to redraw its rim on a zoom
        self._rims: dict[str, Rim | None] = {}  # the rim each drawn layer shows on screen
        self.strength: dict[str, float] = {}  # weight on a layer's opacity (core.layers.map_strength); 1 if absent
        self.rim_width = 1  # image pixels; see the module's note
        self._on_canvas = LayerItems(canvas.image_space)
        self.items = self._on_canvas.items
        self.contour_items = self._on_canvas.contour_items
        self._targets: list[LayerItems] = [self._on_canvas]
        # The reader's "all layers" switch (key O): off hides every layer, whatever its own state,
        # which is kept for when they come back.
        self.shown = True
        canvas.view_changed.connect(self._on_view_changed)

    def _on_view_changed(self) -> None:
        state = self.canvas.state
        width = rim_width(state.zoom) if state is not None else 1
        if width == self.rim_width:
            return
        self.rim_width = width
        for kind, drawn in list(self.drawn.items()):
            if drawn.contour is not None:
                self.apply(self._states[kind])

    def attach(self, parent: QGraphicsItem) -> LayerItems:
        """Draw the layers also under `parent` (image-space coordinates), now and on every change."""
        target = LayerItems(parent)
        for kind, indexed in self.maps.items():
            target.set_index(kind, indexed.index)
        for kind, drawn in self.drawn.items():
            target.draw(kind, drawn, self._fill[kind], self._rims[kind], _rim_lut(drawn))
        self._targets.append(target)
        return target

    def detach(self, target: LayerItems) -> None:
        self._targets.remove(target)
        target.remove()

    def set_map(self, kind: str, indexed: IndexedMap | None, state: LayerState) -> None:
        """Give a layer its map (None: it has none for this study) and draw it under `state`."""
        if indexed is None:
            self.maps.pop(kind, None)
        elif self.maps.get(kind) is not indexed:
            self.maps[kind] = indexed
            for target in self._targets:
                target.set_index(kind, indexed.index)
        self.apply(state)

    def clear(self) -> None:
        """Forget every map (another study is shown)."""
        for kind in KINDS:
            self.maps.pop(kind, None)
            self.drawn.pop(kind, None)
            for target in self._targets:
                target.hide(kind)

    def apply(self, state: LayerState) -> None:
        """Show a layer's state: visibility, its table, its contour. The index array is not touched."""
        kind, indexed = state.kind, self.maps.get(state.kind)
        if indexed is None or not state.visible or not self.shown:
            self.drawn.pop(kind, None)
            for target in self._targets:
                target.hide(kind)
            return
        drawn = drawn_layer(state, indexed, self.strength.get(kind, 1.0))
        self.drawn[kind], self._states[kind] = drawn, state
        self._fill[kind] = state.style.opacity > 0
        rim = drawn.contour
        if rim is not None and self.rim_width > 1:
            rim = contour_mask(indexed, threshold_index(indexed, state.style.threshold), self.rim_width)
        self._rims[kind] = rim
        rim_lut = _rim_lut(drawn)
        for target in self._targets:
            target.draw(kind, drawn, self._fill[kind], rim, rim_lut)

    def composed(self, base_grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """(H, W, 3) uint8: `base_grey` with the layers drawn now, in canvas order, by `compose`."""
        return compose(base_grey, [self.drawn[kind] for kind in KINDS if kind in self.drawn])


def rim_width(zoom: float) -> int:
    """Image pixels a rim needs on screen at `zoom` (screen pixels per image pixel) so that unfiltered
    sampling, one sample every 1 / zoom image pixels, always lands on it: 1 from zoom 1 up."""
    return max(1, math.ceil(1.0 / zoom - 1e-9))


def _rim_lut(drawn: Layer) -> npt.NDArray[np.uint8] | None:
    """(256, 4) uint8 table for the rim mask viewed as uint8 (0 clear, 1 the contour colour), or None
    when the layer has no contour to draw."""
    if drawn.contour is None or not drawn.contour.mask.size:
        return None
    lut = np.zeros((256, 4), np.uint8)
    lut[1:] = (*drawn.contour_rgb, 255)
    return lut
