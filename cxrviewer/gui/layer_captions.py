"""What the film and the exports say about the layers drawn: the film's caption (the maps' model,
class and probability; each lesion map's model and image score), its colour legend, and the
legends and summary lines the exports carry.

Separate from the controller, which decides what is drawn: this only describes it, from the shown
study's data, the stack and the overlays, so the caption, the on-film legend and the exports'
legends are worded in one place (the words themselves in `analysis.map_caption`).
"""

from __future__ import annotations

from cxrviewer.analysis.map_caption import maps_caption, maps_explain
from cxrviewer.core.layers import KINDS, LESION_KINDS, MAP_KINDS, LayerStack, summary_line
from cxrviewer.core.legend import LayerLegend, layer_legend
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.lung_masking import LungMasking
from cxrviewer.gui.map_legend import MapLegendOverlay
from cxrviewer.gui.overlays import OverlayItems
from cxrviewer.gui.shown_study import ShownStudy

MAP_NAMES = {"saliency": "Saliency", "gradcam": "Grad-CAM", "cam": "CAM", "crm": "CRM"}


class LayerCaptions:
    def __init__(self, canvas: Canvas, stack: LayerStack, overlays: OverlayItems, shown: ShownStudy,
                 lungs: LungMasking):
        self.canvas, self.stack, self.overlays, self.shown, self.lungs = canvas, stack, overlays, shown, lungs
        self.legend = MapLegendOverlay(canvas.viewport())

    def show_caption(self) -> None:
        """What the maps on the film show: the explanation maps' model, class and its probability
        (issue 20), and each lesion map's model and image score."""
        parts = []
        selected = self.stack.selector
        shown = [kind for kind in MAP_KINDS if kind in self.shown.raw and self.stack[kind].visible]
        if selected is not None and shown and self.overlays.shown:
            parts.append(maps_caption([MAP_NAMES.get(kind, kind) for kind in shown], selected,
                                      self.shown.findings.get(selected.model)))
        sources = self.shown.lesion_sources
        parts += [f"{self.stack[kind].name}: {sources[kind]}" for kind in LESION_KINDS
                  if kind in self.overlays.drawn and sources.get(kind)]
        self.canvas.film_text.set_caption("   ·   ".join(parts))

    def show_legend(self) -> None:
        """The colour legend on the film: a row per layer coloured there now."""
        self.legend.set_legends(self.legends() if self.overlays.shown else [])

    def legends(self) -> list[LayerLegend]:
        """A legend per layer drawn now, bottom to top (`core.legend`): what each explains (the
        maps' model, class and probability; a lesion model's image score), its colours and its
        display threshold, for the exports."""
        return [layer_legend(self.stack[kind], self.shown.indexed.get(kind), self._explains(kind),
                             self.overlays.strength.get(kind, 1.0))
                for kind in KINDS if kind in self.overlays.drawn]

    def summary(self) -> list[str]:
        """The base image, then one line per layer drawn now (see core.layers.summary_line)."""
        if self.canvas.showing_soft_tissue:
            lines = [f"Base: bone-suppressed soft tissue ({self.shown.soft_tissue_model})"]
        else:
            lines = ["Base: original"]
        return lines + [summary_line(self.stack[kind], self.shown.indexed.get(kind))
                        for kind in KINDS if kind in self.overlays.drawn]

    def values_at(self, row: int, column: int) -> list[tuple[str, float]]:
        """(layer name, its raw map value at image pixel (row, column)) for each layer drawn now: the
        number the colour there stands for, on the colour bar's scale."""
        shown = {kind: self.lungs.displayed(kind) for kind in KINDS if kind in self.overlays.drawn}
        return [(self.stack[kind].name, float(values[row, column]))
                for kind, values in shown.items() if values is not None]

    def _explains(self, kind: str) -> str:
        if kind in LESION_KINDS:
            return self.shown.lesion_sources.get(kind, "")
        selected = self.stack.selector if kind in MAP_KINDS else None
        if selected is None:
            return self.shown.soft_tissue_model if kind == "bones" else ""
        return maps_explain(selected, self.shown.findings.get(selected.model), self.lungs.masking())
