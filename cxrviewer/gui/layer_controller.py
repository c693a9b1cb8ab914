"""Where the layers meet the study: analysis results in, the canvas items and panel out.

One per window. It owns the window's `LayerStack` (so the reader's layer choices persist from study
to study while the viewer runs), the shown study's data (`gui.shown_study`), and the parts it
composes. Analysis results arrive through the analysis service's
`result_ready(study, kind, key, payload)`; a result for another study is ignored. A map is indexed
(the only per-pixel work) when it arrives for a visible layer, or when its layer is first shown, or
when a probability layer's normalisation changes; every other change, a map layer's scale included,
goes to the overlay's 256-entry table. For "fixed across studies" it keeps the extremes of every map
it has shown this session, per layer and class (`gui.session_scales`), and starts the fixed scale at
`Normalisation.across` of them; the scale then stays, study after study.

Issue 20, item 7: the explanation maps are drawn at their opacity weighed by their class's
probability (`core.layers.map_strength`), times the lung probability when the reader keeps them
inside the lungs (`gui.lung_masking`); the film carries a caption and a colour legend
(`gui.layer_captions`) of what is drawn; and one heat map is shown by default
(`analysis.map_choice.default_heat_layer`) until the reader ticks others, whose choices are kept
(`gui.layer_choices`, with the reader's saved default). The base image and the compare views are
`gui.base_compare`'s.
"""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, QSettings, Signal

from cxrviewer.analysis.map_caption import class_probability, lesion_source
from cxrviewer.analysis.map_choice import default_heat_layer, usable_lesion_layers
from cxrviewer.core.display.compose import IndexedMap, Normalisation, index_map
from cxrviewer.core.display.soft_tissue_base import soft_tissue_base
from cxrviewer.core.layers import (
    KINDS,
    LESION_KINDS,
    MAP_KINDS,
    ClassSelector,
    index_normalisation,
    map_strength,
)
from cxrviewer.core.legend import LayerLegend
from cxrviewer.gui.base_compare import BaseCompare
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.explained_class import ExplainedClass
from cxrviewer.gui.layer_captions import LayerCaptions
from cxrviewer.gui.layer_choices import LayerChoices
from cxrviewer.gui.layer_panel import LayerPanel
from cxrviewer.gui.lung_masking import LUNGS_FAILED_TEXT, WAITING_LUNGS_TEXT, LungMasking
from cxrviewer.gui.overlays import OverlayItems
from cxrviewer.gui.session import LoadedStudy
from cxrviewer.gui.session_scales import SessionScales
from cxrviewer.gui.shown_study import ShownStudy

log = logging.getLogger(__name__)

WAITING_TEXT = "not computed yet for this study"
LAYERS_HIDDEN_TEXT = "all layers hidden (O shows them again)"
WITHHELD_TEXT = "withheld with the findings (the gate did not accept this image)"
# The analysis service's result kinds and the layers each one feeds.
LAYERS_OF_RESULT = {"maps": MAP_KINDS, "lesions": LESION_KINDS, "lungs": ("lung_outline",),
                    "soft_tissue": ("bones",)}


class LayerController(QObject):
    message = Signal(str)  # something the reader should know, for the status bar

    def __init__(self, canvas: Canvas, panel: LayerPanel, settings: QSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.canvas, self.panel, self.settings = canvas, panel, settings
        self.stack = panel.stack
        self.overlays = OverlayItems(canvas)
        self.service = None
        self.shown = ShownStudy()
        self._lesion_layer: dict[str, str] = {}  # lesion model → its layer kind (its channel), once seen
        self.base = BaseCompare(canvas, self.stack, self.overlays, self.message.emit, parent=self)
        self._findings_shown = lambda: True  # the window's findings panel says (the gate)
        self._card_of = lambda model: None  # an installed model's card, from the findings panel's list
        self.choices = LayerChoices(self.stack, settings)
        self.lungs = LungMasking(settings, self.shown)
        self.scales = SessionScales(self.stack, self.shown)
        self.explained = ExplainedClass(self.stack, panel, self.shown)
        self.captions = LayerCaptions(canvas, self.stack, self.overlays, self.shown, self.lungs)
        self.legend = self.captions.legend
        panel.show_inside_lungs(self.inside_lungs)
        self.load_default()
        self._unsubscribe = self.stack.subscribe(self._on_stack_changed)
        panel.class_chosen.connect(self.choose_class)
        panel.flicker_toggled.connect(self.base.flicker)
        panel.side_by_side_requested.connect(self.open_side_by_side)
        panel.layers_shown_toggled.connect(self.set_layers_shown)
        panel.save_default_requested.connect(self.save_default)
        panel.reset_requested.connect(self.reset_to_factory)
        panel.fixed_scale_requested.connect(self.fix_scale)
        panel.layer_ticked.connect(self.choices.on_layer_ticked)
        panel.inside_lungs_toggled.connect(self.set_inside_lungs)

    # The shown study's data, by the names the window, the exports and the tests read.
    @property
    def raw(self) -> dict[str, npt.NDArray[np.float32]]:
        return self.shown.raw

    @property
    def indexed(self) -> dict[str, IndexedMap]:
        return self.shown.indexed

    @property
    def inside_lungs(self) -> bool:
        return self.lungs.asked

    @property
    def compare_window(self):
        return self.base.compare_window

    # -- the analysis service --------------------------------------------------------------------
    def attach_service(self, service) -> None:
        """Listen to an analysis service (gui.analysis_service.AnalysisService), if the window has one."""
        self.service = self.lungs.service = service
        self._show_lungs_available()
        if service is not None:
            service.result_ready.connect(self.on_result)
            service.step_failed.connect(self.on_step_failed)

    def attach_findings(self, findings_panel) -> None:
        """Show maps only while the findings panel shows the findings (issue 20: a map beside
        withheld findings contradicts them)."""
        self._findings_shown = findings_panel.findings_shown
        self._card_of = lambda model: next((e.card for e in getattr(findings_panel, "entries", ()) if e.name == model),
                                           None)
        findings_panel.findings_shown_changed.connect(self._on_findings_shown_changed)

    def _on_findings_shown_changed(self, shown: bool) -> None:
        if shown:
            self._ask_for_selected_maps()
            return
        for kind in MAP_KINDS:
            self.raw.pop(kind, None)
            self.indexed.pop(kind, None)
            self._show(kind)
            self.panel.set_map(kind, None, WITHHELD_TEXT)
        self.captions.show_caption()

    def on_result(self, study: int, kind: str, key, payload) -> None:
        # The window switches this controller to a study before it asks the service for it
        # (MainWindow._show_study), so a result for another study is a stale one: dropped.
        if study != self.shown.study or self.shown.loaded is None:
            return
        self._show_lungs_available()
        if kind == "finding":
            self.shown.findings[payload.model] = payload
            self.explained.learn(payload)
            self.explained.choose_default()
            self._apply_default_map()
            for map_kind in MAP_KINDS:  # the class's probability sets how strongly its maps are drawn
                if map_kind in self.raw:
                    self._show(map_kind)
        elif kind == "maps":
            if self.stack.selector is None:
                # Maps the service computed without this controller naming the class (a caller of
                # the service asked for them): shown as what they are, the maps of that class.
                self.explained.set(self.explained.selector(*key), request=False)
            selected = self.stack.selector
            if (selected.model, selected.class_index) == tuple(key) and self._findings_shown():
                for method, values in payload.items():
                    if method in MAP_KINDS:
                        self.set_raw(method, values)
                self.captions.show_caption()
        elif kind == "lesions":  # each lesion model's map in the layer its channel names
            layer = getattr(payload, "label", LESION_KINDS[0])
            self._lesion_layer[str(key)] = layer
            self.shown.lesion_sources[layer] = lesion_source(str(key), getattr(payload, "score", None))
            self.stack.adopt_lesion_threshold(payload.threshold, layer)
            self.set_raw(layer, payload.probability)
            self._apply_default_map()
        elif kind == "lungs":
            self.shown.lungs_model = str(key)
            self.set_raw("lung_outline", payload)
            self._show_lungs_available()
            if self.inside_lungs:
                self._reshow(MAP_KINDS)
        elif kind == "soft_tissue":
            soft, bones = payload
            self.shown.soft_tissue_model = str(key)
            image = self.shown.loaded.image
            self.canvas.set_soft_tissue(soft_tissue_base(soft, image.pixels, self.shown.loaded.indexed))
            self.base.refresh()
            self.set_raw("bones", bones)

    def on_step_failed(self, study: int, kind: str, key, message: str) -> None:
        if study != self.shown.study:
            return
        layers = LAYERS_OF_RESULT.get(kind, ())
        if kind == "lesions" and key in self._lesion_layer:  # only the failed model's own layer
            layers = (self._lesion_layer[key],)
        for layer_kind in layers:
            if kind == "lesions" and layer_kind in self.raw:
                continue  # another lesion model's map is there
            self.panel.set_map(layer_kind, None, f"failed: {message}")
        if kind == "lesions":
            self.shown.lesions_failed.update(layers)
            self._apply_default_map()  # a lesion map that failed is not the one map shown
        if kind == "lungs":
            self.shown.lungs_failed = True
            self._show_lungs_available()  # the maps are whole again: so are the figures their tooltips give
            if self.inside_lungs:
                self._reshow(MAP_KINDS)
                self.message.emit(LUNGS_FAILED_TEXT)

    # -- the study ---------------------------------------------------------------------------------
    def show_study(self, study: int, loaded: LoadedStudy, state=None) -> None:
        """A study is shown: forget the previous one's maps, show the stack's base and layers.
        (`state`, the study's ViewState, is what the session's current_ready also carries.)"""
        self.shown.switch(study, loaded)
        self.overlays.clear()
        self._show_lungs_available()
        self.base.show_chosen_base()
        for kind in KINDS:
            self.panel.set_map(kind, None, WAITING_TEXT)
        if not self.explained.reader_chose:
            # The default class is the finding that matters on this study, decided from its own
            # findings as they arrive: the last study's choice does not carry over.
            self.explained.set(None)
            if self.service is not None:
                self.service.forget_maps_choice()
        self._ask_for_selected_maps()
        self.captions.show_caption()
        self.base.refresh()

    def clear(self) -> None:
        """No study is shown (it failed to load)."""
        self.shown.clear()
        self.overlays.clear()
        self.legend.set_legends([])

    def set_raw(self, kind: str, values: npt.NDArray[np.float32]) -> None:
        """A layer's raw map for the current study: (H, W) float32 on the image's pixel grid."""
        values = np.asarray(values, dtype=np.float32)
        if self.shown.loaded is None or values.shape != self.shown.loaded.image.shape:
            shape = None if self.shown.loaded is None else self.shown.loaded.image.shape
            log.warning("layer %s: map of shape %s does not fit the study %s; not shown", kind, values.shape, shape)
            return
        self.raw[kind] = values
        self.scales.record(kind, values)
        self.indexed.pop(kind, None)
        self._show(kind)

    def fix_scale(self, kind: str) -> None:
        """Put a layer on one scale for every study: the range of its maps shown so far."""
        scale = self.scales.scale(kind)
        if scale is None:
            scale = Normalisation("fixed", 0.0, 1.0)
            self.message.emit(f"{self.stack[kind].name}: no map shown yet; fixed at 0 to 1 (edit the range)")
        self.stack.update(kind, normalisation=scale)

    def _show(self, kind: str) -> None:
        state = self.stack[kind]
        values = self.lungs.displayed(kind)
        if values is not None and kind not in self.indexed and state.visible:
            self.indexed[kind] = index_map(values, index_normalisation(state))
        if kind in MAP_KINDS:
            self.overlays.strength[kind] = self._strength()
        indexed = self.indexed.get(kind)
        self.overlays.set_map(kind, indexed, state)
        status = "" if values is not None else WAITING_LUNGS_TEXT if kind in self.raw else WAITING_TEXT
        self.panel.set_map(kind, indexed, status)
        self.captions.show_legend()
        if kind in LESION_KINDS:
            self.captions.show_caption()

    def _reshow(self, kinds) -> None:
        """Index these layers' maps again (their displayed values or strength changed) and redraw."""
        for kind in kinds:
            self.indexed.pop(kind, None)
            self._show(kind)
        self.captions.show_caption()

    def _strength(self) -> float:
        """The weight on the explanation maps' opacity: from the explained class's probability."""
        selected = self.stack.selector
        if selected is None:
            return map_strength(None)
        return map_strength(class_probability(self.shown.findings.get(selected.model), selected.class_index))

    def _on_stack_changed(self, kind: str, what: str) -> None:
        if what in ("base", "all"):
            self.base.show_chosen_base()
        if what == "all":
            self.indexed.clear()
            for layer_kind in KINDS:
                self._show(layer_kind)
        elif what == "lut" and not (kind in self.raw and kind not in self.indexed and self.stack[kind].visible):
            self.overlays.apply(self.stack[kind])
        elif what == "lut":
            self._show(kind)
        elif what == "visible" and self.stack[kind].visible and not self.overlays.shown and not self.choices.defaulting:
            self.set_layers_shown(True)  # a layer turned on while all were off: the reader wants to see
        elif what in ("visible", "index"):
            if what == "index":
                self.indexed.pop(kind, None)
            self._show(kind)
        elif what == "class" and kind == MAP_KINDS[-1]:  # all map layers have been set by then
            self._on_class_changed()
        if kind in MAP_KINDS or what == "all":
            self.captions.show_caption()
        self.captions.show_legend()

    # -- the class the maps explain ----------------------------------------------------------------
    def choose_class(self, selector: ClassSelector | None) -> None:
        """The reader picked the class (None: back to the study's default); see `ExplainedClass.choose`."""
        self.explained.choose(selector)

    def select_class(self, selector: ClassSelector, request: bool = True) -> None:
        """Make the maps explain `selector`, as the reader's choice."""
        self.explained.select(selector, request)

    def select_class_index(self, model: str, class_index: int) -> None:
        """The findings panel's class_selected(model, class_index): the reader's choice."""
        self.explained.select(self.explained.selector(model, class_index))

    def _on_class_changed(self) -> None:
        for kind in MAP_KINDS:
            self.raw.pop(kind, None)
            self.indexed.pop(kind, None)
            self._show(kind)
        if self.explained.request_maps:
            self._ask_for_selected_maps()

    def _ask_for_selected_maps(self) -> None:
        """Show the selected class's maps from the service's cache, or ask the service for them
        (not while the findings are withheld)."""
        selected = self.stack.selector
        if not self._findings_shown():
            return
        if selected is None or self.shown.study is None or self.service is None or any(k in self.raw for k in MAP_KINDS):
            return
        key = (selected.model, selected.class_index)
        cached = self.service.cached(self.shown.study, "maps", key)
        if cached is not None:
            self.on_result(self.shown.study, "maps", key, cached)
        else:
            self.service.request_maps(self.shown.study, selected.model, selected.class_index)

    # -- base image, compare, all layers on or off ------------------------------------------------
    def toggle_base(self) -> None:
        """Key B: original ↔ bone-suppressed soft tissue."""
        self.base.toggle_base()

    def open_side_by_side(self) -> None:
        self.base.open_side_by_side()

    def set_layers_shown(self, on: bool) -> None:
        """Every layer on or off at once (the panel's switch, key O); each keeps its own settings."""
        if on == self.overlays.shown:
            return
        self.overlays.shown = on
        for kind in KINDS:
            self._show(kind)
        self.captions.show_legend()
        self.panel.show_layers_shown(on)
        self.captions.show_caption()
        self.message.emit("" if on else LAYERS_HIDDEN_TEXT)

    def toggle_layers(self) -> None:
        self.set_layers_shown(not self.overlays.shown)

    # -- what the reader sees, for exports -------------------------------------------------------
    def composed_view(self) -> npt.NDArray[np.uint8] | None:
        """(H', W', 3) uint8: the base as shown plus the visible layers, through `compose`, turned
        by the view's flips and rotation (core.orientation) so it faces as the screen does; the
        whole image, whatever the zoom and pan. None without a study."""
        base, state = self.canvas.displayed_image(), self.canvas.state
        if base is None or state is None:
            return None
        return state.orientation.apply(self.overlays.composed(base))

    def values_at(self, row: int, column: int) -> list[tuple[str, float]]:
        """(layer name, its map value at image pixel (row, column)) for each layer drawn now."""
        return self.captions.values_at(row, column)

    def visible_layer_summary(self) -> list[str]:
        """The base image, then one line per layer drawn now (see core.layers.summary_line)."""
        return self.captions.summary()

    def visible_layer_legends(self) -> list[LayerLegend]:
        """A legend per layer drawn now, bottom to top (`core.legend`), for the exports."""
        return self.captions.legends()

    # -- the reader's default, one map at a time, the lungs -----------------------------------------
    def save_default(self) -> None:
        self.choices.save_default()

    def load_default(self) -> None:
        self.choices.load_default()

    def reset_to_factory(self) -> None:
        self.choices.reset_to_factory()
        self.explained.choose_default()  # the factory state explains no class: the study's default one again
        self._apply_default_map()

    def _default_heat_kind(self) -> str | None:
        """The one heat map shown by default on this study (`map_choice.default_heat_layer`): the
        lesion layers that may be (`map_choice.usable_lesion_layers`), and the verdicts' best method."""
        meta = self.shown.loaded.image.meta if self.shown.loaded is not None else None
        lesions = usable_lesion_layers(self._lesion_layer, self.shown.lesions_failed, meta, self._card_of)
        selected = self.stack.selector
        if selected is None:
            return default_heat_layer(None, lesions, None)
        return default_heat_layer(selected.label, lesions, self.panel.trust.best_method(selected, self.lungs.model()))

    def _apply_default_map(self) -> None:
        """Once the study's findings are in: the heat maps the reader has not set show only the default one."""
        if not self.shown.findings:
            return
        target = self._default_heat_kind()
        if target is not None:
            self.choices.show_only(target)

    def set_inside_lungs(self, on: bool) -> None:
        """Keep the explanation maps inside the lungs (the reader's choice, remembered in QSettings)."""
        self.lungs.set_asked(on)
        self.panel.show_inside_lungs(self.inside_lungs)
        self._show_lungs_available()
        self._reshow(MAP_KINDS)
        self._apply_default_map()  # the default map is the one that localises as now drawn

    def _show_lungs_available(self) -> None:
        """The panel's "Inside the lungs only" as it can be had now, and the map tooltips' figures for
        the maps as drawn now: kept inside the lungs (by which lung model) or whole."""
        self.panel.set_inside_lungs_available(self.lungs.available())
        self.panel.show_maps_inside_lungs(self.lungs.model())

    def shutdown(self) -> None:
        self.base.shutdown()
        self._unsubscribe()
