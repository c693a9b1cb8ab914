"""A TB screening classifier (a `tb` label) leads: the first classifier the analysis runs and the
worklist scores, and the first model in the findings panel."""

from __future__ import annotations

import json
import shutil

from cxrviewer import paths
from cxrviewer.analysis.pipeline import model_roles
from cxrviewer.analysis.triage import triage_steps
from cxrviewer.core.cards import card_path


def test_a_tb_screening_classifier_comes_before_the_others_whatever_its_name(tmp_path):
    for name in ("pneumonia-kermany", "opacity-rsna", "cxr-gate", "tb-lesions-tbx11k"):
        shutil.copy(card_path(paths.models_dir(), name), card_path(tmp_path, name))
    card = json.loads(card_path(paths.models_dir(), "pneumonia-kermany").read_text())
    card.update(name="zz-tb-screen", labels=["normal", "tb"])  # last by name
    card_path(tmp_path, "zz-tb-screen").write_text(json.dumps(card))
    roles = model_roles(tmp_path)
    assert roles.classifiers == ("zz-tb-screen", "opacity-rsna", "pneumonia-kermany")
    assert [name for kind, name in triage_steps(roles) if kind == "finding"][0] == "zz-tb-screen"

    from cxrviewer.gui.findings_panel import list_finding_models

    assert [entry.name for entry in list_finding_models(tmp_path)][:2] == ["zz-tb-screen", "cxr-gate"]
