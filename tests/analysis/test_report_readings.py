"""Model outputs in a report's words: each call with its figure and the threshold it was made at."""

from __future__ import annotations

import numpy as np

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import GateResult
from cxrviewer.analysis.pipeline import LesionFinding
from cxrviewer.analysis.report_readings import (
    finding_reading,
    gate_verdict,
    lesion_reading,
    pending_reading,
    withheld_reading,
)


def finding(probabilities, positive, rule, threshold=None, labels=("normal", "pneumonia")) -> Finding:
    return Finding("m", labels, probabilities, positive, rule, threshold, "CPU", 0.01)


def test_threshold_calls_say_the_figure_and_the_side_of_the_threshold():
    called = finding_reading(finding((0.027, 0.973), (1,), "threshold", 0.7257792), None)
    assert called.result == "pneumonia: P(pneumonia) 97.3 % >= operating threshold 72.6 %"
    assert called.threshold == 0.7257792 and called.meaning == ""
    assert called.summary.text() == "Pneumonia: abnormal — 97.3 %, threshold 72.6 % (card)"
    below = finding_reading(finding((0.9995, 0.0005), (0,), "threshold", 0.7257792), None)
    assert below.result == "normal: P(pneumonia) <0.1 % < operating threshold 72.6 %"
    assert below.summary.text() == "Pneumonia: normal — <0.1 %, threshold 72.6 % (card)"


def test_argmax_and_multilabel_calls_list_every_label():
    three = finding((0.1, 0.7, 0.2), (1,), "argmax", labels=("normal", "bacteria", "virus"))
    assert finding_reading(three, None).result == (
        "bacteria (the most probable of 3 labels, no threshold; normal 10.0 %, bacteria 70.0 %, virus 20.0 %)")
    none = finding((0.2, 0.3), (), "multilabel", labels=("a", "b"))
    assert finding_reading(none, None).result.startswith("no label (each label at or above its own")


def test_lesions_gate_and_pending_readings():
    lesions = LesionFinding("tb", np.zeros((2, 2), np.float32), 0.1234, 0.08, True)
    assert lesion_reading(lesions, None).result == (
        "TB-consistent findings: lesion score 12.3 % >= operating threshold 8.0 %")
    # 4.3 points above the threshold: within the indeterminate band; 20 points above: abnormal.
    assert lesion_reading(lesions, None).summary.text() == (
        "TB-consistent areas: indeterminate — 12.3 %, threshold 8.0 % (card)")
    clear = LesionFinding("tb", np.zeros((2, 2), np.float32), 0.28, 0.08, True)
    assert lesion_reading(clear, None).summary.call == "abnormal"
    assert gate_verdict(GateResult("cxr-gate", True, 0.97, 0.5)) == (
        "cxr-gate: accepted as a frontal chest radiograph (P 97.0 %, threshold 50.0 %)")
    assert gate_verdict(GateResult("cxr-gate", False, 0.12, 0.5)).startswith(
        "cxr-gate: NOT recognised as a frontal chest radiograph (P 12.0 %, threshold 50.0 %)")
    assert pending_reading("m", None).result == "still running when this report was made: no result"
    assert pending_reading("m", "model m: missing file").result == "could not run: model m: missing file"
    assert pending_reading("m", None).summary is None  # a report says "not run" with the result as the reason


def test_a_withheld_reading_says_why_and_carries_no_figure():
    from cxrviewer.core.cards import InputContract, ModelCard

    card = ModelCard(name="pneu", version="1", task="classification", arch="a", labels=("normal", "pneumonia"),
                     thresholds=(0.3, 0.7), input=InputContract(224, 224, 1), outputs=("logits",), files=())
    reading = withheld_reading("pneu", card)
    assert reading.summary.text() == "Pneumonia: withheld — the image was not accepted as a frontal chest radiograph"
    assert reading.threshold is None and "%" not in reading.result
