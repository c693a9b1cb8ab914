"""Study cautions: phantom studies and ages outside a card's training population, from metadata alone."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from io_samples import grey_dataset, save

from cxrviewer import paths
from cxrviewer.core.cards import (
    FileEntry,
    HeadLayer,
    HeadSpec,
    InputContract,
    ModelCard,
    Population,
    card_from_dict,
    card_to_dict,
    write_card,
)
from cxrviewer.core.errors import ModelError
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.io import read_image
from cxrviewer.core.suitability import (
    SYNTHETIC_TEXT,
    AgeFit,
    age_fit,
    age_from_dates,
    model_cautions,
    parse_age,
    patient_age,
    study_cautions,
    within,
)

KERMANY = Population("children aged 1–5, one Guangzhou hospital", (1.0, 5.0))


def card(population: Population | None = KERMANY) -> ModelCard:
    return ModelCard(
        name="kids", version="1", task="classification", arch="tbnet", labels=("normal", "pneumonia"),
        thresholds=(0.5, 0.5), input=InputContract(224, 224, 1), outputs=("logits", "features"),
        files=(FileEntry("onnx", "kids.onnx", "0" * 64, 1),),
        head=HeadSpec("gap_linear", "kids.onnx", (HeadLayer("linear", {}, "w", "b"),)),
        population=population,
    )


def meta(age: str | None = None, description: str = "", **fields) -> ImageMeta:
    tags = (("(0010,1010)", "Patient's Age", "AS", age),) if age is not None else ()
    if description:
        tags += (("(0008,1030)", "Study Description", "LO", description),)
    return ImageMeta(Path("study.dcm"), "DICOM", description=description, tags=tags, **fields)


# -- ages -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "years", "text"),
    [
        ("045Y", 45.0, "45 years"),
        ("001Y", 1.0, "1 year"),
        ("006M", 0.5, "6 months"),
        ("003W", 21 / 365.25, "3 weeks"),
        ("010D", 10 / 365.25, "10 days"),
        ("45y", 45.0, "45 years"),  # lenient: lower case, no leading zeros
        (" 7 Y ", 7.0, "7 years"),
        ("000D", 0.0, "0 days"),
    ],
)
def test_age_strings_parse_in_every_unit(value, years, text):
    age = parse_age(value)
    assert age is not None and age.years == pytest.approx(years, rel=1e-12) and age.text == text


@pytest.mark.parametrize("value", ["", "131", "Y", "045X", "4500Y", "-5Y", "forty", "045Y 006M", "45.5"])
def test_unreadable_ages_are_unknown_not_guessed(value):
    assert parse_age(value) is None


def test_a_bare_number_is_read_as_years_and_says_so():
    """Issue 20: an 81-year-old stored as a bare "81" raised no caution on the children's models."""
    age = parse_age(" 81 ")
    assert (age.years, age.text, age.note) == (81.0, "81 years", "recorded as a bare “81”, read as years")
    assert parse_age("045Y").note == ""
    assert model_cautions(meta("81"), card()) == (
        "This model was trained on children aged 1–5, one Guangzhou hospital; this patient's recorded age is "
        "81 years (recorded as a bare “81”, read as years).",)
    # Within the range, the liberty taken is still said.
    assert model_cautions(meta("3"), card()) == ("Age 3 years: recorded as a bare “3”, read as years.",)


def test_without_an_age_the_age_comes_from_birth_and_study_dates(tmp_path):
    ds = grey_dataset(np.zeros((4, 4), np.uint16), PatientBirthDate="19450612", StudyDate="20260611")
    study = read_image(save(ds, tmp_path / "old.dcm")).meta
    age = patient_age(study)
    assert (age.count, age.unit) == (80, "Y") and "birth date" in age.note  # the day before the birthday
    assert age_fit(study, card()).status == "outside" and age_fit(study, card(None)).status == "unbound"
    assert age_from_dates("20260612", "20260611") is None and age_from_dates("", "20260611") is None


def test_an_age_bound_model_without_an_age_says_its_answer_may_not_apply():
    assert age_fit(meta(None), card()) == AgeFit("unknown") and not AgeFit("unknown").answerable
    (caution,) = model_cautions(meta(None), card())
    assert caution == ("This model was trained on children aged 1–5, one Guangzhou hospital; this study records "
                       "no age, so whether its answer applies to this patient is unknown.")
    assert age_fit(meta("003Y"), card()).answerable and age_fit(meta("045Y"), card(None)).answerable
    assert not age_fit(meta("045Y"), card()).answerable


def test_age_range_takes_in_the_whole_final_year_of_a_whole_number_bound():
    assert within(parse_age("071M"), 1, 5)  # 5 years 11 months is "aged 5"
    assert not within(parse_age("072M"), 1, 5)
    assert not within(parse_age("011M"), 1, 5) and within(parse_age("012M"), 1, 5)
    assert within(parse_age("005M"), 0, 0.5) and not within(parse_age("007M"), 0, 0.5)


# -- phantoms ---------------------------------------------------------------------------------------
def test_the_shipped_demo_phantom_raises_the_synthetic_caution():
    assert study_cautions(read_image(paths.demo_study()).meta) == (SYNTHETIC_TEXT,)


def test_an_ordinary_dicom_raises_nothing(tmp_path):
    # io_samples names its patient "Test^Phantom": a patient's name alone must not raise a caution.
    ds = grey_dataset(np.zeros((4, 4), np.uint16), StudyDescription="CHEST PA", PatientAge="045Y")
    study = read_image(save(ds, tmp_path / "chest.dcm")).meta
    assert study.patient_name == "Test^Phantom" and patient_age(study).years == 45.0
    assert study_cautions(study) == ()
    assert model_cautions(study, card(Population("adults", (18, 90)))) == ()


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Lungman chest phantom, QA", "described as “Lungman chest phantom, QA”"),
        ("Simulated phantom radiograph", "Synthetic phantom, not a patient"),
        ("Test image, not a patient", "described as “Test image, not a patient”"),
        ("CHEST PA AND LATERAL", None),
        ("Phantomas ward follow-up", None),  # the word, not a part of another
    ],
)
def test_descriptions_say_phantom_in_words(description, expected):
    cautions = study_cautions(meta(description=description))
    if expected is None:
        assert cautions == ()
    else:
        assert len(cautions) == 1 and expected in cautions[0]


def test_a_phantom_in_a_nested_sequence_item_does_not_count():
    nested = (("(0008,1030)", "Referenced Study Sequence[1] > Study Description", "LO", "phantom"),)
    assert study_cautions(ImageMeta(Path("x.dcm"), "DICOM", tags=nested)) == ()
    assert study_cautions(None) == ()


# -- population ---------------------------------------------------------------------------------------
def test_an_age_outside_the_cards_population_is_named():
    assert model_cautions(meta("045Y"), card()) == (
        "This model was trained on children aged 1–5, one Guangzhou hospital; "
        "this patient's recorded age is 45 years.",)
    assert model_cautions(meta("006M"), card(Population("", (1, 5)))) == (
        "This model was trained on patients aged 1–5 years; this patient's recorded age is 6 months.",)


def test_the_shipped_tb_lesion_model_cautions_for_children_only():
    """Its card says adults (18 years on): it called 45 of 45 held-out Kermany children positive."""
    from cxrviewer.core.cards import load_card

    tb = load_card(paths.install_root() / "models" / "tb-lesions-tbx11k.card.json", verify_files=False)
    assert tb.population.age_years == (18.0, 120.0)
    (caution,) = model_cautions(meta("005Y"), tb)
    assert caution.startswith("This model was trained on adults: TBX11K") and caution.endswith("is 5 years.")
    assert model_cautions(meta("017Y"), tb) != ()
    assert model_cautions(meta("018Y"), tb) == model_cautions(meta("062Y"), tb) == ()
    assert "records no age" in model_cautions(meta(None), tb)[0]  # an adults' model: a child may not be excluded


@pytest.mark.parametrize(
    ("age", "population"),
    [("003Y", KERMANY), ("071M", KERMANY), ("045Y", None), (None, None),
     ("045Y", Population("adults, one hospital", None))],
)
def test_no_caution_inside_the_range_or_when_the_card_names_no_age_range(age, population):
    assert model_cautions(meta(age), card(population)) == ()
    assert model_cautions(None, card()) == () and model_cautions(meta("045Y"), None) == ()


def test_population_round_trips_through_the_written_card(tmp_path):
    path = tmp_path / "kids.card.json"
    for population in (KERMANY, Population("adults", None), None):
        write_card(card(population), path)
        assert card_from_dict("kids", json.loads(path.read_text())) == card(population)
    assert json.loads(path.read_text())["population"] is None
    write_card(card(), path)
    assert json.loads(path.read_text())["population"] == {
        "description": "children aged 1–5, one Guangzhou hospital", "age_years": [1.0, 5.0]}


@pytest.mark.parametrize(
    ("population", "message"),
    [
        ("children", "card field population has the wrong type \\(str\\)"),
        ({"age_years": [5, 1]}, "card field population.age_years must be \\[low, high\\] years"),
        ({"age_years": [-1, 5]}, "card field population.age_years must be \\[low, high\\] years"),
        ({"age_years": [1, 5, 9]}, "card field population.age_years must be \\[low, high\\]"),
        ({"age_years": ["1", "5"]}, "card field population.age_years must be a list of numbers"),
        ({"description": 3}, "card field population.description has the wrong type"),
    ],
)
def test_a_malformed_population_is_refused_by_field(population, message):
    data = json.loads(json.dumps(card_to_dict(card())))
    data["population"] = population
    with pytest.raises(ModelError, match=f"model kids: {message}"):
        card_from_dict("kids", data)


def test_a_card_without_the_field_reads_as_no_population():
    data = json.loads(json.dumps(card_to_dict(replace(card(), population=None))))
    del data["population"]
    assert card_from_dict("kids", data).population is None
