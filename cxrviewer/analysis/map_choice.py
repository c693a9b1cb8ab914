"""Which class the explanation maps explain when the reader has not chosen one (issue 20, item 2).

The finding that matters, never a "nothing found" class: the TB screening classifier's "tb" when it
is installed (that is what a TB reader checks the map for, whatever its call), otherwise the
positive finding with the highest probability among the classifiers that called one; when no
classifier called anything, no map by default (a map of "normal" or "no opacity" explains nothing a
reader looks for, and a whole-film heat map over a normal film reads as a finding).
"""

from __future__ import annotations

from collections.abc import Iterable

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.pipeline import SCREENING_LABEL

# Labels that mean "no finding", whatever the model (the cards' own words).
NEGATIVE_LABELS = frozenset({"normal", "no_opacity", "no_finding", "other", "negative"})


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
