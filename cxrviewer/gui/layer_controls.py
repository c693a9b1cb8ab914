"""One layer's row of controls in the layer panel (`LayerControls`): show, opacity, colour map,
threshold, contour, scale and its colour bar, bound to one layer of a `core.layers.LayerStack`.

Separate from the panel (`gui.layer_panel`), which lays out a row per layer beside the controls for
the whole stack: a row knows one layer only, writes each change into the stack (which validates it)
and refreshes itself from the stack with its signals blocked, so nothing loops (napari's layer
controls work the same way). A map layer not on a probability scale also has its "Scale": per
image, or fixed across studies on a [low, high] the reader sees and edits.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
)

from cxrviewer.core.display.colormaps import COLORMAPS
from cxrviewer.core.display.compose import IndexedMap, Normalisation, Threshold
from cxrviewer.core.layers import SCALED_KINDS, LayerStack
from cxrviewer.gui.colour_bar import ColourBar

SLIDER_STEPS = 1000
THRESHOLD_MODES = (("fraction", "% of max"), ("percentile", "percentile"), ("value", "value"), ("none", "none"))
SCALE_MODES = (("per_image", "per image"), ("fixed", "fixed across studies"))
SCALE_TIP = ("Per image: each study's map spans the whole colour map, so colours are not comparable "
             "across studies.\nFixed across studies: one value range for every study of this session, "
             "starting from the maps shown so far (choose it again to cover the studies seen since); "
             "equal colours mean equal values, and a map beyond the range is clipped.")


def narrow_combo() -> QComboBox:
    """A combo box narrow enough for a dock beside the image; the open list shows the full names."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(7)
    return combo


def _slider() -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, SLIDER_STEPS)
    return slider


def _bound() -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(-1e12, 1e12)
    box.setKeyboardTracking(False)  # one change when the typing is done, not one per digit
    box.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
    # Room for about eight digits, the rest of the row for the scale's name.
    box.setMaximumWidth(box.fontMetrics().horizontalAdvance("-0.0000000") + 12)
    return box


def _set_bound(box: QDoubleSpinBox, value: float, span: float) -> None:
    """Show `value` with four significant digits of `span` (maps range from 1e-4 to 1e3)."""
    decimals = min(max(3 - math.floor(math.log10(span)), 2), 10) if span > 0 else 2
    box.setDecimals(decimals)
    box.setSingleStep(10.0 ** -(decimals - 2))
    box.setValue(value)


class LayerControls(QGroupBox):
    """One layer's controls: visible, opacity, colour map, threshold mode and value, contour, the
    scale (`SCALED_KINDS` only), and its colour bar. `value_range` is the raw range a "value"
    threshold slider spans (the map's own). `fixed_requested(kind)`: the reader chose a fixed scale,
    whose starting range the controller knows."""

    fixed_requested = Signal(str)

    def __init__(self, stack: LayerStack, kind: str, parent=None):
        super().__init__(stack[kind].name, parent)
        self.stack, self.kind = stack, kind
        self.value_range = (stack[kind].normalisation.low, stack[kind].normalisation.high)
        self.indexed: IndexedMap | None = None
        self._map_status = ""
        self.visible = QCheckBox("show")
        self.opacity = _slider()
        self.colormap = narrow_combo()
        self.colormap.addItems(COLORMAPS)
        self.mode = narrow_combo()
        for mode, text in THRESHOLD_MODES:
            self.mode.addItem(text, mode)
        self.threshold = _slider()
        self.threshold_label = QLabel()
        self.contour = QCheckBox("contour")
        self.scale = narrow_combo()
        for mode, text in SCALE_MODES:
            self.scale.addItem(text, mode)
        self.scale.setToolTip(SCALE_TIP)
        self.low, self.high = _bound(), _bound()
        self.low.setToolTip("the value shown in the colour map's lowest colour")
        self.high.setToolTip("the value shown in the colour map's highest colour; higher values are clipped")
        self.colour_bar = ColourBar()
        self.status = QLabel()
        self.status.setEnabled(False)
        form = QFormLayout(self)
        form.setContentsMargins(6, 2, 6, 2)
        top = QHBoxLayout()
        top.addWidget(self.visible)
        top.addWidget(self.colormap)
        top.addWidget(self.contour)
        form.addRow(top)
        form.addRow("opacity", self.opacity)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.mode)
        threshold_row.addWidget(self.threshold_label)
        form.addRow("threshold", threshold_row)
        form.addRow(self.threshold)
        if kind in SCALED_KINDS:
            # The choice and its range on two rows: on one they made the panel wider than its dock.
            form.addRow("scale", self.scale)
            range_row = QHBoxLayout()
            range_row.addWidget(self.low)
            range_row.addWidget(QLabel("to"))
            range_row.addWidget(self.high)
            range_row.addStretch(1)
            form.addRow(range_row)
        form.addRow(self.colour_bar)
        form.addRow(self.status)
        self.refresh()
        self.visible.toggled.connect(lambda on: self.stack.update(kind, visible=on))
        self.opacity.valueChanged.connect(lambda v: self.stack.update(kind, opacity=v / SLIDER_STEPS))
        self.colormap.currentTextChanged.connect(lambda name: self.stack.update(kind, colormap=name))
        self.contour.toggled.connect(lambda on: self.stack.update(kind, contour=on))
        self.mode.currentIndexChanged.connect(self._on_mode)
        self.threshold.valueChanged.connect(self._on_threshold_slider)
        self.scale.currentIndexChanged.connect(self._on_scale)
        self.low.valueChanged.connect(lambda value: self._set_range(value, self.stack[kind].normalisation.high))
        self.high.valueChanged.connect(lambda value: self._set_range(self.stack[kind].normalisation.low, value))

    # -- slider position <-> threshold value ------------------------------------------------------
    def _threshold_at(self, mode: str, position: int) -> Threshold:
        t = position / SLIDER_STEPS
        if mode == "fraction":
            return Threshold(mode, t)
        if mode == "percentile":
            return Threshold(mode, 100.0 * t)
        if mode == "value":
            low, high = self.value_range
            return Threshold(mode, low + t * (high - low))
        return Threshold("none", 0.0)

    def _position_of(self, threshold: Threshold) -> int:
        if threshold.mode == "fraction":
            t = threshold.value
        elif threshold.mode == "percentile":
            t = threshold.value / 100.0
        elif threshold.mode == "value":
            low, high = self.value_range
            t = (threshold.value - low) / (high - low) if high > low else 0.0
        else:
            t = 0.0
        return round(min(max(t, 0.0), 1.0) * SLIDER_STEPS)

    def _on_mode(self) -> None:
        mode = self.mode.currentData()
        self.stack.update(self.kind, threshold=self._threshold_at(mode, self.threshold.value()))

    def _on_threshold_slider(self, position: int) -> None:
        self.stack.update(self.kind, threshold=self._threshold_at(self.mode.currentData(), position))

    # -- scale -----------------------------------------------------------------------------------
    def _on_scale(self) -> None:
        if self.scale.currentData() == "fixed":
            self.fixed_requested.emit(self.kind)
        else:
            self.stack.update(self.kind, normalisation=Normalisation())
        self.refresh()  # shows the scale in force, whoever set it

    def _set_range(self, low: float, high: float) -> None:
        """A bound edited: the other one is the state's own, not its rounded spin-box copy."""
        try:
            self.stack.update(self.kind, normalisation=Normalisation("fixed", low, high))
        except ValueError as error:
            self._show_status(str(error))
            self.refresh()
        else:
            self._show_status(self._map_status)

    # -- model -> widgets -------------------------------------------------------------------------
    def set_map(self, indexed: IndexedMap | None, status: str = "") -> None:
        """The map this layer draws now (its range scales the "value" slider), and a status line."""
        self.indexed = indexed
        if indexed is not None:
            self.value_range = (indexed.low, indexed.high)
        self._map_status = status
        self._show_status(status)
        self.refresh()

    def _show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def refresh(self) -> None:
        state = self.stack[self.kind]
        style = state.style
        widgets = (self.visible, self.opacity, self.colormap, self.mode, self.threshold, self.contour,
                   self.scale, self.low, self.high)
        for widget in widgets:
            widget.blockSignals(True)
        self.visible.setChecked(state.visible)
        self.opacity.setValue(round(style.opacity * SLIDER_STEPS))
        self.colormap.setCurrentText(style.colormap)
        self.mode.setCurrentIndex(self.mode.findData(style.threshold.mode))
        self.threshold.setValue(self._position_of(style.threshold))
        self.threshold.setEnabled(style.threshold.mode != "none")
        self.contour.setChecked(style.contour)
        self._show_scale(state.normalisation)
        for widget in widgets:
            widget.blockSignals(False)
        self.threshold_label.setText(_threshold_text(style.threshold))
        self.colour_bar.show_scale(state, self.indexed)

    def _show_scale(self, normalisation: Normalisation) -> None:
        """The scale choice, and its range: the fixed one (editable), or this map's own (greyed)."""
        fixed = normalisation.mode == "fixed"
        self.scale.setCurrentIndex(self.scale.findData(normalisation.mode))
        if fixed:
            low, high = normalisation.low, normalisation.high
        else:
            low, high = (self.indexed.low, self.indexed.high) if self.indexed is not None else (0.0, 1.0)
        for box, value in ((self.low, low), (self.high, high)):
            _set_bound(box, value, high - low)
            box.setEnabled(fixed)


def _threshold_text(threshold: Threshold) -> str:
    if threshold.mode == "fraction":
        return f"{threshold.value * 100:.0f} %"
    if threshold.mode == "percentile":
        return f"P{threshold.value:.1f}"
    if threshold.mode == "value":
        return f"{threshold.value:.3g}"
    return ""
