"""Study cautions: plain-language warnings when a study lies outside what a model was trained on.

Two kinds. A study caution concerns the study whatever the model: a phantom is not a patient, so no
model's output about it means anything clinically. A model caution compares the study with one
model's card: a patient age outside the card's training population, or no age at all for a model
whose card is bound to an age range (`age_fit`: a children's model must not answer for an adult
whose age went unrecorded). Both are decided from metadata only (never pixels). The age is read
leniently, each liberty said in a note: a bare number ("81", which some writers store) is read as
years, and without an age tag the age is computed from the birth date and the study date. A study
raises a phantom caution only when its metadata says so in words, so ordinary studies stay free of
false alarms; a card without a population raises nothing (its limits are shown anyway).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime

from cxrviewer.core.cards import ModelCard
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.phantom import DEMO_PATIENT_ID

DEMO_PATIENT_NAME = "DEMO^PHANTOM"
PATIENT_AGE_TAG = "(0010,1010)"
PATIENT_BIRTH_DATE_TAG = "(0010,0030)"
# Free-text descriptions of the study itself; nested items (e.g. a referenced study) do not count.
DESCRIPTION_TAGS = ("(0008,1030)", "(0008,103E)", "(0020,4000)")  # study, series, image comments
_PHANTOM_WORDS = re.compile(r"\bphantom\b|\bnot an? (?:real |human )?patient\b", re.IGNORECASE)
_AGE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_BARE_YEARS = re.compile(r"^\s*(\d{1,3})\s*$")
OLDEST = 130  # a bare number above this is not read as an age
ADULT_YEARS = 18  # a patient younger than this (in completed years) is a child
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
    note: str = ""  # how it was read when not a plain DICOM age ("" when it was one)

    @property
    def text(self) -> str:
        """In words as recorded: "45 years", "1 month"."""
        name = _UNIT_NAMES[self.unit]
        return f"{self.count} {name}" + ("" if self.count == 1 else "s")


def parse_age(value: str) -> PatientAge | None:
    """A DICOM Age String → PatientAge; None when empty or not an age.

    Lenient in what DICOM forbids but writers do: lower-case units, missing leading zeros, spaces,
    and a bare number of years up to OLDEST ("81"), which is read as years with a note saying so.
    """
    match = _AGE.match(value or "")
    if match is not None:
        count, unit = int(match.group(1)), match.group(2).upper()
        return PatientAge(count * _UNIT_YEARS[unit], count, unit)
    bare = _BARE_YEARS.match(value or "")
    if bare is not None and int(bare.group(1)) <= OLDEST:
        count = int(bare.group(1))
        return PatientAge(float(count), count, "Y", f"recorded as a bare “{value.strip()}”, read as years")
    return None


def age_from_dates(birth: str, study: str) -> PatientAge | None:
    """Completed years between a DICOM birth date and study date (YYYYMMDD); None when either is
    missing or unreadable, or the birth is after the study."""
    try:
        born, seen = (datetime.strptime(text.strip(), "%Y%m%d").date() for text in (birth, study))
    except ValueError:
        return None
    years = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    if years < 0 or years > OLDEST:
        return None
    return PatientAge(float(years), years, "Y", "no age recorded: computed from the birth date and the study date")


def patient_age(meta: ImageMeta) -> PatientAge | None:
    """The study's Patient's Age (0010,1010), else the age from its birth date and study date; None
    when neither can be read."""
    values = _tag_values(meta, (PATIENT_AGE_TAG,))
    age = parse_age(values[0]) if values else None
    if age is None:
        births = _tag_values(meta, (PATIENT_BIRTH_DATE_TAG,))
        age = age_from_dates(births[0], meta.study_date) if births and meta.study_date else None
    return age


def is_child(meta: ImageMeta | None) -> bool:
    """Whether the study's recorded (or computed) age is under ADULT_YEARS; False when unknown."""
    age = patient_age(meta) if meta is not None else None
    return age is not None and age.years < ADULT_YEARS


@dataclass(frozen=True)
class AgeFit:
    """How a study's age fits a card's population: "within", "outside", "unknown" (the card is bound
    to an age range and the study gives no age) or "unbound" (the card names no age range)."""

    status: str
    age: PatientAge | None = None

    @property
    def answerable(self) -> bool:
        """Whether the model's answer applies to this patient as far as age can tell."""
        return self.status in ("within", "unbound")


def age_fit(meta: ImageMeta | None, card: ModelCard | None) -> AgeFit:
    if card is None or card.population is None or card.population.age_years is None:
        return AgeFit("unbound")
    age = patient_age(meta) if meta is not None else None
    if age is None:
        return AgeFit("unknown")
    return AgeFit("within" if within(age, *card.population.age_years) else "outside", age)


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
    """Cautions about this study for this model: its age outside the card's population, or unknown
    for a card bound to an age range, and how a leniently read age was read.
    name_age False leaves the age itself out (an anonymised export: age is a patient characteristic)."""
    if meta is None:
        return ()
    fit = age_fit(meta, card)
    if fit.status in ("unbound", "within"):
        return (f"Age {fit.age.text}: {fit.age.note}.",) if fit.age and fit.age.note and name_age else ()
    low, high = card.population.age_years
    trained_on = card.population.description or f"patients aged {low:g}–{high:g} years"
    if fit.status == "unknown":
        return (f"This model was trained on {trained_on}; this study records no age, so whether its "
                "answer applies to this patient is unknown.",)
    recorded = f"recorded age is {fit.age.text}" if name_age else "recorded age lies outside it"
    note = f" ({fit.age.note})" if fit.age.note and name_age else ""
    return (f"This model was trained on {trained_on}; this patient's {recorded}{note}.",)


def _tag_values(meta: ImageMeta, tags: tuple[str, ...]) -> list[str]:
    return [value for tag in tags if (value := meta.tag_value(tag, strip=False))]
