"""Exports of the composed view: PNG (with its legend strip), the PDF report (cxrviewer.printing, read
back with pypdf: page 1 the summary, the image and its legends; the appendix after it), DICOM
Secondary Capture, anonymised."""

from __future__ import annotations

import errno
import hashlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pydicom
import pydicom.config
import pytest
from pdf_support import (
    compact,
    pdf_font_sizes,
    pdf_fonts,
    pdf_images,
    pdf_metadata,
    pdf_page_text,
    pdf_pages,
    pdf_reader,
    pdf_text,
    pdf_text_sizes,
)
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
    write_png,
    write_secondary_capture,
)
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.io import read_image
from cxrviewer.core.layers import default_layer
from cxrviewer.core.legend import DISPLAY_THRESHOLD_NOTE, layer_legend
from cxrviewer.core.orientation import Orientation
from cxrviewer.core.reading_words import card_text, classifier_summary
from cxrviewer.core.suitability import SYNTHETIC_TEXT
from cxrviewer.printing import report_pdf_bytes, write_report_pdf
from cxrviewer.printing.fonts import FONT_FILES
from cxrviewer.printing.report_layout import A4, APPENDIX_TITLE, BODY_SIZE, MARGIN
from cxrviewer.printing.report_pdf import report_layout

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
READINGS = tuple(Reading(c.name, f"finding: P(finding) 91.0 % >= operating threshold {100 * c.thresholds[1]:.1f} %",
                         c.thresholds[1], c.probability_meaning,
                         classifier_summary(c.name, c.labels, (0.09, 0.91), (1,), "threshold", c.thresholds[1], False))
                 for c in CARDS)
SUMMARY_LINES = ("Finding: abnormal — 91.0 %, threshold 72.6 % (card)",
                 "Finding: abnormal — 91.0 %, threshold 74.7 % (card)")


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


def content(meta: ImageMeta | None, *, anonymise: bool = False, cards=CARDS, composed=None, legends=(),
            readings=READINGS) -> ExportContent:
    return ExportContent(composed if composed is not None else composed_view(), ("saliency (pneu-a), jet, 60 %",),
                         meta, readings, "cxr-gate: accepted as a frontal chest radiograph (P 97.0 %, threshold 50.0 %)",
                         cards, anonymise, CREATED, legends=legends)


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


def test_pdf_report_puts_the_summary_first_and_the_checksums_in_the_appendix(tmp_path):
    data = write_report_pdf(tmp_path / "report.pdf", content(synthetic_meta(tmp_path / "study-7.dcm"))).read_bytes()
    assert data.startswith(b"%PDF-1.") and data.rstrip().endswith(b"%%EOF")
    assert pdf_pages(data) == 2
    first, appendix, text = pdf_page_text(data, 0), pdf_page_text(data, 1), pdf_text(data)
    # Page 1: who and what, then the summary, then the image with its caption; the appendix after.
    assert first.index("Patient: Doe^Jane / PID-77881") < first.index("Summary") < first.index(SUMMARY_LINES[0])
    assert first.index(SUMMARY_LINES[1]) < first.index("Image as shown") < text.index(APPENDIX_TITLE)
    assert "Source: study-7.dcm" in first and "Study date: 20240131" in first and "2026-11-22 09:30 UTC" in first
    assert "NOT FOR CLINICAL USE" in first
    assert "Chest radiograph check (gate): cxr-gate: accepted as a frontal chest radiograph (P 97.0 %" in first
    for model in CARDS:
        for entry in model.files:  # compact: pypdf sees spaces inside some words set in the mono font
            assert compact(f"{entry.path} sha256 {entry.sha256}") in compact(appendix)
            assert entry.sha256[:16] not in compact(first)
        assert f"{model.name} v3 - classification, tbnet" in appendix
        assert f"operating threshold {100 * model.thresholds[1]:.1f} %" in appendix
        assert model.limits[0] in appendix
        # The card's sentence in the findings panel's words: its threshold a percentage too.
        assert f"What it means: {card_text(model.probability_meaning)}" in appendix
    assert "0.726" not in text and "0.747" not in text  # one number format: percentages
    assert "Layers as drawn - saliency (pneu-a), jet, 60 %" in appendix
    assert "Limits: what this was not validated for - " + NOT_CLINICAL in appendix
    assert "signed release model" in appendix and "cxrviewer " in appendix  # signature and software version
    # The image is stored losslessly (no JPEG) at its own size, and is the only picture: bars are vectors.
    [image] = pdf_images(data)
    np.testing.assert_array_equal(image, composed_view())
    xobjects = pdf_reader(data).pages[0]["/Resources"]["/XObject"].values()
    assert [str(x.get_object()["/Filter"]) for x in xobjects] == ["/FlateDecode"]


def test_page_one_type_is_at_least_ten_points_and_the_appendix_is_smaller():
    data = report_pdf_bytes(content(synthetic_meta(Path("s.dcm")), legends=(tb_legend(),)))
    first = pdf_text_sizes(data, 0)
    assert len(first) > 20 and min(size for _text, size in first) >= BODY_SIZE >= 9, sorted(first, key=lambda r: r[1])[:3]
    summary = [size for text, size in first if text.startswith("Finding")]
    assert summary and min(summary) >= 12  # the summary reads first
    appendix = [size for text, size in pdf_text_sizes(data, 1) if text != APPENDIX_TITLE]
    assert max(appendix) <= 8 and min(appendix) >= 6
    checksum = CARDS[0].files[0].sha256
    assert [size for text, size in pdf_text_sizes(data, 1) if checksum[:12] in compact(text)] == [6.0]


def tb_legend():
    from cxrviewer.core.display.compose import Threshold

    state = default_layer("tb_lesions")
    state = replace(state, style=replace(state.style, threshold=Threshold("value", 0.638)))
    blob = np.clip(composed_view()[..., 0].astype(np.float32) / 255.0, 0, 1)
    return layer_legend(state, index_map(blob, state.normalisation), "tb-lesions, image score 93.0 %")


def test_the_report_draws_a_colour_bar_per_layer_and_explains_its_display_threshold():
    legend = tb_legend()
    data = report_pdf_bytes(content(synthetic_meta(Path("s.dcm")), legends=(legend,)))
    first = pdf_page_text(data, 0)
    assert "Legend TB lesions: tb-lesions, image score 93.0 %" in first
    assert "0 % 100 % probability per pixel display threshold: only shown above 63.8 %" in first
    assert " ".join(DISPLAY_THRESHOLD_NOTE.split()) in first
    assert first.index("Summary") < first.index("Legend")
    [page] = report_layout(content(synthetic_meta(Path("s.dcm")), legends=(legend,)))[:1]
    [bar] = page.bars
    np.testing.assert_array_equal(bar.colours, legend.colours())
    assert bar.first_shown == pytest.approx(163 / 255)  # 0.638 on the 0-1 scale, at display resolution
    x, y, width, _height = bar.rect
    image_x, image_y, image_width, _ = page.image[1]
    assert x > image_x + image_width and width > 150  # beside the image, wide enough to read


def test_pdf_embeds_only_the_fonts_the_program_carries():
    """Every font is embedded (subset) and is one of resources/fonts/: the page never depends on the
    fonts of the machine that wrote it, nor needs any on the one that shows it."""
    fonts = pdf_fonts(report_pdf_bytes(content(synthetic_meta(Path("s.dcm")))))
    shipped = {name.removesuffix(".ttf") for name in FONT_FILES}
    assert {"NotoSans-Regular", "NotoSans-Bold", "NotoSansMono-Regular"} <= set(fonts) <= shipped
    assert all(fonts.values()), fonts
    assert (paths.resource("fonts") / "OFL.txt").is_file() and (paths.resource("fonts") / "LICENSE-Apache-2.0.txt").is_file()


# A patient's name as it comes from DICOM (PN, components joined by ^), in the scripts a report meets.
NAMES = {
    "japanese": "山田^太郎",
    "chinese": "王^秀英",
    "korean": "김^민준",
    "cyrillic": "Иванов^Иван",
    "greek": "Παπαδόπουλος^Γιώργος",
    "accents": "Müller-Łódź^Ørjan Şahin Ñúñez",
}


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_the_report_prints_a_patients_name_in_any_script(tmp_path, name):
    """Found by an independent extractor as itself (no "?"), set in a font the program carries."""
    meta = replace(synthetic_meta(tmp_path / "s.dcm"), patient_name=name)
    data = write_report_pdf(tmp_path / "report.pdf", content(meta)).read_bytes()
    text = pdf_text(data)
    assert compact(f"Patient: {name} / PID-77881") in compact(text)
    assert "?" not in text
    fonts = pdf_font_sizes(data)
    cjk = any(ord(char) >= 0x2E80 for char in name)
    assert ("DroidSansFallback" in fonts) == cjk
    assert set(fonts) <= {file.removesuffix(".ttf") for file in FONT_FILES}
    # Embedded, as subsets: the glyphs used, not the 3.4 MB CJK font (the whole report is small).
    assert all(0 < size < 50_000 for size in fonts.values()), fonts
    assert len(data) < 150_000


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_an_anonymised_report_holds_the_name_in_no_script(tmp_path, name):
    meta = replace(synthetic_meta(tmp_path / "yamada-77881.dcm"), patient_name=name)
    data = write_report_pdf(tmp_path / "report.pdf", content(meta, anonymise=True)).read_bytes()
    text, said = pdf_text(data), compact(pdf_text(data) + pdf_metadata(data))
    assert "Patient: withheld (anonymised export)" in text and "Source: withheld (anonymised export)" in text
    for part in [*name.split("^"), *name.replace("^", " ").split(), "PID-77881", "yamada", "20240131", "1.2.3.4.5.6789"]:
        assert compact(part) not in said, part
    # Not even a glyph of it: a CJK name leaves the CJK font out of the file altogether.
    assert "DroidSansFallback" not in pdf_fonts(data)


def test_pdf_is_well_formed_for_a_strict_parser():
    reader = pdf_reader(report_pdf_bytes(content(None)))  # strict: a broken cross-reference raises
    assert len(reader.pages) == 2 and reader.metadata.title == "cxrviewer study report"
    for page in reader.pages:
        box = page.mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4, abs=0.5)


def test_a_report_with_much_to_say_keeps_page_one_whole_and_flows_the_appendix_on():
    many = tuple(card(f"model-{i:02d}", 0.5, f"Limit {i} of validation. " * 12) for i in range(14))
    readings = tuple(Reading(c.name, "finding: P(finding) 91.0 %", 0.5, c.probability_meaning,
                             classifier_summary(c.name, c.labels, (0.09, 0.91), (1,), "threshold", 0.5, False))
                     for c in many)
    pages = report_layout(content(None, cards=many, readings=readings))
    assert len(pages) >= 3
    for page in pages:  # nothing below the bottom margin (page 1's footer sits on it)
        assert max(text.y for text in page.texts) <= A4[1] - MARGIN + 4
    first = [text.text for text in pages[0].texts]
    assert sum(line.startswith("Finding:") for line in first) == 14  # every model's line on page 1
    assert pages[0].image is not None and pages[0].image[1][3] >= 100
    data = report_pdf_bytes(content(None, cards=many, readings=readings))
    assert pdf_pages(data) == len(pages)
    assert all(compact(entry.sha256) in compact(pdf_text(data)) for c in many for entry in c.files)


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

    def holds(kind: str, data: bytes, secret: str) -> bool:
        if kind == "pdf":  # its text is compressed: read as an extractor and a reader's search see it
            return compact(secret) in compact(pdf_text(data) + pdf_metadata(data))
        return secret.encode() in data

    # Without the option, the same check finds the study's identifiers (so it can fail).
    for kind, data in plain.items():
        assert any(holds(kind, data, secret) for secret in secrets), f"the plain {kind} names nothing"
    assert str(source.StudyInstanceUID).encode() in plain["dcm"]
    for kind, data in anonymous.items():
        for secret in secrets:
            assert not holds(kind, data, secret), f"{secret!r} in the anonymised {kind}"
    ds = pydicom.dcmread(tmp_path / "anonymous" / "out.dcm")
    assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert ds.PatientName == "Anonymous" and ds.StudyDate == "" and "SourceImageSequence" not in ds
    np.testing.assert_array_equal(ds.pixel_array, composed)
    assert "Patient: withheld (anonymised export)" in pdf_text(anonymous["pdf"])


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
    [image] = pdf_images(data)
    np.testing.assert_array_equal(image, turned)
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
    assert ("Caution: opac-b: This model was trained on adults, one source; this patient's "
            "recorded age is 5 years.") in text
    # Its answer does not apply to this patient: withheld in the summary, as on screen.
    assert "Finding: withheld — this patient is outside the population it was trained on (adults, one source)" in text
    assert SUMMARY_LINES[0] in text
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
