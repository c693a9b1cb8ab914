"""The README's and docs' screenshots of the real window on real radiographs with the shipped models.

    xvfb-run -a .venv/bin/python scripts/screenshots.py [--out docs]

Opens a worklist of held-out films from ../shared/data (two TBX11K TB films, an OpenIST normal, a
Kermany child, an RSNA film, chest DICOMs), waits for the triage and writes:
- OUT/worklist.png: the worklist triaging on a 1920×1080 screen, every dock at its default width:
  the triage column sorted most urgent first by a click on its header, the top study shown with its
  findings and the TB lesion layer;
- OUT/layers.png: the top study by TB lesion score on the bone-suppressed base with Grad-CAM and the
  lung outline;
- OUT/viewer.png: the README's first picture, a folder of chest DICOMs with the NIH DX film shown,
  windowed, with a ruler, once its findings are in;
- OUT/reading-mode.png: reading mode (F11) on a 1920×1080 screen, a TBX11K TB film alone with its
  map, the map's caption and legend, every panel, the menu and the status bar hidden;
- OUT/findings.png: the findings panel on that film, one summary line per model, the TB screening
  model's details opened by a click on its "Details ▸" link.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots.py --only reading --only findings
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QDockWidget
from screenshot_support import wait

from cxrviewer import paths
from cxrviewer.analysis.pipeline import lesion_model
from cxrviewer.core.layers import KINDS

DICOMS = ("dicom/nih_cxr14_DX_nofinding_implicitLE_mono2.dcm", "dicom/siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm",
          "dicom/CR-MONO1-10-chest.dcm")
FILES = ("tbx11k_tb/images/tb0018.jpg", "tbx11k_tb/images/tb0036.jpg", "openist_lungs/108-117-500-500-100.jpg",
         "kermany_pneumonia/train/images/NORMAL/IM-0117-0001.jpeg", "rsna_pneumonia/images/00a05408-8291-4231-886e-13763e103161.jpg",
         "dicom/siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm")


PICTURES = ("worklist", "layers", "viewer", "reading", "findings")
FILE_NAMES = {"reading": "reading-mode"}
# The film of the reading-mode and findings pictures (written as an adult's DICOM in the scratch folder).
READING_FILM = "tbx11k_tb/images/tb0018.jpg"
TB_MODEL = "tb-screen-shenzhen"




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=paths.install_root() / "docs")
    parser.add_argument("--only", choices=PICTURES, action="append", help="write only these pictures (repeatable)")
    args = parser.parse_args(argv)
    pictures = args.only or PICTURES
    app = QApplication(sys.argv[:1])

    with tempfile.TemporaryDirectory() as scratch:
        if "worklist" in pictures:
            worklist_picture(app, Path(scratch), args.out / "worklist.png")
        if "layers" in pictures:
            layers_picture(app, Path(scratch), args.out / "layers.png")
        if "viewer" in pictures:
            viewer_picture(app, Path(scratch), args.out / "viewer.png")
        if "reading" in pictures:
            reading_picture(app, Path(scratch), args.out / "reading-mode.png")
        if "findings" in pictures:
            findings_picture(app, Path(scratch), args.out / "findings.png")
    print("wrote " + ", ".join(str(args.out / f"{FILE_NAMES.get(name, name)}.png") for name in pictures))
    return 0


def study_folder(scratch: Path, name: str, files: tuple[str, ...]) -> Path:
    folder = scratch / name
    folder.mkdir()
    for file in files:
        shutil.copy(paths.shared_data_dir() / file, folder / Path(file).name)
    return folder


def worklist_picture(app: QApplication, scratch: Path, out: Path) -> None:
    """The worklist triaging at its default width on a 1920×1080 screen: sorted by a click on the
    triage column's header, the top study shown with its findings and the TB lesion layer."""
    from PySide6.QtTest import QTest

    from cxrviewer.gui.main_window import MainWindow

    folder = study_folder(scratch, "triage", (*FILES, DICOMS[0]))
    window = MainWindow(settings=QSettings(str(scratch / "triage.ini"), QSettings.Format.IniFormat))
    window.resize(1920, 1080)
    window.show()
    worklist = window.worklist
    window.open_paths([folder])
    wait(app, lambda: len(worklist.model.rows) == len(FILES) + 1 and not worklist.busy
         and all(r.status in ("done", "failed") or r.status.startswith("failed") for r in worklist.model.rows))
    header = worklist.header
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=header.section_at(0))
    worklist.study_activated.emit(worklist.visible_order()[0])
    wait(app, lambda: "tb_lesions" in window.layers.raw and not window.findings_panel.busy)
    for kind in KINDS:
        window.layer_panel.controls[kind].visible.setChecked(kind == "tb_lesions")
    app.processEvents()
    window.grab().save(str(out))
    window.session.shutdown()


def layers_picture(app: QApplication, scratch: Path, out: Path) -> None:
    """The top study by TB lesion score on the bone-suppressed base with Grad-CAM and the lung outline."""
    from cxrviewer.gui.main_window import MainWindow

    folder = study_folder(scratch, "worklist", FILES)
    window = MainWindow(settings=QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(2000, 960)
    window.show()
    studies = next(d for d in window.findChildren(QDockWidget) if d.objectName() == "Studies")
    window.resizeDocks([studies], [1060], Qt.Orientation.Horizontal)
    worklist = window.worklist
    window.open_paths([folder])
    wait(app, lambda: len(worklist.model.rows) == len(FILES) and not worklist.busy
         and all(r.status in ("done", "failed") for r in worklist.model.rows))
    tb_column = worklist.model.column(f"lesions:{lesion_model()}")
    worklist.sort_by(tb_column)
    worklist.study_activated.emit(worklist.visible_order()[0])
    controller, panel = window.layers, window.layer_panel
    wait(app, lambda: {"gradcam", "tb_lesions", "lung_outline", "bones"} <= set(controller.raw))
    for kind in KINDS:
        panel.controls[kind].visible.setChecked(kind in ("gradcam", "lung_outline"))
    controller.toggle_base()
    app.processEvents()
    window.grab().save(str(out))
    window.session.shutdown()


def viewer_picture(app: QApplication, scratch: Path, out: Path) -> None:
    """The DICOM folder, the NIH film shown under a chosen window with a ruler and no layers, its
    findings in."""
    from cxrviewer.core.image import WindowPreset
    from cxrviewer.core.viewstate import Ruler
    from cxrviewer.gui.main_window import MainWindow

    folder = scratch / "dicom"
    folder.mkdir()
    # Numbered so the worklist's name order opens the NIH film first.
    for number, name in enumerate(DICOMS, 1):
        shutil.copy(paths.shared_data_dir() / name, folder / f"{number}_{Path(name).name}")
    window = MainWindow(settings=QSettings(str(scratch / "viewer.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    window.open_paths([folder])
    worklist = window.worklist
    wait(app, lambda: len(worklist.model.rows) == len(DICOMS) and not worklist.busy
         and all(r.status in ("done", "failed") for r in worklist.model.rows))
    for controls in window.layer_panel.controls.values():
        controls.visible.setChecked(False)  # the radiograph itself; the other pictures show layers
    state = window.canvas.state
    state.window = WindowPreset(center=150, width=230, name="lung")
    state.ruler = Ruler(270, 470, 730, 470)
    app.processEvents()
    window.grab().save(str(out))
    window.session.shutdown()


def film_window(app: QApplication, scratch: Path, name: str):
    """A 1920×1080 window showing READING_FILM once its findings, maps and lesion layer are in: the
    film written as the DICOM of an adult (46 years) by prior_screenshot.write_film, so the age-bound
    models answer or say that the patient is outside their population, as for a real study."""
    from prior_screenshot import write_film

    from cxrviewer.core.layers import MAP_KINDS
    from cxrviewer.gui.main_window import MainWindow

    film = write_film(paths.shared_data_dir() / READING_FILM, scratch / f"{name}.dcm", "20240315", "101500", "A24-0315")
    window = MainWindow(settings=QSettings(str(scratch / f"{name}.ini"), QSettings.Format.IniFormat))
    window.resize(1920, 1080)
    window.show()
    window.open_paths([film])
    controller = window.layers
    wait(app, lambda: window.canvas.image is not None and not window.findings_panel.busy
         and any(kind in controller.raw for kind in MAP_KINDS) and not window.analysis.busy)
    return window


def reading_picture(app: QApplication, scratch: Path, out: Path) -> None:
    """Reading mode (F11): the film alone on the whole screen with its map, caption and legend."""
    from PySide6.QtTest import QTest

    window = film_window(app, scratch, "reading")
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_F11)
    if not window.layout_keeper.reading:  # no window manager under xvfb to make the window active
        window.actions_by_name["reading_mode"].trigger()  # the F11 action itself
    window.setGeometry(app.primaryScreen().geometry())  # xvfb has no window manager to do it
    deadline = time.time() + 2
    while time.time() < deadline:
        app.processEvents()
        time.sleep(0.02)
    if not window.layout_keeper.reading or any(d.isVisible() for d in window.findChildren(QDockWidget)):
        raise RuntimeError("F11 did not enter reading mode")
    window.grab().save(str(out))
    window.session.shutdown()


def findings_picture(app: QApplication, scratch: Path, out: Path) -> None:
    """The findings panel: a summary line per model, the TB model's details opened by a click."""
    from PySide6.QtGui import QTextCursor
    from PySide6.QtTest import QTest

    from cxrviewer.gui.findings_text import details_link

    window = film_window(app, scratch, "findings")
    dock = next(d for d in window.findChildren(QDockWidget) if d.widget() is window.findings_panel)
    window.resizeDocks([dock], [620], Qt.Orientation.Horizontal)
    window.resizeDocks([dock], [1000], Qt.Orientation.Vertical)
    app.processEvents()
    browser = window.findings_panel.browser
    href = details_link(TB_MODEL)
    block = browser.document().begin()
    point = None
    while block.isValid() and point is None:
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.charFormat().anchorHref() == href:
                cursor = QTextCursor(browser.document())
                cursor.setPosition(fragment.position() + 1)
                point = browser.cursorRect(cursor).center()
                break
            fragments += 1
        block = block.next()
    QTest.mouseClick(browser.viewport(), Qt.MouseButton.LeftButton, pos=point)  # what a reader does
    app.processEvents()
    if TB_MODEL not in window.findings_panel.expanded:
        raise RuntimeError("the click on Details did not open the TB model's details")
    browser.verticalScrollBar().setValue(0)
    app.processEvents()
    dock.grab().save(str(out))
    window.session.shutdown()


if __name__ == "__main__":
    sys.exit(main())
