"""`cxrviewer calibrate` end to end with the shipped TB lesion model on real radiographs of the shared
data: TBX11K TB films and OpenIST normals (and a real DICOM normal), their outcomes in a CSV; the
printed AUC and chosen threshold against scikit-learn and a brute-force search, the files written,
--save then `cxrviewer site show`, and a finding whose call changes. A plumbing check on real films,
not a validation (these films may have been in the model's training split). Skips without the data."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.installed import installed_model
from cxrviewer.cli import main
from cxrviewer.core.io import read_image

SHARED = paths.shared_data_dir()
LESIONS = "tb-lesions-tbx11k"
PER_CLASS = 10


@pytest.fixture(scope="module")
def site_films(tmp_path_factory) -> tuple[Path, Path]:
    """(films folder with tb/ and normal/, outcomes CSV naming them relative to it)."""
    tb_labels, normal_labels = SHARED / "tbx11k_tb" / "labels.csv", SHARED / "openist_lungs" / "labels.csv"
    dicom = SHARED / "dicom" / "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm"
    for needed in (tb_labels, normal_labels, dicom):
        if not needed.is_file():
            pytest.skip(f"the shared data's {needed} is absent")
    root = tmp_path_factory.mktemp("site") / "films"
    rows = ["file,outcome"]
    for labels, folder, outcome in ((tb_labels, "tb", "tb"), (normal_labels, "normal", "normal")):
        with open(labels, newline="") as stream:
            for row in list(csv.DictReader(stream))[:PER_CLASS]:
                source = labels.parent / row["image"]
                (root / folder).mkdir(parents=True, exist_ok=True)
                shutil.copy(source, root / folder / source.name)
                rows.append(f"{folder}/{source.name},{outcome}")
    shutil.copy(dicom, root / "normal" / dicom.name)  # Patient's Sex M in its header
    rows.append(f"normal/{dicom.name},0")
    outcomes = root.parent / "outcomes.csv"
    outcomes.write_text("\n".join(rows) + "\n")
    return root, outcomes


def run(capsys, *args) -> tuple[int, str]:
    capsys.readouterr()
    code = main([*map(str, args)])
    return code, capsys.readouterr().out


def test_calibrate_prints_writes_saves_and_the_call_follows(site_films, tmp_path, capsys, monkeypatch):
    films, outcomes = site_films
    monkeypatch.setenv("CXRVIEWER_SITE_SETTINGS", str(tmp_path / "site-settings.json"))
    out = tmp_path / "out"
    code, text = run(capsys, "calibrate", "--model", LESIONS, films, "--outcomes", outcomes, "--prevalence", "2%",
                     "--out", out)
    assert code == 0, text
    with open(out / "scores.csv", newline="") as stream:
        scores = list(csv.DictReader(stream))
    assert len(scores) == 2 * PER_CLASS + 1
    y = np.array([int(r["outcome"]) for r in scores])
    s = np.array([float(r["score"]) for r in scores])
    assert y.sum() == PER_CLASS
    auc = roc_auc_score(y, s)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["auc"] == pytest.approx(auc, abs=1e-12)
    assert summary["auc_ci95"][0] <= auc <= summary["auc_ci95"][1]
    assert f"AUC {auc:.3f} (95 % CI " in text
    assert f"films: {2 * PER_CLASS + 1} scored ({PER_CLASS} positive, {PER_CLASS + 1} negative" in text
    assert "prevalence for PPV, NPV and per 1,000 screened: 2.0 % (entered)" in text
    # The chosen threshold: the highest film score whose sensitivity is >= 0.90, by brute force.
    reaching = [t for t in s if (s[y == 1] >= t).mean() >= 0.90]
    chosen = max(reaching)
    assert summary["chosen"]["threshold"] == chosen
    assert f"chosen threshold {chosen:.4f} (the highest with sensitivity >= 0.90): sensitivity " in text
    sens = (s[y == 1] >= chosen).mean()
    assert summary["chosen"]["sensitivity"] == pytest.approx(sens)
    assert summary["chosen"]["found_per_1000"] == pytest.approx(1000 * 0.02 * sens)
    with open(out / "operating_table.csv", newline="") as stream:
        assert len(list(csv.DictReader(stream))) == len(set(s.tolist()))
    # The DICOM's header says M, and its bare age "81" is read as 81 years (issue 20): the only film
    # with an age, so the others are "age unknown".
    assert {g["group"] for g in summary["subgroups"]} == {"male", "sex unknown", "age 55+", "age unknown"}
    # Each score is the one the viewer shows for that film.
    loaded = installed_model(LESIONS)
    first = films / scores[0]["file"] if not Path(scores[0]["file"]).is_absolute() else Path(scores[0]["file"])
    assert float(scores[0]["score"]) == pipeline.lesion_finding(loaded, read_image(first).pixels).score

    # A film between the card's threshold and the chosen one changes its call once the site's is saved.
    card_threshold = summary["card_threshold"]
    low, high = sorted((card_threshold, chosen))
    between = [Path(r["file"]) for r, v in zip(scores, s, strict=True) if low <= v < high]
    assert between, "no film lies between the card threshold and the chosen one"
    before = pipeline.lesion_finding(loaded, read_image(between[0]).pixels)
    assert before.site is None and before.threshold == card_threshold

    code, text = run(capsys, "calibrate", "--model", LESIONS, films, "--outcomes", outcomes, "--save")
    assert code == 0, text
    today = date.today().isoformat()
    described = (f"site threshold {chosen:.2f}, calibrated on {2 * PER_CLASS + 1} local films on {today} "
                 f"(card {card_threshold:.2f})")
    assert f"saved: {LESIONS} (tb_lesions): {described}" in text
    code, shown = run(capsys, "site", "show")
    assert code == 0 and f"{LESIONS} (tb_lesions): {described}; threshold the highest with sensitivity >= 0.90" in shown
    after = pipeline.lesion_finding(loaded, read_image(between[0]).pixels)
    assert after.score == before.score and after.threshold == chosen and after.site is not None
    assert after.positive != before.positive


def test_calibrate_refuses_bad_outcomes_naming_the_line(site_films, tmp_path, capsys, caplog):
    films, outcomes = site_films
    bad = tmp_path / "bad.csv"
    lines = outcomes.read_text().splitlines()
    lines[3] = lines[3].replace(",tb", ",probably")
    bad.write_text("\n".join(lines) + "\n")
    code, text = run(capsys, "calibrate", "--model", LESIONS, films, "--outcomes", bad)
    assert code == 1 and text == ""
    assert f"{bad} line 4: outcome 'probably'" in caplog.text
    assert "is in DATA but not in the CSV" in caplog.text
