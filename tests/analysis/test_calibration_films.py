"""A site's outcomes CSV and its films (analysis.calibration_films): every problem named with its line,
ages and sexes from the CSV or the DICOM header, scores equal to the viewer's own path, unreadable
films skipped with the reason, sets without both outcomes refused, and a stale site threshold that
for another version of the model refused before scoring, with the way out. Uses the shipped models (models/) on generated films."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PilImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.calibration_films import (
    calibratable_models,
    calibrate_films,
    film_score,
    read_outcomes,
)
from cxrviewer.analysis.installed import installed_model
from cxrviewer.core.cards import card_path, load_card
from cxrviewer.core.errors import ConfigError, ModelError
from cxrviewer.core.io import read_image, scan_studies
from cxrviewer.core.site_settings import SiteThreshold, remove_site_threshold, save_site_threshold

LESIONS = "tb-lesions-tbx11k"
CLASSIFIER = "pneumonia-kermany"


def card(name: str = LESIONS):
    return load_card(card_path(paths.models_dir(), name), verify_files=False)


def write_png(path: Path, seed: int) -> Path:
    """A 96 x 80 chest-like grey gradient with noise, different per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:96, :80]
    image = 90 + 80 * np.exp(-((xx - 40) ** 2) / (300 + 40 * seed)) + rng.normal(0, 12, (96, 80))
    path.parent.mkdir(parents=True, exist_ok=True)
    PilImage.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(path)
    return path


def write_dicom(path: Path, seed: int, **attributes) -> Path:
    pixels = np.asarray(PilImage.open(write_png(path.with_suffix(".tmp.png"), seed)))
    path.with_suffix(".tmp.png").unlink()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "DX", f"P{seed}"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def films(tmp_path) -> Path:
    root = tmp_path / "films"
    for i in range(3):
        write_png(root / "tb" / f"t{i}.png", i)
        write_png(root / "normal" / f"n{i}.png", 10 + i)
    return root


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GOOD_CSV = ("file,outcome,age,sex,remark\n"
            "tb/t0.png,tb,45,F,x\ntb/t1.png,1,040Y,male,\ntb/t2.png,Positive,,,\n"
            "normal/n0.png,normal,30,m,\nnormal/n1.png,0,,,\n{absolute},negative,2.5,O,\n")


def test_the_csv_reads_relative_and_absolute_paths_outcomes_ages_and_sexes(films, tmp_path):
    csv = write_csv(tmp_path / "outcomes.csv", GOOD_CSV.format(absolute=films / "normal" / "n2.png"))
    outcomes = read_outcomes(csv, [films], scan_studies([films]).studies, card())
    by_name = {o.path.name: o for o in outcomes}
    assert [o.positive for o in outcomes] == [True, True, True, False, False, False]
    assert [o.line for o in outcomes] == [2, 3, 4, 5, 6, 7]
    assert (by_name["t0.png"].age, by_name["t0.png"].sex) == (45.0, "F")
    assert (by_name["t1.png"].age, by_name["t1.png"].sex) == (40.0, "M")
    assert (by_name["t2.png"].age, by_name["t2.png"].sex) == (None, None)
    assert (by_name["n2.png"].age, by_name["n2.png"].sex) == (2.5, "O")
    assert by_name["n2.png"].path == (films / "normal" / "n2.png").resolve()


def test_every_problem_is_named_with_its_file_and_line(films, tmp_path):
    csv = write_csv(tmp_path / "bad.csv", "file,outcome,age,sex\n"
                    "tb/t0.png,maybe,,\n"          # line 2: outcome
                    "tb/gone.png,tb,,\n"           # line 3: missing
                    "tb/t1.png,tb,old,\n"          # line 4: age
                    "tb/t2.png,tb,,X\n"            # line 5: sex
                    "normal/n0.png,normal,,\n"
                    "normal/n0.png,normal,,\n"     # line 7: listed again
                    ",tb,,\n")                     # line 8: no file
    with pytest.raises(ConfigError) as raised:
        read_outcomes(csv, [films], scan_studies([films]).studies, card())
    text = str(raised.value)
    assert f"{csv} line 2: outcome 'maybe' for tb/t0.png is neither positive" in text
    assert f"{csv} line 3: tb/gone.png does not exist" in text
    assert f"{csv} line 4: tb/t1.png: age 'old' is neither years nor a DICOM age" in text
    assert f"{csv} line 5: tb/t2.png: sex 'x' is not M, F or O" in text
    assert f"{csv} line 7: normal/n0.png is listed again (first on line 6)" in text
    assert f"{csv} line 8: no file named" in text
    for unlisted in ("n1.png", "n2.png", "t0.png"):  # t0's row was bad, so it is unlisted too
        assert f"normal/{unlisted}" in text or f"tb/{unlisted}" in text
    assert "is in DATA but not in the CSV" in text


def test_a_classifiers_labels_name_the_outcomes(films, tmp_path):
    csv = write_csv(tmp_path / "o.csv", "file,outcome\n" + "".join(
        f"{f},{o}\n" for f, o in (("tb/t0.png", "PNEUMONIA"), ("tb/t1.png", "tb"), ("tb/t2.png", "1"),
                                  ("normal/n0.png", "normal"), ("normal/n1.png", "0"), ("normal/n2.png", "neg"))))
    outcomes = read_outcomes(csv, [films], scan_studies([films]).studies, card(CLASSIFIER))
    assert [o.positive for o in outcomes] == [True, True, True, False, False, False]
    with pytest.raises(ConfigError, match="outcome 'PNEUMONIA' for tb/t0.png is neither positive"):
        read_outcomes(csv, [films], scan_studies([films]).studies, card(LESIONS))


def test_a_header_without_file_or_outcome_is_refused(films, tmp_path):
    csv = write_csv(tmp_path / "o.csv", "image,label\ntb/t0.png,tb\n")
    with pytest.raises(ConfigError, match=r"line 1: no column file or outcome in the header \(image, label\)"):
        read_outcomes(csv, [films], scan_studies([films]).studies, card())


def test_a_file_that_is_not_among_the_films_is_named(films, tmp_path):
    other = write_png(tmp_path / "elsewhere" / "e.png", 99)
    csv = write_csv(tmp_path / "o.csv", f"file,outcome\n{other},tb\n")
    with pytest.raises(ConfigError, match=r"line 2: .*e\.png is not among the image files found in"):
        read_outcomes(csv, [films], scan_studies([films]).studies, card())


def test_a_set_without_negatives_is_refused_before_scoring(films, tmp_path):
    csv = write_csv(tmp_path / "o.csv", "file,outcome\n" + "".join(f"t{i}.png,tb\n" for i in range(3)))
    with pytest.raises(ConfigError, match="all 3 films are positive, no negative film: an ROC needs both"):
        calibrate_films(installed_model(LESIONS), [films / "tb"], csv)


def test_scores_are_the_viewers_and_unreadable_films_are_skipped(films, tmp_path):
    broken = films / "normal" / "n9.png"
    broken.write_bytes((films / "normal" / "n0.png").read_bytes()[:60])  # a PNG cut short
    dicom = write_dicom(films / "tb" / "d0.dcm", 5, PatientAge="061Y", PatientSex="F")
    write_dicom(films / "normal" / "d1.dcm", 6, PatientAge="033Y", PatientSex="M")
    csv = write_csv(tmp_path / "o.csv", GOOD_CSV.format(absolute=films / "normal" / "n2.png")
                    + "normal/n9.png,normal,,\ntb/d0.dcm,tb,,\nnormal/d1.dcm,normal,70,F\n")
    loaded = installed_model(LESIONS)
    seen = []
    result = calibrate_films(loaded, [films], csv, n_boot=50, progress=lambda d, t, p: seen.append((d, t)))
    assert seen[-1] == (9, 9)
    assert [(p.name, r) for p, r in result.skipped] == [("n9.png", "the file is cut short (image file is truncated)")]
    by_name = {f.path.name: f for f in result.films}
    assert len(by_name) == 8 and result.calibration.films == 8
    assert (by_name["d0.dcm"].age, by_name["d0.dcm"].sex) == (61.0, "F")  # from the header
    assert (by_name["d1.dcm"].age, by_name["d1.dcm"].sex) == (70.0, "F")  # the CSV wins over the header
    viewer = pipeline.lesion_finding(loaded, read_image(dicom).pixels)
    assert by_name["d0.dcm"].score == viewer.score
    assert {g.name for g in result.calibration.groups} >= {"age 55+", "age 35-54", "female", "male", "sex unknown"}


def test_a_classifier_is_scored_by_its_positive_label(films):
    loaded = installed_model(CLASSIFIER)
    pixels = read_image(films / "tb" / "t0.png").pixels
    assert film_score(loaded, pixels) == pipeline.classify(loaded, pixels).probabilities[1]


def test_only_models_with_one_score_can_be_calibrated():
    names = calibratable_models()
    assert LESIONS in names and CLASSIFIER in names
    assert "pneumonia3-kermany" not in names and "lungs-unet" not in names and "cxr-gate" not in names


def test_a_site_threshold_for_another_version_is_refused_with_the_way_out(films, tmp_path, monkeypatch):
    monkeypatch.setenv("CXRVIEWER_SITE_SETTINGS", str(tmp_path / "site.json"))
    save_site_threshold(SiteThreshold(LESIONS, "tb_lesions", 0.5, 0.64, "0", 40, "2026-01-05"))
    csv = write_csv(tmp_path / "o.csv", GOOD_CSV.format(absolute=films / "normal" / "n2.png"))
    loaded = installed_model(LESIONS)
    with pytest.raises(ModelError, match=r"calibrated for version 0.*Remove it before calibrating this version "
                                         rf"\(cxrviewer site clear --model {LESIONS}"):
        calibrate_films(loaded, [films], csv, n_boot=20)
    remove_site_threshold(LESIONS)
    assert calibrate_films(loaded, [films], csv, n_boot=20).calibration.films == 6


def test_films_that_cannot_be_read_leave_a_set_that_is_refused(films, tmp_path):
    for name in ("normal/n0.png", "normal/n1.png", "normal/n2.png"):
        (films / name).write_bytes((films / name).read_bytes()[:60])
    csv = write_csv(tmp_path / "o.csv", GOOD_CSV.format(absolute=films / "normal" / "n2.png"))
    with pytest.raises(ConfigError, match=r"the 3 films scored \(3 skipped\): all 3 films are positive, no negative"):
        calibrate_films(installed_model(LESIONS), [films], csv)
    for name in ("tb/t0.png", "tb/t1.png", "tb/t2.png"):
        (films / name).write_bytes((films / name).read_bytes()[:60])
    with pytest.raises(ConfigError, match=r"none of the 6 films could be scored \(the first, .*t0\.png: the file is cut "
                                          "short"):
        calibrate_films(installed_model(LESIONS), [films], csv)
