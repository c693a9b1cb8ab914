"""The training dialog's form: every choice of a run, checked before it starts, as a config mapping.

The form builds the same mapping a config file holds (`cxrviewer.training.config`), so the dialog
and `cxrviewer train --config` run identical settings. `problems()` names the field of each mistake
in the words the form shows; the config's own validation runs last, its setting names translated
to field labels.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cxrviewer.core.errors import ConfigError
from cxrviewer.training.architectures import ARCHITECTURES
from cxrviewer.training.config import TASKS, config_from_dict
from cxrviewer.training.subprocess_run import export_problem

LAYOUTS = {
    "folders": "a folder per class",
    "csv": "CSV: path + label(s)",
    "pairs": "paired folders input/ target/ (mask/)",
    "kermany": "Kermany (train/ test/ class folders)",
    "shenzhen": "Shenzhen (file names _0/_1)",
    "montgomery": "Montgomery (file names _0/_1)",
    "rsna": "RSNA pneumonia CSV",
    "tbx11k": "TBX11K",
    "jsrt_bse": "JSRT / BSE-JSRT pairs",
    "jsrt_lungs": "JSRT lung masks",
    "openist_lungs": "OpenIST lung masks",
}
PREPROCESSING = {
    "none": "none",
    "clahe": "CLAHE (Rajaraman 2018)",
    "saturate": "1 %/99 % saturation (Rajaraman 2021)",
    "histeq_blur": "histogram equalisation + 5x5 blur (Group-Q)",
}
# Check box label -> the augment settings it turns on (moderate strengths from the papers).
AUGMENTATIONS = {
    "horizontal flip": {"hflip": 0.5},
    "rotation, shift, zoom": {"rotation_deg": 5.0, "shift": 0.05, "zoom": 0.1},
    "sharpness": {"sharpness": 0.3},
    "autocontrast": {"autocontrast": 0.3},
    "elastic deformation": {"elastic": 0.3},
}
# Config settings -> the form label its errors are reported under.
FIELD_LABELS = {
    "name": "Model name", "data": "Data", "data.root": "Data", "data.source": "Layout", "data.csv": "Data",
    "data.label_columns": "Label columns", "data.image_column": "Image column", "data.limit": "Images per class",
    "task": "Task", "arch": "Architecture", "input": "Input size", "input.channels": "Input size",
    "epochs": "Epochs", "batch_size": "Batch size", "optim.lr": "Learning rate", "device": "Device",
    "split.val_fraction": "Validation %", "split.test_fraction": "Test %", "augment": "Augmentation",
}
MODEL_NAME = re.compile(r"[A-Za-z0-9_-]+")


class TrainingForm(QWidget):
    """The run's settings. `config_dict(out_dir)` is the run; `problems()` lists what blocks it."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = QLineEdit("cxr_model")
        self.data_path = QLineEdit()
        self.data_path.setPlaceholderText("a folder of images, or a CSV file")
        self.browse_folder = QPushButton("Folder…")
        self.browse_csv = QPushButton("CSV…")
        self.layout_kind = _combo(LAYOUTS)
        self.image_column = QLineEdit("image")
        self.label_columns = QLineEdit("label")
        self.label_columns.setToolTip("comma-separated; several columns make a multi-label task")
        self.patient_column = QLineEdit()
        self.patient_column.setPlaceholderText("optional: splits keep a patient's images together")
        self.limit = _spin(0, 1_000_000, 0, special="all")
        self.task = _combo({t: t.replace("_", " ") for t in TASKS})
        self.arch = QComboBox()
        self.input_size = _spin(8, 2048, 512)
        self.size_note = QLabel()
        self.size_note.setWordWrap(True)
        self.preprocessing = _combo(PREPROCESSING)
        self.augment = {label: QCheckBox(label) for label in AUGMENTATIONS}
        self.augment["horizontal flip"].setChecked(True)
        self.epochs = _spin(1, 10_000, 10)
        self.learning_rate = QLineEdit("0.001")
        self.batch_size = _spin(1, 4096, 16)
        self.val_percent = _spin(1, 49, 15)
        self.test_percent = _spin(0, 49, 15)
        self.device = QComboBox()
        self.device.addItem("CPU", "cpu")
        self._build_layout()
        self._fill_architectures()
        self.task.currentIndexChanged.connect(self._fill_architectures)
        self.arch.currentIndexChanged.connect(self._on_arch)
        self.input_size.valueChanged.connect(self._show_size_note)
        self.layout_kind.currentIndexChanged.connect(self._enable_csv_fields)
        self.browse_folder.clicked.connect(self._choose_folder)
        self.browse_csv.clicked.connect(self._choose_csv)
        for widget in self.findChildren(QLineEdit):
            widget.textChanged.connect(self.changed)
        for widget in self.findChildren(QComboBox) + self.findChildren(QSpinBox) + self.findChildren(QCheckBox):
            signal = widget.toggled if isinstance(widget, QCheckBox) else (
                widget.valueChanged if isinstance(widget, QSpinBox) else widget.currentIndexChanged)
            signal.connect(self.changed)
        self._enable_csv_fields()

    def _build_layout(self) -> None:
        data = QFormLayout()
        source_row = QHBoxLayout()
        for widget in (self.data_path, self.browse_folder, self.browse_csv):
            source_row.addWidget(widget)
        data.addRow("Data", source_row)
        data.addRow("Layout", self.layout_kind)
        data.addRow("Image column", self.image_column)
        data.addRow("Label columns", self.label_columns)
        data.addRow("Patient column", self.patient_column)
        data.addRow("Images per class", self.limit)
        data.addRow("Validation %", self.val_percent)
        data.addRow("Test %", self.test_percent)
        model = QFormLayout()
        model.addRow("Model name", self.name)
        model.addRow("Task", self.task)
        model.addRow("Architecture", self.arch)
        model.addRow("Input size", self.input_size)
        model.addRow("", self.size_note)
        model.addRow("Preprocessing", self.preprocessing)
        augment = QVBoxLayout()
        for box in self.augment.values():
            augment.addWidget(box)
        model.addRow("Augmentation", augment)
        run = QFormLayout()
        run.addRow("Epochs", self.epochs)
        run.addRow("Learning rate", self.learning_rate)
        run.addRow("Batch size", self.batch_size)
        run.addRow("Device", self.device)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        for title, form in (("Data", data), ("Model", model), ("Training", run)):
            box = QGroupBox(title)
            box.setLayout(form)
            outer.addWidget(box)
        outer.addStretch(1)

    # -- choices that depend on each other ------------------------------------------------------
    def _fill_architectures(self) -> None:
        task = self.task.currentData()
        arch_task = "classification" if task == "multilabel" else task
        self.arch.blockSignals(True)
        self.arch.clear()
        for spec in ARCHITECTURES.values():
            if spec.task == arch_task:
                self.arch.addItem(spec.name, spec.name)
                self.arch.setItemData(self.arch.count() - 1, f"{spec.description}\n{spec.source}",
                                      Qt.ItemDataRole.ToolTipRole)
        self.arch.blockSignals(False)
        self._on_arch()

    def _on_arch(self) -> None:
        spec = ARCHITECTURES.get(self.arch.currentData() or "")
        if spec is not None:
            self.input_size.setValue(spec.input_size[0])
            self.arch.setToolTip(f"{spec.description}\n{spec.source}")
        self._show_size_note()

    def _show_size_note(self) -> None:
        spec = ARCHITECTURES.get(self.arch.currentData() or "")
        problem = export_problem({"arch": spec.name, "input": {"height": self.input_size.value(),
                                                               "width": self.input_size.value()}}) if spec else ""
        self.size_note.setText(f"Note: {problem}." if problem else "")

    def _enable_csv_fields(self) -> None:
        is_csv = self.layout_kind.currentData() == "csv"
        for widget in (self.image_column, self.label_columns, self.patient_column):
            widget.setEnabled(is_csv)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Training data folder", self.data_path.text())
        if folder:
            self.set_data(folder)

    def _choose_csv(self) -> None:
        file, _ = QFileDialog.getOpenFileName(self, "Training data CSV", self.data_path.text(), "CSV (*.csv)")
        if file:
            self.set_data(file)

    def set_data(self, path: str | Path) -> None:
        """Use a folder or CSV file; a CSV selects the CSV layout."""
        self.data_path.setText(str(path))
        if Path(path).suffix.lower() == ".csv":
            self.layout_kind.setCurrentIndex(self.layout_kind.findData("csv"))

    def set_cuda_devices(self, names: list[str]) -> None:
        """Offer CUDA once the training process reports a usable GPU."""
        if names and self.device.findData("cuda") < 0:
            self.device.addItem(f"CUDA: {names[0]}" + (f" (+{len(names) - 1})" if len(names) > 1 else ""), "cuda")

    # -- the run --------------------------------------------------------------------------------
    def config_dict(self, out_dir: str | Path) -> dict[str, Any]:
        """The run as a config mapping (what a .json config file for `cxrviewer train` would hold)."""
        path = Path(self.data_path.text().strip()).expanduser()
        data: dict[str, Any] = {"source": self.layout_kind.currentData(), "root": str(path)}
        if data["source"] == "csv":
            data.update(root=str(path.parent), csv=path.name, image_column=self.image_column.text().strip(),
                        label_columns=[c.strip() for c in self.label_columns.text().split(",") if c.strip()],
                        patient_column=self.patient_column.text().strip())
        limit_key = "limit_per_class" if self.task.currentData() in ("classification", "multilabel") else "limit"
        data[limit_key] = self.limit.value()
        size = self.input_size.value()
        spec = ARCHITECTURES.get(self.arch.currentData() or "")
        steps = [] if self.preprocessing.currentData() == "none" else [self.preprocessing.currentData()]
        augment: dict[str, float] = {}
        for label, box in self.augment.items():
            if box.isChecked():
                augment.update(AUGMENTATIONS[label])
        is_classifier = self.task.currentData() in ("classification", "multilabel")
        return {
            "name": self.name.text().strip(),
            "task": self.task.currentData(),
            "arch": self.arch.currentData() or "",
            "data": data,
            "input": {"height": size, "width": size, "channels": spec.in_channels if spec and is_classifier else 1,
                      "steps": steps},
            "split": {"val_fraction": self.val_percent.value() / 100, "test_fraction": self.test_percent.value() / 100},
            "augment": augment,
            "optim": {"lr": _float_or_nan(self.learning_rate.text())},
            "epochs": self.epochs.value(),
            "batch_size": self.batch_size.value(),
            "balance": "weights" if is_classifier else "none",
            "device": self.device.currentData(),
            "out_dir": str(out_dir),
        }

    def problems(self, out_dir: str | Path = "runs") -> list[str]:
        """What is wrong, one line per problem, each starting with the field's label; [] when ready."""
        found = []
        name = self.name.text().strip()
        if not MODEL_NAME.fullmatch(name):
            found.append(f"Model name: use letters, digits, '-' and '_' only (got {name!r})" if name
                         else "Model name: is empty")
        text = self.data_path.text().strip()
        path = Path(text).expanduser()
        is_csv = self.layout_kind.currentData() == "csv"
        if not text:
            found.append("Data: choose a folder of images or a CSV file")
        elif not path.exists():
            found.append(f"Data: {text} does not exist")
        elif is_csv and not path.is_file():
            found.append(f"Data: the CSV layout needs a .csv file, and {text} is a folder")
        elif not is_csv and not path.is_dir():
            found.append(f"Data: the {self.layout_kind.currentData()} layout needs a folder, and {text} is a file")
        if is_csv and not [c for c in self.label_columns.text().split(",") if c.strip()]:
            found.append("Label columns: name at least one column of the CSV")
        if is_csv and not self.image_column.text().strip():
            found.append("Image column: name the CSV column that holds the image paths")
        lr = _float_or_nan(self.learning_rate.text())
        if lr != lr:
            found.append(f"Learning rate: not a number: {self.learning_rate.text()!r} (e.g. 0.001 or 1e-3)")
        elif not 0 < lr < 10:
            found.append(f"Learning rate: must be above 0 and below 10, got {lr:g}")
        if self.val_percent.value() + self.test_percent.value() >= 80:
            found.append("Test %: validation and test together leave too few training images (keep below 80 %)")
        if found:
            return found
        try:
            config_from_dict(self.config_dict(out_dir), origin="form")
        except ConfigError as error:
            found.append(labelled_error(str(error)))
        return found


def labelled_error(message: str) -> str:
    """'form: setting 'optim.lr' must be ...' -> 'Learning rate: must be ...'."""
    match = re.match(r"form: setting '([^']+)' ?:? ?(.*)", message, re.DOTALL)
    if match is None:
        return message.removeprefix("form: ")
    setting, rest = match.groups()
    return f"{FIELD_LABELS.get(setting, setting)}: {rest}"


def _float_or_nan(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        return float("nan")


def _combo(items: dict[str, str]) -> QComboBox:
    combo = QComboBox()
    for key, label in items.items():
        combo.addItem(label, key)
    return combo


def _spin(low: int, high: int, value: int, special: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    if special:
        spin.setSpecialValueText(special)
    return spin
