"""The worklist on a real MainWindow: folders of generated PNGs with a stand-in scorer whose scores
are the images' own mean grey, real files with the shipped models, sorting, keys, notes that
survive a kill, CSV export and a damaged store."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PilImage
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget

from cxrviewer import paths
from cxrviewer.analysis.findings import Finding, classify_study
from cxrviewer.analysis.gate import GateResult
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.pipeline import LesionFinding, ModelRoles, lesion_finding, model_roles
from cxrviewer.analysis.triage import TriageOutcome, triage_steps
from cxrviewer.core.io import read_image
from cxrviewer.core.reading_store import STORE_NAME, ReadingStore, StudyKey, user_store_location
from cxrviewer.core.reading_words import percent
from cxrviewer.gui.main_window import MainWindow
from cxrviewer.gui.worklist_triage import TriageRunner

FAKE_ROLES = ModelRoles(gate="fake-gate", classifiers=("fake-cls",), lesions="fake-tb")
# Grey levels of the generated studies; the gate rejects the darkest (mean below 0.15).
LEVELS = {"a.png": 0.55, "b.png": 0.80, "c.png": 0.10, "d.png": 0.30, "e.png": 0.65}
REPO = Path(__file__).resolve().parents[2]


def fake_triage(path, roles, models_dir, max_megapixels, cancelled):
    """Scores from the file's pixels: P(positive) = mean grey, TB lesion score = 1 - mean; the gate
    accepts a mean of 0.15 or more. A file whose name contains "bad" makes the classifier fail."""
    mean = float(read_image(path).pixels.mean())
    gate = GateResult("fake-gate", mean >= 0.15, 0.2 + mean / 2, 0.275)
    if "bad" in Path(path).name:
        return [TriageOutcome("gate", "fake-gate", gate),
                TriageOutcome("finding", "fake-cls", None, "model fake-cls: refused this image")]
    finding = Finding("fake-cls", ("normal", "abnormal"), (1 - mean, mean), (int(mean >= 0.5),), "threshold", 0.5,
                      "CPU", 0.0)
    lesions = LesionFinding("fake-tb", np.zeros((0, 0), np.float32), 1 - mean, 0.5, mean <= 0.5)
    outcomes = [TriageOutcome("gate", "fake-gate", gate), TriageOutcome("finding", "fake-cls", finding),
                TriageOutcome("lesions", "fake-tb", lesions)]
    return [o for o in outcomes if roles is None or (o.kind, o.model) in triage_steps(roles)]


def write_png(path: Path, level: float) -> Path:
    """A 64×80 grey image whose mean is `level` (a vertical ramp ±0.05 about it)."""
    ramp = np.linspace(-0.05, 0.05, 64)[:, None].repeat(80, axis=1)
    PilImage.fromarray(np.round((level + ramp) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def png_folder(tmp_path) -> Path:
    folder = tmp_path / "studies"
    folder.mkdir()
    for name, level in LEVELS.items():
        write_png(folder / name, level)
    return folder


@pytest.fixture
def make_window(qtbot, settings, tmp_path):
    """make_window(triage) → a shown MainWindow whose worklist scores with `triage` (None: the
    window's own, on the installed models) and keeps read-only folders' stores under tmp_path."""
    windows = []

    def make(triage: TriageRunner | None = None) -> MainWindow:
        window = MainWindow(settings=settings, triage=triage, user_data=tmp_path / "user-data")
        qtbot.addWidget(window)
        window.resize(1100, 700)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.session.shutdown()


@pytest.fixture
def bare_viewer(no_models, make_window):
    """A window whose analysis service finds no models (no_models comes first, so the window is made
    after it), so every score comes from the stand-in."""
    return make_window(fake_runner())


def fake_runner(triage=fake_triage, roles=FAKE_ROLES, **kwargs) -> TriageRunner:
    return TriageRunner(triage=triage, roles=roles, **kwargs)


def open_folder(qtbot, window, worklist, folder: Path, count: int) -> None:
    with qtbot.waitSignal(worklist.idle, timeout=30000):
        window.open_paths([folder])
    assert len(worklist.model.rows) == count and not worklist.busy
    assert all(r.analysis == "done" or r.load_error for r in worklist.model.rows)


def names(worklist) -> list[str]:
    return [worklist.model.rows[s].path.name for s in worklist.visible_order()]


def test_pngs_are_triaged_and_sort_most_suspicious_first(qtbot, bare_viewer, png_folder, tmp_path):
    # A PNG cut short: the folder scan takes it for a study, reading it fails.
    noise = np.random.default_rng(0).integers(0, 256, (64, 80), dtype=np.uint8)
    PilImage.fromarray(noise).save(tmp_path / "whole.png")
    (png_folder / "broken.png").write_bytes((tmp_path / "whole.png").read_bytes()[:2000])
    write_png(png_folder / "bad.png", 0.9)
    worklist = bare_viewer.worklist
    open_folder(qtbot, bare_viewer, worklist, png_folder, 7)
    model = worklist.model
    rows = {r.path.name: r for r in model.rows}
    column = model.column("finding:fake-cls")
    # Without a card the header names what the model's labels find; its tooltip names the model.
    assert model.headers[column] == "Abnormal" and model.headerData(column, Qt.Orientation.Horizontal,
                                                                     Qt.ItemDataRole.ToolTipRole) == "fake-cls: P(abnormal)"
    assert model.headerData(model.column("Status"), Qt.Orientation.Horizontal) == "Status"
    for name, level in LEVELS.items():
        assert rows[name].scores["finding:fake-cls"] == pytest.approx(level, abs=0.003)
        assert rows[name].status == "done"
        assert rows[name].thumbnail.height() == 38 and rows[name].thumbnail.width() == 48
    assert rows["c.png"].gate == (False, pytest.approx(0.25, abs=0.002))
    assert rows["bad.png"].status == "failed: model fake-cls: refused this image"
    assert rows["bad.png"].scores == {}
    assert rows["broken.png"].status.startswith("failed: ") and "broken.png" not in rows["broken.png"].status
    assert (worklist.progress.value(), worklist.progress.maximum()) == (6, 6)
    assert worklist.progress.text() == "6 / 6 analysed"

    header = worklist.header
    header.set_column_shown("finding:fake-cls", True)  # the models' own columns are hidden by default
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=header.section_at(column))
    # Most urgent first: the calls that apply, abnormal (b, e, a at or above 0.5) before normal (d);
    # the study the gate rejected (c) after them; those without a score at the bottom.
    assert names(worklist)[:4] == ["b.png", "e.png", "a.png", "d.png"], [(n, rows[n].scores, rows[n].gate) for n in names(worklist)]
    assert names(worklist)[4] == "c.png" and set(names(worklist)[5:]) == {"broken.png", "bad.png"}
    index = worklist.proxy.index(0, column)
    assert index.data() == f"abnormal {percent(rows['b.png'].scores['finding:fake-cls'])}"
    assert worklist.proxy.index(4, column).data() == f"indeterminate ({percent(rows['c.png'].scores['finding:fake-cls'])})"
    worklist.sort_by(column, Qt.SortOrder.AscendingOrder)
    assert names(worklist)[:5] == ["c.png", "d.png", "a.png", "e.png", "b.png"]
    assert set(names(worklist)[5:]) == {"broken.png", "bad.png"}
    worklist.sort_by(model.column("lesions:fake-tb"))
    assert model.headers[model.column("lesions:fake-tb")] == "TB-consistent areas"
    assert names(worklist)[:4] == ["d.png", "a.png", "e.png", "b.png"]
    worklist.sort_by(model.column("Gate"))
    assert names(worklist)[0] == "bad.png" and names(worklist)[-2:] == ["c.png", "broken.png"]


def test_keys_move_enter_opens_and_next_follows_the_sorted_order(qtbot, bare_viewer, png_folder, tmp_path):
    worklist = bare_viewer.worklist
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    worklist.sort_by(worklist.model.column("finding:fake-cls"))
    order = worklist.visible_order()  # b, e, a, d, c (rejected)
    assert names(worklist) == ["b.png", "e.png", "a.png", "d.png", "c.png"]
    qtbot.waitUntil(lambda: bare_viewer.session.current == 0)  # the first opened study is shown
    worklist.view.setFocus()
    worklist.view.setCurrentIndex(worklist.proxy.index(0, 1))
    QTest.keyClick(worklist.view, Qt.Key.Key_Down)
    QTest.keyClick(worklist.view, Qt.Key.Key_Down)
    assert worklist.proxy.mapToSource(worklist.view.currentIndex()).row() == order[2]
    assert bare_viewer.session.current == 0  # moving does not open
    QTest.keyClick(worklist.view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bare_viewer.session.current == order[2] and bare_viewer.canvas.image is not None
                    and bare_viewer.canvas.image.meta.path.name == "a.png")
    bare_viewer.actions_by_name["next_study"].trigger()
    qtbot.waitUntil(lambda: bare_viewer.canvas.image.meta.path.name == "d.png")
    bare_viewer.actions_by_name["previous_study"].trigger()
    bare_viewer.actions_by_name["previous_study"].trigger()
    qtbot.waitUntil(lambda: bare_viewer.canvas.image.meta.path.name == "e.png")
    assert worklist.proxy.mapToSource(worklist.view.currentIndex()).row() == order[1]
    assert worklist.current == bare_viewer.session.current == order[1]
    QTest.keyClick(worklist.view, Qt.Key.Key_Right)  # the window's Next study, even from the table
    qtbot.waitUntil(lambda: bare_viewer.canvas.image.meta.path.name == "a.png")
    QTest.keyClick(worklist.view, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: bare_viewer.canvas.image.meta.path.name == "e.png")
    e_row = worklist.model.rows[order[1]]
    qtbot.waitUntil(lambda: e_row.reading is not None and e_row.reading.viewed)
    QTest.keyClick(worklist.view, Qt.Key.Key_F)  # a window shortcut, even with the table focused
    assert e_row.reading.flagged and worklist.reading.flag_box.isChecked()
    assert worklist.proxy.index(1, worklist.model.column("Flag")).data(Qt.ItemDataRole.CheckStateRole) == \
        Qt.CheckState.Checked
    assert ReadingStore(png_folder / STORE_NAME).get(StudyKey("e.png")).flagged
    QTest.keyClick(worklist.view, Qt.Key.Key_N)
    assert QApplication.focusWidget() is worklist.reading.note_edit
    QTest.keyClicks(QApplication.focusWidget(), "Fine")  # an F typed into the note is text, not the flag key
    assert worklist.reading.note_edit.toPlainText() == "Fine" and e_row.reading.flagged
    d_index = worklist.proxy.index(3, worklist.model.column("Flag"))  # ticking the Flag cell of d
    worklist.proxy.setData(d_index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert worklist.model.rows[order[3]].reading.flagged and d_index.data(Qt.ItemDataRole.CheckStateRole) == \
        Qt.CheckState.Checked
    assert ReadingStore(png_folder / STORE_NAME).get(StudyKey("d.png")).flagged


def test_reviewed_is_marked_by_the_box_and_by_ctrl_enter_in_the_store_and_the_worklist(qtbot, bare_viewer,
                                                                                        png_folder):
    worklist, reading = bare_viewer.worklist, bare_viewer.worklist.reading
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    qtbot.waitUntil(lambda: reading.reviewed_box.isEnabled())
    column = worklist.model.column("Reviewed")
    # Hidden until shown from the header's right-click menu (the fixed columns overflow the default width).
    assert worklist.header.isSectionHidden(column) and not worklist.header.isSectionHidden(0)
    (entry,) = [a for a in worklist.header.column_menu().actions() if a.data() == "Reviewed"]
    assert entry.text() == "Reviewed" and not entry.isChecked()
    entry.trigger()
    assert not worklist.header.isSectionHidden(column) and not worklist.header.isSectionHidden(0)

    def marked(study: int) -> tuple[str, str, str, str | None, bool]:
        """(the row's state, the store's, the cell's text, the cell's tooltip, the box)."""
        row, index = worklist.model.rows[study], worklist.model.index(study, column)
        stored = ReadingStore(png_folder / STORE_NAME).get(StudyKey(row.path.name)).reviewed
        return (row.reading.reviewed, stored, index.data(), index.data(Qt.ItemDataRole.ToolTipRole),
                reading.reviewed_box.isChecked())

    first = bare_viewer.session.current
    assert marked(first) == ("", "", "", None, False)
    reading.reviewed_box.click()  # the reader ticks Reviewed
    when = worklist.model.rows[first].reading.reviewed
    assert when and marked(first) == (when, when, "✓", f"reviewed {when}", True)
    QTest.keyClick(worklist.view, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # again: unmarked
    assert marked(first) == ("", "", "", None, False)
    assert bare_viewer.session.current == first  # Ctrl+Enter is not Enter: nothing else opened
    bare_viewer.actions_by_name["next_study"].trigger()
    qtbot.waitUntil(lambda: bare_viewer.session.current != first and reading.reviewed_box.isEnabled())
    second = bare_viewer.session.current
    reading.note_edit.setFocus()
    QTest.keyClick(reading.note_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # from the note box
    when = worklist.model.rows[second].reading.reviewed
    assert when and marked(second) == (when, when, "✓", f"reviewed {when}", True)
    assert reading.note_edit.toPlainText() == ""  # a key, not a line typed into the note
    assert [s.key.path for s in ReadingStore(png_folder / STORE_NAME).all() if s.reviewed] == \
        [worklist.model.rows[second].path.name]
    assert [k.toString() for k in bare_viewer.actions_by_name["mark_reviewed"].shortcuts()] == \
        ["Ctrl+Return", "Ctrl+Enter"]  # the main Enter key and the keypad's


def test_a_note_survives_a_new_window_and_exports_as_csv(qtbot, bare_viewer, make_window, png_folder, tmp_path):
    worklist = bare_viewer.worklist
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    qtbot.waitUntil(lambda: worklist.reading.note_edit.isEnabled())
    QTest.keyClicks(worklist.reading.note_edit, "nodule RUL?")
    qtbot.waitUntil(lambda: worklist.reading.state_label.text() == "Saved", timeout=3000)
    shown = bare_viewer.canvas.image.meta.path.name
    with ReadingStore(png_folder / STORE_NAME) as store:  # another store object on the same file
        assert store.get(StudyKey(shown)).note == "nodule RUL?"
    out = tmp_path / "reading.csv"
    assert worklist.export_csv(out) == 5
    with open(out, newline="", encoding="utf-8") as handle:
        rows = {r["path"]: r for r in csv.DictReader(handle)}
    assert set(rows) == set(LEVELS)
    assert rows[shown]["note"] == "nodule RUL?" and rows[shown]["viewed"] == "1"
    assert float(rows["b.png"]["fake-cls"]) == pytest.approx(0.80, abs=0.003)
    assert (rows["b.png"]["gate"], rows["c.png"]["gate"], rows["b.png"]["status"]) == ("accepted", "rejected", "done")
    bare_viewer.close()

    second = make_window(fake_runner())
    again = second.worklist
    open_folder(qtbot, second, again, png_folder, 5)
    row = next(r for r in again.model.rows if r.path.name == shown)
    assert row.reading.note == "nodule RUL?"
    assert again.proxy.index(row.study, again.model.column("Note")).data() == "nodule RUL?"
    qtbot.waitUntil(lambda: again.reading.note_edit.toPlainText() == "nodule RUL?")


KILLED_VIEWER = textwrap.dedent("""
    import os, sys, time
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from pathlib import Path
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from cxrviewer.gui.main_window import MainWindow
    window = MainWindow(settings=QSettings(sys.argv[2], QSettings.Format.IniFormat), user_data=Path(sys.argv[3]))
    worklist = window.worklist
    window.open_paths([sys.argv[1]])
    deadline = time.time() + 30
    while not worklist.reading.note_edit.isEnabled() and time.time() < deadline:
        app.processEvents()
    worklist.reading.note_edit.setPlainText("typed before the kill")
    while worklist.reading.state_label.text() != "Saved" and time.time() < deadline:
        app.processEvents()
    print(window.canvas.image.meta.path.name, worklist.reading.state_label.text(), flush=True)
    while True:
        app.processEvents()
        time.sleep(0.01)
""")


def test_the_note_survives_sigkill_of_the_viewer(qtbot, bare_viewer, png_folder, tmp_path):
    env = {**os.environ, "CXRVIEWER_MODELS": str(tmp_path / "no-models")}
    child = subprocess.Popen([sys.executable, "-c", KILLED_VIEWER, str(png_folder), str(tmp_path / "child.ini"),
                              str(tmp_path / "user-data")], stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        shown, state = child.stdout.readline().split()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL and state == "Saved"
    worklist = bare_viewer.worklist
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    row = next(r for r in worklist.model.rows if r.path.name == shown)
    assert row.reading.note == "typed before the kill" and row.reading.viewed


def test_a_damaged_store_is_named_and_the_worklist_goes_on(qtbot, bare_viewer, png_folder, tmp_path):
    damaged = png_folder / STORE_NAME
    damaged.write_bytes(b"garbage, not SQLite\n" * 100)
    worklist = bare_viewer.worklist
    messages = []
    worklist.message.connect(messages.append)
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    assert all(r.status == "done" and r.reading is None for r in worklist.model.rows)
    assert len(messages) == 1 and messages[0].startswith(f"{damaged}: is damaged or not a reading store")
    qtbot.waitUntil(lambda: bare_viewer.canvas.image is not None)
    assert not worklist.reading.note_edit.isEnabled()
    assert worklist.reading.state_label.text().startswith(str(damaged))
    assert damaged.read_bytes() == b"garbage, not SQLite\n" * 100


def test_a_read_only_store_goes_on_in_the_user_data_folder_and_says_so(qtbot, bare_viewer, png_folder, tmp_path,
                                                                      monkeypatch):
    """A folder burnt to a CD with its reading store: its notes show, new notes are saved in the user
    data folder, and the reader is told where (status bar once, the line above the note, its tooltip)."""
    beside = png_folder / STORE_NAME
    with ReadingStore(beside) as store:
        for name in LEVELS:
            store.set_note(StudyKey(name), f"from the CD: {name}")
    original = beside.read_bytes()
    beside.chmod(0o444)
    # Root writes through permission bits: the file probe answers as it would for anyone else.
    monkeypatch.setattr("cxrviewer.core.reading_store.store_writable", lambda path: Path(path) != beside)
    try:
        worklist = bare_viewer.worklist
        messages = []
        worklist.message.connect(messages.append)
        open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
        moved = user_store_location(png_folder, tmp_path / "user-data")
        assert [m for m in messages if "read-only" in m] == [messages[0]]  # said once, not per study
        assert str(beside) in messages[0] and str(moved) in messages[0]
        assert all(r.reading.note == f"from the CD: {r.path.name}" for r in worklist.model.rows)
        panel = worklist.reading
        qtbot.waitUntil(lambda: panel.note_edit.isEnabled())
        shown = bare_viewer.canvas.image.meta.path.name
        assert panel.state_label.text() == messages[0]
        assert panel.note_edit.toolTip() == f"Notes are saved in {moved}"
        panel.note_edit.selectAll()
        QTest.keyClicks(panel.note_edit, "read at home")  # "attempt to write a readonly database" before
        qtbot.waitUntil(lambda: panel.state_label.text() == f"Saved in {moved}", timeout=3000)
        assert "read-only" in panel.state_label.toolTip()
        with ReadingStore(moved) as store:
            assert store.get(StudyKey(shown)).note == "read at home"
    finally:
        beside.chmod(0o644)
    assert beside.read_bytes() == original


def test_a_note_with_a_broken_character_is_saved_and_the_reader_told(qtbot, bare_viewer, png_folder, tmp_path,
                                                                     monkeypatch):
    """A lone surrogate half in the note box (Qt can hand one over; PySide cannot put one in, so the
    box's text is stood in for) raised UnicodeEncodeError out of the timer: now the note is saved with
    U+FFFD in its place, the box shows it so, and the reader is told."""
    worklist = bare_viewer.worklist
    messages = []
    worklist.message.connect(messages.append)
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    panel = worklist.reading
    qtbot.waitUntil(lambda: panel.note_edit.isEnabled())
    shown = bare_viewer.canvas.image.meta.path.name
    QTest.keyClicks(panel.note_edit, "abcXdef")  # X: where the box holds the half, as toPlainText says
    monkeypatch.setattr(panel.note_edit, "toPlainText", lambda: "abc\ud800def")
    qtbot.waitUntil(lambda: "replaced" in panel.state_label.text(), timeout=3000)
    monkeypatch.undo()
    assert panel.state_label.text() == messages[-1]
    assert "1 character(s)" in messages[-1] and "the rest of the note is kept" in messages[-1]
    assert panel.note_edit.toPlainText() == "abc\ufffddef"
    with ReadingStore(png_folder / STORE_NAME) as store:
        assert store.get(StudyKey(shown)).note == "abc\ufffddef"
    row = next(r for r in worklist.model.rows if r.path.name == shown)
    assert row.reading.note == "abc\ufffddef"
    QTest.keyClicks(panel.note_edit, " more")  # the viewer goes on: the next save is an ordinary one
    qtbot.waitUntil(lambda: panel.state_label.text() == "Saved", timeout=3000)
    assert ReadingStore(png_folder / STORE_NAME).get(StudyKey(shown)).note.endswith(" more")


def test_the_window_docks_the_worklist_and_places_its_actions(qtbot, bare_viewer, png_folder, tmp_path,
                                                              monkeypatch):
    worklist = bare_viewer.worklist
    dock = worklist.parent()
    assert dock.windowTitle() == "Worklist" and dock.widget() is worklist and worklist.isVisible()
    assert dock.objectName() == "Studies"  # the name saved layouts know the dock by
    assert [d.widget() for d in bare_viewer.findChildren(QDockWidget)].count(worklist) == 1
    file_menu = next(a.menu() for a in bare_viewer.menuBar().actions() if a.text() == "&File")
    texts = [a.text() for a in file_menu.actions()]
    assert texts.index("Export reading state as CSV…") == texts.index("Quit") - 1
    view_menu = next(a.menu() for a in bare_viewer.menuBar().actions() if a.text() == "&View")
    assert {"Flag or unflag the study", "Edit the study's note"} <= {a.text() for a in view_menu.actions()}
    shortcuts = [s.toString() for a in bare_viewer.actions() for s in a.shortcuts()]
    assert len(shortcuts) == len(set(shortcuts)), "two window actions share a key"
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    out = tmp_path / "chosen.csv"
    monkeypatch.setattr("cxrviewer.gui.worklist.QFileDialog.getSaveFileName", lambda *args: (str(out), ""))
    bare_viewer.actions_by_name["export_reading_csv"].trigger()
    with open(out, newline="", encoding="utf-8") as handle:
        assert sorted(r["path"] for r in csv.DictReader(handle)) == sorted(LEVELS)
    assert bare_viewer.status.currentMessage() == f"5 studies written to {out}"


def real_files(tmp_path) -> Path:
    data = paths.shared_data_dir()
    if not data.is_dir():
        pytest.skip(f"real data not found at {data} (set CXRVIEWER_SHARED_DATA)")
    folder = tmp_path / "real"
    folder.mkdir()
    images = data / "kermany_pneumonia" / "train" / "images"
    for name in ("NORMAL/IM-0115-0001.jpeg", "NORMAL/IM-0117-0001.jpeg"):
        shutil.copy(images / name, folder / f"normal-{Path(name).name}")
    for path in sorted((images / "PNEUMONIA").glob("*bacteria*.jpeg"))[:2]:
        shutil.copy(path, folder / f"pneumonia-{path.name}")
    shutil.copy(data / "dicom" / "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm", folder / "siim.dcm")
    return folder


def test_real_files_with_the_shipped_models(qtbot, make_window, tmp_path):
    folder = real_files(tmp_path)
    roles = model_roles(paths.models_dir())
    if "pneumonia-kermany" not in roles.classifiers:
        pytest.skip(f"the shipped classifier pneumonia-kermany is not installed in {paths.models_dir()}")
    viewer = make_window()  # the window's own triage, on the installed models
    worklist = viewer.worklist
    open_folder(qtbot, viewer, worklist, folder, 5)
    model = worklist.model
    rows = {r.path.name: r for r in model.rows}
    dicom = rows["siim.dcm"]
    assert (dicom.patient, dicom.status) == ("16d7f894-55d7-4d95-8957-d18987f0e981", "done")
    assert dicom.reading.key == StudyKey("siim.dcm", "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819")
    for name, row in rows.items():
        assert row.status == "done", (name, row.status)
        for classifier in roles.classifiers:
            finding = classify_study(classifier, read_image(folder / name).pixels)
            expected = finding.probabilities[1] if len(finding.labels) == 2 else 1 - finding.probabilities[0]
            assert row.scores[f"finding:{classifier}"] == pytest.approx(expected, abs=1e-6)
        if roles.gate:
            assert row.gate is not None
        for lesion_model in roles.lesions:  # every lesion model (TB lesions, lung opacity) is a column
            lesions = lesion_finding(installed_model(lesion_model), read_image(folder / name).pixels)
            assert row.scores[f"lesions:{lesion_model}"] == pytest.approx(lesions.score, abs=1e-6)
    worklist.sort_by(model.column("finding:pneumonia-kermany"))
    top = names(worklist)
    kermany = [n for n in top if n.endswith(".jpeg")]
    assert [n.split("-")[0] for n in kermany] == ["pneumonia", "pneumonia", "normal", "normal"], \
        [(n, rows[n].scores["finding:pneumonia-kermany"]) for n in top]


def test_the_demo_study_keeps_its_reading_state_in_the_user_data_folder(qtbot, bare_viewer, tmp_path):
    worklist = bare_viewer.worklist
    open_folder(qtbot, bare_viewer, worklist, paths.demo_study(), 1)
    store = next(iter(worklist.reading.readings.stores.values()))
    assert store.path.parent == tmp_path / "user-data" / "reading"
    assert not (paths.demo_study().parent / STORE_NAME).exists()


class FakeService(QObject):
    """The analysis service's signals, for results of the shown study."""

    result_ready = Signal(object, str, object, object)
    step_failed = Signal(object, str, object, str)


def test_the_shown_study_goes_first_and_is_not_triaged_again(qtbot, no_models, make_window, png_folder):
    calls, busy = [], [True]

    def recording_triage(path, *args):
        calls.append(Path(path).name)
        return fake_triage(path, *args)

    bare_viewer = make_window(fake_runner(recording_triage, busy=lambda: busy[0]))
    worklist = bare_viewer.worklist
    service = FakeService()
    worklist.attach_results(service)
    bare_viewer.open_paths([png_folder])
    qtbot.waitUntil(lambda: len(worklist.model.rows) == 5 and all(r.loaded for r in worklist.model.rows))
    qtbot.wait(3 * 150)
    assert calls == [] and {r.status for r in worklist.model.rows} == {"queued"}  # the service is busy
    shown = next(r for r in worklist.model.rows if r.path.name == "b.png")
    worklist.on_service_progress(shown.study, 0, 5)
    assert shown.status == "analysing" and worklist.progress.value() == 0
    for outcome in fake_triage(shown.path, None, None, None, None):
        service.result_ready.emit(shown.study, outcome.kind, outcome.model, outcome.payload)
    assert shown.status == "done" and shown.scores["finding:fake-cls"] == pytest.approx(0.8, abs=0.003)
    busy[0] = False
    qtbot.waitUntil(lambda: all(r.status == "done" for r in worklist.model.rows))
    assert sorted(calls) == ["a.png", "c.png", "d.png", "e.png"]
    assert worklist.progress.value() == 5


def test_a_model_installed_later_is_triaged_on_every_study(qtbot, no_models, make_window, png_folder):
    without_lesions = ModelRoles(gate="fake-gate", classifiers=("fake-cls",))
    bare_viewer = make_window(fake_runner(roles=without_lesions))
    worklist = bare_viewer.worklist
    open_folder(qtbot, bare_viewer, worklist, png_folder, 5)
    assert "lesions:fake-tb" not in [c.key for c in worklist.model.score_columns]
    worklist.refresh_roles(FAKE_ROLES)
    assert worklist.progress.value() == 0
    qtbot.waitUntil(lambda: all(r.status == "done" for r in worklist.model.rows))
    rows = {r.path.name: r for r in worklist.model.rows}
    assert rows["d.png"].scores["lesions:fake-tb"] == pytest.approx(0.70, abs=0.003)
