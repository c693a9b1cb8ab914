"""Helpers for the viewer tests: generated studies and real mouse events (imported by name: a
`from conftest import` picks up whichever conftest pytest loaded last)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ComputedRadiographyImageStorage, ExplicitVRLittleEndian, generate_uid
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from cxrviewer.gui.main_window import MainWindow

# Four vertical bands of 50 columns, so a rendered band can be sampled anywhere inside it.
BAND_VALUES = (500, 1500, 2500, 3500)
ROWS, COLUMNS = 120, 200
SPACING_MM = 0.2


def band_pixels() -> np.ndarray:
    """(120, 200) uint16: columns 0-49 hold 500, 50-99 1500, 100-149 2500, 150-199 3500."""
    return np.repeat(np.array(BAND_VALUES, dtype=np.uint16), COLUMNS // 4)[None, :].repeat(ROWS, axis=0)


def write_dicom(path: Path, pixels: np.ndarray, **attributes: object) -> Path:
    """A 12-bit MONOCHROME2 CR file holding `pixels` (H, W) uint16, plus any attributes given."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ComputedRadiographyImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = ComputedRadiographyImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.PatientID = "TEST"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def open_and_wait(qtbot, window: MainWindow, *paths: Path) -> None:
    with qtbot.waitSignal(window.session.idle, timeout=15000):
        window.open_paths(paths)


def image_to_widget(window: MainWindow, x: float, y: float) -> QPointF:
    """Where image point (x, y) is in the canvas viewport's pixels."""
    state = window.canvas.state
    view_x, view_y = state.image_to_view(x, y)
    width, height = window.canvas.viewport_size()
    cx, cy = state.center
    return QPointF(width / 2 + (view_x - cx) * state.zoom, height / 2 + (view_y - cy) * state.zoom)


def drag(widget, start: QPointF, end: QPointF, button=Qt.MouseButton.LeftButton, steps: int = 5) -> None:
    """Press, move in steps and release, as real mouse events (QTest's moves carry no buttons)."""

    def send(kind, pos: QPointF, buttons) -> None:
        event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, event)

    send(QEvent.Type.MouseButtonPress, start, button)
    for step in range(1, steps + 1):
        send(QEvent.Type.MouseMove, start + (end - start) * (step / steps), button)
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def wheel(widget, pos: QPointF, notches: int) -> None:
    event = QWheelEvent(
        pos,
        widget.mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)
