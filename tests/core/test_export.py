"""Exports of the composed view: PNG, one-page PDF report, DICOM Secondary Capture, anonymised."""

from __future__ import annotations

import errno
import hashlib
import re
import zlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pydicom
import pydicom.config
import pytest
from PIL import Image as PilImage
from pydicom.uid import SecondaryCaptureImageStorage

from cxrviewer import paths
from cxrviewer.core.cards import FileEntry, InputContract, ModelCard, Population
from cxrviewer.core.display.compose import OverlayStyle, Threshold, compose, index_map, layer
from cxrviewer.core.export import (
    NOT_CLINICAL,
    ExportContent,
    ExportError,
    Reading,
    report_pdf_bytes,
    write_png,
    write_report_pdf,
    write_secondary_capture,
)
from cxrviewer.core.export.report_pdf import CUT_NOTE, MARGIN, report_page
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.io import read_image
from cxrviewer.core.orientation import Orientation
from cxrviewer.core.suitability import SYNTHETIC_TEXT

DICOM_DIR = paths.shared_data_dir() / "dicom"
REAL_DICOMS = sorted(DICOM_DIR.glob("*.dcm")) if DICOM_DIR.is_dir() else []
needs_real_dicom = pytest.mark.skipif(not REAL_DICOMS, reason=f"no real DICOM files in {DICOM_DIR}")
CREATED = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
# Attributes that identify the patient or the study in a source file (DICOM PS3.15 basic profile).
IDENTIFIERS = ("PatientName", "PatientID", "OtherPatientIDs", "PatientBirthDate", "AccessionNumber",
               "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "StudyID", "StudyDate",
               "InstitutionName", "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName")


@pytest.fixture(autouse=True)
def strict_dicom_writing(monkeypatch):
    """pydicom refuses to write any value that breaks its VR (length, characters) instead of warning."""
    monkeypatch.setattr(pydicom.config.settings, "writing_validation_mode", pydicom.config.RAISE)


def card(name: str, threshold: float, limit: str) -> ModelCard:
    files = tuple(
        FileEntry(role, f"{name}.{suffix}", hashlib.sha256(f"{name}/{role}".encode()).hexdigest(), 1000)
        for role, suffix in (("onnx", "onnx"), ("weights", "safetensors"))
    )
    return ModelCard(name=name, version="3", task="classification", arch="tbnet", labels=("normal", "finding"),
                     thresholds=(1 - threshold, threshold), input=InputContract(224, 224, 1),
                     outputs=("logits",), files=files, limits=(limit,),
                     probability_meaning=f"{name}: called at finding >= {threshold:.3f} (Youden's J).")


CARDS = (card("pneu-a", 0.7257792, "Children aged 1-5 only."), card("opac-b", 0.7470001, "Adults, one source."))
READINGS = tuple(Reading(c.name, f"finding: P(finding) 91.0 % >= operating threshold {c.thresholds[1]:.3f}",
                         c.thresholds[1], c.probability_meaning) for c in CARDS)


def composed_view(rows: int = 96, columns: int = 128) -> np.ndarray:
    """A grey ramp with a thresholded, contoured map over it, through the one compositing function."""
    base = (np.arange(rows * columns) % 251).reshape(rows, columns).astype(np.uint8)
    yy, xx = np.mgrid[:rows, :columns]
    blob = np.exp(-((yy - rows / 3) ** 2 + (xx - columns / 2) ** 2) / 200.0).astype(np.float32)
    style = OverlayStyle("jet", Threshold("fraction", 0.2), 0.6, contour=True)
    return compose(base, [layer(index_map(blob), style)])


def synthetic_meta(path: Path) -> ImageMeta:
    return ImageMeta(path=path, format="DICOM", modality="CR", patient_id="PID-77881", patient_name="Doe^Jane",
                     study_uid="1.2.3.4.5.6789", study_date="20240131")


def content(meta: ImageMeta | None, *, anonymise: bool = False, cards=CARDS, composed=None) -> ExportContent:
    return ExportContent(composed if composed is not None else composed_view(), ("saliency (pneu-a), jet, 60 %",),
                         meta, READINGS, "cxr-gate: accepted as a frontal chest radiograph (P 97.0 %, threshold 0.500)",
                         cards, anonymise, CREATED)


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", data))


def pdf_text(data: bytes) -> str:
    """The page's text, line after line joined by spaces (escapes undone)."""
    strings = re.findall(rb"Td \((.*)\) Tj ET", data)
    return " ".join(re.sub(rb"\\(.)", rb"\1", s).decode("cp1252") for s in strings)


def pdf_image(data: bytes) -> bytes:
    """The decompressed bytes of the report's one image stream."""
    match = re.search(rb"/Subtype /Image .*?/Length (\d+) >>\nstream\n", data)
    start = match.end()
    return zlib.decompress(data[start:start + int(match.group(1))])


def test_png_holds_exactly_the_composed_pixels_and_says_what_they_are(tmp_path):
    composed = composed_view()
    assert (composed[..., 0] != composed[..., 2]).any()  # the overlay is really there
    path = write_png(tmp_path / "view.png", content(synthetic_meta(tmp_path / "s.dcm"), composed=composed))
    with PilImage.open(path) as picture:
        assert picture.mode == "RGB" and picture.size == (128, 96)
        np.testing.assert_array_equal(np.asarray(picture), composed)
        text = dict(picture.text)
    assert text["Patient ID"] == "PID-77881" and text["Source"] == "s.dcm"
    assert text["Description"] == "composed view: saliency (pneu-a), jet, 60 %"
    assert [p.name for p in tmp_path.iterdir()] == ["view.png"]


def test_pdf_report_is_one_page_with_checksums_thresholds_and_limits(tmp_path):
    data = write_report_pdf(tmp_path / "report.pdf", content(synthetic_meta(tmp_path / "study-7.dcm"))).read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    assert pdf_pages(data) == 1 and b"/Count 1" in data
    for model in CARDS:
        for entry in model.files:
            assert entry.sha256.encode() in data
        assert f"{model.name} v3".encode() in data
        assert f"operating threshold {model.thresholds[1]:.3f}".encode() in data
        assert model.limits[0].encode() in data
    assert b"0.726" in data and b"0.747" in data
    assert b"NOT FOR CLINICAL USE" in data and b"study-7.dcm" in data and b"PID-77881" in data
    assert "Chest radiograph check (gate) cxr-gate: accepted as a frontal chest radiograph (P 97.0 %" in pdf_text(data)
    assert b"2026-11-22 09:30 UTC" in data and b"saliency (pneu-a), jet, 60 %" in data
    assert b"accepted as a frontal chest radiograph" in data
    # The image is stored losslessly at its own size.
    assert b"/Width 128 /Height 96" in data
    assert pdf_image(data) == composed_view().tobytes()


def test_pdf_cross_reference_table_points_at_every_object():
    data = report_pdf_bytes(content(None))
    xref = int(re.search(rb"startxref\n(\d+)\n", data).group(1))
    table = data[xref:].split(b"\n")
    assert table[0] == b"xref"
    count = int(table[1].split()[1])
    offsets = [int(line.split()[0]) for line in table[3:2 + count]]
    assert count == 10 and len(offsets) == 9
    for number, offset in enumerate(offsets, start=1):
        assert data[offset:].startswith(f"{number} 0 obj".encode())


def test_a_report_with_too_much_to_say_stays_on_one_page_and_says_it_was_cut():
    many = tuple(card(f"model-{i:02d}", 0.5, f"Limit {i} of validation. " * 12) for i in range(14))
    page = report_page(content(None, cards=many))
    baselines = [float(re.search(r"Tf (\S+) (\S+) Td", op).group(2)) for op in page._ops if " Tj " in op]
    assert min(baselines) >= MARGIN - 12  # nothing below the footer line
    text = "".join(page._ops)
    assert CUT_NOTE in text
    short = "".join(report_page(content(None))._ops)
    assert CUT_NOTE not in short and NOT_CLINICAL.split(":")[0] in short


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "view.png"
    target.write_bytes(b"older export")

    def disk_full(self, stream, *args, **kwargs):
        stream.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PilImage.Image, "save", disk_full)
    with pytest.raises(ExportError, match=r"view\.png: the disk is full; nothing was written"):
        write_png(target, content(None))
    assert target.read_bytes() == b"older export"
    assert [p.name for p in tmp_path.iterdir()] == ["view.png"]


def test_missing_folder_is_named_in_the_error(tmp_path):
    target = tmp_path / "gone" / "report.pdf"
    with pytest.raises(ExportError) as caught:
        write_report_pdf(target, content(None))
    assert str(caught.value) == f"{target}: the folder does not exist; nothing was written"


def test_secondary_capture_from_a_raster_study_starts_a_new_study(tmp_path):
    meta = ImageMeta(path=tmp_path / "chest.png", format="PNG")
    ds = pydicom.dcmread(write_secondary_capture(tmp_path / "sc.dcm", content(meta)))
    assert ds.SOPClassUID == SecondaryCaptureImageStorage and ds.PhotometricInterpretation == "RGB"
    np.testing.assert_array_equal(ds.pixel_array, composed_view())
    assert ds.PatientID == "" and ds.StudyInstanceUID.is_valid and "SourceImageSequence" not in ds


@needs_real_dicom
def test_secondary_capture_copies_the_real_source_study(tmp_path):
    source_path = next(p for p in REAL_DICOMS if p.name.startswith("siim"))
    image = read_image(source_path)
    source = pydicom.dcmread(source_path, stop_before_pixels=True)
    composed = compose(np.rint(image.pixels * 255).astype(np.uint8), [])
    path = write_secondary_capture(tmp_path / "sc.dcm", content(image.meta, composed=composed))
    ds = pydicom.dcmread(path)  # no force: a proper Part 10 file
    assert ds.file_meta.MediaStorageSOPClassUID == SecondaryCaptureImageStorage == ds.SOPClassUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.pixel_array.shape == (*image.shape, 3) and ds.SamplesPerPixel == 3
    np.testing.assert_array_equal(ds.pixel_array, composed)
    for keyword in ("PatientName", "PatientID", "StudyInstanceUID", "StudyDate", "PatientSex"):
        assert str(ds[keyword].value) == str(source[keyword].value), keyword
    assert ds.SeriesInstanceUID != source.SeriesInstanceUID and ds.SOPInstanceUID != source.SOPInstanceUID
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert list(ds.ImageType) == ["DERIVED", "SECONDARY"] and ds.BurnedInAnnotation == "NO"
    assert "saliency (pneu-a)" in ds.DerivationDescription and "pneu-a v3" in ds.DerivationDescription
    assert ds.ConversionType == "WSD" and ds.Modality == "OT"


@needs_real_dicom
@pytest.mark.parametrize("source_path", REAL_DICOMS, ids=lambda p: p.name[:12])
def test_anonymised_exports_carry_none_of_the_source_identifiers(tmp_path, source_path):
    image = read_image(source_path)
    source = pydicom.dcmread(source_path, stop_before_pixels=True, force=True)
    secrets = {str(source[k].value) for k in IDENTIFIERS if k in source and len(str(source[k].value)) >= 4}
    secrets.add(source_path.name)
    assert len(secrets) >= 4, secrets  # the test has something to find
    composed = compose(np.rint(image.pixels * 255).astype(np.uint8), [])
    writers = {"png": write_png, "pdf": write_report_pdf, "dcm": write_secondary_capture}

    def export_all(folder: Path, anonymise: bool) -> dict[str, bytes]:
        folder.mkdir()
        exported = content(image.meta, anonymise=anonymise, composed=composed)
        return {kind: write(folder / f"out.{kind}", exported).read_bytes() for kind, write in writers.items()}

    plain, anonymous = export_all(tmp_path / "plain", False), export_all(tmp_path / "anonymous", True)
    # Without the option, the same check finds the study's identifiers (so it can fail).
    for kind, data in plain.items():
        assert any(secret.encode() in data for secret in secrets), f"the plain {kind} names nothing"
    assert str(source.StudyInstanceUID).encode() in plain["dcm"]
    for kind, data in anonymous.items():
        for secret in secrets:
            for encoded in {secret.encode(), secret.encode("cp1252", errors="replace")}:  # DICOM / PDF text
                assert encoded not in data, f"{secret!r} in the anonymised {kind}"
    ds = pydicom.dcmread(tmp_path / "anonymous" / "out.dcm")
    assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert ds.PatientName == "Anonymous" and ds.StudyDate == "" and "SourceImageSequence" not in ds
    np.testing.assert_array_equal(ds.pixel_array, composed)
    assert b"withheld (anonymised export)" in anonymous["pdf"]


def write_source_dicom(path: Path, patient_orientation: list[str]) -> Path:
    """A minimal DICOM header (no pixels needed: the SC reads the source's header only)."""
    ds = pydicom.Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.1", pydicom.uid.generate_uid()
    ds.PatientID, ds.StudyInstanceUID, ds.Modality = "PID-77881", "1.2.3.4.5.6789", "CR"
    ds.PatientOrientation = patient_orientation
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def test_a_turned_view_is_exported_turned_and_every_file_says_so(tmp_path):
    """Mirrored, then a quarter turn clockwise: the pixels as laid out by Orientation.apply, and the
    PNG, the PDF and the SC say how the view was turned; the SC's Patient Orientation follows it."""
    source = write_source_dicom(tmp_path / "pa.dcm", ["L", "F"])
    turn = Orientation(90, flip_h=True)
    turned = turn.apply(composed_view())
    assert turned.shape == (128, 96, 3)
    exported = ExportContent(turned, ("saliency (pneu-a), jet, 60 %",), synthetic_meta(source), READINGS, "",
                             CARDS, created=CREATED, orientation=turn)
    words = "as the reader turned it: mirrored left-right, then rotated 90 degrees clockwise"

    with PilImage.open(write_png(tmp_path / "view.png", exported)) as picture:
        np.testing.assert_array_equal(np.asarray(picture), turned)
        assert picture.text["Orientation"].startswith(words)

    data = write_report_pdf(tmp_path / "report.pdf", exported).read_bytes()
    assert b"/Width 96 /Height 128" in data and pdf_image(data) == turned.tobytes()
    assert f"Orientation: {words} from the source file's pixel grid" in pdf_text(data)

    ds = pydicom.dcmread(write_secondary_capture(tmp_path / "sc.dcm", exported))
    np.testing.assert_array_equal(ds.pixel_array, turned)
    assert (ds.Rows, ds.Columns) == (128, 96)
    assert list(ds.PatientOrientation) == ["H", "R"]  # rows run towards the head, columns to the right
    assert ds.ImageComments.startswith(f"Oriented {words}") and "not the acquired orientation" in ds.ImageComments
    assert ds.DerivationDescription.startswith(f"cxrviewer composed view (Oriented {words}")

    as_stored = ExportContent(composed_view(), meta=synthetic_meta(source), created=CREATED)
    ds = pydicom.dcmread(write_secondary_capture(tmp_path / "sc2.dcm", as_stored))
    assert list(ds.PatientOrientation) == ["L", "F"] and "ImageComments" not in ds
    assert ds.DerivationDescription.startswith("cxrviewer composed view: base image only")
    assert "Orientation: as stored in the source file" in pdf_text(report_pdf_bytes(as_stored))


def test_a_turned_view_of_a_source_without_usable_patient_orientation_leaves_it_empty(tmp_path):
    source = write_source_dicom(tmp_path / "odd.dcm", ["X", "F"])
    turned = ExportContent(Orientation(180).apply(composed_view()), meta=synthetic_meta(source), created=CREATED,
                           orientation=Orientation(180))
    ds = pydicom.dcmread(write_secondary_capture(tmp_path / "sc.dcm", turned))
    assert ds.PatientOrientation == "" and "rotated 180 degrees from" in ds.ImageComments


def test_pdf_strings_escape_only_what_pdf_needs():
    from cxrviewer.core.export.pdf_page import _literal, text_width, winansi_text

    assert _literal("P (97 %)") == "(P (97 %))"
    assert _literal("(P 97 %,") == r"(\(P 97 %,)"
    assert _literal(r"0.5) a\b") == r"(0.5\) a\\b)"
    assert winansi_text("P ≥ 0.726 – Müller × 2²") == "P >= 0.726 \x96 M\xfcller \xd7 22"
    assert winansi_text("肺 Ş") == "? S"
    assert text_width("Mü", "regular", 10) == (833 + 556) / 100 and text_width("Mü", "mono", 10) == 12.0


def test_burned_in_annotation_of_the_source_is_declared_and_cautioned(tmp_path):
    meta = ImageMeta(path=tmp_path / "s.dcm", format="DICOM", patient_id="PID-1",
                     tags=(("(0028,0301)", "Burned In Annotation", "CS", "YES"),))
    text = pdf_text(report_pdf_bytes(content(meta, anonymise=True)))
    assert "Caution: the source is marked as carrying burned-in annotation: text in the pixels may" in text
    assert "burned-in" not in pdf_text(report_pdf_bytes(content(meta)))  # said where anonymising is claimed
    ds = pydicom.dcmread(write_secondary_capture(tmp_path / "sc.dcm", content(meta, anonymise=True)))
    assert ds.BurnedInAnnotation == "YES"
    clean = ImageMeta(path=tmp_path / "s.dcm", format="DICOM", tags=(("(0028,0301)", "Burned In Annotation", "CS", "NO"),))
    assert pydicom.dcmread(write_secondary_capture(tmp_path / "sc2.dcm", content(clean))).BurnedInAnnotation == "NO"


def test_the_report_carries_the_cautions_the_findings_panel_shows(tmp_path):
    """A child's recorded age against an adult model's population, and a phantom: the same cautions as
    on screen (core.suitability), the age itself left out of an anonymised report."""
    adult = replace(CARDS[1], population=Population("adults, one source", (18.0, 120.0)))
    child = ImageMeta(path=tmp_path / "s.dcm", format="DICOM", patient_id="PID-1",
                      tags=(("(0010,1010)", "Patient's Age", "AS", "005Y"),))
    text = pdf_text(report_pdf_bytes(content(child, cards=(CARDS[0], adult))))
    assert ("Findings Caution: opac-b: This model was trained on adults, one source; this patient's "
            "recorded age is 5 years.") in text
    anonymous = pdf_text(report_pdf_bytes(content(child, cards=(CARDS[0], adult), anonymise=True)))
    assert "opac-b: This model was trained on adults, one source; this patient's recorded age lies outside it." in anonymous
    assert "5 years" not in anonymous
    grown = replace(child, tags=(("(0010,1010)", "Patient's Age", "AS", "045Y"),))
    assert "Caution" not in pdf_text(report_pdf_bytes(content(grown, cards=(CARDS[0], adult))))
    phantom = ImageMeta(path=tmp_path / "p.dcm", format="DICOM", patient_name="DEMO^PHANTOM")
    assert f"Caution: {SYNTHETIC_TEXT}" in pdf_text(report_pdf_bytes(content(phantom)))


def test_an_export_never_replaces_the_study_itself(tmp_path):
    study = tmp_path / "study.dcm"
    study.write_bytes(b"the original study")
    meta = synthetic_meta(study)
    for write in (write_secondary_capture, write_png, write_report_pdf):
        with pytest.raises(ExportError, match="this is the study's own file"):
            write(tmp_path / "." / "study.dcm", content(meta))
    assert study.read_bytes() == b"the original study" and [p.name for p in tmp_path.iterdir()] == ["study.dcm"]
