"""The analysis pipeline's steps on tiny random-weight exported models (tests/pipeline_models.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.batch import image_figures, image_prediction
from cxrviewer.analysis.study_maps import compute_study_maps
from cxrviewer.core.cards import (
    CARD_SUFFIX,
    FileEntry,
    HeadLayer,
    HeadSpec,
    InputContract,
    ModelCard,
    Provenance,
    write_card,
)
from cxrviewer.core.errors import ModelError
from cxrviewer.core.lesion_score import lesion_score
from cxrviewer.core.lung_mask import keep_largest_regions
from cxrviewer.core.soft_tissue import lung_weight
from cxrviewer.runtime.registry import load_model


def pixels(seed: int, shape=(200, 240)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def hand_card(name: str, task: str, labels: tuple[str, ...]) -> ModelCard:
    classifier = task in ("classification", "gate")
    return ModelCard(
        name=name, version="1", task=task, arch="tbnet" if classifier else "unet_tiny", labels=labels,
        thresholds=(0.5,) * len(labels), input=InputContract(64, 64, 1),
        outputs=("logits", "features") if classifier else ("output",),
        files=(FileEntry("onnx", f"{name}.onnx", "0" * 64, 1),
               *((FileEntry("head", f"{name}.head.safetensors", "0" * 64, 1),) if classifier else ())),
        head=HeadSpec("gap_linear", f"{name}.head.safetensors", (HeadLayer("linear", {}, "w", "b"),)) if classifier else None,
        provenance=Provenance(data=("none",), split="none"),
    )


def test_model_roles_come_from_the_cards_not_the_names(tmp_path):
    cards = [("z-gate", "gate", ("other", "frontal_cxr")), ("b-pneumonia", "classification", ("normal", "pneumonia")),
             ("a-opacity", "classification", ("no", "opacity")), ("lesions", "segmentation", ("tb_lesions",)),
             ("masks", "segmentation", ("lungs", "heart")), ("heart-only", "segmentation", ("heart",)),
             ("suppress", "bone_suppression", ("bone_suppressed",))]
    for name, task, labels in cards:
        write_card(hand_card(name, task, labels), tmp_path / f"{name}{CARD_SUFFIX}")
    (tmp_path / f"broken{CARD_SUFFIX}").write_text("{ not json")
    roles = pipeline.model_roles(tmp_path)
    assert roles == pipeline.ModelRoles(gate="z-gate", classifiers=("a-opacity", "b-pneumonia"), lungs="masks",
                                        bone_suppression="suppress", lesions="lesions")
    assert pipeline.model_roles(tmp_path / "absent") == pipeline.ModelRoles()
    stamp = pipeline.card_stamp(tmp_path, "masks")
    assert stamp[0] == (tmp_path / f"masks{CARD_SUFFIX}").stat().st_size and pipeline.card_stamp(tmp_path, "x")[:2] == (0, 0)
    # The site settings are part of the stamp: a site threshold changes the calls of the same card.
    before = pipeline.card_stamp(tmp_path, "masks")
    site = paths.site_settings_file()
    site.parent.mkdir(parents=True, exist_ok=True)
    site.write_text("{}")
    try:
        assert pipeline.card_stamp(tmp_path, "masks")[:2] == before[:2] and pipeline.card_stamp(tmp_path, "masks") != before
    finally:
        site.unlink()


def test_lesion_finding_is_the_lesion_score_of_its_map_at_the_cards_threshold(pipeline_models_dir):
    loaded = load_model("tb-lesions", pipeline_models_dir)
    image = pixels(1)
    found = pipeline.lesion_finding(loaded, image)
    expected = pipeline.image_outputs(loaded, image)["tb_lesions"]
    assert found.probability.shape == image.shape and found.probability.dtype == np.float32
    np.testing.assert_array_equal(found.probability, expected)
    assert 0 <= found.probability.min() and found.probability.max() <= 1
    assert found.score == lesion_score(expected) and found.threshold == pytest.approx(0.42)
    assert found.positive == (found.score >= 0.42) and found.model == "tb-lesions" and found.provider == "CPU"
    no_threshold = dataclasses.replace(loaded, card=dataclasses.replace(loaded.card, thresholds=()))
    with pytest.raises(ModelError, match="tb-lesions: its card gives no image-level threshold"):
        pipeline.lesion_finding(no_threshold, image)
    # `cxrviewer analyze` reports the same score and call (its CSV figures come from the same outputs).
    outputs = pipeline.image_outputs(loaded, image)
    assert image_figures(loaded.card, outputs, image)["tb_lesions_score"] == found.score
    assert image_prediction(loaded.card, outputs) == ("tb_lesions" if found.positive else "no_tb_lesions")
    assert "tb_lesions_score" not in image_figures(no_threshold.card, outputs, image)


def test_lung_probability_keeps_the_two_largest_regions_and_refuses_other_models(pipeline_models_dir):
    loaded = load_model("lungs", pipeline_models_dir)
    image = pixels(2)
    lungs = pipeline.lung_probability(loaded, image)
    low, high = loaded.card.input.value_range
    raw = 1 / (1 + np.exp(-loaded.backend.transform(low + image * (high - low))[0].astype(np.float64)))
    np.testing.assert_allclose(lungs, keep_largest_regions(raw.astype(np.float32)), atol=1e-6)
    assert lungs.shape == image.shape and 0 <= lungs.min() and lungs.max() <= 1
    with pytest.raises(ModelError, match="model tb-lesions: .* not a segmentation model with a 'lungs' channel"):
        pipeline.lung_probability(load_model("tb-lesions", pipeline_models_dir), image)


def test_soft_tissue_is_the_original_outside_the_lungs_and_the_model_deep_inside(pipeline_models_dir):
    loaded = load_model("bones", pipeline_models_dir)
    image = pixels(3)
    lungs = np.zeros(image.shape, np.float32)
    lungs[40:170, 20:100] = 1.0  # two rectangular "lungs", 130 × 80 px
    lungs[40:170, 140:220] = 0.9
    soft, bones = pipeline.soft_tissue(loaded, image, lungs)
    feather = pipeline.feather_px(image.shape)
    assert feather == pytest.approx(0.03 * 240)
    suppressed = pipeline.suppressed_image(loaded, image)
    low, high = loaded.card.input.value_range
    direct = loaded.backend.transform(low + image * (high - low))[0]
    np.testing.assert_allclose(suppressed, np.clip((direct - low) / (high - low), 0, 1), atol=1e-6)
    outside = lungs < 0.5
    np.testing.assert_array_equal(soft[outside], image[outside])
    deep = lung_weight(lungs, feather) == 1.0
    assert deep.sum() > 0.7 * (~outside).sum()
    np.testing.assert_allclose(soft[deep], suppressed[deep], atol=1e-6)
    assert np.abs(soft[deep] - image[deep]).mean() > 1e-3  # the model changed the lungs
    seam = ~outside & ~deep
    between = (soft[seam] - np.minimum(image[seam], suppressed[seam]) >= -1e-6) & (
        np.maximum(image[seam], suppressed[seam]) - soft[seam] >= -1e-6)
    assert between.all()
    np.testing.assert_allclose(bones, image - soft, atol=1e-7)
    assert not bones[outside].any()


def test_no_lung_mask_means_no_soft_tissue_view(pipeline_models_dir):
    loaded = load_model("bones", pipeline_models_dir)
    with pytest.raises(pipeline.NoLungModelError, match="model bones: the bone-suppressed view is not offered: no lung"):
        pipeline.soft_tissue(loaded, pixels(4), None)


def test_class_maps_are_the_study_maps_of_that_class(models_dir):
    loaded = load_model("binary", models_dir)  # tests/analysis/conftest.py's tb-net, shared with the analyze tests
    image = pixels(5)
    maps = pipeline.class_maps(loaded, image, 1)
    expected = compute_study_maps(loaded, image, ["saliency", "gradcam", "cam", "crm"], class_index=1)
    assert sorted(maps) == sorted(expected) == ["cam", "crm", "gradcam", "saliency"]
    for method in maps:
        assert maps[method].shape == image.shape
        np.testing.assert_array_equal(maps[method], expected[method])
    other = pipeline.class_maps(loaded, image, 0, methods=("gradcam",))
    assert not np.allclose(other["gradcam"], maps["gradcam"])  # another class, another map
    with pytest.raises(ModelError, match="model binary: has no class 2"):
        pipeline.class_maps(loaded, image, 2)
