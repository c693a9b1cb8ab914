"""The findings panel withholds every finding while the chest X-ray gate has not accepted the image,
and shows them on the reader's "Show anyway" for that study only (classifiers faked: no export)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QUrl

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import WITHHELD_MESSAGE
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
from cxrviewer.gui import findings_text
from cxrviewer.gui.findings_panel import FindingsPanel


def hand_card(name: str, task: str, labels: tuple[str, str], thresholds: tuple[float, float]) -> ModelCard:
    return ModelCard(
        name=name, version="1", task=task, arch="tbnet", labels=labels, thresholds=thresholds,
        input=InputContract(64, 64, 1), outputs=("logits", "features"),
        files=(FileEntry("onnx", f"{name}.onnx", "0" * 64, 1), FileEntry("head", f"{name}.head.safetensors", "0" * 64, 1)),
        head=HeadSpec("gap_linear", f"{name}.head.safetensors", (HeadLayer("linear", {}, "w", "b"),)),
        provenance=Provenance(data=("none",), split="none"),
    )


@pytest.fixture
def folder(tmp_path) -> Path:
    write_card(hand_card("pneumonia", "classification", ("normal", "pneumonia"), (0.27, 0.73)),
               tmp_path / f"pneumonia{CARD_SUFFIX}")
    write_card(hand_card("cxr-gate", "gate", ("other", "frontal_cxr"), (0.4, 0.6)), tmp_path / f"cxr-gate{CARD_SUFFIX}")
    return tmp_path


class FakeModels:
    """P(frontal_cxr) per study from `gate_scores`; the pneumonia model says 0.81. A gate call can be held."""

    def __init__(self, gate_scores: dict[float, float]):
        self.gate_scores = gate_scores
        self.release = threading.Event()
        self.release.set()

    def __call__(self, name: str, pixels: np.ndarray, folder: Path) -> Finding:
        if name == "cxr-gate":
            self.release.wait(10)
            p = self.gate_scores[round(float(pixels[0, 0]), 3)]
            return Finding(name, ("other", "frontal_cxr"), (1 - p, p), (1,) if p >= 0.6 else (0,), "threshold", 0.6,
                           "CPU", 0.01)
        return Finding(name, ("normal", "pneumonia"), (0.19, 0.81), (1,), "threshold", 0.73, "CPU", 0.01)


def shown(qtbot, panel: FindingsPanel, value: float) -> str:
    panel.show_study(f"study-{value}", np.full((32, 32), value, np.float32))
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    return panel.browser.toPlainText()


def test_a_rejected_image_withholds_findings_until_show_anyway_for_that_study_only(qtbot, folder):
    panel = FindingsPanel(models_dir=folder, classify=FakeModels({0.1: 0.2, 0.3: 0.3}))
    qtbot.addWidget(panel)
    text = shown(qtbot, panel, 0.1)
    assert WITHHELD_MESSAGE in text and "20.0 %" in text and "Show anyway" in text
    assert "81.0 %" not in text and "pneumonia" not in text
    panel._on_anchor(QUrl(findings_text.SHOW_ANYWAY_LINK))
    text = panel.browser.toPlainText()
    assert "81.0 %" in text and "shown anyway at the reader's request" in text and "Show anyway" not in text
    text = shown(qtbot, panel, 0.3)  # another rejected study: the override was for the first one only
    assert WITHHELD_MESSAGE in text and "81.0 %" not in text
    assert "81.0 %" in shown(qtbot, panel, 0.1)  # back to the first: still overridden


def test_an_accepted_image_shows_its_findings_without_a_gate_line(qtbot, folder):
    panel = FindingsPanel(models_dir=folder, classify=FakeModels({0.5: 0.9}))
    qtbot.addWidget(panel)
    text = shown(qtbot, panel, 0.5)
    assert "81.0 %" in text and "frontal chest" not in text and "cxr-gate" not in text


def test_nothing_is_shown_while_the_gate_is_still_checking(qtbot, folder):
    models = FakeModels({0.5: 0.9})
    models.release.clear()
    panel = FindingsPanel(models_dir=folder, classify=models)
    qtbot.addWidget(panel)
    panel.show_study("held", np.full((32, 32), 0.5, np.float32))  # the gate runs first and is held
    text = panel.browser.toPlainText()
    assert "Checking that this is a frontal chest radiograph" in text and "81.0 %" not in text
    models.release.set()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10000)
    assert "81.0 %" in panel.browser.toPlainText()
