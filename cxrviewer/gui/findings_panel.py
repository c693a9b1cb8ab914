"""The findings area: where a model's findings for the current study will be listed (a later issue)."""

from __future__ import annotations

from cxrviewer.gui.placeholder_panel import PlaceholderPanel

EMPTY_TEXT = "No findings yet.\nModel findings for the current study appear here once models are available."


class FindingsPanel(PlaceholderPanel):
    def __init__(self, parent=None):
        super().__init__(EMPTY_TEXT, parent)
