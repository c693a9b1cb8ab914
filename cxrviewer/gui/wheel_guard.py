"""The mouse wheel scrolls the panel; it changes a slider, spin box or list only once the reader has
clicked into it (issue 20: scrolling down the layer panel changed thresholds under the cursor)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QScrollBar,
    QWidget,
)

GUARDED = (QAbstractSlider, QAbstractSpinBox, QComboBox)


class WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = watched.parentWidget()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:  # the wheel scrolls what the control sits in
            QApplication.sendEvent(area.verticalScrollBar(), event)
        return True


def guard_wheel(root: QWidget) -> WheelGuard:
    """Guard every slider, spin box and list under `root` (call again after adding controls)."""
    guard = root.findChild(WheelGuard) or WheelGuard(root)
    for widget in root.findChildren(QWidget):
        if isinstance(widget, GUARDED) and not isinstance(widget, QScrollBar) and not widget.property("wheel_guarded"):
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # a wheel turn never gives it focus
            widget.installEventFilter(guard)
            widget.setProperty("wheel_guarded", True)
    return guard
