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
  windowed, with a ruler, once its findings are in.
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

from cxrviewer import paths
from cxrviewer.analysis.pipeline import lesion_model
from cxrviewer.core.layers import KINDS

DICOMS = ("dicom/nih_cxr14_DX_nofinding_implicitLE_mono2.dcm", "dicom/siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm",
          "dicom/CR-MONO1-10-chest.dcm")
FILES = ("tbx11k_tb/images/tb0018.jpg", "tbx11k_tb/images/tb0036.jpg", "openist_lungs/108-117-500-500-100.jpg",
         "kermany_pneumonia/train/images/NORMAL/IM-0117-0001.jpeg", "rsna_pneumonia/images/00a05408-8291-4231-886e-13763e103161.jpg",
         "dicom/siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm")


PICTURES = ("worklist", "layers", "viewer")


def wait(app: QApplication, done, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while not done():
        if time.time() > deadline:
            raise TimeoutError("the viewer did not finish in time")
        app.processEvents()
        time.sleep(0.02)


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
    print("wrote " + ", ".join(str(args.out / f"{name}.png") for name in pictures))
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


if __name__ == "__main__":
    sys.exit(main())
