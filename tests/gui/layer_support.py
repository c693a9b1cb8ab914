"""Helpers for the layer tests: a synthetic study shown on a real canvas with the layer panel and
controller, a stand-in analysis service, and reading screen pixels (imported by name, not from
conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from cxrviewer.core.display.indexed_image import index_image
from cxrviewer.core.display.voi import apply_window
from cxrviewer.core.image import Image, ImageMeta, WindowPreset
from cxrviewer.core.viewstate import ViewState
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.layer_controller import LayerController
from cxrviewer.gui.layer_panel import LayerPanel
from cxrviewer.gui.session import LoadedStudy

ROWS, COLUMNS = 96, 160
WINDOW = WindowPreset(2000, 4000)


def study() -> LoadedStudy:
    """(96, 160) 12-bit values in four vertical bands of 40 columns (500, 1500, 2500, 3500), except
    the top 8 rows: a ramp from 0 to 4000 across the columns (so every grey of the window occurs)."""
    values = np.repeat(np.array([500, 1500, 2500, 3500], np.float32), COLUMNS // 4)[None, :].repeat(ROWS, 0)
    values[:8] = np.rint(np.linspace(0, 4000, COLUMNS, dtype=np.float32))
    pixels = apply_window(values, WINDOW.center, WINDOW.width).astype(np.float32)
    meta = ImageMeta(path=Path("synthetic.dcm"), format="DICOM", rows=ROWS, columns=COLUMNS, bits_stored=12)
    return LoadedStudy(Image(pixels, values, meta), index_image(values))


def block_map(*blocks: tuple[slice, slice, float]) -> np.ndarray:
    """(ROWS, COLUMNS) float32, 0 except each (rows, columns, value) block."""
    out = np.zeros((ROWS, COLUMNS), np.float32)
    for rows, columns, value in blocks:
        out[rows, columns] = value
    return out


class FakeService(QObject):
    """The analysis service's signals and the three calls the layers make, recorded."""

    result_ready = Signal(object, str, object, object)
    step_failed = Signal(object, str, object, str)

    def __init__(self):
        super().__init__()
        self.requests: list[tuple] = []
        self.cache: dict[tuple, object] = {}

    def cached(self, study, kind, key):
        return self.cache.get((study, kind, key))

    def request_maps(self, study, model, class_index):
        self.requests.append((study, model, class_index))

    def forget_maps_choice(self):
        self.requests.append(("forget",))


class LayerHarness(QWidget):
    """A canvas, a layer panel and their controller, as the main window wires them."""

    def __init__(self, settings):
        super().__init__()
        self.canvas = Canvas()
        self.panel = LayerPanel()
        self.controller = LayerController(self.canvas, self.panel, settings, parent=self)
        self.service = FakeService()
        self.controller.attach_service(self.service)
        layout = QHBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.panel)
        self.resize(700, 400)

    def show_study(self, study_id: int = 0) -> LoadedStudy:
        loaded = study()
        state = ViewState(COLUMNS, ROWS, WINDOW)
        self.canvas.show_study(loaded.image, loaded.indexed, state)
        self.controller.show_study(study_id, loaded, state)
        state.actual_size()  # one image pixel per screen pixel, so a grab reads image pixels
        return loaded

    def screen_rgb(self, rows, columns) -> np.ndarray:
        """(n, 3) int RGB on screen at image pixels (rows[i], columns[i]), centres of pixels."""
        picture = self.canvas.grab().toImage()
        ratio = picture.devicePixelRatio()
        state = self.canvas.state
        width, height = self.canvas.viewport_size()
        cx, cy = state.center
        out = []
        for r, c in zip(rows, columns, strict=True):
            vx, vy = state.image_to_view(c + 0.5, r + 0.5)
            x, y = width / 2 + (vx - cx) * state.zoom, height / 2 + (vy - cy) * state.zoom
            colour = picture.pixelColor(int(x * ratio), int(y * ratio))
            out.append((colour.red(), colour.green(), colour.blue()))
        return np.array(out)


def shown_harness(qtbot, folder: Path) -> LayerHarness:
    """A LayerHarness with its settings in `folder`, shown and exposed (the tests' fixture body)."""
    settings = QSettings(str(folder / "layers.ini"), QSettings.Format.IniFormat)
    harness = LayerHarness(settings)
    qtbot.addWidget(harness)
    harness.show()
    qtbot.waitExposed(harness)
    return harness
