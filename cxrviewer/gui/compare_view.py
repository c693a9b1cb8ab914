"""Side-by-side compare: the original and the bone-suppressed soft tissue under the same window,
turned as the main canvas turns the image and with the reader's overlay layers, in two views whose
pan and zoom are linked, beside the main canvas.

Each pane is built as the canvas is: an image-space group whose transform is the view state's
rotation and flips, holding the base ImageItem and (in a sub-group the "layers" box hides) the
layer items of `gui.overlays.OverlayItems`, attached to the pane so that every layer change draws
the same `Layer`s there through the same 256-entry tables; nothing is recomposed in numpy. The
layer items are attached while the window is shown and detached when it is hidden or closed, so a
closed window costs the canvas's layer changes nothing. The bases are set again only when the window
or the soft tissue changes, not on a pan or zoom.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QHideEvent, QShowEvent, QTransform
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.overlays import LayerItems, OverlayItems

NO_SOFT_TISSUE_TEXT = "No bone-suppressed view for this study yet (needs the bone-suppression model)."
# Above the base image (z 0), as on the canvas.
LAYERS_Z = 1.0


class ComparePane:
    """One pane: a ViewBox whose coordinates are the turned image's (view coordinates of the canvas),
    an image-space group, the base item, and the layers' group."""

    def __init__(self, box: pg.ViewBox, overlays: OverlayItems | None):
        self.box, self.overlays = box, overlays
        self.image_space = pg.ItemGroup()
        box.addItem(self.image_space)
        self.base_item = pg.ImageItem(axisOrder="row-major")
        self.image_space.addItem(self.base_item)
        self.layers_group = pg.ItemGroup()
        self.layers_group.setZValue(LAYERS_Z)
        self.image_space.addItem(self.layers_group)
        self.layers: LayerItems | None = None  # attached while the window is shown

    def attach_layers(self) -> None:
        if self.overlays is not None and self.layers is None:
            self.layers = self.overlays.attach(self.layers_group)

    def detach_layers(self) -> None:
        if self.overlays is not None and self.layers is not None:
            self.overlays.detach(self.layers)
            self.layers = None


class CompareView(QWidget):
    """A window showing `canvas`'s original and soft-tissue base as they are shown now, with the
    layers `overlays` draws on the canvas (none when it is None)."""

    def __init__(self, canvas: Canvas, overlays: OverlayItems | None = None, parent=None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("cxrviewer: original | bone-suppressed")
        self.canvas = canvas
        self.graphics = pg.GraphicsLayoutWidget()
        self.panes: list[ComparePane] = []
        for column, title in enumerate(("original", "bone-suppressed soft tissue")):
            box = self.graphics.addViewBox(row=0, col=column, invertY=True, lockAspect=True, enableMenu=False)
            self.graphics.addLabel(title, row=1, col=column)
            self.panes.append(ComparePane(box, overlays))
        self.boxes = [pane.box for pane in self.panes]
        self.items = [pane.base_item for pane in self.panes]
        self.boxes[1].setXLink(self.boxes[0])
        self.boxes[1].setYLink(self.boxes[0])
        self.layers_box = QCheckBox("layers")
        self.layers_box.setToolTip("Show the overlay layers on, as on the main view, in both panes")
        self.layers_box.setChecked(True)
        self.layers_box.setEnabled(overlays is not None)
        self.layers_box.toggled.connect(self.show_layers)
        self.note = QLabel()
        controls = QHBoxLayout()
        controls.addWidget(self.layers_box)
        controls.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.graphics)
        layout.addLayout(controls)
        self._shown_bases = None  # (display table, soft tissue) the base items show
        self._affine = None  # (image size, affine) the panes are turned and ranged for
        canvas.view_changed.connect(self.refresh)
        self.resize(1000, 560)

    def showEvent(self, event: QShowEvent) -> None:
        for pane in self.panes:
            pane.attach_layers()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        for pane in self.panes:
            pane.detach_layers()
        super().hideEvent(event)

    def show_layers(self, on: bool) -> None:
        """Show or hide the overlay layers in both panes (the bases stay)."""
        for pane in self.panes:
            pane.layers_group.setVisible(on)

    def refresh(self) -> None:
        """Show the two bases under the canvas's window, turned as the canvas turns them (also called
        on each view change; a pan or zoom of the canvas changes nothing here)."""
        if not self.isVisible() and self.items[0].image is not None:
            return
        self._set_bases()
        self._set_orientation()

    def _set_bases(self) -> None:
        shown = (self.canvas.display_table, self.canvas.soft_tissue)
        if self._shown_bases is not None and all(a is b for a, b in zip(shown, self._shown_bases, strict=True)):
            return
        self._shown_bases = shown
        original = self.canvas.original_image()
        soft = self.canvas.soft_tissue_image()
        for item, grey in zip(self.items, (original, soft), strict=True):
            item.setVisible(grey is not None)
            if grey is not None:
                item.setImage(grey, autoLevels=False, levels=(0, 255))
        self.note.setText("" if soft is not None else NO_SOFT_TISSUE_TEXT)

    def _set_orientation(self) -> None:
        state = self.canvas.state
        if state is None:
            return
        key = ((state.image_width, state.image_height), state.image_to_view_affine())
        if key == self._affine:
            return
        self._affine = key
        a, b, c, d, tx, ty = key[1]
        # QTransform(m11, m12, m21, m22, dx, dy) maps x' = m11 x + m21 y + dx, y' = m12 x + m22 y + dy.
        transform = QTransform(a, c, b, d, tx, ty)
        for pane in self.panes:
            pane.image_space.setTransform(transform)
        # The turned image fills the linked panes again (its shape may have changed).
        width, height = state.oriented_size()
        self.boxes[0].setRange(xRange=(0, width), yRange=(0, height), padding=0)
