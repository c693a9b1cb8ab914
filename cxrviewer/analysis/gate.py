"""Is this a frontal chest radiograph? The gate every finding passes before it is shown.

An installed model whose card task is "gate" labels an image "other" or "frontal_cxr"; the image is
accepted when P(frontal_cxr) reaches the card's operating threshold. A rejected image keeps its
findings withheld until the reader chooses to see them anyway (`findings_visible`): the override is
the reader's, never silent, and is remembered only for the study it was given for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cxrviewer.analysis.findings import Finding, classify_pixels
from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.runtime.backend import LoadedModel

ACCEPTED_LABEL = "frontal_cxr"
WITHHELD_MESSAGE = "Not recognised as a frontal chest radiograph: findings withheld"


@dataclass(frozen=True)
class GateResult:
    """accepted: score >= threshold. score: P(frontal chest radiograph) in [0, 1]. threshold: the
    card's operating threshold for it (chosen on validation data)."""

    model: str
    accepted: bool
    score: float
    threshold: float


def gate_check(loaded: LoadedModel, pixels: npt.NDArray[np.float32]) -> GateResult:
    """pixels (H, W) float32 [0, 1], display polarity (air dark), the whole image → the gate's verdict.

    Raises ModelError when the model is not a gate, or its labels do not end in "frontal_cxr"."""
    check_gate_card(loaded.card)
    return gate_result(classify_pixels(loaded, np.asarray(pixels, dtype=np.float32)))


def check_gate_card(card: ModelCard) -> None:
    """Raise ModelError unless `card` is a gate labelled (other, frontal_cxr)."""
    if card.task != "gate":
        raise ModelError(card.name, f"is a {card.task} model, not a gate")
    if len(card.labels) != 2 or card.labels[1] != ACCEPTED_LABEL:
        raise ModelError(card.name, f"a gate's labels must be (other, {ACCEPTED_LABEL}), got {list(card.labels)}")


def gate_result(finding: Finding) -> GateResult:
    """A gate's Finding (two labels, decided at the card's threshold) read as the gate's verdict."""
    threshold = finding.threshold if finding.threshold is not None else 0.5
    return GateResult(finding.model, finding.positive == (1,), finding.probabilities[1], threshold)


def findings_visible(result: GateResult | None, override: bool) -> bool:
    """Findings are shown when no gate is installed (None), the image passed, or the reader overrode it."""
    return result is None or result.accepted or override
