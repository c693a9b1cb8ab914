"""The image canvas: a pyqtgraph ViewBox with one ImageItem for the study and room for overlays.

It draws what the study's `ViewState` says and turns the mouse into calls on that state:
- left-drag: window/level (or, with the ruler tool on, draw the ruler);
- middle- or right-drag, or Space + left-drag: pan;
- wheel: zoom about the cursor.
Keys are bound by the main window's actions; only Space (held for panning) is read here.

Items that belong to the image (the base image, overlay layers, the ruler line) sit in one group
whose transform is the state's rotation and flips, so overlays later added with `add_overlay` turn
with the image. Text labels sit in view coordinates so they stay upright.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPen, QTransform
from PySide6.QtWidgets import QGraphicsLineItem

from cxrviewer.core.display.indexed_image import IndexedImage, display_table
from cxrviewer.core.display.soft_tissue_base import SoftTissueBase
from cxrviewer.core.film_text import film_text
from cxrviewer.core.image import Image
from cxrviewer.core.spacing_check import DOUBT_TEXT, spacing_doubt
from cxrviewer.core.viewstate import Ruler, ViewState, drag_window, ruler_label
from cxrviewer.gui.film_text_overlay import FilmTextOverlay

RULER_COLOUR = QColor(255, 214, 10)
# Wheel angle delta for one notch is 120; one notch zooms by 2**(1/4), four notches double.
WHEEL_NOTCH = 120.0
ZOOM_PER_NOTCH = 2 ** 0.25


@dataclass(frozen=True)
class Probe:
    """What is under the cursor: pixel (row, column), its modality value and shown grey (0..1)."""

    row: int
    column: int
    modality_value: float
    shown: float


class _GestureViewBox(pg.ViewBox):
    """A ViewBox that hands mouse drags and the wheel to the canvas instead of panning itself."""

    def __init__(self, canvas: Canvas):
        super().__init__(enableMenu=False, invertY=True, defaultPadding=0.0)
        self.setMouseEnabled(False, False)
        self.disableAutoRange()
        self._canvas = canvas

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph's name)
        ev.accept()
        self._canvas._on_drag(ev)

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph's name)
        ev.accept()
        self._canvas._on_wheel(ev.delta(), ev.pos())


class Canvas(pg.GraphicsView):
    probe_changed = Signal(object)  # Probe, or None when the cursor is off the image
    view_changed = Signal()  # window, polarity, zoom, pan or orientation changed
    ruler_changed = Signal(str)  # the ruler's label, "" when there is none
    film_text: FilmTextOverlay | None = None

    def __init__(self, parent=None):
        super().__init__(parent, background="k")
        self.film_text = FilmTextOverlay(self.viewport())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._view_box = _GestureViewBox(self)
        self.setCentralItem(self._view_box)
        self.image_space = pg.ItemGroup()
        self._view_box.addItem(self.image_space)
        self.base_item = pg.ImageItem(axisOrder="row-major")
        self.image_space.addItem(self.base_item)
        self._ruler_line = QGraphicsLineItem()
        pen = QPen(RULER_COLOUR, 2)
        pen.setCosmetic(True)
        self._ruler_line.setPen(pen)
        self._ruler_line.setZValue(1000)
        self._ruler_line.setParentItem(self.image_space)
        self._ruler_ends = pg.ScatterPlotItem(size=7, pen=pg.mkPen(RULER_COLOUR), brush=pg.mkBrush(None))
        self._ruler_ends.setZValue(1000)
        self.image_space.addItem(self._ruler_ends)
        self._ruler_text = pg.TextItem(color=RULER_COLOUR, fill=pg.mkBrush(0, 0, 0, 170), anchor=(0, 1))
        self._ruler_text.setZValue(1001)
        self._view_box.addItem(self._ruler_text, ignoreBounds=True)
        self._message = pg.TextItem(color=(220, 220, 220), anchor=(0.5, 0.5))
        self._view_box.addItem(self._message, ignoreBounds=True)
        self._hide_ruler()

        self._image: Image | None = None
        self._indexed: IndexedImage | None = None
        self._table: npt.NDArray[np.uint8] | None = None
        self._soft: SoftTissueBase | None = None
        self._show_soft = False
        self._base_pixels: npt.NDArray | None = None  # the array base_item shows, to set it only on change
        self._state: ViewState | None = None
        self._unsubscribe = None
        self._drag_start_window = None
        self._space_held = False
        self.ruler_tool = False
        self._view_box.sigResized.connect(self._on_resized)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.view_changed.connect(self._update_film_text)
        self.show_message("No study open")

    # -- what is shown ---------------------------------------------------------------------------
    @property
    def state(self) -> ViewState | None:
        return self._state

    @property
    def image(self) -> Image | None:
        return self._image

    def show_study(self, image: Image, indexed: IndexedImage, state: ViewState) -> None:
        """Show a study with its own view state (kept by the caller, so returning restores it)."""
        self._detach_state()
        self._image, self._indexed, self._state = image, indexed, state
        self._soft = self._base_pixels = None
        self._unsubscribe = state.subscribe(self._on_state_changed)
        self._message.setVisible(False)
        self.base_item.setVisible(True)
        if state.fitted:
            self._fit_if_sized()
        self._render_window()
        self._apply_geometry()
        self._draw_ruler()
        self._update_film_text()
        self.probe_changed.emit(None)  # the last study's pixel is not under the cursor

    def show_message(self, text: str) -> None:
        """Replace the image by a centred message (no study, or why a study cannot be shown)."""
        self._detach_state()
        self._image = self._indexed = self._table = self._soft = self._base_pixels = None
        self.base_item.setVisible(False)
        self._hide_ruler()
        self._message.setText(text)
        self._message.setVisible(True)
        self._view_box.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0)
        self._message.setPos(0, 0)
        self.view_changed.emit()
        self.probe_changed.emit(None)

    def displayed_image(self) -> npt.NDArray[np.uint8] | None:
        """(H, W) uint8 grey levels of the base as shown (before rotation and flips), or None without
        a study: the original, or the soft tissue while that is shown."""
        if self._indexed is None or self._table is None:
            return None
        if self.showing_soft_tissue:
            return self._soft.grey(self._table)
        return self._table[self._indexed.indices]

    def original_image(self) -> npt.NDArray[np.uint8] | None:
        """(H, W) uint8 grey levels of the original under the current window, whatever the base."""
        if self._indexed is None or self._table is None:
            return None
        return self._table[self._indexed.indices]

    def soft_tissue_image(self) -> npt.NDArray[np.uint8] | None:
        """(H, W) uint8 grey levels of the soft tissue under the current window, or None if absent."""
        if self._soft is None or self._table is None:
            return None
        return self._soft.grey(self._table)

    def set_soft_tissue(self, soft: SoftTissueBase | None) -> None:
        """The current study's bone-suppressed view (None: not available); shown once asked for."""
        self._soft = soft
        self._render_base()
        self._update_film_text()

    def show_soft_tissue(self, on: bool) -> None:
        """Show the soft tissue as the base (when the study has one) or the original."""
        self._show_soft = on
        self._render_base()
        self._update_film_text()

    @property
    def display_table(self) -> npt.NDArray[np.uint8] | None:
        """(levels,) uint8 grey shown for each of the study's modality levels under the current window
        (a new array after each window change), or None without a study."""
        return self._table

    @property
    def soft_tissue(self) -> SoftTissueBase | None:
        return self._soft

    @property
    def has_soft_tissue(self) -> bool:
        return self._soft is not None

    @property
    def showing_soft_tissue(self) -> bool:
        return self._show_soft and self._soft is not None

    def add_overlay(self, item: pg.GraphicsObject, z: float) -> None:
        """Lay an item drawn in image coordinates over the study; z > 0 puts it above the image."""
        item.setZValue(z)
        self.image_space.addItem(item)

    def remove_overlay(self, item: pg.GraphicsObject) -> None:
        item.setParentItem(None)
        if item.scene() is not None:
            item.scene().removeItem(item)

    def viewport_size(self) -> tuple[float, float]:
        size = self._view_box.size()
        return size.width(), size.height()

    def set_ruler_tool(self, on: bool) -> None:
        self.ruler_tool = on
        self.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    # -- state -> items --------------------------------------------------------------------------
    def _update_film_text(self) -> None:
        """The corner text, edge letters and badges for what is shown now (`core.film_text`)."""
        state, image = self._state, self._image
        if state is None or image is None:
            self.film_text.clear()
            return
        window = state.window if state.voi_lut_index is None else None
        self.film_text.show(film_text(image.meta, state.orientation, window=window, zoom=state.zoom,
                                      soft_tissue=self.showing_soft_tissue))

    def resizeEvent(self, ev):  # noqa: N802 (Qt's name)
        super().resizeEvent(ev)
        if self.film_text is not None:  # pyqtgraph resizes inside its own __init__, before ours has run
            self.film_text.place()

    def _detach_state(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
        self._state = None

    def _on_state_changed(self, what: str) -> None:
        if what == "window":
            self._render_window()
        elif what == "geometry":
            self._apply_geometry()
        self._draw_ruler()
        if what != "ruler":
            self.view_changed.emit()

    def _render_window(self) -> None:
        state, image, indexed = self._state, self._image, self._indexed
        if state is None or image is None or indexed is None:
            return
        voi = state.window if state.voi_lut_index is None else image.meta.voi_luts[state.voi_lut_index]
        self._table = display_table(indexed, voi, invert=image.meta.inverted_for_display != state.invert)
        self._render_base()

    def _render_base(self) -> None:
        indexed, table = self._indexed, self._table
        if indexed is None or table is None:
            return
        if self.showing_soft_tissue:
            self._set_base_pixels(self._soft.indices)
            self.base_item.setLookupTable(self._soft.table(table))
        elif indexed.indices.dtype == np.uint8:
            # An 8-bit source: the table becomes the indexed image's colour table; no pixel changes.
            # pyqtgraph stretches a shorter table over 0..255, so it must have all 256 entries.
            self._set_base_pixels(indexed.indices)
            self.base_item.setLookupTable(np.pad(table, (0, 256 - len(table)), mode="edge"))
        else:
            self.base_item.setLookupTable(None, update=False)
            self._set_base_pixels(table[indexed.indices])

    def _set_base_pixels(self, pixels: npt.NDArray[np.uint8]) -> None:
        if pixels is not self._base_pixels:
            self._base_pixels = pixels
            self.base_item.setImage(pixels, autoLevels=False)

    def _apply_geometry(self) -> None:
        state = self._state
        if state is None:
            return
        a, b, c, d, tx, ty = state.image_to_view_affine()
        # QTransform(m11, m12, m21, m22, dx, dy) maps x' = m11 x + m21 y + dx, y' = m12 x + m22 y + dy.
        self.image_space.setTransform(QTransform(a, c, b, d, tx, ty))
        width, height = self.viewport_size()
        cx, cy = state.center
        half_w, half_h = width / (2 * state.zoom), height / (2 * state.zoom)
        self._view_box.setRange(xRange=(cx - half_w, cx + half_w), yRange=(cy - half_h, cy + half_h), padding=0)

    def _fit_if_sized(self) -> None:
        width, height = self.viewport_size()
        if self._state is not None and width > 0 and height > 0:
            self._state.fit(width, height)

    def _on_resized(self) -> None:
        if self._state is None:
            return
        if self._state.fitted:
            self._fit_if_sized()
        else:
            self._apply_geometry()

    def _hide_ruler(self) -> None:
        self._ruler_line.setVisible(False)
        self._ruler_ends.setData([], [])
        self._ruler_text.setVisible(False)

    def _draw_ruler(self) -> None:
        state, image = self._state, self._image
        ruler = state.ruler if state is not None else None
        if ruler is None or image is None:
            self._hide_ruler()
            self.ruler_changed.emit("")
            return
        self._ruler_line.setLine(ruler.x0, ruler.y0, ruler.x1, ruler.y1)
        self._ruler_line.setVisible(True)
        self._ruler_ends.setData([ruler.x0, ruler.x1], [ruler.y0, ruler.y1])
        label = ruler_label(ruler, image.meta.pixel_spacing_mm, image.meta.spacing_is_at_detector,
                            DOUBT_TEXT if spacing_doubt(image.meta) else "")
        self._ruler_text.setText(label)
        self._ruler_text.setPos(*state.image_to_view(ruler.x1, ruler.y1))
        self._ruler_text.setVisible(True)
        self.ruler_changed.emit(label)

    # -- mouse -> state --------------------------------------------------------------------------
    def to_view(self, local: QPointF) -> tuple[float, float]:
        """View coordinates of a point in canvas pixels (the ViewBox's own coordinates)."""
        state = self._state
        width, height = self.viewport_size()
        cx, cy = state.center
        return cx + (local.x() - width / 2) / state.zoom, cy + (local.y() - height / 2) / state.zoom

    def _on_drag(self, ev) -> None:
        state = self._state
        if state is None:
            return
        button = ev.button()
        pan = button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.RightButton) or self._space_held
        if pan:
            delta = ev.pos() - ev.lastPos()
            state.pan_by(delta.x(), delta.y())
        elif button == Qt.MouseButton.LeftButton and self.ruler_tool:
            x0, y0 = state.view_to_image(*self.to_view(ev.buttonDownPos()))
            x1, y1 = state.view_to_image(*self.to_view(ev.pos()))
            state.ruler = Ruler(x0, y0, x1, y1)
        elif button == Qt.MouseButton.LeftButton:
            if ev.isStart() or self._drag_start_window is None:
                self._drag_start_window = state.window
            total = ev.pos() - ev.buttonDownPos()
            state.window = drag_window(self._drag_start_window, total.x(), total.y(), self._indexed.value_range)
            if ev.isFinish():
                self._drag_start_window = None

    def _on_wheel(self, delta: float, local: QPointF) -> None:
        if self._state is not None and delta:
            self._state.zoom_about(ZOOM_PER_NOTCH ** (delta / WHEEL_NOTCH), self.to_view(local))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self._state is None or self._indexed is None or self._table is None:
            return
        pixel = self._state.pixel_at(*self.to_view(self._view_box.mapFromScene(scene_pos)))
        if pixel is None:
            self.probe_changed.emit(None)
            return
        row, col = pixel
        index = int(self._indexed.indices[row, col])
        value = float(self._image.modality_values[row, col])
        self.probe_changed.emit(Probe(row, col, value, self._table[index] / 255.0))

    def leaveEvent(self, ev):  # noqa: N802 (Qt's name)
        # The cursor left the film's widget: no pixel is under it any more (the status bar must not
        # keep the last one's position and value).
        self.probe_changed.emit(None)
        super().leaveEvent(ev)

    def keyPressEvent(self, ev):  # noqa: N802 (Qt's name)
        if ev.key() == Qt.Key.Key_Space and not ev.isAutoRepeat():
            self._space_held = True
            ev.accept()
            return
        super().keyPressEvent(ev)

    def keyReleaseEvent(self, ev):  # noqa: N802 (Qt's name)
        if ev.key() == Qt.Key.Key_Space and not ev.isAutoRepeat():
            self._space_held = False
            ev.accept()
            return
        super().keyReleaseEvent(ev)
