"""Draws `core.film_text` on the canvas: four corner blocks, the orientation letters at the middle of
each edge and the badges, as labels over the viewport (they stay put while the film is zoomed or
panned). Light text on a translucent dark backing so it reads on a white mediastinum as on air."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from cxrviewer.core.film_text import FilmText

STYLE = "color: #e8e8e8; background: rgba(0, 0, 0, 120); padding: 2px 4px; font-size: 11px;"
BADGE_STYLE = "color: #ffd24d; background: rgba(0, 0, 0, 160); padding: 2px 4px; font-weight: bold;"
LETTER_STYLE = "color: #ffffff; background: rgba(0, 0, 0, 120); padding: 1px 4px; font-size: 15px; font-weight: bold;"
CAPTION_STYLE = "color: #ffffff; background: rgba(20, 60, 120, 190); padding: 2px 6px; font-size: 12px;"
MARGIN = 6
CAPTION_TOP = 30  # px: below the top edge's letter


class FilmTextOverlay:
    def __init__(self, viewport: QWidget):
        self.viewport = viewport
        corners = ("top_left", "top_right", "bottom_left", "bottom_right")
        self.labels = {name: self._label(BADGE_STYLE if name == "bottom_right" else STYLE) for name in corners}
        self.letters = {edge: self._label(LETTER_STYLE) for edge in ("left", "right", "top", "bottom")}
        self.caption = self._label(CAPTION_STYLE)  # what the maps on the film explain
        self.text = FilmText()
        self.enabled = True  # the reader can hide all of it (key A) to see the film's corners

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.show(self.text)

    def toggle(self) -> None:
        self.set_enabled(not self.enabled)

    def _label(self, style: str) -> QLabel:
        label = QLabel(self.viewport)
        label.setStyleSheet(style)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.hide()
        return label

    def show(self, text: FilmText) -> None:
        self.text = text
        for name, label in self.labels.items():
            lines = getattr(text, name)
            label.setText("\n".join(lines))
            label.setVisible(self.enabled and bool(lines))
            label.adjustSize()
        for edge, label in self.letters.items():
            letter = (text.edges or {}).get(edge, "")
            label.setText(letter)
            label.setVisible(self.enabled and bool(letter))
            label.adjustSize()
        self.caption.setVisible(self.enabled and bool(self.caption.text()))
        self.place()

    def set_caption(self, text: str) -> None:
        self.caption.setText(text)
        self.caption.setVisible(self.enabled and bool(text))
        self.caption.adjustSize()
        self.place()

    def clear(self) -> None:
        self.show(FilmText())

    def place(self) -> None:
        """Put each label at its corner or edge of the viewport (after a resize too)."""
        width, height = self.viewport.width(), self.viewport.height()
        for name, label in self.labels.items():
            x = MARGIN if name.endswith("left") else width - label.width() - MARGIN
            y = MARGIN if name.startswith("top") else height - label.height() - MARGIN
            label.move(x, y)
        self.caption.move((width - self.caption.width()) // 2, CAPTION_TOP)
        for edge, label in self.letters.items():
            x = {"left": MARGIN, "right": width - label.width() - MARGIN}.get(edge, (width - label.width()) // 2)
            y = {"top": MARGIN, "bottom": height - label.height() - MARGIN}.get(edge, (height - label.height()) // 2)
            label.move(x, y)
