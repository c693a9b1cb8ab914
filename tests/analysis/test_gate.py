"""The chest X-ray gate's decision through a random-weight tb-net exported with a "gate" card."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cxrviewer.analysis.gate import GateResult, findings_visible, gate_check
from cxrviewer.core.errors import ModelError
from cxrviewer.core.preprocess import prepare
from cxrviewer.runtime.registry import load_model

torch = pytest.importorskip("torch", reason="exporting a test model needs the `ml` extra (torch)")


def _export(folder: Path, work: Path, name: str, task: str, labels: list[str]) -> None:
    from cxrviewer.nets import build
    from cxrviewer.training.checkpoint import save_checkpoint
    from cxrviewer.training.export import export_model

    torch.manual_seed(3)
    net = build("tbnet", num_classes=2, input_size=(64, 64))
    checkpoint = save_checkpoint(net, work / f"{name}.safetensors", {
        "arch": "tbnet", "arch_params": {"num_classes": 2, "in_channels": 1, "input_size": [64, 64]},
        "task": task, "labels": labels, "thresholds": [0.5, 0.5], "version": "1",
        "provenance": {"data": ["none: random weights"], "split": "none", "command": "tests/analysis"},
        "metrics": [{"name": "auc", "value": 0.5, "split": "none (random weights)"}],
        "limits": ["random weights: for tests only"],
    })
    export_model(checkpoint, folder / name, real_images=[])


@pytest.fixture(scope="module")
def gate_folder(tmp_path_factory) -> Path:
    torch.set_num_threads(2)
    folder, work = tmp_path_factory.mktemp("models"), tmp_path_factory.mktemp("work")
    _export(folder, work, "cxr-gate", "gate", ["other", "frontal_cxr"])
    return folder


def _direct_score(loaded, pixels: np.ndarray) -> float:
    logits = loaded.backend.classify(prepare(pixels, loaded.card.input)[0][None])[0][0].astype(np.float64)
    e = np.exp(logits - logits.max())
    return float(e[1] / e.sum())


def test_the_gate_scores_p_frontal_and_accepts_at_the_cards_threshold(gate_folder):
    loaded = load_model("cxr-gate", gate_folder)
    assert loaded.card.task == "gate"
    scores = []
    for seed in range(6):
        pixels = np.random.default_rng(seed).random((90, 70), dtype=np.float32)
        result = gate_check(loaded, pixels)
        assert result.score == pytest.approx(_direct_score(loaded, pixels), abs=1e-6)
        assert result.threshold == 0.5 and result.accepted == (result.score >= 0.5)
        scores.append(result.score)
    assert len({round(s, 6) for s in scores}) > 1  # the score follows the image


def test_a_classifier_or_other_labels_are_refused_as_a_gate(gate_folder):
    gate = load_model("cxr-gate", gate_folder)
    pixels = np.zeros((64, 64), np.float32)
    classifier = dataclasses.replace(gate, card=dataclasses.replace(gate.card, task="classification"))
    with pytest.raises(ModelError, match="not a gate"):
        gate_check(classifier, pixels)
    swapped = dataclasses.replace(gate, card=dataclasses.replace(gate.card, labels=("frontal_cxr", "other")))
    with pytest.raises(ModelError, match="labels must be"):
        gate_check(swapped, pixels)


def test_findings_are_withheld_only_for_a_rejected_image_without_override():
    rejected = GateResult("cxr-gate", False, 0.1, 0.6)
    accepted = GateResult("cxr-gate", True, 0.9, 0.6)
    assert not findings_visible(rejected, override=False)
    assert findings_visible(rejected, override=True)
    assert findings_visible(accepted, override=False)
    assert findings_visible(None, override=False)  # no gate installed: nothing to withhold
