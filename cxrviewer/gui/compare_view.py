"""Side-by-side compare: the original and the bone-suppressed soft tissue under the same window,
in two views whose pan and zoom are linked, beside the main canvas."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cxrviewer.gui.canvas import Canvas

NO_SOFT_TISSUE_TEXT = "No bone-suppressed view for this study yet (needs the bone-suppression model)."


class CompareView(QWidget):
    """A window showing `canvas`'s original and soft-tissue base as they are shown now."""

    def __init__(self, canvas: Canvas, parent=None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle("cxrviewer: original | bone-suppressed")
        self.canvas = canvas
        self.graphics = pg.GraphicsLayoutWidget()
        self.boxes = []
        self.items = []
        for column, title in enumerate(("original", "bone-suppressed soft tissue")):
            box = self.graphics.addViewBox(row=0, col=column, invertY=True, lockAspect=True, enableMenu=False)
            item = pg.ImageItem(axisOrder="row-major")
            box.addItem(item)
            self.graphics.addLabel(title, row=1, col=column)
            self.boxes.append(box)
            self.items.append(item)
        self.boxes[1].setXLink(self.boxes[0])
        self.boxes[1].setYLink(self.boxes[0])
        self.note = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.graphics)
        layout.addWidget(self.note)
        canvas.view_changed.connect(self.refresh)
        self.resize(1000, 560)

    def refresh(self) -> None:
        """Show the two bases under the canvas's current window (also called on each view change)."""
        if not self.isVisible() and self.items[0].image is not None:
            return
        original = self.canvas.original_image()
        soft = self.canvas.soft_tissue_image()
        for item, grey in zip(self.items, (original, soft), strict=True):
            item.setVisible(grey is not None)
            if grey is not None:
                item.setImage(grey, autoLevels=False, levels=(0, 255))
        self.note.setText("" if soft is not None else NO_SOFT_TISSUE_TEXT)
        self.note.setVisible(soft is None)
