"""The layer panel: where explanation layers (bone suppression, saliency, Grad-CAM, CAM, CRM) will be
listed with their threshold, opacity and colour map (a later issue)."""

from __future__ import annotations

from cxrviewer.gui.placeholder_panel import PlaceholderPanel

EMPTY_TEXT = "No model layers yet.\nExplanation layers appear here once models are available."


class LayerPanel(PlaceholderPanel):
    def __init__(self, parent=None):
        super().__init__(EMPTY_TEXT, parent)
