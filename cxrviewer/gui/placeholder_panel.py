"""A dock's content before its feature exists: one greyed sentence that says what will appear there,
instead of controls that do nothing or made-up content."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class PlaceholderPanel(QWidget):
    def __init__(self, text: str, parent=None):
        super().__init__(parent)
        self.empty_label = QLabel(text, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty_label.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty_label)
