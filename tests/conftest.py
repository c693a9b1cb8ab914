"""Shared test set-up: Qt renders offscreen, so GUI tests run without a display."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session")
def pipeline_models_dir(tmp_path_factory):
    """A models folder with a tiny random-weight model for each part of the analysis pipeline but the
    gate (tests fake it): "classifier" (tb-net 64², its maps included), "lungs", "tb-lesions", "bones"
    (tests/pipeline_models.py). The classifier's export costs ~30 s on a busy 2-core machine."""
    pytest.importorskip("torch", reason="exporting test models needs the `ml` extra (torch)")
    from pipeline_models import export_pipeline_models

    return export_pipeline_models(tmp_path_factory.mktemp("pipeline-models"), tmp_path_factory.mktemp("pipeline-work"),
                                  names=("classifier", "lungs", "tb-lesions", "bones"))
