"""`cxrviewer analyze`: CSV rows equal the runtime's own answers, thresholds decide, arrays sit on the
image grid, bad files are named and skipped, and nothing analysable or an unknown model fails."""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cxrviewer import paths
from cxrviewer.analysis.study_maps import compute_study_maps
from cxrviewer.cli import main
from cxrviewer.core.cards import card_path, load_card, write_card
from cxrviewer.core.io import read_image
from cxrviewer.core.phantom import PhantomSpec, attenuation_map, write_demo_dicom
from cxrviewer.core.preprocess import prepare
from cxrviewer.runtime.registry import load_model

REPO = Path(__file__).resolve().parents[2]


def write_studies(folder: Path) -> tuple[Path, Path]:
    """A PNG (150 x 122) and a DICOM (130 x 170) phantom, sizes unlike any model's input."""
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / "chest.png"
    grey = attenuation_map(PhantomSpec(rows=150, columns=122, seed=1))
    cv2.imwrite(str(png), np.round(grey / grey.max() * 255).astype(np.uint8))
    dcm = folder / "nested" / "chest2.dcm"
    dcm.parent.mkdir()
    write_demo_dicom(dcm, PhantomSpec(rows=130, columns=170, seed=2))
    return png, dcm


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    return rows[0], [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def direct_probabilities(models_dir: Path, name: str, path: Path) -> np.ndarray:
    """The runtime's answer for one image, computed here without the analyze code."""
    loaded = load_model(name, models_dir)
    x, _ = prepare(read_image(path).pixels, loaded.card.input)
    logits = loaded.backend.classify(x[None])[0][0].astype(np.float64)
    e = np.exp(logits - logits.max())
    return e / e.sum()


def analyze(*args: object) -> int:
    return main(["analyze", *map(str, args)])


def test_csv_has_one_row_per_image_and_model_with_the_runtime_probabilities(tmp_path, models_dir):
    png, dcm = write_studies(tmp_path / "in")
    out = tmp_path / "result.csv"
    assert analyze(tmp_path / "in", "--model", "binary", "--model", "three", "--model", "bones",
                   "--models-dir", models_dir, "--csv", out) == 0
    header, rows = read_csv(out)
    assert header == ["path", "model", "normal", "abnormal", "bacteria", "virus",
                      "bone_suppressed_mean_abs_change", "prediction"]
    assert [(Path(r["path"]).name, r["model"]) for r in rows] == [
        (name, model) for name in ("chest.png", "chest2.dcm") for model in ("binary", "three", "bones")
    ]
    for row in rows:
        path = Path(row["path"])
        if row["model"] == "bones":
            assert row["prediction"] == "" and row["normal"] == ""
            pixels = read_image(path).pixels
            suppressed = load_model("bones", models_dir).backend.transform(pixels)[0]
            assert float(row["bone_suppressed_mean_abs_change"]) == pytest.approx(
                float(np.mean(np.abs(suppressed - pixels))), rel=1e-6)
            continue
        labels = ["normal", "abnormal"] if row["model"] == "binary" else ["normal", "bacteria", "virus"]
        others = {"normal", "abnormal", "bacteria", "virus"} - set(labels)
        assert all(row[label] == "" for label in others) and row["bone_suppressed_mean_abs_change"] == ""
        probs = np.array([float(row[label]) for label in labels])
        assert probs.sum() == pytest.approx(1.0, abs=1e-6)
        np.testing.assert_allclose(probs, direct_probabilities(models_dir, row["model"], path), rtol=1e-6, atol=1e-7)
        assert row["prediction"] == labels[int(np.argmax(probs))]  # thresholds are 0.5 here


def test_prediction_follows_the_cards_operating_threshold(tmp_path, models_dir, card_of):
    png, _ = write_studies(tmp_path / "in")
    p1 = float(direct_probabilities(models_dir, "binary", png)[1])
    assert 1e-3 < p1 < 1 - 1e-3
    predictions = {}
    for threshold in (p1 - 1e-4, p1 + 1e-4):
        folder = tmp_path / f"models-{threshold}"
        shutil.copytree(models_dir, folder)
        card = dataclasses.replace(card_of("binary"), thresholds=(1 - threshold, threshold))
        write_card(card, card_path(folder, "binary"))
        assert load_card(card_path(folder, "binary")).thresholds[1] == threshold
        out = tmp_path / f"{threshold}.csv"
        assert analyze(png, "--model", "binary", "--models-dir", folder, "--csv", out) == 0
        predictions[threshold] = read_csv(out)[1][0]["prediction"]
    assert predictions == {p1 - 1e-4: "abnormal", p1 + 1e-4: "normal"}
    # One of the two disagrees with the argmax that a 0.5 threshold would give.
    assert ("abnormal" if p1 >= 0.5 else "normal") in predictions.values()


def test_out_writes_float32_arrays_on_each_images_own_grid(tmp_path, models_dir):
    png, dcm = write_studies(tmp_path / "in")
    twin = tmp_path / "in" / "other" / "chest.png"  # same stem as `png`: must not overwrite it
    twin.parent.mkdir()
    shutil.copy(png, twin)
    out = tmp_path / "out"
    assert analyze(tmp_path / "in", "--model", "binary", "--model", "bones", "--models-dir", models_dir,
                   "--csv", tmp_path / "r.csv", "--out", out, "--maps", "saliency,gradcam,cam,crm") == 0
    _, rows = read_csv(tmp_path / "r.csv")
    predicted = {Path(r["path"]): r["prediction"] for r in rows if r["model"] == "binary"}
    assert sorted(p.name for p in out.iterdir()) == ["chest", "chest-2", "chest2"]
    loaded = load_model("binary", models_dir)
    for stem, path in (("chest", png), ("chest-2", twin), ("chest2", dcm)):
        pixels = read_image(path).pixels
        written = {f.name: np.load(f) for f in (out / stem).iterdir()}
        assert sorted(written) == [f"binary.{m}.npy" for m in ("cam", "crm", "gradcam", "saliency")] + [
            "bones.bone_suppressed.npy"]
        for array in written.values():
            assert array.shape == pixels.shape and array.dtype == np.float32
        index = ["normal", "abnormal"].index(predicted[path])
        expected = compute_study_maps(loaded, pixels, ["gradcam", "saliency"], class_index=index)
        np.testing.assert_array_equal(written["binary.gradcam.npy"], expected["gradcam"])
        np.testing.assert_array_equal(written["binary.saliency.npy"], expected["saliency"])
        assert written["binary.saliency.npy"].max() > 0
    # --class explains the named label, here the one not predicted.
    other = 1 - ["normal", "abnormal"].index(predicted[png])
    assert analyze(png, "--model", "binary", "--models-dir", models_dir, "--csv", tmp_path / "c.csv",
                   "--out", tmp_path / "cls", "--maps", "cam", "--class", ["normal", "abnormal"][other]) == 0
    expected = compute_study_maps(loaded, read_image(png).pixels, ["cam"], class_index=other)
    np.testing.assert_array_equal(np.load(tmp_path / "cls" / "chest" / "binary.cam.npy"), expected["cam"])


def test_unreadable_file_is_named_and_the_rest_analysed(tmp_path, models_dir, caplog):
    png, dcm = write_studies(tmp_path / "in")
    broken = tmp_path / "in" / "broken.png"
    broken.write_bytes(png.read_bytes()[:200])  # a PNG cut short: recognised by scan, refused by read_image
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    out = tmp_path / "r.csv"
    with caplog.at_level(logging.WARNING):
        assert analyze(tmp_path / "in", "--model", "binary", "--models-dir", models_dir, "--csv", out) == 0
    skipped = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(broken) in m for m in skipped) and any(str(tmp_path / "in" / "notes.txt") in m for m in skipped)
    assert sorted(Path(r["path"]).name for r in read_csv(out)[1]) == ["chest.png", "chest2.dcm"]


def run_cli(*args: object) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "cxrviewer", "analyze", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


def test_nothing_readable_fails_and_names_each_file_on_stderr(tmp_path, models_dir):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.dcm").write_bytes(b"")
    (tmp_path / "in" / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    result = run_cli(tmp_path / "in", "--model", "binary", "--models-dir", models_dir, "--csv", tmp_path / "r.csv")
    assert result.returncode != 0
    assert "empty.dcm" in result.stderr and "cut.png" in result.stderr and "nothing could be analysed" in result.stderr
    assert result.stdout == ""


def test_unknown_model_or_label_fails_naming_it(tmp_path, models_dir, caplog):
    png, _ = write_studies(tmp_path / "in")
    result = run_cli(png, "--model", "binary", "--model", "no-such-model", "--models-dir", models_dir)
    assert result.returncode != 0 and "no-such-model" in result.stderr and result.stdout == ""
    with caplog.at_level(logging.ERROR):
        code = analyze(png, "--model", "three", "--models-dir", models_dir, "--out", tmp_path / "o",
                       "--maps", "cam", "--class", "abnormal")
    assert code != 0 and "model three" in caplog.text and "'abnormal'" in caplog.text


def test_csv_goes_to_stdout_without_csv(tmp_path, models_dir, capsys):
    png, _ = write_studies(tmp_path / "in")
    assert analyze(png, "--model", "binary", "--models-dir", models_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "path,model,normal,abnormal,prediction" and len(lines) == 2 and lines[1].startswith(str(png))


def test_a_real_kermany_image(tmp_path, models_dir):
    data = paths.shared_data_dir() / "kermany_pneumonia" / "train"
    if not (data / "labels.csv").is_file():
        pytest.skip(f"shared data absent: {data}")
    with open(data / "labels.csv", newline="", encoding="utf-8") as stream:
        image = data / next(csv.DictReader(stream))["image"]
    out = tmp_path / "out"
    assert analyze(image, "--model", "binary", "--models-dir", models_dir, "--csv", tmp_path / "r.csv",
                   "--out", out, "--maps", "gradcam,crm") == 0
    row = read_csv(tmp_path / "r.csv")[1][0]
    np.testing.assert_allclose([float(row["normal"]), float(row["abnormal"])],
                               direct_probabilities(models_dir, "binary", image), rtol=1e-6, atol=1e-7)
    shape = read_image(image).pixels.shape
    for method in ("gradcam", "crm"):
        array = np.load(out / image.stem / f"binary.{method}.npy")
        assert array.shape == shape and array.dtype == np.float32 and np.isfinite(array).all()
