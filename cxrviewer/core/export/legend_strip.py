"""The legend strip an exported PNG carries under the view (issue 20, item 10): per drawn layer its
name and what it shows (model, class, probability), its colour bar, faded left of the display
threshold, what the bar's ends stand for, and the display threshold in words. Drawn with Pillow in
the report's font (resources/fonts/), in a band added below the image: the view's own pixels are
left as they are.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from PIL import Image as PilImage
from PIL import ImageDraw, ImageFont

from cxrviewer import paths
from cxrviewer.core.legend import LayerLegend

BACKGROUND = (24, 24, 24)
TEXT, MUTED = (245, 245, 245), (190, 190, 190)
FADE = 0.75  # how far the part of a bar the image does not colour fades towards the background
MIN_TEXT_PX = 7


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(paths.resource("fonts") / "NotoSans-Regular.ttf"), size)


def text_px(width: int) -> int:
    """The legend's type size in pixels for an image `width` pixels wide (about 1/45 of it)."""
    return int(np.clip(round(width / 45), 11, 56))


def _fitted(draw: ImageDraw.ImageDraw, text: str, size: int, room: int) -> tuple[str, ImageFont.FreeTypeFont]:
    """`text` in the largest size up to `size` that fits `room` pixels; cut with "…" below MIN_TEXT_PX."""
    for px in range(size, MIN_TEXT_PX - 1, -1):
        if draw.textlength(text, font=_font(px)) <= room:
            return text, _font(px)
    font = _font(MIN_TEXT_PX)
    while text and draw.textlength(text + "…", font=font) > room:
        text = text[:-1]
    return text + "…", font


def bar_pixels(legend: LayerLegend, width: int, height: int) -> npt.NDArray[np.uint8]:
    """(height, width, 3) uint8: the legend's colour map left to right, faded left of first_shown."""
    colours = legend.colours()[np.minimum(np.arange(width) * 256 // max(width, 1), 255)].astype(np.float32)
    cut = int(round(legend.first_shown * width))
    colours[:cut] = colours[:cut] * (1 - FADE) + np.asarray(BACKGROUND, np.float32) * FADE
    return np.repeat(np.rint(colours).astype(np.uint8)[None], height, axis=0)


def legend_strip(width: int, legends: tuple[LayerLegend, ...]) -> npt.NDArray[np.uint8]:
    """(h, width, 3) uint8: the strip for `legends` under an image `width` pixels wide (h = 0 without)."""
    if not legends:
        return np.zeros((0, width, 3), np.uint8)
    size = text_px(width)
    pad, line = max(size // 2, 4), int(size * 1.45)
    bar_height = max(size, 6)
    row = 3 * line + bar_height + pad
    strip = PilImage.new("RGB", (width, pad + row * len(legends)), BACKGROUND)
    draw = ImageDraw.Draw(strip)
    room = width - 2 * pad
    y = pad
    for legend in legends:
        text, font = _fitted(draw, legend.title, size, room)
        draw.text((pad, y), text, fill=TEXT, font=font)
        y += line
        strip.paste(PilImage.fromarray(bar_pixels(legend, room, bar_height)), (pad, y))
        if legend.first_shown > 0:
            x = pad + int(round(legend.first_shown * room))
            draw.line([(x, y - 2), (x, y + bar_height + 1)], fill=TEXT, width=max(1, size // 8))
        y += bar_height + 2
        ends, font = _fitted(draw, legend.high, size, room // 2)
        draw.text((pad, y), legend.low, fill=MUTED, font=font)
        draw.text((width - pad - draw.textlength(ends, font=font), y), ends, fill=MUTED, font=font)
        y += line
        text, font = _fitted(draw, legend.threshold, size, room)
        draw.text((pad, y), text, fill=TEXT, font=font)
        y += line + pad - 2
    return np.asarray(strip, dtype=np.uint8)


def with_legend(composed: npt.NDArray[np.uint8], legends: tuple[LayerLegend, ...]) -> npt.NDArray[np.uint8]:
    """composed (H, W, 3) uint8 with the legend strip below it: (H + h, W, 3); unchanged without legends."""
    return np.concatenate([composed, legend_strip(composed.shape[1], legends)], axis=0)
