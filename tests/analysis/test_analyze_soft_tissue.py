"""`cxrviewer analyze --bone-suppressed DIR`: the viewer's soft-tissue view of each file, or a clear
refusal when no lung model is installed."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from test_analyze import analyze, write_studies

from cxrviewer.analysis import pipeline
from cxrviewer.core.io import read_image
from cxrviewer.runtime.registry import load_model


def test_each_file_gets_the_soft_tissue_view_as_npy_and_png(tmp_path, pipeline_models_dir):
    png, dcm = write_studies(tmp_path / "in")
    out = tmp_path / "soft"
    assert analyze(tmp_path / "in", "--model", "lungs", "--models-dir", pipeline_models_dir,
                   "--csv", tmp_path / "r.csv", "--bone-suppressed", out) == 0
    assert sorted(p.name for p in out.iterdir()) == ["chest.npy", "chest.png", "chest2.npy", "chest2.png"]
    bones, lungs = load_model("bones", pipeline_models_dir), load_model("lungs", pipeline_models_dir)
    for path in (png, dcm):
        pixels = read_image(path).pixels
        mask = pipeline.lung_probability(lungs, pixels)
        expected, _ = pipeline.soft_tissue(bones, pixels, mask)
        written = np.load(out / f"{path.stem}.npy")
        assert written.dtype == np.float32 and written.shape == pixels.shape
        np.testing.assert_array_equal(written, expected)
        np.testing.assert_array_equal(written[mask < 0.5], pixels[mask < 0.5])  # the original outside the lungs
        picture = cv2.imread(str(out / f"{path.stem}.png"), cv2.IMREAD_UNCHANGED)
        np.testing.assert_array_equal(picture, np.round(expected * 255).astype(np.uint8))


def test_without_a_lung_model_no_view_is_written_and_the_reason_given(tmp_path, pipeline_models_dir, caplog):
    folder = tmp_path / "models"
    folder.mkdir()
    for path in pipeline_models_dir.glob("bones.*"):
        shutil.copy(path, folder / path.name)
    png, _ = write_studies(tmp_path / "in")
    assert analyze(png, "--model", "bones", "--models-dir", folder, "--csv", tmp_path / "r.csv",
                   "--bone-suppressed", tmp_path / "soft") == 1
    assert f"model bones: --bone-suppressed: {pipeline.NO_LUNG_MODEL_TEXT}" in caplog.text
    assert not (tmp_path / "soft").exists() and not Path(tmp_path / "r.csv").exists()
