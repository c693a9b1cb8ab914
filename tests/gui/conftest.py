"""Fixtures for driving the real viewer offscreen: synthetic studies, a window with private settings,
and mouse gestures sent as real Qt events."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from viewer_support import BAND_VALUES, COLUMNS, ROWS, SPACING_MM, band_pixels, write_dicom  # noqa: F401

from cxrviewer.gui.main_window import MainWindow


@pytest.fixture
def band_study(tmp_path) -> Path:
    """Bands with PixelSpacing 0.2 mm and two window presets (C 2000 W 4000, then C 1500 W 1000)."""
    return write_dicom(
        tmp_path / "bands.dcm",
        band_pixels(),
        PixelSpacing=[SPACING_MM, SPACING_MM],
        WindowCenter=[2000, 1500],
        WindowWidth=[4000, 1000],
    )


@pytest.fixture
def detector_study(tmp_path) -> Path:
    """Bands with only ImagerPixelSpacing (0.5 mm) and no window."""
    return write_dicom(tmp_path / "detector.dcm", band_pixels(), ImagerPixelSpacing=[0.5, 0.5])


@pytest.fixture
def broken_study(tmp_path) -> Path:
    path = tmp_path / "broken.dcm"
    path.write_text("this is a text file with a .dcm name\n")
    return path


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """An empty model folder, so the window's own analysis runs no model beside these tests."""
    folder = tmp_path / "no-models"
    folder.mkdir()
    monkeypatch.setenv("CXRVIEWER_MODELS", str(folder))
    return folder


@pytest.fixture(autouse=True)
def private_settings_folder(tmp_path_factory):
    """Settings made without an explicit file (as `run_viewer` does) go to a temporary folder."""
    folder = str(tmp_path_factory.mktemp("qsettings"))
    for kind in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(kind, QSettings.Scope.UserScope, folder)


@pytest.fixture
def settings(tmp_path) -> QSettings:
    """Private settings, so tests never read or write the user's recent files."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def viewer(qtbot, settings) -> MainWindow:
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.session.shutdown()
