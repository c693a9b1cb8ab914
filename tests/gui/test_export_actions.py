"""The File menu's exports on the real window, offscreen, through the actions and a patched file dialog."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from pdf_support import compact, pdf_fonts, pdf_page_text, pdf_pages, pdf_text, pdf_text_sizes
from PIL import Image as PilImage
from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QFileDialog, QMessageBox
from screen_support import inner_pixels, screen_at_view
from viewer_support import band_pixels, open_and_wait, write_dicom

from cxrviewer import paths
from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import GateResult
from cxrviewer.analysis.report_readings import finding_summary
from cxrviewer.core.cards import card_path, load_card
from cxrviewer.core.display.voi import apply_window
from cxrviewer.core.export.legend_strip import legend_strip
from cxrviewer.core.reading_words import population_reason
from cxrviewer.core.reading_words import withheld as withheld_summary
from cxrviewer.core.suitability import age_fit
from cxrviewer.gui.export_actions import ANONYMISE_KEY
from cxrviewer.gui.findings_text import SHOW_ANYWAY_LINK
from cxrviewer.gui.main_window import MainWindow

PATIENT_ID, PATIENT_NAME = "PID-H4-55102", "Doe^Jane"
SHIPPED, GATE, LUNGS = "pneumonia-kermany", "cxr-gate", "lungs-unet"


@pytest.fixture
def identified_study(tmp_path):
    """The band study with a patient, window C 2000 W 4000."""
    return write_dicom(tmp_path / "jane-doe-55102.dcm", band_pixels(), PatientID=PATIENT_ID, PatientName=PATIENT_NAME,
                       StudyInstanceUID="1.2.826.0.1.3680043.8.498.55102", WindowCenter=2000, WindowWidth=4000)


def make_window(qtbot, settings) -> MainWindow:
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.resize(900, 600)
    window.show()
    qtbot.waitExposed(window)
    return window


def save_to(monkeypatch, path) -> list[tuple]:
    """QFileDialog.getSaveFileName answers `path`; returns the calls it got."""
    calls = []

    def answer(parent, caption, suggested, file_filter):
        calls.append((caption, suggested, file_filter))
        return str(path), file_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(answer))
    return calls


def trigger(qtbot, window, name: str) -> list:
    """Trigger export action `name` and wait until the file is written or refused: [path, error]."""
    with qtbot.waitSignal(window.export_actions.finished, timeout=30000) as blocker:
        window.actions_by_name[name].trigger()
    return blocker.args


def expected_view() -> np.ndarray:
    """The band study at C 2000 W 4000 as RGB: what the canvas shows with no layer on."""
    grey = np.rint(apply_window(band_pixels(), 2000, 4000) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def test_the_file_menu_holds_the_exports_and_remembers_anonymise(qtbot, settings, no_models):
    window = make_window(qtbot, settings)
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    assert window.actions_by_name["export_png"] is window.export_actions.actions["export_png"]
    texts = [a.text() for a in file_menu.actions() if not a.isSeparator()]
    assert texts.count("Export view as &PNG…") == 1
    exports = ["Export view as &PNG…", "Export &report as PDF…", "Export DICOM &Secondary Capture…",
               "&Anonymise exports"]
    assert texts[texts.index(exports[0]):texts.index(exports[0]) + 4] == exports
    assert texts.index("&Anonymise exports") < texts.index(window.actions_by_name["quit"].text())
    anonymise = window.actions_by_name["anonymise_exports"]
    assert anonymise.isCheckable() and not anonymise.isChecked()
    assert not window.actions_by_name["export_png"].isEnabled()  # no study yet
    anonymise.setChecked(True)
    assert settings.value(ANONYMISE_KEY, type=bool) is True
    window.session.shutdown()
    again = make_window(qtbot, settings)
    assert again.actions_by_name["anonymise_exports"].isChecked()
    again.session.shutdown()


def test_png_pdf_and_dicom_through_the_actions(qtbot, settings, no_models, identified_study, tmp_path, monkeypatch):
    window = make_window(qtbot, settings)
    open_and_wait(qtbot, window, identified_study)
    qtbot.waitUntil(window.actions_by_name["export_png"].isEnabled)

    calls = save_to(monkeypatch, tmp_path / "view")  # no suffix: the action adds it
    trigger(qtbot, window, "export_png")
    assert calls[0][1].endswith("jane-doe-55102_view.png")
    with PilImage.open(tmp_path / "view.png") as picture:
        np.testing.assert_array_equal(np.asarray(picture), expected_view())
        assert picture.text["Patient ID"] == PATIENT_ID
    assert window.statusBar().currentMessage() == f"Exported {tmp_path / 'view.png'}"

    save_to(monkeypatch, tmp_path / "report.pdf")
    trigger(qtbot, window, "export_pdf")
    data = (tmp_path / "report.pdf").read_bytes()
    text = pdf_page_text(data, 0)
    assert pdf_pages(data) == 2  # the reading, then the appendix
    assert f"Patient: Doe^Jane / {PATIENT_ID}" in text and "Source: jane-doe-55102.dcm" in text
    assert "no gate model ran on this study" in text and "No model reading was available" in text
    assert "No layer is drawn over the image." in text

    save_to(monkeypatch, tmp_path / "sc.dcm")
    trigger(qtbot, window, "export_dicom")
    ds = pydicom.dcmread(tmp_path / "sc.dcm")
    assert ds.PatientID == PATIENT_ID and ds.StudyInstanceUID == "1.2.826.0.1.3680043.8.498.55102"
    np.testing.assert_array_equal(ds.pixel_array, expected_view())
    window.session.shutdown()


def test_anonymised_exports_through_the_actions(qtbot, settings, no_models, identified_study, tmp_path, monkeypatch):
    window = make_window(qtbot, settings)
    open_and_wait(qtbot, window, identified_study)
    window.actions_by_name["anonymise_exports"].setChecked(True)
    out = tmp_path / "out"
    out.mkdir()
    qtbot.waitUntil(window.actions_by_name["export_dicom"].isEnabled)
    for name, suffix, suggested in (("export_png", ".png", "anonymised_view.png"),
                                    ("export_pdf", ".pdf", "anonymised_report.pdf"),
                                    ("export_dicom", ".dcm", "anonymised_sc.dcm")):
        calls = save_to(monkeypatch, out / f"a{suffix}")
        assert trigger(qtbot, window, name) == [str(out / f"a{suffix}"), ""]
        assert calls[0][1].endswith(suggested)
        data = (out / f"a{suffix}").read_bytes()
        said = compact(pdf_text(data)).encode() if suffix == ".pdf" else data  # the PDF's text is compressed
        assert suffix != ".pdf" or b"withheld(anonymisedexport)" in said
        for secret in (PATIENT_ID, "Doe^Jane", "Doe", "jane-doe", "1.2.826.0.1.3680043.8.498.55102"):
            assert secret.encode() not in said, (secret, suffix)
    assert window.statusBar().currentMessage() == f"Exported {out / 'a.dcm'} (anonymised)"
    window.session.shutdown()


def test_a_failed_export_names_the_file_and_writes_nothing(qtbot, settings, no_models, identified_study, tmp_path,
                                                          monkeypatch):
    window = make_window(qtbot, settings)
    open_and_wait(qtbot, window, identified_study)
    qtbot.waitUntil(window.actions_by_name["export_pdf"].isEnabled)
    target = tmp_path / "missing-folder" / "report.pdf"
    save_to(monkeypatch, target)
    shown = []
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda parent, title, text: shown.append((title, text))))
    assert trigger(qtbot, window, "export_pdf") == [str(target), f"{target}: the folder does not exist; nothing was written"]
    assert shown == [("Export failed", f"Could not write {target}:\nthe folder does not exist; nothing was written")]
    assert window.statusBar().currentMessage() == f"Export to {target} failed"
    assert not target.parent.exists()
    window.session.shutdown()


def corner_marked_pixels() -> np.ndarray:
    """The bands with a black block in the top-left quarter: no flip or turn leaves it unchanged."""
    pixels = band_pixels()
    pixels[:30, :100] = 0
    return pixels


# Keys pressed from the file's orientation → the exported picture, written out by hand with numpy
# (independent of core.orientation): ] turns clockwise, [ anticlockwise, H and V mirror the screen.
TURNS = {
    "]": lambda e: np.rot90(e, -1),
    "]]": lambda e: np.rot90(e, 2),
    "[": lambda e: np.rot90(e, 1),
    "H": lambda e: e[:, ::-1],
    "V": lambda e: e[::-1],
    "]H": lambda e: np.rot90(e, -1)[:, ::-1],
    "[V": lambda e: np.rot90(e, 1)[::-1],
}


def test_exports_face_the_way_the_reader_turned_the_film(qtbot, settings, no_models, tmp_path, monkeypatch):
    study = write_dicom(tmp_path / "marked.dcm", corner_marked_pixels(), WindowCenter=2000, WindowWidth=4000,
                        PatientOrientation=["L", "F"])
    grey = np.rint(apply_window(corner_marked_pixels(), 2000, 4000) * 255).astype(np.uint8)
    as_stored = np.repeat(grey[..., None], 3, axis=2)
    window = make_window(qtbot, settings)
    open_and_wait(qtbot, window, study)
    qtbot.waitUntil(window.actions_by_name["export_png"].isEnabled)
    state = window.canvas.state
    for keys, turn in TURNS.items():
        state.rotation, state.flip_h, state.flip_v = 0, False, False
        for key in keys:
            qtbot.keyClick(window.canvas, key)
        save_to(monkeypatch, tmp_path / f"view{keys}.png")
        assert trigger(qtbot, window, "export_png") == [str(tmp_path / f"view{keys}.png"), ""]
        with PilImage.open(tmp_path / f"view{keys}.png") as picture:
            exported = np.asarray(picture)
            assert picture.text["Orientation"].startswith("as the reader turned it: "), keys
        np.testing.assert_array_equal(exported, turn(as_stored), err_msg=keys)
        np.testing.assert_array_equal(exported, window.composed_view(), err_msg=keys)
        rows, columns = inner_pixels(exported, stride=4)
        assert len(rows) > 500
        np.testing.assert_array_equal(screen_at_view(window.canvas, rows, columns), exported[rows, columns],
                                      err_msg=keys)

    # The last turn ([ then V: a quarter turn anticlockwise, then mirrored top-bottom on screen) in the
    # report and the Secondary Capture, which must also say which way the patient now faces.
    save_to(monkeypatch, tmp_path / "sc.dcm")
    trigger(qtbot, window, "export_dicom")
    ds = pydicom.dcmread(tmp_path / "sc.dcm")
    np.testing.assert_array_equal(ds.pixel_array, TURNS["[V"](as_stored))
    # Turned anticlockwise the patient's left edge is at the top; the mirror puts it at the bottom.
    assert list(ds.PatientOrientation) == ["F", "L"]  # along a row towards the feet, down a column to the left
    assert "mirrored left-right, then rotated 90 degrees anticlockwise" in ds.ImageComments
    save_to(monkeypatch, tmp_path / "report.pdf")
    trigger(qtbot, window, "export_pdf")
    assert "Orientation: as the reader turned it: mirrored left-right, then rotated 90 degrees anticlockwise" in (
        pdf_text((tmp_path / "report.pdf").read_bytes()))
    window.session.shutdown()


@pytest.mark.parametrize("name", ["山田^太郎", "Иванов^Иван"], ids=["japanese", "cyrillic"])
def test_a_japanese_or_cyrillic_name_prints_through_the_action(qtbot, settings, no_models, tmp_path, monkeypatch,
                                                               name):
    """The report drawn in the export job's thread, in the fonts the export actions registered."""
    study = write_dicom(tmp_path / "study.dcm", band_pixels(), PatientID=PATIENT_ID, PatientName=name,
                        SpecificCharacterSet="ISO_IR 192", WindowCenter=2000, WindowWidth=4000)
    window = make_window(qtbot, settings)
    open_and_wait(qtbot, window, study)
    qtbot.waitUntil(window.actions_by_name["export_pdf"].isEnabled)
    save_to(monkeypatch, tmp_path / "report.pdf")
    assert trigger(qtbot, window, "export_pdf") == [str(tmp_path / "report.pdf"), ""]
    data = (tmp_path / "report.pdf").read_bytes()
    assert compact(f"Patient: {name} / {PATIENT_ID}") in compact(pdf_text(data))
    assert all(pdf_fonts(data).values())
    window.session.shutdown()


@pytest.mark.skipif(not card_path(paths.models_dir(), SHIPPED).is_file(),
                    reason=f"the shipped {SHIPPED} model is not installed in models/")
def test_the_report_carries_the_installed_models_reading_threshold_and_checksums(
        qtbot, settings, identified_study, tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    gate_shipped = card_path(paths.models_dir(), GATE).is_file()
    lungs_shipped = card_path(paths.models_dir(), LUNGS).is_file()
    for name in (SHIPPED, *([GATE] if gate_shipped else []), *([LUNGS] if lungs_shipped else [])):
        shipped = load_card(card_path(paths.models_dir(), name), verify_files=False)
        for entry in shipped.files:
            shutil.copy2(paths.models_dir() / entry.path, folder / entry.path)
        shutil.copy2(card_path(paths.models_dir(), name), card_path(folder, name))
    card = load_card(card_path(folder, SHIPPED), verify_files=False)
    monkeypatch.setenv("CXRVIEWER_MODELS", str(folder))
    window = make_window(qtbot, settings)
    open_and_wait(qtbot, window, identified_study)
    qtbot.waitUntil(lambda: isinstance(window.findings_panel.outcome(SHIPPED), Finding), timeout=30000)
    qtbot.waitUntil(window.actions_by_name["export_pdf"].isEnabled)
    if lungs_shipped:
        qtbot.waitUntil(lambda: window.analysis.cached(window.analysis.study, "lungs", LUNGS) is not None,
                        timeout=30000)
    finding = window.findings_panel.outcome(SHIPPED)
    if gate_shipped:  # four bands are no chest radiograph: until the reader overrides, no finding is reported
        qtbot.waitUntil(lambda: isinstance(window.findings_panel.outcome(GATE), GateResult), timeout=30000)
        assert not window.findings_panel.findings_shown()
        save_to(monkeypatch, tmp_path / "withheld.pdf")
        trigger(qtbot, window, "export_pdf")
        withheld = (tmp_path / "withheld.pdf").read_bytes()
        assert "findings withheld, as on screen" in pdf_text(withheld) and "P(pneumonia)" not in pdf_text(withheld)
        assert card.files[0].sha256 not in pdf_text(withheld)
        # The summary says so for the model, with the reason and no figure.
        assert ("Pneumonia: withheld — the image was not accepted as a frontal chest radiograph"
                in pdf_page_text(withheld, 0))
        window.findings_panel._on_anchor(QUrl(SHOW_ANYWAY_LINK))
        assert window.findings_panel.findings_shown()
    # Shown findings may bring their maps (issue 20): let the view settle before comparing exports with it.
    qtbot.waitUntil(lambda: not window.analysis.busy, timeout=60000)
    save_to(monkeypatch, tmp_path / "view.png")
    trigger(qtbot, window, "export_png")
    save_to(monkeypatch, tmp_path / "report.pdf")
    trigger(qtbot, window, "export_pdf")
    composed, legends = window.composed_view(), window.layers.visible_layer_legends()
    with PilImage.open(tmp_path / "view.png") as picture:  # whatever layers the window drew by now
        exported = np.asarray(picture)
    np.testing.assert_array_equal(exported[:composed.shape[0]], composed)  # the view, then its legend strip
    np.testing.assert_array_equal(exported[composed.shape[0]:], legend_strip(composed.shape[1], tuple(legends)))
    data = (tmp_path / "report.pdf").read_bytes()
    text, first = pdf_text(data), pdf_page_text(data, 0)
    # Page 1: the summary line of the finding as the panel says it, before the image; legible type. The
    # study records no age and the model is for children: its answer is withheld there, as on screen.
    reason = population_reason(age_fit(window.canvas.image.meta, card), card)
    summary = withheld_summary(finding_summary(finding), reason).text() if reason else finding_summary(finding).text()
    assert first.index("Summary") < first.index(summary) < first.index("Image as shown")
    assert all(f"Legend {legend.title}" in first or legend.title in first for legend in legends)
    assert min(size for _text, size in pdf_text_sizes(data, 0)) >= 9
    for line in window.visible_layer_summary():
        assert " ".join(line.split()) in text
    for entry in card.files:  # compact: pypdf sees spaces inside some words set in the mono font
        assert compact(f"{entry.path} sha256 {entry.sha256}") in compact(text)
    assert f"{SHIPPED} v{card.version}" in text
    assert f"operating threshold {100 * card.thresholds[1]:.1f} %" in text
    p = finding.probabilities[1]
    assert f"P(pneumonia) {100 * p:.1f} %" in text or p < 0.001 or p > 0.999
    if lungs_shipped:  # the lung model ran on the study: its files are listed too
        lungs = load_card(card_path(folder, LUNGS), verify_files=False)
        assert all(entry.sha256 in text for entry in lungs.files)
        assert f"{LUNGS} v{lungs.version} - segmentation" in text
    if gate_shipped:  # four bands are no chest radiograph: the gate's refusal is in the report
        verdict = window.findings_panel.outcome(GATE)
        assert isinstance(verdict, GateResult) and not verdict.accepted
        assert f"{GATE}: NOT recognised as a frontal chest radiograph" in text
        assert "findings withheld" not in text  # shown at the reader's request, so reported
    window.session.shutdown()
    window.findings_panel.shutdown()
