"""Triage of one study file: the same numbers as the pipeline's steps, one model's failure kept to it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image as PilImage

from cxrviewer.analysis import pipeline
from cxrviewer.analysis.installed import installed_model
from cxrviewer.analysis.triage import triage_steps, triage_study
from cxrviewer.core.errors import StudyError
from cxrviewer.core.io import read_image


@pytest.fixture
def study(tmp_path):
    rows, columns = np.mgrid[0:96, 0:120]
    pixels = (40 + 150 * np.exp(-((rows - 48) ** 2 + (columns - 40) ** 2) / 300.0)).astype(np.uint8)
    path = tmp_path / "study.png"
    PilImage.fromarray(pixels).save(path)
    return path


def test_triage_gives_the_pipelines_numbers(pipeline_models_dir, study):
    roles = pipeline.model_roles(pipeline_models_dir)
    assert triage_steps(roles) == [("finding", "classifier"), ("lesions", "tb-lesions")]
    outcomes = triage_study(study, roles, pipeline_models_dir)
    assert [(o.kind, o.model, o.error) for o in outcomes] == [("finding", "classifier", ""), ("lesions", "tb-lesions", "")]
    pixels = read_image(study).pixels
    finding = pipeline.classify(installed_model("classifier", pipeline_models_dir), pixels)
    lesions = pipeline.lesion_finding(installed_model("tb-lesions", pipeline_models_dir), pixels)
    assert outcomes[0].payload.probabilities == finding.probabilities
    assert outcomes[1].payload.score == lesions.score and outcomes[1].payload.threshold == pytest.approx(0.42)
    assert outcomes[1].payload.probability.shape == (0, 0)  # the map is not kept for a worklist
    assert triage_study(study, roles, pipeline_models_dir, cancelled=lambda: True) == []


def test_a_broken_model_fails_alone_and_an_unreadable_file_raises(pipeline_models_dir, study, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(pipeline_models_dir, folder)
    onnx = folder / "classifier.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-16] + b"\0" * 16)  # its card's checksum no longer matches
    roles = pipeline.model_roles(folder)
    finding, lesions = triage_study(study, roles, folder)
    assert finding.payload is None and finding.error.startswith("model classifier")
    assert lesions.error == "" and 0.0 <= lesions.payload.score <= 1.0
    broken = tmp_path / "cut.png"
    broken.write_bytes(study.read_bytes()[:60])
    with pytest.raises(StudyError, match="cut.png"):
        triage_study(broken, roles, folder)
