"""Where everything goes on the report's pages (issue 20, item 10), without Qt: text widths come from
a `measure` function, so the layout is tested with any measure and drawn by `report_pdf` with Qt's.

Page 1 is what a clinician reads in ten seconds, no type under BODY_SIZE (10) points: the patient and
study, then the summary (one line per model, the call in its colour and in words, the figure and the
threshold in force), the gate's verdict and the cautions, then the image as shown with a colour bar
per drawn layer (what its ends mean, its display threshold in words), each model card's external
beside internal figure, and a footer. The appendix (page 2 on, smaller type) holds the readings in
detail, the layers as drawn, the limits, each model's version, signature and file checksums, and
the software version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone

import numpy as np
import numpy.typing as npt

from cxrviewer.core.export.content import SOFTWARE, ExportContent
from cxrviewer.core.legend import DISPLAY_THRESHOLD_NOTE, LayerLegend
from cxrviewer.core.reading_words import CALL_COLOURS, CALL_RULE, Summary, card_figures, card_text

A4 = (595.28, 841.89)  # points
MARGIN = 36.0
GUTTER = 16.0
IMAGE_WIDTH = 290.0  # the image's widest on page 1, points
MIN_IMAGE_HEIGHT = 170.0
# Whole points: Qt's PDF writer sets type at whole points at the writer's 72 dots per inch.
BODY_SIZE = 10.0  # the smallest type on page 1
SUMMARY_SIZE = 12.0
APPENDIX_SIZE = 7.0
MONO_SIZE = 6.0
LEADING = 1.25  # baseline to baseline, in ems
APPENDIX_LEADING = 1.17  # tighter: the appendix is for the record, not for reading at a glance
BAR_HEIGHT = 11.0
TITLE = "cxrviewer study report"
HEADING = "Chest radiograph: model readings"
BANNER = "NOT FOR CLINICAL USE - research tool; model outputs are not diagnoses."
APPENDIX_TITLE = "Appendix: details for the record"
BANNER_RGB, BANNER_TEXT_RGB = (1.0, 0.953, 0.804), (0.42, 0.26, 0.0)
MUTED_RGB, BLACK, RULE_RGB = (0.33, 0.33, 0.33), (0.0, 0.0, 0.0), (0.75, 0.75, 0.75)

Measure = Callable[[str, str, float], float]  # (text, font style, size in points) -> width in points
Rect = tuple[float, float, float, float]  # x, y (from the page's top), width, height in points
RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Text:
    """A run of text with its baseline starting at (x, y), y from the top of the page, in points;
    font: "regular", "bold" or "mono"."""

    x: float
    y: float
    text: str
    font: str
    size: float
    rgb: RGB = BLACK


@dataclass(frozen=True, eq=False)
class Bar:
    """A colour bar: colours (256, 3) uint8 left to right in `rect`; left of `first_shown` (a
    fraction of the width) is not drawn on the image, and is shown faded."""

    rect: Rect
    colours: npt.NDArray[np.uint8]
    first_shown: float = 0.0


@dataclass
class Page:
    """What one page holds: filled boxes (drawn first), colour bars, at most one image, text runs."""

    boxes: list[tuple[Rect, RGB]] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    image: tuple[npt.NDArray[np.uint8], Rect] | None = None
    texts: list[Text] = field(default_factory=list)


def rgb_of(hex_colour: str) -> RGB:
    value = hex_colour.lstrip("#")
    return tuple(int(value[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


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


class Column:
    """Text set down a column from `top`, line by line, wrapped to `width`."""

    def __init__(self, page: Page, x: float, top: float, width: float, measure: Measure):
        self.page, self.x, self.y, self.width, self.measure = page, x, top, width, measure

    def para(self, text: str, font: str = "regular", size: float = BODY_SIZE, rgb: RGB = BLACK,
             indent: float = 0.0, before: float = 0.0) -> None:
        self.y += before
        for line in wrap(text, font, size, self.width - indent, self.measure):
            self.y += size * LEADING
            self.page.texts.append(Text(self.x + indent, self.y, line, font, size, rgb))

    def height_of(self, text: str, font: str = "regular", size: float = BODY_SIZE, indent: float = 0.0) -> float:
        return len(wrap(text, font, size, self.width - indent, self.measure)) * size * LEADING


def summary_line(column: Column, summary: Summary, size: float = SUMMARY_SIZE) -> None:
    """One model's line: a chip and the call in its colour, the plain name, the figures; what does
    not fit on the line continues under it."""
    page, measure = column.page, column.measure
    colour = rgb_of(CALL_COLOURS[summary.call])
    column.y += size * LEADING
    chip = size * 0.7
    page.boxes.append(((column.x, column.y - chip, chip, chip), colour))
    x = column.x + chip + 5
    runs = [(f"{summary.name}: ", "bold", BLACK), (summary.call_text, "bold", colour)]
    for text, font, rgb in runs:
        page.texts.append(Text(x, column.y, text, font, size, rgb))
        x += measure(text, font, size)
    if not summary.figures:
        return
    rest = f" — {summary.figures}"
    if x + measure(rest, "regular", size) <= column.x + column.width:
        page.texts.append(Text(x, column.y, rest, "regular", size))
        x += measure(rest, "regular", size)
        model = f"  · {summary.model}"
        if summary.model != summary.name and x + measure(model, "regular", BODY_SIZE) <= column.x + column.width:
            page.texts.append(Text(x, column.y, model, "regular", BODY_SIZE, MUTED_RGB))
        return
    page.texts.append(Text(x, column.y, " —", "regular", size))
    indent = chip + 5
    lines = wrap(summary.figures, "regular", BODY_SIZE, column.width - indent - 8, measure)
    for line in lines:
        column.y += BODY_SIZE * LEADING
        page.texts.append(Text(column.x + indent + 8, column.y, line, "regular", BODY_SIZE, MUTED_RGB
                               if not summary.answered else BLACK))


def legend_block(column: Column, legend: LayerLegend) -> None:
    """A layer's name and what it shows, its colour bar with the ends' meaning, its scale and its
    display threshold in words."""
    column.para(legend.title, "bold", BODY_SIZE, before=6)
    column.y += 3
    column.page.bars.append(Bar((column.x, column.y, column.width, BAR_HEIGHT), legend.colours(), legend.first_shown))
    column.y += BAR_HEIGHT
    baseline = column.y + BODY_SIZE * LEADING
    measure = column.measure
    column.page.texts.append(Text(column.x, baseline, legend.low, "regular", BODY_SIZE))
    high = legend.high
    column.page.texts.append(Text(column.x + column.width - measure(high, "regular", BODY_SIZE), baseline, high,
                                  "regular", BODY_SIZE))
    column.y = baseline
    column.para(legend.scale, rgb=MUTED_RGB)
    column.para(legend.threshold)
    if legend.contour_rgb is not None:
        column.para(f"outline {'only ' if legend.outline_only else ''}in {colour_name(legend.contour_rgb)}",
                    rgb=MUTED_RGB)


NO_LEGEND = "No colour legend came with the layers drawn; the appendix lists how each is drawn."
COLOUR_NAMES = {(255, 255, 255): "white", (255, 220, 0): "yellow", (0, 200, 255): "light blue"}


def colour_name(rgb: tuple[int, int, int]) -> str:
    return COLOUR_NAMES.get(tuple(rgb), "RGB {}, {}, {}".format(*rgb))


def drawn_layer_names(content: ExportContent) -> list[str]:
    """The layers drawn over the base: from their legends, else from the layer lines ("TB lesions · ...")."""
    if content.legends:
        return [legend.name for legend in content.legends]
    return [line.split(" · ")[0] for line in content.layers if not line.startswith("Base:") and " · " in line]


def caption(content: ExportContent) -> str:
    """What the image shows, in one sentence: the base and the layers drawn over it."""
    base = next((line.split(":", 1)[1].strip() for line in content.layers if line.startswith("Base:")), "")
    names = drawn_layer_names(content)
    if not base and not names:
        return "Image as shown: " + ("; ".join(content.layers) or "the base image only") + "."
    shown = f"Image as shown: {base or 'the base image'}"
    return shown + (f", with {', '.join(names)}." if names else ", no layer drawn.")


def header(page: Page, content: ExportContent, measure: Measure) -> float:
    """Title, stamp, patient and study, banner; returns where the next block starts."""
    width = A4[0] - 2 * MARGIN
    y = MARGIN + 15
    page.texts.append(Text(MARGIN, y, HEADING, "bold", 15))
    stamp = content.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page.texts.append(Text(MARGIN + width - measure(stamp, "regular", BODY_SIZE), y, stamp, "regular", BODY_SIZE))
    facts = content.study_facts()
    column = Column(page, MARGIN, y + 4, width, measure)
    patient = [f"{label}: {value}" for label, value in facts if label == "Patient"]
    for line in patient:  # regular: Qt makes a bold CJK face by drawing it twice, which extracts twice
        column.para(line, "regular", 13)
    column.para(" · ".join(f"{label}: {value}" for label, value in facts if label not in ("Patient", "Caution")))
    for label, value in facts:
        if label == "Caution":
            column.para(f"{label}: {value}", "bold", BODY_SIZE, BANNER_TEXT_RGB)
    top = column.y + 5
    page.boxes.append(((MARGIN, top, width, BODY_SIZE * 1.9), BANNER_RGB))
    page.texts.append(Text(MARGIN + 6, top + BODY_SIZE * 1.3, BANNER, "bold", BODY_SIZE, BANNER_TEXT_RGB))
    return top + BODY_SIZE * 1.9 + 4


def summary_block(page: Page, content: ExportContent, top: float, measure: Measure) -> float:
    width = A4[0] - 2 * MARGIN
    column = Column(page, MARGIN, top, width, measure)
    column.para("Summary", "bold", 13, before=4)
    summaries = content.summaries()
    if not summaries:
        column.para("No model reading was available when this report was made.", size=SUMMARY_SIZE)
    for summary in summaries:
        summary_line(column, summary)
    column.para(f"Chest radiograph check (gate): {content.gate or 'no gate model ran on this study'}", before=3)
    if summaries:
        column.para(f"Calls: {CALL_RULE}.", rgb=MUTED_RGB)
    for text in content.cautions():
        height = column.height_of(f"Caution: {text}", indent=5) + 4
        page.boxes.append(((MARGIN, column.y + 3, width, height), BANNER_RGB))
        column.para(f"Caution: {text}", rgb=BANNER_TEXT_RGB, indent=5, before=2)
        column.y += 3
    page.boxes.append(((MARGIN, column.y + 6, width, 0.6), RULE_RGB))
    return column.y + 8


def figures_lines(content: ExportContent) -> list[str]:
    return [f"{card.name}: {line}" for card in content.cards if (line := card_figures(card))]


FIGURES_HEADING = ("Model cards' figures: external, on sources never used in training; internal, on a held-out part "
                   "of its own sources (which flatters a model: expect lower figures elsewhere)")


def first_page(content: ExportContent, measure: Measure, pages: int) -> tuple[Page, list[str]]:
    """Page 1, and the model-figure lines that did not fit on it (they go to the appendix)."""
    page = Page()
    width = A4[0] - 2 * MARGIN
    top = summary_block(page, content, header(page, content, measure), measure)
    footer_y = A4[1] - MARGIN + 4
    figures = figures_lines(content)
    probe = Column(page, MARGIN, 0, width, measure)

    def figures_height(lines: list[str]) -> float:
        if not lines:
            return 0.0
        return (probe.height_of(FIGURES_HEADING, "bold", BODY_SIZE) + 4
                + sum(probe.height_of(line, indent=6) for line in lines))

    cap = caption(content)
    legend_x = MARGIN + IMAGE_WIDTH + GUTTER
    legend_width = A4[0] - MARGIN - legend_x
    height, image_width = content.composed.shape[:2]
    scale = IMAGE_WIDTH / image_width
    caption_height = Column(page, MARGIN, 0, IMAGE_WIDTH, measure).height_of(cap) + 4
    left = list(figures)
    while True:
        room = footer_y - 22 - top - caption_height - figures_height(left) - 6
        if room >= MIN_IMAGE_HEIGHT or not left:
            break
        left.pop()
    scale = min(scale, max(room, 40.0) / height)
    shown_w, shown_h = image_width * scale, height * scale
    image_top = top + 6
    page.image = (content.composed, (MARGIN, image_top, shown_w, shown_h))
    column = Column(page, MARGIN, image_top + shown_h, IMAGE_WIDTH, measure)
    column.para(cap, before=2)
    legends = Column(page, legend_x, image_top - 2, legend_width, measure)
    legends.para("Legend", "bold", 11)
    if not content.legends:
        legends.para(NO_LEGEND if drawn_layer_names(content) else "No layer is drawn over the image.")
    for legend in content.legends:
        legend_block(legends, legend)
    legends.para(DISPLAY_THRESHOLD_NOTE, rgb=MUTED_RGB, before=6)
    if left:
        below = Column(page, MARGIN, max(column.y, legends.y) + 4, width, measure)
        below.para(FIGURES_HEADING, "bold", BODY_SIZE, before=4)
        for line in left:
            below.para(line, indent=6)
    footer = f"{SOFTWARE} - not for clinical use - page 1 of {pages}"
    longer = f"{footer}; the appendix holds details, versions and checksums"
    fits = pages > 1 and measure(longer, "regular", BODY_SIZE) <= width
    page.texts.append(Text(MARGIN, footer_y, longer if fits else footer, "regular", BODY_SIZE, MUTED_RGB))
    return page, figures[len(left):]


def appendix_paras(content: ExportContent, figures: list[str]) -> list[tuple[str, str, float, float]]:
    """(text, font, size, indent) of the appendix, in order."""
    body, mono = APPENDIX_SIZE, MONO_SIZE
    paras = [("Readings in detail", "bold", body + 1, 0.0)]
    for reading in content.readings:
        paras.append((f"{reading.model}: {reading.result}", "regular", body, 0.0))
        if reading.meaning:
            paras.append((f"What it means: {card_text(reading.meaning)}", "regular", body, 8.0))
    if not content.readings:
        paras.append(("No model reading was available when this report was made.", "regular", body, 0.0))
    paras.append(("Layers as drawn", "bold", body + 1, 0.0))
    paras += [(f"- {line}", "regular", body, 4.0) for line in content.layers] or [("base image only", "regular", body, 0.0)]
    if figures:
        paras.append((FIGURES_HEADING, "bold", body + 1, 0.0))
        paras += [(line, "regular", body, 4.0) for line in figures]
    paras.append(("Limits: what this was not validated for", "bold", body + 1, 0.0))
    paras += [(f"- {limit}", "regular", body, 4.0) for limit in content.limits()]
    paras.append(("Models: version, signature, files with sha256", "bold", body + 1, 0.0))
    if not content.cards:
        paras.append(("none", "regular", body, 0.0))
    origins = {reading.model: reading.origin for reading in content.readings}
    for card in content.cards:
        trained = f", trained {card.provenance.date[:10]}" if card.provenance.date else ""
        if card.name in origins:
            signature = origins[card.name] or "signed release model (signature verified on loading)"
        else:
            signature = "signature status not recorded in this report"
        paras.append((f"{card.name} v{card.version} - {card.task}, {card.arch}{trained} - {signature}", "regular",
                      body, 0.0))
        paras += [(f"{entry.path}  sha256 {entry.sha256}", "mono", mono, 8.0) for entry in card.files]
    stamp = content.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    paras.append(("Software", "bold", body + 1, 0.0))
    paras.append((f"{SOFTWARE}; report made {stamp}; the image is the base with the layers listed, composed as "
                  "the viewer draws it.", "regular", body, 0.0))
    return paras


def appendix_pages(content: ExportContent, figures: list[str], measure: Measure) -> list[Page]:
    """The appendix set in small type, over as many pages as it needs."""
    width = A4[0] - 2 * MARGIN
    bottom = A4[1] - MARGIN
    pages = [Page()]
    column = Column(pages[0], MARGIN, MARGIN, width, measure)
    column.para(APPENDIX_TITLE, "bold", 11)
    for text, font, size, indent in appendix_paras(content, figures):
        gap = 4.0 if font == "bold" else 0.0
        for line in wrap(text, font, size, width - indent, measure):
            if column.y + gap + size * APPENDIX_LEADING > bottom:
                pages.append(Page())
                column = Column(pages[-1], MARGIN, MARGIN, width, measure)
                gap = 0.0
            column.y += gap + size * APPENDIX_LEADING
            gap = 0.0
            rgb = BLACK if font != "mono" else MUTED_RGB
            column.page.texts.append(Text(MARGIN + indent, column.y, line, font, size, rgb))
    return pages


def report_pages(content: ExportContent, measure: Measure) -> list[Page]:
    """Every page of the report: page 1, then the appendix."""
    _probe, figures = first_page(content, measure, 2)
    appendix = appendix_pages(content, figures, measure)
    first, _ = first_page(content, measure, 1 + len(appendix))
    return [first, *appendix]
