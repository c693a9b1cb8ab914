"""The Models and Tools menus: the installed models (listed afresh each time the menu opens, each
one's status on a click), Tools → Train a model… and Tools → Calibrate for this site…, and the two
dialogs they open.

Separate from the main window, which only builds this and places its menus: the menus own their
dialogs (made on first use, shut down with the window) and tell the analysis service when a model
was installed or a site threshold changed, so the shown study's results are made again.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QStatusBar

from cxrviewer.gui.analysis_service import AnalysisService


class ToolsMenus(QObject):
    def __init__(self, window: QMainWindow, analysis: AnalysisService, status: QStatusBar):
        """window: the dialogs' parent and the menus' owner; status: where model news is shown."""
        super().__init__(window)
        self.window, self.analysis, self.status = window, analysis, status
        self.training_dialog = None
        self.calibration_dialog = None
        self.models_menu = QMenu("&Models", window)
        self.models_menu.aboutToShow.connect(self.fill_models_menu)
        self.tools_menu = QMenu("&Tools", window)
        self.actions: dict[str, QAction] = {
            "train": self.tools_menu.addAction("&Train a model…", self.open_training_dialog),
            "calibrate": self.tools_menu.addAction("&Calibrate for this site…", self.open_calibration_dialog),
        }

    def menus(self) -> tuple[QMenu, QMenu]:
        return self.models_menu, self.tools_menu

    def fill_models_menu(self) -> None:
        from cxrviewer import paths
        from cxrviewer.runtime.registry import installed_models

        self.models_menu.clear()
        for name in installed_models():
            self.models_menu.addAction(name, lambda n=name: self._show_model_status(n))
        if self.models_menu.isEmpty():
            self.models_menu.addAction(f"No models installed in {paths.models_dir()}").setEnabled(False)

    def _show_model_status(self, name: str) -> None:
        from cxrviewer.runtime.registry import model_status

        status = model_status(name)
        origin = "" if status.trust is None else f"; {status.trust.label}"
        self.status.showMessage(f"model {name}: {status.status} ({status.provider}{origin})", 10000)

    def open_training_dialog(self) -> None:
        # Imported here: the dialog pulls in the training configuration, which the viewer needs only now.
        from cxrviewer.gui.training_dialog import TrainingDialog

        if self.training_dialog is None:
            self.training_dialog = TrainingDialog(self.window)
            self.training_dialog.model_installed.connect(self._on_model_installed)
        self.training_dialog.show()
        self.training_dialog.raise_()

    def open_calibration_dialog(self) -> None:
        from cxrviewer.gui.calibration_dialog import CalibrationDialog

        if self.calibration_dialog is None:
            self.calibration_dialog = CalibrationDialog(self.window)
            self.calibration_dialog.site_threshold_changed.connect(self._on_site_threshold_changed)
        self.calibration_dialog.show()
        self.calibration_dialog.raise_()

    def _on_site_threshold_changed(self, name: str) -> None:
        # The site settings are part of every result's stamp: the shown study's calls are made again.
        self.analysis.refresh_models()
        self.status.showMessage(f"model {name}: site threshold changed; the findings are called at it now", 15000)

    def _on_model_installed(self, name: str) -> None:
        self.fill_models_menu()
        self.analysis.refresh_models()
        self.status.showMessage(f"model {name} installed; see the Models menu", 10000)

    def shutdown(self) -> None:
        if self.training_dialog is not None:
            self.training_dialog.shutdown()
        if self.calibration_dialog is not None:
            self.calibration_dialog.shutdown()
