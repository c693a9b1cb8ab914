"""Model outputs in the words of a report (`core.export.Reading`): each call with its figure, the
operating threshold it was made at, what the card says the figure means, and the one-line summary
the findings panel shows (`core.reading_words`). Shared by the viewer's export and any batch report,
so both print the same sentences; every probability and threshold is a percentage.
"""

from __future__ import annotations

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import GateResult
from cxrviewer.analysis.pipeline import LesionFinding
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.export.content import Reading
from cxrviewer.core.reading_words import (
    GATE_WITHHELD,
    Summary,
    classifier_summary,
    lesion_summary,
    percent,
    plain_label,
    withheld,
)

__all__ = ["finding_reading", "finding_summary", "gate_verdict", "lesion_reading", "pending_reading", "percent",
           "withheld_reading"]


def _meaning(card: ModelCard | None) -> str:
    return card.probability_meaning if card is not None else ""


def finding_reading(finding: Finding, card: ModelCard | None) -> Reading:
    """A classifier's Finding: the called label(s), the probabilities, and the threshold rule."""
    labels, probs = finding.labels, finding.probabilities
    called = ", ".join(labels[i] for i in finding.positive) or "no label"
    if finding.rule == "threshold":
        relation = ">=" if 1 in finding.positive else "<"
        result = (f"{called}: P({labels[1]}) {percent(probs[1])} {relation} operating threshold "
                  f"{percent(finding.threshold)}")
    else:
        figures = ", ".join(f"{label} {percent(p)}" for label, p in zip(labels, probs, strict=True))
        rule = (f"the most probable of {len(labels)} labels, no threshold" if finding.rule == "argmax"
                else "each label at or above its own operating threshold")
        result = f"{called} ({rule}; {figures})"
    return Reading(finding.model, result + operating_point_text(finding), finding.threshold, _meaning(card),
                   finding_summary(finding), finding.origin)


def finding_summary(finding: Finding | LesionFinding) -> Summary:
    """The one-line answer of a classifier's or lesion model's finding (panel and reports alike)."""
    if isinstance(finding, LesionFinding):
        return lesion_summary(finding.model, finding.label, finding.score, finding.threshold, finding.site is not None)
    return classifier_summary(finding.model, finding.labels, finding.probabilities, finding.positive, finding.rule,
                              finding.threshold, finding.site is not None)


def withheld_reading(model: str, card: ModelCard | None, reason: str = GATE_WITHHELD) -> Reading:
    """A model whose answer is not shown (the gate withheld the findings): its line says so, no figure."""
    if card is not None and card.task == "segmentation" and card.labels:
        name = plain_label(card.labels[0])
    elif card is not None and len(card.labels) == 2:
        name = plain_label(card.labels[1])
    else:
        name = model
    return Reading(model, f"withheld: {reason}", summary=withheld(Summary(name, model, "withheld"), reason))


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
    result = (f"{call}: lesion score {percent(finding.score)} {relation} operating threshold "
              f"{percent(finding.threshold)}")
    return Reading(finding.model, result + operating_point_text(finding), finding.threshold, _meaning(card),
                   finding_summary(finding), finding.origin)


def gate_verdict(result: GateResult) -> str:
    """The frontal chest radiograph check in words, with its figure and threshold."""
    figures = f"(P {percent(result.score)}, threshold {percent(result.threshold)})"
    if result.accepted:
        return f"{result.model}: accepted as a frontal chest radiograph {figures}"
    return (f"{result.model}: NOT recognised as a frontal chest radiograph {figures}; the findings are "
            "unchecked and need particular caution")


def pending_reading(model: str, outcome: str | None) -> Reading:
    """A model that had not finished (None) or failed (its error message) when the report was made."""
    if outcome is None:
        return Reading(model, "still running when this report was made: no result")
    return Reading(model, f"could not run: {outcome}")
