"""A layer's colour bar: its colour map over the value scale in force, the part below the threshold
shown as not drawn, the threshold's value marked, and the normalisation named underneath, with the
values a fixed scale clips (also in its tooltip)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cxrviewer.core.display.colormaps import colormap
from cxrviewer.core.display.compose import IndexedMap, threshold_index
from cxrviewer.core.display.scale import clipping_note, colour_indices, display_range
from cxrviewer.core.layers import LayerState

BAR_HEIGHT = 12
LABEL_HEIGHT = 14


class _Bar(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(BAR_HEIGHT + LABEL_HEIGHT)
        self.colours: np.ndarray = colormap("jet")
        self.first_shown = 0
        self.low_text = self.high_text = self.threshold_text = ""

    def paintEvent(self, event):  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        width = self.width()
        strip = np.ascontiguousarray(self.colours[None, :, :4])
        image = QImage(strip.data, 256, 1, 256 * 4, QImage.Format.Format_RGBA8888)
        painter.drawImage(QRectF(0, 0, width, BAR_HEIGHT), image)
        cut = width * self.first_shown / 256.0
        if self.first_shown > 0:  # what is not drawn: dimmed, so the bar shows what the reader sees
            painter.fillRect(QRectF(0, 0, cut, BAR_HEIGHT), QColor(40, 40, 40, 210))
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(int(cut), 0, int(cut), BAR_HEIGHT)
        painter.setPen(self.palette().windowText().color())
        text_row = QRectF(0, BAR_HEIGHT, width, LABEL_HEIGHT)
        painter.drawText(text_row, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.low_text)
        painter.drawText(text_row, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.high_text)
        painter.drawText(text_row, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, self.threshold_text)
        painter.end()


class ColourBar(QWidget):
    """The value scale of one layer. `show_scale(state, indexed)`; without a map only the colours."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = _Bar()
        self.normalisation_label = QLabel()
        self.normalisation_label.setEnabled(False)
        self.normalisation_label.setWordWrap(True)  # a clipping note must not widen the dock
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        layout.addWidget(self.normalisation_label)

    def show_scale(self, state: LayerState, indexed: IndexedMap | None) -> None:
        bar = self.bar
        bar.colours = colormap(state.style.colormap)
        clipped = clipping_note(indexed, state.normalisation) if indexed is not None else ""
        self.normalisation_label.setText(state.normalisation.describe() + (f" · {clipped}" if clipped else ""))
        tip = (f"This study's map is {clipped}: those values show the end colour of the scale."
               if clipped else "")
        self.normalisation_label.setToolTip(tip)
        bar.setToolTip(tip)
        if indexed is None:
            bar.first_shown = 0
            bar.low_text = bar.high_text = bar.threshold_text = ""
        else:
            first = threshold_index(indexed, state.style.threshold)
            # The bar spans the scale in force; the cut is where the first drawn value's colour sits.
            bar.first_shown = int(colour_indices(indexed, state.normalisation)[first]) if first > 0 else 0
            low, high = display_range(indexed, state.normalisation)
            bar.low_text, bar.high_text = f"{low:.3g}", f"{high:.3g}" + ("+" if indexed.maximum > high else "")
            value = indexed.low + first / 255.0 * (indexed.high - indexed.low)
            bar.threshold_text = f"drawn from {value:.3g}" if first > 0 else "all drawn"
        bar.update()
