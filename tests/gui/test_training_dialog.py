"""The training dialog driven offscreen: validation messages, the no-torch message, and a real run
in a child process on generated data: progress arrives, cancel, start again, finish, export, listed."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

from cxrviewer.core.errors import ConfigError
from cxrviewer.gui import training_dialog
from cxrviewer.gui.training_dialog import NO_TORCH, TrainingDialog
from cxrviewer.gui.training_form import labelled_error
from cxrviewer.runtime.registry import installed_models, model_status
from cxrviewer.training.config import config_from_dict

PER_CLASS = 8


@pytest.fixture
def two_class_folder(tmp_path) -> Path:
    """root/normal and root/disease, 8 grey 64x64 PNGs each; disease images carry a bright square."""
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    for name, positive in (("normal", False), ("disease", True)):
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            image = 0.35 + 0.08 * rng.standard_normal((64, 64))
            if positive:
                y, x = rng.integers(8, 32, 2)
                image[y:y + 24, x:x + 24] += 0.45
            cv2.imwrite(str(root / name / f"{name}{i:02d}.png"), (np.clip(image, 0, 1) * 255).astype(np.uint8))
    return root


@pytest.fixture
def dialog(qtbot, tmp_path, monkeypatch) -> TrainingDialog:
    # The export's parity check reads no shared radiographs here: random inputs only, and faster.
    monkeypatch.setenv("CXRVIEWER_SHARED_DATA", str(tmp_path / "no_shared_data"))
    window = TrainingDialog(models_dir=tmp_path / "models", runs_dir=tmp_path / "runs", probe_devices=False)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.shutdown()


def fill_tiny_run(dialog: TrainingDialog, data: Path, *, epochs: int) -> None:
    form = dialog.form
    form.set_data(data)
    form.name.setText("tiny_tb")
    form.task.setCurrentIndex(form.task.findData("classification"))
    form.arch.setCurrentIndex(form.arch.findData("tbnet"))
    form.epochs.setValue(epochs)
    form.batch_size.setValue(4)
    form.val_percent.setValue(25)
    form.test_percent.setValue(25)
    form.learning_rate.setText("0.01")


def test_validation_names_each_bad_field(dialog, tmp_path):
    form = dialog.form
    form.name.setText("my model.v2")
    form.set_data(tmp_path / "nowhere")
    form.learning_rate.setText("fast")
    assert dialog.validate() is False
    text = dialog.message.text()
    assert "Model name: use letters, digits" in text and "'my model.v2'" in text
    assert f"Data: {tmp_path / 'nowhere'} does not exist" in text
    assert "Learning rate: not a number: 'fast'" in text
    assert dialog.start() is False and dialog.job is None

    form.name.setText("ok_name")
    form.set_data(tmp_path)
    form.learning_rate.setText("20")
    form.layout_kind.setCurrentIndex(form.layout_kind.findData("csv"))
    form.label_columns.setText(" , ")
    dialog.validate()
    text = dialog.message.text()
    assert "Learning rate: must be above 0 and below 10, got 20" in text
    assert "Data: the CSV layout needs a .csv file" in text and "Label columns: name at least one" in text
    assert "Model name" not in text


def test_config_errors_are_reported_under_the_field_label(dialog, two_class_folder):
    form = dialog.form
    fill_tiny_run(dialog, two_class_folder, epochs=1)
    form.input_size.setValue(256)
    assert dialog.validate() is True and dialog.message.text() == "Ready to start."
    assert "tbnet is installed at 512x512; this run trains at 256x256" in form.size_note.text()
    config = form.config_dict("runs")
    assert config["arch"] == "tbnet" and config["input"]["height"] == 256 and config["optim"]["lr"] == 0.01
    assert config["data"] == {"source": "folders", "root": str(two_class_folder), "limit_per_class": 0}
    # What only the config's own validation catches is reported under the form's label for it.
    for change, expected in ((dict(epochs=0), "Epochs: must be >= 1, got 0"),
                             (dict(input={"height": 4, "width": 4}), "Input size: input size 4x4 is too small")):
        with pytest.raises(ConfigError) as error:
            config_from_dict({**config, **change}, origin="form")
        assert labelled_error(str(error.value)).startswith(expected)


def test_architectures_follow_the_task(dialog):
    form = dialog.form
    form.task.setCurrentIndex(form.task.findData("bone_suppression"))
    archs = {form.arch.itemData(i) for i in range(form.arch.count())}
    assert archs == {"ae_bs", "convnet_bs", "rl_bs", "resnet_bs", "dwres_bs", "msdwres_bs"}
    form.task.setCurrentIndex(form.task.findData("classification"))
    assert form.arch.currentData() == "tbnet" and form.input_size.value() == 512


def test_without_torch_the_dialog_says_how_to_install_it(qtbot, monkeypatch, tmp_path):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    window = TrainingDialog(models_dir=tmp_path, runs_dir=tmp_path)
    qtbot.addWidget(window)
    assert window.state == "unavailable" and window.message.text() == NO_TORCH
    assert "pip install 'cxrviewer[ml]'" in NO_TORCH
    assert not window.start_button.isEnabled() and not window.form.isEnabled()
    assert window.start() is False and window.job is None


def test_a_crashed_child_becomes_a_message(dialog, qtbot, two_class_folder, monkeypatch):
    fill_tiny_run(dialog, two_class_folder, epochs=1)
    monkeypatch.setattr(training_dialog, "train_entry", crash_entry)
    with qtbot.waitSignal(dialog.run_failed, timeout=30000) as failed:
        assert dialog.start()
    assert failed.args[0].startswith("the training process ended unexpectedly (exit code 3)")
    assert dialog.state == "idle" and dialog.start_button.isEnabled()
    assert "Training stopped: the training process ended unexpectedly" in dialog.message.text()


def crash_entry(config, queue, cancel):
    import os

    os._exit(3)


def deaf_entry(config, queue, cancel):
    """A child that reports once, then never looks at its cancel token."""
    queue.put({"kind": "progress", "phase": "train", "epoch": 1, "epochs": 1, "step": 1, "steps": 9,
               "losses": {"train": 0.7}, "metrics": {}, "elapsed_s": 0.1, "eta_s": 5.0, "message": ""})
    time.sleep(600)


def test_a_child_that_ignores_cancel_is_terminated(dialog, qtbot, two_class_folder, monkeypatch):
    fill_tiny_run(dialog, two_class_folder, epochs=1)
    monkeypatch.setattr(training_dialog, "train_entry", deaf_entry)
    with qtbot.waitSignal(dialog.progress_received, timeout=30000):
        assert dialog.start()
    dialog.cancel_grace_s = 0.5
    job = dialog.job
    with qtbot.waitSignal(dialog.run_failed, timeout=10000) as failed:
        dialog.cancel()
    assert "did not stop within a few seconds of cancelling and was terminated" in failed.args[0]
    assert not job.child_alive and dialog.state == "idle"


def test_train_cancel_train_again_finish_and_export(dialog, qtbot, two_class_folder, tmp_path):
    started = time.perf_counter()
    fill_tiny_run(dialog, two_class_folder, epochs=2)
    # 1. Progress arrives from the child; the UI thread stays free; cancel stops the run.
    with qtbot.waitSignal(dialog.progress_received, timeout=60000,
                          check_params_cb=lambda item: item["phase"] == "train"):
        assert dialog.start()
    assert dialog.state == "running" and not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    tick = time.perf_counter()
    QApplication.processEvents()
    assert time.perf_counter() - tick < 0.5  # the event loop is not blocked by training
    assert dialog.progress.value() > 0 and "about" in dialog.status.text() and "left" in dialog.status.text()
    dialog.cancel_grace_s = 60.0  # under load a step can take longer than the default grace
    with qtbot.waitSignal(dialog.run_ended, timeout=90000) as ended:
        dialog.cancel()
    assert ended.args[0]["cancelled"] is True
    assert dialog.status.text().startswith("Cancelled after") and dialog.state == "idle"
    assert not dialog.export_button.isEnabled()

    # 2. Start again and finish: curves, metrics table and plots appear.
    seen: list[dict] = []
    dialog.progress_received.connect(seen.append)
    with qtbot.waitSignal(dialog.run_ended, timeout=120000) as ended:
        assert dialog.start()
    result = ended.args[0]
    assert result["cancelled"] is False and result["epochs_done"] == 2 and result["exportable"]
    assert [p["epoch"] for p in seen if p["phase"] == "epoch"] == [1, 2]
    assert dialog.val_curve.getData()[0].tolist() == [1.0, 2.0]
    assert dialog.progress.value() == training_dialog.PROGRESS_STEPS
    assert set(result["metrics"]) == {"val", "test"} and 0.0 <= result["metrics"]["test"]["auc"] <= 1.0
    table = dialog.metrics_table
    rows = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    counts = result["counts"]
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == [
        f"validation (n={counts['val']})", f"test (n={counts['test']})"]
    # The tiny data set has a handful of test images: the dialog says the figures mean little (issue 20).
    assert counts["test"] < training_dialog.FEW_IMAGES and f"{counts['test']} test images" in dialog.message.text()
    assert {"accuracy", "auc", "sensitivity", "specificity"} <= set(rows)
    for column, split in enumerate(("val", "test")):
        for row, name in enumerate(rows):
            assert table.item(row, column).text() == f"{result['metrics'][split][name]:.3f}"
    plots = {dialog.plot_list.item(i).text() for i in range(dialog.plot_list.count())}
    assert {"curves", "roc_test", "confusion_test"} <= plots
    assert dialog.export_button.isEnabled()

    # 3. Export: the registry lists the model, and its files check out.
    with qtbot.waitSignal(dialog.model_installed, timeout=120000) as installed:
        assert dialog.export()
    assert installed.args == ["tiny_tb"]
    assert installed_models(tmp_path / "models") == ["tiny_tb"]
    status = model_status("tiny_tb", tmp_path / "models")
    assert status.status == "ok" and status.card.labels == ("disease", "normal")
    assert "Installed model tiny_tb" in dialog.status.text()
    print(f"train/cancel/train/export took {time.perf_counter() - started:.1f} s")


def test_viewer_lists_models_and_opens_the_dialog(viewer, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("CXRVIEWER_MODELS", str(tmp_path / "models"))
    viewer.tools.fill_models_menu()
    assert [a.text() for a in viewer.tools.models_menu.actions()] == [f"No models installed in {tmp_path / 'models'}"]
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "lungs.card.json").write_text("{}")
    viewer.tools.fill_models_menu()
    assert [a.text() for a in viewer.tools.models_menu.actions()] == ["lungs"]
    viewer.tools.models_menu.actions()[0].trigger()
    assert viewer.status.currentMessage().startswith("model lungs: card")  # an empty card is refused, by name

    viewer.actions_by_name["train"].trigger()
    dialog = viewer.tools.training_dialog
    assert dialog.isVisible() and dialog.models_dir == tmp_path / "models" and dialog.state == "idle"
    # The device probe runs in a child process too: CUDA is offered only where torch can use it.
    qtbot.waitUntil(lambda: not dialog.probe_job.running, timeout=60000)
    import torch

    expected = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    assert [dialog.form.device.itemData(i) for i in range(dialog.form.device.count())] == expected
    (tmp_path / "models" / "tiny.card.json").write_text("{}")
    dialog.model_installed.emit("tiny")
    assert [a.text() for a in viewer.tools.models_menu.actions()] == ["lungs", "tiny"]
    assert viewer.status.currentMessage() == "model tiny installed; see the Models menu"


def test_the_form_lists_architectures_without_importing_torch_or_the_nets_package():
    # The architecture list is the training configuration's (cxrviewer.training.architectures); the
    # viewer must not reach cxrviewer.nets, the torch package, to offer it.
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from cxrviewer.gui.training_form import TrainingForm\n"
        "form = TrainingForm()\n"
        "assert form.arch.count() > 0\n"
        "print(sorted(m for m in sys.modules if m.partition('.')[0] in ('torch', 'torchvision', 'onnx')\n"
        "             or m.startswith('cxrviewer.nets')))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_dialog_does_not_import_torch_into_the_viewer(tmp_path, two_class_folder):
    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from cxrviewer.gui.training_dialog import TrainingDialog\n"
        f"d = TrainingDialog(models_dir={str(tmp_path)!r}, runs_dir={str(tmp_path)!r}, probe_devices=False)\n"
        f"d.form.set_data({str(two_class_folder)!r})\n"
        "assert d.validate(), d.message.text()\n"
        "print(sorted(m for m in ('torch', 'torchvision', 'onnx') if m in sys.modules))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
