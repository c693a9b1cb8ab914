"""Where the layers meet the study: analysis results in, the canvas items and panel out.

One per window. It owns the window's `LayerStack` (so the reader's layer choices persist from study
to study while the viewer runs, and can be saved as their default in QSettings), the raw arrays of
the study shown, and their indexed forms. Analysis results arrive through the analysis service's
`result_ready(study, kind, key, payload)`; a result for another study is ignored. A map is indexed
(the only per-pixel work) when it arrives for a visible layer, or when its layer is first shown, or
when a probability layer's normalisation changes; every other change, a map layer's scale included,
goes to the overlay's 256-entry table. For "fixed across studies" it keeps the extremes of every map
it has shown this session, per layer and class (the service's cache drops old studies' arrays), and
starts the fixed scale at `Normalisation.across` of them; the scale then stays, study after study.

Issue 20, item 7: the explanation maps are drawn at their opacity weighed by their class's
probability (`core.layers.map_strength`), times the lung probability when the reader keeps them
inside the lungs (remembered in QSettings); the film carries a caption and a colour legend
(`gui.map_legend`) of what is drawn; and one heat map is shown by default
(`analysis.map_choice.default_heat_layer`) until the reader ticks others, whose choices are kept.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.map_choice import default_heat_layer, default_map_class
from cxrviewer.core.display.compose import IndexedMap, Normalisation, index_map
from cxrviewer.core.display.soft_tissue_base import soft_tissue_base
from cxrviewer.core.errors import ConfigError
from cxrviewer.core.layers import (
    HEAT_KINDS,
    KINDS,
    LESION_KINDS,
    MAP_KINDS,
    ClassSelector,
    LayerStack,
    index_normalisation,
    map_strength,
    summary_line,
)
from cxrviewer.core.legend import LayerLegend, layer_legend
from cxrviewer.core.reading_words import percent
from cxrviewer.core.suitability import age_fit
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.layer_panel import LayerPanel
from cxrviewer.gui.map_legend import MapLegendOverlay
from cxrviewer.gui.overlays import OverlayItems
from cxrviewer.gui.session import LoadedStudy

log = logging.getLogger(__name__)

DEFAULT_KEY = "layers/default"
INSIDE_LUNGS_KEY = "layers/inside_lungs"
FLICKER_MS = 600
WAITING_TEXT = "not computed yet for this study"
LAYERS_HIDDEN_TEXT = "all layers hidden (O shows them again)"
WITHHELD_TEXT = "withheld with the findings (the gate did not accept this image)"
NO_DEFAULT_TEXT = "no finding called: pick a class to see what the model looks at"
WAITING_LUNGS_TEXT = "waiting for this study's lungs (Inside the lungs only is on)"
LUNGS_FAILED_TEXT = "the lungs could not be found on this study: the map is shown on the whole film"
NO_SOFT_TISSUE_TEXT = ("bone-suppressed base chosen; this study has no soft-tissue view yet "
                       "(it needs an installed bone-suppression model)")
# The analysis service's result kinds and the layers each one feeds.
MAP_NAMES = {"saliency": "Saliency", "gradcam": "Grad-CAM", "cam": "CAM", "crm": "CRM"}
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
        self.study: int | None = None
        self.loaded: LoadedStudy | None = None
        self.raw: dict[str, npt.NDArray[np.float32]] = {}
        self.indexed: dict[str, IndexedMap] = {}
        self.soft_tissue_model = ""
        # (layer kind, what made its map) → {study: [least, greatest] value of its map}
        self.extremes: dict[tuple[str, object], dict[int, npt.NDArray[np.float32]]] = {}
        self._labels: dict[str, tuple[str, ...]] = {}
        self._lesion_layer: dict[str, str] = {}  # lesion model → its layer kind (its channel), once seen
        self._lesion_scores: dict[str, str] = {}  # lesion layer kind → its model and image score, this study
        self._flicker = QTimer(self)
        self._flicker.setInterval(FLICKER_MS)
        self._flicker.timeout.connect(lambda: canvas.show_soft_tissue(not canvas.showing_soft_tissue))
        self.compare_window = None
        self._request_maps = True  # False while a class is set without asking for its maps
        self._findings: dict[str, Finding] = {}  # the shown study's classifier findings, by model
        self._reader_chose = False  # the reader picked the class: kept from study to study
        self._findings_shown = lambda: True  # the window's findings panel says (the gate)
        self._card_of = lambda model: None  # an installed model's card, from the findings panel's list
        # Heat-map layers whose "show" the reader set: kept as set; the others follow the one-map
        # default (`_apply_default_map`).
        self._asked: set[str] = set()
        self._defaulting = False  # the one-map default is changing layers, not the reader
        self.inside_lungs = str(settings.value(INSIDE_LUNGS_KEY, "false")).lower() == "true"
        self._lungs_failed = False
        self._lesions_failed: set[str] = set()  # lesion layers whose model failed on this study
        self.legend = MapLegendOverlay(canvas.viewport())
        panel.show_inside_lungs(self.inside_lungs)
        self.load_default()
        self._unsubscribe = self.stack.subscribe(self._on_stack_changed)
        panel.class_chosen.connect(self.choose_class)
        panel.flicker_toggled.connect(self.flicker)
        panel.side_by_side_requested.connect(self.open_side_by_side)
        panel.layers_shown_toggled.connect(self.set_layers_shown)
        panel.save_default_requested.connect(self.save_default)
        panel.reset_requested.connect(self.reset_to_factory)
        panel.fixed_scale_requested.connect(self.fix_scale)
        panel.layer_ticked.connect(self._on_layer_ticked)
        panel.inside_lungs_toggled.connect(self.set_inside_lungs)

    # -- the analysis service --------------------------------------------------------------------
    def attach_service(self, service) -> None:
        """Listen to an analysis service (gui.analysis_service.AnalysisService), if the window has one."""
        self.service = service
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
        self._show_caption()

    def on_result(self, study: int, kind: str, key, payload) -> None:
        # The window switches this controller to a study before it asks the service for it
        # (MainWindow._show_study), so a result for another study is a stale one: dropped.
        if study != self.study or self.loaded is None:
            return
        self._show_lungs_available()
        if kind == "finding":
            self._labels[payload.model] = tuple(payload.labels)
            self._findings[payload.model] = payload
            self.panel.set_classes([ClassSelector(m, i, label) for m, labels in self._labels.items()
                                    for i, label in enumerate(labels)])
            self._choose_default()
            self._apply_default_map()
            for map_kind in MAP_KINDS:  # the class's probability sets how strongly its maps are drawn
                if map_kind in self.raw:
                    self._show(map_kind)
        elif kind == "maps":
            if self.stack.selector is None:
                # Maps the service computed without this controller naming the class (a caller of
                # the service asked for them): shown as what they are, the maps of that class.
                self._set_class(self._selector(*key), request=False)
            selected = self.stack.selector
            if (selected.model, selected.class_index) == tuple(key) and self._findings_shown():
                for method, values in payload.items():
                    if method in MAP_KINDS:
                        self.set_raw(method, values)
                self._show_caption()
        elif kind == "lesions":  # each lesion model's map in the layer its channel names
            layer = getattr(payload, "label", LESION_KINDS[0])
            self._lesion_layer[str(key)] = layer
            score = getattr(payload, "score", None)
            self._lesion_scores[layer] = f"{key}" + ("" if score is None else f", image score {percent(score)}")
            self.stack.adopt_lesion_threshold(payload.threshold, layer)
            self.set_raw(layer, payload.probability)
            self._apply_default_map()
        elif kind == "lungs":
            self.set_raw("lung_outline", payload)
            self._show_lungs_available()
            if self.inside_lungs:
                self._reshow(MAP_KINDS)
        elif kind == "soft_tissue":
            soft, bones = payload
            self.soft_tissue_model = str(key)
            image = self.loaded.image
            self.canvas.set_soft_tissue(soft_tissue_base(soft, image.pixels, self.loaded.indexed))
            self._refresh_compare()
            self.set_raw("bones", bones)

    def on_step_failed(self, study: int, kind: str, key, message: str) -> None:
        if study != self.study:
            return
        layers = LAYERS_OF_RESULT.get(kind, ())
        if kind == "lesions" and key in self._lesion_layer:  # only the failed model's own layer
            layers = (self._lesion_layer[key],)
        for layer_kind in layers:
            if kind == "lesions" and layer_kind in self.raw:
                continue  # another lesion model's map is there
            self.panel.set_map(layer_kind, None, f"failed: {message}")
        if kind == "lesions":
            self._lesions_failed.update(layers)
            self._apply_default_map()  # a lesion map that failed is not the one map shown
        if kind == "lungs":
            self._lungs_failed = True
            if self.inside_lungs:
                self._reshow(MAP_KINDS)
                self.message.emit(LUNGS_FAILED_TEXT)

    # -- the study ---------------------------------------------------------------------------------
    def show_study(self, study: int, loaded: LoadedStudy, state=None) -> None:
        """A study is shown: forget the previous one's maps, show the stack's base and layers.
        (`state`, the study's ViewState, is what the session's current_ready also carries.)"""
        self.study, self.loaded = study, loaded
        self.raw.clear()
        self.indexed.clear()
        self.overlays.clear()
        self.soft_tissue_model = ""
        self._findings = {}
        self._lesion_scores = {}
        self._lungs_failed = False
        self._lesions_failed = set()
        self._show_lungs_available()
        self.canvas.show_soft_tissue(self.stack.base == "soft_tissue")
        for kind in KINDS:
            self.panel.set_map(kind, None, WAITING_TEXT)
        if not self._reader_chose:
            # The default class is the finding that matters on this study, decided from its own
            # findings as they arrive: the last study's choice does not carry over.
            self._set_class(None)
            if self.service is not None:
                self.service.forget_maps_choice()
        self._ask_for_selected_maps()
        self._show_caption()
        self._refresh_compare()

    def clear(self) -> None:
        """No study is shown (it failed to load)."""
        self.study = self.loaded = None
        self.raw.clear()
        self.indexed.clear()
        self.overlays.clear()
        self.legend.set_legends([])

    def set_raw(self, kind: str, values: npt.NDArray[np.float32]) -> None:
        """A layer's raw map for the current study: (H, W) float32 on the image's pixel grid."""
        values = np.asarray(values, dtype=np.float32)
        if self.loaded is None or values.shape != self.loaded.image.shape:
            shape = None if self.loaded is None else self.loaded.image.shape
            log.warning("layer %s: map of shape %s does not fit the study %s; not shown", kind, values.shape, shape)
            return
        self.raw[kind] = values
        self.extremes.setdefault(self._source(kind), {})[self.study] = np.array([values.min(), values.max()])
        self.indexed.pop(kind, None)
        self._show(kind)

    def _source(self, kind: str) -> tuple[str, object]:
        """What a layer's maps come from: the class explained, or the bone-suppression model; maps
        from different sources are on different scales."""
        selected = self.stack.selector if kind in MAP_KINDS else None
        if selected is not None:
            return kind, (selected.model, selected.class_index)
        return kind, self.soft_tissue_model if kind == "bones" else ""

    def session_scale(self, kind: str) -> Normalisation | None:
        """The fixed scale covering every map of this layer (and class) shown this session, or None."""
        seen = self.extremes.get(self._source(kind), {})
        return Normalisation.across(seen.values()) if seen else None

    def fix_scale(self, kind: str) -> None:
        """Put a layer on one scale for every study: the range of its maps shown so far."""
        scale = self.session_scale(kind)
        if scale is None:
            scale = Normalisation("fixed", 0.0, 1.0)
            self.message.emit(f"{self.stack[kind].name}: no map shown yet; fixed at 0 to 1 (edit the range)")
        self.stack.update(kind, normalisation=scale)

    def _displayed(self, kind: str) -> npt.NDArray[np.float32] | None:
        """A layer's map as drawn: its raw map, times the study's lung probability for an explanation
        map while "Inside the lungs only" is on; None while it waits (for its map, or the lungs)."""
        values = self.raw.get(kind)
        if values is None or kind not in MAP_KINDS or not self._masking():
            return values
        lungs = self.raw.get("lung_outline")
        return None if lungs is None else values * lungs

    def _masking(self) -> bool:
        """Whether the explanation maps are kept inside the lungs now (asked, and lungs to be had)."""
        return self.inside_lungs and self._lungs_available() and not self._lungs_failed

    def _show(self, kind: str) -> None:
        state = self.stack[kind]
        values = self._displayed(kind)
        if values is not None and kind not in self.indexed and state.visible:
            self.indexed[kind] = index_map(values, index_normalisation(state))
        if kind in MAP_KINDS:
            self.overlays.strength[kind] = self._strength()
        indexed = self.indexed.get(kind)
        self.overlays.set_map(kind, indexed, state)
        status = "" if values is not None else WAITING_LUNGS_TEXT if kind in self.raw else WAITING_TEXT
        self.panel.set_map(kind, indexed, status)
        self._show_legend()
        if kind in LESION_KINDS:
            self._show_caption()

    def _reshow(self, kinds) -> None:
        """Index these layers' maps again (their displayed values or strength changed) and redraw."""
        for kind in kinds:
            self.indexed.pop(kind, None)
            self._show(kind)
        self._show_caption()

    def _strength(self) -> float:
        """The weight on the explanation maps' opacity: from the explained class's probability."""
        return map_strength(self._probability())

    def _probability(self) -> float | None:
        selected = self.stack.selector
        finding = self._findings.get(selected.model) if selected is not None else None
        if finding is None or selected.class_index >= len(finding.probabilities):
            return None
        return float(finding.probabilities[selected.class_index])

    def _show_legend(self) -> None:
        """The colour legend on the film: a row per layer coloured there now."""
        self.legend.set_legends(self.visible_layer_legends() if self.overlays.shown else [])

    def _on_stack_changed(self, kind: str, what: str) -> None:
        if what in ("base", "all"):
            self.canvas.show_soft_tissue(self.stack.base == "soft_tissue")
        if what == "all":
            self.indexed.clear()
            for layer_kind in KINDS:
                self._show(layer_kind)
        elif what == "lut" and not (kind in self.raw and kind not in self.indexed and self.stack[kind].visible):
            self.overlays.apply(self.stack[kind])
        elif what == "lut":
            self._show(kind)
        elif what == "visible" and self.stack[kind].visible and not self.overlays.shown and not self._defaulting:
            self.set_layers_shown(True)  # a layer turned on while all were off: the reader wants to see
        elif what in ("visible", "index"):
            if what == "index":
                self.indexed.pop(kind, None)
            self._show(kind)
        elif what == "class" and kind == MAP_KINDS[-1]:  # all map layers have been set by then
            self._on_class_changed()
        if kind in MAP_KINDS or what == "all":
            self._show_caption()
        self._show_legend()

    # -- the class the maps explain ----------------------------------------------------------------
    def _selector(self, model: str, class_index: int) -> ClassSelector:
        labels = self._labels.get(model, ())
        return ClassSelector(model, class_index, labels[class_index] if class_index < len(labels) else "")

    def choose_class(self, selector: ClassSelector | None) -> None:
        """The reader picked the class the maps explain (the panel's list, a finding's link): it is
        kept from study to study until the reader picks "none" (None), which returns to the default."""
        self._reader_chose = selector is not None
        if selector is None:
            self._choose_default()
        else:
            self._set_class(selector)

    def select_class(self, selector: ClassSelector, request: bool = True) -> None:
        """Make the maps explain `selector`, as the reader's choice."""
        self._reader_chose = True
        self._set_class(selector, request)

    def select_class_index(self, model: str, class_index: int) -> None:
        """The findings panel's class_selected(model, class_index): the reader's choice."""
        self.select_class(self._selector(model, class_index))

    def _choose_default(self) -> None:
        """Unless the reader chose, the maps explain the finding that matters (`map_choice`)."""
        if self._reader_chose:
            return
        choice = default_map_class(self._findings.values())
        self._set_class(None if choice is None else self._selector(*choice))
        if choice is None and self._findings:
            for kind in MAP_KINDS:
                self.panel.set_map(kind, None, NO_DEFAULT_TEXT)

    def _set_class(self, selector: ClassSelector | None, request: bool = True) -> None:
        if selector != self.stack.selector:
            self._request_maps = request
            try:
                self.stack.select_class(selector)
            finally:
                self._request_maps = True

    def _show_caption(self) -> None:
        """What the maps on the film show: the explanation maps' model, class and its probability
        (issue 20), and each lesion map's model and image score."""
        parts = []
        selected = self.stack.selector
        shown = [kind for kind in MAP_KINDS if kind in self.raw and self.stack[kind].visible]
        if selected is not None and shown and self.overlays.shown:
            finding = self._findings.get(selected.model)
            probability = (f" — {percent(finding.probabilities[selected.class_index])}"
                           if finding is not None and selected.class_index < len(finding.probabilities) else "")
            names = ", ".join(MAP_NAMES.get(kind, kind) for kind in shown)
            parts.append(f"{names}: {selected.model} / {selected.label}{probability}")
        parts += [f"{self.stack[kind].name}: {self._lesion_scores[kind]}" for kind in LESION_KINDS
                  if kind in self.overlays.drawn and self._lesion_scores.get(kind)]
        self.canvas.film_text.set_caption("   ·   ".join(parts))

    def _on_class_changed(self) -> None:
        for kind in MAP_KINDS:
            self.raw.pop(kind, None)
            self.indexed.pop(kind, None)
            self._show(kind)
        if self._request_maps:
            self._ask_for_selected_maps()

    def _ask_for_selected_maps(self) -> None:
        """Show the selected class's maps from the service's cache, or ask the service for them
        (not while the findings are withheld)."""
        selected = self.stack.selector
        if not self._findings_shown():
            return
        if selected is None or self.study is None or self.service is None or any(k in self.raw for k in MAP_KINDS):
            return
        key = (selected.model, selected.class_index)
        cached = self.service.cached(self.study, "maps", key)
        if cached is not None:
            self.on_result(self.study, "maps", key, cached)
        else:
            self.service.request_maps(self.study, selected.model, selected.class_index)

    # -- base image and compare --------------------------------------------------------------------
    def toggle_base(self) -> None:
        """Key B: original ↔ bone-suppressed soft tissue."""
        self.stack.base = "original" if self.stack.base == "soft_tissue" else "soft_tissue"
        if self.stack.base == "soft_tissue" and not self.canvas.has_soft_tissue:
            self.message.emit(NO_SOFT_TISSUE_TEXT)

    def set_layers_shown(self, on: bool) -> None:
        """Every layer on or off at once (the panel's switch, key O); each keeps its own settings."""
        if on == self.overlays.shown:
            return
        self.overlays.shown = on
        for kind in KINDS:
            self._show(kind)
        self._show_legend()
        self.panel.show_layers_shown(on)
        self._show_caption()
        self.message.emit("" if on else LAYERS_HIDDEN_TEXT)

    def toggle_layers(self) -> None:
        self.set_layers_shown(not self.overlays.shown)

    def flicker(self, on: bool) -> None:
        """Alternate original and soft tissue on the canvas; stopping returns to the chosen base."""
        if on:
            self._flicker.start()
        else:
            self._flicker.stop()
            self.canvas.show_soft_tissue(self.stack.base == "soft_tissue")

    def open_side_by_side(self) -> None:
        from cxrviewer.gui.compare_view import CompareView

        if self.compare_window is None:
            self.compare_window = CompareView(self.canvas, self.overlays)
        self.compare_window.show()
        self.compare_window.refresh()
        self.compare_window.raise_()

    def _refresh_compare(self) -> None:
        """The canvas's soft tissue or study changed (no view_changed says so): the compare follows."""
        if self.compare_window is not None:
            self.compare_window.refresh()

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
        """(layer name, its raw map value at image pixel (row, column)) for each layer drawn now: the
        number the colour there stands for, on the colour bar's scale."""
        shown = {kind: self._displayed(kind) for kind in KINDS if kind in self.overlays.drawn}
        return [(self.stack[kind].name, float(values[row, column]))
                for kind, values in shown.items() if values is not None]

    def visible_layer_summary(self) -> list[str]:
        """The base image, then one line per layer drawn now (see core.layers.summary_line)."""
        if self.canvas.showing_soft_tissue:
            lines = [f"Base: bone-suppressed soft tissue ({self.soft_tissue_model})"]
        else:
            lines = ["Base: original"]
        return lines + [summary_line(self.stack[kind], self.indexed.get(kind))
                        for kind in KINDS if kind in self.overlays.drawn]

    def visible_layer_legends(self) -> list[LayerLegend]:
        """A legend per layer drawn now, bottom to top (`core.legend`): what each explains (the
        maps' model, class and probability; a lesion model's image score), its colours and its
        display threshold, for the exports."""
        return [layer_legend(self.stack[kind], self.indexed.get(kind), self._explains(kind),
                             self.overlays.strength.get(kind, 1.0))
                for kind in KINDS if kind in self.overlays.drawn]

    def _explains(self, kind: str) -> str:
        if kind in LESION_KINDS:
            return self._lesion_scores.get(kind, "")
        selected = self.stack.selector if kind in MAP_KINDS else None
        if selected is None:
            return self.soft_tissue_model if kind == "bones" else ""
        finding = self._findings.get(selected.model)
        probability = (f", {percent(finding.probabilities[selected.class_index])}"
                       if finding is not None and selected.class_index < len(finding.probabilities) else "")
        inside = ", inside the lungs" if self._masking() else ""
        return f"{selected.describe()}{probability}{inside}"

    # -- the reader's default ----------------------------------------------------------------------
    def save_default(self) -> None:
        """Save the display choices as the reader's default; not the class explained, which belongs
        to a reading (and to models that may be gone next session)."""
        data = self.stack.to_dict()
        for item in data["layers"]:
            item["selector"] = None
        self.settings.setValue(DEFAULT_KEY, json.dumps(data))
        self.settings.sync()
        self._asked = set(HEAT_KINDS)  # the saved layers are the reader's choice

    def load_default(self) -> None:
        text = self.settings.value(DEFAULT_KEY, "")
        if not text:
            return
        try:
            self.stack.restore(json.loads(str(text)))
        except (ValueError, ConfigError) as error:
            log.warning("saved layer default in %s ignored: %s", self.settings.fileName(), error)
        else:
            self._asked = set(HEAT_KINDS)  # the reader's saved layers, not the one-map default

    def reset_to_factory(self) -> None:
        self._asked = set()
        self.stack.restore(LayerStack().to_dict())
        self._choose_default()  # the factory state explains no class: the study's default one again
        self._apply_default_map()

    # -- one map at a time, the lungs ----------------------------------------------------------------
    def _default_heat_kind(self) -> str | None:
        """The one heat map shown by default on this study (`map_choice.default_heat_layer`): the
        lesion layers seen this session whose model did not fail here and whose answer applies to this
        patient (its card's age range: the findings withhold it otherwise), and the verdicts' best method."""
        meta = self.loaded.image.meta if self.loaded is not None else None
        lesions = {kind for model, kind in self._lesion_layer.items() if kind not in self._lesions_failed
                   and age_fit(meta, self._card_of(model)).answerable}  # not a map whose answer is withheld here
        selected = self.stack.selector
        if selected is None:
            return default_heat_layer(None, lesions, None)
        return default_heat_layer(selected.label, lesions, self.panel.trust.best_method(selected))

    def _apply_default_map(self) -> None:
        """Once the study's findings are in: the heat maps the reader has not set show only the default one."""
        if not self._findings:
            return
        target = self._default_heat_kind()
        if target is None:
            return
        self._defaulting = True
        try:
            for kind in HEAT_KINDS:
                if kind not in self._asked and self.stack[kind].visible != (kind == target):
                    self.stack.update(kind, visible=kind == target)
        finally:
            self._defaulting = False

    def _on_layer_ticked(self, kind: str, on: bool) -> None:
        """The reader set a layer's "show": kept; a heat map they tick replaces those on by default."""
        if kind not in HEAT_KINDS:
            return
        self._asked.add(kind)
        if on:
            for other in HEAT_KINDS:
                if other not in self._asked and self.stack[other].visible:
                    self.stack.update(other, visible=False)

    def set_inside_lungs(self, on: bool) -> None:
        """Keep the explanation maps inside the lungs (the reader's choice, remembered in QSettings)."""
        self.inside_lungs = bool(on)
        self.settings.setValue(INSIDE_LUNGS_KEY, "true" if on else "false")
        self.panel.show_inside_lungs(self.inside_lungs)
        self._reshow(MAP_KINDS)

    def _lungs_available(self) -> bool:
        """A lung model is installed (the service's roles name one) or gave this study's lungs."""
        roles = getattr(self.service, "roles", None)
        return "lung_outline" in self.raw or bool(getattr(roles, "lungs", None))

    def _show_lungs_available(self) -> None:
        self.panel.set_inside_lungs_available(self._lungs_available())

    def shutdown(self) -> None:
        self._flicker.stop()
        self._unsubscribe()
