"""A shown layer's legend for exports (issue 20, item 10): its colour map, what the bar's ends stand
for, from where along the bar colours are drawn, and its display threshold in words, kept apart
from any model's operating threshold (a display threshold only decides what is coloured).

Pure values from a `LayerState` and its `IndexedMap` by the same rules as the viewer's colour bar
(`core.display.compose.threshold_index`, `core.display.scale`); the PDF report draws them with Qt,
the PNG export with Pillow (`core.export.png`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cxrviewer.core.display.colormaps import colormap
from cxrviewer.core.display.compose import IndexedMap, threshold_index
from cxrviewer.core.display.scale import colour_indices, display_range
from cxrviewer.core.layers import SCALED_KINDS, LayerState
from cxrviewer.core.reading_words import percent

DISPLAY_THRESHOLD_NOTE = ("A display threshold only decides what is coloured on the image; each call uses the "
                          "model's operating threshold, given in the summary.")


@dataclass(frozen=True)
class LayerLegend:
    """name: the layer ("TB lesions"); explains: what it shows for this study ("pneumonia-kermany /
    pneumonia, 97.3 %", may be ""); colormap: a `core.display.colormaps` name; low, high: what the
    bar's ends stand for ("0 %", "100 %"); scale: the values in words; first_shown: the fraction of
    the bar, in [0, 1], from which colours are drawn (0: all); threshold: the display threshold in
    words; contour_rgb: the outline colour, None without one; opacity: in [0, 1]."""

    name: str
    colormap: str
    low: str
    high: str
    scale: str
    first_shown: float = 0.0
    threshold: str = ""
    explains: str = ""
    contour_rgb: tuple[int, int, int] | None = None
    opacity: float = 0.5

    def __post_init__(self) -> None:
        colormap(self.colormap)  # raises ValueError naming the known maps
        if not 0.0 <= self.first_shown <= 1.0:
            raise ValueError(f"first_shown must be within [0, 1], got {self.first_shown}")

    @property
    def title(self) -> str:
        return f"{self.name}: {self.explains}" if self.explains else self.name

    @property
    def outline_only(self) -> bool:
        return self.opacity == 0 and self.contour_rgb is not None

    def colours(self) -> npt.NDArray[np.uint8]:
        """(256, 3) uint8 RGB, the bar left to right."""
        return colormap(self.colormap)[:, :3]


def threshold_words(state: LayerState, indexed: IndexedMap | None) -> str:
    """"display threshold: only shown above 63.8 %" and the like, for the layer's threshold mode."""
    threshold = state.style.threshold
    probability = state.kind not in SCALED_KINDS
    if threshold.mode == "none":
        return "display threshold: none, every value is shown"
    if threshold.mode == "percentile":
        return f"display threshold: only the top {100 - threshold.value:.3g} % of pixels shown"
    if threshold.mode == "fraction":
        value = f" ({threshold.value * indexed.maximum:.3g})" if indexed is not None else ""
        return f"display threshold: only shown above {100 * threshold.value:.0f} % of this map's maximum{value}"
    value = percent(threshold.value) if probability else f"{threshold.value:.3g}"
    verb = "outlined where it reaches" if state.style.opacity == 0 and state.style.contour else "only shown above"
    return f"display threshold: {verb} {value}"


def layer_legend(state: LayerState, indexed: IndexedMap | None, explains: str = "",
                 strength: float = 1.0) -> LayerLegend:
    """The legend of one shown layer; `indexed` is its map as shown (None: not known, all drawn);
    `strength` the weight on its opacity as drawn (`core.layers.map_strength`)."""
    if state.kind not in SCALED_KINDS:
        low, high, scale = "0 %", "100 %", "probability per pixel"
    elif state.normalisation.mode == "fixed":
        low, high = f"{state.normalisation.low:.3g}", f"{state.normalisation.high:.3g}"
        scale = "fixed scale for every study (relative values, not a probability)"
    else:
        low, high = "0", "this map's maximum"
        scale = "relative to this map's own maximum (not a probability)"
    first_shown = 0.0
    if indexed is not None:
        if state.kind in SCALED_KINDS and state.normalisation.mode == "fixed":
            low, high = (f"{value:.3g}" for value in display_range(indexed, state.normalisation))
        first = threshold_index(indexed, state.style.threshold)
        first_shown = float(colour_indices(indexed, state.normalisation)[first]) / 255.0 if first > 0 else 0.0
    contour = state.style.contour_rgb if state.style.contour else None
    return LayerLegend(state.name, state.style.colormap, low, high, scale, first_shown,
                       threshold_words(state, indexed), explains, contour, state.style.opacity * strength)
