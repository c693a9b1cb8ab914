"""Study cautions: plain-language warnings when a study lies outside what a model was trained on.

Two kinds. A study caution concerns the study whatever the model: a phantom is not a patient, so no
model's output about it means anything clinically. A model caution compares the study with one
model's card: a recorded patient age outside the card's training population. Both are decided from
metadata only (never pixels), and conservatively: a study raises a caution only when its metadata
says so in words, so ordinary studies stay free of false alarms. Unknown facts (no recorded age, a
card without a population) raise nothing; the card's limits are shown anyway.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from cxrviewer.core.cards import ModelCard
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.phantom import DEMO_PATIENT_ID

DEMO_PATIENT_NAME = "DEMO^PHANTOM"
PATIENT_AGE_TAG = "(0010,1010)"
# Free-text descriptions of the study itself; nested items (e.g. a referenced study) do not count.
DESCRIPTION_TAGS = ("(0008,1030)", "(0008,103E)", "(0020,4000)")  # study, series, image comments
_PHANTOM_WORDS = re.compile(r"\bphantom\b|\bnot an? (?:real |human )?patient\b", re.IGNORECASE)
_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_UNIT_YEARS = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}
_UNIT_NAMES = {"D": "day", "W": "week", "M": "month", "Y": "year"}

SYNTHETIC_TEXT = ("Synthetic phantom, not a patient: no model here was trained on anything like it; "
                  "its outputs only demonstrate the display.")
PHANTOM_TEXT = ("Phantom, not a patient (the study is described as “{words}”): the models were trained on "
                "patients' radiographs, so their outputs here say nothing about a patient.")


@dataclass(frozen=True)
class PatientAge:
    """A DICOM Age String (VR AS, "045Y", "006M", "003W", "010D") as a number and as recorded."""

    years: float
    count: int
    unit: str  # "D", "W", "M" or "Y"

    @property
    def text(self) -> str:
        """In words as recorded: "45 years", "1 month"."""
        name = _UNIT_NAMES[self.unit]
        return f"{self.count} {name}" + ("" if self.count == 1 else "s")


def parse_age(value: str) -> PatientAge | None:
    """A DICOM Age String → PatientAge; None when empty or not an age (a bare number has no unit to trust).

    Lenient in what DICOM forbids but writers do: lower-case units, missing leading zeros, spaces.
    """
    match = _AGE.match(value or "")
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2).upper()
    return PatientAge(count * _UNIT_YEARS[unit], count, unit)


def patient_age(meta: ImageMeta) -> PatientAge | None:
    """The study's recorded Patient's Age (0010,1010), or None when absent or unreadable."""
    values = _tag_values(meta, (PATIENT_AGE_TAG,))
    return parse_age(values[0]) if values else None


def within(age: PatientAge, low: float, high: float) -> bool:
    """Whether `age` lies in [low, high] years; a whole-number `high` includes its whole final year."""
    upper_ok = math.floor(age.years) <= high if float(high).is_integer() else age.years <= high
    return low <= age.years and upper_ok


def study_cautions(meta: ImageMeta | None) -> tuple[str, ...]:
    """Cautions about the study itself, for every model: today, that it is a phantom, not a patient."""
    if meta is None:
        return ()
    if meta.patient_name == DEMO_PATIENT_NAME or meta.patient_id == DEMO_PATIENT_ID:
        return (SYNTHETIC_TEXT,)
    descriptions = [meta.description, *_tag_values(meta, DESCRIPTION_TAGS)]
    for text in descriptions:
        if _PHANTOM_WORDS.search(text):
            if re.search(r"\bsynthetic\b|\bsimulated\b", text, re.IGNORECASE):
                return (SYNTHETIC_TEXT,)
            return (PHANTOM_TEXT.format(words=text.strip()),)
    return ()


def model_cautions(meta: ImageMeta | None, card: ModelCard | None, *, name_age: bool = True) -> tuple[str, ...]:
    """Cautions about this study for this model: the recorded age outside its training population.
    name_age False leaves the age itself out (an anonymised export: age is a patient characteristic)."""
    if meta is None or card is None or card.population is None or card.population.age_years is None:
        return ()
    age = patient_age(meta)
    low, high = card.population.age_years
    if age is None or within(age, low, high):
        return ()
    trained_on = card.population.description or f"patients aged {low:g}–{high:g} years"
    recorded = f"is {age.text}" if name_age else "lies outside it"
    return (f"This model was trained on {trained_on}; this patient's recorded age {recorded}.",)


def _tag_values(meta: ImageMeta, tags: tuple[str, ...]) -> list[str]:
    return [value for tag, name, _vr, value in meta.tags if tag in tags and ">" not in name]
