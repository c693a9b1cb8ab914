"""The worklist triages at its default width (issue 20, items 3 and 4), on a real MainWindow at
1920×1080: the triage column comes first with the TB call as a colour beside its word and the figure
as a percentage, readable model names, the models' own columns on demand from the header's menu
(remembered), a click on the triage header puts the most urgent first under a downward arrow and
keeps the column in view, children stay out of TB triage until the reader includes them
(remembered), and answers outside a card's population are greyed with the findings panel's words.

The stand-in scorer answers from the file's name (STUDIES), so every figure is known; the cards are
hand-made: a TB screening classifier with no age range, and a children's pneumonia model (1-5 years).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QMenu
from viewer_support import write_dicom

from cxrviewer.analysis.findings import Finding
from cxrviewer.analysis.gate import GateResult
from cxrviewer.analysis.pipeline import ModelRoles
from cxrviewer.analysis.triage import TriageOutcome
from cxrviewer.core.cards import FileEntry, InputContract, ModelCard, Population
from cxrviewer.core.reading_words import (
    ABNORMAL,
    CALL_COLOURS,
    INDETERMINATE,
    NORMAL,
    OUTSIDE_POPULATION,
    UNKNOWN_AGE,
    percent,
)
from cxrviewer.core.triage_call import CHILD_KEPT_OUT
from cxrviewer.gui.main_window import MainWindow
from cxrviewer.gui.worklist import INCLUDE_CHILDREN_KEY
from cxrviewer.gui.worklist_header import COLUMNS_SHOWN_KEY
from cxrviewer.gui.worklist_model import CALL_ROLE, FAILED_COLOUR, TOP_FINDING, WITHHELD_COLOUR
from cxrviewer.gui.worklist_triage import TriageRunner

KIDS_POPULATION = "children aged 1–5, one Guangzhou hospital"
# name: (Patient's Age or None, P(tb), P(pneumonia), gate accepts); threshold 0.5 for both models.
STUDIES = {
    "adult-tb.dcm": ("045Y", 0.97, 0.20, True),
    "adult-near.dcm": ("060Y", 0.52, 0.10, True),  # within 5 points of the threshold: indeterminate
    "adult-normal.dcm": ("030Y", 0.10, 0.05, True),
    "child.dcm": ("004Y", 0.90, 0.95, True),
    "old-bare.dcm": ("81", 0.30, 0.99, True),  # a bare "81", read as years: outside the children's model
    "no-age.dcm": (None, 0.60, 0.80, True),
    "not-chest.dcm": ("050Y", 0.99, 0.50, False),
    "fails.dcm": ("040Y", None, 0.30, True),  # the TB model refuses it
}
ROLES = ModelRoles(gate="fake-gate", classifiers=("fake-tb-screen", "fake-kids"))
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR AS")  # the bare "81", on purpose


def card(name: str, labels: tuple[str, str], population: Population | None) -> ModelCard:
    files = (FileEntry("onnx", f"{name}.onnx", hashlib.sha256(name.encode()).hexdigest(), 1),)
    return ModelCard(name=name, version="1", task="classification", arch="a", labels=labels, thresholds=(0.5, 0.5),
                     input=InputContract(224, 224, 1), outputs=("logits",), files=files, population=population)


CARDS = {"fake-tb-screen": card("fake-tb-screen", ("normal", "tb"), Population("adults and some children")),
         "fake-kids": card("fake-kids", ("normal", "pneumonia"), Population(KIDS_POPULATION, (1.0, 5.0))),
         "fake-opacity": card("fake-opacity", ("no_opacity", "opacity"), None)}


def finding(model: str, labels: tuple[str, str], p: float) -> Finding:
    return Finding(model, labels, (1 - p, p), (int(p >= 0.5),), "threshold", 0.5, "CPU", 0.0)


def named_triage(path, roles, models_dir, max_megapixels, cancelled):
    """Answers from the file's name (STUDIES); the opacity model, when asked, says P(tb) again."""
    _age, tb, kids, accepted = STUDIES[Path(path).name]
    outcomes = [TriageOutcome("gate", "fake-gate", GateResult("fake-gate", accepted, 0.9 if accepted else 0.1, 0.5))]
    for model in roles.classifiers:
        if model == "fake-kids":
            outcomes.append(TriageOutcome("finding", model, finding(model, ("normal", "pneumonia"), kids)))
        elif tb is None:
            outcomes.append(TriageOutcome("finding", model, None, f"model {model}: refused this image"))
        else:
            labels = ("normal", "tb") if model == "fake-tb-screen" else ("no_opacity", "opacity")
            outcomes.append(TriageOutcome("finding", model, finding(model, labels, tb)))
    return outcomes


@pytest.fixture
def studies(tmp_path) -> Path:
    folder = tmp_path / "studies"
    folder.mkdir()
    pixels = np.full((64, 80), 2000, np.uint16)
    for name, (age, *_rest) in STUDIES.items():
        write_dicom(folder / name, pixels, **({"PatientAge": age} if age else {}), PatientID=name.split(".")[0])
    return folder


@pytest.fixture
def make_window(qtbot, settings, tmp_path, no_models):
    """make_window(roles, busy) → a MainWindow at 1920×1080 with its default dock widths, triaged by
    the stand-in with the hand-made cards, on the shared private settings."""
    windows = []

    def make(roles: ModelRoles = ROLES, busy=lambda: False) -> MainWindow:
        runner = TriageRunner(triage=named_triage, roles=roles, cards=CARDS, busy=busy)
        window = MainWindow(settings=settings, triage=runner, user_data=tmp_path / "user-data")
        qtbot.addWidget(window)
        window.resize(1920, 1080)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.session.shutdown()


def open_folder(qtbot, window: MainWindow, folder: Path) -> None:
    worklist = window.worklist
    with qtbot.waitSignal(worklist.idle, timeout=30000):
        window.open_paths([folder])
    assert len(worklist.model.rows) == len(STUDIES) and not worklist.busy


def names(worklist) -> list[str]:
    return [worklist.model.rows[s].path.name for s in worklist.visible_order()]


def cell(worklist, name: str, column: int = 0):
    """The proxy index of study `name`'s cell in `column` (the triage column by default)."""
    row = names(worklist).index(name)
    return worklist.proxy.index(row, column)


def click_header(worklist, column: int) -> None:
    header = worklist.header
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=header.section_at(column))


def tick(box) -> None:
    """Click a check box on its box (its widget spans the dock; a click past its text is no click)."""
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def arrow_rows(worklist, column: int = 0) -> list[int]:
    """How many dark pixels each row of the sort arrow's box has, top to bottom (rows without any left out)."""
    header = worklist.header
    image = header.grab().toImage()
    right = header.sectionViewportPosition(column) + header.sectionSize(column) - 4
    counts = [sum(1 for x in range(right - 9, right + 2) if image.pixelColor(x, y).lightness() < 110)
              for y in range(header.height())]
    return [n for n in counts if n]


def test_the_triage_column_shows_the_tb_call_first_at_the_default_width(qtbot, make_window, studies):
    window = make_window()
    worklist = window.worklist
    open_folder(qtbot, window, studies)
    model, header, view = worklist.model, worklist.header, worklist.view
    # The dock keeps its default width; the triage column is the first one, whole, inside it.
    dock = next(d for d in window.findChildren(QDockWidget) if d.widget() is worklist)
    assert dock.width() < 480
    assert header.visualIndex(0) == 0 and not header.isSectionHidden(0)
    widest = max(view.fontMetrics().horizontalAdvance(cell(worklist, n).data()) for n in STUDIES)
    assert header.sectionViewportPosition(0) == 0 and header.sectionSize(0) >= widest + 12 + 8
    assert header.sectionSize(0) < view.viewport().width() // 2
    # Readable names from the cards; the models' own columns are hidden until asked for.
    assert model.headerData(0, Qt.Orientation.Horizontal) == "TB"
    assert "fake-tb-screen" in model.headerData(0, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    kids = model.column("finding:fake-kids")
    assert model.headerData(kids, Qt.Orientation.Horizontal) == "Pneumonia\n(children)"
    assert header.isSectionHidden(kids) and header.isSectionHidden(model.column("finding:fake-tb-screen"))
    assert not header.isSectionHidden(model.column("Patient"))
    # The call as a colour beside its word, the figure as a percentage.
    tb = cell(worklist, "adult-tb.dcm")
    assert tb.data() == "abnormal 97.0 %" and tb.data(CALL_ROLE) == ABNORMAL
    assert tb.data(Qt.ItemDataRole.ForegroundRole) == QColor(CALL_COLOURS[ABNORMAL])
    assert not tb.data(Qt.ItemDataRole.DecorationRole).isNull()
    assert tb.data(Qt.ItemDataRole.ToolTipRole).startswith("TB: abnormal — 97.0 %, threshold 50.0 % (card)")
    near = cell(worklist, "adult-near.dcm")
    assert (near.data(), near.data(CALL_ROLE)) == ("indeterminate 52.0 %", INDETERMINATE)
    assert cell(worklist, "adult-normal.dcm").data(Qt.ItemDataRole.ForegroundRole) == QColor(CALL_COLOURS[NORMAL])
    # The gate's refusal and a child: greyed, the figure in brackets, and why.
    rejected = cell(worklist, "not-chest.dcm")
    assert rejected.data() == "indeterminate (99.0 %)" and rejected.data(Qt.ItemDataRole.ForegroundRole) == WITHHELD_COLOUR
    assert "not accepted as a frontal chest radiograph" in rejected.data(Qt.ItemDataRole.ToolTipRole)
    child = cell(worklist, "child.dcm")
    assert child.data() == "indeterminate (90.0 %)" and child.data(Qt.ItemDataRole.ForegroundRole) == WITHHELD_COLOUR
    assert CHILD_KEPT_OUT in child.data(Qt.ItemDataRole.ToolTipRole)
    # A failed model says so in the cell, in red, with the reason in its tooltip.
    failed = cell(worklist, "fails.dcm")
    assert failed.data() == "failed" and failed.data(Qt.ItemDataRole.ForegroundRole) == FAILED_COLOUR
    assert failed.data(Qt.ItemDataRole.ToolTipRole) == "model fake-tb-screen: refused this image"

    # A click on the triage header: most urgent first under a downward arrow; the column stays in view.
    click_header(worklist, 0)
    assert names(worklist) == ["adult-tb.dcm", "no-age.dcm", "adult-near.dcm", "old-bare.dcm", "adult-normal.dcm",
                               "not-chest.dcm", "child.dcm", "fails.dcm"]
    assert [cell(worklist, n).data(CALL_ROLE) for n in names(worklist)[:5]] == [ABNORMAL, ABNORMAL, INDETERMINATE,
                                                                                 NORMAL, NORMAL]
    assert header.sectionViewportPosition(0) == 0 and not header.isSectionHidden(0)
    down = arrow_rows(worklist)
    assert len(down) >= 3 and down == sorted(down, reverse=True) and down[0] > down[-1], down  # ▼
    click_header(worklist, 0)  # again: the other way, ▲, unscored still at the bottom
    assert names(worklist)[:5] == ["child.dcm", "not-chest.dcm", "adult-normal.dcm", "old-bare.dcm", "adult-near.dcm"]
    assert names(worklist)[-1] == "fails.dcm"
    up = arrow_rows(worklist)
    assert up == sorted(up) and up[0] < up[-1], up
    assert header.sectionViewportPosition(0) == 0


def test_a_study_being_triaged_says_so_in_its_cell(qtbot, make_window, studies):
    busy = [True]
    window = make_window(busy=lambda: busy[0])
    worklist = window.worklist
    window.open_paths([studies])
    qtbot.waitUntil(lambda: len(worklist.model.rows) == len(STUDIES) and all(r.loaded for r in worklist.model.rows))
    assert {worklist.proxy.index(r, 0).data() for r in range(len(STUDIES))} == {"queued"}
    shown = next(r for r in worklist.model.rows if r.path.name == "adult-tb.dcm")
    worklist.on_service_progress(shown.study, 1, 5)
    assert cell(worklist, "adult-tb.dcm").data() == "triaging…"
    busy[0] = False
    qtbot.waitUntil(lambda: not worklist.busy, timeout=30000)
    assert cell(worklist, "adult-tb.dcm").data() == "abnormal 97.0 %"


def test_children_join_tb_triage_only_when_the_reader_includes_them(qtbot, make_window, studies, settings):
    window = make_window()
    worklist = window.worklist
    open_folder(qtbot, window, studies)
    box = worklist.include_children
    assert box.text() == "Include children in TB triage" and box.isVisible() and not box.isChecked()
    worklist.sort_by(0)
    assert names(worklist).index("child.dcm") == 6
    tick(box)
    assert box.isChecked() and settings.value(INCLUDE_CHILDREN_KEY, type=bool) is True
    # The child's TB answer now applies: called, coloured, and ranked by it (second).
    assert names(worklist)[:2] == ["adult-tb.dcm", "child.dcm"]
    child = cell(worklist, "child.dcm")
    assert child.data() == "abnormal 90.0 %" and child.data(Qt.ItemDataRole.ForegroundRole) == QColor(CALL_COLOURS[ABNORMAL])
    # The children's model's own answers are not TB triage: the box changes nothing there.
    kids = worklist.model.column("finding:fake-kids")
    assert cell(worklist, "child.dcm", kids).data() == "abnormal 95.0 %"
    window.close()

    again = make_window()  # the choice is remembered
    open_folder(qtbot, again, studies)
    assert again.worklist.include_children.isChecked()
    again.worklist.sort_by(0)
    assert names(again.worklist)[1] == "child.dcm"
    tick(again.worklist.include_children)
    assert names(again.worklist)[6] == "child.dcm" and settings.value(INCLUDE_CHILDREN_KEY, type=bool) is False


def test_model_columns_on_demand_from_the_header_menu_with_population_greyed(qtbot, make_window, studies, settings):
    window = make_window()
    worklist = window.worklist
    open_folder(qtbot, window, studies)
    header, model = worklist.header, worklist.model
    kids = model.column("finding:fake-kids")
    assert header.isSectionHidden(kids)
    # Right-click on the header: a menu of the columns; the triage column is not in it (always shown).
    QApplication.sendEvent(header.viewport(), QContextMenuEvent(QContextMenuEvent.Reason.Mouse, header.section_at(0),
                                                                header.viewport().mapToGlobal(header.section_at(0))))
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    entries = {a.data(): a for a in menu.actions()}
    assert "Triage" not in entries and {"File", "Patient", "Status", "finding:fake-kids"} <= set(entries)
    assert entries["finding:fake-kids"].text() == "Pneumonia (children) — fake-kids"
    assert not entries["finding:fake-kids"].isChecked() and entries["Patient"].isChecked()
    QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(entries["finding:fake-kids"]).center())
    assert not header.isSectionHidden(kids)
    assert "finding:fake-kids" in settings.value(COLUMNS_SHOWN_KEY, [])
    # Out of the card's population: greyed, with the findings panel's words; a child inside it is not.
    old = cell(worklist, "old-bare.dcm", kids)
    assert old.data() == "indeterminate (99.0 %)" and old.data(Qt.ItemDataRole.ForegroundRole) == WITHHELD_COLOUR
    assert old.data(Qt.ItemDataRole.ToolTipRole).startswith(
        f"Pneumonia: withheld — {OUTSIDE_POPULATION} ({KIDS_POPULATION})")
    unknown = cell(worklist, "no-age.dcm", kids)
    assert unknown.data(Qt.ItemDataRole.ForegroundRole) == WITHHELD_COLOUR
    assert f"{UNKNOWN_AGE} ({KIDS_POPULATION})" in unknown.data(Qt.ItemDataRole.ToolTipRole)
    assert cell(worklist, "child.dcm", kids).data(CALL_ROLE) == ABNORMAL
    # Sorting by it (scrolled to, as a reader would): the child, whose answer applies, first; the
    # adults' high figures after; the sorted column stays in view.
    worklist.view.scrollTo(worklist.proxy.index(0, kids))
    click_header(worklist, kids)
    assert names(worklist)[0] == "child.dcm"
    assert 0 <= header.sectionViewportPosition(kids) <= worklist.view.viewport().width() - header.sectionSize(kids)
    window.close()

    again = make_window()  # remembered: shown in a new window
    open_folder(qtbot, again, studies)
    assert not again.worklist.header.isSectionHidden(again.worklist.model.column("finding:fake-kids"))
    again.worklist.header.column_menu()  # and hidden again from the menu
    again.worklist.header.set_column_shown("finding:fake-kids", False)
    assert again.worklist.header.isSectionHidden(again.worklist.model.column("finding:fake-kids"))
    assert "finding:fake-kids" not in settings.value(COLUMNS_SHOWN_KEY, [])


def test_without_a_tb_model_the_triage_column_shows_the_most_urgent_finding(qtbot, make_window, studies):
    window = make_window(ModelRoles(gate="fake-gate", classifiers=("fake-kids", "fake-opacity")))
    worklist = window.worklist
    open_folder(qtbot, window, studies)
    assert worklist.model.headerData(0, Qt.Orientation.Horizontal) == TOP_FINDING
    # adult-tb: opacity 97 % applies; the children's model does not apply to a 45-year-old.
    assert cell(worklist, "adult-tb.dcm").data() == f"abnormal {percent(0.97)} Lung opacity"
    assert cell(worklist, "child.dcm").data() == f"abnormal {percent(0.95)} Pneumonia"
    worklist.sort_by(0)
    assert names(worklist)[:3] == ["adult-tb.dcm", "child.dcm", "no-age.dcm"]
