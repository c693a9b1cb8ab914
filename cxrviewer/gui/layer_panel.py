"""The layer panel: the controls for the whole `core.layers.LayerStack`, and a row of controls per
layer (`gui.layer_controls.LayerControls`).

The panel holds the "all layers" switch, the base image switch (original / bone-suppressed, key B),
the compare buttons, the class the explanation maps explain, "Inside the lungs only", and the
reader's default; each layer's row binds that layer (see `gui.layer_controls`). Each map layer's
tooltip says whether that method localises for the class it explains now (`gui.map_trust`, measured
on held-out boxes), for the maps as drawn: whole, or kept inside the lungs. "Inside the lungs only"
asks for the explanation maps times the study's lung probability; the opacity and show tooltips of
the explanation maps state how strongly each is drawn (`STRENGTH_RULE`).
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from cxrviewer.core.display.compose import IndexedMap
from cxrviewer.core.layers import KINDS, MAP_KINDS, STRENGTH_RULE, ClassSelector, LayerStack
from cxrviewer.gui.layer_controls import LayerControls, narrow_combo
from cxrviewer.gui.map_trust import MapTrust
from cxrviewer.gui.wheel_guard import guard_wheel

NO_CLASS_TEXT = "no classifier finding yet"
INSIDE_LUNGS_TEXT = "Inside the lungs only"
INSIDE_LUNGS_TIP = ("Multiply the explanation maps by the lung probability the lung model gave for this "
                    "study, so nothing is coloured outside the lungs (the lungs' own outline layer shows "
                    "where that is). Remembered from session to session.")
NO_LUNG_MODEL_TIP = ("No lung segmentation model is installed, so the maps cannot be kept inside the lungs "
                     "(install one, such as lungs-unet, in the models folder).")


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
        self.maps_inside_lungs: str | None = None  # the lung model keeping the maps inside the lungs now
        self.layers_shown = QCheckBox("Layers shown (O)")
        self.layers_shown.setChecked(True)
        self.layers_shown.setToolTip("Hide or show every layer at once; each layer keeps its own settings")
        self.soft_tissue = QCheckBox("Bone-suppressed base (B)")
        self.side_by_side = QPushButton("Side by side")
        self.flicker = QPushButton("Flicker")
        self.flicker.setCheckable(True)
        self.classes = narrow_combo()
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
        self.controls[kind].setToolTip(self.trust.tooltip(kind, self.stack[kind].selector, self.maps_inside_lungs))

    def show_maps_inside_lungs(self, lungs_model: str | None) -> None:
        """The maps are drawn kept inside the lungs by `lungs_model` (None: whole): the map tooltips give
        the figures measured for the maps drawn that way."""
        if lungs_model == self.maps_inside_lungs:
            return
        self.maps_inside_lungs = lungs_model
        for kind in MAP_KINDS:
            self._refresh_trust(kind)

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

