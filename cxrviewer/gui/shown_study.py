"""The shown study's layer data: its raw maps and their indexed forms, its classifier findings,
what each lesion map comes from, and which of its steps failed.

Separate from the controller (`gui.layer_controller`) so that what belongs to one study, and is
forgotten when another is shown, is in one place: switching studies resets it all at once, and the
parts that read it (the lung masking, the captions) are given this object rather than the
controller. What outlives a study (the class labels, the lesion models' layers, the session's map
extremes) stays with its owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis.findings import Finding
from cxrviewer.core.display.compose import IndexedMap
from cxrviewer.gui.session import LoadedStudy


@dataclass(eq=False)
class ShownStudy:
    """raw: layer kind → (H, W) float32 map on the image's pixel grid (the service's values, any
    range). indexed: layer kind → its map indexed for drawing. The dicts are cleared in place, never
    replaced, so whoever holds them sees the study shown now."""

    study: int | None = None
    loaded: LoadedStudy | None = None
    raw: dict[str, npt.NDArray[np.float32]] = field(default_factory=dict)
    indexed: dict[str, IndexedMap] = field(default_factory=dict)
    soft_tissue_model: str = ""  # the bone-suppression model that gave this study's soft tissue
    findings: dict[str, Finding] = field(default_factory=dict)  # classifier findings, by model
    lesion_sources: dict[str, str] = field(default_factory=dict)  # lesion layer → its model and image score
    lungs_model: str = ""  # the lung model that gave this study's lungs (what keeps its maps inside them)
    lungs_failed: bool = False
    lesions_failed: set[str] = field(default_factory=set)  # lesion layers whose model failed here

    def switch(self, study: int, loaded: LoadedStudy) -> None:
        """Another study is shown: nothing of the previous one is kept."""
        self.study, self.loaded = study, loaded
        self.raw.clear()
        self.indexed.clear()
        self.soft_tissue_model = ""
        self.lungs_model = ""
        self.findings = {}
        self.lesion_sources = {}
        self.lungs_failed = False
        self.lesions_failed = set()

    def clear(self) -> None:
        """No study is shown (it failed to load): no maps to draw."""
        self.study = self.loaded = None
        self.raw.clear()
        self.indexed.clear()
