"""The worklist's call of an answer (issue 20, items 3 and 4), without Qt: the call and figure, why
an answer does not apply (gate, population, a child kept out of TB triage), the order of urgency,
and the readable model names the headers use."""

from __future__ import annotations

import hashlib

import pytest

from cxrviewer.core.cards import FileEntry, InputContract, ModelCard, Population
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.reading_words import (
    ABNORMAL,
    GATE_WITHHELD,
    INDETERMINATE,
    NORMAL,
    OUTSIDE_POPULATION,
    UNKNOWN_AGE,
    classifier_summary,
    lesion_summary,
    model_title,
)
from cxrviewer.core.suitability import is_child
from cxrviewer.core.triage_call import CHILD_KEPT_OUT, triage_call

AGE = "(0010,1010)"


def meta(age: str | None) -> ImageMeta:
    return ImageMeta(path=None, format="DICOM", tags=((AGE, "Patient's Age", "AS", age),) if age else ())


def card(labels=("normal", "tb"), ages=None, task="classification", description="") -> ModelCard:
    files = (FileEntry("onnx", "m.onnx", hashlib.sha256(b"m").hexdigest(), 1),)
    population = Population(description, ages) if description or ages else None
    return ModelCard(name="m", version="1", task=task, arch="a", labels=labels, thresholds=(0.5,) * len(labels),
                     input=InputContract(224, 224, 1), outputs=("logits",), files=files, population=population)


def tb(p: float, threshold: float = 0.5, site: bool = False):
    return classifier_summary("tb-screen", ("normal", "tb"), (1 - p, p), (int(p >= threshold),), "threshold",
                              threshold, site)


@pytest.mark.parametrize(("p", "call", "text"), [(0.97, ABNORMAL, "abnormal 97.0 %"),
                                                 (0.53, INDETERMINATE, "indeterminate 53.0 %"),
                                                 (0.2, NORMAL, "normal 20.0 %")])
def test_an_answer_that_applies_is_called_against_the_threshold_in_force(p, call, text):
    answer = triage_call(tb(p), p, gate_accepted=True, meta=meta("045Y"), card=card(), tb_triage=True)
    assert (answer.call, answer.text, answer.applies) == (call, text, True)
    assert answer.explanation == tb(p).text()


def test_a_site_threshold_makes_the_call_and_says_so():
    answer = triage_call(tb(0.3, threshold=0.2, site=True), 0.3)
    assert answer.call == ABNORMAL and answer.explanation == "TB: abnormal — 30.0 %, threshold 20.0 % (site)"


def test_answers_that_do_not_apply_are_indeterminate_in_brackets_and_say_why():
    rejected = triage_call(tb(0.99), 0.99, gate_accepted=False, meta=meta("045Y"))
    assert (rejected.call, rejected.text, rejected.reason) == (INDETERMINATE, "indeterminate (99.0 %)", GATE_WITHHELD)
    assert rejected.explanation.startswith(f"TB: withheld — {GATE_WITHHELD}\nThe model gave 99.0 %")
    kids = card(("normal", "pneumonia"), (1.0, 5.0), description="children aged 1–5")
    pneumonia = classifier_summary("kids", ("normal", "pneumonia"), (0.01, 0.99), (1,), "threshold", 0.5, False)
    adult = triage_call(pneumonia, 0.99, meta=meta("81"), card=kids)
    assert adult.reason == f"{OUTSIDE_POPULATION} (children aged 1–5)" and adult.call == INDETERMINATE
    assert adult.explanation.startswith(f"Pneumonia: withheld — {OUTSIDE_POPULATION} (children aged 1–5)")
    assert triage_call(pneumonia, 0.99, meta=meta(None), card=kids).reason == f"{UNKNOWN_AGE} (children aged 1–5)"
    assert triage_call(pneumonia, 0.99, meta=meta("004Y"), card=kids).applies


def test_children_are_kept_out_of_tb_triage_unless_included():
    child, adult = meta("007Y"), meta("018Y")
    assert triage_call(tb(0.9), 0.9, meta=child, card=card(), tb_triage=True).reason == CHILD_KEPT_OUT
    assert triage_call(tb(0.9), 0.9, meta=child, card=card(), tb_triage=True, include_children=True).applies
    assert triage_call(tb(0.9), 0.9, meta=child, card=card(), tb_triage=False).applies  # not TB triage
    assert triage_call(tb(0.9), 0.9, meta=adult, card=card(), tb_triage=True).applies
    assert triage_call(tb(0.9), 0.9, meta=meta(None), card=card(), tb_triage=True).applies  # age unknown
    # An adults' TB model keeps a child out by its population even when children are included.
    adults = card(("tb_lesions",), (18.0, 120.0), task="segmentation")
    lesions = lesion_summary("tb-lesions", "tb_lesions", 0.9, 0.5, False)
    assert not triage_call(lesions, 0.9, meta=child, card=adults, tb_triage=True, include_children=True).applies
    assert [is_child(meta(a)) for a in ("017Y", "018Y", "010M", "81", None)] == [True, False, True, False, False]


def test_urgency_puts_calls_that_apply_first_then_by_figure():
    calls = {"abnormal high": triage_call(tb(0.97), 0.97), "abnormal": triage_call(tb(0.7), 0.7),
             "indeterminate": triage_call(tb(0.52), 0.52), "normal": triage_call(tb(0.2), 0.2),
             "rejected": triage_call(tb(0.99), 0.99, gate_accepted=False),
             "child": triage_call(tb(0.9), 0.9, meta=meta("003Y"), tb_triage=True)}
    ranked = sorted(calls, key=lambda name: calls[name].urgency, reverse=True)
    assert ranked == ["abnormal high", "abnormal", "indeterminate", "normal", "rejected", "child"]


def test_readable_model_names_come_from_the_card():
    assert model_title("tb-screen-shenzhen", (), card=card(description="adults and some children")) == "TB"
    assert model_title("pneumonia-kermany", (), card=card(("normal", "pneumonia"), (1.0, 5.0))) == "Pneumonia (children)"
    assert model_title("kids3", (), card=card(("normal", "bacteria", "virus"), (1.0, 5.0))) == \
        "Bacteria / virus (children)"
    assert model_title("tb-lesions", (), "lesions", card(("tb_lesions",), (18.0, 120.0), "segmentation")) == \
        "TB-consistent areas (adults)"
    assert model_title("opacity-rsna", ("no_opacity", "opacity")) == "Lung opacity"  # no card: its labels
    assert model_title("odd", ()) == "odd"
