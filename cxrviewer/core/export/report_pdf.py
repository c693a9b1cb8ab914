"""The one-page PDF report: the composed view, the study, the layers shown, the gate's verdict, each
model's reading with its threshold and what it means, the models' versions and file checksums, and
the limits. Everything is fitted onto one A4 page: the type shrinks (down to MIN_SIZE points) before
anything is cut, and a cut is said on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone
from pathlib import Path

from cxrviewer.core.export.atomic import write_atomically
from cxrviewer.core.export.content import SOFTWARE, ExportContent
from cxrviewer.core.export.pdf_page import A4, PdfPage, text_width, winansi_text

MARGIN = 36.0
IMAGE_BOX = 300.0  # the image's longer side on the page, points
GUTTER = 14.0
SIZES = (8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5)
MIN_SIZE = SIZES[-1]
CUT_NOTE = "... cut to fit one page: the model cards hold the full texts."
FOOTER = "the image is the base with the layers listed, composed as the viewer draws it; not for clinical use."
BANNER_RGB, BANNER_TEXT_RGB, MUTED_RGB = (1.0, 0.953, 0.804), (0.42, 0.26, 0.0), (0.35, 0.35, 0.35)


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


_STYLE = {"heading": ("bold", 1.0, 0.7), "body": ("regular", 0.0, 0.0), "mono": ("mono", -0.5, 0.0),
          "small": ("regular", -0.5, 0.0)}


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap of `winansi_text` output into lines no wider than `width`; a longer word is split."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while text_width(current, font, size) > width:
            cut = max(1, next(i for i in range(len(current), 0, -1) if text_width(current[:i], font, size) <= width))
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    return lines or [""]


def lay_out(paras: list[Para], size: float, x: float, width: float) -> list[Line]:
    lines = []
    for para in paras:
        font, delta, gap = _STYLE[para.style]
        point = size + delta
        for number, text in enumerate(wrap(winansi_text(para.text), font, point, width - para.indent)):
            lines.append(Line(text, font, point, x + para.indent, point * 1.22 + (gap * size if number == 0 else 0)))
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


def _fits(side: list[Line], main: list[Line], side_room: float, main_room: float) -> bool:
    return sum(line.advance for line in side) <= side_room and sum(line.advance for line in main) <= main_room


def report_page(content: ExportContent) -> PdfPage:
    page_width, page_height = A4
    page = PdfPage()
    top = page_height - MARGIN
    page.text(MARGIN, top - 14, "cxrviewer - study report", "bold", 14)
    stamp = content.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page.text(page_width - MARGIN - text_width(stamp, "regular", 9), top - 14, stamp, "regular", 9)
    banner = "NOT FOR CLINICAL USE - research tool; model outputs are not diagnoses."
    page.box(MARGIN, top - 38, page_width - 2 * MARGIN, 16, BANNER_RGB)
    page.text(MARGIN + 6, top - 33.5, banner, "bold", 9, BANNER_TEXT_RGB)

    height, width = content.composed.shape[:2]
    scale = IMAGE_BOX / max(height, width)
    shown_w, shown_h = width * scale, height * scale
    image_top = top - 48
    page.image(content.composed, MARGIN, image_top - shown_h, shown_w, shown_h)
    side_x = MARGIN + IMAGE_BOX + GUTTER
    side_width = page_width - MARGIN - side_x
    footer_y = MARGIN - 12
    main_top = image_top - shown_h - 6
    side, main = side_paras(content), main_paras(content)
    for size in SIZES:
        side_lines = lay_out(side, size, side_x, side_width)
        main_lines = lay_out(main, size, MARGIN, page_width - 2 * MARGIN)
        side_room = image_top - (footer_y + 20)
        side_height = sum(line.advance for line in side_lines)
        # Side text longer than the image pushes the main text down.
        main_room = min(main_top, image_top - side_height - 6) - (footer_y + 10)
        if _fits(side_lines, main_lines, side_room, main_room):
            break
    else:
        side_lines = _cut(side_lines, side_room, side_x)
        main_room = min(main_top, image_top - sum(line.advance for line in side_lines) - 6) - (footer_y + 10)
        main_lines = _cut(main_lines, main_room, MARGIN)
    _draw(page, side_lines, image_top)
    _draw(page, main_lines, min(main_top, image_top - sum(line.advance for line in side_lines) - 6))
    page.text(MARGIN, footer_y, f"{SOFTWARE} - {FOOTER}", "regular", 6.5, MUTED_RGB)
    return page


def _cut(lines: list[Line], room: float, x: float) -> list[Line]:
    """The lines that fit in `room` points, the last replaced by CUT_NOTE when some do not."""
    if sum(line.advance for line in lines) <= room:
        return lines
    note = Line(CUT_NOTE, "bold", MIN_SIZE, x, MIN_SIZE * 1.22)
    kept, used = [], note.advance
    for line in lines:
        if used + line.advance > room:
            break
        kept.append(line)
        used += line.advance
    return kept + [note]


def _draw(page: PdfPage, lines: list[Line], top: float) -> None:
    y = top
    for line in lines:
        y -= line.advance
        page.text(line.x, y, line.text, line.font, line.size)


def report_pdf_bytes(content: ExportContent) -> bytes:
    created = content.created.astimezone(timezone.utc).strftime("D:%Y%m%d%H%M%SZ")
    return report_page(content).to_bytes("cxrviewer study report", SOFTWARE, created)


def write_report_pdf(path: str | Path, content: ExportContent) -> Path:
    """Write the one-page report atomically; ExportError names `path` when it cannot be written."""
    content.check_target(path)
    data = report_pdf_bytes(content)
    return write_atomically(path, lambda stream: stream.write(data))
