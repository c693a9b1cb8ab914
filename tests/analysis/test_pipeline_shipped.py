"""The pipeline with the shipped image models (models/) on a real radiograph of the shared data; each
test skips when its model or the data is absent. A sanity check of the plumbing on real data, not a
validation (the image may have been in the model's training split; the cards hold the figures)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.installed import installed_model
from cxrviewer.core.io import read_image
from cxrviewer.core.lesion_score import lesion_score

ROLES = pipeline.model_roles(paths.models_dir())
OPENIST = paths.shared_data_dir() / "openist_lungs"
IMAGE = "1-10-500-500-100"


@pytest.fixture(scope="module")
def radiograph() -> tuple[np.ndarray, np.ndarray]:
    """An OpenIST PA radiograph (H, W) float32 [0, 1] and its lung mask (H, W) bool."""
    if not (OPENIST / f"{IMAGE}.jpg").is_file():
        pytest.skip(f"the shared data's {OPENIST / IMAGE}.jpg is absent")
    pixels = read_image(Path(OPENIST / f"{IMAGE}.jpg")).pixels
    mask = cv2.imread(str(OPENIST / f"{IMAGE}@.png"), cv2.IMREAD_GRAYSCALE) >= 128
    return pixels, mask


def needs(role: str) -> str:
    name = getattr(ROLES, role)
    if isinstance(name, tuple):  # the lesion models (TB lesions, lung opacity): the first by name
        name = name[0] if name else None
    if name is None:
        pytest.skip(f"no shipped model plays the part {role!r} in {paths.models_dir()}")
    return name


def test_the_shipped_lung_model_finds_the_lungs(radiograph):
    pixels, mask = radiograph
    lungs = pipeline.lung_probability(installed_model(needs("lungs")), pixels)
    inside = lungs >= 0.5
    dice = 2 * (inside & mask).sum() / (inside.sum() + mask.sum())
    assert dice > 0.9, dice
    regions = cv2.connectedComponents(inside.astype(np.uint8))[0] - 1
    assert 1 <= regions <= 2


def test_the_shipped_soft_tissue_view_changes_only_the_lungs(radiograph):
    pixels, _ = radiograph
    lungs = pipeline.lung_probability(installed_model(needs("lungs")), pixels)
    soft, bones = pipeline.soft_tissue(installed_model(needs("bone_suppression")), pixels, lungs)
    outside = lungs < 0.5
    np.testing.assert_array_equal(soft[outside], pixels[outside])
    assert np.abs(bones[~outside]).mean() > 1e-3  # the model removed something inside the lungs
    assert 0 <= soft.min() and soft.max() <= 1


def test_the_shipped_lesion_model_scores_its_map_at_the_cards_threshold(radiograph):
    pixels, _ = radiograph
    needs("lesions")
    for name in ROLES.lesions:  # every shipped lesion model
        loaded = installed_model(name)
        found = pipeline.lesion_finding(loaded, pixels)
        assert found.threshold == loaded.card.thresholds[0] and found.score == lesion_score(found.probability)
        assert found.positive == (found.score >= found.threshold) and found.probability.shape == pixels.shape
        assert found.label == loaded.card.labels[0]
