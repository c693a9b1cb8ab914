"""The models the project ships: installed, intact, honest cards, and answering as their cards say.

Each shipped card records the probabilities its files gave for one fixed radiograph of the shared
data (`reference`, written by scripts/ship_model.py through the viewer's own read → preprocess →
runtime path). Recomputing them here catches a changed file, preprocessing step or runtime.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.analysis.findings import classify_pixels
from cxrviewer.core.cards import card_path, load_card
from cxrviewer.core.errors import ModelError
from cxrviewer.core.io import read_image
from cxrviewer.runtime.registry import installed_models, load_model

SHIPPED = ("pneumonia-kermany", "pneumonia3-kermany", "opacity-rsna")
needs_data = pytest.mark.skipif(not paths.shared_data_dir().is_dir(), reason="needs ../shared/data (reference radiographs)")


def test_every_shipped_model_is_installed():
    assert set(SHIPPED) <= set(installed_models())


@pytest.mark.parametrize("name", SHIPPED)
def test_card_says_what_a_reader_needs(name):
    card = load_card(card_path(paths.models_dir(), name))  # verifies every file's sha256
    assert {f.role for f in card.files} == {"onnx", "weights", "saliency_onnx", "head"}
    test_figures = [m for m in card.metrics if m.split.startswith("test")]
    assert {"accuracy", "auc", "f1"} <= {m.name for m in test_figures}
    auc = next(m for m in test_figures if m.name == "auc")
    assert auc.ci95 is not None and auc.ci95[0] <= auc.value <= auc.ci95[1]
    assert card.limits and "not validated" in " ".join(card.limits)
    assert card.probability_meaning and card.provenance.commit and card.provenance.wall_time_s > 0
    assert card.complexity is not None and card.complexity.parameters > 0 and card.complexity.cpu_ms > 0
    assert card.reference is not None and all(p.max_rel_diff <= 1e-4 for p in card.parity)


@needs_data
@pytest.mark.parametrize("name", SHIPPED)
def test_prediction_on_the_reference_radiograph_matches_the_card(name):
    loaded = load_model(name)
    reference = loaded.card.reference
    finding = classify_pixels(loaded, read_image(paths.shared_data_dir() / reference.input).pixels)
    np.testing.assert_allclose(finding.probabilities, reference.probabilities, rtol=0, atol=1e-5)
    assert abs(sum(finding.probabilities) - 1.0) < 1e-6


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
