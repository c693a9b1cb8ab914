"""`cxrviewer analyze` and the viewer's analysis service give the same arrays for the same study: both
run `analysis.study.StudyAnalysis`, so the lungs (two largest regions), the lesion maps, the
soft-tissue view, the probabilities and the maps are bit for bit the viewer's. And one forward pass
per classifier gives both its finding and its maps."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import PIL.Image
import pytest

from cxrviewer.cli import main
from cxrviewer.core.io import read_image
from cxrviewer.gui.analysis_service import AnalysisService
from cxrviewer.runtime.model_cache import forget_models
from cxrviewer.runtime.onnx_backend import OnnxBackend

MODELS = ("classifier", "lungs", "tb-lesions", "bones")  # what tests/conftest.py's pipeline_models_dir holds
METHODS = ("saliency", "gradcam", "cam", "crm")


def chest_like(shape=(230, 190)) -> np.ndarray:
    """A smooth non-square 8-bit film (two dark fields in a bright frame), so the lungs have regions."""
    rows, columns = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    film = 0.75 - 0.45 * (np.exp(-((columns - 0.3 * shape[1]) ** 2 + (rows - 0.5 * shape[0]) ** 2) / 900.0)
                          + np.exp(-((columns - 0.7 * shape[1]) ** 2 + (rows - 0.5 * shape[0]) ** 2) / 900.0))
    noise = np.random.default_rng(3).normal(0, 0.03, shape)
    return np.rint(np.clip(film + noise, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def study(tmp_path):
    path = tmp_path / "film.png"
    PIL.Image.fromarray(chest_like()).save(path)
    return path


def test_analyze_and_the_viewer_give_the_same_arrays(qtbot, pipeline_models_dir, study, tmp_path, monkeypatch):
    out, soft_dir, table = tmp_path / "out", tmp_path / "soft", tmp_path / "rows.csv"
    args = [str(study), *(a for name in MODELS for a in ("--model", name)),
            "--models-dir", str(pipeline_models_dir), "--csv", str(table), "--out", str(out),
            "--maps", ",".join(METHODS), "--class", "abnormal", "--bone-suppressed", str(soft_dir)]
    assert main(["analyze", *args]) == 0
    written = {f.name: np.load(f) for f in (out / "film").iterdir()}
    with open(table, newline="") as stream:
        rows = {row["model"]: row for row in csv.DictReader(stream)}

    forget_models()  # the viewer loads its models afresh, as a new process would
    passes: Counter[str] = Counter()
    classify = OnnxBackend.classify
    monkeypatch.setattr(OnnxBackend, "classify", lambda self, x: passes.update({self.card.name: len(x)}) or classify(self, x))
    service = AnalysisService(models_dir=pipeline_models_dir)
    results = {}
    service.result_ready.connect(lambda _study, kind, key, payload: results.__setitem__((kind, key), payload))
    service.step_failed.connect(lambda _study, kind, key, message: results.__setitem__((kind, key), message))
    service.analyse(1, read_image(study).pixels)
    qtbot.waitUntil(lambda: not service.busy, timeout=60000)
    service.request_maps(1, "classifier", 1)
    qtbot.waitUntil(lambda: ("maps", ("classifier", 1)) in results and not service.busy, timeout=60000)

    lungs = results[("lungs", "lungs")]
    np.testing.assert_array_equal(lungs, written["lungs.lungs.npy"])
    assert lungs.shape == (230, 190) and lungs.std() > 1e-4  # not two constant arrays (random weights)
    lesions = results[("lesions", "tb-lesions")]
    np.testing.assert_array_equal(lesions.probability, written["tb-lesions.tb_lesions.npy"])
    assert float(rows["tb-lesions"]["tb_lesions_score"]) == pytest.approx(lesions.score, rel=1e-6)
    soft, _bones = results[("soft_tissue", "bones")]
    np.testing.assert_array_equal(soft, np.load(soft_dir / "film.npy"))
    finding = results[("finding", "classifier")]
    for label, probability in zip(finding.labels, finding.probabilities, strict=True):
        assert float(rows["classifier"][label]) == pytest.approx(probability, rel=1e-6)
    maps = results[("maps", ("classifier", 1))]
    assert sorted(maps) == sorted(METHODS)
    for method in METHODS:
        np.testing.assert_array_equal(maps[method], written[f"classifier.{method}.npy"])
    # The finding's forward pass gave the maps' features: one pass for the study, not one per step.
    assert passes["classifier"] == 1
    service.shutdown()
