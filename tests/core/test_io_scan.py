"""Folder scanning: content sniffing, hidden files, reasons for skips, DICOMDIR expansion."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
from io_samples import RAMP_12, grey_dataset, report_dataset, save
from pydicom.fileset import FileSet

from cxrviewer.core.errors import NoPixelDataError
from cxrviewer.core.io import read_image, scan_studies


def test_folder_scan_recognises_files_by_content(tmp_path):
    nested = tmp_path / "patient" / "study"
    nested.mkdir(parents=True)
    dicom = save(grey_dataset(RAMP_12, bits_stored=12), nested / "IM0001")  # no extension
    png = tmp_path / "b.png"
    PIL.Image.fromarray(np.zeros((4, 4), np.uint8)).save(png)
    jpeg_named_txt = tmp_path / "c.txt"
    PIL.Image.fromarray(np.zeros((4, 4), np.uint8)).save(jpeg_named_txt, format="JPEG")
    (tmp_path / "notes.dcm").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    report = save(report_dataset(), tmp_path / "report.dcm")
    (tmp_path / ".hidden.png").write_bytes(png.read_bytes())
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.png").write_bytes(png.read_bytes())

    result = scan_studies([tmp_path])

    assert result.studies == sorted([png, jpeg_named_txt, dicom])
    assert result.skipped == [
        (tmp_path / "empty.png", "empty file"),
        (tmp_path / "notes.dcm", "not DICOM, PNG, JPEG or TIFF"),
        (report, "DICOM without pixel data (Basic Text SR Storage)"),
    ]


def test_files_and_folders_together_are_not_listed_twice(tmp_path):
    path = save(grey_dataset(RAMP_12, bits_stored=12), tmp_path / "x.dcm")
    result = scan_studies([tmp_path, path, str(path)])
    assert result.studies == [path]


def test_a_missing_path_is_reported(tmp_path):
    result = scan_studies([tmp_path / "gone"])
    assert result.studies == [] and result.skipped == [(tmp_path / "gone", "does not exist")]


def test_a_damaged_dicom_is_kept_for_read_image_to_explain(tmp_path):
    whole = save(grey_dataset(RAMP_12, bits_stored=12), tmp_path / "x.dcm").read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole[:-7])
    assert cut in scan_studies([tmp_path]).studies


def _write_fileset(root, datasets):
    fileset = FileSet()
    for ds in datasets:
        fileset.add(ds)
    fileset.write(root)
    return root / "DICOMDIR"


def test_dicomdir_is_expanded_into_its_image_files(tmp_path):
    images = [grey_dataset(RAMP_12 + i, bits_stored=12) for i in range(2)]
    dicomdir = _write_fileset(tmp_path / "media", [*images, report_dataset()])

    result = scan_studies([dicomdir])

    assert len(result.studies) == 2
    assert sorted(read_image(path).meta.sop_uid for path in result.studies) == sorted(
        ds.SOPInstanceUID for ds in images
    )
    assert len(result.skipped) == 1 and "lists it as SR DOCUMENT, not an image" in result.skipped[0][1]


def test_reading_a_dicomdir_as_an_image_says_what_it_is(tmp_path):
    dicomdir = _write_fileset(tmp_path / "media", [grey_dataset(RAMP_12, bits_stored=12)])
    with pytest.raises(NoPixelDataError, match=r"DICOMDIR: a DICOMDIR \(an index of other files\), not an image"):
        read_image(dicomdir)


def test_dicomdir_inside_a_scanned_folder_and_lower_case_copies(tmp_path):
    dicomdir = _write_fileset(tmp_path / "media", [grey_dataset(RAMP_12, bits_stored=12)])
    # Media copied by some tools arrive with lower-case names; the DICOMDIR still says upper case.
    for path in sorted(dicomdir.parent.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path != dicomdir:
            path.rename(path.with_name(path.name.lower()))
    from_dicomdir = scan_studies([dicomdir])
    from_folder = scan_studies([tmp_path])
    assert len(from_dicomdir.studies) == 1 and from_dicomdir.skipped == []
    assert from_folder.studies == from_dicomdir.studies  # the walk and the DICOMDIR find the same file once
    assert read_image(from_folder.studies[0]).shape == RAMP_12.shape


def test_dicomdir_with_a_missing_file(tmp_path):
    dicomdir = _write_fileset(tmp_path / "media", [grey_dataset(RAMP_12, bits_stored=12)])
    (image_file,) = [p for p in dicomdir.parent.rglob("*") if p.is_file() and p != dicomdir]
    image_file.unlink()
    result = scan_studies([dicomdir])
    assert result.studies == []
    assert result.skipped[0][1] == "listed in DICOMDIR but missing"
