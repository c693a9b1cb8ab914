"""The one-page PDF report: the composed view, the study, the layers shown, the gate's verdict, each
model's reading with its threshold and what it means, the models' versions and file checksums, and
the limits. Everything is fitted onto one A4 page: the type shrinks (down to MIN_SIZE points) before
anything is cut, and a cut is said on the page.

Drawn with Qt's PDF writer (QPdfWriter), in the fonts the program carries (`printing.fonts`): Qt
embeds the subset of each font that the page uses, with a map back to Unicode, so a patient's name
in Japanese, Cyrillic or Greek prints as itself and a reader's search or a text extractor finds it.
The image is stored losslessly at its own pixel size (QPainter.LosslessImageRendering: no JPEG).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QPointF, QRectF
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter

from cxrviewer.core.export.atomic import ExportError, write_atomically
from cxrviewer.core.export.content import SOFTWARE, ExportContent
from cxrviewer.printing.fonts import FontsMissing, register_fonts, report_font

A4 = (595.28, 841.89)  # points
RESOLUTION = 72  # the writer's units are points
MARGIN = 36.0
IMAGE_BOX = 300.0  # the image's longer side on the page, points
GUTTER = 14.0
SIZES = (8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5)
MIN_SIZE = SIZES[-1]
LEADING = 1.22  # baseline to baseline, in ems
CUT_NOTE = "... cut to fit one page: the model cards hold the full texts."
FOOTER = "the image is the base with the layers listed, composed as the viewer draws it; not for clinical use."
BANNER = "NOT FOR CLINICAL USE - research tool; model outputs are not diagnoses."
TITLE = "cxrviewer study report"
BANNER_RGB, BANNER_TEXT_RGB, MUTED_RGB, BLACK = (1.0, 0.953, 0.804), (0.42, 0.26, 0.0), (0.35, 0.35, 0.35), (0.0, 0.0, 0.0)

Measure = Callable[[str, str, float], float]  # (text, font style, size in points) -> width in points


@dataclass(frozen=True)
class Para:
    """A paragraph: style "heading", "body", "mono" (checksums) or "small"; indent in points."""

    text: str
    style: str = "body"
    indent: float = 0.0


@dataclass(frozen=True)
class Line:
    text: str
    font: str
    size: float
    x: float
    advance: float  # points from the previous baseline to this one


@dataclass(frozen=True)
class Text:
    """A run of text with its baseline starting at (x, y), y from the top of the page, in points."""

    x: float
    y: float
    text: str
    font: str
    size: float
    rgb: tuple[float, float, float] = BLACK


@dataclass
class Page:
    """What the page holds, in points from its top-left corner: filled boxes, one image, text runs."""

    boxes: list[tuple[QRectF, tuple[float, float, float]]] = field(default_factory=list)
    image: tuple[npt.NDArray[np.uint8], QRectF] | None = None
    texts: list[Text] = field(default_factory=list)


_STYLE = {"heading": ("bold", 1.0, 0.7), "body": ("regular", 0.0, 0.0), "mono": ("mono", -0.5, 0.0),
          "small": ("regular", -0.5, 0.0)}


def wrap(text: str, font: str, size: float, width: float, measure: Measure) -> list[str]:
    """Greedy word wrap into lines no wider than `width`; a longer word (or a run of CJK text, which
    has no spaces) is split between characters."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if measure(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while measure(current, font, size) > width:
            cut = max(1, next((i for i in range(len(current), 0, -1) if measure(current[:i], font, size) <= width), 1))
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    return lines or [""]


def lay_out(paras: list[Para], size: float, x: float, width: float, measure: Measure) -> list[Line]:
    lines = []
    for para in paras:
        font, delta, gap = _STYLE[para.style]
        point = size + delta
        for number, text in enumerate(wrap(para.text, font, point, width - para.indent, measure)):
            lines.append(Line(text, font, point, x + para.indent, point * LEADING + (gap * size if number == 0 else 0)))
    return lines


def side_paras(content: ExportContent) -> list[Para]:
    """Beside the image: the study, the layers shown, the gate."""
    paras = [Para("Study", "heading")]
    paras += [Para(f"{label}: {value}") for label, value in content.study_facts()]
    paras.append(Para("Layers shown", "heading"))
    paras += [Para(f"- {layer}", indent=4) for layer in content.layers] or [Para("base image only")]
    paras.append(Para("Chest radiograph check (gate)", "heading"))
    paras.append(Para(content.gate or "no gate model ran on this study"))
    return paras


def main_paras(content: ExportContent) -> list[Para]:
    """Under the image: cautions and readings, models and checksums, limits."""
    paras = [Para("Findings", "heading")]
    paras += [Para(f"Caution: {text}") for text in content.cautions()]
    if not content.readings:
        paras.append(Para("No model reading was available when this report was made."))
    for reading in content.readings:
        said = reading.threshold is None or f"{reading.threshold:.3f}" in reading.result
        threshold = "" if said else f" [operating threshold {reading.threshold:.3f}]"
        paras.append(Para(f"{reading.model}: {reading.result}{threshold}"))
        if reading.meaning:
            paras.append(Para(f"What it means: {reading.meaning}", "small", indent=8))
    paras.append(Para("Models (version, task, files with sha256)", "heading"))
    if not content.cards:
        paras.append(Para("none"))
    for card in content.cards:
        trained = f", trained {card.provenance.date[:10]}" if card.provenance.date else ""
        paras.append(Para(f"{card.name} v{card.version} - {card.task}, {card.arch}{trained}"))
        paras += [Para(f"{entry.path}  sha256 {entry.sha256}", "mono", indent=8) for entry in card.files]
    paras.append(Para("Limits: what this was not validated for", "heading"))
    paras += [Para(f"- {limit}", indent=4) for limit in content.limits()]
    return paras


def _height(lines: list[Line]) -> float:
    return sum(line.advance for line in lines)


def _cut(lines: list[Line], room: float, x: float) -> list[Line]:
    """The lines that fit in `room` points, the last replaced by CUT_NOTE when some do not."""
    if _height(lines) <= room:
        return lines
    note = Line(CUT_NOTE, "bold", MIN_SIZE, x, MIN_SIZE * LEADING)
    kept, used = [], note.advance
    for line in lines:
        if used + line.advance > room:
            break
        kept.append(line)
        used += line.advance
    return kept + [note]


def _place(page: Page, lines: list[Line], top: float) -> None:
    y = top
    for line in lines:
        y += line.advance
        page.texts.append(Text(line.x, y, line.text, line.font, line.size))


def report_page(content: ExportContent, measure: Measure | None = None) -> Page:
    """The page laid out; `measure` gives text widths (by default as a PDF writer sets the report fonts)."""
    if measure is None:
        register_fonts()
        scratch = QBuffer()
        measure = measurer(_writer(scratch))
    page_width, page_height = A4
    page = Page()
    top = MARGIN
    page.texts.append(Text(MARGIN, top + 14, "cxrviewer - study report", "bold", 14))
    stamp = content.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page.texts.append(Text(page_width - MARGIN - measure(stamp, "regular", 9), top + 14, stamp, "regular", 9))
    page.boxes.append((QRectF(MARGIN, top + 22, page_width - 2 * MARGIN, 16), BANNER_RGB))
    page.texts.append(Text(MARGIN + 6, top + 33.5, BANNER, "bold", 9, BANNER_TEXT_RGB))

    height, width = content.composed.shape[:2]
    scale = IMAGE_BOX / max(height, width)
    shown_w, shown_h = width * scale, height * scale
    image_top = top + 48
    page.image = (content.composed, QRectF(MARGIN, image_top, shown_w, shown_h))
    side_x = MARGIN + IMAGE_BOX + GUTTER
    side_width = page_width - MARGIN - side_x
    footer_y = page_height - MARGIN + 12  # the footer's baseline
    main_top = image_top + shown_h + 6
    side, main = side_paras(content), main_paras(content)
    for size in SIZES:
        side_lines = lay_out(side, size, side_x, side_width, measure)
        main_lines = lay_out(main, size, MARGIN, page_width - 2 * MARGIN, measure)
        side_room = (footer_y - 20) - image_top
        # Side text longer than the image pushes the main text down.
        main_room = (footer_y - 10) - max(main_top, image_top + _height(side_lines) + 6)
        if _height(side_lines) <= side_room and _height(main_lines) <= main_room:
            break
    else:
        side_lines = _cut(side_lines, side_room, side_x)
        main_room = (footer_y - 10) - max(main_top, image_top + _height(side_lines) + 6)
        main_lines = _cut(main_lines, main_room, MARGIN)
    _place(page, side_lines, image_top)
    _place(page, main_lines, max(main_top, image_top + _height(side_lines) + 6))
    page.texts.append(Text(MARGIN, footer_y, f"{SOFTWARE} - {FOOTER}", "regular", 6.5, MUTED_RGB))
    return page


def measurer(device: QPdfWriter) -> Measure:
    """Text widths in points as `device` (a writer at RESOLUTION dpi) sets the report fonts."""
    metrics: dict[tuple[str, float], QFontMetricsF] = {}

    def measure(text: str, font: str, size: float) -> float:
        if (font, size) not in metrics:
            metrics[font, size] = QFontMetricsF(report_font(font, size), device)
        return metrics[font, size].horizontalAdvance(text)

    return measure


def _writer(device: QIODevice) -> QPdfWriter:
    """A writer on `device` for one A4 page without margins, in points."""
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


def _paint(page: Page, writer: QPdfWriter) -> None:
    painter = QPainter(writer)
    try:
        painter.setRenderHint(QPainter.RenderHint.LosslessImageRendering, True)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for rect, rgb in page.boxes:
            painter.fillRect(rect, QColor.fromRgbF(*rgb))
        if page.image is not None:
            pixels, rect = page.image
            painter.drawImage(rect, _qimage(pixels))
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
    _paint(report_page(content, measurer(writer)), writer)
    del writer  # the file is complete once the writer is gone
    buffer.close()
    return bytes(data.data())


def write_report_pdf(path: str | Path, content: ExportContent) -> Path:
    """Write the one-page report atomically; ExportError names `path` when it cannot be written."""
    content.check_target(path)
    try:
        data = report_pdf_bytes(content)
    except FontsMissing as error:
        raise ExportError(path, str(error)) from error
    return write_atomically(path, lambda stream: stream.write(data))
