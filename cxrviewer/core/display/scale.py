"""The value scale a map layer's colours stand for, folded into its 256-entry table.

A map is indexed once, under its own range (see `core.layers.index_normalisation`); the scale the
reader chooses, per image or fixed across studies, only decides which colour each of the 256
indices shows. Index i of an `IndexedMap` stands for v = low + i/255·(high − low), and shows the
colour the chosen scale [L, H] gives v: round((v − L)/(H − L)·255), clipped to 0..255. So a scale
change rebuilds a table and never touches the index array (DESIGN: sliders never touch pixels),
and under one fixed scale a value shows the same colour in every study, to within one colour step
(each map resolves its values to 1/255 of its own range). A map reaching beyond a fixed scale is
clipped: its values above H show the top colour, and `clipping_note` says so.

Thresholds stay on the index: which pixels are drawn does not depend on the scale.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from cxrviewer.core.display.colormaps import colormap
from cxrviewer.core.display.compose import IndexedMap, Layer, Normalisation, OverlayStyle, layer


def display_range(indexed: IndexedMap, normalisation: Normalisation) -> tuple[float, float]:
    """The values the colour map's ends stand for: a fixed scale's [low, high], else the range the
    map was indexed under (its own, per image)."""
    if normalisation.mode == "fixed":
        return normalisation.low, normalisation.high
    return indexed.low, indexed.high


def index_values(indexed: IndexedMap) -> npt.NDArray[np.float64]:
    """(256,) float64: the raw value each index of `indexed` stands for."""
    return indexed.low + np.arange(256) / 255.0 * (indexed.high - indexed.low)


def colour_indices(indexed: IndexedMap, normalisation: Normalisation) -> npt.NDArray[np.uint8]:
    """(256,) uint8: the colour-map entry index i of `indexed` shows under `normalisation` (the
    identity when the scale is the one the map was indexed under)."""
    low, high = display_range(indexed, normalisation)
    positions = (index_values(indexed) - low) / (high - low) * 255.0
    return np.clip(np.rint(positions), 0, 255).astype(np.uint8)


def scaled_layer(indexed: IndexedMap, style: OverlayStyle, normalisation: Normalisation) -> Layer:
    """`compose.layer` with its colours under `normalisation`; alpha (threshold, opacity) and the
    contour stay on the index. Cheap: a 256-entry table."""
    drawn = layer(indexed, style)
    lut = drawn.lut.copy()
    lut[:, :3] = colormap(style.colormap)[colour_indices(indexed, normalisation), :3]
    return dataclasses.replace(drawn, lut=lut)


def clipping_note(indexed: IndexedMap, normalisation: Normalisation) -> str:
    """"" when the map fits its scale; else which of its values the fixed scale clips, in words."""
    if normalisation.mode != "fixed":
        return ""
    notes = []
    if indexed.maximum > normalisation.high:
        notes.append(f"above {normalisation.high:.3g} (this map reaches {indexed.maximum:.3g})")
    if indexed.histogram[index_values(indexed) < normalisation.low].any():
        notes.append(f"below {normalisation.low:.3g}")
    return "clipped " + " and ".join(notes) if notes else ""
