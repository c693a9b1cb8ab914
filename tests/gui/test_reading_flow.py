"""A reader's whole session on real radiographs with the shipped models, through the real window:
open a folder, wait for the triage scores, sort by the TB score, open the top study, show each layer
and move thresholds, switch to the bone-suppressed base, write a note, export PNG and PDF, then close
the viewer, reopen the folder in a new one and find the note (issue 8's Done-when)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pdf_support import compact, pdf_text
from PIL import Image as PilImage
from PySide6.QtTest import QTest

from cxrviewer import paths
from cxrviewer.analysis.pipeline import lesion_model, model_roles
from cxrviewer.core.cards import card_path, load_card
from cxrviewer.core.display.compose import Threshold, compose
from cxrviewer.core.layers import KINDS, drawn_layer
from cxrviewer.gui.main_window import MainWindow

NEEDED = ("gate", "lungs", "bone_suppression", "lesions")


@pytest.fixture
def reading_folder(tmp_path) -> Path:
    """Two held-out TBX11K TB films, two adult normals (OpenIST, JSRT non-nodule) and a chest DICOM."""
    data = paths.shared_data_dir()
    if not data.is_dir():
        pytest.skip(f"real data not found at {data} (set CXRVIEWER_SHARED_DATA)")
    roles = model_roles(paths.models_dir())
    missing = [role for role in NEEDED if not getattr(roles, role)] + ([] if roles.classifiers else ["classifier"])
    if missing:
        pytest.skip(f"shipped models missing from {paths.models_dir()}: {', '.join(missing)}")
    folder = tmp_path / "worklist"
    folder.mkdir()
    for name in ("tb0018.jpg", "tb0036.jpg"):
        shutil.copy(data / "tbx11k_tb" / "images" / name, folder / f"tb-{name}")
    shutil.copy(data / "openist_lungs" / "108-117-500-500-100.jpg", folder / "normal-openist.jpg")
    shutil.copy(data / "dicom" / "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm", folder / "siim.dcm")
    return folder


def new_window(qtbot, settings) -> MainWindow:
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_a_reading_session_from_worklist_to_report_and_back(qtbot, settings, reading_folder, tmp_path):
    window = new_window(qtbot, settings)
    worklist = window.worklist
    with qtbot.waitSignal(worklist.idle, timeout=180000):
        window.open_paths([reading_folder])
    rows = {r.path.name: r for r in worklist.model.rows}
    assert len(rows) == 4 and all(r.status == "done" for r in rows.values()), {n: r.status for n, r in rows.items()}

    # Triage: the TB films come first in the triage column (the TB screening model, whose population
    # has no age bound). The TB lesion model's column greys these films (adults only, and a JPEG
    # records no age) and sorts its greyed answers after those that apply: the SIIM DICOM, an adult.
    lesions = lesion_model(paths.models_dir())  # the TB lesion model
    worklist.sort_by(0)
    order = [worklist.model.rows[s].path.name for s in worklist.visible_order()]
    assert order[0].startswith("tb-") and order[1].startswith("tb-"), [(n, rows[n].scores) for n in order]
    assert rows[order[0]].scores[f"lesions:{lesions}"] > rows["normal-openist.jpg"].scores[f"lesions:{lesions}"]
    worklist.sort_by(worklist.model.column(f"lesions:{lesions}"))
    assert [worklist.model.rows[s].path.name for s in worklist.visible_order()][0] == "siim.dcm"
    worklist.sort_by(0)

    # Open the top study and wait until every layer it can have has arrived.
    worklist.study_activated.emit(worklist.visible_order()[0])
    qtbot.waitUntil(lambda: window.canvas.image is not None and window.canvas.image.meta.path.name == order[0],
                    timeout=30000)
    controller, stack = window.layers, window.layer_panel.stack
    expected_kinds = {"saliency", "gradcam", "cam", "crm", "tb_lesions", "lung_outline", "bones"}
    # A second lesion model (lung opacity) sends its map to its own layer; on a TB film its map may
    # hold nothing above its threshold, so it is only required to arrive.
    arriving = expected_kinds | ({"opacity_lesions"} if lesion_model(paths.models_dir(), "opacity_lesions") else set())
    qtbot.waitUntil(lambda: arriving <= set(controller.raw), timeout=180000)
    for kind in KINDS:  # start from the bare radiograph, whatever the reader's saved defaults show
        window.layer_panel.controls[kind].visible.setChecked(False)
    base = window.composed_view()

    # Each layer on its own changes the composed view; together they draw in stack order.
    for kind in (k for k in KINDS if k in expected_kinds):
        window.layer_panel.controls[kind].visible.setChecked(True)
        assert not np.array_equal(window.composed_view(), base), kind
        window.layer_panel.controls[kind].visible.setChecked(False)
    for kind in ("gradcam", "tb_lesions", "lung_outline"):
        window.layer_panel.controls[kind].visible.setChecked(True)
    drawn = [s.kind for s in stack.visible() if s.kind in controller.indexed]
    composed = window.composed_view()
    np.testing.assert_array_equal(
        composed, compose(window.canvas.displayed_image(),  # an explanation map's alpha weighed by its class's probability
                          [drawn_layer(stack[k], controller.indexed[k], controller.overlays.strength.get(k, 1.0))
                           for k in drawn]))

    # Moving a threshold re-renders through the table only: the indexed map is the same object. (Grad-CAM
    # off: the TB screening classifier's 2x2 feature grid covers the whole film at any threshold.)
    window.layer_panel.controls["gradcam"].visible.setChecked(False)
    index_before = controller.indexed["tb_lesions"].index
    shown_before = int((window.composed_view() != base).any(axis=2).sum())
    stack.update("tb_lesions", threshold=Threshold("value", 0.9))
    assert controller.indexed["tb_lesions"].index is index_before
    assert int((window.composed_view() != base).any(axis=2).sum()) < shown_before

    # B: the bone-suppressed soft-tissue view as the base; it differs from the original in the lungs only.
    original = window.canvas.displayed_image().copy()
    QTest.keyClick(window.canvas, "B")
    assert window.canvas.showing_soft_tissue
    soft = window.canvas.displayed_image()
    lungs = controller.raw["lung_outline"] >= 0.5
    changed = soft.astype(int) != original.astype(int)
    assert changed[lungs].mean() > 0.2 and not changed[~lungs & (controller.raw["bones"] == 0)].any()

    # A note, saved at once to the folder's store.
    qtbot.waitUntil(lambda: worklist.reading.note_edit.isEnabled())
    QTest.keyClicks(worklist.reading.note_edit, "RUL cavity? compare with prior")
    qtbot.waitUntil(lambda: worklist.reading.state_label.text() == "Saved", timeout=5000)

    # Exports: the PNG holds exactly the composed view, with the layers' legend under it; the PDF names every
    # model that spoke, with checksums.
    png, pdf = tmp_path / "view.png", tmp_path / "report.pdf"
    exports = window.export_actions
    with qtbot.waitSignal(exports.finished, timeout=60000):
        exports.export("export_png", png)
    exported, composed = np.asarray(PilImage.open(png).convert("RGB")), window.composed_view()
    np.testing.assert_array_equal(exported[:composed.shape[0]], composed)
    legends = tuple(window.layers.visible_layer_legends())  # the layers drawn: their legend strip under the view
    assert legends and exported.shape[0] > composed.shape[0]
    with qtbot.waitSignal(exports.finished, timeout=60000):
        exports.export("export_pdf", pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    text = compact(pdf_text(data))  # read by an independent parser (pypdf), white space aside
    card = load_card(card_path(paths.models_dir(), lesions))
    assert card.file("onnx").sha256[:16] in text and compact(lesions) in text

    # Close the viewer; a new one on the same folder finds the note.
    shown = window.canvas.image.meta.path.name
    window.close()
    window.session.shutdown()
    again = new_window(qtbot, settings)
    with qtbot.waitSignal(again.worklist.idle, timeout=180000):
        again.open_paths([reading_folder])
    row = next(r for r in again.worklist.model.rows if r.path.name == shown)
    assert row.reading.note == "RUL cavity? compare with prior" and row.reading.viewed
    again.session.shutdown()
