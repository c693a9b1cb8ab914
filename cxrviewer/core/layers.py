"""The overlay layers a reader lays over a radiograph, as plain models (napari-style, no Qt).

A `LayerState` is one layer's display choices, frozen and validated: kind, visible, its
`OverlayStyle` (colour map, threshold, opacity, contour), the `Normalisation` its colours stand for
(the value scale), and for the explanation maps the class they explain. A `LayerStack` holds the
state of every kind plus the base image choice (original or bone-suppressed soft tissue), validates
each change, tells its listeners what changed, and round-trips through a plain dict (kept while the
viewer runs, saved as the reader's default by the GUI).

Drawing is not done here: `overlay_layers` turns the visible layers with data into
`core.display.compose.Layer`s, the one compositing rule the canvas and every export share.

Scales: the layers on a probability scale (TB lesions, lung outline) are indexed under it. The
others (`SCALED_KINDS`) are indexed under their own range, and their scale, per image or fixed
across studies, is folded into the colour table (`core.display.scale`): changing it is a "lut"
change, so a reader can put every study on one scale without a map being indexed again.

Defaults per kind, and why:
- CRM above 20 % of its maximum (Kim, Rajaraman, Antani 2019 show CRM that way); Grad-CAM and CAM
  the same, so the three are comparable; saliency above 30 %: it is pixel-sharp and noisy
  (Pasa 2019), and a lower cut covers the lungs in speckle.
- TB lesions and lung opacity (the two lesion-map models, `LESION_KINDS`): a probability map, so a
  fixed [0, 1] scale and a "value" threshold: the lesion model's card threshold on its image score
  (`core.lesion_score`) once the finding arrives (0.5 before), so the region drawn is the one whose
  strength makes a study positive; contour on. TB in reds with a white contour, opacity in inferno
  with a yellow contour, so the two read apart when both are shown.
- Lung outline: the lung probability's 0.5 contour only (opacity 0).
- Bones (original − soft tissue): above 10 % of its maximum in a single hue, hidden by default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from cxrviewer.core.display.compose import (
    CRM_THRESHOLD,
    IndexedMap,
    Layer,
    Normalisation,
    OverlayStyle,
    Threshold,
)
from cxrviewer.core.display.scale import clipping_note, scaled_layer
from cxrviewer.core.errors import ConfigError

# Draw order, bottom to top: anatomy-like layers first, the explanations, then outlines on top.
KINDS = ("bones", "saliency", "gradcam", "cam", "crm", "tb_lesions", "opacity_lesions", "lung_outline")
MAP_KINDS = ("saliency", "gradcam", "cam", "crm")  # explain one (classifier, class)
# One layer per lesion-map model's channel (`analysis.pipeline.LESION_LABELS`): the layer kind is the channel name.
LESION_KINDS = ("tb_lesions", "opacity_lesions")
TITLES = {
    "bones": "Bones",
    "saliency": "Saliency",
    "gradcam": "Grad-CAM",
    "cam": "CAM",
    "crm": "CRM",
    "tb_lesions": "TB lesions",
    "opacity_lesions": "Lung opacity",
    "lung_outline": "Lung outline",
}
# The layers that colour the film by a value (explanations and lesion probabilities): the ones that
# compete for the same pixels, so one of them is shown at a time unless the reader asks for more.
HEAT_KINDS = MAP_KINDS + LESION_KINDS
# An explanation map's fill is drawn at its opacity × this weight of its class's probability p:
# STRENGTH_FLOOR + (1 − STRENGTH_FLOOR)·p, so a 98 % class shows at nearly the opacity set and a 10 %
# class at a third of it (faint, yet there to see), whatever the map's own maximum.
STRENGTH_FLOOR = 0.25
STRENGTH_RULE = ("An explanation map is drawn at its opacity × (¼ + ¾ × the probability of the class it "
                 "explains): a 98 % class at nearly the opacity set, a 10 % class at a third of it, so a "
                 "map of an unlikely class is faint even though its colours span its own maximum.")
BASES = ("original", "soft_tissue")
PROBABILITY_SCALE = Normalisation("fixed", 0.0, 1.0)
LESION_THRESHOLD = Threshold("value", 0.5)
STATE_VERSION = 1

Listener = Callable[[str, str], None]  # (kind or "", what changed)


@dataclass(frozen=True)
class ClassSelector:
    """The classifier output a map layer explains: model name, class index, and its label (shown)."""

    model: str
    class_index: int
    label: str = ""

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("a class selector needs a model name")
        if self.class_index < 0:
            raise ValueError(f"class index must be >= 0, got {self.class_index}")

    def describe(self) -> str:
        return f"{self.model} / {self.label or f'class {self.class_index}'}"


@dataclass(frozen=True)
class LayerState:
    """One layer's display state. `selector` is only for the explanation maps (MAP_KINDS)."""

    kind: str
    visible: bool = False
    style: OverlayStyle = OverlayStyle()
    normalisation: Normalisation = Normalisation()
    selector: ClassSelector | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown layer kind {self.kind!r}; known: {', '.join(KINDS)}")
        if self.selector is not None and self.kind not in MAP_KINDS:
            raise ValueError(f"layer {self.kind} explains no class; only {', '.join(MAP_KINDS)} do")

    @property
    def name(self) -> str:
        return TITLES[self.kind]


def default_layer(kind: str) -> LayerState:
    """The state a layer starts in before the reader (or their saved default) changes it."""
    if kind == "bones":
        return LayerState(kind, False, OverlayStyle("reds", Threshold("fraction", 0.1), 0.5))
    if kind == "saliency":
        return LayerState(kind, False, OverlayStyle("inferno", Threshold("fraction", 0.3), 0.5))
    if kind in ("gradcam", "cam", "crm"):
        return LayerState(kind, kind == "gradcam", OverlayStyle("jet", CRM_THRESHOLD, 0.4))
    if kind == "tb_lesions":
        style = OverlayStyle("reds", LESION_THRESHOLD, 0.45, contour=True, contour_rgb=(255, 255, 255))
        return LayerState(kind, True, style, PROBABILITY_SCALE)
    if kind == "opacity_lesions":
        style = OverlayStyle("inferno", LESION_THRESHOLD, 0.45, contour=True, contour_rgb=(255, 220, 0))
        return LayerState(kind, True, style, PROBABILITY_SCALE)
    if kind == "lung_outline":
        style = OverlayStyle("viridis", Threshold("value", 0.5), 0.0, contour=True, contour_rgb=(0, 200, 255))
        return LayerState(kind, False, style, PROBABILITY_SCALE)
    raise ValueError(f"unknown layer kind {kind!r}; known: {', '.join(KINDS)}")


# The layers whose scale the reader chooses (per image or fixed across studies): all but those on a
# probability scale, whose values already mean the same in every study.
SCALED_KINDS = tuple(kind for kind in KINDS if default_layer(kind).normalisation.mode == "per_image")


def index_normalisation(state: LayerState) -> Normalisation:
    """The scale a layer's raw map is indexed under: its own range (per image) for `SCALED_KINDS`,
    whose chosen scale lives in the colour table; the layer's fixed scale for the others."""
    return Normalisation() if state.kind in SCALED_KINDS else state.normalisation


# What a change touches on screen: "lut" (only the 256-entry table and the contour), "index" (the
# map must be indexed again), "visible", "class" (other maps are needed), "base", "all" (restore).
_STYLE_FIELDS = ("colormap", "threshold", "opacity", "contour", "contour_rgb")


class LayerStack:
    """The state of every layer kind, in draw order, plus the base image; validated on each change.

    Listeners get (kind, what) after each change, what being "lut", "index", "visible", "class",
    "base" (kind "") or "all" (kind "", after `restore`).
    """

    def __init__(self, states: Mapping[str, LayerState] | None = None, base: str = "original"):
        self._states = {kind: default_layer(kind) for kind in KINDS}
        for kind, state in (states or {}).items():
            if state.kind != kind:
                raise ValueError(f"state of {state.kind} given for layer {kind}")
            self._states[kind] = state
        self._base = _checked_base(base)
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(kind, what)` after each change; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _changed(self, kind: str, what: str) -> None:
        for listener in list(self._listeners):
            listener(kind, what)

    def __getitem__(self, kind: str) -> LayerState:
        if kind not in self._states:
            raise KeyError(f"unknown layer kind {kind!r}; known: {', '.join(KINDS)}")
        return self._states[kind]

    def __iter__(self) -> Iterator[LayerState]:
        return iter(self._states[kind] for kind in KINDS)

    def visible(self) -> list[LayerState]:
        return [state for state in self if state.visible]

    @property
    def base(self) -> str:
        return self._base

    @base.setter
    def base(self, value: str) -> None:
        if _checked_base(value) != self._base:
            self._base = value
            self._changed("", "base")

    def update(self, kind: str, **changes: Any) -> LayerState:
        """Change a layer: visible, normalisation, selector, or any OverlayStyle field (colormap,
        threshold, opacity, contour, contour_rgb). Invalid values raise ValueError and change nothing."""
        state = self[kind]
        style_changes = {k: changes.pop(k) for k in _STYLE_FIELDS if k in changes}
        unknown = set(changes) - {"visible", "normalisation", "selector"}
        if unknown:
            raise ValueError(f"layer {kind} has no setting {', '.join(sorted(unknown))}")
        style = dataclasses.replace(state.style, **style_changes) if style_changes else state.style
        new = dataclasses.replace(state, style=style, **changes)
        if new == state:
            return state
        self._states[kind] = new
        if new.normalisation != state.normalisation:
            self._changed(kind, "lut" if kind in SCALED_KINDS else "index")
        elif new.selector != state.selector:
            self._changed(kind, "class")
        elif new.style != state.style:
            self._changed(kind, "lut")
        else:
            self._changed(kind, "visible")
        return new

    def select_class(self, selector: ClassSelector | None) -> None:
        """Make every explanation map explain `selector`'s class (None: no class, no map)."""
        for kind in MAP_KINDS:
            self.update(kind, selector=selector)

    @property
    def selector(self) -> ClassSelector | None:
        """The class the explanation maps explain (the first map layer's; they are set together)."""
        return self._states[MAP_KINDS[0]].selector

    def adopt_lesion_threshold(self, value: float, kind: str = "tb_lesions") -> None:
        """Use a lesion model's card threshold on its layer (`LESION_KINDS`), unless the reader has
        already moved that layer's threshold."""
        if kind not in LESION_KINDS:
            raise ValueError(f"layer {kind} is not a lesion layer; those are {', '.join(LESION_KINDS)}")
        if self._states[kind].style.threshold == LESION_THRESHOLD:
            self.update(kind, threshold=Threshold("value", float(value)))

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A plain dict of every layer's state and the base (JSON- and QSettings-friendly)."""
        return {"version": STATE_VERSION, "base": self._base, "layers": [_state_to_dict(s) for s in self]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerStack:
        """The stack `to_dict` described; kinds it does not mention keep their defaults.
        Raises ConfigError naming the setting when the dict is not a valid layer state."""
        return cls(*_parse(data))

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take over the state `data` describes (validated first: on error nothing changes)."""
        states, base = _parse(data)
        self._states = {kind: states.get(kind, default_layer(kind)) for kind in KINDS}
        self._base = base
        self._changed("", "all")


def _checked_base(base: str) -> str:
    if base not in BASES:
        raise ValueError(f"base image must be one of {', '.join(BASES)}, got {base!r}")
    return base


def _state_to_dict(state: LayerState) -> dict[str, Any]:
    style, norm, selector = state.style, state.normalisation, state.selector
    return {
        "kind": state.kind,
        "visible": state.visible,
        "colormap": style.colormap,
        "threshold": {"mode": style.threshold.mode, "value": style.threshold.value},
        "opacity": style.opacity,
        "contour": style.contour,
        "contour_rgb": list(style.contour_rgb),
        "normalisation": {"mode": norm.mode, "low": norm.low, "high": norm.high},
        "selector": None if selector is None else
        {"model": selector.model, "class_index": selector.class_index, "label": selector.label},
    }


def _parse(data: Mapping[str, Any]) -> tuple[dict[str, LayerState], str]:
    if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
        raise ConfigError(f"layer state: expected a dict with version {STATE_VERSION}, got {data!r:.80}")
    states: dict[str, LayerState] = {}
    for item in data.get("layers", []):
        kind = item.get("kind") if isinstance(item, Mapping) else None
        try:
            threshold = Threshold(str(item["threshold"]["mode"]), float(item["threshold"]["value"]))
            style = OverlayStyle(
                str(item["colormap"]), threshold, float(item["opacity"]), bool(item["contour"]),
                tuple(int(c) for c in item["contour_rgb"]),
            )
            norm = item["normalisation"]
            normalisation = Normalisation(str(norm["mode"]), float(norm["low"]), float(norm["high"]))
            sel = item.get("selector")
            selector = None if sel is None else ClassSelector(str(sel["model"]), int(sel["class_index"]),
                                                               str(sel.get("label", "")))
            states[kind] = LayerState(str(kind), bool(item["visible"]), style, normalisation, selector)
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"layer state of {kind!r}: {error}") from error
    try:
        return states, _checked_base(str(data.get("base", "original")))
    except ValueError as error:
        raise ConfigError(f"layer state: {error}") from error


# -- drawing and reporting -----------------------------------------------------------------------
def overlay_layers(stack: LayerStack, maps: Mapping[str, IndexedMap]) -> list[Layer]:
    """The visible layers that have a map, in draw order, ready for `compose`.

    maps: {kind: IndexedMap} indexed under `index_normalisation` of that layer (the caller
    re-indexes on an "index" change); kinds without a map (not computed yet, or no model) are skipped.
    """
    return [drawn_layer(s, maps[s.kind]) for s in stack if s.visible and s.kind in maps]


def map_strength(probability: float | None) -> float:
    """The weight on an explanation map's opacity for a class of this probability (`STRENGTH_RULE`);
    1 when the probability is not known."""
    if probability is None:
        return 1.0
    return STRENGTH_FLOOR + (1.0 - STRENGTH_FLOOR) * min(max(float(probability), 0.0), 1.0)


def drawn_layer(state: LayerState, indexed: IndexedMap, strength: float = 1.0) -> Layer:
    """The compose `Layer` of one layer's map under its state: style, and colours on its scale;
    `strength` in [0, 1] weighs its opacity (`map_strength`)."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"a layer's strength must be within [0, 1], got {strength}")
    style = state.style if strength == 1.0 else dataclasses.replace(state.style, opacity=state.style.opacity * strength)
    return scaled_layer(indexed, style, state.normalisation)


def describe_threshold(threshold: Threshold, indexed: IndexedMap | None = None) -> str:
    """The threshold in words, with the raw value it resolves to when the map is known."""
    if threshold.mode == "none":
        return "no threshold"
    if threshold.mode == "value":
        return f"≥ {threshold.value:.3g}"
    if threshold.mode == "percentile":
        return f"top {100 - threshold.value:.3g} % of pixels"
    text = f"≥ {threshold.value * 100:.3g} % of max"
    return text + (f" ({threshold.value * indexed.maximum:.3g})" if indexed is not None else "")


def summary_line(state: LayerState, indexed: IndexedMap | None = None) -> str:
    """One line for a report: name, model/class, threshold, opacity, colour map, normalisation."""
    parts = [state.name]
    if state.selector is not None:
        parts.append(state.selector.describe())
    style = state.style
    parts.append(f"threshold {describe_threshold(style.threshold, indexed)}")
    if style.opacity == 0 and style.contour:
        parts.append("contour only")
    else:
        parts += [f"opacity {style.opacity * 100:.0f} %",
                  f"colour map {style.colormap}" + (", contour" if style.contour else "")]
    parts.append(state.normalisation.describe())
    clipped = clipping_note(indexed, state.normalisation) if indexed is not None else ""
    return " · ".join(parts + ([clipped] if clipped else []))
