"""The window's analysis service: the pipeline's steps for the shown study, cached, dropped when the
reader moves on, failures reported; and the findings panel's TB-consistent findings under the gate."""

from __future__ import annotations

import html
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QUrl

from cxrviewer.analysis import pipeline
from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import WITHHELD_MESSAGE, GateResult
from cxrviewer.analysis.study import StudyAnalysis
from cxrviewer.core.cards import CARD_SUFFIX, card_path, write_card
from cxrviewer.core.lesion_score import lesion_score
from cxrviewer.gui import analysis_service, findings_text
from cxrviewer.gui.analysis_service import AnalysisService
from cxrviewer.gui.findings_panel import FindingsPanel
from cxrviewer.gui.main_window import MainWindow
from cxrviewer.runtime.registry import load_model

IMAGE_KINDS = ["lesions", "lungs", "soft_tissue"]
ALL_KINDS = ["gate", "finding", *IMAGE_KINDS]


def image(seed: int, shape=(150, 180)) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def copy_models(source: Path, target: Path, names: tuple[str, ...]) -> Path:
    for name in names:
        for path in source.glob(f"{name}.*"):
            shutil.copy(path, target / path.name)
    return target


class Recorder:
    """Every signal of a service, in order."""

    def __init__(self, service: AnalysisService):
        self.results: list[tuple] = []
        self.failures: list[tuple] = []
        self.progress: list[tuple] = []
        service.result_ready.connect(lambda *args: self.results.append(args))
        service.step_failed.connect(lambda *args: self.failures.append(args))
        service.progress.connect(lambda *args: self.progress.append(args))

    def kinds(self, study) -> list[str]:
        return [r[1] for r in self.results if r[0] == study]


def wait_done(qtbot, service: AnalysisService) -> None:
    qtbot.waitUntil(lambda: not service.busy, timeout=60000)


class FakeClassify:
    """Gate and classifier outcomes from the study's first pixel; a study can be held in its first call."""

    def __init__(self, hold: float | None = None):
        self.calls: list[tuple[str, float]] = []
        self.hold, self.release = hold, threading.Event()

    def __call__(self, name: str, pixels: np.ndarray, folder: Path) -> Finding:
        value = round(float(pixels[0, 0]), 3)
        self.calls.append((name, value))
        if value == self.hold:
            self.release.wait(10)
        if name == "cxr-gate":
            return Finding(name, ("other", "frontal_cxr"), (1 - value, value), (1,) if value >= 0.5 else (0,),
                           "threshold", 0.5, "CPU", 0.0)
        if name == "broken":
            raise RuntimeError("boom")
        return Finding(name, ("normal", "pneumonia"), (0.19, 0.81), (1,), "threshold", 0.73, "CPU", 0.0)


@pytest.fixture
def hand_folder(tmp_path) -> Path:
    """Cards only (the fake classify never opens the files): a gate and a pneumonia classifier."""
    from test_gate_panel import hand_card

    write_card(hand_card("pneumonia", "classification", ("normal", "pneumonia"), (0.27, 0.73)),
               tmp_path / f"pneumonia{CARD_SUFFIX}")
    write_card(hand_card("cxr-gate", "gate", ("other", "frontal_cxr"), (0.5, 0.5)), tmp_path / f"cxr-gate{CARD_SUFFIX}")
    return tmp_path


def fake_maps(study: StudyAnalysis, model: str, class_index: int, methods=()) -> dict[str, np.ndarray]:
    """Stands in for the classifier's maps (their numbers are tests/analysis/test_pipeline.py's)."""
    return {"gradcam": study.pixels * (class_index + 1), "crm": study.pixels - class_index}


def test_every_step_runs_once_in_order_with_the_pipelines_numbers(qtbot, pipeline_models_dir, hand_folder,
                                                                    monkeypatch):
    folder = copy_models(pipeline_models_dir, hand_folder, ("lungs", "tb-lesions", "bones"))
    monkeypatch.setattr(StudyAnalysis, "maps", fake_maps)
    classify = FakeClassify()
    service = AnalysisService(models_dir=folder, classify=classify)
    seen = Recorder(service)
    pixels = image(1)
    service.analyse(7, pixels)
    assert service.busy and seen.progress[0] == (7, 0, 5)
    wait_done(qtbot, service)
    assert seen.kinds(7) == ALL_KINDS and not seen.failures and seen.progress[-1] == (7, 5, 5)
    assert [key for _study, _kind, key, _payload in seen.results] == ["cxr-gate", "pneumonia", "tb-lesions", "lungs", "bones"]
    payload = {kind: p for _study, kind, _key, p in seen.results}
    value = round(float(pixels[0, 0]), 3)
    assert payload["gate"] == GateResult("cxr-gate", value >= 0.5, value, 0.5)
    assert payload["finding"].probabilities == (0.19, 0.81)
    load = {name: load_model(name, folder) for name in ("tb-lesions", "lungs", "bones")}
    lesions = payload["lesions"]
    assert lesions.score == lesion_score(lesions.probability) and lesions.threshold == pytest.approx(0.42)
    np.testing.assert_array_equal(lesions.probability, pipeline.lesion_finding(load["tb-lesions"], pixels).probability)
    lungs = pipeline.lung_probability(load["lungs"], pixels)
    np.testing.assert_array_equal(payload["lungs"], lungs)
    soft, bones = pipeline.soft_tissue(load["bones"], pixels, lungs)
    np.testing.assert_array_equal(payload["soft_tissue"][0], soft)
    np.testing.assert_array_equal(payload["soft_tissue"][1], bones)
    assert service.provider == "CPU"

    service.request_maps(7, "pneumonia", 1)
    wait_done(qtbot, service)
    study, kind, key, maps = seen.results[-1]
    assert (study, kind, key) == (7, "maps", ("pneumonia", 1)) and seen.progress[-1] == (7, 6, 6)
    np.testing.assert_array_equal(maps["gradcam"], 2 * pixels)
    np.testing.assert_array_equal(maps["crm"], pixels - 1)
    assert service.cached(7, "maps", ("pneumonia", 1)) is maps and service.cached(7, "maps", ("pneumonia", 0)) is None
    calls = len(classify.calls)

    # Back to the same study: everything comes from the cache, at once, and nothing runs.
    seen.results.clear()
    service.analyse(7, pixels)
    assert not service.busy and seen.kinds(7) == [*ALL_KINDS, "maps"] and len(classify.calls) == calls
    # The selected class stays selected: the next study gets its maps too.
    other = image(2, (90, 120))
    service.analyse(8, other)
    wait_done(qtbot, service)
    assert seen.kinds(8) == [*ALL_KINDS, "maps"]
    np.testing.assert_array_equal(service.cached(8, "maps", ("pneumonia", 1))["gradcam"], 2 * other)
    service.shutdown()


def test_a_study_switched_away_from_is_dropped_and_a_cached_one_does_not_rerun(qtbot, hand_folder):
    classify = FakeClassify(hold=0.25)
    service = AnalysisService(models_dir=hand_folder, classify=classify)
    seen = Recorder(service)
    a, b = np.full((40, 40), 0.25, np.float32), np.full((40, 40), 0.75, np.float32)
    service.analyse("a", a)
    qtbot.waitUntil(lambda: classify.calls == [("cxr-gate", 0.25)], timeout=5000)
    service.analyse("b", b)  # "a"'s gate is still running, its classifier queued
    classify.release.set()
    wait_done(qtbot, service)
    qtbot.wait(50)  # a late signal from the abandoned job would arrive now
    assert classify.calls == [("cxr-gate", 0.25), ("cxr-gate", 0.75), ("pneumonia", 0.75)]
    assert seen.kinds("a") == [] and seen.kinds("b") == ["gate", "finding"]
    assert service.cached("a", "gate", "cxr-gate") is None
    assert service.cached("b", "gate", "cxr-gate") == GateResult("cxr-gate", True, 0.75, 0.5)
    service.analyse("a", a)
    wait_done(qtbot, service)
    assert seen.kinds("a") == ["gate", "finding"] and len(classify.calls) == 5
    assert service.cached("a", "gate", "cxr-gate").accepted is False
    seen.results.clear()
    service.analyse("b", b)  # cached: emitted at once, nothing runs
    assert not service.busy and seen.kinds("b") == ["gate", "finding"] and len(classify.calls) == 5
    # A reinstalled model (its card rewritten) runs again.
    card = card_path(hand_folder, "pneumonia")
    card.write_text(card.read_text() + " ")
    service.refresh_models()
    wait_done(qtbot, service)
    assert classify.calls[-1] == ("pneumonia", 0.75) and len(classify.calls) == 6
    service.shutdown()


def test_failing_models_report_step_failed_naming_the_model_and_the_rest_still_run(qtbot, pipeline_models_dir, hand_folder):
    folder = copy_models(pipeline_models_dir, hand_folder, ("tb-lesions", "bones"))  # no lung model
    with open(folder / "tb-lesions.onnx", "ab") as stream:
        stream.write(b"\0")
    from test_gate_panel import hand_card

    write_card(hand_card("broken", "classification", ("normal", "pneumonia"), (0.27, 0.73)), folder / f"broken{CARD_SUFFIX}")
    service = AnalysisService(models_dir=folder, classify=FakeClassify())
    seen = Recorder(service)
    service.analyse(3, np.full((64, 80), 0.75, np.float32))
    wait_done(qtbot, service)
    failed = {(kind, key): message for _study, kind, key, message in seen.failures}
    assert sorted(failed) == [("finding", "broken"), ("lesions", "tb-lesions"), ("soft_tissue", "bones")]
    assert failed[("finding", "broken")] == "model broken: unexpected error: RuntimeError: boom"
    assert failed[("lesions", "tb-lesions")].startswith("model tb-lesions:") and "checksum" in failed[("lesions", "tb-lesions")]
    assert failed[("soft_tissue", "bones")] == f"model bones: {pipeline.NO_LUNG_MODEL_TEXT}"
    assert seen.kinds(3) == ["gate", "finding"] and seen.progress[-1] == (3, 5, 5)
    assert service.failure(3, "soft_tissue", "bones") == failed[("soft_tissue", "bones")]
    assert service.cached(3, "soft_tissue", "bones") is None
    service.shutdown()


def test_the_arrays_of_old_studies_are_dropped_beyond_the_bound(qtbot, pipeline_models_dir, tmp_path, monkeypatch):
    folder = copy_models(pipeline_models_dir, tmp_path, ("lungs",))
    monkeypatch.setattr(analysis_service, "STUDIES_KEPT", 2)
    service = AnalysisService(models_dir=folder)
    for study in range(4):
        service.analyse(study, image(study, (64, 64)))
        wait_done(qtbot, service)
    kept = [study for study in range(4) if service.cached(study, "lungs", "lungs") is not None]
    assert kept == [2, 3]
    one_map = 64 * 64 * 4
    monkeypatch.setattr(analysis_service, "CACHE_BYTES", int(1.5 * one_map))
    service.analyse(4, image(4, (64, 64)))
    wait_done(qtbot, service)
    assert [s for s in range(5) if service.cached(s, "lungs", "lungs") is not None] == [4]
    service.analyse(2, image(2, (64, 64)))  # dropped: computed again, the same numbers
    wait_done(qtbot, service)
    np.testing.assert_array_equal(service.cached(2, "lungs", "lungs"),
                                  pipeline.lung_probability(load_model("lungs", folder), image(2, (64, 64))))
    service.shutdown()


def panel_text(qtbot, panel: FindingsPanel, study: str, value: float) -> str:
    panel.show_study(study, np.full((96, 112), value, np.float32))
    qtbot.waitUntil(lambda: not panel.busy, timeout=60000)
    return panel.browser.toPlainText()


def test_tb_findings_are_withheld_by_the_gate_then_shown_with_score_threshold_and_meaning(
        qtbot, pipeline_models_dir, hand_folder):
    from pipeline_models import LESION_MEANING

    folder = copy_models(pipeline_models_dir, hand_folder, ("tb-lesions",))
    panel = FindingsPanel(models_dir=folder, classify=FakeClassify())
    qtbot.addWidget(panel)
    text = panel_text(qtbot, panel, "rejected", 0.25)
    assert WITHHELD_MESSAGE in text and findings_text.LESION_TITLE not in text and "score" not in text
    panel._on_anchor(QUrl(findings_text.SHOW_ANYWAY_LINK))
    panel._on_anchor(QUrl(findings_text.details_link("tb-lesions")))  # the details: folded until asked for
    text = panel.browser.toPlainText()
    found = panel.outcome("tb-lesions")
    assert isinstance(found, pipeline.LesionFinding) and found.score == lesion_score(found.probability)
    score = html.unescape(findings_text.percent(found.score))
    call = "is at or above the threshold 42.0 %" if found.score >= 0.42 else "is below the threshold 42.0 %"
    assert "tb-lesions · version 1 · CPU" in text and f"score {score} {call}" in text
    assert f"What the score means: {LESION_MEANING.replace('called at 0.42', 'called at 42.0 %')}" in text and "81.0 %" in text
    assert text.index("81.0 %") < text.index(findings_text.LESION_TITLE)  # classifiers first, then TB
    text = panel_text(qtbot, panel, "accepted", 0.75)
    assert WITHHELD_MESSAGE not in text and f"{findings_text.LESION_TITLE}: " in text and "tb-lesions · version 1" in text
    with qtbot.waitSignal(panel.class_selected) as signal:
        panel._on_anchor(QUrl(findings_text.class_link("pneumonia", "pneumonia")))
    assert signal.args == ["pneumonia", 1]
    panel.shutdown()


def test_lesion_text_shows_the_cards_figures_at_the_threshold():
    from test_findings import hand_card

    from cxrviewer.core.cards import Metric, Reference

    card = hand_card(labels=("tb_lesions",), thresholds=(0.3,), task="segmentation")
    card = card.__class__(**{**card.__dict__, "metrics": (
        Metric("tb_images_above_threshold", 0.8125, "test: by image"),
        Metric("false_positive_rate_jsrt", 0.05, "all 93 images; source never used in training"),
        Metric("pointing_game", 0.9, "test: by image"))})
    found = pipeline.LesionFinding("tb", np.zeros((4, 4), np.float32), 0.25, 0.3, False, "CPU", 0.01)
    block = findings_text.lesion_html("tb", card, found)
    assert "<b>no TB-consistent area called</b> — score 25.0 % is below the threshold 30.0 %" in block
    at_threshold = findings_text.lesion_metrics_html(card)
    assert "TB films called 81.2 %" in at_threshold and "normal films called (false positives), JSRT 5.0 %" in at_threshold
    assert "all 93 images; source never used in training" in at_threshold and "map's peak" not in at_threshold
    assert "Could not run: model tb: &lt;x&gt;" in findings_text.lesion_html("tb", card, "model tb: <x>")
    card = card.__class__(**{**card.__dict__, "confusion": (),
                             "reference": Reference("tbx11k/x.png", (), {"tb_lesions_mean": 0.0123})})
    about = findings_text.lesion_html("tb", card, found)
    assert "Self-check" not in about and "tbx11k/x.png" not in about  # the developer's check, not the reader's


def test_the_window_feeds_its_service_and_shows_progress_and_provider(qtbot, settings, pipeline_models_dir,
                                                                      monkeypatch, band_study):
    monkeypatch.setenv("CXRVIEWER_MODELS", str(pipeline_models_dir))
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    assert window.findings_panel.service is window.analysis
    assert window.status.provider.text() == "models on CPU"
    seen = Recorder(window.analysis)
    with qtbot.waitSignal(window.session.idle, timeout=15000):
        window.open_paths([band_study])
    study = window.analysis.study
    qtbot.waitUntil(lambda: not window.analysis.busy, timeout=60000)
    # The layers ask for the maps of the classifier's call once its finding is in, when it called the
    # finding ("abnormal"), never its negative class (issue 20): they then run after the findings (the
    # TB lesions) and before the lungs and the soft tissue.
    finding = next(r[3] for r in seen.results if r[1] == "finding")
    maps = ["maps"] if finding.positive == (1,) else []
    assert seen.kinds(study) == ["finding", "lesions", *maps, "lungs", "soft_tissue"] and not seen.failures
    assert window.analysis.cached(study, "lungs", "lungs").shape == window.canvas.image.pixels.shape
    done, total = seen.progress[-1][1:]
    assert seen.progress[-1][0] == study and done == total == len(set(seen.kinds(study)))
    assert not window.status.analysis.isVisible() and window.status.analysis.value() == total
    assert findings_text.LESION_TITLE in window.findings_panel.browser.toPlainText()
    window.session.shutdown()
    window.analysis.shutdown()


def test_a_classifiers_threshold_is_explained_by_its_test_sensitivity_and_specificity():
    from test_findings import finding, hand_card

    from cxrviewer.core.cards import Metric

    card = hand_card()
    card = card.__class__(**{**card.__dict__, "metrics": (
        Metric("sensitivity", 0.95, "validation: by patient"), Metric("specificity", 0.7, "validation: by patient"),
        Metric("specificity", 0.875, "test: by patient"), Metric("sensitivity", 0.8, "test: by patient"))})
    block = findings_text.operating_point_html(card)
    assert "<i>At this threshold:</i> specificity 87.5 %, sensitivity 80.0 %" in block
    assert "(internal: test: by patient)" in block and "validation" not in block and "external" not in block
    # An external split is shown beside the internal one, so the reader sees how far the figures hold.
    shifted = card.__class__(**{**card.__dict__, "metrics": card.metrics + (
        Metric("sensitivity", 0.99, "other period (n=200)", scope="external"),
        Metric("specificity", 0.667, "other period (n=200)", scope="external"))})
    block = findings_text.model_html("hand", shifted, finding((0.2, 0.8), (1,)))
    assert "sensitivity 99.0 %, specificity 66.7 % <span" in block and "(external: other period (200 films))" in block
    assert block.index("internal: test") < block.index("external: other period")
    assert block.index("operating threshold 73.0 %") < block.index("At this threshold")
    three = finding((0.1, 0.6, 0.3), (1,), "argmax", None, ("normal", "bacteria", "virus"))
    assert "At this threshold" not in findings_text.model_html("hand", card, three)  # no threshold
    bare = card.__class__(**{**card.__dict__, "metrics": ()})
    assert findings_text.operating_point_html(bare) == ""


def test_opening_the_shown_study_again_keeps_every_layer(qtbot, settings, pipeline_models_dir, monkeypatch, band_study):
    """Issue 20's first bug: Enter on the study already shown (the session shows it again) cleared
    the layers after the service had replayed the cached results into them, so the TB lesion layer
    stayed "not computed yet" until the reader left and came back. The window switches the layers
    to the study before it asks for the analysis, so the replay lands in the switched layers."""
    monkeypatch.setenv("CXRVIEWER_MODELS", str(pipeline_models_dir))
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.session.idle, timeout=15000):
        window.open_paths([band_study])
    qtbot.waitUntil(lambda: not window.analysis.busy, timeout=60000)
    study = window.analysis.study
    before = {kind: values.copy() for kind, values in window.layers.raw.items()}
    assert {"tb_lesions", "lung_outline", "bones"} <= set(before)
    seen = Recorder(window.analysis)
    window.session.select(study)  # what Enter (or a click) on the shown study does
    qtbot.waitUntil(lambda: not window.analysis.busy, timeout=60000)
    assert "lesions" in seen.kinds(study)  # replayed from the service's cache, not recomputed
    assert set(window.layers.raw) == set(before)
    for kind, values in before.items():
        np.testing.assert_array_equal(window.layers.raw[kind], values)
    window.session.shutdown()
    window.analysis.shutdown()
