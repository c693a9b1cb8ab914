"""`cxrviewer view ... --screenshot OUT.png --quit-after-load`, run in-process through the CLI."""

from __future__ import annotations

import numpy as np
from PIL import Image as PilImage
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget
from viewer_support import COLUMNS, ROWS

from cxrviewer.cli import main
from cxrviewer.gui.main_window import MainWindow


def test_screenshot_of_a_windowed_study_with_a_ruler(qapp, band_study, tmp_path):
    out = tmp_path / "shot.png"
    code = main(
        ["view", str(band_study), "--screenshot", str(out), "--quit-after-load", "--size", "900x600",
         "--window", "1500,1000", "--ruler", "10,60,110,60"]
    )
    assert code == 0
    picture = np.asarray(PilImage.open(out).convert("RGB"))
    assert picture.shape == (600, 900, 3)
    # The window 1500/1000 makes the first band black and the last two white; the ruler is yellow.
    grey = picture[..., 0].astype(int)
    assert (grey == 0).sum() > 5000 and (grey == 255).sum() > 5000
    yellow = (picture[..., 0] > 200) & (picture[..., 1] > 180) & (picture[..., 2] < 80)
    assert yellow.sum() > 100
    assert QSettings("cxrviewer", "cxrviewer").value("recent") is None  # screenshots are not remembered


def test_screenshot_exits_non_zero_when_nothing_loads(qapp, broken_study, tmp_path):
    out = tmp_path / "broken.png"
    assert main(["view", str(broken_study), "--screenshot", str(out), "--quit-after-load", "--size", "640x480"]) == 1
    assert PilImage.open(out).size == (640, 480)


def test_screenshot_waits_for_every_study(qapp, band_study, detector_study, broken_study, tmp_path, monkeypatch):
    seen_at_grab = []

    def grab(window):
        rows = window.worklist.model.rows
        seen_at_grab.append(sorted("failed" if r.load_error else "ok" if r.loaded else "loading" for r in rows))
        seen_at_grab.append(window.canvas.displayed_image().shape)
        return QWidget.grab(window)

    monkeypatch.setattr(MainWindow, "grab", grab)
    out = tmp_path / "three.png"
    paths = [str(band_study), str(detector_study), str(broken_study)]
    assert main(["view", *paths, "--screenshot", str(out), "--quit-after-load"]) == 0
    assert PilImage.open(out).size == (1400, 900)
    assert seen_at_grab == [["failed", "ok", "ok"], (ROWS, COLUMNS)]
