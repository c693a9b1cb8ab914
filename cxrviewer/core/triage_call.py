"""How the worklist calls one model's answer for one study (issue 20, items 3 and 4): the call the
findings panel makes (abnormal, indeterminate or normal against the threshold in force, card's or
site's, `core.reading_words`), the figure as a percentage, and whether the answer applies to this
patient at all.

An answer does not apply when the gate did not accept the image as a frontal chest radiograph, when
the patient lies outside the card's population (or has no recorded age and the card is bound to an
age range, `core.suitability.age_fit`), or, for TB triage, when the patient is a child and the
reader has not included children: TB triage is an adult screening tool, and a normal child ranking
high in a TB list is a child X-rayed for no reason. Such an answer is called indeterminate, shown
greyed with its figure in brackets, says why in the findings panel's words, and sorts after every
answer that applies: it must not head a triage list.

Urgency orders a list most urgent first: answers that apply, abnormal before indeterminate before
normal, each by its figure; then the answers that do not apply, by figure.

Pure (no Qt), so the table model only paints what this says.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxrviewer.core.cards import ModelCard
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.reading_words import (
    ABNORMAL,
    GATE_WITHHELD,
    INDETERMINATE,
    NORMAL,
    Summary,
    percent,
    population_reason,
    withheld,
)
from cxrviewer.core.suitability import ADULT_YEARS, age_fit, is_child

CHILD_KEPT_OUT = (f"a child (under {ADULT_YEARS} years): kept out of TB triage unless “Include children in TB "
                  "triage” is ticked")
# Rank of each call that applies, most urgent highest; answers that do not apply rank below all.
URGENCY = {ABNORMAL: 3, INDETERMINATE: 2, NORMAL: 1}


@dataclass(frozen=True)
class TriageCall:
    """summary: the model's answer in the findings panel's words; score: the figure the worklist
    shows and sorts by, in [0, 1] (the probability of a finding, `gui.worklist_rows.score_of`);
    reason: why the answer does not apply to this patient, "" when it does."""

    summary: Summary
    score: float
    reason: str = ""

    @property
    def applies(self) -> bool:
        return not self.reason

    @property
    def call(self) -> str:
        return self.summary.call if self.applies else INDETERMINATE

    @property
    def text(self) -> str:
        """"abnormal 97.3 %"; an answer that does not apply: "indeterminate (97.3 %)"."""
        return f"{self.call} {percent(self.score)}" if self.applies else f"{self.call} ({percent(self.score)})"

    @property
    def explanation(self) -> str:
        """The findings panel's summary line: "TB: abnormal — 97.3 %, threshold 18.3 % (card)", or
        for an answer that does not apply, its withheld line with the reason, then the figure."""
        if self.applies:
            return self.summary.text()
        return f"{withheld(self.summary, self.reason).text()}\nThe model gave {percent(self.score)}; sorted after " \
               "the answers that apply."

    @property
    def urgency(self) -> tuple[int, float]:
        """Larger is more urgent."""
        return (URGENCY[self.call] if self.applies else 0, self.score)


def triage_call(summary: Summary, score: float, *, gate_accepted: bool | None = None, meta: ImageMeta | None = None,
                card: ModelCard | None = None, tb_triage: bool = False, include_children: bool = False) -> TriageCall:
    """The worklist's call of `summary` (an answered line, `core.reading_words`) with figure `score`.

    gate_accepted: the gate's verdict on the study (None: no gate, or not in yet). meta: the study's
    metadata (its age); card: the model's card (its population; None: no population known).
    tb_triage: the answer is the TB screening one, which keeps children out unless `include_children`."""
    reason = GATE_WITHHELD if gate_accepted is False else population_reason(age_fit(meta, card), card)
    if not reason and tb_triage and not include_children and is_child(meta):
        reason = CHILD_KEPT_OUT
    return TriageCall(summary, float(score), reason)
