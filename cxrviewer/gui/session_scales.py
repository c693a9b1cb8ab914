"""The fixed scale "across studies" starts from: the extremes of every map shown this session, per
layer and per what made the map (the class explained, the bone-suppression model).

Separate from the controller because it outlives the studies it saw (the analysis service's cache
drops old studies' arrays, so only their least and greatest values are kept here), while everything
else the controller holds of a study is forgotten when another is shown.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cxrviewer.core.display.compose import Normalisation
from cxrviewer.core.layers import MAP_KINDS, LayerStack
from cxrviewer.gui.shown_study import ShownStudy


class SessionScales:
    def __init__(self, stack: LayerStack, shown: ShownStudy):
        self.stack, self.shown = stack, shown
        # (layer kind, what made its map) → {study: [least, greatest] value of its map}
        self.extremes: dict[tuple[str, object], dict[int, npt.NDArray[np.float32]]] = {}

    def record(self, kind: str, values: npt.NDArray[np.float32]) -> None:
        """A layer's map shown for the shown study: (H, W) float32, any range."""
        self.extremes.setdefault(self._source(kind), {})[self.shown.study] = np.array([values.min(), values.max()])

    def scale(self, kind: str) -> Normalisation | None:
        """The fixed scale covering every map of this layer (and class) shown this session, or None."""
        seen = self.extremes.get(self._source(kind), {})
        return Normalisation.across(seen.values()) if seen else None

    def _source(self, kind: str) -> tuple[str, object]:
        """What a layer's maps come from: the class explained, or the bone-suppression model; maps
        from different sources are on different scales."""
        selected = self.stack.selector if kind in MAP_KINDS else None
        if selected is not None:
            return kind, (selected.model, selected.class_index)
        return kind, self.shown.soft_tissue_model if kind == "bones" else ""
