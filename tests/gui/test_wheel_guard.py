"""Issue 20: the mouse wheel over the layer panel scrolls it and changes no threshold, unless the
reader has clicked into the control."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from cxrviewer.gui.layer_panel import LayerPanel


def wheel(widget, steps: int = -3) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, widget.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * steps),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_panel_and_leaves_thresholds_alone(qtbot):
    panel = LayerPanel()
    qtbot.addWidget(panel)
    panel.resize(300, 300)  # shorter than its controls: it scrolls
    panel.show()
    qtbot.waitExposed(panel)
    slider = panel.controls["gradcam"].threshold
    combo = panel.classes
    before, style = slider.value(), panel.stack["gradcam"].style
    bar = panel.scroll.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == 0
    wheel(slider)
    wheel(combo)
    assert slider.value() == before and panel.stack["gradcam"].style == style
    assert bar.value() > 0  # the wheel went to the panel instead
    slider.setFocus()  # clicked into: now the wheel is the reader's way to move it
    qtbot.waitUntil(slider.hasFocus)
    wheel(slider)
    assert slider.value() != before
