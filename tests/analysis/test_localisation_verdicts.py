"""The shipped localisation verdicts: keyed by model and weights, looked up per class and method; the
maps kept inside the lungs keyed by the lung model's weights too, and tables written before that still load."""

from __future__ import annotations

import json

from cxrviewer import paths
from cxrviewer.analysis.localisation_measure import DOES_NOT, LOCALISES, verdict
from cxrviewer.analysis.localisation_verdicts import (
    NO_CLASS,
    NO_FILE,
    NO_LUNGS_VARIANT,
    NO_MODEL,
    OTHER_LUNGS_VERSION,
    OTHER_VERSION,
    VERDICTS_FILE,
    LungsVersion,
    installed_weights_sha256,
    load_verdicts,
)
from cxrviewer.analysis.pipeline import model_roles
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


def test_the_shipped_inside_lungs_rows_are_for_the_installed_lung_model_and_the_same_films():
    data = json.loads(SHIPPED.read_text(encoding="utf-8"))
    lungs = model_roles(paths.models_dir()).lungs
    assert lungs is not None and data["lungs"]["model"] == lungs
    installed = installed_weights_sha256(lungs)
    assert data["lungs"]["weights_sha256"] == installed, \
        f"{lungs} re-shipped since measured, run scripts/localisation_table.py"
    for name, entry in data["models"].items():
        inside = entry["inside_lungs"]
        assert (inside["lungs_model"], inside["lungs_weights_sha256"]) == (lungs, installed), name
        whole = {(r["class_index"], r["method"], r["dataset"]): r for r in entry["rows"]}
        assert {(r["class_index"], r["method"], r["dataset"]) for r in inside["rows"]} == set(whole)
        for row in inside["rows"]:
            before = whole[(row["class_index"], row["method"], row["dataset"])]
            assert row["n"] == before["n"] and row["chance_film"] == before["chance"]  # the same films
            # Paired over the same films, the mean change is the change of the means.
            assert abs(row["pointing_change"] - (row["pointing"] - before["pointing"])) < 1e-9
            # The chance a map kept inside the lungs must beat: a peak anywhere in the lungs, more
            # likely in a box than a peak anywhere on the film (the boxes lie mostly in the lungs).
            assert row["chance"] > row["chance_film"]
            assert row["verdict"] == verdict(row["pointing_ci"][0], row["chance"])


# A table of our own: "m" measured whole and inside lung model "lungs" with weights "L"; "old" as
# written before the inside-the-lungs variant existed.
ROW = {"class_index": 1, "label": "opacity", "method": "cam", "dataset": "rsna_pneumonia", "primary": True, "n": 50,
       "pointing": 0.3, "pointing_ci": [0.2, 0.4], "chance": 0.1, "mass_in_boxes": 0.2, "iou": 0.1,
       "verdict": "localises"}
TABLE = {"models": {
    "m": {"weights_sha256": "M", "rows": [ROW], "inside_lungs": {
        "lungs_model": "lungs", "lungs_weights_sha256": "L",
        "rows": [{**ROW, "pointing": 0.5, "pointing_ci": [0.36, 0.64], "chance": 0.4, "verdict": "does not localise",
                  "chance_film": 0.1, "pointing_change": 0.2, "pointing_change_ci": [0.1, 0.3]}]}},
    "old": {"weights_sha256": "O", "rows": [ROW]},
}}


def _table_verdicts(tmp_path):
    path = tmp_path / "localisation.json"
    path.write_text(json.dumps(TABLE), encoding="utf-8")
    return load_verdicts(path)


def test_the_inside_lungs_rows_are_read_for_the_lung_model_they_were_measured_with(tmp_path):
    verdicts = _table_verdicts(tmp_path)
    whole = verdicts.lookup("m", "M", 1, "cam")
    assert (whole.status, whole.primary.pointing, whole.primary.chance) == ("localises", 0.3, 0.1)
    inside = verdicts.lookup("m", "M", 1, "cam", LungsVersion("lungs", "L"))
    assert (inside.status, inside.primary.pointing, inside.primary.chance) == ("does not localise", 0.5, 0.4)
    # Another version of the lung model, another lung model, or none readable: not measured for this version.
    for other in (LungsVersion("lungs", "L2"), LungsVersion("other-lungs", "L"), LungsVersion("lungs", None)):
        found = verdicts.lookup("m", "M", 1, "cam", other)
        assert found.status == OTHER_LUNGS_VERSION and found.primary is None
    assert OTHER_LUNGS_VERSION.startswith(OTHER_VERSION)
    # The classifier's own weights are checked first: re-trained, neither variant applies.
    assert verdicts.lookup("m", "M2", 1, "cam", LungsVersion("lungs", "L")).status == OTHER_VERSION
    assert verdicts.lookup("m", "M", 0, "cam", LungsVersion("lungs", "L")).status == NO_CLASS


def test_an_entry_written_before_the_inside_lungs_variant_still_loads(tmp_path):
    verdicts = _table_verdicts(tmp_path)
    found = verdicts.lookup("old", "O", 1, "cam")
    assert (found.status, found.primary.pointing, found.primary.n) == ("localises", 0.3, 50)
    assert verdicts.lookup("old", "O", 1, "cam", LungsVersion("lungs", "L")).status == NO_LUNGS_VARIANT
