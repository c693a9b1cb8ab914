"""The map layers' tooltips: does this explanation localise, for the model and class it explains now,
drawn as it is now (whole, or kept inside the lungs by "Inside the lungs only")?

Reads the shipped verdicts (`analysis.localisation_verdicts`) for the explained classifier's installed
weights, and for maps kept inside the lungs the installed lung model's weights too, so a re-trained
model (or lung model) never shows another version's figures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cxrviewer.analysis.localisation_verdicts import (
    DATASET_NAMES,
    OTHER_LUNGS_VERSION,
    OTHER_VERSION,
    LayerVerdict,
    LungsVersion,
    Result,
    Verdicts,
    installed_weights_sha256,
    load_verdicts,
)
from cxrviewer.core.layers import TITLES, ClassSelector

NO_CLASS_TIP = "Explains no classifier yet: the tooltip says whether it localises once a class is explained."
LOCALISES = "localises"
PREFERENCE = ("gradcam", "cam", "crm", "saliency")  # on a tie: Grad-CAM, the field's usual map, first
FEW_FILMS = 50  # below this many films a verdict is said to be weak evidence
SHORT_NAMES = {"rsna_pneumonia": "RSNA", "tbx11k_tb": "TBX11K"}
MEANING = {
    "localises": "localises: its peak falls in the boxed finding more often than chance (it is still no outline)",
    "does not localise": "does not localise: do not read it as where the finding is",
}


WHOLE_FILM = "drawn on the whole film"


def drawn_as(lungs_model: str | None) -> str:
    """Which variant of the maps the figures are for: how they are drawn now."""
    return WHOLE_FILM if lungs_model is None else f"drawn inside the lungs only (× {lungs_model}'s lung probability)"


def _figure(result: Result, inside_lungs: bool = False) -> str:
    low, high = result.pointing_ci
    # Kept inside the lungs, the chance a map must beat is a peak put anywhere in the lungs.
    chance = "chance in the lungs" if inside_lungs else "chance"
    return (f"pointing game {result.pointing:.2f} (95 % CI {low:.2f}–{high:.2f}) on {result.n} held-out boxed "
            f"{SHORT_NAMES.get(result.dataset, result.dataset)} films; {chance} {result.chance:.2f}")


def tooltip_text(kind: str, selector: ClassSelector | None, verdict: LayerVerdict | None,
                 lungs_model: str | None = None) -> str:
    """The tooltip of map layer `kind` explaining `selector`, from its looked-up verdict for the maps
    as drawn: whole (`lungs_model` None) or kept inside the lungs by `lungs_model`."""
    if selector is None or verdict is None:
        return NO_CLASS_TIP
    inside = lungs_model is not None
    head = f"{TITLES[kind]} for {selector.describe()}, {drawn_as(lungs_model)}"
    if verdict.primary is None:
        text = f"{head}: {verdict.status}"
        if verdict.status == OTHER_VERSION:
            text += " (its weights differ from those measured): whether it localises is unknown"
        elif verdict.status == OTHER_LUNGS_VERSION:
            text += f" ({lungs_model}'s weights differ from those measured): whether it localises is unknown"
    else:
        text = f"{head}: {_figure(verdict.primary, inside)} — {MEANING.get(verdict.status, verdict.status)}"
        if verdict.primary.n < FEW_FILMS:
            text += f"; only {verdict.primary.n} films: weak evidence either way"
    for other in verdict.others:
        text += (f"\nOn {DATASET_NAMES.get(other.dataset, other.dataset)} (another finding): {_figure(other, inside)}")
    if verdict.primary is not None or verdict.others:
        text += "\nMeasured on films this model never trained on; docs/localisation.md"
    return text


class MapTrust:
    """Tooltip texts for the map layers, from the verdicts at `verdicts_path` (default: the installed
    table) and the cards in `models_dir` (default: the installed models, the folder the analysis
    service runs them from)."""

    def __init__(self, verdicts_path: Path | None = None, models_dir: Path | None = None,
                 sha_of: Callable[[str, Path | None], str | None] = installed_weights_sha256):
        self.verdicts: Verdicts = load_verdicts(verdicts_path)
        self.models_dir = models_dir
        self._sha_of = sha_of

    def _lungs_version(self, lungs_model: str | None) -> LungsVersion | None:
        """The lung model keeping the maps inside the lungs, with its installed weights; None: whole maps."""
        return None if lungs_model is None else LungsVersion(lungs_model, self._sha_of(lungs_model, self.models_dir))

    def best_method(self, selector: ClassSelector, lungs_model: str | None = None) -> str | None:
        """The map method that localises best for `selector` on held-out boxes (the highest lower
        bound of its pointing game's CI among those whose verdict is "localises"; ties go to the
        earlier of `PREFERENCE`), or None when none is known to localise. With `lungs_model`, for the
        maps as drawn kept inside that model's lungs (a method that localises on the whole film may
        only be saying "somewhere in the lungs")."""
        sha = self._sha_of(selector.model, self.models_dir)
        lungs = self._lungs_version(lungs_model)
        best: tuple[float, str] | None = None
        for kind in PREFERENCE:
            verdict = self.verdicts.lookup(selector.model, sha, selector.class_index, kind, lungs)
            if verdict.status == LOCALISES and verdict.primary is not None:
                lower = verdict.primary.pointing_ci[0]
                if best is None or lower > best[0]:
                    best = (lower, kind)
        return None if best is None else best[1]

    def tooltip(self, kind: str, selector: ClassSelector | None, lungs_model: str | None = None) -> str:
        """The tooltip of map layer `kind` explaining `selector` (None: no class yet), drawn whole or
        (`lungs_model`) kept inside the lungs by that lung model."""
        if selector is None:
            return NO_CLASS_TIP
        sha = self._sha_of(selector.model, self.models_dir)
        lungs = self._lungs_version(lungs_model)
        verdict = self.verdicts.lookup(selector.model, sha, selector.class_index, kind, lungs)
        return tooltip_text(kind, selector, verdict, lungs_model)
