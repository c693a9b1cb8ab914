"""Shared test set-up: Qt renders offscreen, so GUI tests run without a display."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def pipeline_models_dir(tmp_path_factory):
    """A models folder with the tiny random-weight image models of the analysis pipeline: "lungs",
    "tb-lesions", "bones" (tests/pipeline_models.py). No classifier or gate: exporting one costs half a
    minute here, so service tests fake them and tests/analysis uses its own `models_dir`."""
    pytest.importorskip("torch", reason="exporting test models needs the `ml` extra (torch)")
    from pipeline_models import export_pipeline_models

    return export_pipeline_models(tmp_path_factory.mktemp("pipeline-models"), tmp_path_factory.mktemp("pipeline-work"),
                                  names=("lungs", "tb-lesions", "bones"))
