"""Where the report's parts go (cxrviewer.printing.report_layout), without Qt: a stand-in measure
gives text widths, so the rules are checked on their own."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import numpy as np

from cxrviewer.core.export import ExportContent, Reading
from cxrviewer.core.layers import default_layer
from cxrviewer.core.legend import layer_legend
from cxrviewer.core.reading_words import classifier_summary, not_run
from cxrviewer.printing.report_layout import (
    A4,
    APPENDIX_TITLE,
    BODY_SIZE,
    MARGIN,
    NO_LEGEND,
    caption,
    report_pages,
    wrap,
)


def measure(text: str, _font: str, size: float) -> float:
    """A wide stand-in font: 0.6 em per character."""
    return 0.6 * size * len(text)


def content(readings=(), legends=(), layers=("Base: original",), rows=400) -> ExportContent:
    return ExportContent(np.zeros((rows, 320, 3), np.uint8), layers, None, readings, "", (), False,
                         datetime(2026, 11, 22, tzinfo=timezone.utc), legends=legends)


def reading(model: str, p: float) -> Reading:
    return Reading(model, "r", 0.5, "", classifier_summary(model, ("normal", "tb"), (1 - p, p), (1,), "threshold",
                                                           0.5, False))


def test_page_one_reads_top_down_summary_image_legend_all_in_body_type_or_larger():
    legend = layer_legend(default_layer("tb_lesions"), None, "tb-lesions, image score 93.0 %")
    pages = report_pages(content((reading("tb-screen", 0.9), reading("tb-2", 0.1)), (legend,),
                                 ("Base: original", "TB lesions · threshold ≥ 0.5")), measure)
    first, appendix = pages[0], pages[1:]
    texts = [text.text for text in first.texts]
    y = {text.text: text.y for text in first.texts}
    assert y["Summary"] < y["TB: "] < first.image[1][1] < y[caption(content(legends=(legend,)))]
    assert min(text.size for text in first.texts) >= BODY_SIZE
    for text in first.texts:  # within the page's margins
        assert MARGIN - 0.01 <= text.x and text.x + measure(text.text, text.font, text.size) <= A4[0] - MARGIN + 0.01
    assert "Legend" in texts and "display threshold: only shown above 50.0 %" in " ".join(texts)
    [bar] = first.bars
    assert bar.rect[0] > first.image[1][0] + first.image[1][2]
    assert [text.text for text in appendix[0].texts][0] == APPENDIX_TITLE
    assert max(text.size for text in appendix[0].texts[1:]) <= 8


def test_the_caption_names_the_base_and_the_layers_drawn():
    legend = layer_legend(default_layer("tb_lesions"), None)
    assert caption(content(legends=(legend,))) == "Image as shown: original, with TB lesions."
    assert caption(content()) == "Image as shown: original, no layer drawn."
    assert caption(content(layers=())) == "Image as shown: the base image only."
    # Layer lines without legends (a caller that gave none): named from the lines, the lack said.
    lines = ("Base: original", "TB lesions · threshold ≥ 0.638 · opacity 45 %")
    assert caption(content(layers=lines)) == "Image as shown: original, with TB lesions."
    texts = " ".join(text.text for text in report_pages(content(layers=lines), measure)[0].texts)
    assert " ".join(NO_LEGEND.split()) in texts and "No layer is drawn" not in texts


def test_a_model_that_did_not_run_keeps_its_reason_on_page_one():
    failed = Reading("m", "could not run: model m: missing file m.onnx")
    pages = report_pages(content((failed,)), measure)
    texts = [text.text for text in pages[0].texts]
    start = texts.index("m: ")
    assert texts[start:start + 3] == ["m: ", "not run", " — could not run: model m: missing file m.onnx"]
    assert "".join(texts[start:start + 3]) == not_run("m", failed.result).text()


def test_a_tall_image_shrinks_to_the_room_left_and_keeps_its_aspect():
    pages = report_pages(content(tuple(reading(f"m{i}", 0.9) for i in range(8)), rows=2000), measure)
    x, y, width, height = pages[0].image[1]
    assert height / width == 2000 / 320 and y + height < A4[1] - MARGIN


def test_wrap_splits_words_and_unspaced_scripts():
    assert wrap("one two three", "regular", 10, 6 * 8, measure) == ["one two", "three"]
    assert wrap("山田太郎山田太郎", "regular", 10, 6 * 3, measure) == ["山田太", "郎山田", "太郎"]


def test_the_layout_needs_no_qt():
    code = "import sys, cxrviewer.printing.report_layout; assert 'PySide6' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
