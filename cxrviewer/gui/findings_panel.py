"""The findings area: where a model's findings for the current study will be listed. Models arrive in
a later issue; until then it says so instead of showing made-up content."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

EMPTY_TEXT = "No findings yet.\nModel findings for the current study appear here once models are available."


class FindingsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.empty_label = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty_label.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
