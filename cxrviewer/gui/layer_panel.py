"""The layer panel: small controls bound to a `core.layers.LayerStack`.

Each control writes its change into the stack (which validates it); the stack's change event
refreshes the controls with their signals blocked, so nothing loops (napari's layer controls work
the same way). A map layer not on a probability scale also has its "Scale": per image, or fixed
across studies on a [low, high] the reader sees and edits, kept from study to study. The panel also
holds the base image switch (original / bone-suppressed, key B), the
compare buttons, and the class the explanation maps explain. Each map layer's tooltip says whether
that method localises for the class it explains now (`gui.map_trust`, measured on held-out boxes).
"Inside the lungs only" asks for the explanation maps times the study's lung probability; the
opacity and show tooltips of the explanation maps state how strongly each is drawn (`STRENGTH_RULE`).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
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
from cxrviewer.core.display.compose import IndexedMap, Normalisation, Threshold
from cxrviewer.core.layers import KINDS, MAP_KINDS, SCALED_KINDS, STRENGTH_RULE, ClassSelector, LayerStack
from cxrviewer.gui.colour_bar import ColourBar
from cxrviewer.gui.map_trust import MapTrust
from cxrviewer.gui.wheel_guard import guard_wheel

SLIDER_STEPS = 1000
THRESHOLD_MODES = (("fraction", "% of max"), ("percentile", "percentile"), ("value", "value"), ("none", "none"))
NO_CLASS_TEXT = "no classifier finding yet"
INSIDE_LUNGS_TEXT = "Inside the lungs only"
INSIDE_LUNGS_TIP = ("Multiply the explanation maps by the lung probability the lung model gave for this "
                    "study, so nothing is coloured outside the lungs (the lungs' own outline layer shows "
                    "where that is). Remembered from session to session.")
NO_LUNG_MODEL_TIP = ("No lung segmentation model is installed, so the maps cannot be kept inside the lungs "
                     "(install one, such as lungs-unet, in the models folder).")
SCALE_MODES = (("per_image", "per image"), ("fixed", "fixed across studies"))
SCALE_TIP = ("Per image: each study's map spans the whole colour map, so colours are not comparable "
             "across studies.\nFixed across studies: one value range for every study of this session, "
             "starting from the maps shown so far (choose it again to cover the studies seen since); "
             "equal colours mean equal values, and a map beyond the range is clipped.")


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
        self.colormap = _combo()
        self.colormap.addItems(COLORMAPS)
        self.mode = _combo()
        for mode, text in THRESHOLD_MODES:
            self.mode.addItem(text, mode)
        self.threshold = _slider()
        self.threshold_label = QLabel()
        self.contour = QCheckBox("contour")
        self.scale = _combo()
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


class LayerPanel(QWidget):
    """Controls for every layer of `stack`, the base switch, compare, and the explained class."""

    class_chosen = Signal(object)  # ClassSelector picked in the panel
    fixed_scale_requested = Signal(str)  # layer kind whose reader chose "fixed across studies"
    side_by_side_requested = Signal()
    layers_shown_toggled = Signal(bool)  # the reader's "all layers" switch
    layer_ticked = Signal(str, bool)  # the reader ticked (True) or unticked a layer's "show"
    inside_lungs_toggled = Signal(bool)  # the reader's "Inside the lungs only"
    flicker_toggled = Signal(bool)
    save_default_requested = Signal()
    reset_requested = Signal()

    def __init__(self, stack: LayerStack | None = None, parent=None, trust: MapTrust | None = None):
        super().__init__(parent)
        self.stack = stack if stack is not None else LayerStack()
        self.trust = trust if trust is not None else MapTrust()
        self.layers_shown = QCheckBox("Layers shown (O)")
        self.layers_shown.setChecked(True)
        self.layers_shown.setToolTip("Hide or show every layer at once; each layer keeps its own settings")
        self.soft_tissue = QCheckBox("Bone-suppressed base (B)")
        self.side_by_side = QPushButton("Side by side")
        self.flicker = QPushButton("Flicker")
        self.flicker.setCheckable(True)
        self.classes = _combo()
        self.classes.addItem(NO_CLASS_TEXT, None)
        self.inside_lungs = QCheckBox(INSIDE_LUNGS_TEXT)
        self.set_inside_lungs_available(False)
        self.controls = {kind: LayerControls(self.stack, kind) for kind in KINDS}
        for kind, controls in self.controls.items():
            controls.fixed_requested.connect(self.fixed_scale_requested)
            # After the control's own binding, so the stack has the change when this is heard.
            controls.visible.toggled.connect(lambda on, kind=kind: self.layer_ticked.emit(kind, on))
        for kind in MAP_KINDS:  # how strongly an explanation map is drawn, where its strength is set
            self.controls[kind].opacity.setToolTip(STRENGTH_RULE)
            self.controls[kind].visible.setToolTip(STRENGTH_RULE)
        content = QWidget()
        column = QVBoxLayout(content)
        column.addWidget(self.layers_shown)
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
        column.addWidget(self.inside_lungs)
        for kind in KINDS:
            column.addWidget(self.controls[kind])
        self.save_default = QPushButton("Save as my default")
        self.reset = QPushButton("Factory settings")
        default_row = QHBoxLayout()
        default_row.addWidget(self.save_default)
        default_row.addWidget(self.reset)
        column.addLayout(default_row)
        column.addStretch(1)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        # A dock narrower than the controls scrolls rather than clipping them out of reach.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._unsubscribe = self.stack.subscribe(self._on_stack_changed)
        self.soft_tissue.toggled.connect(lambda on: setattr(self.stack, "base", "soft_tissue" if on else "original"))
        self.side_by_side.clicked.connect(self.side_by_side_requested)
        self.layers_shown.toggled.connect(self.layers_shown_toggled)
        self.inside_lungs.toggled.connect(self.inside_lungs_toggled)
        self.flicker.toggled.connect(self.flicker_toggled)
        self.save_default.clicked.connect(self.save_default_requested)
        self.reset.clicked.connect(self.reset_requested)
        self.classes.currentIndexChanged.connect(self._on_class_picked)
        self._refresh_base()
        for kind in MAP_KINDS:
            self._refresh_trust(kind)
        guard_wheel(self)  # the wheel scrolls the panel; it changes a control only once clicked into

    def width_to_fit(self) -> int:
        """The width at which every control shows without scrolling sideways (pixels)."""
        scroll = self.scroll
        return (scroll.widget().minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width()
                + 2 * scroll.frameWidth())

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

    def _refresh_trust(self, kind: str) -> None:
        """Map layer `kind`'s tooltip: does it localise, for the class it explains now."""
        self.controls[kind].setToolTip(self.trust.tooltip(kind, self.stack[kind].selector))

    def show_inside_lungs(self, on: bool) -> None:
        """Show "Inside the lungs only" as set elsewhere (the reader's saved choice), without signalling it."""
        with QSignalBlocker(self.inside_lungs):
            self.inside_lungs.setChecked(on)

    def set_inside_lungs_available(self, available: bool) -> None:
        """Enabled only with a lung model to take the lungs from; the tooltip says why not."""
        self.inside_lungs.setEnabled(available)
        self.inside_lungs.setToolTip(INSIDE_LUNGS_TIP if available else NO_LUNG_MODEL_TIP)

    def show_layers_shown(self, on: bool) -> None:
        """Show the "all layers" switch as set elsewhere (key O), without signalling it back."""
        self.layers_shown.blockSignals(True)
        self.layers_shown.setChecked(on)
        self.layers_shown.blockSignals(False)

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
            for map_kind in (MAP_KINDS if what == "all" else (kind,) if kind in MAP_KINDS else ()):
                self._refresh_trust(map_kind)

    def shutdown(self) -> None:
        self._unsubscribe()

