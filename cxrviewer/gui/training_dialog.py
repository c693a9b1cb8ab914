"""The training dialog: settings, live curves, progress with ETA, cancel, results, export to the viewer.

Training and export run in a child process (`gui.training_process`), so the viewer stays responsive
and survives whatever the run does; this dialog never imports torch. Without torch installed (a
viewer-only bundle) it says how to get the full install instead of offering a run.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, QStandardPaths, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QIcon, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cxrviewer import paths
from cxrviewer.core.cards import card_path
from cxrviewer.gui.training_form import TrainingForm
from cxrviewer.gui.training_process import ProcessJob
from cxrviewer.training.subprocess_run import export_entry, probe_entry, train_entry

log = logging.getLogger(__name__)

NO_TORCH = (
    "Training needs the full install, with PyTorch, and this viewer was installed without it.\n\n"
    "Install it with:   pip install 'cxrviewer[ml]'\n"
    "or, in a source checkout:   make venv\n\n"
    "The viewer itself, and the models already installed, work without it."
)
# The packaged viewer cannot take pip packages: the full install is a separate Python environment.
NO_TORCH_BUNDLE = (
    "Training needs the full install, with PyTorch; this packaged viewer leaves it out to stay small.\n\n"
    "Get the full install in a Python 3.10+ environment:   pip install 'cxrviewer[ml]'\n"
    "or from a source checkout:   make venv   (docs/packaging.md, \"Training\")\n\n"
    "Train there; to read with the models it exports, start this viewer with CXRVIEWER_MODELS set to "
    "that install's models folder. The viewer itself, and the models already installed, work without it."
)
# The validation metric drawn live, the first one a run reports.
CURVE_METRICS = ("val_auc", "val_dice", "val_ssim", "val_accuracy")
PROGRESS_STEPS = 1000
# The loop checks for cancel between steps, and a CPU step of a large net can take several seconds.
CANCEL_GRACE_S = 10.0


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def no_torch_message() -> str:
    """What the dialog says without torch: the packaged viewer (PyInstaller sets sys.frozen) cannot be
    pip-installed into, a source or pip install can."""
    return NO_TORCH_BUNDLE if getattr(sys, "frozen", False) else NO_TORCH


def default_runs_dir() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(location or Path.home() / ".cxrviewer") / "runs"


def duration(seconds: float) -> str:
    """1:05 or 1:02:03."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


FEW_IMAGES = 30  # below this many images a split's figures are said to mean little


class TrainingDialog(QDialog):
    """Non-modal; closing hides it and a run goes on. The owner calls `shutdown()` when it quits."""

    progress_received = Signal(dict)  # each progress record of the child
    run_ended = Signal(dict)  # the child's "result" (finished or cancelled)
    run_failed = Signal(str)  # an error, a crash or a forced stop, in words
    model_installed = Signal(str)  # the name of a model just exported into the models folder
    export_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, models_dir: Path | None = None,
                 runs_dir: Path | None = None, probe_devices: bool = True):
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.models_dir = Path(models_dir) if models_dir is not None else paths.models_dir()
        self.runs_dir = Path(runs_dir) if runs_dir is not None else default_runs_dir()
        self.job: ProcessJob | None = None
        self.result: dict[str, Any] | None = None
        self.state = "idle"  # idle, running, cancelling, finished, exporting, unavailable
        self.cancel_grace_s = CANCEL_GRACE_S
        self.probe_job: ProcessJob | None = None
        self.form = TrainingForm()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.validate_button = QPushButton("Validate")
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel run")
        self.export_button = QPushButton("Export to viewer")
        self.open_run_button = QPushButton("Open run folder")
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.status = QLabel("Not started")
        self.loss_plot, self.metric_plot = pg.PlotWidget(title="loss"), pg.PlotWidget(title="validation metric")
        self.metric_plot.setYRange(0, 1)
        for plot in (self.loss_plot, self.metric_plot):
            plot.addLegend(offset=(-10, 10))
            plot.setLabel("bottom", "epoch")
        self.train_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#4c9be8", width=1), name="train")
        self.val_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#e8a33c", width=2), symbol="o", symbolSize=6,
                                             name="validation")
        self.metric_curve = self.metric_plot.plot([], [], pen=pg.mkPen("#5cc45c", width=2), symbol="o",
                                                  symbolSize=6)
        self.metrics_table = QTableWidget(0, 0)
        self.plot_list = QListWidget()
        self.plot_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.plot_list.setIconSize(QSize(160, 120))
        self.plot_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(1000)
        self._build_layout()
        self._points: dict[str, list[tuple[float, float]]] = {}
        self.validate_button.clicked.connect(self.validate)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.export_button.clicked.connect(self.export)
        self.open_run_button.clicked.connect(self._open_run_folder)
        self.plot_list.itemActivated.connect(lambda item: QDesktopServices.openUrl(
            QUrl.fromLocalFile(item.data(Qt.ItemDataRole.UserRole))))
        self.form.changed.connect(lambda: self.message.setText("") if self.state == "idle" else None)
        self.resize(1300, 820)
        if not torch_available():
            self._set_state("unavailable")
            self._say(no_torch_message())
            return
        self._set_state("idle")
        if probe_devices:
            self.probe_job = ProcessJob(probe_entry, name="cxrviewer-device-probe", parent=self)
            self.probe_job.finished.connect(lambda found: self.form.set_cuda_devices(found.get("cuda", [])))
            self.probe_job.failed.connect(lambda text, _detail: self._log(f"device probe: {text}"))
            self.probe_job.start()

    def _build_layout(self) -> None:
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        buttons = QHBoxLayout()
        for button in (self.validate_button, self.start_button, self.cancel_button):
            buttons.addWidget(button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.message)
        curves = QHBoxLayout()
        curves.addWidget(self.loss_plot)
        curves.addWidget(self.metric_plot)
        results = QGroupBox("Results")
        results_layout = QVBoxLayout(results)
        tables = QHBoxLayout()
        tables.addWidget(self.metrics_table, 1)
        tables.addWidget(self.plot_list, 2)
        results_layout.addLayout(tables)
        export_row = QHBoxLayout()
        export_row.addWidget(self.export_button)
        export_row.addWidget(self.open_run_button)
        export_row.addStretch(1)
        results_layout.addLayout(export_row)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.addLayout(curves, 3)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.status)
        right_layout.addWidget(results, 3)
        right_layout.addWidget(self.log_view, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([470, 830])
        QVBoxLayout(self).addWidget(splitter)

    # -- actions --------------------------------------------------------------------------------
    def validate(self) -> bool:
        """Check the form; show every problem, or that it is ready. True when a run can start."""
        if self.state == "unavailable":
            return False
        problems = self.form.problems(self.runs_dir)
        if problems:
            self._say("Please fix:\n" + "\n".join(f"• {p}" for p in problems), error=True)
            return False
        self._say("Ready to start.")
        return True

    def start(self) -> bool:
        if self.state not in ("idle", "finished") or not self.validate():
            return False
        config = self.form.config_dict(self.runs_dir)
        self._say("")
        self._clear_run()
        self.job = ProcessJob(train_entry, config, name=f"cxrviewer-train-{config['name']}", parent=self)
        self.job.message.connect(self._on_message)
        self.job.finished.connect(self._on_run_ended)
        self.job.failed.connect(self._on_run_failed)
        self._set_state("running")
        self.status.setText("Starting the training process…")
        self._log(f"run {config['name']} started in {Path(config['out_dir']) / config['name']}")
        self.job.start()
        return True

    def cancel(self) -> None:
        if self.state == "running" and self.job is not None:
            self._set_state("cancelling")
            self.status.setText("Cancelling: stopping after the current step…")
            self.job.cancel(self.cancel_grace_s)

    def export(self) -> bool:
        if self.state != "finished" or not (self.result or {}).get("exportable"):
            return False
        name = Path(self.result["run_dir"]).name
        self.job = ProcessJob(export_entry, self.result["best_checkpoint"], str(self.models_dir), name,
                              name=f"cxrviewer-export-{name}", parent=self)
        self.job.finished.connect(self._on_exported)
        self.job.failed.connect(self._on_export_failed)
        self.job.message.connect(self._on_message)
        self._set_state("exporting")
        self.status.setText(f"Exporting {name} to {self.models_dir} (ONNX graphs and parity check)…")
        self.job.start()
        return True

    def shutdown(self) -> None:
        """Stop every child process now (the viewer is closing)."""
        for job in (self.job, self.probe_job):
            if job is not None:
                job.stop()

    # -- child messages -------------------------------------------------------------------------
    def _on_message(self, item: dict[str, Any]) -> None:
        if item["kind"] == "log":
            self._log(f"{item['level'].lower()}: {item['message']}")
            return
        self.progress_received.emit(item)
        phase, epoch, epochs, step, steps = (item[k] for k in ("phase", "epoch", "epochs", "step", "steps"))
        if phase == "train" and steps:
            x = epoch - 1 + step / steps
            self._add_point("train", x, item["losses"].get("train"))
            self.progress.setValue(int(PROGRESS_STEPS * x / max(epochs, 1)))
        elif phase == "epoch":
            self._add_point("val", epoch, item["losses"].get("val"))
            metric = next((k for k in CURVE_METRICS if k in item["metrics"]), next(iter(item["metrics"]), None))
            if metric is not None:
                self.metric_plot.setTitle(metric.replace("_", " "))
                self._add_point("metric", epoch, item["metrics"][metric])
            self.progress.setValue(int(PROGRESS_STEPS * epoch / max(epochs, 1)))
        text = f"epoch {epoch}/{epochs}" + (f" · step {step}/{steps}" if phase == "train" else f" · {phase}")
        text += f" · {duration(item['elapsed_s'])} elapsed"
        if item.get("eta_s") is not None and phase in ("train", "epoch"):
            text += f" · about {duration(item['eta_s'])} left"
        if item.get("message"):
            text += f" · {item['message']}"
        if self.state == "cancelling":
            text = "Cancelling… " + text
        self.status.setText(text)

    def _on_run_ended(self, result: dict[str, Any]) -> None:
        self.result = result
        self._release_job()
        if result["cancelled"]:
            kept = f"; epoch {result['epochs_done']} is kept in {result['run_dir']}" if result["epochs_done"] else ""
            self.status.setText(f"Cancelled after {result['epochs_done']} finished epoch(s){kept}.")
            self._set_state("idle")
        else:
            self.progress.setValue(PROGRESS_STEPS)
            self.status.setText(f"Finished {result['epochs_done']} epoch(s) in {duration(result['wall_time_s'])}.")
            self._show_results(result)
            self._set_state("finished")
        self.run_ended.emit(result)

    def _on_run_failed(self, text: str, detail: str) -> None:
        self._release_job()
        self._say(f"Training stopped: {text}", error=True)
        self.status.setText("Stopped.")
        if detail:
            self._log(detail)
        self._set_state("idle")
        self.run_failed.emit(text)

    def _on_exported(self, item: dict[str, Any]) -> None:
        self._release_job()
        self._set_state("finished")
        self.export_button.setEnabled(False)
        self.status.setText(f"Installed model {item['name']} in {self.models_dir}; the viewer lists it now.")
        self._log(f"exported {item['card']}")
        self.model_installed.emit(item["name"])

    def _on_export_failed(self, text: str, detail: str) -> None:
        self._release_job()
        self._set_state("finished")
        self._say(f"Export failed: {text}", error=True)
        if detail:
            self._log(detail)
        self.export_failed.emit(text)

    # -- display --------------------------------------------------------------------------------
    def _show_results(self, result: dict[str, Any]) -> None:
        # Qt passes the dict as a QVariantMap, which sorts its keys: put the splits back in their order.
        metrics = result["metrics"]
        splits = [s for s in ("val", "test") if s in metrics]
        names = sorted({k for s in splits for k in metrics[s]})
        self.metrics_table.setRowCount(len(names))
        self.metrics_table.setColumnCount(len(splits))
        counts = result.get("counts") or {}
        self.metrics_table.setHorizontalHeaderLabels([
            ("validation" if s == "val" else s) + (f" (n={counts[s]})" if counts.get(s) else "") for s in splits])
        few = {("validation" if s == "val" else s): counts[s] for s in splits if counts.get(s) and counts[s] < FEW_IMAGES}
        if few:
            parts = ", ".join(f"{n} {name} images" for name, n in few.items())
            self._say(f"Only {parts}: figures on so few images can land anywhere from chance to perfect; "
                      "do not read them as the model's performance.", error=True)
        self.metrics_table.setVerticalHeaderLabels(names)
        for column, split in enumerate(splits):
            for row, name in enumerate(names):
                value = metrics[split].get(name)
                self.metrics_table.setItem(row, column, QTableWidgetItem("" if value is None else f"{value:.3f}"))
        for plot in result["plots"]:
            item = QListWidgetItem(QIcon(QPixmap(plot)), Path(plot).stem)
            item.setData(Qt.ItemDataRole.UserRole, plot)
            item.setToolTip(plot)
            self.plot_list.addItem(item)
        name = Path(result["run_dir"]).name
        if result["export_problem"]:
            self._say(f"Not exportable: {result['export_problem']}.")
        elif card_path(self.models_dir, name).exists():
            self._say(f"Export replaces the installed model {name} (the old one stays until the new one is checked).")

    def _add_point(self, series: str, x: float, y: float | None) -> None:
        if y is None:
            return
        self._points.setdefault(series, []).append((x, y))
        xs, ys = zip(*self._points[series], strict=True)
        {"train": self.train_curve, "val": self.val_curve, "metric": self.metric_curve}[series].setData(xs, ys)

    def _clear_run(self) -> None:
        self.result = None
        self._points.clear()
        for curve in (self.train_curve, self.val_curve, self.metric_curve):
            curve.setData([], [])
        self.progress.setValue(0)
        self.metrics_table.setRowCount(0)
        self.metrics_table.setColumnCount(0)
        self.plot_list.clear()

    def _set_state(self, state: str) -> None:
        self.state = state
        editable = state in ("idle", "finished")
        self.form.setEnabled(editable)
        self.validate_button.setEnabled(editable)
        self.start_button.setEnabled(editable)
        self.cancel_button.setEnabled(state == "running")
        self.export_button.setEnabled(state == "finished" and bool((self.result or {}).get("exportable")))
        self.open_run_button.setEnabled(self.result is not None)

    def _release_job(self) -> None:
        """Drop the job that just reported its end (deleted once its signal has been delivered)."""
        if self.job is not None:
            self.job.deleteLater()
            self.job = None

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #d9534f;" if error else "")
        self.message.setText(text)

    def _log(self, text: str) -> None:
        self.log_view.appendPlainText(text)

    def _open_run_folder(self) -> None:
        if self.result is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.result["run_dir"]))
