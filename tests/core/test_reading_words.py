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
    card_text,
    classifier_summary,
    data_words,
    lesion_summary,
    method_words,
    metric_text,
    not_run,
    percent,
    population_reason,
    signature_words,
    split_words,
    threshold_origin,
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
    assert card_figures(both) == "AUC: external 0.795 (Shenzhen TB vs normal: never seen) · internal 0.998 (746 test films)"
    internal = card([Metric("dice", 0.973, "test: each source on its own")])
    assert card_figures(internal) == "Dice: external not measured · internal 0.973 (test films)"
    external = card([Metric("auc", 0.795, "shenzhen", scope="external"), Metric("pointing_game", 0.83, "test")])
    assert card_figures(external) == "AUC: external 0.795 (Shenzhen) · internal not reported"
    assert card_figures(card()) == ""


# -- the cards' developer wording in a reader's words (issue 20, item 5) ------------------------------
@pytest.mark.parametrize(("method", "words"), [
    ("holdout by patient val=0.2 test=0.2 seed=0",
     "tested on 20 % of the patients, kept apart from training; another 20 % chose the model and its threshold; "
     "no patient in two of these"),
    ("each source on its own (jsrt_lungs, openist_lungs): holdout by patient val=0.15 test=0.2 seed=0",
     "each source (JSRT, OpenIST) on its own: tested on 20 % of the patients, kept apart from training; another "
     "15 % chose the model and its threshold; no patient in two of these"),
    ("by source seed=0: trained on shenzhen (test_fraction=0.2 of each held out); validation tbx11k, openist, rsna; "
     "test tbx11k, rsna, jsrt (a source in both is halved by patient)",
     "trained on Shenzhen, tested on 20 % of its patients kept apart from training; the model and its threshold "
     "chosen on TBX11K, OpenIST, RSNA, never trained on; also tested on TBX11K, RSNA, JSRT (a source used for both "
     "is halved by patient)"),
    ("by period seed=1: trained on early (0.2 of its patients held out as the internal test); validation middle; "
     "external test late", "trained on early, tested on 20 % of its patients kept apart from training; the model "
     "chosen on middle; tested apart on late"),
    ("fold 0 of 4 by patient seed=0", "cross-validation by patient: tested on part 1 of 4, kept apart from training"),
    ("by patient, seed=3", "by patient"),
])
def test_a_split_method_is_said_in_words(method, words):
    assert method_words(method) == words


@pytest.mark.parametrize(("split", "words"), [
    ("test (n=746): holdout by patient val=0.15 test=0.15 seed=0", "746 test films"),
    ("validation (n=689): by source seed=0: trained on shenzhen (test_fraction=0.2 of each held out); validation "
     "tbx11k; test jsrt (a source in both is halved by patient)", "689 validation films (chose the model)"),
    ("test: holdout by patient val=0.15 test=0.15 seed=0", "test films"),
    ("test: jsrt (n=24)", "test: JSRT (24 films)"),
    ("pydicom NM (n=1)", "pydicom NM (1 film)"),
    ("tbx11k TB vs openist + rsna normal (validation: selection data) [TB and normal films from different sources]: "
     "by source seed=0: trained on shenzhen (test_fraction=0.2 of each held out)",
     "TBX11K TB vs OpenIST + RSNA normal (validation: selection data) (TB and normal films from different sources)"),
    ("val rsna (116 films; half selected on (val))", "validation RSNA (116 films; half selected on (validation))"),
])
def test_a_metrics_split_is_said_in_words_without_its_method(split, words):
    assert split_words(split) == words


def test_metric_names_and_figures_in_words_rates_as_percentages():
    assert metric_text("auc", 0.9123, (0.88, 0.94)) == "AUC 0.912 (95 % CI 0.880–0.940)"
    assert metric_text("specificity[rsna]", 0.718, (0.63, 0.792)) == "specificity on RSNA 71.8 % (95 % CI 63.0–79.2 %)"
    assert metric_text("spec_at_90_sens", 0.695) == "specificity at 90 % sensitivity 69.5 %"
    assert metric_text("sens_at_70_spec", 0.9) == "sensitivity at 70 % specificity 90.0 %"
    assert metric_text("macro_f1", 0.8) == "F1 score (mean over labels) 0.800"
    assert metric_text("false_positive_rate_jsrt", 0.05) == "normal films called (false positives), JSRT 5.0 %"
    assert metric_text("box_recall_at_fp_area_0.01", 0.706) == "TB boxes found at 1 % false-positive area 70.6 %"
    assert metric_text("pointing_game_gradcam", 0.043) == "map's peak inside a marked lesion (Grad-CAM map) 4.3 %"
    assert metric_text("tb_images_above_threshold", 0.88) == "TB films called 88.0 %"
    assert metric_text("identity_psnr", 34.81) == "PSNR of the unchanged film 34.8 dB"
    assert metric_text("accuracy", 1.0) == "accuracy 100.0 %"  # a share of films may be all of them


def test_card_sentences_lose_folders_seeds_and_file_names():
    assert data_words(("Kermany 2018 pneumonia (../shared/data/kermany_pneumonia/train); research use",)) == \
        "Kermany 2018 pneumonia; research use"
    assert card_text("every shared source (../shared/data: Kermany (300 patients), RSNA)") == \
        "every shared source (Kermany (300 patients), RSNA)"
    assert card_text("measured through the viewer's path, docs/tb-lesions-v2.md") == \
        "measured through the viewer's path, the project's notes"
    assert card_text("the same split (seed 0), seed=0 here") == "the same split (seed 0) here"
    assert card_text("per image, called at 0.6377 (Youden's J)") == "per image, called at 63.8 % (Youden's J)"
    assert card_text("The operating threshold P(tb) >= 0.1834 is") == "The operating threshold P(tb) >= 18.3 % is"
    assert card_text("test JSRT (76 films; never seen; Wilson 95 % CI)") == "test JSRT (76 films; never seen)"


def test_where_the_threshold_came_from_and_the_models_origin():
    from cxrviewer.core.site_settings import SiteThreshold

    assert threshold_origin(0.183, None) == "18.3 %, the model card's: chosen by its trainer on the validation films"
    site = SiteThreshold("tb", "tb", 0.42, 0.5, "1", 212, "2026-12-10")
    assert threshold_origin(0.42, site) == ("42.0 %, this site's: calibrated on 212 local films on 2026-12-10 "
                                            "(the model card's is 50.0 %)")
    assert signature_words("") == "release model, its signature verified on loading"
    assert signature_words("unsigned: trained here").startswith("unsigned: trained here — not a release model")
