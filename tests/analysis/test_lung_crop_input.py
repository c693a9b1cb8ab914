"""A classifier whose contract crops to the lungs (the TB screening classifier's) runs in the viewer's
path: the installed lung model finds the lungs on the study's own grid, the box is drawn by the one
rule training used (`core.lung_mask.lung_crop_box`), and the maps come back onto the whole film."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cxrviewer.analysis.findings import classify_pixels, probabilities
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.study_maps import compute_study_maps
from cxrviewer.core.cards import card_path
from cxrviewer.core.errors import ModelError
from cxrviewer.core.lung_mask import lung_crop_box
from cxrviewer.core.preprocess import prepare


@pytest.fixture
def cropped_models(pipeline_models_dir, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(pipeline_models_dir, folder)
    path = card_path(folder, "classifier")
    card = json.loads(path.read_text())
    card["input"]["preprocessing"] = [{"name": "lung_crop", "params": {"margin": 0.1}}, *card["input"]["preprocessing"]]
    path.write_text(json.dumps(card))
    return folder


def lung_mask(shape=(300, 260)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]] / np.array(shape)[:, None, None]
    return ((xx - 0.3) ** 2 / 0.01 + (yy - 0.5) ** 2 / 0.04 < 1) | ((xx - 0.7) ** 2 / 0.01 + (yy - 0.5) ** 2 / 0.04 < 1)


def chest(seed: int = 3) -> np.ndarray:
    """Two dark 'lungs' in a brighter film, with noise."""
    rng = np.random.default_rng(seed)
    return np.clip(np.where(lung_mask(), 0.2, 0.7) + rng.normal(0, 0.03, (300, 260)), 0, 1).astype(np.float32)


def test_the_lung_box_rule():
    probability = np.zeros((100, 200), np.float32)
    probability[20:60, 40:160] = 0.9
    assert lung_crop_box(probability, 0.1) == (16, 28, 64, 172)
    tiny = np.zeros((100, 200), np.float32)
    tiny[50:52, 50:52] = 0.9  # 0.02 % of the film: no lungs found, the whole film
    assert lung_crop_box(tiny, 0.1) == (0, 0, 100, 200)


def test_a_lung_cropped_classifier_is_cropped_by_the_installed_lung_model(cropped_models, monkeypatch):
    from cxrviewer.analysis import pipeline

    # The random-weight test lung model marks the whole film; the study's lungs are given instead,
    # through the installed model's step, so the crop is a real one.
    seen = []

    def lungs_of(loaded, pixels):
        seen.append(loaded.card.name)
        return lung_mask(pixels.shape).astype(np.float32)

    monkeypatch.setattr(pipeline, "lung_probability", lungs_of)
    pixels = chest()
    loaded = installed_model("classifier", cropped_models)
    contract = loaded.card.input
    assert contract.needs_lung_box and contract.lung_margin == 0.1
    box = lung_crop_box(lung_mask().astype(np.float32), 0.1)
    assert box != (0, 0, 300, 260)
    x, geometry = prepare(pixels, contract, crop_box=box)
    logits, _ = loaded.backend.classify(x[None])
    finding = classify_pixels(loaded, pixels)
    np.testing.assert_allclose(finding.probabilities, probabilities(loaded.card, logits[0]), rtol=1e-6)
    maps = compute_study_maps(loaded, pixels, ("gradcam", "saliency"), class_index=1)
    assert all(values.shape == pixels.shape for values in maps.values())
    y0, x0, y1, x1 = geometry.crop_box
    outside = np.ones(pixels.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert outside.any() and np.abs(maps["saliency"][outside]).max() == 0  # nothing outside what it saw
    assert np.abs(maps["saliency"][~outside]).max() > 0
    assert seen == ["lungs", "lungs"]  # the installed lung model, for the finding and for the maps


def test_without_a_lung_model_it_says_why_it_cannot_run(cropped_models):
    for stale in cropped_models.glob("lungs.*"):
        stale.unlink()
    with pytest.raises(ModelError, match="its input is cropped to the lungs, and no lung segmentation model"):
        classify_pixels(installed_model("classifier", cropped_models), chest())
