"""Finding the prior: the same patient's latest earlier study among those open (issue 20, item 9).

Qt-free. The patient is matched by Patient ID; only when the shown study has no Patient ID is the
name used (and the result says which). A study with an ID is never matched to one without: a film
that cannot be shown to be the same patient's is not put beside it. The prior is the matched study
with the latest study date strictly before the shown study's; a study without a readable date is
never chosen, and when the shown study has none no prior is chosen at all (the order of two films
is not guessed). Two images of one study (the same Study Instance UID) are not each other's prior.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from cxrviewer.core.image import ImageMeta

BY_ID = "Patient ID"
BY_NAME = "name"
NO_PRIOR = "no earlier study of this patient in the worklist"


@dataclass(frozen=True)
class StudyRecord:
    """Who and when, for one study of the worklist: `study` is its id (the worklist row)."""

    study: int
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""  # DICOM DA, "YYYYMMDD"
    study_uid: str = ""

    @classmethod
    def from_meta(cls, study: int, meta: ImageMeta) -> StudyRecord:
        return cls(study, meta.patient_id.strip(), meta.patient_name.strip(), meta.study_date.strip(),
                   meta.study_uid.strip())

    @property
    def date(self) -> dt.date | None:
        return parse_study_date(self.study_date)


@dataclass(frozen=True)
class PriorSearch:
    """The answer: `prior` (its record) or None with `reason` saying why; `matched_by` is BY_ID or
    BY_NAME (which identity was compared), "" when the shown study has neither; `undated` counts the
    patient's other studies left out because they have no readable date."""

    prior: StudyRecord | None
    matched_by: str
    reason: str = ""
    undated: int = 0


def parse_study_date(text: str) -> dt.date | None:
    """A DICOM date "YYYYMMDD" (or the old "YYYY.MM.DD"), None when empty or not a real date."""
    digits = text.strip().replace(".", "")
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def _name_key(name: str) -> str:
    """A Person Name compared without case or spacing differences ("DOE^JANE" = "Doe^Jane ")."""
    return " ".join(name.replace("^", " ^ ").split()).casefold()


def find_prior(current: StudyRecord, others: Iterable[StudyRecord]) -> PriorSearch:
    """The prior of `current` among `others` (which may include `current` itself: it is skipped)."""
    if current.patient_id:
        matched_by = BY_ID
        same_patient = [r for r in others if r.patient_id == current.patient_id]
    elif _name_key(current.patient_name):
        matched_by = BY_NAME
        key = _name_key(current.patient_name)
        same_patient = [r for r in others if not r.patient_id and _name_key(r.patient_name) == key]
    else:
        return PriorSearch(None, "", "this study has neither a Patient ID nor a name: its prior cannot be found")
    same_patient = [r for r in same_patient if r.study != current.study
                    and not (current.study_uid and r.study_uid == current.study_uid)]
    undated = sum(r.date is None for r in same_patient)
    undated_note = f" ({undated} of this patient's studies have no study date)" if undated else ""
    if current.date is None:
        return PriorSearch(None, matched_by, "this study has no study date: which film is earlier is not known",
                           undated)
    earlier = [r for r in same_patient if r.date is not None and r.date < current.date]
    if not earlier:
        return PriorSearch(None, matched_by, NO_PRIOR + undated_note, undated)
    # The latest date wins; of two on that day, the first opened.
    latest = max(earlier, key=lambda r: (r.date, -r.study))
    return PriorSearch(latest, matched_by, "", undated)


def interval_text(earlier: dt.date, later: dt.date) -> str:
    """How long before `later` `earlier` was: "12 days", "5 months", "2 years 3 months"."""
    days = (later - earlier).days
    months = (later.year - earlier.year) * 12 + later.month - earlier.month - (later.day < earlier.day)
    if months < 2:
        return f"{days} day{'s' * (days != 1)}"
    if months < 24:
        return f"{months} months"
    years, months = divmod(months, 12)
    return f"{years} years" + (f" {months} month{'s' * (months != 1)}" if months else "")
