"""The tb_lesions and cxr_gate sources: box masks, synthetic negatives, the image-level lesion score
and the localisation figures, on hand-made arrays (and the shared data's counts when it is there)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image as PilImage
from tiny_configs import lesion_card_with

from cxrviewer import paths
from cxrviewer.core.lesion_score import lesion_score
from cxrviewer.core.preprocess import InputContract
from cxrviewer.training.config import DataConfig
from cxrviewer.training.data import PreparedDataset, boxes_mask
from cxrviewer.training.gate_data import derive_pixels
from cxrviewer.training.sources import Catalog, Sample

pytest.importorskip("torch", reason="the datasets need the `ml` extra (torch)")


def test_lesion_score_is_the_mean_of_the_top_half_percent():
    probability = np.zeros((100, 100), np.float32)
    probability.flat[:50] = 1.0  # exactly the top 0.5 % (50 of 10,000 pixels)
    probability.flat[50:100] = 0.5
    assert lesion_score(probability) == pytest.approx(1.0)
    assert lesion_score(probability, top_fraction=0.01) == pytest.approx(0.75)
    single = np.zeros((10, 10))
    single[3, 4] = 0.8
    assert lesion_score(single) == pytest.approx(0.8)  # k rounds to at least one pixel
    with pytest.raises(ValueError):
        lesion_score(np.zeros((2, 2, 2)))


def test_boxes_mask_takes_pixel_centres_and_an_empty_box_list_is_all_negative():
    mask = boxes_mask((6, 8), ((1.0, 2.0, 3.0, 5.0), (6.5, 0.0, 8.0, 1.0)))
    assert mask.sum() == 2 * 3 + 1
    assert mask[2:5, 1:3].all() and mask[0, 7] and not mask[0, 6]
    assert not boxes_mask((4, 4), ()).any()


def test_a_boxes_sample_trains_on_its_box_mask_at_working_size(tmp_path):
    path = tmp_path / "tb.png"
    PilImage.fromarray(np.full((100, 200), 128, np.uint8)).save(path)
    catalog = Catalog((Sample(path, "tbx11k/a", mask_kind="boxes", boxes=((0.0, 0.0, 100.0, 50.0),)),
                       Sample(path, "openist/b", mask_kind="boxes")), ("tb_lesions",), "test")
    contract = InputContract(height=32, width=32, channels=1, resize="stretch", scaling="unit")
    data = PreparedDataset(catalog, [0, 1], contract, "segmentation")
    _, target, weight = data[0]
    assert target.shape == (1, 32, 32) and float(weight.min()) == 1.0
    assert float(target[0, :16, :16].min()) == 1.0 and float(target[0, 16:].max()) == 0.0
    assert float(target[0, :, 16:].max()) == 0.0
    assert float(data[1][1].max()) == 0.0  # a normal image: every pixel a negative


def test_synthetic_negatives_turn_shuffle_or_replace_the_radiograph_deterministically():
    pixels = np.random.default_rng(0).random((64, 48), dtype=np.float32)
    assert np.array_equal(derive_pixels(pixels, "rot90", seed_text="a"), np.rot90(pixels))
    assert derive_pixels(pixels, "rot270", seed_text="a").shape == (48, 64)
    tiles = derive_pixels(pixels, "tiles", seed_text="a")
    assert tiles.shape == pixels.shape and not np.array_equal(tiles, pixels)
    assert np.array_equal(np.sort(tiles.ravel()), np.sort(pixels.ravel()))  # the same tiles, moved
    assert np.array_equal(derive_pixels(pixels, "tiles", seed_text="a"), tiles)
    for kind in ("noise", "shapes"):
        made = derive_pixels(pixels, kind, seed_text="a")
        assert made.shape == pixels.shape and made.dtype == np.float32
        assert 0.0 <= made.min() and made.max() <= 1.0
        assert np.array_equal(made, derive_pixels(pixels, kind, seed_text="a"))
        assert not np.array_equal(made, derive_pixels(pixels, kind, seed_text="b"))
    with pytest.raises(ValueError, match="unknown synthetic image kind"):
        derive_pixels(pixels, "lateral", seed_text="a")


def test_localisation_figures_on_a_hand_made_map():
    from cxrviewer.training.lesion_eval import localisation

    maps = np.zeros((2, 10, 10), np.float32)
    maps[0, 1, 1] = 0.9  # image 0: its one box is hit
    maps[1, 8, 8] = 0.9  # image 1: the maximum is outside both boxes
    maps[1, 0:2, 0:2] = 0.05  # one of its boxes has low evidence
    box = np.zeros((10, 10), bool)
    box[0:3, 0:3] = True
    other = np.zeros((10, 10), bool)
    other[5:7, 0:2] = True
    figures = localisation(maps, [[box], [box, other]], fp_areas=(0.01,))
    assert figures["pointing_game"] == pytest.approx(0.5)
    # 178 outside pixels, one of them 0.9: the 99 % quantile is 0, so any evidence above 0 counts
    assert figures["pixel_threshold"]["0.01"] == 0.0
    assert figures["box_recall"]["0.01"] == pytest.approx(2 / 3)  # the third box is all zero
    assert figures["pixel_recall"]["0.01"] == pytest.approx(5 / 22)  # 1 + 4 of 9 + 13 box pixels
    figures = localisation(maps, [[box], [box, other]], fp_areas=(0.001,))
    assert figures["pixel_threshold"]["0.001"] == pytest.approx(0.9 * (177 * 0.999 - 176))
    assert figures["box_recall"]["0.001"] == pytest.approx(1 / 3)  # only the 0.9 inside image 0's box


@pytest.mark.skipif(not paths.shared_data_dir().exists(), reason="the shared data folder is not here")
def test_the_shared_data_catalogs_have_their_counts():
    from cxrviewer.training.gate_data import cxr_gate
    from cxrviewer.training.lesion_data import normal_samples, source_of, tb_lesions

    cfg = DataConfig(source="tb_lesions", root=str(paths.shared_data_dir()))
    lesions = tb_lesions(cfg)
    counts = {s: sum(source_of(x) == s for x in lesions.samples) for s in ("tbx11k", "openist", "rsna", "jsrt")}
    assert counts == {"tbx11k": 599, "openist": 274, "rsna": 233, "jsrt": 0}
    assert all(s.boxes for s in lesions.samples if source_of(s) == "tbx11k")  # the one without is left out
    assert not any(s.boxes for s in lesions.samples if source_of(s) != "tbx11k")
    jsrt = normal_samples(cfg, "jsrt")
    assert len(jsrt) == 76 and all(s.inverted for s in jsrt)
    gate = cxr_gate(cfg)
    labels = [s.labels[0] for s in gate.samples]
    assert gate.classes == ("other", "frontal_cxr") and labels.count(0) == labels.count(1) == 1706
    assert all(bool(s.derive) == (s.labels == (0,)) for s in gate.samples)


def test_a_gate_trains_as_a_two_class_classifier_and_its_checkpoint_says_gate(tmp_path, folder_dataset):
    from cxrviewer.training.config import config_from_dict
    from cxrviewer.training.run import train

    config = config_from_dict({
        "name": "gate", "task": "gate", "arch": "tbnet", "input": {"height": 32, "width": 32, "channels": 1},
        "data": {"source": "folders", "root": str(folder_dataset), "classes": ["normal", "disease"]},
        "split": {"val_fraction": 0.25, "test_fraction": 0.25}, "epochs": 1, "batch_size": 8,
        "out_dir": str(tmp_path / "runs"), "seed": 3, "threads": 2,
    }, origin="test config")
    result = train(config)
    best = json.loads((result.run_dir / "checkpoints" / "best.json").read_text())
    assert best["task"] == "gate" and best["labels"] == ["normal", "disease"]
    assert len(best["thresholds"]) == 2 and 0.0 <= best["thresholds"][1] <= 1.0
    assert "auc" in result.metrics["test"]  # scored as a classifier


def test_non_chest_validation_images_are_read_through_the_viewers_reader():
    from cxrviewer.training.gate_eval import patterns, photographs, pydicom_images

    found = pydicom_images()
    assert {"CT", "MR", "US"} <= set(found) and all(found[m] for m in ("CT", "MR", "US"))
    images = [*(i for group in found.values() for i in group), *photographs(), *patterns()]
    assert all(i.ndim == 2 and i.dtype == np.float32 and 0 <= i.min() <= i.max() <= 1 for i in images)
    assert len(photographs()) == 3 and len(patterns()) == 4


def test_lesion_figures_go_into_the_card_with_the_image_level_threshold(tmp_path):
    from cxrviewer.training.lesion_eval import SourceRate

    card = lesion_card_with(
        tmp_path, (SourceRate("openist", 41, 4, True), SourceRate("jsrt", 76, 19, False)), tb_images=90,
        pointing_game=0.6, box_recall={"0.05": 0.7}, pixel_recall={"0.05": 0.3}, pixel_threshold={"0.05": 0.4},
        image_threshold=0.55, tb_sensitivity=0.8)
    assert card.thresholds == (0.55,) and "0.5500" in card.probability_meaning
    values = {m.name: (m.value, m.split) for m in card.metrics}
    assert values["box_recall_at_fp_area_0.05"] == (0.7, "test: holdout seed=0")
    assert values["false_positive_rate_jsrt"] == (pytest.approx(19 / 76), "all 76 images; source never used in training")
    assert values["false_positive_rate_openist"][0] == pytest.approx(4 / 41)
    assert "jsrt: never in training" in card.limits[0]
