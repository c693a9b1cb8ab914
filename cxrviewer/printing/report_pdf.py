"""The report as a PDF (issue 20, item 10): page 1 a clinician reads in ten seconds, summary first,
the image with a colour bar per drawn layer, type no smaller than 10 points; the appendix after it,
in small type (`report_layout` decides where everything goes, without Qt).

Drawn with Qt's PDF writer (QPdfWriter), in the fonts the program carries (`printing.fonts`): Qt
embeds the subset of each font that the pages use, with a map back to Unicode, so a patient's name
in Japanese, Cyrillic or Greek prints as itself and a reader's search or a text extractor finds it.
The image is stored losslessly at its own pixel size (QPainter.LosslessImageRendering: no JPEG); the
colour bars are vector rectangles, one per colour, so the image is the only picture in the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPointF, QRectF
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from cxrviewer.core.export.atomic import ExportError, write_atomically
from cxrviewer.core.export.content import SOFTWARE, ExportContent
from cxrviewer.printing.fonts import FontsMissing, register_fonts, report_font
from cxrviewer.printing.report_layout import TITLE, Bar, Measure, Page, report_pages

RESOLUTION = 72  # the writer's units are points
FADE = QColor(255, 255, 255, 190)  # over the part of a colour bar that the image does not colour


def report_layout(content: ExportContent, measure: Measure | None = None) -> list[Page]:
    """The pages laid out; `measure` gives text widths (by default as a PDF writer sets the report fonts)."""
    if measure is None:
        register_fonts()
        measure = measurer(_writer(QBuffer()))
    return report_pages(content, measure)


def measurer(device: QPdfWriter) -> Measure:
    """Text widths in points as `device` (a writer at RESOLUTION dpi) sets the report fonts."""
    metrics: dict[tuple[str, float], QFontMetricsF] = {}

    def measure(text: str, font: str, size: float) -> float:
        if (font, size) not in metrics:
            metrics[font, size] = QFontMetricsF(report_font(font, size), device)
        return metrics[font, size].horizontalAdvance(text)

    return measure


def _writer(device: QIODevice) -> QPdfWriter:
    """A writer on `device` for A4 pages without margins, in points."""
    writer = QPdfWriter(device)
    writer.setResolution(RESOLUTION)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                     QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point))
    writer.setTitle(TITLE)
    writer.setCreator(SOFTWARE)
    return writer


def _qimage(pixels: npt.NDArray[np.uint8]) -> QImage:
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    return QImage(pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def _bar(painter: QPainter, bar: Bar) -> None:
    """256 abutting rectangles (each a hair wider, so no seam shows), faded left of the threshold."""
    x, y, width, height = bar.rect
    step = width / 256.0
    painter.setPen(QPen(QColor(0, 0, 0, 0), 0))
    for index, (red, green, blue) in enumerate(np.asarray(bar.colours, dtype=np.uint8)):
        painter.fillRect(QRectF(x + index * step, y, step + 0.25, height), QColor(int(red), int(green), int(blue)))
    if bar.first_shown > 0:
        cut = width * bar.first_shown
        painter.fillRect(QRectF(x, y, cut, height), FADE)
        painter.setPen(QPen(QColor(0, 0, 0), 1.2))
        painter.drawLine(QPointF(x + cut, y - 2), QPointF(x + cut, y + height + 2))
    painter.setPen(QPen(QColor(90, 90, 90), 0.5))
    painter.drawRect(QRectF(x, y, width, height))


def _paint(pages: list[Page], writer: QPdfWriter) -> None:
    painter = QPainter(writer)
    try:
        painter.setRenderHint(QPainter.RenderHint.LosslessImageRendering, True)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for number, page in enumerate(pages):
            if number:
                writer.newPage()
            for (x, y, width, height), rgb in page.boxes:
                painter.fillRect(QRectF(x, y, width, height), QColor.fromRgbF(*rgb))
            if page.image is not None:
                pixels, rect = page.image
                painter.drawImage(QRectF(*rect), _qimage(pixels))
            for bar in page.bars:
                _bar(painter, bar)
            for text in page.texts:
                painter.setFont(report_font(text.font, text.size))
                painter.setPen(QColor.fromRgbF(*text.rgb))
                painter.drawText(QPointF(text.x, text.y), text.text)
    finally:
        painter.end()


def report_pdf_bytes(content: ExportContent) -> bytes:
    """The report as a PDF file's bytes."""
    register_fonts()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = _writer(buffer)
    _paint(report_pages(content, measurer(writer)), writer)
    del writer  # the file is complete once the writer is gone
    buffer.close()
    return bytes(data.data())


def write_report_pdf(path: str | Path, content: ExportContent) -> Path:
    """Write the report atomically; ExportError names `path` when it cannot be written."""
    content.check_target(path)
    try:
        data = report_pdf_bytes(content)
    except FontsMissing as error:
        raise ExportError(path, str(error)) from error
    return write_atomically(path, lambda stream: stream.write(data))
