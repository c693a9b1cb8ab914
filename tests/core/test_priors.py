"""Finding the prior (issue 20, item 9): the same patient's latest earlier study, never a guess."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cxrviewer.core.image import ImageMeta
from cxrviewer.core.priors import (
    BY_ID,
    BY_NAME,
    NO_PRIOR,
    StudyRecord,
    find_prior,
    interval_text,
    parse_study_date,
)


def record(study: int, date: str = "", patient_id: str = "P1", name: str = "", uid: str = "") -> StudyRecord:
    return StudyRecord(study, patient_id, name, date, uid or f"1.2.{study}")


def test_same_id_the_earlier_date_is_the_prior_and_the_later_is_not():
    current, earlier, later = record(0, "20240315"), record(1, "20210610"), record(2, "20250101")
    search = find_prior(current, [current, earlier, later])
    assert search.prior == earlier and search.matched_by == BY_ID and search.reason == ""
    # The earlier study has no prior: the later one does not count.
    assert find_prior(earlier, [current, earlier, later]).prior is None


def test_several_priors_the_latest_earlier_one():
    current = record(0, "20240315")
    others = [record(1, "20190101"), record(2, "20230714"), record(3, "20211231"), record(4, "20240316")]
    assert find_prior(current, [current, *others]).prior.study == 2


def test_other_patients_are_ignored():
    current = record(0, "20240315", "P1")
    search = find_prior(current, [current, record(1, "20230101", "P2"), record(2, "20220101", "p1")])
    assert search.prior is None and search.reason == NO_PRIOR


def test_the_same_study_is_not_its_own_prior():
    current = record(0, "20240315", uid="1.2.3")
    assert find_prior(current, [current]).prior is None
    # Another image of the same study (same Study Instance UID, an earlier date written wrongly) neither.
    assert find_prior(current, [current, record(1, "20240101", uid="1.2.3")]).prior is None
    # The same day is not earlier.
    assert find_prior(current, [current, record(2, "20240315")]).prior is None


def test_no_date_on_the_shown_study_chooses_nothing():
    current = record(0, "")
    search = find_prior(current, [current, record(1, "20200101")])
    assert search.prior is None and "no study date" in search.reason and search.matched_by == BY_ID


def test_undated_studies_of_the_patient_are_never_chosen_and_are_counted():
    current = record(0, "20240315")
    search = find_prior(current, [current, record(1, ""), record(2, "not a date"), record(3, "20220230")])
    assert search.prior is None and search.undated == 3
    assert search.reason == f"{NO_PRIOR} (3 of this patient's studies have no study date)"
    # A dated earlier study is still found beside undated ones.
    search = find_prior(current, [current, record(1, ""), record(4, "20200505")])
    assert search.prior.study == 4 and search.undated == 1


def test_the_name_is_used_only_when_the_id_is_missing_and_says_so():
    current = record(0, "20240315", patient_id="", name="DOE^JANE")
    others = [record(1, "20220101", patient_id="", name="Doe^Jane "), record(2, "20230101", patient_id="X9",
                                                                             name="DOE^JANE")]
    search = find_prior(current, [current, *others])
    # The study with an ID is not assumed to be the same patient as one without.
    assert search.prior.study == 1 and search.matched_by == BY_NAME
    # With an ID, a same-named study without one does not match.
    with_id = record(5, "20240315", patient_id="X9", name="DOE^JANE")
    assert find_prior(with_id, [with_id, others[0]]).prior is None


def test_neither_id_nor_name():
    current = record(0, "20240315", patient_id="", name="")
    search = find_prior(current, [current, record(1, "20200101", patient_id="", name="")])
    assert search.prior is None and search.matched_by == "" and "neither a Patient ID nor a name" in search.reason


def test_a_tie_on_the_latest_date_takes_the_first_opened():
    current = record(0, "20240315")
    assert find_prior(current, [current, record(3, "20230101"), record(2, "20230101")]).prior.study == 2


def test_record_from_meta():
    meta = ImageMeta(Path("a.dcm"), "DICOM", patient_id=" P1 ", patient_name="DOE^JANE", study_date="20240315",
                     study_uid="1.2.3")
    assert StudyRecord.from_meta(7, meta) == StudyRecord(7, "P1", "DOE^JANE", "20240315", "1.2.3")


@pytest.mark.parametrize(("text", "date"), [("20240315", dt.date(2024, 3, 15)), ("2024.03.15", dt.date(2024, 3, 15)),
                                            ("", None), ("2024031", None), ("20241301", None), ("abcdefgh", None)])
def test_parse_study_date(text, date):
    assert parse_study_date(text) == date


@pytest.mark.parametrize(("earlier", "later", "text"), [
    (dt.date(2024, 3, 1), dt.date(2024, 3, 13), "12 days"),
    (dt.date(2024, 3, 14), dt.date(2024, 3, 15), "1 day"),
    (dt.date(2023, 10, 15), dt.date(2024, 3, 15), "5 months"),
    (dt.date(2021, 6, 10), dt.date(2024, 3, 15), "2 years 9 months"),
    (dt.date(2021, 3, 15), dt.date(2024, 3, 15), "3 years"),
])
def test_interval_text(earlier, later, text):
    assert interval_text(earlier, later) == text
