"""The README's picture of the prior comparison (issue 20, item 9) on a 1920×1080 screen.

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/prior_screenshot.py [--out docs/prior-comparison.png]

Two real films from ../shared/data are written as 8-bit DICOM into a temporary folder under one
made-up patient (ID DEMO-0001) with two study dates, so the viewer finds one as the other's prior:
the current film is a TBX11K tuberculosis film, the "prior" an RSNA (NIH ChestX-ray14) film with no
opacity. They are two different people: the picture shows the viewer, not a patient's course. The
window opens the folder, waits for the shown study's findings and its TB lesion layer, presses C,
zooms in with the wheel over the current film (the prior follows) and saves the window.

A script of its own rather than a function in scripts/screenshots.py: it writes DICOMs of its own.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from screenshot_support import wait

from cxrviewer import paths
from cxrviewer.core.io import read_image
from cxrviewer.core.layers import KINDS

# (file in ../shared/data, study date, time of day, accession)
FILMS = (
    ("tbx11k_tb/images/tb0018.jpg", "20240315", "101500", "A24-0315"),
    ("rsna_pneumonia/images/00a85be6-6eb0-421d-8acf-ff2dc0007e8a.jpg", "20210610", "093000", "A21-0610"),
)
PATIENT = {"PatientID": "DEMO-0001", "PatientName": "DEMO^PATIENT", "PatientSex": "M", "PatientAge": "046Y",
           "PatientBirthDate": "19780101"}


def write_film(source: Path, out: Path, date: str, time_of_day: str, accession: str) -> Path:
    """`source` (a grey 8-bit raster) as a DX PA chest DICOM of the demo patient, 8 bits stored."""
    grey = np.rint(read_image(source).pixels * 255).astype(np.uint8)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "DX", "CHEST", "PA"
    ds.PatientOrientation = ["L", "F"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = date
    ds.StudyTime = time_of_day
    ds.AccessionNumber = accession
    for keyword, value in PATIENT.items():
        setattr(ds, keyword, value)
    ds.Rows, ds.Columns = grey.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.WindowCenter, ds.WindowWidth = 128, 256
    ds.PixelData = grey.tobytes()
    ds.save_as(out, enforce_file_format=True)
    return out




def wheel(widget, pos: QPointF, notches: int) -> None:
    QApplication.sendEvent(widget, QWheelEvent(pos, widget.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120 * notches),
                                               Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                               Qt.ScrollPhase.NoScrollPhase, False))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=paths.install_root() / "docs" / "prior-comparison.png")
    args = parser.parse_args(argv)
    app = QApplication(sys.argv[:1])
    from cxrviewer.gui.main_window import MainWindow

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "demo-patient"
        folder.mkdir()
        files = [write_film(paths.shared_data_dir() / name, folder / f"{number}_{date}.dcm", date, tod, accession)
                 for number, (name, date, tod, accession) in enumerate(FILMS, 1)]
        window = MainWindow(settings=QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat))
        window.resize(1920, 1080)
        window.show()
        window.open_paths([folder])
        worklist = window.worklist
        wait(app, seconds=600, done=lambda: len(worklist.model.rows) == len(files) and not worklist.busy
             and all(r.status in ("done", "failed") or r.status.startswith("failed") for r in worklist.model.rows))
        window.worklist.study_activated.emit(window.session.paths.index(files[0]))
        wait(app, lambda: "tb_lesions" in window.layers.raw and not window.findings_panel.busy)
        for kind in KINDS:
            window.layer_panel.controls[kind].visible.setChecked(kind == "tb_lesions")
        window.actions_by_name["compare_prior"].trigger()
        wait(app, lambda: window.prior_compare.link is not None)
        app.processEvents()
        canvas = window.canvas
        wheel(canvas.viewport(), QPointF(canvas.viewport().width() / 2, canvas.viewport().height() * 0.45), 1)
        app.processEvents()
        window.grab().save(str(args.out))
        window.session.shutdown()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
