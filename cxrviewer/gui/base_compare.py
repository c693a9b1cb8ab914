"""The base image under the layers and the ways to compare it: original or bone-suppressed soft
tissue (key B), flicker between the two, and the side-by-side window.

Separate from the layer controller because none of it touches a map: it switches what the canvas
draws beneath them, and owns the flicker timer and the compare window (a top-level window the main
window closes with itself).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer

from cxrviewer.core.layers import LayerStack
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.overlays import OverlayItems

FLICKER_MS = 600
NO_SOFT_TISSUE_TEXT = ("bone-suppressed base chosen; this study has no soft-tissue view yet "
                       "(it needs an installed bone-suppression model)")


class BaseCompare(QObject):
    def __init__(self, canvas: Canvas, stack: LayerStack, overlays: OverlayItems, message: Callable[[str], None],
                 parent: QObject | None = None):
        """message: tells the reader something (the status bar)."""
        super().__init__(parent)
        self.canvas, self.stack, self.overlays, self.message = canvas, stack, overlays, message
        self.compare_window = None
        self._flicker = QTimer(self)
        self._flicker.setInterval(FLICKER_MS)
        self._flicker.timeout.connect(lambda: canvas.show_soft_tissue(not canvas.showing_soft_tissue))

    def show_chosen_base(self) -> None:
        self.canvas.show_soft_tissue(self.stack.base == "soft_tissue")

    def toggle_base(self) -> None:
        """Key B: original ↔ bone-suppressed soft tissue."""
        self.stack.base = "original" if self.stack.base == "soft_tissue" else "soft_tissue"
        if self.stack.base == "soft_tissue" and not self.canvas.has_soft_tissue:
            self.message(NO_SOFT_TISSUE_TEXT)

    def flicker(self, on: bool) -> None:
        """Alternate original and soft tissue on the canvas; stopping returns to the chosen base."""
        if on:
            self._flicker.start()
        else:
            self._flicker.stop()
            self.show_chosen_base()

    def open_side_by_side(self) -> None:
        from cxrviewer.gui.compare_view import CompareView

        if self.compare_window is None:
            self.compare_window = CompareView(self.canvas, self.overlays)
        self.compare_window.show()
        self.compare_window.refresh()
        self.compare_window.raise_()

    def refresh(self) -> None:
        """The canvas's soft tissue or study changed (no view_changed says so): the compare follows."""
        if self.compare_window is not None:
            self.compare_window.refresh()

    def shutdown(self) -> None:
        self._flicker.stop()
