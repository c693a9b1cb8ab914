"""`cxrviewer report`: headless one-page reports, views and Secondary Captures with the installed models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pdf_support import compact, pdf_metadata, pdf_page_text, pdf_pages, pdf_text
from PIL import Image as PilImage
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from cxrviewer.analysis import pipeline
from cxrviewer.cli import main
from cxrviewer.core.cards import card_path, load_card
from cxrviewer.core.display.compose import compose, index_map, layer
from cxrviewer.core.io import read_image
from cxrviewer.core.layers import LESION_THRESHOLD, PROBABILITY_SCALE, default_layer
from cxrviewer.runtime.registry import load_model

PATIENT_ID, STUDY_UID = "PID-CLI-90210", "1.2.826.0.1.3680043.8.498.90210"


def write_study(path: Path) -> Path:
    """A 160 x 128 MONOCHROME2 8-bit chest-like gradient with a patient and a study."""
    yy, xx = np.mgrid[:160, :128]
    pixels = (60 + 120 * np.exp(-((xx - 64) ** 2) / 900.0) * (yy / 160)).astype(np.uint8)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID, ds.PatientName, ds.StudyInstanceUID = "DX", PATIENT_ID, "Roe^Richard", STUDY_UID
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def expected_view(path: Path, models_dir: Path) -> np.ndarray:
    """The study at its first window with the TB lesion layer drawn as the viewer's default draws it."""
    pixels = read_image(path).pixels
    finding = pipeline.lesion_finding(load_model("tb-lesions", models_dir), pixels)
    state = default_layer("tb_lesions")
    assert state.visible and state.style.threshold == LESION_THRESHOLD
    style = type(state.style)(state.style.colormap, type(LESION_THRESHOLD)("value", finding.threshold),
                              state.style.opacity, state.style.contour, state.style.contour_rgb)
    lesions = layer(index_map(finding.probability, PROBABILITY_SCALE), style)
    return compose(np.rint(pixels * 255).astype(np.uint8), [lesions])


def test_reports_views_and_secondary_captures_for_a_folder(tmp_path, pipeline_models_dir, caplog):
    studies = tmp_path / "in"
    studies.mkdir()
    study = write_study(studies / "roe-richard.dcm")
    (studies / "broken.dcm").write_bytes(b"DICM but not really")
    out = tmp_path / "out"
    assert main(["report", str(studies), "--out", str(out), "--png", "--dicom",
                 "--models-dir", str(pipeline_models_dir)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["roe-richard.report.pdf", "roe-richard.sc.dcm",
                                                     "roe-richard.view.png"]
    assert "broken.dcm" in caplog.text
    pdf = (out / "roe-richard.report.pdf").read_bytes()
    assert pdf_pages(pdf) == 2  # page 1 the reading, page 2 the appendix
    text, first = pdf_text(pdf), pdf_page_text(pdf, 0)
    for name in ("classifier", "tb-lesions"):
        card = load_card(card_path(pipeline_models_dir, name))
        # compact: pypdf sees spaces inside some words set in the mono font
        assert all(compact(f"{entry.path} sha256 {entry.sha256}") in compact(pdf_page_text(pdf, 1))
                   for entry in card.files)
    assert "operating threshold 42.0 %" in text and "operating threshold 60.0 %" in text
    # The summary, as the findings panel says it: each model's call, figure and threshold in force.
    assert first.index("Summary") < first.index("threshold 42.0 % (card)") < first.index("Image as shown")
    assert "threshold 60.0 % (card)" in first
    assert "no gate model ran on this study" in first and f"Patient: Roe^Richard / {PATIENT_ID}" in first
    assert "TB lesions" in text  # the layer drawn is listed
    assert "Image as shown: original, at the file's first window, with TB lesions." in first
    view = expected_view(study, pipeline_models_dir)
    with PilImage.open(out / "roe-richard.view.png") as picture:
        png = np.asarray(picture)
    np.testing.assert_array_equal(png[: view.shape[0]], view)  # the view as the viewer draws it
    assert png.shape[0] > view.shape[0] and png[view.shape[0]:].std() > 0  # then the legend strip
    ds = pydicom.dcmread(out / "roe-richard.sc.dcm")
    assert ds.PatientID == PATIENT_ID and ds.StudyInstanceUID == STUDY_UID
    np.testing.assert_array_equal(ds.pixel_array, view)


def test_anonymised_reports_drop_names_ids_and_file_names(tmp_path, pipeline_models_dir):
    write_study(tmp_path / "roe-richard.dcm")
    out = tmp_path / "out"
    assert main(["report", str(tmp_path / "roe-richard.dcm"), "--out", str(out), "--png", "--dicom",
                 "--anonymise", "--models-dir", str(pipeline_models_dir)]) == 0
    files = sorted(out.iterdir())
    assert [p.name for p in files] == ["anonymised-1.report.pdf", "anonymised-1.sc.dcm", "anonymised-1.view.png"]
    for path in files:
        data = path.read_bytes()
        if path.suffix == ".pdf":  # its text is compressed: read it as an extractor does
            data = compact(pdf_text(data) + pdf_metadata(data)).encode()
            assert b"Patient:withheld(anonymisedexport)" in data
        for secret in (PATIENT_ID, "Roe^Richard", "Roe", "roe-richard", STUDY_UID):
            assert secret.encode() not in data, (secret, path.name)


def test_nothing_readable_is_an_error(tmp_path, pipeline_models_dir):
    (tmp_path / "broken.dcm").write_bytes(b"not an image")
    assert main(["report", str(tmp_path / "broken.dcm"), "--out", str(tmp_path / "out"),
                 "--models-dir", str(pipeline_models_dir)]) == 1
    assert list((tmp_path / "out").iterdir()) == []
