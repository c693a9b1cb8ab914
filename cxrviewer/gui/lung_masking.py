"""Keeping the explanation maps inside the lungs: the reader's "Inside the lungs only" choice
(remembered in QSettings), whether it can be honoured on the shown study, and the map as drawn.

Separate from the controller because it is one rule with its own state and setting: a map is
multiplied by the study's lung probability when the reader asks for it, a lung model is there and
it did not fail on this study; while the lungs are awaited the map waits too.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QSettings

from cxrviewer.core.layers import MAP_KINDS
from cxrviewer.core.lung_mask import keep_inside_lungs
from cxrviewer.gui.shown_study import ShownStudy

INSIDE_LUNGS_KEY = "layers/inside_lungs"
WAITING_LUNGS_TEXT = "waiting for this study's lungs (Inside the lungs only is on)"
LUNGS_FAILED_TEXT = "the lungs could not be found on this study: the map is shown on the whole film"


class LungMasking:
    def __init__(self, settings: QSettings, shown: ShownStudy):
        self.settings, self.shown = settings, shown
        self.service = None  # the analysis service, whose roles say whether a lung model is installed
        self.asked = str(settings.value(INSIDE_LUNGS_KEY, "false")).lower() == "true"

    def set_asked(self, on: bool) -> None:
        """The reader's choice, remembered from session to session."""
        self.asked = bool(on)
        self.settings.setValue(INSIDE_LUNGS_KEY, "true" if on else "false")

    def available(self) -> bool:
        """A lung model is installed (the service's roles name one) or gave this study's lungs."""
        roles = getattr(self.service, "roles", None)
        return "lung_outline" in self.shown.raw or bool(getattr(roles, "lungs", None))

    def masking(self) -> bool:
        """Whether the explanation maps are kept inside the lungs now (asked, and lungs to be had)."""
        return self.asked and self.available() and not self.shown.lungs_failed

    def displayed(self, kind: str) -> npt.NDArray[np.float32] | None:
        """A layer's map as drawn: its raw map, times the study's lung probability for an explanation
        map while "Inside the lungs only" is on; None while it waits (for its map, or the lungs)."""
        values = self.shown.raw.get(kind)
        if values is None or kind not in MAP_KINDS or not self.masking():
            return values
        lungs = self.shown.raw.get("lung_outline")
        return None if lungs is None else keep_inside_lungs(values, lungs)

    def model(self) -> str | None:
        """The lung model whose probability keeps the maps inside the lungs now (the one that gave this
        study's lungs, else the installed one they are awaited from); None while the maps are whole."""
        if not self.masking():
            return None
        return self.shown.lungs_model or getattr(getattr(self.service, "roles", None), "lungs", None)
