"""Model outputs in the words of a report (`core.export.Reading`): each call with its figure, the
operating threshold it was made at, and what the card says the figure means. Shared by the viewer's
export and any batch report, so both print the same sentences.
"""

from __future__ import annotations

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import GateResult
from cxrviewer.analysis.pipeline import LesionFinding
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.export.content import Reading


def percent(p: float) -> str:
    """0.973 → "97.3 %"; never "0.0 %" or "100.0 %", which a rounded probability does not mean."""
    if p < 0.001:
        return "<0.1 %"
    if p > 0.999:
        return ">99.9 %"
    return f"{100 * p:.1f} %"


def _meaning(card: ModelCard | None) -> str:
    return card.probability_meaning if card is not None else ""


def finding_reading(finding: Finding, card: ModelCard | None) -> Reading:
    """A classifier's Finding: the called label(s), the probabilities, and the threshold rule."""
    labels, probs = finding.labels, finding.probabilities
    called = ", ".join(labels[i] for i in finding.positive) or "no label"
    if finding.rule == "threshold":
        relation = ">=" if 1 in finding.positive else "<"
        result = f"{called}: P({labels[1]}) {percent(probs[1])} {relation} operating threshold {finding.threshold:.3f}"
    else:
        figures = ", ".join(f"{label} {percent(p)}" for label, p in zip(labels, probs, strict=True))
        rule = (f"the most probable of {len(labels)} labels, no threshold" if finding.rule == "argmax"
                else "each label at or above its own operating threshold")
        result = f"{called} ({rule}; {figures})"
    return Reading(finding.model, result + operating_point_text(finding), finding.threshold, _meaning(card))


def operating_point_text(finding: Finding | LesionFinding) -> str:
    """The site threshold a call was made at, and an unsigned model's origin, for a report line."""
    parts = ([f"called at the {finding.site.describe()}"] if finding.site is not None else [])
    parts += [finding.origin] if finding.origin else []
    return f" [{'; '.join(parts)}]" if parts else ""


LESION_CALLS = {"tb_lesions": ("TB-consistent findings", "no TB-consistent findings called"),
                "opacity_lesions": ("lung opacity", "no lung opacity called")}


def lesion_reading(finding: LesionFinding, card: ModelCard | None) -> Reading:
    """A lesion model's (TB lesions, lung opacity) image-level score against its card threshold."""
    positive, negative = LESION_CALLS.get(finding.label, LESION_CALLS["tb_lesions"])
    call = positive if finding.positive else negative
    relation = ">=" if finding.positive else "<"
    result = f"{call}: lesion score {finding.score:.3f} {relation} operating threshold {finding.threshold:.3f}"
    return Reading(finding.model, result + operating_point_text(finding), finding.threshold, _meaning(card))


def gate_verdict(result: GateResult) -> str:
    """The frontal chest radiograph check in words, with its figure and threshold."""
    figures = f"(P {percent(result.score)}, threshold {result.threshold:.3f})"
    if result.accepted:
        return f"{result.model}: accepted as a frontal chest radiograph {figures}"
    return (f"{result.model}: NOT recognised as a frontal chest radiograph {figures}; the findings are "
            "unchecked and need particular caution")


def pending_reading(model: str, outcome: str | None) -> Reading:
    """A model that had not finished (None) or failed (its error message) when the report was made."""
    if outcome is None:
        return Reading(model, "still running when this report was made: no result")
    return Reading(model, f"could not run: {outcome}")
