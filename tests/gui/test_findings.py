"""The findings panel: each installed classifier's reading of the shown study, and its card's facts."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QUrl

from cxrviewer import paths
from cxrviewer.analysis.findings import Finding, decide
from cxrviewer.analysis.gate import WITHHELD_MESSAGE
from cxrviewer.core.cards import (
    Complexity,
    Confusion,
    FileEntry,
    HeadLayer,
    HeadSpec,
    InputContract,
    Metric,
    ModelCard,
    Provenance,
    card_path,
)
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.io import read_image
from cxrviewer.core.preprocess import prepare
from cxrviewer.core.reading_words import CALL_COLOURS, OUTSIDE_POPULATION
from cxrviewer.core.suitability import SYNTHETIC_TEXT
from cxrviewer.gui import findings_text
from cxrviewer.gui.findings_panel import EMPTY_TEXT, FindingsPanel
from cxrviewer.gui.main_window import MainWindow
from cxrviewer.runtime.registry import load_model

MODEL = "tbnet-random"


def hand_card(labels=("normal", "pneumonia"), thresholds=(0.27, 0.73), task="classification") -> ModelCard:
    return ModelCard(
        name="hand", version="3", task=task, arch="tbnet", labels=labels, thresholds=thresholds,
        input=InputContract(224, 224, 1), outputs=("logits", "features"),
        files=(FileEntry("onnx", "hand.onnx", "0" * 64, 1),),
        head=HeadSpec("gap_linear", "hand.head.safetensors", (HeadLayer("linear", {}, "w", "b"),)),
        provenance=Provenance(data=("Kermany 2018 <train>",), split="by patient, seed 0"),
        metrics=(Metric("auc", 0.912, "test: by patient", (0.88, 0.94)), Metric("sensitivity", 0.8, "test: by patient")),
        limits=("not validated on portable AP films",),
        probability_meaning="softmax score; threshold chosen for 95 % sensitivity on validation",
        confusion=(Confusion("test: by patient", ((40, 2), (5, 90))),),
        complexity=Complexity(230_000, 1_500_000_000, 12.0, "1 thread"),
        notes=("small training set",),
    )


def finding(probs, positive, rule="threshold", threshold=0.73, labels=("normal", "pneumonia")) -> Finding:
    return Finding("hand", labels, probs, positive, rule, threshold, "CPU", 0.012)


# -- the formatter and the decision ---------------------------------------------------------------
def test_card_block_shows_metrics_with_split_and_ci_limits():
    card = hand_card()
    about = findings_text.card_html(card)
    assert "AUC 0.912 (95 % CI 0.880–0.940)" in about
    assert "sensitivity 80.0 %<" in about  # no CI recorded, none invented; a rate as a percentage
    assert "<i>test: by patient:</i>" in about
    # The hand card has internal figures only: the reader is told there is no external one.
    assert findings_text.NO_EXTERNAL in about.replace("&#x27;", "'")
    assert about.index(findings_text.NO_EXTERNAL[:30]) < about.index("test: by patient:")


def test_about_block_shows_external_figures_first_under_their_own_heading():
    from cxrviewer.core.cards import Metric

    card = hand_card()
    card = card.__class__(**{**card.__dict__, "metrics": card.metrics + (
        Metric("specificity", 0.667, "Kermany earlier period (n=300)", scope="external"),)})
    about = findings_text.card_html(card)
    external = about.index(findings_text.SCOPE_HEADINGS["external"])
    internal = about.index(findings_text.SCOPE_HEADINGS["internal"][:20])
    assert external < about.index("specificity 66.7 %") < internal < about.index("test: by patient:")
    assert findings_text.NO_EXTERNAL[:30] not in about
    assert "Kermany 2018 &lt;train&gt;" in about and "How it was tested:</i> by patient, seed 0" in about
    assert "not validated on portable AP films" in about
    # The trainer's notes, confusion matrices and cost are the developer's: not in the reader's details.
    assert "small training set" not in about and "GMACs" not in about and "<td align=right>90</td>" not in about
    details = findings_text.model_html("hand", card, finding((0.2, 0.8), (1,)))
    assert details.index("80.0 %") < details.index("Threshold:") < details.index(findings_text.SCOPE_HEADINGS["external"])
    assert "Origin:</i> release model, its signature verified on loading" in details
    # Folded: the model's line and its "Details ▸" link, nothing of the details.
    folded = findings_text.model_entry_html("hand", "Pneumonia", finding((0.2, 0.8), (1,)), True, False)
    assert "Details ▸</a>" in folded and "AUC" not in folded and "not validated on portable" not in folded
    opened = findings_text.model_entry_html("hand", "Pneumonia", finding((0.2, 0.8), (1,)), True, True)
    assert "Details ▾</a>" in opened and "AUC" not in opened
    section = findings_text.details_section_html("Pneumonia", details)
    assert section.index("<b>Pneumonia</b>") < section.index(details)


def test_finding_text_gives_percentages_in_label_order_and_the_call():
    text = findings_text.finding_html(finding((0.2, 0.8), (1,)))
    assert text.index("Normal") < text.index("Pneumonia")
    assert "20.0 %" in text and "80.0 %" in text
    assert "<b>Pneumonia</b> — 80.0 % is at or above the operating threshold 73.0 %" in text
    below = findings_text.decision_html(finding((0.35, 0.65), (0,)))
    assert below == "<b>Normal</b> — Pneumonia 65.0 % is below the operating threshold 73.0 %"
    three = finding((0.1, 0.6, 0.3), (1,), "argmax", None, ("normal", "bacteria", "virus"))
    assert findings_text.decision_html(three) == "<b>Bacteria</b> — the most probable of 3 labels (no threshold)"
    assert findings_text.percent(0.0004) == "&lt;0.1 %" and findings_text.percent(0.9996) == "&gt;99.9 %"


def test_decision_follows_the_cards_operating_threshold_not_half():
    binary = hand_card()
    assert decide(binary, np.array([0.3, 0.7])) == ((0,), "threshold", 0.73)
    assert decide(binary, np.array([0.27, 0.73])) == ((1,), "threshold", 0.73)
    three = hand_card(("normal", "bacteria", "virus"), (0.3, 0.3, 0.3))
    assert decide(three, np.array([0.2, 0.3, 0.5])) == ((2,), "argmax", None)
    multi = hand_card(("a", "b", "c"), (0.5, 0.2, 0.9), task="multilabel")
    assert decide(multi, np.array([0.6, 0.1, 0.95])) == ((0, 2), "multilabel", None)


def test_a_models_caution_comes_under_its_name_before_the_probabilities_and_is_escaped():
    block = findings_text.model_html("hand", hand_card(), finding((0.2, 0.8), (1,)), cautions=("trained on <children>",))
    assert block.index("hand · version 3") < block.index("Caution:</b> trained on &lt;children&gt;") < block.index("20.0 %")
    assert "Caution" not in findings_text.model_html("hand", hand_card(), finding((0.2, 0.8), (1,)))
    # A caution the line does not say stands under it, folded or not; a withheld line says why itself.
    line = findings_text.model_entry_html("hand", "Pneumonia", finding((0.2, 0.8), (1,)), True, False,
                                          ("age read leniently",))
    assert line.index("Details ▸") < line.index("Caution:</b> age read leniently")
    withheld = findings_text.model_entry_html("hand", "Pneumonia", finding((0.2, 0.8), (1,)), "outside", False,
                                              ("trained on children",))
    assert "Caution" not in withheld and "withheld</b></span> — outside" in withheld
    page = findings_text.panel_html([line], ("phantom & co",))
    assert page.index("Caution:</b> phantom &amp; co") < page.index("<b>Pneumonia</b>")


def test_error_text_is_escaped():
    assert findings_text.error_html("model x: <bad> input") == (
        "<p style='color:#c0392b'>Could not run: model x: &lt;bad&gt; input</p>")


# -- the panel on a real exported model -----------------------------------------------------------
@pytest.fixture(scope="module")
def models_folder(tmp_path_factory) -> Path:
    """A models folder with one random-weight tb-net (224²) exported as MODEL."""
    torch = pytest.importorskip("torch", reason="exporting a test model needs the `ml` extra (torch)")
    from cxrviewer.nets import build
    from cxrviewer.training.checkpoint import save_checkpoint
    from cxrviewer.training.export import export_model

    torch.set_num_threads(2)
    torch.manual_seed(0)
    work, folder = tmp_path_factory.mktemp("checkpoint"), tmp_path_factory.mktemp("models")
    net = build("tbnet", num_classes=2, input_size=(224, 224))
    checkpoint = save_checkpoint(net, work / "tbnet.safetensors", {
        "arch": "tbnet", "arch_params": {"num_classes": 2, "in_channels": 1, "input_size": [224, 224]},
        "task": "classification", "labels": ["normal", "abnormal"], "thresholds": [0.4, 0.6], "version": "1",
        "provenance": {"data": ["none: random weights"], "split": "none", "command": "tests/gui"},
        "metrics": [{"name": "auc", "value": 0.5, "split": "none (random weights)"}],
        "limits": ["random weights: for tests only"],
    })
    export_model(checkpoint, folder / MODEL, real_images=[])
    return folder


def direct_probabilities(name: str, pixels: np.ndarray, folder: Path | None = None) -> np.ndarray:
    """The runtime's logits on the card's preprocessing, softmaxed here: what the panel must show."""
    loaded = load_model(name, folder)
    logits = loaded.backend.classify(prepare(pixels, loaded.card.input)[0][None])[0][0].astype(np.float64)
    e = np.exp(logits - logits.max())
    return e / e.sum()


def study_pixels(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((300, 260), dtype=np.float32)


def wait_idle(qtbot, panel: FindingsPanel) -> None:
    qtbot.waitUntil(lambda: not panel.busy, timeout=30000)


def test_panel_shows_the_exported_models_probabilities(qtbot, models_folder):
    panel = FindingsPanel(models_dir=models_folder)
    qtbot.addWidget(panel)
    pixels = study_pixels(1)
    panel.show_study("a", pixels)
    assert panel.busy and f"Abnormal: running… · {MODEL}" in panel.browser.toPlainText()
    wait_idle(qtbot, panel)
    result = panel.outcome(MODEL)
    assert isinstance(result, Finding) and result.provider == "CPU"
    expected = direct_probabilities(MODEL, pixels, models_folder)
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-6)
    assert result.positive == ((1,) if expected[1] >= 0.6 else (0,))
    text = panel.browser.toPlainText()
    assert MODEL in text and f"{100 * expected[1]:.1f} %, threshold 60.0 % (card)" in text
    assert "random weights" not in text and "Details ▸" in text  # the details are folded
    panel._on_anchor(QUrl(findings_text.details_link(MODEL)))
    text = panel.browser.toPlainText()
    assert "operating threshold 60.0 %" in text and "random weights: for tests only" in text
    assert "unsigned: trained on this workstation — not a release model" in text  # exported here, never signed
    panel.shutdown()


def test_a_tampered_release_model_is_refused_in_the_panel_and_a_site_threshold_is_shown(qtbot, tmp_path, monkeypatch):
    from cxrviewer.core.site_settings import SiteThreshold, save_site_threshold

    monkeypatch.setenv("CXRVIEWER_SITE_SETTINGS", str(tmp_path / "site.json"))
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("pneumonia-kermany", "opacity-rsna"):
        for source in paths.models_dir().glob(f"{name}.*"):
            shutil.copy(source, folder / source.name)
    card = json.loads(card_path(folder, "opacity-rsna").read_text())
    card["thresholds"] = [0.5, 0.5]
    card_path(folder, "opacity-rsna").write_text(json.dumps(card))
    version = json.loads(card_path(folder, "pneumonia-kermany").read_text())["version"]  # calibrated for this version
    save_site_threshold(SiteThreshold("pneumonia-kermany", "pneumonia", 0.42, 0.5, version, 212, "2026-12-10"))
    panel = FindingsPanel(models_dir=folder)
    qtbot.addWidget(panel)
    panel.show_study(0, read_image(paths.demo_study()).pixels)
    wait_idle(qtbot, panel)
    text = panel.browser.toPlainText()
    assert "Could not run: model opacity-rsna: its card differs from the signed card: card field thresholds[0]" in text
    card_threshold = json.loads(card_path(folder, "pneumonia-kermany").read_text())["thresholds"][1]
    assert panel.outcome("pneumonia-kermany").threshold == 0.42  # its line is withheld: no age is known
    panel._on_anchor(QUrl(findings_text.details_link("pneumonia-kermany")))
    text = panel.browser.toPlainText()
    assert ("Threshold: 42.0 %, this site's: calibrated on 212 local films on 2026-12-10 (the model card's is "
            "50.0 %)") in text
    assert card_threshold != 0.42
    # Back to the card: the site settings are part of the results' stamp, so the call is made again.
    from cxrviewer.core.site_settings import remove_site_threshold

    assert remove_site_threshold("pneumonia-kermany")
    panel.refresh_models()
    qtbot.waitUntil(lambda: getattr(panel.outcome("pneumonia-kermany"), "threshold", None) == card_threshold,
                    timeout=30000)
    assert "this site's" not in panel.browser.toPlainText() and "the model card's: chosen" in panel.browser.toPlainText()
    assert "unsigned" not in text and "release model, its signature verified" in text
    panel.shutdown()


def test_the_phantom_caution_stands_above_every_models_probabilities(qtbot, models_folder):
    panel = FindingsPanel(models_dir=models_folder)
    qtbot.addWidget(panel)
    demo = read_image(paths.demo_study())
    panel.show_study("demo", demo.pixels, demo.meta)
    wait_idle(qtbot, panel)
    text = panel.browser.toPlainText()
    p = panel.outcome(MODEL).probabilities[1]
    caution = text.index(f"Caution: {SYNTHETIC_TEXT}")
    assert caution < text.index(f"{100 * p:.1f} %") and caution < text.index(MODEL)
    assert text.count("Caution:") == 1  # once for the study, not once per model
    panel.show_study("plain", study_pixels(5), ImageMeta(Path("plain.dcm"), "DICOM", description="CHEST PA"))
    wait_idle(qtbot, panel)
    assert "Caution" not in panel.browser.toPlainText()
    panel.shutdown()


def test_an_age_outside_the_cards_population_is_cautioned_under_that_model(qtbot, models_folder, tmp_path):
    for source in models_folder.glob(f"{MODEL}.*"):
        shutil.copy(source, tmp_path / source.name)
    card = json.loads(card_path(tmp_path, MODEL).read_text())
    card["population"] = {"age_years": [1, 5], "description": "children aged 1–5"}
    card_path(tmp_path, MODEL).write_text(json.dumps(card))
    panel = FindingsPanel(models_dir=tmp_path)
    qtbot.addWidget(panel)

    def aged(age: str) -> ImageMeta:
        return ImageMeta(Path("adult.dcm"), "DICOM", tags=(("(0010,1010)", "Patient's Age", "AS", age),))

    panel.show_study("adult", study_pixels(6), aged("045Y"))
    wait_idle(qtbot, panel)
    text = panel.browser.toPlainText()
    caution = "Caution: This model was trained on children aged 1–5; this patient's recorded age is 45 years."
    p = panel.outcome(MODEL).probabilities[1]
    # The summary does not answer for this patient: it says the answer is withheld, and why; the
    # caution, which says the same with the age, and the probabilities are in the folded details.
    assert f"withheld — {OUTSIDE_POPULATION} (children aged 1–5)" in text
    assert caution not in text and f"{100 * p:.1f} %" not in text
    panel._on_anchor(QUrl(findings_text.details_link(MODEL)))
    text = panel.browser.toPlainText()
    assert text.index(f"withheld — {OUTSIDE_POPULATION}") < text.index(caution) < text.index(f"{100 * p:.1f} %")
    panel.show_study("child", study_pixels(6), aged("004Y"))
    assert "Caution" not in panel.browser.toPlainText()
    panel.shutdown()


def test_a_failing_model_shows_its_error_and_the_others_still_run(qtbot, models_folder, tmp_path):
    for source in models_folder.glob(f"{MODEL}.*"):
        shutil.copy(source, tmp_path / source.name)
        shutil.copy(source, tmp_path / source.name.replace(MODEL, "altered"))
    card_path(tmp_path, "altered").write_text(card_path(models_folder, MODEL).read_text().replace(MODEL, "altered"))
    with open(tmp_path / "altered.onnx", "ab") as stream:
        stream.write(b"\0")
    card_path(tmp_path, "unreadable").write_text("{ not json")
    panel = FindingsPanel(models_dir=tmp_path)
    qtbot.addWidget(panel)
    panel.show_study(0, study_pixels(2))
    wait_idle(qtbot, panel)
    assert "does not match its checksum" in panel.outcome("altered")
    assert isinstance(panel.outcome(MODEL), Finding)
    text = panel.browser.toPlainText()
    assert "Could not run: model altered:" in text and "Could not run: model" in text.split("unreadable")[1]
    panel.shutdown()


def test_no_models_shows_the_friendly_empty_text(qtbot, tmp_path):
    panel = FindingsPanel(models_dir=tmp_path / "absent")
    qtbot.addWidget(panel)
    panel.show()
    panel.show_study(0, study_pixels(3))
    assert not panel.busy
    assert panel.empty_label.isVisible() and panel.empty_label.text() == EMPTY_TEXT
    assert not panel.browser.isVisible()


def test_a_previous_studys_late_result_is_not_shown(qtbot, models_folder):
    release = threading.Event()
    calls: list[float] = []

    def classify(name, pixels, folder):
        calls.append(float(pixels[0, 0]))
        if pixels[0, 0] == 0.25:
            release.wait(10)  # study "a" is still running when the reader moves to "b"
        p = float(pixels[0, 0])
        return Finding(name, ("normal", "abnormal"), (1 - p, p), (0,), "threshold", 0.6, "CPU", 0.0)

    panel = FindingsPanel(models_dir=models_folder, classify=classify)
    qtbot.addWidget(panel)
    a, b = np.full((50, 50), 0.25, np.float32), np.full((50, 50), 0.125, np.float32)
    panel.show_study("a", a)
    qtbot.waitUntil(lambda: calls == [0.25], timeout=5000)
    panel.show_study("b", b)
    release.set()
    wait_idle(qtbot, panel)
    qtbot.wait(50)  # let a late signal from the abandoned job arrive, if any were delivered
    text = panel.browser.toPlainText()
    assert "12.5 %" in text and "25.0 %" not in text
    assert panel.outcome(MODEL).probabilities == (0.875, 0.125)
    panel.show_study("a", a)  # its result was dropped: run again, now unblocked
    wait_idle(qtbot, panel)
    assert "25.0 %" in panel.browser.toPlainText() and calls == [0.25, 0.125, 0.25]
    panel.show_study("b", b)  # cached: shown at once, nothing runs
    assert not panel.busy and "12.5 %" in panel.browser.toPlainText() and len(calls) == 3
    panel.shutdown()


def test_label_links_select_a_class_and_the_about_link_opens_the_card(qtbot, models_folder):
    panel = FindingsPanel(models_dir=models_folder)
    qtbot.addWidget(panel)
    panel.show_study(0, study_pixels(4))
    wait_idle(qtbot, panel)
    with qtbot.waitSignal(panel.classSelected) as signal:
        panel._on_anchor(QUrl(findings_text.class_link(MODEL, "abnormal")))
    assert signal.args == [MODEL, "abnormal"]
    assert "none (random weights)" not in panel.browser.toPlainText()
    panel._on_anchor(QUrl(findings_text.details_link(MODEL)))
    assert "none (random weights):\nAUC 0.500" in panel.browser.toPlainText()
    with qtbot.waitSignal(panel.classSelected) as signal:  # the label links are in the details
        panel._on_anchor(QUrl(findings_text.class_link(MODEL, "normal")))
    assert signal.args == [MODEL, "normal"]
    panel.shutdown()


def test_the_window_runs_the_models_on_each_study_and_caches_them(qtbot, settings, models_folder, monkeypatch,
                                                                  band_study, detector_study):
    monkeypatch.setenv("CXRVIEWER_MODELS", str(models_folder))
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    panel = window.findings_panel
    with qtbot.waitSignal(window.session.idle, timeout=15000):
        window.open_paths([band_study, detector_study])
    wait_idle(qtbot, panel)
    first = panel.outcome(MODEL)
    pixels = window.canvas.image.pixels
    np.testing.assert_allclose(first.probabilities, direct_probabilities(MODEL, pixels, models_folder), rtol=1e-6)
    window.worklist.step(1)
    qtbot.waitUntil(lambda: window.canvas.image is not None and window.canvas.image.meta.path == detector_study)
    wait_idle(qtbot, panel)
    assert isinstance(panel.outcome(MODEL), Finding)
    window.worklist.step(-1)
    qtbot.waitUntil(lambda: window.canvas.image.meta.path == band_study)
    assert not panel.busy and panel.outcome(MODEL) == first
    window.session.shutdown()
    panel.shutdown()


@pytest.mark.skipif(not card_path(paths.models_dir(), "pneumonia-kermany").is_file(),
                    reason="the trained pneumonia-kermany model is not installed in models/")
def test_the_demo_study_through_the_installed_pneumonia_model(qtbot, settings, monkeypatch):
    monkeypatch.delenv("CXRVIEWER_MODELS", raising=False)
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.session.idle, timeout=15000):
        window.open_paths([paths.demo_study()])
    panel = window.findings_panel
    wait_idle(qtbot, panel)
    gate = panel.service.roles.gate
    if gate is not None and not panel.outcome(gate).accepted:
        # The phantom is no patient: an installed gate may refuse it, and the reader overrides to read on.
        assert WITHHELD_MESSAGE in panel.browser.toPlainText() and "pneumonia-kermany" not in panel.browser.toPlainText()
        panel._on_anchor(QUrl(findings_text.SHOW_ANYWAY_LINK))
    result = window.findings_panel.outcome("pneumonia-kermany")
    assert isinstance(result, Finding), result
    panel._on_anchor(QUrl(findings_text.details_link("pneumonia-kermany")))  # the phantom has no age: withheld
    expected = direct_probabilities("pneumonia-kermany", read_image(paths.demo_study()).pixels)
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-6)
    text = window.findings_panel.browser.toPlainText()
    assert "pneumonia-kermany" in text and f"{100 * expected[1]:.1f} %" in text
    # The window hands the study's metadata on: the reader is told first that this is no patient.
    assert text.index(f"Caution: {SYNTHETIC_TEXT}") < text.index(f"{100 * expected[1]:.1f} %")
    window.session.shutdown()
    window.findings_panel.shutdown()


def test_one_summary_line_per_model_first_every_number_a_percentage():
    """Issue 20, item 5: the TB result was three scrolls down, as 0.998 in one place and 99.8 % in another."""
    from cxrviewer.analysis.pipeline import LesionFinding

    tb = Finding("tb-screen", ("normal", "tb"), (0.002, 0.998), (1,), "threshold", 0.64, "CPU", 0.01)
    three = Finding("kids3", ("normal", "bacteria", "virus"), (0.1, 0.7, 0.2), (1,), "argmax", None, "CPU", 0.01)
    lesions = LesionFinding("tb-lesions", np.zeros((2, 2), np.float32), 0.05, 0.3, False)
    html = findings_text.summary_html([(tb, True), (three, True), (lesions, True)])
    # The words of core.reading_words, as every report prints them; the call in its colour and in words.
    assert f"<b>TB</b>: <span style='color:{CALL_COLOURS['abnormal']}'><b>abnormal</b></span> — 99.8 %, " \
           "threshold 64.0 % (card) <span style='color:#808080'>· tb-screen</span>" in html
    assert "<b>Bacteria / virus</b>: " in html and "<b>abnormal (bacteria)</b></span> — 70.0 %, the most probable label" in html
    assert "<b>TB-consistent areas</b>: " in html and "<b>normal</b></span> — 5.0 %, threshold 30.0 % (card)" in html
    assert "0.998" not in html and "0.64" not in html
    assert findings_text.summary_html([]) == ""
    outside = findings_text.summary_html([(three, False)])  # issue 20, item 3: not answered at the top
    assert "70.0 %" not in outside and f"withheld</b></span> — {findings_text.OUTSIDE_POPULATION}" in outside
    said = findings_text.summary_html([(three, "this patient is outside the population it was trained on (kids)")])
    assert "70.0 %" not in said and "— this patient is outside the population it was trained on (kids)" in said
