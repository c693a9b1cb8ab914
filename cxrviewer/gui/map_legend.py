"""The colour legend on the film (issue 20, item 7): for each layer coloured on the image, what it
shows and for which class with its probability ("Grad-CAM — tb-screen-shenzhen / tb, 98.0 %"), its
colour map as a bar with the part under the display threshold dimmed, and what the bar's ends stand
for ("0" … "this map's maximum", or "0 %" … "100 %" for a probability map). The rows are
`core.legend.LayerLegend`s, the same the exports print. A widget over the canvas's viewport, at the
bottom centre above the bottom edge's orientation letter; it stays put while the film is zoomed or
panned and lets the mouse through to the film."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QWidget

from cxrviewer.core.legend import LayerLegend

BAR_WIDTH = 256
BAR_HEIGHT = 10
PADDING = 6
ROW_GAP = 6
BOTTOM_CLEARANCE = 34  # px from the viewport's bottom: room for the bottom orientation letter
BACKING = QColor(0, 0, 0, 170)
TEXT = QColor(240, 240, 240)


def legend_title(legend: LayerLegend) -> str:
    """"Grad-CAM — pneumonia-kermany / pneumonia, 97.3 %": the layer, then what it explains."""
    return f"{legend.name} — {legend.explains}" if legend.explains else legend.name


class MapLegendOverlay(QWidget):
    """Shows `set_legends(rows)` over `viewport` (no rows: hidden)."""

    def __init__(self, viewport: QWidget):
        super().__init__(viewport)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.legends: tuple[LayerLegend, ...] = ()
        # The legend is drawn once per change into a pixmap: the viewport repaints it at every pan,
        # zoom and slider step, and drawing text and bars each time cost about a millisecond.
        self._picture: QPixmap | None = None
        self._font = QFont(self.font())
        self._font.setPixelSize(12)
        viewport.installEventFilter(self)
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Resize:
            self.place()
        return False

    def set_legends(self, legends: Sequence[LayerLegend]) -> None:
        self.legends = tuple(legend for legend in legends if not legend.outline_only)
        self._picture = None
        self.setVisible(bool(self.legends))
        if self.legends:
            self.resize(self._size())
            self.place()
        self.update()

    def _row_height(self) -> int:
        line = QFontMetrics(self._font).height()
        return line + 2 + BAR_HEIGHT + 2 + line

    def _size(self) -> QSize:
        metrics = QFontMetrics(self._font)
        widest = max([BAR_WIDTH, *(metrics.horizontalAdvance(legend_title(row)) for row in self.legends)])
        height = len(self.legends) * self._row_height() + (len(self.legends) - 1) * ROW_GAP
        return QSize(widest + 2 * PADDING, height + 2 * PADDING)

    def place(self) -> None:
        viewport = self.parentWidget()
        if viewport is None:
            return
        x = (viewport.width() - self.width()) // 2
        y = viewport.height() - self.height() - BOTTOM_CLEARANCE
        self.move(max(0, x), max(0, y))

    def paintEvent(self, event):  # noqa: N802 (Qt's name)
        ratio = self.devicePixelRatioF()
        if self._picture is None or self._picture.size() != self.size() * ratio:
            self._picture = QPixmap(self.size() * ratio)
            self._picture.setDevicePixelRatio(ratio)
            self._picture.fill(Qt.GlobalColor.transparent)
            self._draw(QPainter(self._picture))
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._picture)
        painter.end()

    def _draw(self, painter: QPainter) -> None:
        painter.fillRect(self.rect(), BACKING)
        painter.setFont(self._font)
        metrics = QFontMetrics(self._font)
        line = metrics.height()
        left = (self.width() - BAR_WIDTH) // 2
        top = PADDING
        for legend in self.legends:
            painter.setPen(TEXT)
            painter.drawText(QRectF(PADDING, top, self.width() - 2 * PADDING, line),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, legend_title(legend))
            bar_top = top + line + 2
            strip = np.ascontiguousarray(np.concatenate(
                [legend.colours(), np.full((256, 1), 255, np.uint8)], axis=1)[None])
            image = QImage(strip.data, 256, 1, 256 * 4, QImage.Format.Format_RGBA8888)
            painter.drawImage(QRectF(left, bar_top, BAR_WIDTH, BAR_HEIGHT), image)
            if legend.first_shown > 0:  # not drawn on the film: dimmed, as in the panel's bar
                painter.fillRect(QRectF(left, bar_top, BAR_WIDTH * legend.first_shown, BAR_HEIGHT),
                                 QColor(40, 40, 40, 210))
            labels = QRectF(left, bar_top + BAR_HEIGHT + 2, BAR_WIDTH, line)
            painter.setPen(TEXT)
            painter.drawText(labels, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, legend.low)
            painter.drawText(labels, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, legend.high)
            top += self._row_height() + ROW_GAP
        painter.end()

    def bar_rect(self, row: int) -> QRectF:
        """Where row `row`'s colour bar is painted, in this widget's pixels (for tests)."""
        line = QFontMetrics(self._font).height()
        top = PADDING + row * (self._row_height() + ROW_GAP) + line + 2
        return QRectF((self.width() - BAR_WIDTH) // 2, top, BAR_WIDTH, BAR_HEIGHT)
