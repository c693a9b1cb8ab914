"""The layer panel: where explanation layers (bone suppression, saliency, Grad-CAM, CAM, CRM) will be
listed with their threshold, opacity and colour map. Models arrive in a later issue; until then it
says so instead of showing controls that do nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

EMPTY_TEXT = "No model layers yet.\nExplanation layers appear here once models are available."


class LayerPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.empty_label = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty_label.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
