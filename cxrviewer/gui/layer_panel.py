"""The layer panel: small controls bound to a `core.layers.LayerStack`.

Each control writes its change into the stack (which validates it); the stack's change event
refreshes the controls with their signals blocked, so nothing loops (napari's layer controls work
the same way). The panel also holds the base image switch (original / bone-suppressed, key B), the
compare buttons, and the class the explanation maps explain.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from cxrviewer.core.display.colormaps import COLORMAPS
from cxrviewer.core.display.compose import IndexedMap, Threshold
from cxrviewer.core.layers import KINDS, ClassSelector, LayerStack
from cxrviewer.gui.colour_bar import ColourBar

SLIDER_STEPS = 1000
THRESHOLD_MODES = (("fraction", "% of max"), ("percentile", "percentile"), ("value", "value"), ("none", "none"))
NO_CLASS_TEXT = "no classifier finding yet"


def _combo() -> QComboBox:
    combo = QComboBox()
    # Narrow enough for a dock beside the image; the open list shows the full names.
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(7)
    return combo


def _slider() -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, SLIDER_STEPS)
    return slider


class LayerControls(QGroupBox):
    """One layer's controls: visible, opacity, colour map, threshold mode and value, contour, and its
    colour bar. `value_range` is the raw range a "value" threshold slider spans (the map's scale)."""

    def __init__(self, stack: LayerStack, kind: str, parent=None):
        super().__init__(stack[kind].name, parent)
        self.stack, self.kind = stack, kind
        self.value_range = (stack[kind].normalisation.low, stack[kind].normalisation.high)
        self.indexed: IndexedMap | None = None
        self.visible = QCheckBox("show")
        self.opacity = _slider()
        self.colormap = _combo()
        self.colormap.addItems(COLORMAPS)
        self.mode = _combo()
        for mode, text in THRESHOLD_MODES:
            self.mode.addItem(text, mode)
        self.threshold = _slider()
        self.threshold_label = QLabel()
        self.contour = QCheckBox("contour")
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
        form.addRow(self.colour_bar)
        form.addRow(self.status)
        self.refresh()
        self.visible.toggled.connect(lambda on: self.stack.update(kind, visible=on))
        self.opacity.valueChanged.connect(lambda v: self.stack.update(kind, opacity=v / SLIDER_STEPS))
        self.colormap.currentTextChanged.connect(lambda name: self.stack.update(kind, colormap=name))
        self.contour.toggled.connect(lambda on: self.stack.update(kind, contour=on))
        self.mode.currentIndexChanged.connect(self._on_mode)
        self.threshold.valueChanged.connect(self._on_threshold_slider)

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

    # -- model -> widgets -------------------------------------------------------------------------
    def set_map(self, indexed: IndexedMap | None, status: str = "") -> None:
        """The map this layer draws now (its range scales the "value" slider), and a status line."""
        self.indexed = indexed
        if indexed is not None:
            self.value_range = (indexed.low, indexed.high)
        self.status.setText(status)
        self.status.setVisible(bool(status))
        self.refresh()

    def refresh(self) -> None:
        state = self.stack[self.kind]
        style = state.style
        widgets = (self.visible, self.opacity, self.colormap, self.mode, self.threshold, self.contour)
        for widget in widgets:
            widget.blockSignals(True)
        self.visible.setChecked(state.visible)
        self.opacity.setValue(round(style.opacity * SLIDER_STEPS))
        self.colormap.setCurrentText(style.colormap)
        self.mode.setCurrentIndex(self.mode.findData(style.threshold.mode))
        self.threshold.setValue(self._position_of(style.threshold))
        self.threshold.setEnabled(style.threshold.mode != "none")
        self.contour.setChecked(style.contour)
        for widget in widgets:
            widget.blockSignals(False)
        self.threshold_label.setText(_threshold_text(style.threshold))
        self.colour_bar.show_scale(state, self.indexed)


def _threshold_text(threshold: Threshold) -> str:
    if threshold.mode == "fraction":
        return f"{threshold.value * 100:.0f} %"
    if threshold.mode == "percentile":
        return f"P{threshold.value:.1f}"
    if threshold.mode == "value":
        return f"{threshold.value:.3g}"
    return ""


class LayerPanel(QWidget):
    """Controls for every layer of `stack`, the base switch, compare, and the explained class."""

    class_chosen = Signal(object)  # ClassSelector picked in the panel
    side_by_side_requested = Signal()
    flicker_toggled = Signal(bool)
    save_default_requested = Signal()
    reset_requested = Signal()

    def __init__(self, stack: LayerStack | None = None, parent=None):
        super().__init__(parent)
        self.stack = stack if stack is not None else LayerStack()
        self.soft_tissue = QCheckBox("Bone-suppressed base (B)")
        self.side_by_side = QPushButton("Side by side")
        self.flicker = QPushButton("Flicker")
        self.flicker.setCheckable(True)
        self.classes = _combo()
        self.classes.addItem(NO_CLASS_TEXT, None)
        self.controls = {kind: LayerControls(self.stack, kind) for kind in KINDS}
        content = QWidget()
        column = QVBoxLayout(content)
        column.addWidget(self.soft_tissue)
        compare_row = QHBoxLayout()
        compare_row.addWidget(QLabel("Compare"))
        compare_row.addWidget(self.side_by_side)
        compare_row.addWidget(self.flicker)
        column.addLayout(compare_row)
        class_row = QHBoxLayout()
        class_row.addWidget(QLabel("Maps explain"))
        class_row.addWidget(self.classes, 1)
        column.addLayout(class_row)
        for kind in KINDS:
            column.addWidget(self.controls[kind])
        self.save_default = QPushButton("Save as my default")
        self.reset = QPushButton("Factory settings")
        default_row = QHBoxLayout()
        default_row.addWidget(self.save_default)
        default_row.addWidget(self.reset)
        column.addLayout(default_row)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._unsubscribe = self.stack.subscribe(self._on_stack_changed)
        self.soft_tissue.toggled.connect(lambda on: setattr(self.stack, "base", "soft_tissue" if on else "original"))
        self.side_by_side.clicked.connect(self.side_by_side_requested)
        self.flicker.toggled.connect(self.flicker_toggled)
        self.save_default.clicked.connect(self.save_default_requested)
        self.reset.clicked.connect(self.reset_requested)
        self.classes.currentIndexChanged.connect(self._on_class_picked)
        self._refresh_base()

    def set_classes(self, choices: list[ClassSelector]) -> None:
        """The (model, class) pairs the maps can explain, listed in the class selector."""
        self.classes.blockSignals(True)
        self.classes.clear()
        for choice in choices:
            self.classes.addItem(choice.describe(), choice)
        if not choices:
            self.classes.addItem(NO_CLASS_TEXT, None)
        self.classes.blockSignals(False)
        self._show_selected_class()

    def set_map(self, kind: str, indexed: IndexedMap | None, status: str = "") -> None:
        self.controls[kind].set_map(indexed, status)

    def _on_class_picked(self, row: int) -> None:
        choice = self.classes.itemData(row)
        if choice is not None:
            self.class_chosen.emit(choice)

    def _show_selected_class(self) -> None:
        selected = self.stack.selector
        self.classes.blockSignals(True)
        for row in range(self.classes.count()):
            choice = self.classes.itemData(row)
            if choice is not None and selected is not None and (choice.model, choice.class_index) == (
                    selected.model, selected.class_index):
                self.classes.setCurrentIndex(row)
        self.classes.blockSignals(False)

    def _refresh_base(self) -> None:
        self.soft_tissue.blockSignals(True)
        self.soft_tissue.setChecked(self.stack.base == "soft_tissue")
        self.soft_tissue.blockSignals(False)

    def _on_stack_changed(self, kind: str, what: str) -> None:
        if what in ("base", "all"):
            self._refresh_base()
        if what == "all":
            for controls in self.controls.values():
                controls.refresh()
        elif kind:
            self.controls[kind].refresh()
        if what in ("class", "all"):
            self._show_selected_class()

    def shutdown(self) -> None:
        self._unsubscribe()

