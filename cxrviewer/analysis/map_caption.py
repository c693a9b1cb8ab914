"""The words beside the maps on the film: what the explanation maps explain and how sure the model
is of it (issue 20), and what each lesion map comes from.

Separate from the Qt controller that draws them (`gui.layer_controller`) so the text is decided in
one Qt-free place, the same for the film's caption and the exports' legends, and testable without a
window.
"""

from __future__ import annotations

from cxrviewer.analysis.findings import Finding
from cxrviewer.core.layers import ClassSelector
from cxrviewer.core.reading_words import percent


def class_probability(finding: Finding | None, class_index: int) -> float | None:
    """The classifier's probability of the explained class, or None when its finding is not in (or
    it has no such class)."""
    if finding is None or class_index >= len(finding.probabilities):
        return None
    return float(finding.probabilities[class_index])


def _class_percent(finding: Finding | None, class_index: int) -> str | None:
    # Formatted from the finding's own number, as the findings panel shows it.
    if finding is None or class_index >= len(finding.probabilities):
        return None
    return percent(finding.probabilities[class_index])


def maps_caption(method_names: list[str], selected: ClassSelector, finding: Finding | None) -> str:
    """The film's caption for the explanation maps drawn: 'CRM: model / label — 96.3 %'."""
    probability = _class_percent(finding, selected.class_index)
    return (f"{', '.join(method_names)}: {selected.model} / {selected.label}"
            + ("" if probability is None else f" — {probability}"))


def maps_explain(selected: ClassSelector, finding: Finding | None, inside_lungs: bool) -> str:
    """What an explanation map's legend says it explains: the class, its probability, and whether
    the map is kept inside the lungs."""
    probability = _class_percent(finding, selected.class_index)
    return (selected.describe() + ("" if probability is None else f", {probability}")
            + (", inside the lungs" if inside_lungs else ""))


def lesion_source(model: str, score: float | None) -> str:
    """What a lesion map comes from: its model, and the image score it gave, when it gives one."""
    return f"{model}" + ("" if score is None else f", image score {percent(score)}")
