"""One way to say a model's answer (issue 20, items 5 and 10): the findings panel and every report
take their summary line, call and number format from core.reading_words."""

from __future__ import annotations

import hashlib

import pytest

from cxrviewer.core.cards import FileEntry, InputContract, Metric, ModelCard, Population
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.reading_words import (
    ABNORMAL,
    INDETERMINATE,
    NORMAL,
    NOT_RUN,
    WITHHELD,
    Summary,
    call_at,
    card_figures,
    classifier_summary,
    lesion_summary,
    not_run,
    percent,
    population_reason,
    withheld,
)
from cxrviewer.core.suitability import age_fit


def test_percent_never_claims_certainty():
    assert [percent(p) for p in (0.0, 0.0004, 0.973, 0.9996, 1.0)] == ["<0.1 %", "<0.1 %", "97.3 %", ">99.9 %",
                                                                         ">99.9 %"]


@pytest.mark.parametrize(("probability", "call"), [(0.998, ABNORMAL), (0.64, INDETERMINATE), (0.689, INDETERMINATE),
                                                   (0.69, ABNORMAL), (0.591, INDETERMINATE), (0.589, NORMAL),
                                                   (0.02, NORMAL)])
def test_calls_against_the_threshold_in_force_with_an_indeterminate_band(probability, call):
    assert call_at(probability, 0.64) == call


def test_a_two_label_classifier_says_its_finding_call_figure_and_whose_threshold():
    tb = classifier_summary("tb-screen", ("normal", "tb"), (0.002, 0.998), (1,), "threshold", 0.64, site=False)
    assert tb.text() == "TB: abnormal — 99.8 %, threshold 64.0 % (card)"
    site = classifier_summary("opac", ("no_opacity", "opacity"), (0.9, 0.1), (0,), "threshold", 0.42, site=True)
    assert site.text() == "Lung opacity: normal — 10.0 %, threshold 42.0 % (site)"


def test_a_most_probable_label_model_names_its_label_and_says_no_threshold():
    three = classifier_summary("kids3", ("normal", "bacteria", "virus"), (0.1, 0.7, 0.2), (1,), "argmax", None, False)
    assert three.text() == "Bacteria / virus: abnormal (bacteria) — 70.0 %, the most probable label"
    normal = classifier_summary("kids3", ("normal", "bacteria", "virus"), (0.8, 0.1, 0.1), (0,), "argmax", None, False)
    assert normal.call == NORMAL
    close = classifier_summary("kids3", ("normal", "bacteria", "virus"), (0.46, 0.5, 0.04), (1,), "argmax", None, False)
    assert close.call == INDETERMINATE


def test_lesion_scores_withheld_and_not_run_lines():
    lesions = lesion_summary("tb-lesions", "tb_lesions", 0.05, 0.3, site=False)
    assert lesions.text() == "TB-consistent areas: normal — 5.0 %, threshold 30.0 % (card)"
    gone = withheld(lesions, "the image was not accepted as a frontal chest radiograph")
    assert gone.text() == "TB-consistent areas: withheld — the image was not accepted as a frontal chest radiograph"
    assert gone.probability is None and not gone.answered
    assert not_run("m", "could not run: model m: missing file").text() == "m: not run — could not run: model m: missing file"
    assert not_run("m", "x").call == NOT_RUN and gone.call == WITHHELD
    with pytest.raises(ValueError, match="a call is one of"):
        Summary("TB", "tb", "positive")


def card(metrics=(), population=None) -> ModelCard:
    files = (FileEntry("onnx", "m.onnx", hashlib.sha256(b"m").hexdigest(), 1),)
    return ModelCard(name="m", version="1", task="classification", arch="a", labels=("normal", "tb"),
                     thresholds=(0.5, 0.5), input=InputContract(224, 224, 1), outputs=("logits",), files=files,
                     metrics=tuple(metrics), population=population)


def test_an_answer_outside_the_cards_population_says_why_without_the_age():
    children = card(population=Population("children aged 1-5", (1.0, 5.0)))
    adult = ImageMeta(path=None, format="DICOM", tags=(("(0010,1010)", "Patient's Age", "AS", "045Y"),))
    reason = population_reason(age_fit(adult, children), children)
    assert reason == "this patient is outside the population it was trained on (children aged 1-5)" and "45" not in reason
    unknown = population_reason(age_fit(ImageMeta(path=None, format="DICOM"), children), children)
    assert unknown.startswith("the study records no age")
    assert population_reason(age_fit(adult, card()), card()) == ""


def test_a_cards_external_figure_is_set_beside_its_internal_one():
    both = card([Metric("auc", 0.998, "test (n=746): holdout by patient"), Metric("auc", 0.95, "validation"),
                 Metric("auc", 0.795, "shenzhen TB vs normal: never seen", scope="external")])
    assert card_figures(both) == "AUC: external 0.795 (shenzhen TB vs normal) · internal 0.998 (test (n=746))"
    internal = card([Metric("dice", 0.973, "test: each source on its own")])
    assert card_figures(internal) == "Dice: external not measured · internal 0.973 (test)"
    external = card([Metric("auc", 0.795, "shenzhen", scope="external"), Metric("pointing_game", 0.83, "test")])
    assert card_figures(external) == "AUC: external 0.795 (shenzhen) · internal not reported"
    assert card_figures(card()) == ""
