"""Which class the explanation maps explain when the reader has not chosen one (issue 20, item 2).

The finding that matters, never a "nothing found" class: the TB screening classifier's "tb" when it
is installed (that is what a TB reader checks the map for, whatever its call), otherwise the
positive finding with the highest probability among the classifiers that called one; when no
classifier called anything, no map by default (a map of "normal" or "no opacity" explains nothing a
reader looks for, and a whole-film heat map over a normal film reads as a finding).

And which heat map shows by default (`default_heat_layer`): one, since two colour the same pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.pipeline import SCREENING_LABEL
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.layers import LESION_KINDS
from cxrviewer.core.suitability import age_fit

# Labels that mean "no finding", whatever the model (the cards' own words).
NEGATIVE_LABELS = frozenset({"normal", "no_opacity", "no_finding", "other", "negative"})
# An explained finding whose own lesion-map model, when installed, gives the one map shown by default.
LESION_OF_LABEL = {"tb": "tb_lesions", "opacity": "opacity_lesions"}


def is_negative(finding: Finding, index: int) -> bool:
    """Whether label `index` of a classifier is its "nothing found" class: a negative word, or the
    first label of a two-label classifier called at a threshold (its second is the finding)."""
    return finding.labels[index] in NEGATIVE_LABELS or (finding.rule == "threshold" and index == 0)


def default_map_class(findings: Iterable[Finding]) -> tuple[str, int] | None:
    """(model, class index) the maps should explain by default, or None for no map."""
    findings = list(findings)
    for finding in findings:
        if SCREENING_LABEL in finding.labels:
            return finding.model, finding.labels.index(SCREENING_LABEL)
    called = [(finding.probabilities[i], finding.model, i) for finding in findings
              for i in finding.positive if not is_negative(finding, i)]
    if not called:
        return None
    _probability, model, index = max(called)
    return model, index


def default_heat_layer(label: str | None, lesion_layers: Iterable[str], best_method: str | None) -> str | None:
    """The one heat-map layer shown by default (issue 20: one map at a time).

    label: the class the maps explain (None: none). lesion_layers: the lesion layers with a model
    that works on this study. best_method: the map method that localises best for that class on
    held-out boxes (None: none known to). The explained finding's own lesion map, trained on outlined
    findings, when there is one; else the best localising method, else Grad-CAM; with no class
    explained, the first lesion layer (None without one).
    """
    lesions = set(lesion_layers)
    if label is None:
        return next((kind for kind in LESION_KINDS if kind in lesions), None)
    own = LESION_OF_LABEL.get(label)
    if own in lesions:
        return own
    return best_method or "gradcam"


def usable_lesion_layers(layer_of_model: Mapping[str, str], failed: Collection[str], meta: ImageMeta | None,
                         card_of: Callable[[str], ModelCard | None]) -> set[str]:
    """The lesion layers that may be the one map by default: those of the lesion models seen
    (`layer_of_model`: model -> its layer) whose model did not fail on this study (`failed`) and
    whose answer applies to this patient (its card's age range, `meta` the study's: the findings
    withhold it otherwise, and a map whose answer is withheld is not the map shown)."""
    return {kind for model, kind in layer_of_model.items()
            if kind not in failed and age_fit(meta, card_of(model)).answerable}
