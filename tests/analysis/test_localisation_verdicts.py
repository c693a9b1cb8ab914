"""The shipped localisation verdicts: keyed by model and weights, looked up per class and method."""

from __future__ import annotations

import json

from cxrviewer import paths
from cxrviewer.analysis.localisation_measure import DOES_NOT, LOCALISES, verdict
from cxrviewer.analysis.localisation_verdicts import (
    NO_CLASS,
    NO_FILE,
    NO_MODEL,
    OTHER_VERSION,
    VERDICTS_FILE,
    installed_weights_sha256,
    load_verdicts,
)
from cxrviewer.runtime.registry import installed_models

SHIPPED = paths.resource(VERDICTS_FILE)


def test_the_shipped_table_is_for_the_installed_weights_and_its_verdicts_follow_the_rule():
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    installed = set(installed_models(paths.models_dir()))
    stale = [name for name, entry in data["models"].items()
             if name in installed and entry["weights_sha256"] != installed_weights_sha256(name)]
    assert not stale, f"re-shipped since measured, run scripts/localisation_table.py: {stale}"
    for entry in data["models"].values():
        for row in entry["rows"]:
            assert row["pointing_ci"][0] <= row["pointing"] <= row["pointing_ci"][1]
            assert row["verdict"] == verdict(row["pointing_ci"][0], row["chance"])
            assert row["verdict"] in (LOCALISES, DOES_NOT)


def test_lookup_by_model_weights_class_and_method():
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    verdicts = load_verdicts()
    sha = data["models"]["opacity-rsna"]["weights_sha256"]
    found = verdicts.lookup("opacity-rsna", sha, 1, "gradcam")
    row = next(r for r in data["models"]["opacity-rsna"]["rows"]
               if (r["method"], r["dataset"]) == ("gradcam", "rsna_pneumonia"))
    assert found.status == row["verdict"]
    assert (found.primary.n, found.primary.pointing, found.primary.chance) == (row["n"], row["pointing"], row["chance"])
    assert [r.dataset for r in found.others] == ["tbx11k_tb"]
    assert verdicts.lookup("opacity-rsna", "f" * 64, 1, "gradcam").status == OTHER_VERSION
    assert verdicts.lookup("opacity-rsna", None, 1, "gradcam").status == OTHER_VERSION
    assert verdicts.lookup("opacity-rsna", sha, 0, "gradcam").status == NO_CLASS
    assert verdicts.lookup("someone-elses-model", sha, 1, "gradcam").status == NO_MODEL


def test_a_missing_or_damaged_table_means_not_measured(tmp_path):
    assert load_verdicts(tmp_path / "absent.json").lookup("opacity-rsna", "x", 1, "cam").status == NO_FILE
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{not json", encoding="utf-8")
    assert load_verdicts(damaged).lookup("opacity-rsna", "x", 1, "cam").status == NO_FILE


def test_the_weights_sha_comes_from_the_card(tmp_path):
    card = json.loads((paths.models_dir() / "opacity-rsna.card.json").read_text(encoding="utf-8"))
    weights = next(f["sha256"] for f in card["files"] if f["role"] == "weights")
    assert installed_weights_sha256("opacity-rsna") == weights
    assert installed_weights_sha256("opacity-rsna", tmp_path) is None
