"""Shared test set-up: Qt renders offscreen, so GUI tests run without a display."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(scope="session", autouse=True)
def isolated_user_folders(tmp_path_factory):
    """The known-answer cache and the site settings of the user running the tests are never read or
    written: every run (and the CLI subprocesses it starts) gets folders of its own."""
    saved = {key: os.environ.get(key) for key in ("CXRVIEWER_CACHE", "CXRVIEWER_SITE_SETTINGS")}
    os.environ["CXRVIEWER_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["CXRVIEWER_SITE_SETTINGS"] = str(tmp_path_factory.mktemp("site") / "site-settings.json")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def pipeline_models_dir(tmp_path_factory):
    """A models folder with a tiny random-weight model for each part of the analysis pipeline but the
    gate (tests fake it): "classifier" (tb-net 64², its maps included), "lungs", "tb-lesions", "bones"
    (tests/pipeline_models.py). The classifier's export costs ~30 s on a busy 2-core machine."""
    pytest.importorskip("torch", reason="exporting test models needs the `ml` extra (torch)")
    from pipeline_models import export_pipeline_models

    return export_pipeline_models(tmp_path_factory.mktemp("pipeline-models"), tmp_path_factory.mktemp("pipeline-work"),
                                  names=("classifier", "lungs", "tb-lesions", "bones"))
