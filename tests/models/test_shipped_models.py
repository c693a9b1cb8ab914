"""The models the project ships: installed, intact, honest cards, and answering as their cards say.

Each shipped card records what its files gave for one fixed radiograph of the shared data
(`reference`, written by scripts/ship_model.py through the viewer's own read → preprocess → runtime
path): a classifier's probabilities, an image model's output figures. Recomputing them here catches
a changed file, preprocessing step, tiling or runtime.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.analysis.batch import reference_figures
from cxrviewer.analysis.findings import classify_pixels
from cxrviewer.core.cards import card_path, load_card, write_card
from cxrviewer.core.errors import ModelError
from cxrviewer.core.io import read_image
from cxrviewer.runtime.registry import installed_models, load_model

CLASSIFIERS = ("pneumonia-kermany", "pneumonia3-kermany", "opacity-rsna", "cxr-gate", "tb-screen-shenzhen")
IMAGE_MODELS = ("lungs-unet", "bone-suppression-jsrt", "tb-lesions-tbx11k")
SHIPPED = CLASSIFIERS + IMAGE_MODELS
# The held-out figures each kind of card must carry on its test split.
TEST_FIGURES = {"classification": {"accuracy", "auc", "f1"}, "gate": {"accuracy", "auc", "f1"},
                "segmentation": {"dice", "hd95"}, "bone_suppression": {"psnr", "identity_psnr", "ssim", "ms_ssim"},
                "lesions": {"pointing_game", "box_recall_at_fp_area_0.05", "tb_images_above_threshold"}}
needs_data = pytest.mark.skipif(not paths.shared_data_dir().is_dir(), reason="needs ../shared/data (reference radiographs)")


def test_every_shipped_model_is_installed():
    assert set(SHIPPED) <= set(installed_models())


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_card_is_written_back_byte_for_byte(tmp_path, name):
    """The cards are signed: one read and written again must not change a byte (its `input`, held as
    the preprocessing contract, goes back as "<scaling>/<resize>", value_range and preprocessing)."""
    path = card_path(paths.models_dir(), name)
    card = load_card(path, verify_files=False)
    write_card(card, tmp_path / path.name)
    assert (tmp_path / path.name).read_bytes() == path.read_bytes()
    assert card.input.resize == "stretch" and card.input.scaling in ("unit", "zscore")


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_card_says_what_a_reader_needs(name):
    card = load_card(card_path(paths.models_dir(), name))  # verifies every file's sha256
    assert {f.role for f in card.files} == {"onnx", "weights", "saliency_onnx", "head"}
    test_figures = [m for m in card.metrics if m.split.startswith("test")]
    assert TEST_FIGURES[card.task] <= {m.name for m in test_figures}
    auc = next(m for m in test_figures if m.name == "auc")
    assert auc.ci95 is not None and auc.ci95[0] <= auc.value <= auc.ci95[1]
    assert card.probability_meaning and len(card.reference.probabilities) == len(card.labels)
    _check_common_facts(card)


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_image_model_card_says_what_a_reader_needs(name):
    card = load_card(card_path(paths.models_dir(), name))
    assert {f.role for f in card.files} == {"onnx", "weights"}
    assert card.input.resize_policy in ("resize", "rescale_residual")
    test_figures = {m.name for m in card.metrics if m.split.startswith("test")}
    kind = "lesions" if card.labels == ("tb_lesions",) else card.task
    assert TEST_FIGURES[kind] <= test_figures, f"{name}: held-out figures missing"
    if kind == "lesions":  # the image-level false-positive rate on at least one source never trained on
        assert any(m.name.startswith("false_positive_rate_") and "never used in training" in m.split for m in card.metrics)
        assert len(card.thresholds) == 1 and 0 < card.thresholds[0] < 1
    assert card.reference.figures and not card.reference.probabilities
    _check_common_facts(card)


def _check_common_facts(card):
    assert card.limits and "not validated" in " ".join(card.limits).lower()
    assert card.provenance.data and card.provenance.split and card.provenance.command
    assert card.provenance.commit and card.provenance.wall_time_s > 0
    assert card.complexity is not None and card.complexity.parameters > 0 and card.complexity.cpu_ms > 0
    assert card.parity and all(p.max_rel_diff <= 1e-4 for p in card.parity)


@needs_data
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_prediction_on_the_reference_radiograph_matches_the_card(name):
    loaded = load_model(name)
    reference = loaded.card.reference
    finding = classify_pixels(loaded, read_image(paths.shared_data_dir() / reference.input).pixels)
    np.testing.assert_allclose(finding.probabilities, reference.probabilities, rtol=0, atol=1e-5)
    assert abs(sum(finding.probabilities) - 1.0) < 1e-6


@needs_data
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_image_output_on_the_reference_radiograph_matches_the_card(name):
    loaded = load_model(name)
    reference = loaded.card.reference
    figures = reference_figures(loaded, read_image(paths.shared_data_dir() / reference.input).pixels)
    assert figures.keys() == reference.figures.keys()
    for key, value in reference.figures.items():
        assert figures[key] == pytest.approx(value, abs=1e-5), key


@pytest.mark.parametrize("name", SHIPPED[:1])
def test_an_altered_copy_is_refused(tmp_path, name):
    card = load_card(card_path(paths.models_dir(), name))
    for entry in card.files:
        shutil.copy2(paths.models_dir() / entry.path, tmp_path / entry.path)
    shutil.copy2(card_path(paths.models_dir(), name), card_path(tmp_path, name))
    onnx = tmp_path / card.file("onnx").path
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_card(card_path(tmp_path, name))
